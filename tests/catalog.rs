//! Every variant of the catalog meets its expectation under every shuttle strategy and (with
//! `--features loom`) under loom; every counterexample's minimized trace is an insta snapshot named
//! `<scenario>__<variant>@<backend>` and replays to identical bytes in this process and in a fresh
//! one.

mod common;

use common::{check, snapshot_counterexample};
use harness::{Expect, Strategy};

fn variants() -> Vec<(&'static str, &'static str, Expect)> {
    scenarios::CATALOG.iter().flat_map(|s| s.variants.iter().map(move |v| (s.name, v.name, v.expect))).collect()
}

#[test]
fn every_variant_meets_its_expectation_under_shuttle() {
    for strategy in [Strategy::DEFAULT, Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Urw] {
        for (scenario, variant, expect) in variants() {
            let r = check(scenario, variant, strategy);
            assert_eq!(r.outcome, expect, "{scenario}/{variant} under {strategy}: {r:#?}");
            assert!(r.ok, "{scenario}/{variant} under {strategy}: {:?}", r.problem);
            if expect == Expect::Holds {
                assert!(r.witnesses.iter().all(|w| w.reached), "{scenario}/{variant}: {:?}", r.witnesses);
            }
        }
    }
}

#[test]
fn the_default_search_covers_every_schedule_of_every_holds_variant() {
    for (scenario, variant, expect) in variants() {
        if expect == Expect::Holds {
            let r = check(scenario, variant, Strategy::DEFAULT);
            assert!(r.exhaustive, "{scenario}/{variant}: {:?}", r.runs);
        }
    }
}

#[test]
fn counterexamples_are_snapshots_under_shuttle() {
    for (scenario, variant, expect) in variants() {
        if expect == Expect::Counterexample {
            snapshot_counterexample(scenario, variant, "shuttle", Strategy::DEFAULT);
        }
    }
}

#[cfg(feature = "loom")]
#[test]
fn every_variant_meets_its_expectation_under_loom() {
    for (scenario, variant, expect) in variants() {
        let r = check(scenario, variant, Strategy::Exhaustive);
        assert_eq!(r.outcome, expect, "{scenario}/{variant}: {r:#?}");
        assert!(r.ok, "{scenario}/{variant}: {:?}", r.problem);
        let loom_runs = r.runs.iter().filter(|run| run.family == "loom").count();
        assert_eq!(loom_runs, 4, "loom unbounded and bounds 1, 2, 3: {:?}", r.runs);
        if expect == Expect::Holds {
            // Every run passed; loom's bounded runs and the step-level search covered their whole
            // space. (loom's unbounded run stops at its cap on process-kill, where three threads
            // contend for one mutex, and says so: complete = false.)
            assert!(r.runs.iter().all(|run| run.violated.is_none()), "{scenario}/{variant}: {:?}", r.runs);
            for run in r.runs.iter().filter(|run| run.family == "bounded" || run.bound.is_some()) {
                assert!(run.complete, "{scenario}/{variant}: {run:?}");
            }
        }
        assert!(r.disagreement.is_none(), "{scenario}/{variant}: {:?}", r.disagreement);
    }
}

#[cfg(feature = "loom")]
#[test]
fn counterexamples_are_snapshots_under_loom() {
    for (scenario, variant, expect) in variants() {
        if expect == Expect::Counterexample {
            snapshot_counterexample(scenario, variant, "loom", Strategy::Exhaustive);
        }
    }
}
