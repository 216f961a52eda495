//! # file-semaphore — N processes polling K slot lock files
//!
//! Source: seed `000_22be9e3ee358d176.txt`, "Areas Reviewed (No Issues)", "4. File semaphores"
//! (semaphore.rs): "OS-level exclusive locks via fs2. Polling with 100ms sleep is simple but
//! correct. Lock released on drop (RAII)."
//!
//! A semaphore of `K` slots is `K` lock files. `acquire` loops: for each slot it opens the slot's
//! file (`O_WRONLY|O_CREAT`) and tries an exclusive lock without blocking (`flock(LOCK_EX|LOCK_NB)`,
//! fs2's `try_lock_exclusive`, `File::try_lock` in `std`); the first that succeeds is the guard, the
//! others are closed again; when every slot is taken it sleeps 100 ms and polls again. The guard's
//! file is closed when it is dropped, which releases the lock (and so does the death of its
//! process). `N` processes run a job each under the semaphore.
//!
//! Invariants: (safety, after every step) **never more than K holders**: at most `K` processes
//! hold a slot's lock at once; (liveness, once every process has finished) **every waiter
//! eventually gets a slot**: every process acquired one and ran its job.
//!
//! `audited` holds: the audit is right. The kernel lets one description hold a file's exclusive
//! lock, the files are never removed, so there are never more than `K` lock holders, and a guard
//! releases its slot when its file is closed.
//!
//! Liveness needs fairness, and the polling loop must end for an execution to end. The loop is
//! bounded here (`MAX_POLLS` rounds, then the process gives up and exits with status 1, which the
//! liveness check reports); the bound is large enough never to be reached, because the search is
//! fair to pollers: a sleeping process waits until every other process has made a step (CHESS's
//! fair scheduling), so each round of polls lets a holder move on, and a holder frees its slot
//! within three steps of its own (its job, the close, the exit). A waiter can lose a freed slot
//! to another waiter, at most `N - K - 1` times. That is a few rounds, against `MAX_POLLS`. An
//! unfair scheduler could starve a poller forever (every poll landing while the slots are held),
//! which is what the audit's "simple but correct" rests on: real schedulers are fair, and 100 ms is
//! long enough for a holder to run.
//!
//! Modeling choices:
//! - The processes are modeled processes (`interleave::process::Builder`), each with its own
//!   descriptors and locks; the slot files exist from the start (a previous run created them).
//! - The job is a step that touches nothing shared (`sleep(1s)`), held between the acquisition and
//!   the release.
//! - The catalog's instance is 2 processes and 1 slot, the smallest with a waiter, so that the
//!   default search proves it (every schedule: 661 executions). The scan over several slots with a
//!   waiter needs 3 processes and 2 slots, `'file-semaphore/audited[processes=3,slots=2]'`, which
//!   the default search samples (20,000 schedules, no violation) but cannot cover: the polls of
//!   three processes on the same slot files do not commute, and their orders multiply.

use interleave::fs::{Fs, OpenOptions, TryLockError};
use interleave::process::{self, Builder};
use interleave::{thread, Ctx, Expect, Invariant, Param, Scenario, Source, Trace, Variant, Witness};
use std::time::Duration;

/// Safety.
pub static AT_MOST_K: Invariant = Invariant { name: "never more than K holders" };
/// Liveness.
pub static EVERY_WAITER: Invariant = Invariant { name: "every waiter eventually gets a slot" };

/// Rounds of polling before a process gives up: never reached under a fair scheduler (see the
/// module's documentation).
const MAX_POLLS: usize = 8;

fn slot_path(i: usize) -> String {
    format!("/run/sem/slot-{i}.lock")
}

/// `Semaphore::acquire`: the guard is the locked slot file.
fn acquire(slots: usize) -> Option<(usize, interleave::fs::File)> {
    for _ in 0..MAX_POLLS {
        for i in 0..slots {
            let file = OpenOptions::new().write(true).create(true).open(slot_path(i)).expect("the directory exists");
            match file.try_lock() {
                Ok(()) => return Some((i, file)),
                Err(TryLockError::WouldBlock) => drop(file), // closed: the next slot
                Err(TryLockError::Error(e)) => panic!("flock: {e}"),
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    None
}

/// One process: acquire a slot, run the job, drop the guard (closing the file releases the lock).
fn job(slots: usize) {
    match acquire(slots) {
        Some((i, guard)) => {
            Ctx::current().note(format!("holds slot {i}"));
            thread::sleep(Duration::from_secs(1)); // the job
            drop(guard);
        }
        None => process::exit(1), // gave up
    }
}

fn run(ctx: &Ctx) {
    let n = ctx.param("processes");
    let k = ctx.param("slots");
    let fs = Fs::current();
    fs.setup_dir("/run");
    fs.setup_dir("/run/sem");
    for i in 0..k {
        fs.setup_file(&slot_path(i), b"");
    }
    // Safety after every step: count the open file descriptions that hold a lock, on any inode.
    let watched = fs.clone();
    ctx.always(&AT_MOST_K, move || {
        let holders: usize =
            watched.inspect(|st| (0..64).map(|i| st.flock_holders(interleave::fs::state::Ino(i)).len()).sum());
        if holders > k {
            Err(format!("{holders} processes hold a slot's lock, with {k} slots"))
        } else {
            Ok(())
        }
    });
    let names = ["A", "B", "C", "D"];
    let mut children: Vec<_> = names[..n]
        .iter()
        .map(|name| (*name, Builder::new(format!("proc {name}")).spawn(move || job(k)).unwrap()))
        .collect();
    let mut gave_up = Vec::new();
    for (name, child) in &mut children {
        let status = child.wait().expect("the child is ours");
        if !status.success() {
            gave_up.push(*name);
        }
    }
    ctx.end(if gave_up.is_empty() {
        "every process ran its job".into()
    } else {
        format!("{} gave up", gave_up.join(", "))
    });
    ctx.check(&EVERY_WAITER, gave_up.is_empty(), || {
        format!("{} polled {MAX_POLLS} rounds and never got a slot", gave_up.join(", "))
    });
}

/// Witness: a process polled while every slot was held and later got one.
fn a_waiter_got_a_slot(t: &Trace) -> bool {
    t.threads.iter().filter(|n| n.starts_with("proc ")).any(|name| {
        t.find_step(name, "sleep(100ms)").is_some() && t.rows.iter().any(|r| matches!(r, interleave::Row::Note { thread, text } if t.threads.get(*thread) == Some(name) && text.starts_with("holds slot")))
    })
}

const fn params(processes: usize, slots: usize) -> [Param; 2] {
    [
        Param {
            name: "processes",
            default: processes,
            min: 1,
            max: 4,
            summary: "processes running a job under the semaphore",
        },
        Param { name: "slots", default: slots, min: 1, max: 3, summary: "slot lock files (the semaphore's K)" },
    ]
}
static TWO_ONE: [Param; 2] = params(2, 1);

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "file-semaphore",
    summary: "N processes poll K slot lock files with try_lock and a sleep; a guard's close releases its slot",
    source: Source { seed: "000_22be9e3ee358d176.txt", section: "Areas Reviewed (No Issues): 4. File semaphores" },
    variants: &[Variant {
        name: "audited",
        expect: Expect::Holds,
        summary: "as audited: open, try_lock each slot, sleep 100 ms between rounds, release on drop",
        body: &run,
        witnesses: &[Witness {
            name: "a process polled while every slot was held, then got one",
            reached: a_waiter_got_a_slot,
        }],
        params: &TWO_ONE,
        ..Variant::DEFAULTS
    }],
};
