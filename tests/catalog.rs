//! Every variant of the catalog meets its expectation under every shuttle strategy and (with
//! `--features loom`) under loom; every counterexample's minimized trace is an insta snapshot named
//! `<scenario>__<variant>@<backend>` and replays to identical bytes in this process and in a fresh
//! one.

mod common;

use common::{check, snapshot_counterexample};
use interleave::{Expect, Strategy};

fn variants() -> Vec<(&'static str, &'static str, Expect)> {
    scenarios::CATALOG.iter().flat_map(|s| s.variants.iter().map(move |v| (s.name, v.name, v.expect))).collect()
}

/// Counterexamples a sampler does not reach at the test's budget (3,000 executions), though the
/// default strategy finds them at once. Each must still be reported as what it is, a sample.
/// - `load-save-footgun/bypass-read` under `urw`: claim's one `read` must fall between sync's
///   `open(O_TRUNC)` and its `write`, with sync nine steps ahead; shuttle's uniform random walk
///   did not reach it in 30,000 executions with seed 1 (nor 3,000 with seeds 0-5); the portfolio
///   finds it in 42, `random` and `pct` within 3,000.
const MISSED_BY: &[(&str, &str, &str)] = &[("load-save-footgun", "bypass-read", "urw")];

#[test]
fn every_variant_meets_its_expectation_under_shuttle() {
    for strategy in [Strategy::DEFAULT, Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Urw] {
        for (scenario, variant, expect) in variants() {
            let r = check(scenario, variant, strategy);
            if MISSED_BY.contains(&(scenario, variant, &strategy.to_string())) {
                assert!(!r.exhaustive && r.outcome == Expect::Holds, "{scenario}/{variant} under {strategy}: {r:#?}");
                continue;
            }
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
            // `--iterations` is the whole budget; the default's (20,000) proves every holds variant.
            let r = common::check_with(scenario, variant, Strategy::DEFAULT, 20_000);
            assert!(r.exhaustive, "{scenario}/{variant}: {:?}", r.runs);
        }
    }
}

#[test]
fn the_step_level_search_reaches_every_class_a_random_run_reaches() {
    // The step-level search decides only once every thread has reached its next step, so scenario
    // code that reads shared state between steps would see it earlier there than under shuttle's
    // own schedulers, and the search would miss what they reach. (Both did happen: a trigger set by
    // an event loop task's synchronous code, and a process asking whether it was still alive.)
    let all = common::all();
    //
    // Left out: `file-semaphore/audited`, whose polling loop sleeps. A sleep is a fair yield: the
    // step-level search lets a sleeping thread run again only once every other thread has made a
    // step (CHESS's fair scheduling, which is what keeps the search of a polling loop finite),
    // while shuttle's random scheduler lets a poller poll again before a holder moves, so it
    // reaches (unfair) classes with more polling rounds that the search leaves out by design.
    let unfair_pollers = ["file-semaphore/audited"];
    let mut targets: Vec<String> = variants()
        .into_iter()
        .filter(|v| v.2 == Expect::Holds)
        .map(|(s, v, _)| format!("{s}/{v}"))
        .filter(|t| !unfair_pollers.contains(&t.as_str()))
        .collect();
    targets.push("family/holds[threads=3,steps=6,depth=2]".into());
    for target in targets {
        let (_, variant) = interleave::select(&all, std::slice::from_ref(&target)).expect("a variant")[0];
        let (random, dfs, complete) = interleave::check::classes_random_and_dfs(variant, 2_000, 5);
        assert!(complete, "{target}: dfs did not complete");
        let missed = random.difference(&dfs).count();
        assert_eq!(missed, 0, "{target}: {missed} of {} classes a random run reached are not in dfs's", random.len());
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
            // Every run passed, and the step-level search covered the whole space. A loom run
            // either covered its space or stopped at the tests' cap (`common::LOOM_CAP`) and says
            // so (complete = false): it then proves nothing, and `interleave check --strategy
            // exhaustive` runs loom to its full cap.
            assert!(r.runs.iter().all(|run| run.violated.is_none()), "{scenario}/{variant}: {:?}", r.runs);
            for run in r.runs.iter().filter(|run| run.family == "bounded") {
                assert!(run.complete, "{scenario}/{variant}: {run:?}");
            }
            for run in r.runs.iter().filter(|run| run.family == "loom") {
                assert!(run.complete || run.executions + 1 >= common::LOOM_CAP, "{scenario}/{variant}: {run:?}");
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
