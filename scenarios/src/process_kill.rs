//! # process-kill — swap-then-kill of the active process
//!
//! Source: seed `004_d81902ba399f928a.txt`, "2. Active Process Management Race" (and its fix,
//! "Fix Requirements", "2. Process Lifecycle Management").
//!
//! A server runs one agent process per client and remembers it in `activeProcess`, guarded by
//! `processMutex`. Three pieces of code touch it:
//! - `stop` = lock; `p = active; active = None`; unlock; `terminate(p)`;
//! - `start` = spawn `q`; lock; `active = q`; unlock;
//! - the goroutine that started a command also waits for it: wait for its exit (which reaps it);
//!   lock; clear `active` if it is still that command; unlock.
//!
//! The audit says the copy used outside the mutex "may kill wrong process". Whether it can depends
//! on what `terminate` signals through. Through a **raw PID** (a PID file, `kill(pid)`,
//! `os.kill`) it can, because the OS hands a reaped process's PID to the next process it spawns.
//! The failing interleaving of the code as audited (`buggy`), with raw PIDs, 1 preemption:
//! 1. `stop` locks `processMutex`, takes `p` (pid 100) out of `active` and leaves `None`;
//! 2. `p` finishes its work and exits; its goroutine reaps it: pid 100 is free;
//! 3. `start` spawns `q`, which gets pid 100;
//! 4. `stop` unlocks and sends `SIGTERM` to pid 100: `q` dies, a process nobody meant to stop.
//!
//! The audit's fix (`audit-fix`: terminate while holding the lock) does not close this, because
//! the waiter reaps **outside** the lock. The same schedule, 1 preemption:
//! 1. `stop` locks `processMutex` and finds `p` (pid 100) in `active`;
//! 2. `p` exits and its goroutine reaps it, which needs no lock: pid 100 is free, though `active`
//!    still names `p` (clearing it waits for the lock `stop` holds);
//! 3. `start` spawns `q`, which gets pid 100;
//! 4. `stop`, still holding the lock, sends `SIGTERM` to pid 100: `q` dies.
//!
//! The lock orders the reads and writes of `active`, but not the reap that makes its PID stale;
//! the same happens when the reap and the spawn both come before `stop` takes the lock.
//!
//! `fixed` is the audit's fix with the signal sent through a handle that cannot outlive its
//! process (a pidfd, Go's `os.Process`, Rust's `Child`): in the schedule above the handle knows `p`
//! is gone and sends nothing. A raw-PID fix exists too: wait for the exit without reaping
//! (`waitid(…, WEXITED|WNOWAIT)`), then reap and clear `active` under the lock that `stop` holds
//! while signalling. That is what Go's `os.Process` does inside (it marks itself done and waits
//! out any signal in flight on `sigMu` before it reaps); the process model has no `WNOWAIT` wait,
//! so it is not modeled here.
//!
//! `handle-buggy` is the audited code, swap-then-kill outside the lock, with handle semantics: it
//! holds. A handle that outlives the swap signals `p` or nothing, never a newcomer. So the audit's
//! "may kill wrong process" needs raw PIDs. The Go code as audited keeps an `*exec.Cmd`, whose
//! `os.Process` refuses to signal once its `Wait` has begun to reap on Linux and FreeBSD (on
//! Darwin and OpenBSD Go's own source calls that window racy); the finding is real where the PID
//! leaks out as a number. The swap-then-kill leaves `active` naming nothing while `p` may still
//! run, which is harmless: `p` dies of the signal or has already finished.
//!
//! Invariant (b), no process left a zombie or running unless it is the active one, holds in every
//! variant: each process has its own goroutine that waits for it, and that wait reaps it whether
//! it finished on its own or was killed, by the right signal or the wrong one. So the audit's "or
//! leave zombie processes" is not reachable in this code; (b) stays as the check that it is not.
//!
//! Modeling choices:
//! - PIDs come from the tiny space 100..=101, lowest free first, so a reaped PID is the next one
//!   handed out (on a real host the allocator cycles, and a busy host brings it round as well).
//! - Each process's own exit (it finishes its work) is a step of the goroutine that waits for it,
//!   made just before the wait, rather than a thread of its own. This is equivalent for both
//!   invariants: the wait cannot reap before the process has ended anyway, so the scheduler still
//!   chooses the moment of the exit freely relative to every other thread, and a process that was
//!   killed first simply skips its exit. The one order it leaves out, `q` exiting between its
//!   spawn and being stored in `active`, only makes `q` a zombie sooner; a zombie keeps its PID
//!   until the same goroutine reaps it after storing it, so a signal sent to pid 100 meanwhile
//!   reaches `q` in both cases. It keeps the scenario at three threads.
//! - The waiter compares records (`*exec.Cmd` pointers in Go), not PIDs, as the audited code does;
//!   comparing PIDs would add a second reuse bug (clearing the newcomer's entry).
//! - Every command is started with its handle, taken in the same step as the spawn (as
//!   `exec.Cmd.Start` and `Command::spawn` do). Raw-PID variants signal and wait through its PID
//!   only; the handle's process identity is read by invariant (a) alone, to name the process a
//!   signal was meant for.
//! - `terminate` sends one `SIGTERM`; the escalation to `SIGKILL` after a timeout changes which
//!   signal arrives, not where.

use interleave::process::state::{ChildHandle, Signal};
use interleave::process::Procs;
use interleave::sync::{Arc, Mutex};
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// The PID space: two PIDs, so a reaped PID is reused by the next spawn.
const PID_MIN: u32 = 100;
const PID_MAX: u32 = 101;

/// (a) A signal only ever reaches the process it was meant for.
pub static RIGHT_PROCESS: Invariant = Invariant { name: "a signal only reaches the process it was meant for" };
/// (b) Once every thread has finished, no process is left a zombie or running unless it is the
/// active one.
pub static NONE_LEFT: Invariant = Invariant { name: "no process is left behind but the active one" };

/// What `terminate` signals through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `kill(pid, SIGTERM)`: reaches whoever holds the PID now.
    RawPid,
    /// A pidfd, Go's `os.Process`, Rust's `Child`: refuses once its process was reaped.
    Handle,
}

/// One variant of the code.
#[derive(Clone, Copy)]
struct How {
    kind: Kind,
    /// `stop` terminates while holding `processMutex` (the audit's fix), not after unlocking.
    kill_under_lock: bool,
}

/// A started command (`*exec.Cmd`): what `activeProcess` holds.
#[derive(Clone, Copy)]
struct Cmd {
    /// The record's identity (Go compares `*exec.Cmd` pointers).
    serial: u32,
    /// The process's name, for the trace.
    name: &'static str,
    /// The process, taken in the same step as its spawn.
    h: ChildHandle,
}

type Active = Arc<Mutex<Option<Cmd>>>;

/// `terminateProcess(c)`: one `SIGTERM`, through the raw PID or the handle. Checks (a) on the
/// process the signal reached.
fn terminate(ctx: &Ctx, procs: &Procs, kind: Kind, c: &Cmd) {
    let hit = match kind {
        Kind::RawPid => procs.kill(c.h.pid, Signal::SIGTERM),
        Kind::Handle => procs.kill_handle(&c.h, Signal::SIGTERM),
    };
    if let Ok(e) = &hit {
        ctx.check(&RIGHT_PROCESS, e.proc_id == c.h.proc_id, || {
            format!(
                "SIGTERM meant for {} (pid {}) reached {}, which took pid {} after {} was reaped",
                c.name, c.h.pid, e.name, e.pid, c.name
            )
        });
    }
}

/// `stop`: take the active command out of `active` and terminate it, after unlocking (as audited)
/// or before (the audit's fix).
fn stop(ctx: &Ctx, procs: &Procs, active: &Active, how: How) {
    let mut g = active.lock().unwrap();
    let p = *g;
    ctx.note(match &p {
        Some(c) => format!("active = {} (pid {})", c.name, c.h.pid),
        None => "active = None".to_string(),
    });
    if how.kill_under_lock {
        if let Some(c) = &p {
            terminate(ctx, procs, how.kind, c); // the audit's fix: signal while holding the lock
        }
        *g = None;
        drop(g);
    } else {
        *g = None;
        drop(g);
        if let Some(c) = &p {
            terminate(ctx, procs, how.kind, c);
        }
    }
}

/// The goroutine of one command (`executeAgentCommandWithSession`): start it and store it as
/// active (`q`; `p` was started before the scenario), let it finish its work, wait for it (which
/// reaps it), and clear `active` if it still holds this command.
fn run(ctx: &Ctx, procs: &Procs, active: &Active, kind: Kind, started: Option<Cmd>) {
    let me = match started {
        Some(c) => c,
        None => {
            let h = procs.spawn_child("q").expect("the PID space has room for q");
            let c = Cmd { serial: 2, name: "q", h };
            *active.lock().unwrap() = Some(c);
            c
        }
    };
    // The process finishes its work and exits, unless a signal ended it first: then there is no
    // process left to exit (the step finds it dead). Asking "am I still alive?" without a step
    // would read shared state at a moment no schedule controls.
    if procs.exit(me.h.pid, 0).is_err() {
        ctx.note(format!("{} was killed first", me.name));
    }
    let mut h = me.h;
    let _ = match kind {
        Kind::RawPid => procs.waitpid(h.pid),
        Kind::Handle => procs.wait_handle(&mut h),
    };
    ctx.note(format!("{} reaped (no lock): pid {} free", me.name, h.pid));
    let mut g = active.lock().unwrap();
    if g.is_some_and(|a| a.serial == me.serial) {
        *g = None;
    }
}

fn scenario(ctx: &Ctx, how: How) {
    let procs = Procs::with_pids(PID_MIN, PID_MAX);
    let pid = procs.setup_spawn("p");
    let p = Cmd { serial: 1, name: "p", h: procs.handle(pid).expect("p was just spawned") };
    let active: Active = Arc::new(Mutex::named("processMutex", Some(p)));
    ctx.setup("active = p");

    let (c, pr, a) = (ctx.clone(), procs.clone(), Arc::clone(&active));
    let run_p = ctx.spawn("run(p)", move || run(&c, &pr, &a, how.kind, Some(p)));
    let (c, pr, a) = (ctx.clone(), procs.clone(), Arc::clone(&active));
    let run_q = ctx.spawn("run(q)", move || run(&c, &pr, &a, how.kind, None));
    let (c, pr, a) = (ctx.clone(), procs.clone(), Arc::clone(&active));
    let stopper = ctx.spawn("stop", move || stop(&c, &pr, &a, how));
    run_p.join().unwrap();
    run_q.join().unwrap();
    stopper.join().unwrap();

    let active_now = active.inspect(|a| *a);
    let live = procs.inspect(|t| t.live());
    let left: Vec<String> = live
        .iter()
        .filter(|(_, id, _, _)| active_now.is_none_or(|a| a.h.proc_id != *id))
        .map(|(pid, _, name, st)| format!("{name} (pid {pid}) is {st}"))
        .collect();
    let shown: Vec<String> = live.iter().map(|(pid, _, name, st)| format!("{name} (pid {pid}) {st}")).collect();
    ctx.end(format!(
        "active = {}; processes: {}",
        active_now.map_or("None", |a| a.name),
        if shown.is_empty() { "none".to_string() } else { shown.join(", ") }
    ));
    ctx.check(&NONE_LEFT, left.is_empty(), || format!("{} though it is not the active one", left.join(", ")));
}

/// Witness: `stop` signalled `p`'s PID after `p` was reaped and `q` had been given that PID, the
/// window in which a raw PID reaches the newcomer.
fn signalled_reused_pid(t: &Trace) -> bool {
    let p = format!("{PID_MIN}");
    let steps: Vec<_> = t.steps().collect();
    let Some(reaped) = t.find_step("run(p)", "waitpid(").or_else(|| t.find_step("run(p)", "handle(")) else {
        return false;
    };
    let Some(spawned) = t.find_step("run(q)", "spawn(") else { return false };
    let Some(signal) = t.find_step("stop", "kill(").or_else(|| t.find_step("stop", "handle(")) else {
        return false;
    };
    steps[spawned].result == format!("pid {p}")
        && steps[signal].call.contains(&p)
        && reaped < spawned
        && spawned < signal
}

static WITNESSES: &[Witness] =
    &[Witness { name: "stop signalled p after p was reaped and q took its pid", reached: signalled_reused_pid }];

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "process-kill",
    summary: "stop swaps the active process out under the lock, then terminates it; its PID may be reused by then",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "2. Active Process Management Race" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "raw PID; stop terminates after unlocking",
            body: &|ctx| scenario(ctx, How { kind: Kind::RawPid, kill_under_lock: false }),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix",
            expect: Expect::Counterexample,
            summary: "raw PID; stop terminates while holding the lock, but the waiter reaps outside it",
            body: &|ctx| scenario(ctx, How { kind: Kind::RawPid, kill_under_lock: true }),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "a handle that refuses once its process was reaped; terminate under the lock",
            body: &|ctx| scenario(ctx, How { kind: Kind::Handle, kill_under_lock: true }),
            witnesses: WITNESSES,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "handle-buggy",
            expect: Expect::Holds,
            summary: "the audited swap-then-kill, but through a handle: the wrong kill needs raw PIDs",
            body: &|ctx| scenario(ctx, How { kind: Kind::Handle, kill_under_lock: false }),
            witnesses: WITNESSES,
            ..Variant::DEFAULTS
        },
    ],
};
