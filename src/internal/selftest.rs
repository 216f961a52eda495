//! The harness's own test scenarios: small programs whose verdicts are known, so the harness's
//! reports of deadlocks, panics and livelocks can be checked under every backend. They are not
//! audited findings, so they are not in the catalog `interleave list` shows; the loom child
//! process and the tests reach them through [`crate::internal::INTERNAL`].

use interleave::sync::Mutex;
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// Both increments land.
pub static BOTH_COUNTED: Invariant = Invariant { name: "both increments counted" };

/// Two threads take two locks in opposite orders.
fn deadlock(ctx: &Ctx) {
    let a = Mutex::new(ctx, "a", ());
    let b = Mutex::new(ctx, "b", ());
    let (a2, b2) = (a.clone(), b.clone());
    let t1 = ctx.spawn("t1", move || {
        let _x = a.lock();
        let _y = b.lock();
    });
    let t2 = ctx.spawn("t2", move || {
        let _y = b2.lock();
        let _x = a2.lock();
    });
    t1.join();
    t2.join();
}

/// A thread panics after its first step.
fn panics(ctx: &Ctx) {
    let a = Mutex::new(ctx, "a", 0u32);
    let t = ctx.spawn("t1", move || {
        let v = *a.lock();
        if v == 0 {
            panic!("scenario code panicked with v = {v}");
        }
    });
    t.join();
}

/// A thread waits for a flag no one sets, polling under a lock.
fn livelock(ctx: &Ctx) {
    let flag = Mutex::new(ctx, "flag", false);
    let t = ctx.spawn("poller", move || loop {
        if *flag.lock() {
            break;
        }
    });
    t.join();
}

/// Two threads increment a counter under a lock.
fn counter(ctx: &Ctx, locked: bool) {
    let c = Mutex::new(ctx, "count", 0u32);
    let mut hs = Vec::new();
    for name in ["t1", "t2"] {
        let c = c.clone();
        let ctx2 = ctx.clone();
        hs.push(ctx.spawn(name, move || {
            if locked {
                let mut g = c.lock();
                ctx2.note(format!("read {}", *g));
                *g += 1;
            } else {
                let v = *c.lock();
                *c.lock() = v + 1; // read, unlock, then write: a lost update
            }
        }));
    }
    for h in hs {
        h.join();
    }
    let n = c.inspect(|v| *v);
    ctx.end(format!("count = {n}"));
    ctx.check(&BOTH_COUNTED, n == 2, || format!("count is {n}, not 2"));
}

/// Witness: a thread's increment saw the other's (the lost update's window, closed by the lock).
fn saw_other(t: &Trace) -> bool {
    t.rows.iter().any(|r| matches!(r, harness::Row::Note { text, .. } if text == "read 1"))
}

static WITNESS: &[Witness] = &[Witness { name: "the second increment read the first", reached: saw_other }];

/// The harness's self-test scenario.
pub static SELFTEST: Scenario = Scenario {
    name: "selftest",
    summary: "known programs for checking the harness itself",
    source: Source { seed: "-", section: "-" },
    variants: &[
        Variant {
            name: "deadlock",
            expect: Expect::Counterexample,
            summary: "lock order inversion",
            body: deadlock,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "panic",
            expect: Expect::Counterexample,
            summary: "scenario code panics",
            body: panics,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "livelock",
            expect: Expect::Counterexample,
            summary: "polls a flag no one sets",
            body: livelock,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "lost-update",
            expect: Expect::Counterexample,
            summary: "read and write under separate lock sections",
            body: |ctx| counter(ctx, false),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            // Declared `holds` but broken: the nightly's test hook (`--inject-broken`) uses it to
            // check that a failure is reported, kept as a fixture and reproducible.
            name: "broken-canary",
            expect: Expect::Holds,
            summary: "a lost update declared to hold",
            body: |ctx| counter(ctx, false),
            witnesses: WITNESS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "counter",
            expect: Expect::Holds,
            summary: "increment under one lock section",
            body: |ctx| counter(ctx, true),
            witnesses: WITNESS,
            ..Variant::DEFAULTS
        },
    ],
};
