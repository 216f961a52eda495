//! The step-level samplers (`pos`, `surw`, `step-pct`) through the public API: each finds the
//! family's bugs of every shape it was built for, on many threads too; the same seed gives the same
//! executions; and a `holds` stays a `holds`. Work is bounded by executions, never by time.

mod common;

use interleave::{check_variant, select, CheckOptions, Expect, Strategy, VariantReport};

fn check(target: &str, strategy: Strategy, iterations: usize, seed: u64) -> VariantReport {
    let all = common::all();
    let sel = select(&all, &[target.to_string()]).expect("a family instance");
    let opts = CheckOptions { strategy, iterations, seed, minimize: false, ..CheckOptions::default() };
    check_variant(sel[0].0, sel[0].1, &opts).expect("a valid check")
}

const SAMPLERS: [Strategy; 4] =
    [Strategy::Pos, Strategy::Surw, Strategy::StepPct { depth: 2 }, Strategy::StepPct { depth: 3 }];

#[test]
fn the_names_parse_and_print() {
    for (name, s) in [("pos", Strategy::Pos), ("surw", Strategy::Surw), ("step-pct", Strategy::StepPct { depth: 2 })] {
        assert_eq!(Strategy::parse(name, 2, None).unwrap(), s);
        assert_eq!(s.name(), name);
        assert!(!s.is_systematic());
        assert!(interleave::strategy::STRATEGY_NAMES.contains(name));
    }
}

#[test]
fn each_sampler_finds_a_bug_among_long_threads_with_a_lock() {
    // Four threads of 60 steps, three of them on shared objects: shuttle's uniform schedulers
    // rarely order the events; the samplers that know which steps race do.
    let target = "family/bug[threads=4,steps=60,depth=2,sync=1]";
    for strategy in SAMPLERS {
        let r = check(target, strategy, 3_000, 1);
        assert_eq!(r.outcome, Expect::Counterexample, "{strategy}: {r:#?}");
    }
}

#[test]
fn pos_and_surw_find_a_bug_among_twenty_threads_with_a_gate() {
    let target = "family/bug[threads=20,steps=6,depth=2,sync=2]";
    for strategy in [Strategy::Pos, Strategy::Surw] {
        let r = check(target, strategy, 3_000, 2);
        assert_eq!(r.outcome, Expect::Counterexample, "{strategy}: {r:#?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_executions() {
    let target = "family/bug[threads=3,steps=20,depth=3,noise=2]";
    for strategy in SAMPLERS {
        let a = check(target, strategy, 400, 5);
        let b = check(target, strategy, 400, 5);
        assert_eq!(
            (a.executions, &a.trace, a.distinct_interleavings),
            (b.executions, &b.trace, b.distinct_interleavings),
            "{strategy}"
        );
    }
}

#[test]
fn a_holds_twin_stays_a_holds() {
    for strategy in SAMPLERS {
        let r = check("family/holds[threads=3,steps=8,depth=2]", strategy, 300, 4);
        assert_eq!(r.outcome, Expect::Holds, "{strategy}: {r:#?}");
        assert_eq!(r.executions, 300, "{strategy}");
    }
}
