//! # drain-starvation — cross-chat deferred queue
//!
//! Source: seed `003_045e2fc5e094a895.txt`, "Finding DQ-1 (Medium): Cross-chat deferred queue
//! starvation/liveness gap", and the same audit's "Question 1" and "Question 3".
//!
//! A bot runs on one JavaScript event loop: no preemption between `await`s. Each chat has a
//! deferred queue; `drainingChats` guards against draining one chat twice; `drainDeferredQueue`
//! returns at once if any driver is running. A voice message that arrives while a driver runs is
//! enqueued; the text and voice handlers drain **their own chat** in `finally`.
//!
//! The failing interleaving of the code as audited (`buggy`):
//! 1. chat A's text handler starts the driver and awaits its (long) run;
//! 2. a voice message for chat B arrives: a driver is running, so it is enqueued; the handler's
//!    `finally` drains chat B, which returns at once because A's driver runs;
//! 3. A's run resolves; A's handler stops processing and drains chat A only (empty);
//! 4. no further event arrives: the loop is quiescent with B's message still queued, forever.
//!
//! `fixed` is the audit's recommendation: a global idle drain, run from the one completion point
//! of every handler, that rescans every queued chat and drains them one by one, guarded by a
//! process-wide "sweep active" flag beside the per-chat guard.
//!
//! The audit's negative conclusions are modeled too. Two drains of one chat, started back to back
//! (`guard-sync`), cannot both pass the `drainingChats` guard, because check and add are
//! synchronous: the second sees the first's mark. With an `await` between the check and the add
//! (`guard-await`) both pass, and two drivers run at once.
//!
//! Liveness (every queue empty) is checked at quiescence; safety (at most one driver at a time, no
//! message processed twice) after every step.

use interleave::event_loop::{EventLoop, Task};
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Liveness: at quiescence every deferred queue is empty.
pub static QUEUES_DRAINED: Invariant = Invariant { name: "every queued message is processed once the loop is idle" };
/// Safety: at most one driver runs at a time.
pub static ONE_DRIVER: Invariant = Invariant { name: "at most one driver runs at a time" };
/// Safety: no message is processed twice.
pub static ONCE: Invariant = Invariant { name: "no message is processed twice" };

/// The module state of `deferred-queue.ts` and the session's `isRunning`.
#[derive(Default)]
struct Js {
    queues: BTreeMap<char, VecDeque<String>>,
    draining_chats: BTreeSet<char>,
    /// Drivers running now (`session.isRunning` is `drivers > 0`).
    drivers: u32,
    processed: Vec<String>,
    sweep_active: bool,
    /// Chat A's text handler has started.
    a_started: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// Per-chat drain from each handler's `finally` (as audited).
    OwnChat,
    /// The audit's fix: a global idle sweep from every completion point.
    GlobalSweep,
}

/// `runMessageWithDriver`: start processing, await the driver's run, stop processing.
fn run_driver(t: &Task<Js>, msg: &str) {
    t.with(|js| js.drivers += 1);
    t.ctx().note(format!("startProcessing({msg})"));
    t.await_(&format!("driver.run({msg})"));
    t.with(|js| {
        js.drivers -= 1;
        js.processed.push(msg.to_string());
    });
    t.ctx().note(format!("processed {msg}"));
}

/// `drainDeferredQueue(chat)`; with `await_in_guard`, an `await` sits between the guard's check
/// and its add (the `guard-await` variant).
fn drain(t: &Task<Js>, chat: char, await_in_guard: bool) {
    let bail = t.with(|js| js.draining_chats.contains(&chat) || js.drivers > 0);
    if bail {
        t.ctx().note(format!("drain({chat}): busy → return"));
        return;
    }
    if await_in_guard {
        t.await_("getSession()"); // the window the audit's Question 1 rules out
    }
    t.with(|js| js.draining_chats.insert(chat)); // synchronous with the check above
    while let Some(msg) = t.with(|js| js.queues.get_mut(&chat).and_then(|q| q.pop_front())) {
        run_driver(t, &msg);
    }
    t.with(|js| js.draining_chats.remove(&chat));
}

/// The fix's global idle sweep: drain every queued chat, one by one, rescanning after each.
fn sweep(t: &Task<Js>) {
    let bail = t.with(|js| js.sweep_active || js.drivers > 0);
    if bail {
        t.ctx().note("sweep: busy → return");
        return;
    }
    t.with(|js| js.sweep_active = true);
    while let Some(chat) = t.with(|js| js.queues.iter().find(|(_, q)| !q.is_empty()).map(|(c, _)| *c)) {
        t.ctx().note(format!("sweep: drain({chat})"));
        drain(t, chat, false);
        if t.with(|js| js.queues.get(&chat).is_some_and(|q| !q.is_empty())) {
            break; // the chat could not be drained now; the next completion sweeps again
        }
    }
    t.with(|js| js.sweep_active = false);
}

/// The completion point of every handler.
fn finally(t: &Task<Js>, chat: char, how: Drain) {
    match how {
        Drain::OwnChat => drain(t, chat, false),
        Drain::GlobalSweep => sweep(t),
    }
}

fn safety(ctx: &Ctx, lp: &EventLoop<Js>) {
    let l = lp.clone();
    ctx.always(&ONE_DRIVER, move || {
        let n = l.inspect(|js| js.drivers);
        if n > 1 {
            Err(format!("{n} drivers are running"))
        } else {
            Ok(())
        }
    });
    let l = lp.clone();
    ctx.always(&ONCE, move || {
        l.inspect(|js| {
            let mut seen = BTreeSet::new();
            match js.processed.iter().find(|m| !seen.insert(m.as_str())) {
                Some(m) => Err(format!("{m} was processed twice")),
                None => Ok(()),
            }
        })
    });
}

fn liveness(lp: &EventLoop<Js>) {
    lp.at_quiescence(&QUEUES_DRAINED, |js| {
        let left: Vec<String> =
            js.queues.iter().flat_map(|(c, q)| q.iter().map(move |m| format!("{m} (chat {c})"))).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("the loop is idle and no event is pending, but {} stays queued", left.join(", ")))
        }
    });
    let end = lp.inspect(|js| {
        let queued: Vec<String> =
            js.queues.iter().filter(|(_, q)| !q.is_empty()).map(|(c, q)| format!("chat {c}: {q:?}")).collect();
        format!(
            "processed {:?}; queued {}",
            js.processed,
            if queued.is_empty() { "nothing".into() } else { queued.join(", ") }
        )
    });
    lp.ctx().end(end);
}

/// DQ-1: chat A's long text run, and a voice message for chat B.
fn starvation(ctx: &Ctx, how: Drain) {
    let lp = EventLoop::new(Js::default());
    safety(ctx, &lp);
    let text = lp.spawn("text(A)", move |t| {
        t.with(|js| js.a_started = true);
        run_driver(t, "text-A");
        finally(t, 'A', how);
    });
    // "Chat A runs a long task; a voice message for chat B arrives": the voice event comes once
    // A's run has started (while it runs, or after it has finished).
    let voice = lp.spawn_when(
        "voice(B)",
        "chat A's run to start",
        |js: &Js| js.a_started,
        move |t| {
            if t.with(|js| js.drivers > 0) {
                t.with(|js| js.queues.entry('B').or_default().push_back("voice-B".into()));
                t.ctx().note("driver running → enqueue voice-B");
            } else {
                run_driver(t, "voice-B");
            }
            finally(t, 'B', how);
        },
    );
    text.join().unwrap();
    voice.join().unwrap();
    liveness(&lp);
}

/// Questions 1 and 3: two drains of one chat with two messages queued.
fn reentrancy(ctx: &Ctx, await_in_guard: bool) {
    let mut js = Js::default();
    js.queues.insert('A', VecDeque::from(["m1".to_string(), "m2".to_string()]));
    let lp = EventLoop::new(js);
    ctx.setup("chat A's deferred queue holds m1, m2");
    safety(ctx, &lp);
    let first = lp.spawn("text(A)", move |t| drain(t, 'A', await_in_guard));
    let second = lp.spawn("voice(A)", move |t| drain(t, 'A', await_in_guard));
    first.join().unwrap();
    second.join().unwrap();
    liveness(&lp);
}

/// Witness: a message was queued while a driver ran (the starvation window).
fn queued_while_running(t: &Trace) -> bool {
    t.rows
        .iter()
        .any(|r| matches!(r, interleave::Row::Note { text, .. } if text.starts_with("driver running → enqueue")))
}

/// Witness: a drain of the chat started while another drain of it was under way.
fn second_drain_met_first(t: &Trace) -> bool {
    let busy =
        t.rows.iter().any(|r| matches!(r, interleave::Row::Note { text, .. } if text == "drain(A): busy → return"));
    let steps: Vec<_> = t.steps().collect();
    // The second task ran (its first step after the first task's first await).
    let first_await = steps.iter().position(|s| s.call.starts_with("await"));
    busy && first_await.is_some_and(|i| steps[i..].iter().any(|s| s.call == "runs"))
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "drain-starvation",
    summary: "a voice message queued for chat B while chat A's driver runs is never drained",
    source: Source {
        seed: "003_045e2fc5e094a895.txt",
        section: "Finding DQ-1 (Medium): Cross-chat deferred queue starvation/liveness gap",
    },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "each handler drains only its own chat in finally",
            body: &|ctx| starvation(ctx, Drain::OwnChat),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "global idle sweep from every completion point, with a sweep-active guard",
            body: &|ctx| starvation(ctx, Drain::GlobalSweep),
            witnesses: &[Witness { name: "a message was queued while a driver ran", reached: queued_while_running }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "guard-sync",
            expect: Expect::Holds,
            summary: "drainingChats check and add with no await between (Question 1)",
            body: &|ctx| reentrancy(ctx, false),
            witnesses: &[Witness { name: "a second drain of the chat met the first", reached: second_drain_met_first }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "guard-await",
            expect: Expect::Counterexample,
            summary: "an await between the drainingChats check and the add",
            body: &|ctx| reentrancy(ctx, true),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
    ],
};
