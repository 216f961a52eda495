//! # stale-lock — stale lock-file cleanup
//!
//! Source: seed `002_e7e22f33e81c5c71.txt`, "Fix 1: TOCTOU in Stale Lock Cleanup" (issue #73,
//! `checkpoint.py: LockManager._clean_stale_lock()`).
//!
//! The lock is a file created with `O_CREAT|O_EXCL` that holds its owner's PID. `acquire` tries to
//! create it (`open(O_WRONLY|O_CREAT|O_EXCL)`, `write` of the PID, `close`); on `EEXIST` it runs
//! `_clean_stale_lock` and tries again, a bounded number of times. `_clean_stale_lock` checks that
//! the file exists (`Path.exists()`, a `stat`), reads the PID (`Path.read_text()`: `open`, `read`
//! until 0 bytes, `close`), asks whether that process exists (`_process_exists` =
//! `os.kill(pid, 0)`: `ESRCH` means dead) and, if it is dead, removes the file. `release` removes
//! the file.
//!
//! A process died while holding the lock and left the file behind; two live processes, A and B,
//! start acquiring. The failing interleaving of the code as audited (`buggy`, which `unlink`s the
//! stale file), with 2 preemptions:
//! 1. A fails to create the lock (`EEXIST`), reads the dead owner's PID and finds it dead;
//! 2. B does the same, removes the stale file, creates its own lock with its PID and enters the
//!    critical section;
//! 3. A, still acting on the PID it read in step 1, removes the file at the lock's path, which is
//!    now **B's live lock**, creates its own and enters too: two processes are inside.
//!
//! The audit's fix (`audit-fix`) renames the file to `.removing` and unlinks that, reasoning "if
//! rename succeeds, we own the file". It does not: `rename` moves whatever file is at the path
//! when it runs, which by then is B's live lock. The same schedule breaks it, and the trace notes
//! at each `rename` whose lock it moved: B's moves the stale one, A's moves B's. Checking a file
//! and then acting on its path is a race whatever the act is; only a step that checks and acts at
//! once, or a lock the kernel owns, closes it.
//!
//! PID reuse (`buggy-pid-reuse`, `audit-fix-pid-reuse`): the dead owner's PID now belongs to an
//! unrelated live process. `kill(pid, 0)` succeeds, the stale lock is never removed, and neither A
//! nor B acquires the lock within the retry bound: progress fails for both lock-file variants (in
//! every execution, so the counterexample needs no preemption).
//!
//! `fixed` (and `fixed-pid-reuse`) is the pattern seed 001 uses: a persistent lock file that is
//! never removed, locked with `flock(LOCK_EX|LOCK_NB)` under the same retry bound. The kernel
//! releases an `flock` when the process holding it dies, so a dead owner leaves nothing to clean
//! up, and whatever PID the file holds is never consulted.
//!
//! Invariants: (a) mutual exclusion, checked after every step: a process records entering and
//! leaving the critical section by appending `enter <name>` and `leave <name>` to a log file (as
//! the real-runtime test `tests/stale_lock_real.rs` does), and at most one process may be between
//! its `enter` and its `leave`; (b) progress, checked at the end: some process acquired the lock
//! within the retry bound.
//!
//! Modeling choices:
//! - Two attempts, with `_clean_stale_lock` between them. The audit does not show `acquire`; the
//!   race needs one cleanup and one retry, and PID reuse defeats any bound, so a larger bound finds
//!   nothing new, while each further attempt multiplies loom's unbounded search (with three
//!   attempts and a cleanup after every failure it needs ~1.8 million executions to meet the
//!   race, instead of ~18 thousand).
//! - `interleave::fs` has no `stat` yet, so `Path.exists()` is the step `stat` below: one step that
//!   looks the path up in the modeled file system, shown as the real call.
//! - The PID table allocates the lowest free PID (models.md), so the dead owner is the newest
//!   process: A and B were spawned first, then the owner, which took the lock, died and was reaped.
//!   The table cannot make a process exit outside a step, so setup shows the result: no process
//!   holds the owner's PID, which is all a reaped process leaves behind.
//! - `lock_path.with_suffix('.removing')` turns `checkpoint.lock` into `checkpoint.removing`.
//! - Each process opens the log before it acquires, so that acquiring and entering are adjacent.
//! - Retries do not sleep: a sleep only makes some interleavings likelier, and every interleaving
//!   is explored anyway.
//! - The notes naming whose lock a `rename` moved read the modeled file system between steps;
//!   they are commentary for the reader and change nothing.

use interleave::fs::state::{Errno, Fd, FlockOp, OpenFlags};
use interleave::fs::{Fs, FsProc};
use interleave::process::state::{Pid, Signal};
use interleave::process::Procs;
use interleave::{Ctx, Expect, Invariant, Row, Scenario, Source, Step, Trace, Variant, Witness};

const DIR: &str = "/state";
const LOCK: &str = "/state/checkpoint.lock";
/// `lock_path.with_suffix('.removing')`.
const REMOVING: &str = "/state/checkpoint.removing";
/// Where processes record entering and leaving the critical section.
const LOG: &str = "/state/critical.log";
/// `acquire` tries this many times.
const ATTEMPTS: usize = 2;

/// (a) At most one process is inside the critical section.
pub static MUTUAL_EXCLUSION: Invariant = Invariant { name: "at most one process is inside the critical section" };
/// (b) Some process acquires the lock within the retry bound.
pub static PROGRESS: Invariant = Invariant { name: "some process acquires the lock within the retry bound" };

/// How a variant implements the lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// An `O_EXCL` lock file with the owner's PID; `_clean_stale_lock` then `unlink` (as audited).
    PidFileUnlink,
    /// The same, but `_clean_stale_lock` renames to `.removing`, then unlinks (the audit's fix).
    PidFileRename,
    /// A persistent lock file guarded by `flock`.
    Flock,
}

/// What became of the process that held the lock before A and B.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// It died and was reaped; no process holds its PID.
    Dead,
    /// It died and was reaped, and an unrelated process was spawned with its PID.
    PidReused,
}

/// One of the processes that want the lock, as seen by the thread that plays it.
struct Proc {
    ctx: Ctx,
    name: &'static str,
    pid: Pid,
    fs: Fs,
    io: FsProc,
    procs: Procs,
    /// Which process holds each live PID (fixed from setup on: A and B never die, and the
    /// unrelated process keeps the PID it took), for the notes.
    names: Vec<(Pid, &'static str)>,
}

/// `os.stat(path)`, as `Path.exists()` calls it: one step that looks `path` up.
fn stat(p: &Proc, path: &str) -> bool {
    let fs = p.fs.clone();
    p.ctx.step(
        "fs",
        || Ok(()),
        || {
            let found = fs.inspect(|st| st.exists(path));
            let result = if found { "ok" } else { "ENOENT" };
            (found, Step::new(format!("stat(\"{path}\")"), result))
        },
    )
}

/// Who a lock file's contents say holds it, for notes: the process with that PID, if one does.
fn holder_of(me: &str, names: &[(Pid, &str)], contents: &[u8]) -> String {
    let text = String::from_utf8_lossy(contents).trim().to_string();
    if text.is_empty() {
        return "a lock file whose creator has not written its PID yet".into();
    }
    let holder = text.parse::<u32>().ok().and_then(|n| names.iter().find(|(pid, _)| pid.0 == n).map(|(_, who)| *who));
    match holder {
        Some(name) if name == me => format!("its own live lock (pid {text})"),
        Some(name) => format!("{name}'s live lock (pid {text})"),
        None => format!("the stale lock of dead pid {text}"),
    }
}

/// `_clean_stale_lock(lock_path)`.
fn clean_stale_lock(p: &Proc, how: Lock) {
    if !stat(p, LOCK) {
        return; // `if not lock_path.exists(): return`
    }
    let Ok(content) = p.io.read_file(LOCK) else { return }; // FileNotFoundError
    let text = String::from_utf8_lossy(&content).trim().to_string();
    let Ok(pid) = text.parse::<u32>() else {
        p.ctx.note(format!("lock content {text:?} is no PID → leave it")); // `if content:` / ValueError
        return;
    };
    if p.procs.kill(Pid(pid), Signal::SIG0).is_ok() {
        p.ctx.note(format!("pid {pid} is alive → not stale"));
        return;
    }
    p.ctx.note(format!("pid {pid} is dead → remove the stale lock"));
    match how {
        Lock::PidFileUnlink => {
            let _ = p.io.unlink(LOCK); // removes whatever file is at the path now
        }
        Lock::PidFileRename => {
            // The audit's fix: "if rename succeeds, we own the file".
            let (renamed, moved) = p.io.rename_then(LOCK, REMOVING, |st| st.contents(REMOVING).unwrap_or_default());
            if renamed.is_ok() {
                p.ctx.note(format!("the rename moved {}", holder_of(p.name, &p.names, &moved)));
                let _ = p.io.unlink(REMOVING);
            }
        }
        Lock::Flock => unreachable!("the flock lock never cleans up"),
    }
}

/// A lock held, and what releasing it takes.
enum Held {
    /// The lock file this process created: release removes it.
    File,
    /// The flock on this descriptor: release closes it.
    Flock(Fd),
}

/// `acquire()`: the lock, once held within the retry bound.
fn acquire(p: &Proc, how: Lock) -> Option<Held> {
    if how == Lock::Flock {
        // The fix: the lock file persists; the kernel's flock is the lock.
        let fd = p.io.open(LOCK, OpenFlags::O_RDWR.creat()).ok()?;
        for _ in 0..ATTEMPTS {
            match p.io.flock_nb(fd, FlockOp::Exclusive) {
                Ok(()) => return Some(Held::Flock(fd)),
                Err(Errno::EWOULDBLOCK) => continue,
                Err(_) => break,
            }
        }
        let _ = p.io.close(fd);
        return None;
    }
    for attempt in 1..=ATTEMPTS {
        match p.io.open(LOCK, OpenFlags::O_WRONLY.creat().excl()) {
            Ok(fd) => {
                let _ = p.io.write(fd, p.pid.to_string().as_bytes());
                let _ = p.io.close(fd);
                return Some(Held::File);
            }
            Err(Errno::EEXIST) if attempt < ATTEMPTS => clean_stale_lock(p, how),
            Err(_) => return None,
        }
    }
    None
}

/// `release()`: the lock file is removed, or the flock's descriptor closed.
fn release(p: &Proc, held: Held) {
    match held {
        Held::File => {
            let _ = p.io.unlink(LOCK);
        }
        Held::Flock(fd) => {
            let _ = p.io.close(fd);
        }
    }
}

/// One process: acquire, enter, leave, release. Returns whether it acquired the lock.
fn process(p: Proc, how: Lock) -> bool {
    let log = p.io.open(LOG, OpenFlags::O_WRONLY.creat().append());
    let Some(held) = acquire(&p, how) else {
        p.ctx.note(format!("gave up after {ATTEMPTS} attempts"));
        return false;
    };
    if let Ok(log) = log {
        let _ = p.io.write(log, format!("enter {}\n", p.name).as_bytes());
        let _ = p.io.write(log, format!("leave {}\n", p.name).as_bytes());
    }
    release(&p, held);
    true
}

/// Who is inside the critical section according to the log, or the first moment two were.
fn inside(log: &[u8]) -> Result<Vec<String>, String> {
    let mut now: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(log).lines() {
        match line.split_once(' ') {
            Some(("enter", who)) => {
                if !now.is_empty() {
                    return Err(format!("{who} entered while {} was inside", now.join(", ")));
                }
                now.push(who.to_string());
            }
            Some(("leave", who)) => now.retain(|w| w != who),
            _ => {}
        }
    }
    Ok(now)
}

/// The shared setup and threads: the lock's previous owner is gone; A and B acquire.
fn run(ctx: &Ctx, how: Lock, owner: Owner) {
    let fs = Fs::current();
    fs.setup_dir(DIR);
    let procs = Procs::with_pids(100, 102);
    let (a, b, owner_pid) = match owner {
        Owner::Dead => {
            let a = procs.setup_spawn("A");
            let b = procs.setup_spawn("B");
            let stale = Pid(102);
            ctx.setup(format!("the lock's owner, pid {stale}, died and was reaped: no process holds pid {stale}"));
            (a, b, stale)
        }
        Owner::PidReused => {
            ctx.setup("the lock's owner, pid 100, died and was reaped");
            let unrelated = procs.setup_spawn("unrelated");
            let a = procs.setup_spawn("A");
            let b = procs.setup_spawn("B");
            (a, b, unrelated)
        }
    };
    fs.setup_file(LOCK, owner_pid.to_string().as_bytes());

    let watch = fs.clone();
    ctx.always(&MUTUAL_EXCLUSION, move || {
        let log = watch.inspect(|st| st.contents(LOG)).unwrap_or_default();
        inside(&log).map(|_| ())
    });

    let mut names = vec![(a, "A"), (b, "B")];
    if owner == Owner::PidReused {
        names.push((owner_pid, "unrelated"));
    }
    // Every process's view of the file system is taken before any of them runs.
    let players: Vec<Proc> = [("A", a), ("B", b)]
        .into_iter()
        .map(|(name, pid)| Proc {
            ctx: ctx.clone(),
            name,
            pid,
            fs: fs.clone(),
            io: procs.fs_of(pid),
            procs: procs.clone(),
            names: names.clone(),
        })
        .collect();
    let mut handles = Vec::new();
    for p in players {
        let name = p.name;
        handles.push((name, ctx.spawn(name, move || process(p, how))));
    }
    let acquired: Vec<(&str, bool)> = handles.into_iter().map(|(n, h)| (n, h.join().unwrap())).collect();

    let shown = |path: &str| match fs.inspect(|st| st.contents(path)) {
        None => format!("{path} missing"),
        Some(d) => format!("{path} = {}", interleave::fs::show_bytes(&d)),
    };
    let who: Vec<String> = acquired
        .iter()
        .map(|(n, ok)| if *ok { format!("{n} acquired the lock") } else { format!("{n} gave up") })
        .collect();
    ctx.end(format!("{}; {}", who.join(", "), shown(LOCK)));
    ctx.check(&PROGRESS, acquired.iter().any(|(_, ok)| *ok), || {
        let holder = procs.inspect(|t| t.name(owner_pid).map(str::to_string));
        match holder {
            Some(name) => format!(
                "neither A nor B acquired the lock in {ATTEMPTS} attempts: the lock file names pid {owner_pid}, \
                 which {name} holds now, so it never looks stale"
            ),
            None => format!("neither A nor B acquired the lock in {ATTEMPTS} attempts"),
        }
    });
}

/// The index among steps of `thread`'s first attempt at the lock and of its `enter` (or its last
/// step, if it never entered).
fn attempt_window(t: &Trace, thread: &str) -> Option<(usize, usize)> {
    let i = t.thread_index(thread)?;
    let steps: Vec<&Step> = t.steps().collect();
    let attempt = |s: &&Step| s.call.starts_with(&format!("open(\"{LOCK}\"")) || s.call.starts_with("flock(");
    let first = steps.iter().position(|s| s.thread == i && attempt(s))?;
    let enter = format!("enter {thread}");
    let end = steps
        .iter()
        .position(|s| s.thread == i && s.call.contains(&enter))
        .or_else(|| steps.iter().rposition(|s| s.thread == i))?;
    Some((first, end))
}

/// Witness: A and B were both between their first attempt and entering at once.
fn both_trying(t: &Trace) -> bool {
    match (attempt_window(t, "A"), attempt_window(t, "B")) {
        (Some((a0, a1)), Some((b0, b1))) => a0 < b1 && b0 < a1,
        _ => false,
    }
}

/// Witness: a process asked for the flock and was refused because the other held it.
fn refused_while_held(t: &Trace) -> bool {
    t.steps().any(|s| s.call.starts_with("flock(") && s.result == "EWOULDBLOCK")
}

/// Witness (PID reuse): the lock file named a live process that is not its owner, and the lock
/// was acquired all the same.
fn acquired_despite_reuse(t: &Trace) -> bool {
    let acquired = t.rows.iter().any(|r| matches!(r, Row::Step(s) if s.call.contains("\"enter ")));
    acquired && t.setup.iter().any(|l| l.starts_with("process unrelated has pid"))
}

const BOTH_TRYING: Witness =
    Witness { name: "A and B were both between their first attempt and entering at once", reached: both_trying };
const REFUSED: Witness =
    Witness { name: "a flock was refused while the other process held it", reached: refused_while_held };
const REUSE_IGNORED: Witness = Witness {
    name: "the lock file named a live process that is not its owner, and the lock was acquired",
    reached: acquired_despite_reuse,
};

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "stale-lock",
    summary: "stale lock-file cleanup checks the owner's PID, then removes whatever file is at the path",
    source: Source { seed: "002_e7e22f33e81c5c71.txt", section: "Fix 1: TOCTOU in Stale Lock Cleanup" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "O_EXCL lock file with the owner's PID; a dead owner's file is unlinked",
            body: &|ctx| run(ctx, Lock::PidFileUnlink, Owner::Dead),
            witnesses: &[BOTH_TRYING],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix",
            expect: Expect::Counterexample,
            summary: "a dead owner's file is renamed to .removing, then unlinked",
            body: &|ctx| run(ctx, Lock::PidFileRename, Owner::Dead),
            witnesses: &[BOTH_TRYING],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "persistent lock file guarded by flock(LOCK_EX|LOCK_NB); nothing is ever removed",
            body: &|ctx| run(ctx, Lock::Flock, Owner::Dead),
            witnesses: &[BOTH_TRYING, REFUSED],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "buggy-pid-reuse",
            expect: Expect::Counterexample,
            summary: "as buggy, and the dead owner's PID now belongs to an unrelated live process",
            body: &|ctx| run(ctx, Lock::PidFileUnlink, Owner::PidReused),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix-pid-reuse",
            expect: Expect::Counterexample,
            summary: "as audit-fix, and the dead owner's PID now belongs to an unrelated live process",
            body: &|ctx| run(ctx, Lock::PidFileRename, Owner::PidReused),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed-pid-reuse",
            expect: Expect::Holds,
            summary: "as fixed, and the dead owner's PID now belongs to an unrelated live process",
            body: &|ctx| run(ctx, Lock::Flock, Owner::PidReused),
            witnesses: &[BOTH_TRYING, REFUSED, REUSE_IGNORED],
            ..Variant::DEFAULTS
        },
    ],
};
