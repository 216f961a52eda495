//! # cron-drain — two cron jobs and `drainDeferredQueue`
//!
//! Source: seed `003_045e2fc5e094a895.txt`, "Question 2: What if two cron jobs fire
//! simultaneously and both call `drainDeferredQueue`?"
//!
//! The bot runs on one JavaScript event loop. Every 10 seconds a cron tick (`setInterval`'s async
//! callback) returns at once if a driver is running (`isAnyDriverRunning()`), then runs the due
//! jobs one by one, re-checking before each, and awaits each job's run. The audit's conclusion:
//! "this path does not exist in current code": cron jobs call `runMessageWithDriver` directly,
//! and only the text and voice handlers' `finally` call `drainDeferredQueue`; the cron code's
//! comment saying non-silent jobs go through `handleText` is stale.
//!
//! Both versions are modeled with two jobs due at once, two ticks (the second `setInterval` tick
//! can fire while the first one's job still runs), and a voice message already deferred for the
//! cron's chat. The invariants are the audit's worries about two drains: at most one driver runs
//! at a time, and no message is processed twice (checked after every step).
//! - `as-coded`: the jobs call `runMessageWithDriver`: **holds**. No drain runs at all; the
//!   second tick finds a driver running and returns. (The deferred message stays queued: that is
//!   finding DQ-1's liveness gap, modeled by `drain-starvation`, not Question 2's.)
//! - `as-commented`: the jobs go through `handleText`, whose `finally` drains the chat. Both jobs
//!   then call `drainDeferredQueue`, one after the other; the first drains the deferred message,
//!   the second finds the queue empty. **Holds** as well, where scenarios.md expected a
//!   counterexample "as the stale comment claims": the model finds none. A tick only starts a job
//!   when no driver runs, the jobs of one tick run one after another, and a drain's check and
//!   its `drainingChats.add` are synchronous (the audit's Question 1), so no two drains of a chat
//!   and no two drivers ever overlap. What would break it is an `await` between the check and
//!   the add (`drain-starvation/guard-await`), which neither path has.
//!
//! Modeling choices: as in `drain-starvation` (one task per event, `driver.run` an awaited
//! operation that resolves whenever the scheduler says). `handleText` is reduced to what the
//! audit says of it: it starts processing (synchronously), awaits the driver, stops processing
//! and drains its own chat in `finally`. Silent jobs differ from non-silent ones only in their
//! typing indicator, and neither drains, so one kind stands for both.

use interleave::event_loop::{EventLoop, Task};
use interleave::{Ctx, Expect, Invariant, Row, Scenario, Source, Trace, Variant, Witness};
use std::collections::{BTreeSet, VecDeque};

/// At most one driver runs at a time.
pub static ONE_DRIVER: Invariant = Invariant { name: "at most one driver runs at a time" };
/// No message is processed twice.
pub static ONCE: Invariant = Invariant { name: "no message is processed twice" };

/// The module state of `deferred-queue.ts`, the cron store and the session's `isRunning`.
#[derive(Default)]
struct Js {
    /// The cron chat's deferred queue.
    queue: VecDeque<String>,
    draining_chats: BTreeSet<char>,
    /// Drivers running now (`isAnyDriverRunning()` is `drivers > 0`).
    drivers: u32,
    processed: Vec<String>,
    /// Due cron jobs (`getDueJobs()`).
    due: VecDeque<String>,
}

/// How a non-silent cron job runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `runMessageWithDriver` directly (the code).
    Driver,
    /// `handleText` (the stale comment).
    HandleText,
}

/// `runMessageWithDriver`: the driver runs while awaited.
fn run_driver(t: &Task<Js>, msg: &str) {
    t.with(|js| js.drivers += 1);
    t.await_(&format!("driver.run({msg})"));
    t.with(|js| {
        js.drivers -= 1;
        js.processed.push(msg.to_string());
    });
    t.ctx().note(format!("processed {msg}"));
}

/// `drainDeferredQueue(chat)`.
fn drain(t: &Task<Js>, chat: char) {
    t.ctx().note(format!("drainDeferredQueue({chat})"));
    if t.with(|js| js.draining_chats.contains(&chat) || js.drivers > 0) {
        t.ctx().note("drain: busy → return");
        return;
    }
    t.with(|js| js.draining_chats.insert(chat));
    while let Some(msg) = t.with(|js| js.queue.pop_front()) {
        run_driver(t, &msg);
    }
    t.with(|js| js.draining_chats.remove(&chat));
}

/// One `setInterval` tick of the cron timer.
fn tick(t: &Task<Js>, route: Route) {
    if t.with(|js| js.drivers > 0) {
        t.ctx().note("a query is running → skip this tick");
        return;
    }
    while let Some(job) = t.with(|js| if js.drivers > 0 { None } else { js.due.pop_front() }) {
        match route {
            Route::Driver => run_driver(t, &job),
            Route::HandleText => {
                run_driver(t, &job); // handleText: startProcessing, the driver run
                drain(t, 'A'); // handleText's finally: stopProcessing, drain this chat
            }
        }
    }
}

fn run(ctx: &Ctx, route: Route) {
    let js = Js {
        queue: VecDeque::from(["voice-1".to_string()]),
        due: VecDeque::from(["job-1".to_string(), "job-2".to_string()]),
        ..Js::default()
    };
    ctx.setup("chat A's deferred queue holds voice-1; cron jobs job-1 and job-2 are due");
    let lp = EventLoop::new(js);
    let l = lp.clone();
    ctx.always(&ONE_DRIVER, move || match l.inspect(|js| js.drivers) {
        n if n > 1 => Err(format!("{n} drivers are running")),
        _ => Ok(()),
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
    let first = lp.spawn("cron tick 1", move |t| tick(t, route));
    let second = lp.spawn("cron tick 2", move |t| tick(t, route));
    first.join().unwrap();
    second.join().unwrap();
    let end = lp.inspect(|js| format!("processed {:?}; chat A's deferred queue {:?}", js.processed, js.queue));
    ctx.end(end);
}

fn notes(t: &Trace) -> impl Iterator<Item = &str> {
    t.rows.iter().filter_map(|r| match r {
        Row::Note { text, .. } => Some(text.as_str()),
        _ => None,
    })
}

/// Witness: a tick fired while a job's driver ran, and skipped.
fn tick_met_driver(t: &Trace) -> bool {
    notes(t).any(|n| n.starts_with("a query is running"))
}

/// Witness: both jobs' handlers called `drainDeferredQueue`.
fn both_drained(t: &Trace) -> bool {
    notes(t).filter(|n| n.starts_with("drainDeferredQueue(")).count() >= 2
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "cron-drain",
    summary: "two cron jobs due at once: does drainDeferredQueue run twice?",
    source: Source {
        seed: "003_045e2fc5e094a895.txt",
        section: "Question 2: What if two cron jobs fire simultaneously and both call `drainDeferredQueue`?",
    },
    variants: &[
        Variant {
            name: "as-coded",
            expect: Expect::Holds,
            summary: "cron jobs call runMessageWithDriver directly; nothing in cron drains",
            body: &|ctx| run(ctx, Route::Driver),
            witnesses: &[Witness { name: "the second tick fired while a job's driver ran", reached: tick_met_driver }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "as-commented",
            expect: Expect::Holds,
            summary: "as the stale comment says: jobs go through handleText, whose finally drains the chat",
            body: &|ctx| run(ctx, Route::HandleText),
            witnesses: &[
                Witness { name: "both jobs' handlers called drainDeferredQueue", reached: both_drained },
                Witness { name: "the second tick fired while a driver ran", reached: tick_met_driver },
            ],
            ..Variant::DEFAULTS
        },
    ],
};
