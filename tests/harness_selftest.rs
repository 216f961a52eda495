//! The harness's own reports, on programs whose verdicts are known: a lock-order deadlock, a panic
//! in scenario code, a livelock, a lost update and its fix. Each is checked under shuttle's
//! schedulers, the step-level search and (with `--features loom`) loom in a child process.

mod common;

use interleave::{check_variant, select, CheckOptions, Expect, Strategy, VariantReport};

fn check(variant: &str, strategy: Strategy) -> VariantReport {
    let all = common::all();
    let sel = select(&all, &[format!("selftest/{variant}")]).expect("a selftest variant");
    let opts = CheckOptions {
        strategy,
        iterations: 2_000,
        seed: 7,
        child_exe: Some(common::exe()),
        ..CheckOptions::default()
    };
    check_variant(sel[0].0, sel[0].1, &opts).expect("a valid check")
}

fn strategies() -> Vec<Strategy> {
    let mut v = vec![Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::DEFAULT];
    if cfg!(feature = "loom") {
        v.push(Strategy::Exhaustive);
    }
    v
}

/// (variant, expected outcome, invariant, a fragment of the rendered trace)
const CASES: &[(&str, Expect, Option<&str>, &str)] = &[
    (
        "deadlock",
        Expect::Counterexample,
        Some("deadlock"),
        "t1 waits on lock(b) held by t2; t2 waits on lock(a) held by t1",
    ),
    ("panic", Expect::Counterexample, Some("panic"), "scenario code panicked with v = 0"),
    ("livelock", Expect::Counterexample, Some("step limit"), "more than 2000 steps"),
    ("lost-update", Expect::Counterexample, Some("both increments counted"), "count is 1, not 2"),
    ("counter", Expect::Holds, None, ""),
];

#[test]
fn known_programs_get_known_verdicts_under_every_backend() {
    for strategy in strategies() {
        for &(variant, expect, invariant, fragment) in CASES {
            let r = check(variant, strategy);
            assert_eq!(r.outcome, expect, "{variant} under {strategy}: {r:#?}");
            assert!(r.ok, "{variant} under {strategy}: {:?}", r.problem);
            assert_eq!(r.invariant.as_deref(), invariant, "{variant} under {strategy}");
            if let Some(trace) = &r.trace {
                assert!(trace.contains(fragment), "{variant} under {strategy}:\n{trace}");
                // A counterexample replays to the same bytes.
                let again = interleave::replay(&common::all(), r.replay.as_deref().unwrap()).unwrap();
                assert_eq!(&again.rendered, trace, "{variant} under {strategy}");
            }
        }
    }
}

#[test]
fn the_deadlock_is_minimized_to_its_one_preemption() {
    let r = check("deadlock", Strategy::Random);
    assert_eq!(r.preemptions, Some(1), "{:?}", r.trace);
    assert_eq!(r.steps, Some(2), "{:?}", r.trace);
}

#[test]
fn a_holds_without_its_witness_proves_nothing() {
    // `counter` reaches its witness; the step-level search also covers its whole space.
    let r = check("counter", Strategy::DEFAULT);
    assert!(r.exhaustive && r.witnesses.iter().all(|w| w.reached), "{r:#?}");
}

#[test]
fn exploration_sizes_are_pinned() {
    // Exact numbers of schedules the step-level search explores: a change in exploration is
    // noticed here first.
    let sizes = [("counter", 2), ("lost-update", 4)];
    for (variant, executions) in sizes {
        let r = check(variant, Strategy::Bounded { max_preemptions: None });
        assert_eq!(r.executions, executions, "{variant}: {:?}", r.runs);
    }
}
