//! The harness's own test scenarios: small programs whose verdicts are known, so the harness's
//! reports of deadlocks, panics, livelocks, data races and broken step contracts can be checked
//! under every backend. They are not audited findings, so they are not in the catalog
//! `interleave list` shows; the loom child process and the tests reach them through
//! [`crate::internal::INTERNAL`]. They are written the way a user writes scenarios: with
//! `interleave::thread` and `interleave::sync`, shaped like `std`'s.

use interleave::sync::{Arc, Mutex};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Step, Trace, Variant, Witness};

/// Both increments land.
pub static BOTH_COUNTED: Invariant = Invariant { name: "both increments counted" };

/// Two threads take two locks in opposite orders.
fn deadlock(_: &Ctx) {
    let a = Arc::new(Mutex::named("a", ()));
    let b = Arc::new(Mutex::named("b", ()));
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    let t1 = thread::Builder::new().name("t1".into()).spawn(move || {
        let _x = a.lock().unwrap();
        let _y = b.lock().unwrap();
    });
    let t2 = thread::Builder::new().name("t2".into()).spawn(move || {
        let _y = b2.lock().unwrap();
        let _x = a2.lock().unwrap();
    });
    t1.unwrap().join().unwrap();
    t2.unwrap().join().unwrap();
}

/// A thread panics after its first step.
fn panics(ctx: &Ctx) {
    let a = Mutex::named("a", 0u32);
    let t = ctx.spawn("t1", move || {
        let v = *a.lock().unwrap();
        if v == 0 {
            panic!("scenario code panicked with v = {v}");
        }
    });
    t.join().unwrap();
}

/// A thread waits for a flag no one sets, polling under a lock.
fn livelock(ctx: &Ctx) {
    let flag = Mutex::named("flag", false);
    let t = ctx.spawn("poller", move || loop {
        if *flag.lock().unwrap() {
            break;
        }
    });
    t.join().unwrap();
}

/// Two threads increment a counter under a lock.
fn counter(ctx: &Ctx, locked: bool) {
    let c = Arc::new(Mutex::named("count", 0u32));
    let mut hs = Vec::new();
    for name in ["t1", "t2"] {
        let c = Arc::clone(&c);
        let ctx2 = ctx.clone();
        hs.push(ctx.spawn(name, move || {
            if locked {
                let mut g = c.lock().unwrap();
                ctx2.note(format!("read {}", *g));
                *g += 1;
            } else {
                let v = *c.lock().unwrap();
                *c.lock().unwrap() = v + 1; // read, unlock, then write: a lost update
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let n = c.inspect(|v| *v);
    ctx.end(format!("count = {n}"));
    ctx.check(&BOTH_COUNTED, n == 2, || format!("count is {n}, not 2"));
}

/// A flag that must never be set.
pub static NEVER_SET: Invariant = Invariant { name: "the flag is never set" };

/// Threads the body never joins: `deadlock` ones take two locks in opposite orders, a `panic`
/// one panics after a step, a `violation` one breaks an `always` invariant, and an `early-panic`
/// one panics before any step. The execution must still run them to their end.
fn unjoined(ctx: &Ctx, what: &str) {
    match what {
        "deadlock" => {
            let a = Arc::new(Mutex::named("a", ()));
            let b = Arc::new(Mutex::named("b", ()));
            let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
            ctx.spawn("t1", move || {
                let _x = a.lock().unwrap();
                let _y = b.lock().unwrap();
            });
            ctx.spawn("t2", move || {
                let _y = b2.lock().unwrap();
                let _x = a2.lock().unwrap();
            });
        }
        "panic" => {
            let a = Mutex::named("a", 0u32);
            ctx.spawn("t1", move || {
                let v = *a.lock().unwrap();
                panic!("a thread nobody joined panicked with v = {v}");
            });
        }
        "early-panic" => {
            ctx.spawn("t1", || panic!("a thread nobody joined panicked before its first step"));
        }
        _ => {
            let flag = Arc::new(Mutex::named("flag", false));
            let watched = Arc::clone(&flag);
            ctx.always(
                &NEVER_SET,
                move || if watched.inspect(|f| *f) { Err("t1 set the flag".into()) } else { Ok(()) },
            );
            ctx.spawn("t1", move || *flag.lock().unwrap() = true);
        }
    }
}

/// Reads a mutex's state outside a step while a thread it spawned still runs.
fn read_outside_step(ctx: &Ctx) {
    let m = Arc::new(Mutex::named("m", 0u32));
    let m2 = Arc::clone(&m);
    let t = ctx.spawn("t1", move || {
        *m2.lock().unwrap() += 1;
        *m2.lock().unwrap() += 1;
    });
    let seen = m.inspect(|v| *v); // the misuse: t1 may be anywhere
    ctx.note(format!("saw {seen}"));
    t.join().unwrap();
}

/// t1's step on `gate` waits until a flag is set, but the flag is not `gate`'s state. Without
/// `says_so`, t2 sets it in a step on `other` (the step is declared on what it does not read: a
/// misuse), then makes a step on `gate`. With it, t2 sets the flag between steps and says so
/// (`Ctx::touch("gate")`), as code that holds the gate alone may: no misuse, and t1 passes.
fn flag_gate(ctx: &Ctx, says_so: bool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let (seen, set) = (std::sync::Arc::clone(&flag), std::sync::Arc::clone(&flag));
    let c1 = ctx.clone();
    let t1 = ctx.spawn("t1", move || {
        c1.step(
            "gate",
            move || if seen.load(Ordering::SeqCst) { Ok(()) } else { Err("the flag".into()) },
            || ((), Step::new("pass(gate)", "ok")),
        )
    });
    let c2 = ctx.clone();
    let t2 = ctx.spawn("t2", move || {
        if says_so {
            c2.step("other", || Ok(()), || ((), Step::new("work()", "ok")));
            set.store(true, Ordering::SeqCst);
            c2.touch("gate");
            c2.step("other", || Ok(()), || ((), Step::new("work()", "ok")));
        } else {
            c2.step("other", || Ok(()), move || (set.store(true, Ordering::SeqCst), Step::new("set(flag)", "ok")));
            // A later step on `gate` would let t1 pass, late: nothing deadlocks, so only looking
            // at every waiting step after set(flag) finds the misuse.
            c2.step("gate", || Ok(()), || ((), Step::new("poke(gate)", "ok")));
        }
    });
    t1.join().unwrap();
    t2.join().unwrap();
}

fn t1_passed(t: &Trace) -> bool {
    t.find_step("t1", "pass(gate)").is_some()
}

/// Two threads share a plain `std` mutex, outside every model: a lost update the harness cannot
/// interleave (each thread runs to its end in one go).
fn std_only(ctx: &Ctx) {
    let count = std::sync::Arc::new(std::sync::Mutex::new(0u32));
    let mut hs = Vec::new();
    for name in ["t1", "t2"] {
        let c = std::sync::Arc::clone(&count);
        hs.push(ctx.spawn(name, move || {
            let v = *c.lock().unwrap_or_else(|e| e.into_inner());
            *c.lock().unwrap_or_else(|e| e.into_inner()) = v + 1;
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let n = *count.lock().unwrap_or_else(|e| e.into_inner());
    ctx.check(&BOTH_COUNTED, n == 2, || format!("count is {n}, not 2"));
}

/// One thread counts under a modeled mutex, the other in a plain `std` counter the harness
/// cannot see: a holds that rests on half the program.
fn half_modeled(ctx: &Ctx) {
    let m = Arc::new(Mutex::named("count", 0u32));
    let plain = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (m2, p2) = (Arc::clone(&m), std::sync::Arc::clone(&plain));
    let t1 = ctx.spawn("t1", move || *m2.lock().unwrap() += 1);
    let t2 = ctx.spawn("t2", move || p2.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    t1.join().unwrap();
    t2.join().unwrap();
    let n = m.inspect(|v| *v) + plain.load(std::sync::atomic::Ordering::SeqCst);
    ctx.check(&BOTH_COUNTED, n == 2, || format!("count is {n}, not 2"));
}

/// Witness of `half-modeled`: t1 took the lock.
fn t1_locked(t: &Trace) -> bool {
    t.find_step("t1", "lock(").is_some()
}

/// Five threads besides the main one, each with a step of its own: one more than loom runs.
fn six_threads(_: &Ctx) {
    let hs: Vec<_> = (1..=5)
        .map(|i| {
            let m = Mutex::named(&format!("m{i}"), ());
            thread::Builder::new().name(format!("t{i}")).spawn(move || drop(m.lock())).unwrap()
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

/// Witness of `six-threads`: every thread made its step.
fn all_six_stepped(t: &Trace) -> bool {
    (1..=5).all(|i| t.find_step(&format!("t{i}"), "lock(").is_some())
}

/// Witness: a thread's increment saw the other's (the lost update's window, closed by the lock).
fn saw_other(t: &Trace) -> bool {
    t.rows.iter().any(|r| matches!(r, interleave::Row::Note { text, .. } if text == "read 1"))
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
            body: &deadlock,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "panic",
            expect: Expect::Counterexample,
            summary: "scenario code panics",
            body: &panics,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "livelock",
            expect: Expect::Counterexample,
            summary: "polls a flag no one sets",
            body: &livelock,
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "lost-update",
            expect: Expect::Counterexample,
            summary: "read and write under separate lock sections",
            body: &|ctx| counter(ctx, false),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            // Declared `holds` but broken: the nightly's test hook (`--inject-broken`) uses it to
            // check that a failure is reported, kept as a fixture and reproducible.
            name: "broken-canary",
            expect: Expect::Holds,
            summary: "a lost update declared to hold",
            body: &|ctx| counter(ctx, false),
            witnesses: WITNESS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "unjoined-deadlock",
            expect: Expect::Counterexample,
            summary: "lock order inversion in threads the body never joins",
            body: &|ctx| unjoined(ctx, "deadlock"),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "unjoined-panic",
            expect: Expect::Counterexample,
            summary: "a thread the body never joins panics after a step",
            body: &|ctx| unjoined(ctx, "panic"),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "unjoined-early-panic",
            expect: Expect::Counterexample,
            summary: "a thread the body never joins panics before any step",
            body: &|ctx| unjoined(ctx, "early-panic"),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "unjoined-violation",
            expect: Expect::Counterexample,
            summary: "a thread the body never joins breaks an always invariant",
            body: &|ctx| unjoined(ctx, "violation"),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "read-outside-step",
            expect: Expect::Holds,
            summary: "the body reads a mutex's state while a thread it spawned runs (a misuse)",
            body: &read_outside_step,
            witnesses: WITNESS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "ready-reads-undeclared",
            expect: Expect::Holds,
            summary: "a step's readiness reads a flag that a step on another object sets (a misuse)",
            body: &|ctx| flag_gate(ctx, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "touched-between-steps",
            expect: Expect::Holds,
            summary: "as ready-reads-undeclared, with the flag set between steps by code that says so",
            body: &|ctx| flag_gate(ctx, true),
            witnesses: &[Witness { name: "t1 passed the gate", reached: t1_passed }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "std-only",
            expect: Expect::Counterexample,
            summary: "a lost update on a plain std mutex, outside every model (no steps)",
            body: &std_only,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "half-modeled",
            expect: Expect::Holds,
            summary: "one thread counts under a modeled mutex, the other in a plain std atomic",
            body: &half_modeled,
            witnesses: &[Witness { name: "t1 took the lock", reached: t1_locked }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "six-threads",
            expect: Expect::Holds,
            summary: "five threads besides main, one more than loom runs",
            body: &six_threads,
            witnesses: &[Witness { name: "every thread made its step", reached: all_six_stepped }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "counter",
            expect: Expect::Holds,
            summary: "increment under one lock section",
            body: &|ctx| counter(ctx, true),
            witnesses: WITNESS,
            ..Variant::DEFAULTS
        },
    ],
};
