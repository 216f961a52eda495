//! The scalable family of the search benchmark: its bug is found by every search that should find
//! it, its holds twin is proven with its witness reached, and its parameters reach the program.

mod common;

use interleave::{check_variant, select, CheckOptions, Expect, Strategy, VariantReport};

fn check(target: &str, strategy: Strategy, iterations: usize) -> VariantReport {
    let all = common::all();
    let sel = select(&all, &[target.to_string()]).expect("a family instance");
    let opts =
        CheckOptions { strategy, iterations, seed: 3, child_exe: Some(common::exe()), ..CheckOptions::default() };
    check_variant(sel[0].0, sel[0].1, &opts).expect("a valid check")
}

#[test]
fn the_bug_is_found_and_minimized_to_its_ordering_constraints() {
    let target = "family/bug[threads=2,steps=6,depth=2]";
    for strategy in [
        Strategy::DEFAULT,
        Strategy::Random,
        Strategy::Pct { depth: 3 },
        Strategy::Bounded { max_preemptions: None },
        Strategy::Dfs,
    ] {
        let r = check(target, strategy, 5_000);
        assert_eq!(r.outcome, Expect::Counterexample, "{strategy}: {r:#?}");
        let trace = r.trace.as_deref().expect("a trace");
        // Every event of the chain ran in order: the stage advanced three times.
        for m in 1..=3 {
            assert!(trace.contains(&format!("advanced to {m}")), "{strategy}: {trace}");
        }
    }
}

#[test]
fn the_holds_twin_is_proven_with_its_witness() {
    for target in ["family/holds[threads=2,steps=6,depth=2]", "family/holds[threads=3,steps=6,depth=3]"] {
        for strategy in [Strategy::Dfs, Strategy::DEFAULT] {
            let r = check(target, strategy, 100_000);
            assert!(r.ok && r.exhaustive, "{target} under {strategy}: {r:#?}");
            assert!(r.witnesses.iter().all(|w| w.reached), "{target}: {:?}", r.witnesses);
        }
    }
}

#[test]
fn parameters_change_the_program() {
    let small = check("family/bug[threads=2,steps=6,depth=1]", Strategy::Dfs, 5_000);
    let large = check("family/bug[threads=4,steps=12,depth=3]", Strategy::Dfs, 5_000);
    let threads = |r: &VariantReport| {
        r.trace
            .as_deref()
            .and_then(|t| t.lines().find(|l| l.trim_start().starts_with('#')))
            .map(|l| l.split_whitespace().count())
    };
    assert_eq!(threads(&small), Some(3), "# and two threads");
    assert_eq!(threads(&large), Some(5), "# and four threads");
}

#[cfg(feature = "loom")]
#[test]
fn loom_agrees_on_a_small_twin() {
    let r = check("family/holds[threads=2,steps=6,depth=2]", Strategy::Exhaustive, 20_000);
    assert!(r.ok && r.disagreement.is_none(), "{r:#?}");
}

fn check_minimized(target: &str, minimize_budget: usize) -> VariantReport {
    let all = common::all();
    let sel = select(&all, &[target.to_string()]).expect("a family instance");
    let opts = CheckOptions {
        strategy: Strategy::Random,
        iterations: 1_000,
        seed: 3,
        minimize_budget,
        child_exe: Some(common::exe()),
        ..CheckOptions::default()
    };
    check_variant(sel[0].0, sel[0].1, &opts).expect("a valid check")
}

fn headline(r: &VariantReport) -> String {
    r.trace.as_deref().expect("a trace").lines().next().unwrap().to_string()
}

/// Nine threads; the chain's events: e0 = t7 step 3, e1 = t8 step 4, e2 = t5 step 7, e3 = t8 step
/// 5. t8 carries e1 and e3, and e2 on t5 must run between them: every counterexample preempts t8
/// at least once (between its steps 4 and 5), and one preemption suffices (t7 whole, t8 to step
/// 4, t5 whole, the rest of t8).
const NINE: &str = "family/bug[threads=9,steps=10,depth=3]";

#[test]
fn the_minimizer_reaches_the_fewest_preemptions_on_many_threads() {
    let budget = 2_000;
    let r = check_minimized(NINE, budget);
    let trace = r.trace.as_deref().unwrap();
    assert!(trace.contains("e0 = t7 step 3, e1 = t8 step 4, e2 = t5 step 7, e3 = t8 step 5"), "{trace}");
    assert_eq!(r.preemptions, Some(1), "{trace}");
    assert!(r.minimize_executions <= budget, "{}", r.minimize_executions);
    // The exhaustive search cannot prove it: bound 0 alone (every order of nine whole threads) is
    // far beyond the budget, so the headline says so.
    assert_eq!((r.minimal, r.minimal_lower_bound), (Some(false), Some(0)), "{r:#?}");
    assert!(
        headline(&r).ends_with("1 preemption (not minimal: the minimizer's budget ran out first)"),
        "{}",
        headline(&r)
    );
    // Alone, with the whole budget, it does not get through bound 0 ...
    let all = common::all();
    let variant = select(&all, &[NINE.to_string()]).unwrap()[0].1;
    let alone = interleave::bounded::minimize(variant, None, 1, budget);
    assert!(alone.outcome.is_none() && alone.empty_below == 0 && alone.executions == budget, "{alone:?}");
    // ... and what the random search found had many preemptions (a budget of one execution shows
    // it as found).
    let found = check_minimized(NINE, 1);
    assert!(found.preemptions.is_some_and(|p| p >= 5), "{:?}", found.preemptions);
    assert_eq!(r.invariant, found.invariant);
}

/// Two threads; e0 = t1, e1 = t2, e2 = t1, e3 = t2 (a chain that alternates): at least two
/// preemptions. Bound 0 is small enough to complete; bound 1 is not, within the budget.
#[test]
fn a_budget_too_small_to_finish_says_what_was_proved() {
    let target = "family/bug[threads=2,steps=10,depth=3]";
    let r = check_minimized(target, 8);
    assert_eq!((r.minimal, r.minimal_lower_bound), (Some(false), Some(1)), "{r:#?}");
    let p = r.preemptions.unwrap();
    assert!(p > 1, "the local search had too few executions to reach the fewest: {p}");
    assert!(
        headline(&r).ends_with(&format!(
            "{p} preemptions (not known minimal: no counterexample with fewer than 1 preemption; the \
             minimizer's budget ran out at bound 1)"
        )),
        "{}",
        headline(&r)
    );
    // With the default budget it finishes: the fewest preemptions, proved.
    let r = check_minimized(target, 50_000);
    assert_eq!((r.minimal, r.minimal_lower_bound), (Some(true), r.preemptions), "{r:#?}");
    assert!(!headline(&r).contains("minimal"), "{}", headline(&r));
}
