//! The counterexample page's command-line contract: `render` writes one self-contained page from a
//! replay string or a fixture, the same bytes every time, exits 2 for bad input and refuses a
//! destination that is not a regular file before replaying; `check --html-dir` writes one page per
//! counterexample, the same page `render` writes. (What a browser makes of the page is
//! `ci/browser-test.sh`'s to check.)

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// The minimized counterexample of stale-lock/audit-fix (its snapshot's replay string).
const STALE_LOCK: &str = "iv1:stale-lock/audit-fix:11111111222222222222221111111122:58dd6016";

fn run(args: &[&str]) -> Output {
    Command::new(common::exe()).args(args).output().expect("run interleave")
}

fn render(input: &str, html: &Path) -> Output {
    Command::new(common::exe()).args(["render", input, "--html"]).arg(html).output().expect("run interleave")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().expect("mkfifo").success());
}

#[test]
fn render_writes_the_replay_as_one_self_contained_page_the_same_bytes_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.html"), dir.path().join("b.html"));
    let o = render(STALE_LOCK, &first);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("page: {}\n", first.display()));
    assert_eq!(render(STALE_LOCK, &second).status.code(), Some(0));
    let page = std::fs::read_to_string(&first).unwrap();
    assert_eq!(page, std::fs::read_to_string(&second).unwrap(), "the same replay gives the same bytes");
    // The page is drawn from the same execution as the text trace: its headline, and every step.
    let text = String::from_utf8(run(&["replay", STALE_LOCK]).stdout).unwrap();
    let headline = text.lines().next().unwrap();
    assert!(page.contains(&format!("<p id=\"headline\">{}</p>", interleave::html::escape(headline))), "{page}");
    let steps = text.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).count();
    assert_eq!(steps, 32);
    assert_eq!(page.matches("<tr class=\"step").count(), steps, "{page}");
    assert!(page.contains(&format!("interleave replay {STALE_LOCK}")), "the replay command is on the page");
    assert!(page.contains("the rename moved B&#39;s live lock (pid 101)"), "{page}");
    // Self-contained: nothing to fetch.
    for outside in ["http:", "https:", "<link", "src=", "@import", "url("] {
        assert!(!page.contains(outside), "{outside} in the page");
    }
    // A fixture renders the same way.
    let from_fixture = dir.path().join("f.html");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stale-lock__audit-fix.json");
    let o = render(fixture.to_str().unwrap(), &from_fixture);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&from_fixture).unwrap().starts_with("<!DOCTYPE html>"));
}

#[test]
fn render_refuses_bad_input_and_bad_destinations_with_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let cases: &[(&str, &str)] = &[
        ("garbage", "malformed replay string"),
        ("iv1:stale-lock/audit-fix:11111111222222222222221111111122:58dd6017", "checksum"),
        ("iv1:no-such/buggy:1:00000000", "replay string"),
        ("/no/such/fixture.json", "cannot read fixture"),
    ];
    for (input, fragment) in cases {
        let o = render(input, &page);
        assert_eq!(o.status.code(), Some(2), "{input}: {}", stderr(&o));
        assert!(stderr(&o).contains(fragment), "{input}: {}", stderr(&o));
        assert!(!page.exists(), "{input}: a page was written");
    }
    let o = run(&["render", STALE_LOCK]);
    assert_eq!(o.status.code(), Some(2), "--html is required: {}", stderr(&o));
    assert!(stderr(&o).contains("--html"), "{}", stderr(&o));

    // Destinations that are not regular files are refused, and left as they were.
    let fifo = dir.path().join("fifo.html");
    mkfifo(&fifo);
    let target = dir.path().join("target.html");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let missing = dir.path().join("no/such/dir/page.html");
    for (path, fragment) in [
        (fifo.as_path(), "is a FIFO, not a regular file"),
        (link.as_path(), "is a symbolic link"),
        (dir.path(), "is a directory"),
        (missing.as_path(), "no directory"),
    ] {
        let o = render(STALE_LOCK, path);
        assert_eq!(o.status.code(), Some(2), "{}: {}", path.display(), stderr(&o));
        assert!(stderr(&o).contains(fragment), "{}: {}", path.display(), stderr(&o));
        assert!(o.stdout.is_empty(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    use std::os::unix::fs::FileTypeExt as _;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is still a FIFO");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert_eq!(names(dir.path()), ["fifo.html", "link.html", "target.html"]);
}

#[test]
fn check_html_dir_writes_the_page_of_each_counterexample_that_render_writes() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("pages");
    let o = Command::new(common::exe())
        .args(["check", "stale-lock/audit-fix", "stale-lock/fixed", "--json", "--html-dir"])
        .arg(&pages)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A page for the counterexample, none for the variant that holds.
    assert_eq!(names(&pages), ["stale-lock__audit-fix.html"]);
    assert!(stderr(&o).contains(&format!("page: {}", pages.join("stale-lock__audit-fix.html").display())));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let replay = v["results"][0]["replay"].as_str().unwrap();
    let rendered = dir.path().join("rendered.html");
    assert_eq!(render(replay, &rendered).status.code(), Some(0));
    assert_eq!(std::fs::read(pages.join("stale-lock__audit-fix.html")).unwrap(), std::fs::read(&rendered).unwrap());

    // A page's name taken by a FIFO: refused before the run, the FIFO left alone.
    let refused = dir.path().join("refused");
    std::fs::create_dir(&refused).unwrap();
    mkfifo(&refused.join("stale-lock__audit-fix.html"));
    let o = Command::new(common::exe())
        .args(["check", "stale-lock/audit-fix", "--html-dir"])
        .arg(&refused)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--html-dir") && stderr(&o).contains("is a FIFO"), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "refused before the run: {}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(names(&refused), ["stale-lock__audit-fix.html"]);
}
