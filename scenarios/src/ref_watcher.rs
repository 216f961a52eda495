//! # ref-watcher — the watcher is set up before the baseline SHA is read
//!
//! Source: seed `000_22be9e3ee358d176.txt`, "Areas Reviewed (No Issues)", "3. Ref watcher TOCTOU"
//! (worker.rs:855-868): "Correctly avoided — watcher set up BEFORE baseline SHA is read."
//!
//! A worker waits for a git ref to move: it watches `refs/heads/main` (the kernel queues an event
//! for every change after the watch exists), reads the ref's SHA as its baseline, and then, on
//! every event, reads the ref again and compares. Another process (`git update-ref`) moves the ref:
//! it writes `main.lock` and renames it over `main`.
//!
//! Invariant: **an update of the ref after the baseline was read is never missed**: once every
//! thread has finished, if the ref differs from the worker's baseline, the worker saw the change.
//!
//! `watcher-first` is the code as audited: it holds. An update before the watch is in the
//! baseline; an update after the watch queues an event, and the worker's read that follows it
//! sees the new SHA. The audit is right.
//!
//! `baseline-first` is the order the audit says was avoided: read the baseline, then set up the
//! watcher. A counterexample, 0 preemptions beyond the one that puts the update in the window:
//! 1. the worker reads `refs/heads/main`: `sha1`, its baseline;
//! 2. `git update-ref` renames `main.lock` over `main` (`sha2`); no watcher exists, so no event
//!    is queued;
//! 3. the worker sets up its watcher and waits: no event ever comes, and the worker waits on with
//!    `sha1` while the ref is `sha2`, a missed update.
//!
//! Modeling choices:
//! - The kernel's watch list is a mutex (`inotify`) held by the rename while it queues the events,
//!   so that the rename and its events are one atomic change, as they are in the kernel (an event
//!   queued a moment after the rename would let a watcher set up in between see an update that
//!   happened before it existed). Events go over an unbounded channel, as `notify`'s do.
//! - `git update-ref` has written `main.lock` when the scenario starts (its writing touches nothing
//!   the worker reads); the scenario's step is the rename that moves the ref.
//! - A real worker would wait forever; here, once `git update-ref` has finished and the worker is
//!   waiting, the test removes the watches (dropping their senders), which ends the worker's wait,
//!   and the invariant is checked. The worker says it is waiting over a channel of its own.

use interleave::fs::{self, Fs};
use interleave::sync::mpsc::{channel, Sender};
use interleave::sync::{Arc, Mutex};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

const REF: &str = "/repo/.git/refs/heads/main";
const LOCK: &str = "/repo/.git/refs/heads/main.lock";

/// The finding's property.
pub static NOT_MISSED: Invariant =
    Invariant { name: "an update of the ref after the baseline was read is never missed" };

/// The kernel's watches on the ref: a sender per watcher.
type Watches = Arc<Mutex<Vec<Sender<&'static str>>>>;

/// The worker: watch and read the baseline (in the order given), then wait for an event that
/// shows the ref moved. Returns its baseline and the SHA it saw the ref move to.
fn worker(watches: &Watches, watcher_first: bool, waiting: Sender<()>) -> (String, Option<String>) {
    let (tx, events) = channel();
    let watch = || watches.lock().unwrap().push(tx); // watcher.watch(refs/heads/main)
    let read_ref = || fs::read_to_string(REF).expect("the ref exists");
    let baseline = if watcher_first {
        watch();
        read_ref() // as audited: the baseline after the watch
    } else {
        let b = read_ref();
        watch();
        b
    };
    waiting.send(()).unwrap();
    for _event in events.iter() {
        let now = read_ref();
        if now != baseline {
            return (baseline, Some(now));
        }
    }
    (baseline, None)
}

/// `git update-ref refs/heads/main sha2`, once it has written `main.lock`: rename it over the ref;
/// the rename queues an event for every watch that exists.
fn update_ref(watches: &Watches) {
    let w = watches.lock().unwrap();
    fs::rename(LOCK, REF).expect("the rename succeeds");
    for tx in w.iter() {
        let _ = tx.send("refs/heads/main modified");
    }
}

fn run(ctx: &Ctx, watcher_first: bool) {
    let fs = Fs::current();
    fs.setup_dir("/repo");
    fs.setup_dir("/repo/.git");
    fs.setup_dir("/repo/.git/refs");
    fs.setup_dir("/repo/.git/refs/heads");
    fs.setup_file(REF, b"sha1\n");
    fs.setup_file(LOCK, b"sha2\n"); // git update-ref has written its lock file
    let watches: Watches = Arc::new(Mutex::named("inotify", Vec::new()));
    let (waiting_tx, waiting) = channel();

    let w = Arc::clone(&watches);
    let worker =
        thread::Builder::new().name("worker".into()).spawn(move || worker(&w, watcher_first, waiting_tx)).unwrap();
    let w = Arc::clone(&watches);
    let git = thread::Builder::new().name("git update-ref".into()).spawn(move || update_ref(&w)).unwrap();

    git.join().unwrap();
    let _ = waiting.recv();
    watches.lock().unwrap().clear(); // the test ends the watches: a waiting worker stops
    let (baseline, saw) = worker.join().unwrap();
    let now = fs.inspect(|st| st.contents(REF)).map(|d| String::from_utf8_lossy(&d).into_owned()).unwrap_or_default();
    ctx.end(format!(
        "baseline = {:?}; refs/heads/main = {:?}; the worker {}",
        baseline.trim(),
        now.trim(),
        match &saw {
            Some(s) => format!("saw it move to {:?}", s.trim()),
            None => "saw no change".into(),
        }
    ));
    ctx.check(&NOT_MISSED, now == baseline || saw.is_some(), || {
        format!(
            "the ref moved from the baseline {:?} to {:?} and no event came: the update landed before the watch existed",
            baseline.trim(),
            now.trim()
        )
    });
}

/// Witness: the ref moved between the worker's watch and its baseline read, the window that the
/// other order turns into a missed update.
fn moved_between_watch_and_read(t: &Trace) -> bool {
    let (Some(watched), Some(read), Some(renamed)) = (
        t.find_step("worker", "unlock(inotify)"),
        t.find_step("worker", "open(\"/repo/.git/refs/heads/main\""),
        t.find_step("git update-ref", "rename("),
    ) else {
        return false;
    };
    watched < renamed && renamed < read
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "ref-watcher",
    summary: "a worker watches a git ref and reads its baseline SHA; the watch must come first",
    source: Source { seed: "000_22be9e3ee358d176.txt", section: "Areas Reviewed (No Issues): 3. Ref watcher TOCTOU" },
    variants: &[
        Variant {
            name: "watcher-first",
            expect: Expect::Holds,
            summary: "as audited: the watcher is set up, then the baseline SHA read",
            body: &|ctx| run(ctx, true),
            witnesses: &[Witness {
                name: "the ref moved between the watch and the baseline read",
                reached: moved_between_watch_and_read,
            }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "baseline-first",
            expect: Expect::Counterexample,
            summary: "the order the audit avoided: the baseline SHA read, then the watcher set up",
            body: &|ctx| run(ctx, false),
            ..Variant::DEFAULTS
        },
    ],
};
