//! The nightly as CI runs it: a clean run leaves report.json and junit.xml and no fixture; a
//! broken variant makes it exit 1, keep a fixture, and print a command that reproduces the
//! failure exactly; every variant gets executions however short the time; the output directory is
//! locked, refused when it holds anything else, and cleared of an earlier run's files; the two
//! reports never contradict each other; a run killed while writing fixtures never leaves a partial
//! one; the workflow files parse.
//!
//! Every run here is bounded by executions (`--chunks`), never by the clock, so a loaded machine
//! changes how long a test takes, not whether it passes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn nightly(out: &Path, extra: &[&str]) -> Output {
    Command::new(common::exe())
        .args(["nightly", "--seed", "7", "--shard", "1/2", "--fuzz-inputs", "20000", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run the nightly")
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json")).expect("JSON")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `run_id` property of a JUnit file.
fn junit_run_id(junit: &str) -> &str {
    let key = "<property name=\"run_id\" value=\"";
    let at = junit.find(key).expect("a run_id property") + key.len();
    &junit[at..at + junit[at..].find('"').unwrap()]
}

#[test]
fn a_broken_variant_fails_the_nightly_and_its_command_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &["--chunks", "1", "--inject-broken"]);
    let log = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{log}");
    assert!(log.starts_with("nightly: seed 7, shard 1/2"), "{log}");
    // The log ends with one command per failure; the canary's replays its counterexample.
    let commands = log.rsplit_once("to reproduce:\n").unwrap_or_else(|| panic!("{log}")).1;
    assert!(commands.lines().all(|l| l.starts_with("  interleave ")), "{commands}");
    let replay = commands
        .lines()
        .find_map(|l| l.trim().strip_prefix("interleave replay iv1:selftest/broken-canary:"))
        .map(|rest| format!("iv1:selftest/broken-canary:{rest}"))
        .unwrap_or_else(|| panic!("no command for the canary: {commands}"));
    let fixture = interleave::fixture::Fixture::read(&dir.path().join("selftest__broken-canary.json")).unwrap();
    assert_eq!(fixture.replay, replay);
    let again = Command::new(common::exe()).args(["replay", &replay]).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&again.stdout), fixture.trace, "the reproduce command reproduces exactly");
    let report = report(dir.path());
    assert_eq!(report["ok"], false);
    let canary = report["variants"].as_array().unwrap().iter().find(|v| v["variant"] == "broken-canary").unwrap();
    assert_eq!(canary["status"], "failed");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<failure message=\"holds variant violated"), "{junit}");
}

#[test]
fn no_time_left_still_gives_every_variant_executions_and_the_canary_is_found() {
    // A budget that is over before the run starts: every variant still gets its first chunk, so
    // the injected broken variant is found and the run exits 1, and no variant is called ok
    // without an execution.
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &["--time", "0", "--inject-broken"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let report = report(dir.path());
    assert_eq!(report["ok"], false);
    for v in report["variants"].as_array().unwrap() {
        assert!(v["executions"].as_u64().unwrap() > 0, "{v}");
        assert_ne!(v["status"], "skipped", "{v}");
    }
    let canary = &report["variants"][0];
    assert_eq!((&canary["variant"], &canary["status"]), (&"broken-canary".into(), &"failed".into()));
}

#[test]
fn a_clean_nightly_leaves_reports_and_no_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &["--chunks", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(names(dir.path()), [".interleave-nightly.lock", "junit.xml", "report.json"]);
    let report = report(dir.path());
    assert_eq!(report["ok"], true);
    assert_eq!(report["shard"], "1/2");
    assert_eq!(report["chunks_per_variant"], 2);
    for v in report["variants"].as_array().unwrap() {
        assert_eq!(v["status"], "ok", "{v}");
        let chunks = v["chunks"].as_u64().unwrap();
        assert!((1..=2).contains(&chunks), "{v}");
        // A holds variant gets both its chunks unless the first proved it.
        if v["expect"] == "holds" && v["proof"] == false {
            assert_eq!(chunks, 2, "{v}");
        }
    }
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(!junit.contains("<failure") && !junit.contains("<skipped"), "{junit}");
    assert_eq!(junit_run_id(&junit), report["run_id"].as_str().unwrap());
}

#[test]
fn bad_nightly_input_exits_2() {
    for shard in ["0/2", "3/2", "x", "1/0"] {
        let o = Command::new(common::exe())
            .args(["nightly", "--chunks", "1", "--out", "/tmp/x", "--shard", shard])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{shard}");
    }
    let o = Command::new(common::exe()).args(["nightly", "--time", "soon", "--out", "/tmp/x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(common::exe()).args(["nightly", "--out", "/tmp/x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--time <TIME>|--chunks <N>"), "{}", stderr(&o));
    // An --out that cannot be a directory is refused before the run.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    for out in [file.clone(), file.join("sub")] {
        let o = nightly(&out, &["--chunks", "1"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "ran before refusing: {}", stdout(&o));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_second_nightly_on_a_directory_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The lock a running nightly holds.
    let lock = std::fs::File::create(dir.path().join(".interleave-nightly.lock")).unwrap();
    lock.try_lock().unwrap();
    let o = nightly(dir.path(), &["--chunks", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("another nightly is writing there"), "{}", stderr(&o));
    assert_eq!(names(dir.path()), [".interleave-nightly.lock"]);
    drop(lock);
    let o = nightly(dir.path(), &["--chunks", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn an_out_directory_holding_anything_else_is_refused_and_left_alone() {
    let mkfifo = |p: &Path| assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
    let fixture =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/worker-state__buggy.json"))
            .unwrap();
    type Setup = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "a file of the user's",
            Box::new(|d| std::fs::write(d.join("notes.txt"), "mine").unwrap()),
            "holds what no nightly writes (notes.txt)",
        ),
        // tests/fixtures looks like a nightly's fixtures, but no nightly wrote it.
        (
            "fixtures no nightly wrote",
            Box::new(move |d| std::fs::write(d.join("worker-state__buggy.json"), &fixture).unwrap()),
            "no nightly wrote it",
        ),
        (
            "a FIFO where a report goes",
            Box::new(move |d| {
                std::fs::write(d.join(".interleave-nightly.lock"), "").unwrap();
                mkfifo(&d.join("report.json"));
            }),
            "holds what no nightly writes (report.json)",
        ),
        (
            "a link where a report goes",
            Box::new(|d| {
                std::fs::write(d.join(".interleave-nightly.lock"), "").unwrap();
                std::fs::write(d.join("elsewhere"), "keep").unwrap();
                std::os::unix::fs::symlink("elsewhere", d.join("junit.xml")).unwrap();
            }),
            "holds what no nightly writes (elsewhere, junit.xml)",
        ),
    ];
    for (what, setup, fragment) in cases {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let before = names(dir.path());
        let kinds = |d: &Path| {
            before
                .iter()
                .map(|n| format!("{:?}", std::fs::symlink_metadata(d.join(n)).unwrap().file_type()))
                .collect::<Vec<_>>()
        };
        let kinds_before = kinds(dir.path());
        let o = nightly(dir.path(), &["--chunks", "1"]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stdout(&o));
        assert!(stderr(&o).contains(fragment), "{what}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{what}: ran before refusing: {}", stdout(&o));
        // Not even a lock file: it would mark the directory as a nightly's, to be cleared next time.
        assert_eq!(names(dir.path()), before, "{what}");
        assert_eq!(kinds(dir.path()), kinds_before, "{what}");
    }
}

#[test]
fn a_rerun_clears_the_earlier_runs_files_and_never_mixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &["--chunks", "1", "--inject-broken"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(dir.path().join("selftest__broken-canary.json").exists());
    // A writer killed during the earlier run left a temporary file.
    std::fs::write(dir.path().join(".report.json.interleave-tmp-4000000000-3"), "half").unwrap();
    let o = nightly(dir.path(), &["--chunks", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("removed the earlier run's junit.xml, report.json, selftest__broken-canary.json"),
        "{}",
        stdout(&o)
    );
    assert_eq!(names(dir.path()), [".interleave-nightly.lock", "junit.xml", "report.json"]);
    assert_eq!(report(dir.path())["ok"], true);
}

#[test]
fn pages_in_the_out_directory_are_the_runs_own_and_a_directory_inside_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = nightly(dir.path(), &["--chunks", "1", "--html-dir", out]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // One page per counterexample found: every counterexample variant's, named in the report.
    let report = report(dir.path());
    let mut expected = vec![".interleave-nightly.lock".to_string(), "junit.xml".into(), "report.json".into()];
    for v in report["variants"].as_array().unwrap().iter().filter(|v| v["expect"] == "counterexample") {
        let name = format!("{}__{}.html", v["scenario"].as_str().unwrap(), v["variant"].as_str().unwrap());
        assert_eq!(v["page"].as_str(), Some(dir.path().join(&name).to_str().unwrap()), "{v}");
        expected.push(name);
    }
    expected.sort();
    assert!(expected.len() > 10, "{expected:?}");
    assert_eq!(names(dir.path()), expected);
    // A directory inside --out would make the next run refuse --out: refused, nothing touched.
    let inside = dir.path().join("pages");
    let o = nightly(dir.path(), &["--chunks", "1", "--html-dir", inside.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("is inside --out"), "{}", stderr(&o));
    assert_eq!(names(dir.path()), expected);
    // The next run clears the pages with the reports.
    let o = nightly(dir.path(), &["--chunks", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(names(dir.path()), [".interleave-nightly.lock", "junit.xml", "report.json"]);
}

#[test]
fn a_run_killed_between_its_two_reports_never_leaves_a_green_report_beside_a_red_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &["--chunks", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // A failing run, killed after its first report.
    let o = nightly(dir.path(), &["--chunks", "1", "--inject-broken", "--kill-between-reports"]);
    assert_eq!(o.status.code(), None, "killed by the hook: {}", stdout(&o));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("the failing run's junit.xml");
    assert!(junit.contains("<failure"), "CI must show red: {junit}");
    // No report of the earlier, green run beside it: either none, or this run's.
    if dir.path().join("report.json").exists() {
        let report = report(dir.path());
        assert_eq!(report["run_id"].as_str().unwrap(), junit_run_id(&junit), "report.json is another run's");
        assert_eq!(report["ok"], false);
    }
}

#[test]
fn killing_a_run_that_writes_fixtures_never_leaves_a_partial_one() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..40u64 {
        let mut child = Command::new(common::exe())
            .args(["check", "worker-state", "drain-starvation", "--strategy", "random", "--seed"])
            .arg(round.to_string())
            .arg("--save-fixtures")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different point of the run each round: after polling a varying number of
        // times for the child to be alive (no sleeping, no timing assertions).
        for _ in 0..(round * 997 % 20_000) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                interleave::fixture::Fixture::read(&p)
                    .unwrap_or_else(|e| panic!("round {round}: {}: {e}", p.display()));
            }
        }
    }
}

#[test]
fn the_workflow_files_parse_and_run_the_readme_commands() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ci = std::fs::read_to_string(root.join(".github/workflows/ci.yml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&ci).expect("ci.yml parses");
    let steps = &docs[0]["jobs"]["test"]["steps"];
    let runs: Vec<&str> = steps.as_vec().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    for cmd in ["cargo test", "cargo test --features loom", "cargo fmt --all --check", "ci/browser-test.sh"] {
        assert!(runs.contains(&cmd), "ci.yml runs {runs:?}");
    }
    let nightly = std::fs::read_to_string(root.join(".github/workflows/nightly.yml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&nightly).expect("nightly.yml parses");
    let job = &docs[0]["jobs"]["nightly"];
    let shards = job["strategy"]["matrix"]["shard"].as_vec().unwrap();
    assert!(shards.len() >= 2);
    for s in shards {
        let s = s.as_str().unwrap();
        assert!(s.ends_with(&format!("/{}", shards.len())), "{s}");
    }
    assert!(docs[0]["on"]["schedule"].as_vec().is_some(), "scheduled");
    let runs: Vec<&str> = job["steps"].as_vec().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
    assert_eq!(runs, ["ci/nightly.sh"]);
    // The pages go beside the fixtures, and the whole directory is uploaded.
    let nightly_step =
        job["steps"].as_vec().unwrap().iter().find(|s| s["run"].as_str() == Some("ci/nightly.sh")).unwrap();
    let out = nightly_step["env"]["NIGHTLY_OUT"].as_str().unwrap();
    assert_eq!(nightly_step["env"]["NIGHTLY_HTML_DIR"].as_str(), Some(out));
    let uploads: Vec<&str> = job["steps"].as_vec().unwrap().iter().filter_map(|s| s["with"]["path"].as_str()).collect();
    assert!(uploads.contains(&format!("{out}/").as_str()), "{uploads:?}");
}
