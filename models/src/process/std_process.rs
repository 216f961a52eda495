//! Processes shaped like `std::process` (and the POSIX calls around it), on the execution's PID
//! table ([`super::Procs::current`]):
//!
//! - [`Builder::spawn`] starts a modeled process whose one thread runs a closure (what `fork`
//!   and the child's code do; a second program of the scenario, say the process running
//!   `read_all`). The thread, and every thread it spawns, belongs to that process: its files are
//!   the process's own descriptor table, its `flock`s the process's. The process exits, releasing
//!   them, when the closure returns, or at [`exit`]; when it is killed, its threads stop at their
//!   next step, as a killed process's threads do.
//! - [`Command::spawn`] starts an external program (no thread of the scenario): it runs until it
//!   is killed, or until the scenario says it finished ([`super::Procs::exit`]).
//! - [`Child`] is `std::process::Child`: [`Child::id`], [`Child::kill`], [`Child::wait`],
//!   [`Child::try_wait`], through a handle that cannot outlive its process (a pidfd): once the
//!   child is reaped it never signals a process that took its PID.
//! - [`kill`] and [`waitpid`] are the raw-PID calls (`kill(2)`, Python's `os.kill`, Go's
//!   `syscall.Kill`): they reach whoever holds the PID now, and the PID table hands a reaped
//!   process's PID to the next spawn.
//!
//! Errors are `std::io::Error`s with the real `raw_os_error` (`ESRCH`, `ECHILD`, `EAGAIN`).

use super::state::{self, ChildHandle, Errno, Pid};
pub use super::state::{ExitStatus, Signal};
use super::Procs;
use crate::fs::state::ProcId as FsProcId;
use harness::Ctx;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

/// The file-system identity of threads that belong to no modeled process: the scenario's own
/// program.
pub const PROGRAM_FS_ID: FsProcId = FsProcId(1);

/// The PID [`id`] gives threads that belong to no modeled process (the scenario's own program,
/// which is not in the PID table).
pub const PROGRAM_PID: u32 = 1;

/// A modeled process a thread belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its PID.
    pub pid: Pid,
    /// Its identity in the PID table (a PID can be reused; this cannot).
    pub proc_id: state::ProcId,
}

impl Member {
    /// Its identity in the file system (its descriptor table).
    pub fn fs_id(&self) -> FsProcId {
        FsProcId(super::FS_PROC_BASE + self.proc_id.0)
    }
}

/// Which modeled process the main thread of each modeled process is (other threads inherit their
/// spawner's).
#[derive(Default)]
struct Members(Mutex<BTreeMap<usize, Member>>);

fn members(ctx: &Ctx) -> Arc<Members> {
    ctx.local(Members::default)
}

/// The modeled process thread `idx` belongs to: its own, or its spawner's (up the chain); `None`
/// for a thread of the scenario's own program.
pub fn member_of(ctx: &Ctx, idx: usize) -> Option<Member> {
    let members = members(ctx);
    let map = members.0.lock().unwrap_or_else(|e| e.into_inner());
    let mut t = Some(idx);
    while let Some(i) = t {
        if let Some(m) = map.get(&i) {
            return Some(*m);
        }
        t = ctx.parent_of(i);
    }
    None
}

/// The modeled process of the calling thread (see [`member_of`]).
///
/// # Panics
/// Outside an execution.
pub fn current_member() -> Option<Member> {
    let ctx = Ctx::current();
    let me = ctx.current_thread().0;
    member_of(&ctx, me)
}

/// `std::process::id()`: the calling thread's process's PID ([`PROGRAM_PID`] for the scenario's
/// own program). Not a step: a process's own PID never changes.
pub fn id() -> u32 {
    current_member().map_or(PROGRAM_PID, |m| m.pid.0)
}

fn io_error(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.linux_code())
}

/// Cancels every thread that belongs to process `proc_id` but the calling one: they belong to a
/// process that has died.
fn cancel_threads_of(ctx: &Ctx, proc_id: state::ProcId) {
    let me = ctx.current_thread().0;
    for idx in 0..ctx.thread_count() {
        if idx != me && member_of(ctx, idx).is_some_and(|m| m.proc_id == proc_id) {
            ctx.cancel(idx);
        }
    }
}

/// A handle to a child process, shaped like `std::process::Child`.
pub struct Child {
    handle: ChildHandle,
    status: Option<ExitStatus>,
    /// The thread of a process started by [`Builder::spawn`], joined once the process has been
    /// waited for: when `waitpid` returns, the real process has no thread left, so neither may
    /// the model's (its thread still has to return from the closure after its exit step, and a
    /// read of the model before then would be a read while it runs).
    thread: Option<harness::JoinHandle<()>>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("handle", &self.handle).field("status", &self.status).finish_non_exhaustive()
    }
}

impl Child {
    /// The child's PID (`Child::id`).
    pub fn id(&self) -> u32 {
        self.handle.pid.0
    }

    /// `Child::kill`: `SIGKILL` through the handle. As in `std`, a child already waited for is
    /// not signalled (its PID may belong to another process by now) and `Ok` is returned.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let procs = Procs::current();
        let hit = procs.kill_handle(&self.handle, Signal::SIGKILL).map_err(io_error)?;
        if hit.died {
            cancel_threads_of(&Ctx::current(), hit.proc_id);
        }
        Ok(())
    }

    /// Joins the thread of a process started by [`Builder::spawn`] (not a step: it has made its
    /// last one, the exit). A cancelled thread (its process was killed) joins as `Err`, ignored.
    fn join_thread(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// `Child::wait`: waits for the child to exit and reaps it (a second `wait` returns the same
    /// status without a step).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let s = Procs::current().wait_handle(&mut self.handle).map_err(io_error)?;
        self.status = Some(s);
        self.join_thread();
        Ok(s)
    }

    /// `Child::try_wait`: the status if the child has exited (reaping it), `None` while it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let s = Procs::current().try_wait_handle(&mut self.handle).map_err(io_error)?;
        self.status = s;
        if s.is_some() {
            self.join_thread();
        }
        Ok(s)
    }
}

/// Starts a modeled process whose one thread runs a closure (see the module's documentation).
#[derive(Debug)]
pub struct Builder {
    name: String,
}

impl Builder {
    /// A process named `name` (its name in the PID table, and its thread's trace column).
    pub fn new(name: impl Into<String>) -> Builder {
        Builder { name: name.into() }
    }

    /// Spawns the process (one step, `spawn(name) = pid N`) and its thread, which runs `f`; the
    /// process exits with status 0 when `f` returns (one step, `exit(0) of pid N`).
    ///
    /// # Panics
    /// Outside an execution.
    pub fn spawn<F>(self, f: F) -> io::Result<Child>
    where
        F: FnOnce() + Send + 'static,
    {
        let ctx = Ctx::current();
        let procs = Procs::current();
        let handle = procs.spawn_child(&self.name).map_err(io_error)?;
        let member = Member { pid: handle.pid, proc_id: handle.proc_id };
        crate::fs::Fs::current().name_process(member.fs_id().0, format!("{} (pid {})", self.name, handle.pid));
        let members = members(&ctx);
        let c = ctx.clone();
        let thread = ctx.spawn(&self.name, move || {
            let me = c.current_thread().0;
            members.0.lock().unwrap_or_else(|e| e.into_inner()).insert(me, member);
            f();
            exit_process(&c, member, 0);
        });
        Ok(Child { handle, status: None, thread: Some(thread) })
    }
}

/// Ends process `member` with `code`: its exit step (which releases its files and locks), then
/// its other threads are cancelled.
fn exit_process(ctx: &Ctx, member: Member, code: i32) {
    // A process whose only thread ever is this one, and that closed its files, releases nothing in
    // the file system: its exit is a step on the PID table alone.
    let me = ctx.current_thread().0;
    let alone =
        (0..ctx.thread_count()).all(|i| i == me || member_of(ctx, i).is_none_or(|m| m.proc_id != member.proc_id));
    let procs = Procs::current();
    let exited = if alone { procs.exit_alone(member.pid, code) } else { procs.exit_self(member.pid, code) };
    // A process killed meanwhile has nothing left to end (and its threads are cancelled already).
    if exited.is_ok() {
        cancel_threads_of(ctx, member.proc_id);
    }
}

/// `std::process::exit` from a thread of a modeled process: the process exits with `code` (one
/// step, releasing its files and locks), and every one of its threads ends, this one included.
///
/// # Panics
/// Outside an execution, or (as a misuse) from the scenario's own program, which the model does
/// not end.
pub fn exit(code: i32) -> ! {
    let ctx = Ctx::current();
    let Some(member) = current_member() else {
        ctx.misuse(
            "process::exit was called by a thread of the scenario's own program".into(),
            "call it from a process started with interleave::process::Builder",
        )
    };
    exit_process(&ctx, member, code);
    std::panic::resume_unwind(Box::new(harness::Cancelled))
}

/// Starts an external program, shaped like `std::process::Command`: a process with no thread of
/// the scenario, which runs until killed or until the scenario says it finished.
#[derive(Debug)]
pub struct Command {
    program: String,
}

impl Command {
    /// A command that runs `program` (its name in the PID table and the trace).
    pub fn new(program: impl Into<String>) -> Command {
        Command { program: program.into() }
    }

    /// `Command::spawn`: one step, `spawn(program) = pid N`.
    ///
    /// # Panics
    /// Outside an execution.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let handle = Procs::current().spawn_child(&self.program).map_err(io_error)?;
        Ok(Child { handle, status: None, thread: None })
    }
}

/// `kill(2)` through a raw PID: reaches whoever holds `pid` now (`ESRCH` if nobody does).
pub fn kill(pid: u32, sig: Signal) -> io::Result<()> {
    let hit = Procs::current().kill(Pid(pid), sig).map_err(io_error)?;
    if hit.died {
        cancel_threads_of(&Ctx::current(), hit.proc_id);
    }
    Ok(())
}

/// `waitpid(2)` on a raw PID: waits while the process holding it runs, then reaps it (its PID is
/// free again).
pub fn waitpid(pid: u32) -> io::Result<ExitStatus> {
    Procs::current().waitpid(Pid(pid)).map_err(io_error)
}
