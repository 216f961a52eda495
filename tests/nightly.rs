//! The nightly as CI runs it: a clean run leaves report.json and junit.xml and no fixture; a
//! broken variant makes it exit 1, keep a fixture, and print a command that reproduces the
//! failure exactly; a run killed while writing fixtures never leaves a partial one; the workflow
//! files parse.

mod common;

use std::process::Command;

fn nightly(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(common::exe())
        .args(["nightly", "--time", "2s", "--seed", "7", "--shard", "1/2", "--fuzz-inputs", "20000", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run the nightly")
}

#[test]
fn a_broken_variant_fails_the_nightly_and_its_command_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &["--inject-broken"]);
    let log = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{log}");
    assert!(log.starts_with("nightly: seed 7, shard 1/2"), "{log}");
    let cmd = log.lines().last().unwrap().trim();
    let replay = cmd.strip_prefix("interleave replay ").unwrap_or_else(|| panic!("last line: {cmd}"));
    let fixture = interleave::fixture::Fixture::read(&dir.path().join("selftest__broken-canary.json")).unwrap();
    assert_eq!(fixture.replay, replay);
    let again = Command::new(common::exe()).args(["replay", replay]).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&again.stdout), fixture.trace, "the reproduce command reproduces exactly");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], false);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<failure message=\"holds variant violated"), "{junit}");
}

#[test]
fn a_clean_nightly_leaves_reports_and_no_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let o = nightly(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["junit.xml", "report.json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["shard"], "1/2");
}

#[test]
fn bad_nightly_input_exits_2() {
    for shard in ["0/2", "3/2", "x", "1/0"] {
        let o = Command::new(common::exe())
            .args(["nightly", "--time", "1s", "--out", "/tmp/x", "--shard", shard])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{shard}");
    }
    let o = Command::new(common::exe()).args(["nightly", "--time", "soon", "--out", "/tmp/x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
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
    for cmd in ["cargo test", "cargo test --features loom", "cargo fmt --all --check"] {
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
}
