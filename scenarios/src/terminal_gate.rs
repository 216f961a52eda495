//! # terminal-gate — the terminal reader's pause/resume gate
//!
//! Source: seed `000_22be9e3ee358d176.txt`, "Areas Reviewed (No Issues)", "1. Terminal reader
//! pause/resume" (main.rs:136-164): "Brief window where EventStream and child process could both
//! read stdin. Well-mitigated by `drain_term_events()` + `tcflush()`. Inherent to cooperative
//! approach."
//!
//! The TUI reads keys with crossterm's `EventStream` in a task of its own. To run an interactive
//! child (a program that asks the user something on the same terminal), the app pauses that task
//! through a gate (the task checks the gate before each read), runs the child and waits for it,
//! then drains the events the task read meanwhile (`drain_term_events()`), discards the terminal's
//! unread input (`tcflush(TCIFLUSH)`) and resumes the task. The pause is cooperative: a task that
//! passed the gate before the pause is still blocked reading stdin when the child starts, and the
//! next key goes to whichever reader takes it.
//!
//! Invariants: **no key typed for the child is taken by the TUI's reader**, and **no key typed
//! for the child is acted on by the TUI** (the one the mitigation is for). A key is typed for the
//! child when the child is running and has asked; the user types `y`, and, when nothing happens,
//! types it again.
//!
//! `audited` is a counterexample, in two ways. The window is real, as the audit says, and what it
//! costs is a keystroke:
//! 1. the TUI's reader passes the gate and waits in `read(stdin)`;
//! 2. the app pauses the gate and starts the child, which asks and waits in `read(stdin)` too:
//!    two readers;
//! 3. the user types `y`; the TUI's reader takes it, the child does not get it (the drain later
//!    discards it, so the TUI does not act on it: that much is mitigated). The child waits until
//!    the user types `y` again.
//!
//! And the mitigation has a hole of its own. When the child got the first `y` but the user, seeing
//! no answer yet, typed a second one, and the TUI's reader is still waiting in `read` from before
//! the pause: the child exits, the app drains the reader's events (none yet), the reader takes the
//! second `y`, `tcflush` finds the terminal's input empty, and after the resume **the TUI acts on a
//! key typed for the child**. `drain_term_events()` and `tcflush()` each clear one place a key can
//! be, and a reader still inside `read` moves keys from one to the other between them.
//!
//! So the model disagrees with "well-mitigated": the window loses a key typed for the child, and
//! can deliver one to the TUI. It agrees that it is inherent to a cooperative pause: `handshake`
//! closes it by making the pause wait for the reader (crossterm's event source has a waker: the
//! pause wakes a reader blocked in `read`, the reader goes back to the gate and acknowledges, and
//! only then does the app start the child). It holds.
//!
//! Modeling choices:
//! - The terminal is a mutex over its input queue, with a condition variable for "input
//!   arrived": a read waits until a key is there (or end of input, or, with the waker, a
//!   wake-up) and takes it. crossterm's reader moves a key from the terminal into its event queue
//!   under its own lock, in one step here, and `drain_term_events()` empties that queue.
//! - The user's "when nothing happens" is a wait with a timeout, which the model lets end at any
//!   moment; the user types at most twice.
//! - The child's question and answer are on the terminal's screen, under the terminal's lock.
//! - After the resume the app quits (end of input); the keys left in the event queue then are the
//!   ones the TUI acts on.

use interleave::sync::{Arc, Condvar, Mutex};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};
use std::collections::VecDeque;
use std::time::Duration;

/// The child gets its keys.
pub static NOT_TAKEN: Invariant = Invariant { name: "no key typed for the child is taken by the TUI's reader" };
/// The mitigation's purpose.
pub static NOT_ACTED_ON: Invariant = Invariant { name: "no key typed for the child is acted on by the TUI" };

/// The terminal: its unread input, crossterm's event queue, and who waits in `read`.
#[derive(Debug, Default)]
struct Tty {
    /// Keys typed and not yet read, each with whether it was typed for the child.
    input: VecDeque<(char, bool)>,
    /// Events crossterm's reader has read (`drain_term_events()` empties it).
    events: VecDeque<(char, bool)>,
    /// Keys typed for the child that the TUI's reader took.
    taken_from_child: Vec<char>,
    /// The child runs and has asked: what the user types now is for it.
    child_running: bool,
    /// Threads waiting in `read(stdin)` (shown in the trace's notes).
    readers: Vec<&'static str>,
    /// The event source's waker was woken (the handshake's pause).
    wake: bool,
    eof: bool,
    /// The child's question is on the screen, and it has its answer.
    asked: bool,
    answered: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GateState {
    Running,
    Paused,
}

#[derive(Debug)]
struct Gate {
    state: GateState,
    /// The reader has acknowledged the pause (handshake only).
    acked: bool,
}

struct Term {
    tty: Mutex<Tty>,
    input_arrived: Condvar,
    gate: Mutex<Gate>,
    gate_changed: Condvar,
    /// The screen is the terminal's too: what the child shows, under the same lock.
    screen_changed: Condvar,
}

const READER: &str = "TUI reader";

/// The TUI's `EventStream` task.
fn tui_reader(t: &Term, handshake: bool) {
    loop {
        {
            let mut g = t.gate.lock().unwrap();
            loop {
                match g.state {
                    GateState::Running => break,
                    GateState::Paused => {
                        if handshake && !g.acked {
                            g.acked = true; // handshake: the pause is acknowledged
                            t.gate_changed.notify_all();
                        }
                        g = t.gate_changed.wait(g).unwrap();
                    }
                }
            }
        }
        // EventStream::next(): wait in read(stdin) for a key.
        let mut tty = t.tty.lock().unwrap();
        tty.readers.push(READER);
        loop {
            if tty.eof {
                return;
            }
            if handshake && tty.wake {
                tty.wake = false; // woken: back to the gate, without reading
                Ctx::current().note("woken by the pause: back to the gate");
                break;
            }
            if let Some((key, for_child)) = tty.input.pop_front() {
                if for_child {
                    tty.taken_from_child.push(key);
                }
                tty.events.push_back((key, for_child));
                Ctx::current().note(format!("read {key:?}"));
                break;
            }
            tty = t.input_arrived.wait(tty).unwrap();
        }
        tty.readers.retain(|r| *r != READER);
    }
}

/// The child: ask, read one key, answer, exit.
fn child(t: &Term) {
    let mut tty = t.tty.lock().unwrap();
    tty.child_running = true;
    tty.asked = true; // "Continue? [y/n]"
    t.screen_changed.notify_all();
    tty.readers.push("child");
    if tty.readers.len() > 1 {
        Ctx::current().note(format!("two readers of stdin: {:?}", tty.readers));
    }
    let key = loop {
        if let Some((key, _)) = tty.input.pop_front() {
            break Some(key);
        }
        if tty.eof {
            break None;
        }
        tty = t.input_arrived.wait(tty).unwrap();
    };
    Ctx::current().note(format!("read {key:?}"));
    tty.readers.retain(|r| *r != "child");
    tty.child_running = false;
    tty.answered = true;
    t.screen_changed.notify_all();
}

/// The user: once the child asks, type `y`; when nothing happens, type it again.
fn user(t: &Term) {
    let mut tty = t.tty.lock().unwrap();
    while !tty.asked {
        tty = t.screen_changed.wait(tty).unwrap();
    }
    let for_child = tty.child_running;
    tty.input.push_back(('y', for_child));
    t.input_arrived.notify_all();
    if tty.answered {
        return;
    }
    let (mut tty, _) = t.screen_changed.wait_timeout(tty, Duration::from_secs(2)).unwrap();
    if !tty.answered {
        let for_child = tty.child_running;
        tty.input.push_back(('y', for_child)); // nothing happened: once more
        t.input_arrived.notify_all();
    }
}

/// The app: pause the reader, run the child, drain, flush, resume; then quit.
fn run(ctx: &Ctx, handshake: bool) {
    let t = Arc::new(Term {
        tty: Mutex::named("tty", Tty::default()),
        input_arrived: Condvar::named("input arrived"),
        gate: Mutex::named("gate", Gate { state: GateState::Running, acked: false }),
        gate_changed: Condvar::named("gate changed"),
        screen_changed: Condvar::named("screen changed"),
    });
    let r = Arc::clone(&t);
    let reader = thread::Builder::new().name(READER.into()).spawn(move || tui_reader(&r, handshake)).unwrap();
    let u = Arc::clone(&t);
    let user = thread::Builder::new().name("user".into()).spawn(move || user(&u)).unwrap();

    // Pause the reader.
    {
        let mut g = t.gate.lock().unwrap();
        g.state = GateState::Paused;
        g.acked = false;
    }
    if handshake {
        {
            let mut tty = t.tty.lock().unwrap();
            tty.wake = true; // wake a reader blocked in read
            t.input_arrived.notify_all();
        }
        let mut g = t.gate.lock().unwrap();
        while !g.acked {
            g = t.gate_changed.wait(g).unwrap(); // handshake: wait until the reader has stopped
        }
    }
    let c = Arc::clone(&t);
    thread::Builder::new().name("child".into()).spawn(move || child(&c)).unwrap().join().unwrap();
    {
        let mut tty = t.tty.lock().unwrap(); // drain_term_events()
        let drained: Vec<char> = tty.events.drain(..).map(|(k, _)| k).collect();
        ctx.note(format!("drain_term_events() discards {drained:?}"));
    }
    {
        let mut tty = t.tty.lock().unwrap(); // tcflush(stdin, TCIFLUSH)
        let flushed: Vec<char> = tty.input.drain(..).map(|(k, _)| k).collect();
        ctx.note(format!("tcflush() discards {flushed:?}"));
    }
    {
        let mut g = t.gate.lock().unwrap(); // resume
        g.state = GateState::Running;
        t.gate_changed.notify_all();
    }
    // The app quits: end of input.
    {
        let mut tty = t.tty.lock().unwrap();
        tty.eof = true;
        t.input_arrived.notify_all();
    }
    reader.join().unwrap();
    user.join().unwrap();
    let acted: Vec<(char, bool)> = t.tty.inspect(|tty| tty.events.iter().copied().collect());
    let taken = t.tty.inspect(|tty| tty.taken_from_child.clone());
    ctx.end(format!("the TUI acts on {:?}", acted.iter().map(|(k, _)| *k).collect::<Vec<_>>()));
    ctx.check(&NOT_TAKEN, taken.is_empty(), || {
        format!("the TUI's reader, waiting in read(stdin) since before the pause, took {taken:?}, typed for the child")
    });
    ctx.check(&NOT_ACTED_ON, acted.iter().all(|(_, for_child)| !for_child), || {
        "the TUI's reader took a key typed for the child after drain_term_events() and before tcflush(): \
         the TUI acts on it after the resume"
            .into()
    });
}

/// Witness: the pause found the TUI's reader waiting in `read(stdin)` (the window a cooperative
/// pause leaves open) and the waker sent it back to the gate.
fn pause_caught_the_reader_in_read(t: &Trace) -> bool {
    t.rows.iter().any(|r| matches!(r, interleave::Row::Note { text, .. } if text.starts_with("woken by the pause")))
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "terminal-gate",
    summary: "the TUI's terminal reader is paused cooperatively while an interactive child reads stdin",
    source: Source {
        seed: "000_22be9e3ee358d176.txt",
        section: "Areas Reviewed (No Issues): 1. Terminal reader pause/resume",
    },
    variants: &[
        Variant {
            name: "audited",
            expect: Expect::Counterexample,
            summary: "as audited: a gate the reader checks before each read; drain_term_events() and tcflush() after the child",
            body: &|ctx| run(ctx, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "handshake",
            expect: Expect::Holds,
            summary: "the pause wakes the reader and waits for it to acknowledge before the child starts",
            body: &|ctx| run(ctx, true),
            witnesses: &[Witness {
                name: "the pause found the reader waiting in read(stdin)",
                reached: pause_caught_the_reader_in_read,
            }],
            ..Variant::DEFAULTS
        },
    ],
};
