//! Minimal scenarios: proptest generates instances of a variant's parameters, shrinks a failing
//! one while the harness re-finds the bug, and the snapshot shows the smallest instance that still
//! breaks, with its fewest-preemption schedule.

mod common;

use interleave::shrink::smallest_failing;
use interleave::{check_variant, select, CheckOptions, Expect, Strategy, Variant};

fn opts() -> CheckOptions {
    CheckOptions {
        strategy: Strategy::DEFAULT,
        iterations: 2_000,
        seed: 7,
        minimize_budget: 20_000,
        child_exe: Some(common::exe()),
        ..CheckOptions::default()
    }
}

fn base(target: &str) -> (&'static interleave::Scenario, &'static Variant) {
    select(scenarios::CATALOG, &[target.to_string()]).expect("a catalog variant")[0]
}

/// Searches `target`'s parameters for its smallest failing instance, checks that it is locally
/// minimal (one less of any parameter no longer fails), snapshots its trace and replays it.
fn smallest(target: &str, cases: u32, expected_name: &str) {
    let (scenario, variant) = base(target);
    let found = smallest_failing(scenario, variant, &opts(), cases).expect("a valid search");
    let v = found.variant.unwrap_or_else(|| panic!("{target}: no generated instance failed: {found:?}"));
    assert_eq!(v.name, expected_name, "{target}: the smallest failing instance");
    assert!(found.instances_failed >= 1 && found.instances_checked >= found.instances_failed);
    // Locally minimal: lowering any one parameter makes the bug go away (or leaves its range).
    for (i, p) in v.params.iter().enumerate() {
        let value = v.param(p.name).expect("a declared parameter");
        if value == p.min {
            continue;
        }
        let mut set: Vec<(&str, usize)> =
            v.params.iter().map(|q| (q.name, v.param(q.name).unwrap_or(q.default))).collect();
        set[i].1 = value - 1;
        let smaller = variant.instance(&set).expect("in range");
        let r = check_variant(scenario, smaller, &opts()).expect("a valid check");
        assert_eq!(
            r.outcome,
            Expect::Holds,
            "{}: a smaller instance still fails, so {} is not the smallest",
            smaller.name,
            v.name
        );
        assert!(r.exhaustive, "{}: the smaller instance's search must be complete to prove it holds", smaller.name);
        assert!(
            r.witnesses.iter().all(|w| w.reached),
            "{}: holds, but its racy window was not reached: {:?}",
            smaller.name,
            r.witnesses
        );
    }
    let report = found.report.expect("the smallest instance's report");
    let trace = report.trace.clone().expect("a minimized trace");
    let replay = report.replay.clone().expect("a replay string");
    assert!(replay.contains(&format!("/{}:", v.name)), "the replay string names the instance: {replay}");
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        description => format!("interleave replay '{replay}'"),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("{}__{}@smallest", scenario.name, variant.name), trace);
    });
    let again = interleave::replay(scenarios::CATALOG, &replay).expect("the instance's replay string replays");
    assert_eq!(again.rendered, trace);
    let out = std::process::Command::new(common::exe()).args(["replay", &replay]).output().expect("run interleave");
    assert_eq!(String::from_utf8_lossy(&out.stdout), trace, "replay differs in a fresh process");
}

#[test]
fn worker_state_buggy_breaks_with_one_writer_writing_in_one_chunk() {
    smallest("worker-state/buggy", 6, "buggy[chunks=1]");
}

#[test]
fn worker_state_audit_fix_breaks_with_two_writers_and_one_chunk() {
    // The audit's fix holds for one writer per file; the search finds that two break it, and that
    // the chunking of the write does not matter.
    smallest("worker-state/audit-fix", 8, "audit-fix[writers=2,chunks=1]");
}

#[test]
fn snapshot_submit_audit_fix_breaks_with_one_watcher_and_one_chunk() {
    smallest("snapshot-submit/audit-fix", 6, "audit-fix");
}

#[test]
fn a_variant_that_holds_has_no_failing_instance() {
    let (scenario, variant) = base("snapshot-submit/crash-fixed");
    let found = smallest_failing(scenario, variant, &opts(), 3).expect("a valid search");
    assert!(found.variant.is_none() && found.report.is_none(), "{found:?}");
    assert_eq!(found.instances_checked, 3);
    assert_eq!(found.instances_failed, 0);
    // And each size holds for a reason: its racy window (a crash state that keeps a save's rename
    // with its data) is reached.
    for chunks in 1..=3 {
        let v = variant.instance(&[("chunks", chunks)]).expect("in range");
        let r = check_variant(scenario, v, &opts()).expect("a valid check");
        assert!(r.ok && r.exhaustive, "{}: {:?}", v.name, r.problem);
        assert!(!r.witnesses.is_empty() && r.witnesses.iter().all(|w| w.reached), "{}: {:?}", v.name, r.witnesses);
    }
}

#[test]
fn a_variant_without_parameters_is_refused() {
    let (scenario, variant) = base("process-kill/buggy");
    let e = smallest_failing(scenario, variant, &opts(), 3).expect_err("no parameters");
    assert!(e.to_string().contains("takes no parameters"), "{e}");
}
