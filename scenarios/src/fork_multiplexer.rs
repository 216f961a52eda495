//! # fork-multiplexer — fire-and-forget tasks that exit when their channels close
//!
//! Source: seed `000_22be9e3ee358d176.txt`, "Areas Reviewed (No Issues)", "2. Fork multiplexer
//! tasks" (fork.rs:82-88): "Fire-and-forget `tokio::spawn`, but exit cleanly when channels close.
//! No leak."
//!
//! A fork (a child worker) reports on two channels, its stdout and its stderr lines. The parent
//! spawns one task per channel that forwards what arrives into the parent's own event
//! channel, and nobody keeps the tasks' handles. A task's loop is `while let Some(m) =
//! rx.recv().await { if tx.send(m).await.is_err() { break } }`: it ends when its channel closes
//! (every sender dropped, which the fork's exit does) or when the parent's channel is gone. The
//! parent reads its channel until it closes, which happens when both tasks have exited and
//! dropped their senders.
//!
//! Invariants: **no task left at quiescence** (once the fork has exited and nothing else can
//! happen, every multiplexer task has finished; a task still waiting then is what the harness
//! reports as a deadlock, naming the task and the channel it waits on), and **every message the
//! fork sent reaches the parent** (closing a channel loses nothing still queued in it).
//!
//! `audited` holds: the closes cascade (the fork exits, its channels close, each task drains what
//! is queued and exits, the parent's channel closes), in every order of the tasks' steps. The
//! audit is right.
//!
//! `sender-kept` shows what the claim rests on: a sender of the fork's stdout channel that
//! outlives the fork (here the parent keeps one in its handle to the fork, to inject lines of its
//! own). The fork exits, but its stdout channel never closes: the stdout task waits forever, and
//! with it the parent, whose channel that task keeps open. A counterexample in every schedule.
//!
//! Modeling choices: tasks are threads and channels `interleave::sync::mpsc` (a task's loop is
//! `for m in rx.iter()`, which ends when the channel closes, as `recv().await` returning `None`
//! does); tokio's bounded channels are unbounded ones here, since nothing fills them.

use interleave::sync::mpsc::{channel, Receiver, Sender};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Variant, Witness};

/// Nothing is lost when the channels close.
pub static DELIVERED: Invariant = Invariant { name: "every message the fork sent reaches the parent" };

/// What the parent's channel carries.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Stdout(&'static str),
    Stderr(&'static str),
}

/// A multiplexer task: forward until the channel closes or the parent is gone.
fn multiplex<T: Send + std::fmt::Debug + 'static>(rx: Receiver<T>, parent: Sender<Event>, wrap: fn(T) -> Event) {
    for m in rx.iter() {
        if parent.send(wrap(m)).is_err() {
            break;
        }
    }
}

fn run(ctx: &Ctx, keep_a_sender: bool) {
    let (stdout_tx, stdout_rx) = channel::<&'static str>();
    let (stderr_tx, stderr_rx) = channel::<&'static str>();
    let (parent_tx, parent_rx) = channel::<Event>();
    // The parent's handle to the fork, keeping a sender of its stdout channel (sender-kept only).
    let kept = keep_a_sender.then(|| stdout_tx.clone());

    let tx = parent_tx.clone();
    let out = thread::Builder::new()
        .name("mux stdout".into())
        .spawn(move || multiplex(stdout_rx, tx, Event::Stdout))
        .unwrap();
    let tx = parent_tx;
    let st = thread::Builder::new()
        .name("mux stderr".into())
        .spawn(move || multiplex(stderr_rx, tx, Event::Stderr))
        .unwrap();
    let fork = thread::Builder::new()
        .name("fork".into())
        .spawn(move || {
            stdout_tx.send("line 1").unwrap();
            // Nothing on stderr; the fork exits: its senders are dropped, its channels close.
            drop(stderr_tx);
        })
        .unwrap();

    let events: Vec<Event> = parent_rx.iter().collect(); // until every task has dropped its sender
    fork.join().unwrap();
    out.join().unwrap();
    st.join().unwrap();
    drop(kept);
    ctx.end(format!("the parent received {events:?}"));
    let e = Event::Stdout("line 1");
    ctx.check(&DELIVERED, events.contains(&e), || format!("{e:?} never reached the parent: {events:?}"));
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "fork-multiplexer",
    summary: "fire-and-forget tasks forward a fork's channels into the parent's and exit when they close",
    source: Source {
        seed: "000_22be9e3ee358d176.txt",
        section: "Areas Reviewed (No Issues): 2. Fork multiplexer tasks",
    },
    variants: &[
        Variant {
            name: "audited",
            expect: Expect::Holds,
            summary: "as audited: each task's loop ends when its channel closes",
            body: &|ctx| run(ctx, false),
            witnesses: &[Witness {
                name: "a task forwarded while the fork was still sending",
                reached: |t| t.interleaved("fork", "mux stdout"),
            }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "sender-kept",
            expect: Expect::Counterexample,
            summary: "a sender of the fork's stdout channel outlives the fork: that channel never closes",
            body: &|ctx| run(ctx, true),
            ..Variant::DEFAULTS
        },
    ],
};
