//! drain-starvation on a real runtime (seed `003_045e2fc5e094a895.txt`, "Finding DQ-1 (Medium):
//! Cross-chat deferred queue starvation/liveness gap").
//!
//! The `buggy` and `fixed` logic of `scenarios/src/drain_starvation.rs`, ported to async Rust and
//! run on tokio's current-thread runtime inside a `LocalSet`: one loop, one task at a time, no
//! preemption between `.await`s, which is the JavaScript event loop the audit describes. The
//! module state of `deferred-queue.ts` is an `Rc<RefCell<…>>` that tasks borrow only between
//! `.await`s (never across one), and a driver's run is a `tokio::time::sleep`. Time is paused, so
//! the clock only moves when every task waits on a timer, and then straight to the next deadline:
//! the whole test is deterministic and takes milliseconds, whatever the sleeps say.
//!
//! The DQ-1 schedule: chat A's text handler starts a long driver run; while it runs, a voice
//! message for chat B arrives, is enqueued, and B's drain bails because A's driver runs; A's run
//! ends. Then no more events arrive: the runtime goes idle (the clock is advanced far past every
//! sleep and the loop is yielded to until nothing is left to run), and the queues are inspected.
//! As audited, each handler drains only its own chat in `finally`, so B's message stays queued
//! forever; with the audit's fix (a global idle sweep from every completion point, guarded by a
//! process-wide "sweep active" flag beside the per-chat guard) every queue is empty and every
//! message was processed exactly once.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

/// Chat A's long task.
const TEXT_RUN: Duration = Duration::from_secs(60);
/// When B's voice message arrives: while A's driver runs.
const VOICE_AT: Duration = Duration::from_secs(5);
/// A voice message's driver run.
const VOICE_RUN: Duration = Duration::from_secs(10);
/// How far the clock is moved once no more events arrive: far past every sleep above.
const IDLE: Duration = Duration::from_secs(24 * 3600);

/// The module state of `deferred-queue.ts` and the session's `isRunning`.
#[derive(Default, Debug)]
struct Js {
    queues: BTreeMap<char, VecDeque<String>>,
    draining_chats: BTreeSet<char>,
    /// Drivers running now (`session.isRunning` is `drivers > 0`).
    drivers: u32,
    /// The most drivers that ever ran at once.
    max_drivers: u32,
    processed: Vec<String>,
    sweep_active: bool,
}

type Shared = Rc<RefCell<Js>>;

/// What a handler's `finally` drains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drain {
    /// Its own chat (as audited).
    OwnChat,
    /// Every queued chat, from a global idle sweep (the audit's fix).
    GlobalSweep,
}

/// `runMessageWithDriver`: start processing, await the driver's run, stop processing.
async fn run_driver(js: &Shared, msg: &str, run: Duration) {
    {
        let mut s = js.borrow_mut();
        s.drivers += 1;
        s.max_drivers = s.max_drivers.max(s.drivers);
    }
    tokio::time::sleep(run).await;
    let mut s = js.borrow_mut();
    s.drivers -= 1;
    s.processed.push(msg.to_string());
}

/// `drainDeferredQueue(chat)`: returns at once while the chat is being drained or any driver
/// runs; otherwise marks the chat and runs its queued messages one by one.
async fn drain(js: &Shared, chat: char) {
    {
        // Check and add with no `.await` between: one synchronous block, as in the audited code.
        let mut s = js.borrow_mut();
        if s.draining_chats.contains(&chat) || s.drivers > 0 {
            return;
        }
        s.draining_chats.insert(chat);
    }
    loop {
        let next = js.borrow_mut().queues.get_mut(&chat).and_then(|q| q.pop_front());
        let Some(msg) = next else { break };
        run_driver(js, &msg, VOICE_RUN).await;
    }
    js.borrow_mut().draining_chats.remove(&chat);
}

/// The fix's global idle sweep: drains every queued chat, one by one, rescanning after each.
async fn sweep(js: &Shared) {
    {
        let mut s = js.borrow_mut();
        if s.sweep_active || s.drivers > 0 {
            return;
        }
        s.sweep_active = true;
    }
    loop {
        let next = js.borrow().queues.iter().find(|(_, q)| !q.is_empty()).map(|(c, _)| *c);
        let Some(chat) = next else { break };
        drain(js, chat).await;
        if js.borrow().queues.get(&chat).is_some_and(|q| !q.is_empty()) {
            break; // The chat could not be drained now; the next completion sweeps again.
        }
    }
    js.borrow_mut().sweep_active = false;
}

/// The completion point of every handler.
async fn finally(js: &Shared, chat: char, how: Drain) {
    match how {
        Drain::OwnChat => drain(js, chat).await,
        Drain::GlobalSweep => sweep(js).await,
    }
}

/// The text handler: run the driver, then `finally`.
async fn handle_text(js: Shared, chat: char, msg: &'static str, how: Drain) {
    run_driver(&js, msg, TEXT_RUN).await;
    finally(&js, chat, how).await;
}

/// The voice handler: enqueue while a driver runs, else run it; then `finally`.
async fn handle_voice(js: Shared, chat: char, msg: &'static str, how: Drain) {
    let busy = js.borrow().drivers > 0;
    if busy {
        js.borrow_mut().queues.entry(chat).or_default().push_back(msg.to_string());
    } else {
        run_driver(&js, msg, VOICE_RUN).await;
    }
    finally(&js, chat, how).await;
}

/// The state once the loop is idle, and how far the (paused) clock moved.
struct Idle {
    js: Js,
    virtual_time: Duration,
}

/// Runs the DQ-1 schedule with `how`, then lets the runtime go idle.
fn dq1(how: Drain) -> Idle {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let js = Shared::default();
        let start = tokio::time::Instant::now();
        let text = tokio::task::spawn_local(handle_text(Rc::clone(&js), 'A', "text-A", how));
        tokio::time::sleep(VOICE_AT).await;
        assert_eq!(js.borrow().drivers, 1, "chat A's driver runs when B's voice message arrives");
        let voice = tokio::task::spawn_local(handle_voice(Rc::clone(&js), 'B', "voice-B", how));
        text.await.expect("the text handler finishes");
        voice.await.expect("the voice handler finishes");
        // No more events: move the clock far past every sleep and let every ready task run.
        tokio::time::sleep(IDLE).await;
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
        let virtual_time = start.elapsed();
        let js = std::mem::take(&mut *js.borrow_mut());
        Idle { js, virtual_time }
    })
}

/// Every message still queued, as `message (chat c)`.
fn queued(js: &Js) -> Vec<String> {
    js.queues.iter().flat_map(|(c, q)| q.iter().map(move |m| format!("{m} (chat {c})"))).collect()
}

#[test]
fn buggy_leaves_chat_b_queued_once_the_loop_is_idle() {
    let wall = std::time::Instant::now();
    let idle = dq1(Drain::OwnChat);
    println!("buggy: {:?}; virtual time {:?}, wall time {:?}", idle.js, idle.virtual_time, wall.elapsed());
    assert_eq!(queued(&idle.js), ["voice-B (chat B)"], "the starvation: B's message stays queued");
    assert_eq!(idle.js.processed, ["text-A"]);
    assert_eq!((idle.js.drivers, idle.js.max_drivers), (0, 1));
    assert!(idle.virtual_time >= IDLE, "the clock went far past every sleep");
}

#[test]
fn fixed_drains_every_queue_and_processes_each_message_once() {
    let wall = std::time::Instant::now();
    let idle = dq1(Drain::GlobalSweep);
    println!("fixed: {:?}; virtual time {:?}, wall time {:?}", idle.js, idle.virtual_time, wall.elapsed());
    assert_eq!(queued(&idle.js), Vec::<String>::new(), "every queue is empty once the loop is idle");
    assert_eq!(idle.js.processed, ["text-A", "voice-B"], "each message processed exactly once");
    assert_eq!((idle.js.drivers, idle.js.max_drivers), (0, 1), "at most one driver at a time");
    assert!(!idle.js.sweep_active && idle.js.draining_chats.is_empty());
    assert!(idle.virtual_time >= IDLE, "the clock went far past every sleep");
}
