//! worker-state specifics: the buggy trace tells the audited story, minimization does not depend
//! on the strategy that found the bug, and shuttle's dfs agrees where it completes. (What holds
//! for every scenario is in `catalog.rs`.)

mod common;

use common::check;
use harness::{Expect, Strategy};

const SCENARIO: &str = "worker-state";

#[test]
fn shuttle_dfs_completes_where_it_can_and_agrees() {
    // shuttle's DFS has no partial-order reduction; on audit-fix it completes within the budget
    // and must agree with the other strategies.
    let r = common::check_with(SCENARIO, "audit-fix", Strategy::Dfs, 10_000);
    assert!(r.exhaustive, "dfs should exhaust audit-fix: {r:#?}");
    assert_eq!(r.outcome, Expect::Holds);
    let r = check(SCENARIO, "buggy", Strategy::Dfs);
    assert_eq!(r.outcome, Expect::Counterexample);
}

#[test]
fn minimized_counterexamples_are_snapshots_and_do_not_depend_on_the_search() {
    for variant in ["buggy", "audit-fix-two-writers"] {
        let default = check(SCENARIO, variant, Strategy::DEFAULT);
        let shown = default.trace.clone().expect("a counterexample");
        // Whichever strategy found it, the minimized counterexample of an invariant is the same.
        // (Strategies may trip different invariants first: pct, for one, finds the torn read in
        // which read_all sees the old file's first half and the new file's second half.)
        let mut same_invariant = 0;
        for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Urw, Strategy::Dfs] {
            let r = check(SCENARIO, variant, strategy);
            if r.trace.is_none() {
                // shuttle's dfs does not reach audit-fix-two-writers' bug within the budget.
                assert_eq!(strategy, Strategy::Dfs, "{variant} under {strategy}");
                continue;
            }
            if r.invariant == default.invariant {
                same_invariant += 1;
                assert_eq!(r.trace.as_deref(), Some(shown.as_str()), "{variant} under {strategy}");
            } else {
                let again = check_minimized(&r);
                assert_eq!(
                    again,
                    r.trace.clone().unwrap(),
                    "{variant} under {strategy}: minimization is deterministic"
                );
            }
        }
        assert!(same_invariant >= 2, "{variant}: too few strategies to compare");
    }
}

/// Minimizing a counterexample found by any strategy is deterministic: replaying its replay
/// string gives the same trace again.
fn check_minimized(r: &harness::VariantReport) -> String {
    harness::replay(scenarios::CATALOG, r.replay.as_deref().unwrap()).unwrap().rendered
}

#[test]
fn the_buggy_trace_tells_the_audited_story() {
    let r = check(SCENARIO, "buggy", Strategy::DEFAULT);
    let t = r.trace.expect("a counterexample");
    let story = [
        "open(\"/state/w.json\", O_WRONLY|O_CREAT|O_TRUNC) = fd 3",
        "read(fd 3, 4096) = \"\" (0 bytes)",
        "parse: EOF while parsing",
        "unlink(\"/state/w.json\") = ok",
        "write(fd 3,",
        "end: \"/state/w.json\" missing; writer's write_state returned Ok",
    ];
    let mut at = 0;
    for line in story {
        let found = t[at..].find(line).unwrap_or_else(|| panic!("{line:?} missing after byte {at} of\n{t}"));
        at += found + line.len();
    }
    assert_eq!(r.preemptions, Some(1), "{t}");
}
