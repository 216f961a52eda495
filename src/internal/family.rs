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
//!
//! Shapes the benchmark needs besides threads, length and depth (parameters, each drawn by the same
//! generator; defaults give the original family):
//! - `openers`: how many threads carry each event. With 1, one specific thread opens each window;
//!   with more, any one of several can (the sets of consecutive events are disjoint, so each
//!   constraint is still a cross-thread ordering). The twin keeps one carrier per event.
//! - `noise`: steps per thread on a second shared object every thread touches (`stats`): shared
//!   traffic that races but does not matter to the bug, so "touches a shared object" is not a hint.
//! - `sync`: 0, the stage is a plain shared variable (one step per event); 1, every event takes an
//!   `interleave::sync::Mutex` around its step (lock, step, unlock: blocking); 2, as 1, and a gate:
//!   one thread opens it (under a mutex, `notify_all` on a `Condvar`) at a drawn step, and a
//!   quarter of the other threads wait for it at a drawn step. The generator rejects a gate that
//!   would make the bug unreachable (the ordering graph of primary carriers, program order and the
//!   gate has a cycle) and moves it; after 100 tries the gate opens at its opener's first step.
//!
//! A thread needs a slot for each of its events, noise steps and gate operation; the generator
//! lowers `noise` until they fit in `steps`.

use interleave::sync::{Condvar, Mutex as SyncMutex};
use interleave::{Ctx, Expect, Invariant, Param, Scenario, Source, Step, Trace, Variant, Witness};
use std::sync::{Arc, Mutex};

/// The invariant: the chain of events never completes in order.
pub static CHAIN_INCOMPLETE: Invariant = Invariant { name: "the chain of ordered events never completes" };

static PARAMS: [Param; 7] = [
    Param { name: "threads", default: 3, min: 2, max: 100, summary: "threads (loom runs at most four besides main)" },
    Param { name: "steps", default: 10, min: 6, max: 400, summary: "steps per thread" },
    Param { name: "depth", default: 3, min: 1, max: 5, summary: "ordering constraints the bug needs" },
    Param { name: "layout", default: 0, min: 0, max: 999_999, summary: "seed of where the events sit" },
    Param {
        name: "openers",
        default: 1,
        min: 1,
        max: 50,
        summary: "threads that carry each event (any one may open it)",
    },
    Param {
        name: "noise",
        default: 0,
        min: 0,
        max: 50,
        summary: "steps per thread on a shared object the bug does not need",
    },
    Param {
        name: "sync",
        default: 0,
        min: 0,
        max: 2,
        summary: "0 plain variable, 1 a mutex per event, 2 and a condvar gate",
    },
];

/// splitmix64: a fixed generator, so a layout is the same everywhere.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where each event sits: `(thread, step)` for `e0 ..= e_depth` (one carrier each, no noise, no
/// gate: the original family).
pub fn layout(threads: usize, steps: usize, depth: usize, seed: u64, twin: bool) -> Vec<(usize, usize)> {
    let shape = Shape { threads, steps, depth, openers: 1, noise: 0, sync: 0 };
    plan(&shape, seed, twin).events.into_iter().map(|c| c[0]).collect()
}

/// The parameters of one instance.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Threads (besides main).
    pub threads: usize,
    /// Steps per thread.
    pub steps: usize,
    /// Ordering constraints.
    pub depth: usize,
    /// Carriers per event.
    pub openers: usize,
    /// Noise steps per thread.
    pub noise: usize,
    /// 0, 1 or 2 (see the module's doc).
    pub sync: usize,
}

/// What each thread does at each of its special steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Event `m` (try to advance the stage from `m`).
    Event(usize),
    /// A step on the shared `stats` object.
    Noise,
    /// Open the gate.
    Open,
    /// Wait for the gate.
    Wait,
}

/// An instance's program: per thread, its special steps `(step, op)` in step order; every other
/// step is local work.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Per event, its carriers `(thread, step)`, the primary first.
    pub events: Vec<Vec<(usize, usize)>>,
    /// Per thread, its special steps in order.
    pub ops: Vec<Vec<(usize, Op)>>,
}

/// Draws the program of `shape` from `seed`.
pub fn plan(shape: &Shape, seed: u64, twin: bool) -> Plan {
    let Shape { threads, steps, depth, .. } = *shape;
    let openers = if twin { 1 } else { shape.openers.clamp(1, (threads / 2).max(1)) };
    let mut rng = seed ^ ((threads as u64) << 48 | (steps as u64) << 32 | (depth as u64) << 16);
    // Carriers: the primary chain as in the original family, then further carriers disjoint from
    // the neighbouring events' sets.
    let mut on: Vec<Vec<usize>> = Vec::with_capacity(depth + 1);
    on.push(vec![(splitmix(&mut rng) % threads as u64) as usize]);
    for _ in 1..=depth {
        let prev = on[on.len() - 1][0];
        on.push(vec![(prev + 1 + (splitmix(&mut rng) % (threads as u64 - 1)) as usize) % threads]);
    }
    if twin {
        on[depth] = on[0].clone();
    }
    if openers > 1 {
        for m in 0..=depth {
            let mut tries = 0;
            while on[m].len() < openers && tries < 1000 {
                tries += 1;
                let t = (splitmix(&mut rng) % threads as u64) as usize;
                let clash = on[m].contains(&t)
                    || (m > 0 && on[m - 1].contains(&t))
                    || (m < depth && on[m + 1].first() == Some(&t));
                if !clash {
                    on[m].push(t);
                }
            }
        }
    }
    let gate = shape.sync == 2 && threads > 1;
    let opener = gate.then(|| (splitmix(&mut rng) % threads as u64) as usize);
    let waiters: Vec<usize> = match opener {
        Some(g) => {
            let mut w: Vec<usize> = Vec::new();
            let want = ((threads - 1) / 4).max(1);
            while w.len() < want {
                let t = (splitmix(&mut rng) % threads as u64) as usize;
                if t != g && !w.contains(&t) {
                    w.push(t);
                }
            }
            w.sort_unstable();
            w
        }
        None => Vec::new(),
    };
    // Per thread, the kinds of its special steps, events in chain order (the twin's last event
    // first on its thread), the rest shuffled among them.
    let mut ops: Vec<Vec<(usize, Op)>> = Vec::with_capacity(threads);
    for t in 0..threads {
        let mut mine: Vec<usize> = (0..=depth).filter(|&m| on[m].contains(&t)).collect();
        if twin && on[depth][0] == t {
            mine.rotate_right(1);
        }
        let gate_ops = usize::from(opener == Some(t)) + usize::from(waiters.contains(&t));
        let noise = shape.noise.min(steps.saturating_sub(mine.len() + gate_ops));
        let mine_len = mine.len();
        let mut kinds: Vec<Option<Op>> = vec![None; mine_len];
        kinds.extend(std::iter::repeat_n(Some(Op::Noise), noise));
        if opener == Some(t) {
            kinds.push(Some(Op::Open));
        }
        if waiters.contains(&t) {
            kinds.push(Some(Op::Wait));
        }
        // (No draws when a thread has only events: the original family's layouts stay as they were.)
        let shuffle = kinds.len() > mine_len;
        for i in (1..kinds.len()).rev().filter(|_| shuffle) {
            let j = (splitmix(&mut rng) % (i as u64 + 1)) as usize;
            kinds.swap(i, j);
        }
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < kinds.len() {
            let s = (splitmix(&mut rng) % steps as u64) as usize;
            if !picked.contains(&s) {
                picked.push(s);
            }
        }
        picked.sort_unstable();
        let mut events = mine.into_iter();
        let row: Vec<(usize, Op)> = picked
            .into_iter()
            .zip(kinds)
            .map(|(s, k)| (s, k.unwrap_or_else(|| Op::Event(events.next().unwrap_or(0)))))
            .collect();
        ops.push(row);
    }
    if let Some(g) = opener {
        let mut tries = 0;
        while !reachable(&on, &ops, depth) {
            tries += 1;
            // Move the open to another of the opener's slots (after 100 tries, its first).
            let row = &mut ops[g];
            let at = row.iter().position(|(_, o)| *o == Op::Open).unwrap_or(0);
            let to = if tries >= 100 { 0 } else { (splitmix(&mut rng) % row.len() as u64) as usize };
            let op = row.remove(at).1;
            let slots: Vec<usize> = row.iter().map(|(s, _)| *s).collect();
            let kinds: Vec<Op> = row.iter().map(|(_, o)| *o).collect();
            let mut kinds2 = kinds.clone();
            kinds2.insert(to.min(kinds.len()), op);
            let mut slots2 = slots;
            slots2.push(at_free_slot(&slots2, steps));
            slots2.sort_unstable();
            *row = slots2.into_iter().zip(kinds2).collect();
            if tries >= 100 {
                break;
            }
        }
    }
    let mut events: Vec<Vec<(usize, usize)>> = vec![Vec::new(); depth + 1];
    for (m, carriers) in on.iter().enumerate() {
        for &t in carriers {
            if let Some(&(s, _)) = ops[t].iter().find(|(_, o)| *o == Op::Event(m)) {
                events[m].push((t, s));
            }
        }
    }
    Plan { events, ops }
}

/// A step index in `0..steps` not in `taken` (there is one: the slots fit).
fn at_free_slot(taken: &[usize], steps: usize) -> usize {
    (0..steps).find(|s| !taken.contains(s)).unwrap_or(0)
}

/// Whether `plan`'s chain can complete (for tests).
pub fn reachable_plan(plan: &Plan, depth: usize) -> bool {
    let on: Vec<Vec<usize>> = plan.events.iter().map(|c| c.iter().map(|(t, _)| *t).collect()).collect();
    reachable(&on, &plan.ops, depth)
}

/// Whether the primary carriers can run the chain in order given program order and the gate: the
/// graph of those constraints is acyclic.
fn reachable(on: &[Vec<usize>], ops: &[Vec<(usize, Op)>], depth: usize) -> bool {
    // Nodes: every special step, as (thread, index in its row).
    let id = |t: usize, i: usize| ops[..t].iter().map(Vec::len).sum::<usize>() + i;
    let n: usize = ops.iter().map(Vec::len).sum();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (t, row) in ops.iter().enumerate() {
        for i in 1..row.len() {
            edges[id(t, i - 1)].push(id(t, i));
        }
    }
    let find = |t: usize, op: Op| ops[t].iter().position(|(_, o)| *o == op).map(|i| id(t, i));
    for m in 1..=depth {
        if let (Some(a), Some(b)) = (find(on[m - 1][0], Op::Event(m - 1)), find(on[m][0], Op::Event(m))) {
            edges[a].push(b);
        }
    }
    let open = (0..ops.len()).find_map(|t| find(t, Op::Open));
    if let Some(o) = open {
        for t in 0..ops.len() {
            if let Some(w) = find(t, Op::Wait) {
                edges[o].push(w);
            }
        }
    }
    let mut indeg = vec![0usize; n];
    for e in &edges {
        for &b in e {
            indeg[b] += 1;
        }
    }
    let mut queue: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut seen = 0;
    while let Some(v) = queue.pop() {
        seen += 1;
        for &b in &edges[v] {
            indeg[b] -= 1;
            if indeg[b] == 0 {
                queue.push(b);
            }
        }
    }
    seen == n
}

fn shape(ctx: &Ctx) -> Shape {
    Shape {
        threads: ctx.param("threads"),
        steps: ctx.param("steps"),
        depth: ctx.param("depth"),
        openers: ctx.param("openers"),
        noise: ctx.param("noise"),
        sync: ctx.param("sync"),
    }
}

fn run(ctx: &Ctx, twin: bool) {
    let shape = shape(ctx);
    let (threads, steps, depth) = (shape.threads, shape.steps, shape.depth);
    let plan = plan(&shape, ctx.param("layout") as u64, twin);
    let stage = Arc::new(Mutex::new(0usize));
    let shown: Vec<String> = plan
        .events
        .iter()
        .enumerate()
        .map(|(m, c)| {
            let at: Vec<String> = c.iter().map(|(t, s)| format!("t{} step {}", t + 1, s + 1)).collect();
            format!("e{m} = {}", at.join(" or "))
        })
        .collect();
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
    let lock = Arc::new(SyncMutex::named("stage-lock", ()));
    let gate = Arc::new((SyncMutex::named("gate", false), Condvar::named("gate-cv")));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (c, stage, ops) = (ctx.clone(), Arc::clone(&stage), plan.ops[t].clone());
            let (lock, gate) = (Arc::clone(&lock), Arc::clone(&gate));
            let sync = shape.sync;
            ctx.spawn(&format!("t{}", t + 1), move || {
                let mut next = ops.iter().peekable();
                for s in 0..steps {
                    let op = match next.peek() {
                        Some(&&(at, op)) if at == s => {
                            next.next();
                            Some(op)
                        }
                        _ => None,
                    };
                    match op {
                        Some(Op::Event(m)) => {
                            let guard = (sync > 0).then(|| lock.lock().unwrap_or_else(|e| e.into_inner()));
                            advance(&c, &stage, m);
                            drop(guard);
                        }
                        Some(Op::Noise) => c.step("stats", || Ok(()), || ((), Step::new("count()", "ok"))),
                        Some(Op::Open) => {
                            let (m, cv) = &*gate;
                            let mut open = m.lock().unwrap_or_else(|e| e.into_inner());
                            *open = true;
                            cv.notify_all();
                            drop(open);
                        }
                        Some(Op::Wait) => {
                            let (m, cv) = &*gate;
                            let open = m.lock().unwrap_or_else(|e| e.into_inner());
                            let open = cv.wait_while(open, |o| !*o).unwrap_or_else(|e| e.into_inner());
                            drop(open);
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

/// Event `m`: advances the stage from `m` to `m + 1` if it is `m`.
fn advance(c: &Ctx, stage: &Arc<Mutex<usize>>, m: usize) {
    let stage = Arc::clone(stage);
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

    #[test]
    fn shaped_plans_are_reachable_and_fit() {
        use super::{plan, reachable_plan, Op, Shape};
        for seed in 0..60 {
            for &(threads, steps) in &[(2, 8), (4, 12), (10, 10), (50, 8), (100, 8), (4, 250)] {
                for depth in 1..=5 {
                    for sync in 0..=2 {
                        let shape = Shape { threads, steps, depth, openers: 3, noise: 2, sync };
                        let p = plan(&shape, seed, false);
                        assert!(reachable_plan(&p, depth), "{shape:?} seed {seed}: unreachable");
                        for row in &p.ops {
                            assert!(row.windows(2).all(|w| w[0].0 < w[1].0) && row.iter().all(|(s, _)| *s < steps));
                        }
                        for m in 1..=depth {
                            for a in &p.events[m] {
                                assert!(
                                    p.events[m - 1].iter().all(|b| b.0 != a.0),
                                    "consecutive events share a thread"
                                );
                            }
                        }
                        let gates = p.ops.iter().flatten().filter(|(_, o)| *o == Op::Open).count();
                        assert_eq!(gates, usize::from(sync == 2));
                    }
                }
            }
        }
    }
}
