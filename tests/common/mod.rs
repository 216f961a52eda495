//! Shared test helpers: one `check` for every scenario test, so the API can change without
//! rewriting tests.

#![allow(dead_code)]

use interleave::{check_variant, select, CheckOptions, Strategy, VariantReport};
use std::path::PathBuf;

/// The `interleave` executable (loom explorations run in its child processes).
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_interleave"))
}

/// The executions each loom run of a test may take.
pub const LOOM_CAP: usize = 3_000;

/// The step-level search's budget under `exhaustive` in tests: it must cover every `holds`.
pub const EXHAUSTIVE_ITERATIONS: usize = 10_000;

/// Checks `scenario/variant` with `strategy` and a fixed seed.
pub fn check(scenario: &str, variant: &str, strategy: Strategy) -> VariantReport {
    check_with(scenario, variant, strategy, 3_000)
}

/// Checks `scenario/variant` with `strategy`, a fixed seed and `iterations` per run.
///
/// Under `exhaustive`, each loom run stops at [`LOOM_CAP`] executions (reported incomplete), and the
/// step-level search has [`EXHAUSTIVE_ITERATIONS`]: `cargo test --features loom` stays within its
/// time budget; `interleave check --strategy exhaustive` runs loom to its full cap.
pub fn check_with(scenario: &str, variant: &str, strategy: Strategy, iterations: usize) -> VariantReport {
    let sel = select(scenarios::CATALOG, &[format!("{scenario}/{variant}")]).expect("a catalog variant");
    let iterations = if strategy == Strategy::Exhaustive { iterations.max(EXHAUSTIVE_ITERATIONS) } else { iterations };
    let opts = CheckOptions {
        strategy,
        iterations,
        seed: 1,
        child_exe: Some(exe()),
        loom_cap: LOOM_CAP,
        ..CheckOptions::default()
    };
    check_variant(sel[0].0, sel[0].1, &opts).expect("a valid check")
}

/// Checks a counterexample variant, snapshots its minimized trace as
/// `<scenario>__<variant>@<backend>` with the replay command as the snapshot's description, checks
/// that the replay string reproduces the trace byte for byte (many times here, and once in a
/// fresh process), and returns the trace.
pub fn snapshot_counterexample(scenario: &str, variant: &str, backend: &str, strategy: Strategy) -> String {
    let r = check(scenario, variant, strategy);
    let trace = r.trace.clone().unwrap_or_else(|| panic!("{scenario}/{variant}: no counterexample: {r:#?}"));
    let replay = r.replay.clone().expect("a replay string");
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        description => format!("interleave replay {replay}"),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("{scenario}__{variant}@{backend}"), trace);
    });
    for _ in 0..20 {
        let again = interleave::replay(scenarios::CATALOG, &replay).expect("the replay string replays");
        assert_eq!(again.rendered, trace, "replay differs in process");
    }
    let out = std::process::Command::new(exe()).args(["replay", &replay]).output().expect("run interleave replay");
    assert_eq!(out.status.code(), Some(1), "replaying a counterexample exits 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout), trace, "replay differs in a fresh process");
    trace
}

/// Every scenario a replay string may name: the catalog and the harness's own.
pub fn all() -> Vec<&'static interleave::Scenario> {
    scenarios::CATALOG.iter().chain(interleave::internal::INTERNAL.iter()).copied().collect()
}
