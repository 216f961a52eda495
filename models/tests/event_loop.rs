//! The event loop model: one task at a time, switches only at `await`, FIFO continuation queue,
//! quiescence. Checked exhaustively at step granularity on tiny programs whose outcomes are known.

use harness::{check_variant, CheckOptions, Ctx, Expect, Invariant, Scenario, Source, Strategy, Variant};
use interleave_models::event_loop::EventLoop;

static ATOMIC: Invariant = Invariant { name: "synchronous code is atomic" };
static ORDER: Invariant = Invariant { name: "awaits interleave" };

/// Two tasks each increment a counter with a read and a write. Without an await in between, no
/// other task can run between them (a holds); with one, the lost update appears.
fn counter(_: &Ctx, await_between: bool) {
    let lp = EventLoop::new(0u32);
    let mut hs = Vec::new();
    for name in ["a", "b"] {
        hs.push(lp.spawn(name, move |t| {
            let v = t.with(|n| *n);
            if await_between {
                t.await_("io");
            }
            t.with(|n| *n = v + 1);
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    lp.at_quiescence(&ATOMIC, |n| if *n == 2 { Ok(()) } else { Err(format!("counter is {n}")) });
}

/// A task that awaits lets another run: some execution has b's steps between a's await and
/// a's resume (reported through a deliberately violated invariant).
fn interleaves(_: &Ctx) {
    let lp = EventLoop::new(Vec::<&'static str>::new());
    let a = lp.spawn("a", |t| {
        t.with(|v| v.push("a1"));
        t.await_("io");
        t.with(|v| v.push("a2"));
    });
    let b = lp.spawn("b", |t| t.with(|v| v.push("b")));
    a.join().unwrap();
    b.join().unwrap();
    lp.at_quiescence(&ORDER, |v| {
        if v.as_slice() == ["a1", "b", "a2"] {
            Err("b ran during a's await".into())
        } else {
            Ok(())
        }
    });
}

/// Witness: one task's event arrived while the other task held the loop (between its `runs` and
/// its `returns`), so the two really competed for it.
fn arrived_while_other_ran(t: &harness::Trace) -> bool {
    let steps: Vec<_> = t.steps().collect();
    steps.iter().enumerate().any(|(i, s)| {
        s.call == "runs"
            && steps[i..]
                .iter()
                .take_while(|x| !(x.thread == s.thread && x.call == "returns"))
                .any(|x| x.thread != s.thread && x.call == "event arrives")
    })
}

static SCENARIO: Scenario = Scenario {
    name: "event-loop",
    summary: "event loop model",
    source: Source { seed: "003_045e2fc5e094a895.txt", section: "Question 1" },
    variants: &[
        Variant {
            name: "sync",
            expect: Expect::Holds,
            summary: "",
            body: &|c| counter(c, false),
            witnesses: &[harness::Witness {
                name: "an event arrived while the other task ran",
                reached: arrived_while_other_ran,
            }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "await",
            expect: Expect::Counterexample,
            summary: "",
            body: &|c| counter(c, true),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "interleaves",
            expect: Expect::Counterexample,
            summary: "",
            body: &interleaves,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
    ],
};

#[test]
fn one_task_at_a_time_and_switches_only_at_await() {
    let opts = CheckOptions { strategy: Strategy::DEFAULT, ..CheckOptions::default() };
    for v in SCENARIO.variants {
        let r = check_variant(&SCENARIO, v, &opts).unwrap();
        assert!(r.ok, "{}: {r:#?}", v.name);
        if v.expect == Expect::Holds {
            assert!(r.exhaustive, "{}: {:?}", v.name, r.runs);
        }
    }
}
