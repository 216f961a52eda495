//! Verdicts that must never be wrong, on programs written the way real code (and a careless
//! scenario) is: threads the body never joins, model state read outside a step, threads that make
//! no step at all, a minimizer that runs out of budget, a replay string with steps left over, and
//! a variant with more threads than loom can run.

mod common;

use interleave::check::Outcome;
use interleave::replay::ReplayString;
use interleave::{check_variant, select, CheckOptions, ErrorKind, Expect, Strategy, VariantReport};

fn check_opts(variant: &str, opts: CheckOptions) -> VariantReport {
    let all = common::all();
    let sel = select(&all, &[format!("selftest/{variant}")]).expect("a selftest variant");
    check_variant(sel[0].0, sel[0].1, &opts).expect("a valid check")
}

fn check(variant: &str, strategy: Strategy) -> VariantReport {
    // shuttle's own DFS has no reduction and branches at every backend scheduling point: it needs
    // about 10,000 executions to meet a two-lock deadlock, joined or not (it is the baseline the
    // step-level dfs is measured against).
    let iterations = if strategy == Strategy::ShuttleDfs { 20_000 } else { 2_000 };
    check_opts(
        variant,
        CheckOptions { strategy, iterations, seed: 3, child_exe: Some(common::exe()), ..CheckOptions::default() },
    )
}

fn every_strategy() -> Vec<Strategy> {
    let mut v = vec![
        Strategy::DEFAULT,
        Strategy::Random,
        Strategy::Pct { depth: 3 },
        Strategy::Urw,
        Strategy::Dfs,
        Strategy::ShuttleDfs,
        Strategy::Bounded { max_preemptions: None },
    ];
    if cfg!(feature = "loom") {
        v.push(Strategy::Exhaustive);
    }
    v
}

#[test]
fn threads_the_body_never_joins_run_to_their_end_under_every_strategy() {
    let cases = [
        ("unjoined-deadlock", "deadlock", "t1 waits on lock(b) held by t2; t2 waits on lock(a) held by t1"),
        ("unjoined-panic", "panic", "a thread nobody joined panicked with v = 0"),
        ("unjoined-early-panic", "panic", "panicked before its first step"),
        ("unjoined-violation", "the flag is never set", "t1 set the flag"),
    ];
    for strategy in every_strategy() {
        for (variant, invariant, fragment) in cases {
            let r = check(variant, strategy);
            assert_eq!(r.outcome, Expect::Counterexample, "{variant} under {strategy}: {r:#?}");
            assert!(r.ok, "{variant} under {strategy}: {:?}", r.problem);
            assert_eq!(r.invariant.as_deref(), Some(invariant), "{variant} under {strategy}");
            let trace = r.trace.as_deref().unwrap();
            assert!(trace.contains(fragment), "{variant} under {strategy}:\n{trace}");
            // Its replay string replays, even with no step at all (the early panic).
            let replay = r.replay.as_deref().unwrap();
            let again = interleave::replay(&common::all(), replay).unwrap_or_else(|e| panic!("{replay}: {e}"));
            assert_eq!(again.rendered, trace, "{variant} under {strategy}");
        }
    }
}

#[test]
fn a_model_read_outside_a_step_is_a_scenario_error_not_a_verdict() {
    for strategy in [Strategy::DEFAULT, Strategy::Random, Strategy::Dfs] {
        let r = check("read-outside-step", strategy);
        assert_eq!(r.outcome, Outcome::ScenarioError, "{strategy}: {r:#?}");
        assert!(!r.ok, "{strategy}");
        let problem = r.problem.as_deref().unwrap();
        for fragment in ["broke the step contract", "main read m outside a step while t1 was still running"] {
            assert!(problem.contains(fragment), "{strategy}: {problem}");
        }
        assert!(r.trace.as_deref().unwrap().contains("step contract broken"), "{strategy}: {:?}", r.trace);
    }
}

#[test]
fn a_ready_that_reads_an_undeclared_object_is_a_scenario_error_not_a_verdict() {
    // The world looks again at a waiting step only after steps on its objects: a `ready` that
    // reads something else would go stale, and the search would rest on it.
    for strategy in [Strategy::DEFAULT, Strategy::Random, Strategy::Dfs, Strategy::Bounded { max_preemptions: None }] {
        let r = check("ready-reads-undeclared", strategy);
        assert_eq!(r.outcome, Outcome::ScenarioError, "{strategy}: {r:#?}");
        assert!(!r.ok, "{strategy}");
        let problem = r.problem.as_deref().unwrap();
        for fragment in
            ["t1's step on gate became possible", "no step on gate was made since", "declare every object it reads"]
        {
            assert!(problem.contains(fragment), "{strategy}: {problem}");
        }
        // Said with `Ctx::touch`, the same change between steps is looked at: a proof, no misuse.
        let r = check("touched-between-steps", strategy);
        assert_eq!(r.outcome, Expect::Holds, "{strategy}: {r:#?}");
        assert!(r.ok && r.witnesses.iter().all(|w| w.reached), "{strategy}: {r:#?}");
    }
}

#[test]
fn threads_that_make_no_step_are_reported_and_their_holds_is_not_ok() {
    for strategy in [Strategy::DEFAULT, Strategy::Random, Strategy::Dfs] {
        // Declared holds, found holds, its witness reached: still not ok, since t2 made no step.
        let r = check("half-modeled", strategy);
        assert_eq!(r.outcome, Expect::Holds, "{strategy}: {r:#?}");
        assert!(r.witnesses.iter().all(|w| w.reached), "{strategy}: {:?}", r.witnesses);
        assert!(!r.ok, "{strategy}: a holds whose thread made no step is not ok");
        assert_eq!(r.stepless_threads, ["t2"], "{strategy}");
        assert!(r.problem.as_deref().unwrap().contains("t2 made no model step in any execution"), "{r:#?}");
        let r = check("std-only", strategy);
        assert_eq!(r.outcome, Expect::Holds, "{strategy}: the harness cannot see a plain std mutex");
        assert!(!r.ok, "{strategy}");
        assert_eq!(r.stepless_threads, ["t1", "t2"], "{strategy}");
        assert!(r.problem.as_deref().unwrap().contains("t1, t2 made no model step in any execution"), "{r:#?}");
    }
}

#[test]
fn the_minimizer_says_when_it_did_not_finish() {
    let opts = |minimize_budget| CheckOptions {
        strategy: Strategy::Random,
        iterations: 2_000,
        seed: 3,
        minimize_budget,
        ..CheckOptions::default()
    };
    // With 1 execution it finds nothing and shows what the search found; with 4 it proves that
    // no schedule without a preemption fails and finds the bug at one, but cannot finish that
    // bound (a shorter one may exist); with 50,000 it finishes.
    let cases = [
        (1, "(not minimal: the minimizer's budget ran out first)", 0),
        (4, "1 preemption (fewest preemptions, not known shortest: the minimizer's budget ran out at bound 1)", 1),
    ];
    for (budget, says, lower) in cases {
        let r = check_opts("lost-update", opts(budget));
        assert_eq!((r.minimal, r.minimal_lower_bound), (Some(false), Some(lower)), "budget {budget}: {r:#?}");
        let headline = r.trace.as_deref().unwrap().lines().next().unwrap().to_string();
        assert!(headline.ends_with(says), "budget {budget}: {headline}");
    }
    let r = check_opts("lost-update", opts(50_000));
    assert_eq!(r.minimal, Some(true), "{r:#?}");
    assert_eq!(r.minimal_lower_bound, r.preemptions, "{r:#?}");
    assert!(!r.trace.as_deref().unwrap().contains("not minimal"), "{:?}", r.trace);
}

#[test]
fn a_replay_string_with_steps_left_over_is_refused() {
    let r = check("lost-update", Strategy::Dfs);
    let fit = ReplayString::parse(r.replay.as_deref().unwrap()).unwrap();
    let n = fit.order.len();
    for extra in [vec![1], vec![1, 2, 2], vec![35, 35]] {
        let mut longer = fit.clone();
        longer.order.extend(extra.iter().copied());
        let e = interleave::replay(&common::all(), &longer.encode()).expect_err("steps are left over");
        assert_eq!(e.kind, ErrorKind::ScheduleMismatch, "{e}");
        let want = format!("the execution ended after {n} steps; {} steps of the schedule are left", extra.len());
        assert!(e.message.contains(&want), "{e}");
    }
}

#[cfg(feature = "loom")]
#[test]
fn loom_leaves_out_a_variant_with_more_threads_than_it_runs() {
    let r = check("six-threads", Strategy::Exhaustive);
    assert_eq!(r.outcome, Expect::Holds, "{r:#?}");
    assert!(r.ok, "{:?}", r.problem);
    assert!(r.runs.iter().all(|run| run.family != "loom"), "{:?}", r.runs);
    assert!(r.notes.iter().any(|n| n.contains("loom skipped") && n.contains("6 threads")), "{:?}", r.notes);
}
