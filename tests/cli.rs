//! The command line's contract: exit statuses, JSON shape, clear errors for bad input, and files
//! and output that are never lost, clobbered or silently truncated.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(common::exe()).args(args).output().expect("run interleave")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_input_exits_2_with_what_is_valid() {
    let cases: &[(&[&str], &str)] = &[
        (&["check", "no-such-scenario"], "known scenarios are worker-state"),
        (&["check", "worker-state/no-such-variant"], "its variants are buggy, audit-fix"),
        (&["check", "--strategy", "magic"], "valid strategies are portfolio, random, pct"),
        (&["check", "worker-state/buggy[writers=9]"], "out of range: writers takes 1..=3"),
        (&["check", "worker-state/buggy[readers=1]"], "its parameters are writers, chunks"),
        (&["check", "worker-state/buggy[writers=1"], "it must end with ']'"),
        (&["check", "worker-state/buggy[writers=x]"], "values are whole numbers"),
        (&["check", "process-kill/buggy[n=1]"], "it takes none"),
        (&["bench", "--seeds", "0"], "0"),
        (&["bench", "--save", "/"], "a directory; name the file to write"),
        (&["bench", "--save", "/no/such/dir/bench.json"], "no directory /no/such/dir"),
        (&["check", "--iterations", "0"], "0"),
        (&["check", "--minimize-budget", "0"], "0"),
        // Options the strategy does not take would do nothing: refused, naming who takes them.
        (&["check", "--depth", "2"], "only --strategy pct or step-pct takes it, and portfolio takes none"),
        (&["check", "--strategy", "random", "--depth", "2"], "only --strategy pct or step-pct takes it"),
        (&["check", "--strategy", "bounded", "--depth", "2"], "only --strategy pct or step-pct takes it"),
        (&["check", "--max-preemptions", "1"], "only --strategy bounded takes it, and portfolio takes none"),
        (&["check", "--strategy", "dfs", "--max-preemptions", "1"], "only --strategy bounded takes it"),
        (&["check", "--strategy", "pct", "--max-preemptions", "1"], "only --strategy bounded takes it"),
        (&["replay", "garbage"], "malformed replay string"),
        (&["replay", "iv9:worker-state/buggy:12:00000000"], "unsupported replay format"),
        (&["replay", "iv1:worker-state/buggy:00122222222222111100:a4e76224"], "checksum"),
        (&["replay", "iv1:worker-state/buggy:00122222222222111100:a4e7622"], "checksum"),
        (&["replay", "iv1:../../etc/passwd:1:00000000"], "<scenario>/<variant>"),
        // iv2 strings with a valid checksum whose runs are malformed.
        (&["replay", "iv2:worker-state/buggy:0x2.1x0.2:e21186fc"], "run 2 ('1x0'): a count is at least 2"),
        (&["replay", "iv2:worker-state/buggy:0x2.1.2x100001:f73eaeda"], "longer than 100000 steps"),
        (&["replay", "iv2:worker-state/buggy:0x2..1:a6d7f588"], "run 2 (''): a run is empty"),
        (&["replay", "iv2:worker-state/buggy:0x2.01.2:84903852"], "without leading zeros"),
        (&["replay", "iv2:worker-state/buggy:0x2.0x3:dab7d26a"], "consecutive runs are of different threads"),
        (&["replay", "iv2:worker-state/buggy:0x2.0x3:dab7d26a"], "iv2:<scenario>/<variant>:<runs>:<checksum>"),
        (&["replay", "iv2:worker-state/buggy:0x2.0x3:dab7d26b"], "checksum"),
        (&["nonsense"], "unrecognized subcommand"),
    ];
    for (args, fragment) in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(fragment), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_schedule_that_no_longer_fits_exits_2() {
    // A valid string whose step order the code cannot take: thread 2 (the reader) cannot make
    // more steps than it has.
    let s = interleave::replay::ReplayString {
        scenario: "worker-state".into(),
        variant: "buggy".into(),
        order: vec![2; 40],
    }
    .encode();
    let o = run(&["replay", &s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no longer fits"), "{}", stderr(&o));
}

#[test]
fn check_json_has_the_documented_shape_and_exit_status() {
    let o = run(&["check", "worker-state", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["ok"], true);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for r in results {
        for key in [
            "scenario",
            "variant",
            "expect",
            "outcome",
            "strategy",
            "executions",
            "elapsed_ms",
            "invariant",
            "replay",
            "trace",
        ] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
        let cx = r["outcome"] == "counterexample";
        assert_eq!(r["replay"].is_string(), cx);
        assert_eq!(r["trace"].is_string(), cx);
        assert_eq!(r["invariant"].is_string(), cx);
    }
    let buggy = results.iter().find(|r| r["variant"] == "buggy").unwrap();
    assert_eq!(buggy["expect"], "counterexample");
    assert_eq!(buggy["outcome"], "counterexample");
}

#[test]
fn replay_prints_identical_bytes_every_time() {
    let o = run(&["check", "worker-state/buggy", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let replay = v["results"][0]["replay"].as_str().unwrap().to_string();
    let first = run(&["replay", &replay]);
    let second = run(&["replay", &replay]);
    assert_eq!(first.status.code(), Some(1));
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(String::from_utf8_lossy(&first.stdout), v["results"][0]["trace"].as_str().unwrap());
}

#[test]
fn list_names_every_variant_with_source_and_expectation() {
    let o = run(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("audit 000_22be9e3ee358d176.txt"), "{text}");
    assert!(text.contains("section: \"Non-atomic worker state writes\""), "{text}");
    for v in ["buggy", "audit-fix", "audit-fix-two-writers", "fixed"] {
        assert!(text.contains(v), "{text}");
    }
}

#[test]
fn list_groups_scenarios_by_audit_with_their_verdicts_at_a_glance() {
    let o = run(&["list"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    // One heading per seed file, each scenario under its own audit's heading, in catalog order.
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("audit ")).collect();
    let seeds: Vec<&str> = headings.iter().map(|h| h.split_whitespace().nth(1).unwrap()).collect();
    let mut unique = seeds.clone();
    unique.dedup();
    assert_eq!(seeds, unique, "an audit has two headings:\n{text}");
    for s in scenarios::CATALOG {
        let heading = text.find(&format!("audit {} (", s.source.seed)).expect("the scenario's audit has a heading");
        let at = text.find(&format!("\n  {} — ", s.name)).unwrap_or_else(|| panic!("{} is listed:\n{text}", s.name));
        let next = text[heading + 1..].find("\naudit ").map_or(text.len(), |i| heading + 1 + i);
        assert!(heading < at && at < next, "{} is not under audit {}:\n{text}", s.name, s.source.seed);
        let glance: Vec<String> = s
            .variants
            .iter()
            .map(|v| format!("{} {}", v.name, if v.expect == interleave::Expect::Holds { "✓" } else { "✗" }))
            .collect();
        assert!(text[at..next].contains(&format!("verdicts: {}", glance.join("  "))), "{}:\n{text}", s.name);
    }
}

#[test]
fn list_json_prints_every_scenario_with_source_summary_and_variants() {
    let o = run(&["list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let list = v.as_array().expect("an array");
    assert_eq!(list.len(), scenarios::CATALOG.len());
    for (item, s) in list.iter().zip(scenarios::CATALOG) {
        let keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["scenario", "source", "summary", "variants"], "{item}");
        assert_eq!(item["scenario"], s.name);
        assert_eq!(item["summary"], s.summary);
        assert_eq!(item["source"], serde_json::json!({ "seed": s.source.seed, "section": s.source.section }));
        let variants: Vec<serde_json::Value> =
            s.variants.iter().map(|v| serde_json::json!({ "name": v.name, "expect": v.expect.to_string() })).collect();
        assert_eq!(item["variants"], serde_json::Value::Array(variants), "{}", s.name);
    }
}

#[test]
fn a_shuttle_seed_override_in_the_environment_is_refused() {
    let o = Command::new(common::exe())
        .args(["check", "worker-state/buggy", "--strategy", "random"])
        .env("SHUTTLE_RANDOM_SEED", "5")
        .output()
        .expect("run interleave");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SHUTTLE_RANDOM_SEED is set"), "{}", stderr(&o));
}

#[test]
fn bench_json_has_the_documented_shape_and_measures_against_bare_shuttle() {
    let o = run(&[
        "bench",
        "worker-state/buggy",
        "worker-state/audit-fix",
        "family/bug[threads=2,steps=6,depth=1]",
        "--seeds",
        "3",
        "--budget",
        "300",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("bench --json prints JSON");
    let bugs = v["bug_finding"].as_array().expect("bug_finding");
    // Two bugs, every strategy of ours (shuttle's, the step-level samplers, bounded, the default)
    // and every bare shuttle scheduler.
    assert_eq!(bugs.len(), 2 * 16, "{bugs:#?}");
    for r in bugs {
        for k in
            ["scenario", "variant", "strategy", "seeds", "found", "median_executions", "p90_executions", "median_ms"]
        {
            assert!(r.get(k).is_some(), "bug_finding row lacks {k}: {r}");
        }
    }
    let row = |strategy: &str| {
        bugs.iter()
            .find(|r| r["variant"] == "buggy" && r["strategy"] == strategy)
            .unwrap_or_else(|| panic!("no row for {strategy}"))
    };
    // The harness's random scheduler is shuttle's, recorded: with the same seeds it takes exactly the
    // schedules bare shuttle takes, so it finds the bug after exactly as many executions.
    assert_eq!(row("random")["executions_by_seed"], row("bare random")["executions_by_seed"]);
    assert_eq!(row("default")["found"], 1.0);
    let t = v["throughput"].as_array().expect("throughput");
    assert_eq!(t.len(), 1);
    for k in
        ["scenario", "variant", "executions_per_sec", "overhead_vs_bare_shuttle", "us_per_step", "surw_us_per_step"]
    {
        assert!(t[0].get(k).is_some(), "throughput row lacks {k}");
    }
    for k in ["overhead_vs_bare_shuttle", "us_per_step", "surw_us_per_step", "surw_executions_per_sec"] {
        assert!(t[0][k].as_f64().is_some_and(|x| x > 0.0), "{k}: {}", t[0][k]);
    }
    assert!(t[0]["steps_per_execution"].as_u64().is_some_and(|x| x > 0));
    let e = v["exhaustive"].as_array().expect("exhaustive");
    let dfs = e.iter().find(|r| r["backend"] == "dfs").expect("a dfs row");
    for k in ["scenario", "variant", "backend", "executions", "distinct_interleavings", "ms"] {
        assert!(dfs.get(k).is_some(), "exhaustive row lacks {k}");
    }
    assert_eq!(dfs["complete"], true);
    let summary = v["summary"]["totals"].as_array().expect("summary totals");
    assert!(summary.iter().any(|r| r["strategy"] == "default"));
}

#[test]
fn bench_no_exhaustive_keeps_throughput_and_skips_the_exhaustive_searches() {
    let o = run(&[
        "bench",
        "family/holds[threads=20,steps=6]",
        "--seeds",
        "1",
        "--budget",
        "20",
        "--strategies",
        "random",
        "--no-exhaustive",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("bench --json prints JSON");
    let t = v["throughput"].as_array().expect("throughput");
    assert_eq!(t.len(), 1, "{t:#?}");
    assert_eq!(t[0]["threads"], 20);
    assert_eq!(v["exhaustive"].as_array().map(Vec::len), Some(0), "{}", v["exhaustive"]);
}

#[test]
fn a_counterexample_on_more_than_36_threads_replays_from_its_iv2_string() {
    let target = "family/bug[threads=50,steps=6,depth=2,sync=1]";
    let o = run(&["check", target, "--strategy", "random", "--minimize-budget", "400", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let r = &v["results"][0];
    let replay = r["replay"].as_str().expect("a replay string");
    // Threads up to t50: more than iv1's 36 digits can name.
    assert!(replay.starts_with("iv2:family/bug[threads=50,steps=6,depth=2,sync=1]:"), "{replay}");
    let again = run(&["replay", replay]);
    assert_eq!(again.status.code(), Some(1), "the counterexample replays: {}", stderr(&again));
    let shown = String::from_utf8_lossy(&again.stdout);
    let first = r["trace"].as_str().unwrap().lines().next().unwrap().to_string();
    let headline = first.split(" (").next().unwrap();
    assert!(shown.contains(headline), "{headline}\n{shown}");
}

#[test]
fn check_smallest_reports_the_smallest_failing_instance() {
    let o = run(&["check", "worker-state/audit-fix", "--smallest", "8", "--json"]);
    // audit-fix claims to hold; at two writers it does not, so the check fails.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let r = &v["results"][0];
    assert_eq!(r["variant"], "audit-fix[writers=2,chunks=1]");
    let replay = r["replay"].as_str().expect("a replay string");
    let again = run(&["replay", replay]);
    assert_eq!(again.status.code(), Some(1), "the instance's counterexample replays: {}", stderr(&again));
}

#[test]
fn options_are_taken_by_their_strategy_and_budgets_mean_what_they_say() {
    // A budget of one execution may leave a witness unreached (exit 1); it is never bad input.
    let json = |args: &[&str]| {
        let o = run(args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        v["results"][0].clone()
    };
    json(&["check", "worker-state/buggy", "--strategy", "pct", "--depth", "2", "--json"]);
    json(&["check", "worker-state/buggy", "--strategy", "bounded", "--max-preemptions", "1", "--json"]);
    // --iterations is the whole budget, whatever the strategy.
    for strategy in ["bounded", "portfolio", "dfs", "random"] {
        let r = json(&["check", "worker-state/fixed", "--strategy", strategy, "--iterations", "1", "--json"]);
        assert_eq!(r["executions"], 1, "{strategy}: {r}");
    }
    // The minimizer's budget is its own.
    let r = json(&["check", "worker-state/buggy", "--minimize-budget", "3", "--json"]);
    let spent = r["minimize_executions"].as_u64().expect("minimize_executions");
    assert!(spent <= 3, "the minimizer spent {spent} of a budget of 3");
    assert!(r["replay"].is_string(), "a counterexample is still shown: {r}");
}

#[test]
fn the_table_says_whether_a_holds_is_a_proof_or_a_sample() {
    let row = |args: &[&str]| {
        let o = run(args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{args:?}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines().find(|l| l.starts_with("worker-state/fixed")).unwrap_or_else(|| panic!("{text}")).to_string()
    };
    assert!(row(&["check", "worker-state/fixed"]).contains("found holds (proof)"));
    assert!(row(&["check", "worker-state/fixed", "--strategy", "random", "--iterations", "50"])
        .contains("found holds (sample)"));
    assert!(row(&["check", "worker-state/fixed", "--strategy", "bounded", "--iterations", "3"])
        .contains("found holds (sample)"));
}

/// A directory's entries, sorted, with their contents (regular files) or kind.
fn entries(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let what = if t.is_file() { std::fs::read_to_string(e.path()).unwrap() } else { format!("{t:?}") };
            (e.file_name().to_string_lossy().into_owned(), what)
        })
        .collect();
    v.sort();
    v
}

fn mkfifo(path: &Path) {
    let s = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(s.success());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn destinations_that_are_not_regular_files_are_refused_before_the_run_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    mkfifo(&fifo);
    let target = dir.path().join("target.json");
    std::fs::write(&target, "keep").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for (path, fragment) in [(&fifo, "is a FIFO, not a regular file"), (&link, "is a symbolic link")] {
        let o = Command::new(common::exe())
            .args(["bench", "worker-state/buggy", "--seeds", "1", "--budget", "10", "--save"])
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}: {}", path.display(), stderr(&o));
        assert!(stderr(&o).contains(fragment), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "refused before the run: {}", String::from_utf8_lossy(&o.stdout));
    }
    // A fixture's name taken by a FIFO or a link.
    for make in [mkfifo as fn(&Path), |p: &Path| std::os::unix::fs::symlink("../target.json", p).unwrap()] {
        let fixtures = tempfile::tempdir_in(dir.path()).unwrap();
        make(&fixtures.path().join("worker-state__buggy.json"));
        let before = entries(fixtures.path());
        let o = Command::new(common::exe())
            .args(["check", "worker-state/buggy", "--save-fixtures"])
            .arg(fixtures.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("not a regular file") || stderr(&o).contains("symbolic link"), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "refused before the run: {}", String::from_utf8_lossy(&o.stdout));
        assert_eq!(entries(fixtures.path()), before);
    }
    assert!(is_fifo(&fifo), "the FIFO is still a FIFO");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
}

#[test]
fn unwritable_destinations_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["check".into(), "worker-state".into(), "--save-fixtures".into(), format!("{}/sub", file.display())],
            "cannot create the directory",
        ),
        (
            vec!["check".into(), "worker-state".into(), "--save-fixtures".into(), file.display().to_string()],
            "is a regular file, not a directory",
        ),
        (
            vec![
                "bench".into(),
                "worker-state/buggy".into(),
                "--save".into(),
                format!("{}/bench.json", file.display()),
            ],
            "no directory",
        ),
    ];
    for (args, fragment) in cases {
        let o = Command::new(common::exe()).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(fragment), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?} ran before refusing: {}", String::from_utf8_lossy(&o.stdout));
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn temporary_files_of_dead_writers_are_removed_and_a_live_writers_kept() {
    let dir = tempfile::tempdir().unwrap();
    // PIDs are below 2^22 on Linux: this writer cannot be alive. The test process is.
    let dead = [".worker-state__buggy.json.interleave-tmp-4000000000-0", ".bench.json.interleave-tmp-4000000001-7"];
    let live = format!(".worker-state__buggy.json.interleave-tmp-{}-0", std::process::id());
    for name in dead.iter().copied().chain([live.as_str()]) {
        std::fs::write(dir.path().join(name), "half a fix").unwrap();
    }
    let o = Command::new(common::exe())
        .args(["check", "worker-state/buggy", "--save-fixtures"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = Command::new(common::exe())
        .args(["bench", "worker-state/buggy", "--seeds", "1", "--budget", "20", "--json", "--save"])
        .arg(dir.path().join("bench.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names: Vec<String> = entries(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, [live.clone(), "bench.json".into(), "worker-state__buggy.json".into()]);
    interleave::fixture::Fixture::read(&dir.path().join("worker-state__buggy.json")).unwrap();
}

/// Fixtures written by `check worker-state --save-fixtures DIR`, with stdout and stderr as given.
fn check_with_streams(dir: &Path, close_stdout: bool, close_stderr: bool) -> (Option<i32>, Vec<(String, String)>) {
    let pipe_or_null = |close: bool| if close { Stdio::piped() } else { Stdio::null() };
    let mut child = Command::new(common::exe())
        .args(["check", "worker-state", "--strategy", "random", "--iterations", "300", "--save-fixtures"])
        .arg(dir)
        .stdout(pipe_or_null(close_stdout))
        .stderr(pipe_or_null(close_stderr))
        .spawn()
        .unwrap();
    // Close the read ends before the child writes anything: every write then fails with EPIPE.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    (status.code(), entries(dir))
}

#[test]
fn a_closed_stderr_or_stdout_changes_neither_the_exit_status_nor_the_fixtures() {
    let (code, fixtures) = check_with_streams(tempfile::tempdir().unwrap().path(), false, false);
    assert_eq!(code, Some(0));
    assert!(fixtures.len() >= 2, "{fixtures:?}");
    for (close_stdout, close_stderr) in [(false, true), (true, false), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let again = check_with_streams(dir.path(), close_stdout, close_stderr);
        assert_eq!(again, (code, fixtures.clone()), "stdout closed: {close_stdout}, stderr closed: {close_stderr}");
    }
}

#[test]
fn a_write_error_on_stdout_other_than_a_closed_pipe_exits_2_and_says_so() {
    // /dev/full takes no byte: every write fails with ENOSPC, as on a full disk.
    for args in [
        &["list"][..],
        &["check", "worker-state/buggy", "--json"],
        &["replay", "iv1:worker-state/buggy:00122222222222111100:a4e76223"],
    ] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let o = Command::new(common::exe()).args(args).stdout(full).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("error: cannot write to standard output: No space left on device"),
            "{}",
            stderr(&o)
        );
    }
}
