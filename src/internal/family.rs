//! # family — a scalable bug family for measuring search power
//!
//! Not an audited finding: a parametric program whose bug needs `depth` ordering constraints among
//! `threads` threads of `steps` steps each, so the benchmark can ask how each strategy scales with
//! the number of threads, the length of threads and the depth of the bug.
//!
//! Each thread makes `steps` steps. `depth + 1` of those steps, spread over the threads, are
//! *events* `e0, e1, …, e_depth` on one shared object, the stage counter: event `m` advances the
//! stage from `m` to `m + 1` if the stage is `m` when it runs, and does nothing otherwise. Every other
//! step is independent work on the thread's own object. The bug (`bug`) is the stage reaching
//! `depth + 1`: every event ran after the one before it, which is `depth` ordering constraints
//! (`e0` needs none: the stage starts at 0).
//!
//! Keeping it honest: where the events sit is drawn from the `layout` parameter by a fixed
//! pseudo-random generator, not placed to suit any strategy. Consecutive events are always on
//! different threads (so each constraint is a real cross-thread ordering) and the events of one
//! thread keep their chain order (so the bug is reachable). The same `layout` gives the same program
//! on every machine.
//!
//! The `holds` twin is the same program with one constraint made contradictory: the last event sits
//! on the first event's thread, *before* it. It can only advance the stage once `e0` has run, which
//! program order forbids, so no schedule breaks the invariant; its witness is the stage reaching
//! `depth` (every constraint but the contradictory one met), which shows the search reached the
//! window where the bug would be.

use interleave::{Ctx, Expect, Invariant, Param, Scenario, Source, Step, Trace, Variant, Witness};
use std::sync::{Arc, Mutex};

/// The invariant: the chain of events never completes in order.
pub static CHAIN_INCOMPLETE: Invariant = Invariant { name: "the chain of ordered events never completes" };

static PARAMS: [Param; 4] = [
    Param { name: "threads", default: 3, min: 2, max: 4, summary: "threads (loom runs at most four besides main)" },
    Param { name: "steps", default: 10, min: 6, max: 60, summary: "steps per thread" },
    Param { name: "depth", default: 3, min: 1, max: 5, summary: "ordering constraints the bug needs" },
    Param { name: "layout", default: 0, min: 0, max: 999_999, summary: "seed of where the events sit" },
];

/// splitmix64: a fixed generator, so a layout is the same everywhere.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where each event sits: `(thread, step)` for `e0 ..= e_depth`.
pub fn layout(threads: usize, steps: usize, depth: usize, seed: u64, twin: bool) -> Vec<(usize, usize)> {
    let mut rng = seed ^ ((threads as u64) << 48 | (steps as u64) << 32 | (depth as u64) << 16);
    let mut on = Vec::with_capacity(depth + 1);
    on.push((splitmix(&mut rng) % threads as u64) as usize);
    for _ in 1..=depth {
        let prev = on[on.len() - 1];
        on.push((prev + 1 + (splitmix(&mut rng) % (threads as u64 - 1)) as usize) % threads);
    }
    if twin {
        on[depth] = on[0];
    }
    let mut at = vec![(0, 0); depth + 1];
    for t in 0..threads {
        let mine: Vec<usize> = (0..=depth).filter(|&m| on[m] == t).collect();
        // Distinct steps for this thread's events (at most depth + 1 <= 6 <= steps of them).
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < mine.len() {
            let s = (splitmix(&mut rng) % steps as u64) as usize;
            if !picked.contains(&s) {
                picked.push(s);
            }
        }
        picked.sort_unstable();
        // Chain order, except the twin's last event, which goes first on its thread.
        let mut order = mine.clone();
        if twin && on[depth] == t {
            order.rotate_right(1);
        }
        for (m, s) in order.into_iter().zip(picked) {
            at[m] = (t, s);
        }
    }
    at
}

fn run(ctx: &Ctx, twin: bool) {
    let threads = ctx.param("threads");
    let steps = ctx.param("steps");
    let depth = ctx.param("depth");
    let events = layout(threads, steps, depth, ctx.param("layout") as u64, twin);
    let stage = Arc::new(Mutex::new(0usize));
    let shown: Vec<String> =
        events.iter().enumerate().map(|(m, (t, s))| format!("e{m} = t{} step {}", t + 1, s + 1)).collect();
    ctx.setup(format!("stage = 0; {}", shown.join(", ")));
    let watch = Arc::clone(&stage);
    ctx.always(&CHAIN_INCOMPLETE, move || {
        let s = *watch.lock().unwrap_or_else(|e| e.into_inner());
        if s > depth {
            Err(format!("e0 … e{depth} ran in order: the stage reached {s}"))
        } else {
            Ok(())
        }
    });
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (c, stage, events) = (ctx.clone(), Arc::clone(&stage), events.clone());
            ctx.spawn(&format!("t{}", t + 1), move || {
                for s in 0..steps {
                    match events.iter().position(|&e| e == (t, s)) {
                        Some(m) => {
                            let stage = Arc::clone(&stage);
                            c.step(
                                "stage",
                                || Ok(()),
                                move || {
                                    let mut st = stage.lock().unwrap_or_else(|e| e.into_inner());
                                    let result = if *st == m {
                                        *st = m + 1;
                                        format!("advanced to {}", m + 1)
                                    } else {
                                        format!("stage is {}", *st)
                                    };
                                    let call = format!("advance({m} → {})", m + 1);
                                    ((), Step::new(call, result))
                                },
                            );
                        }
                        None => c.step(&format!("local{}", t + 1), || Ok(()), || ((), Step::new("work()", "ok"))),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = *stage.lock().unwrap_or_else(|e| e.into_inner());
    ctx.end(format!("stage = {s}"));
}

/// Witness of the twin: the stage reached the last event's precondition (every constraint but the
/// contradictory one was met).
fn stage_reached_last(t: &Trace) -> bool {
    let last = t
        .steps()
        .filter(|s| s.object == "stage")
        .filter_map(|s| s.call.strip_prefix("advance(")?.split(' ').next()?.parse::<usize>().ok())
        .max();
    let Some(depth) = last else { return false };
    t.steps().any(|s| s.object == "stage" && s.result == format!("advanced to {depth}"))
}

/// The scenario.
pub static FAMILY: Scenario = Scenario {
    name: "family",
    summary: "a bug needing `depth` ordering constraints among `threads` threads of `steps` steps (benchmark)",
    source: Source { seed: "none (benchmark)", section: "the scalable family of the search benchmark" },
    variants: &[
        Variant {
            name: "bug",
            expect: Expect::Counterexample,
            summary: "events e0 … e_depth on the stage, consecutive ones on different threads",
            body: &|ctx| run(ctx, false),
            witnesses: &[],
            params: &PARAMS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "holds",
            expect: Expect::Holds,
            summary: "the same, with the last event before the first on the first's thread: unreachable",
            body: &|ctx| run(ctx, true),
            witnesses: &[Witness {
                name: "the stage reached the last event's precondition",
                reached: stage_reached_last,
            }],
            params: &PARAMS,
            ..Variant::DEFAULTS
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::layout;

    #[test]
    fn layouts_are_valid_and_fixed() {
        for seed in 0..200 {
            for threads in 2..=4 {
                for depth in 1..=5 {
                    let at = layout(threads, 6, depth, seed, false);
                    for m in 1..=depth {
                        assert_ne!(at[m].0, at[m - 1].0, "consecutive events on one thread");
                        for k in 0..m {
                            if at[k].0 == at[m].0 {
                                assert!(at[k].1 < at[m].1, "a thread's events out of chain order");
                            }
                        }
                    }
                    let twin = layout(threads, 6, depth, seed, true);
                    assert_eq!(twin[depth].0, twin[0].0);
                    assert!(twin[depth].1 < twin[0].1, "the twin's last event must precede the first");
                }
            }
        }
        assert_eq!(layout(3, 10, 3, 0, false), layout(3, 10, 3, 0, false));
    }
}
