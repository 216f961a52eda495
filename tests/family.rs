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
