//! The modeled PID table: [`state::ProcTable`] (spawn, exit, kill, waitpid, PID reuse) made into
//! steps of an execution, each recorded in the words of the real call.
//!
//! A process's death (its own `exit`, or a fatal signal) releases what it holds in the file
//! system — its descriptors, and so its `flock`s — within the same step, as the kernel does: see
//! [`Procs::fs_of`]: the table is always tied to the execution's file system.

pub mod state;
mod std_process;

pub use std_process::{
    current_member, exit, id, kill, member_of, waitpid, Builder, Child, Command, ExitStatus, Member, Signal,
    PROGRAM_FS_ID, PROGRAM_PID,
};

use crate::fs::{Fs, FsProc};
use harness::{Ctx, Step};
use state::{ChildHandle, Errno, KillEffect, Pid, ProcState, ProcTable};
use std::sync::{Arc, Mutex, MutexGuard};

/// File-system process ids of modeled processes start here, so they never collide with the ids a
/// scenario gives its own threads' file-system views.
pub const FS_PROC_BASE: u32 = 10_000;

/// A PID table shared by the threads of one execution.
#[derive(Clone)]
pub struct Procs {
    ctx: Ctx,
    table: Arc<Mutex<ProcTable>>,
    fs: Fs,
}

/// The execution's PID table, kept by the execution (see `Ctx::local`).
struct Current(Procs);

/// The PID space of an execution's table unless a scenario asks for another: small, so that a
/// reaped PID comes round again within a scenario, as it does on a busy host.
pub const DEFAULT_PIDS: (u32, u32) = (100, 199);

fn shown<T>(r: &Result<T, Errno>, ok: impl FnOnce(&T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => e.to_string(),
    }
}

fn killed(r: &Result<KillEffect, Errno>) -> String {
    shown(r, |e| if e.died { format!("ok ({} dies)", e.name) } else { format!("ok (reaches {})", e.name) })
}

impl Procs {
    /// The execution's PID table, allocating PIDs from [`DEFAULT_PIDS`] unless [`Procs::with_pids`]
    /// made it first. A process's death releases its descriptors and locks in the execution's
    /// file system ([`Fs::current`]).
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn current() -> Procs {
        Procs::with_pids(DEFAULT_PIDS.0, DEFAULT_PIDS.1)
    }

    /// The execution's PID table, made to allocate PIDs from `pid_min..=pid_max` (lowest free
    /// first) if no thread has used it yet. A scenario that needs a particular PID space calls this
    /// before anything else touches processes.
    ///
    /// # Panics
    /// Outside an execution, or when the table exists already with another PID space.
    #[track_caller]
    pub fn with_pids(pid_min: u32, pid_max: u32) -> Procs {
        let ctx = Ctx::current();
        let fs = Fs::current();
        let p = ctx
            .local(|| {
                let table = Arc::new(Mutex::new(ProcTable::new(pid_min, pid_max)));
                let watched = Arc::clone(&table);
                ctx.describe("processes", move || {
                    let t = watched.lock().unwrap_or_else(|e| e.into_inner());
                    let live: Vec<String> =
                        t.live().iter().map(|(pid, _, name, st)| format!("pid {pid}: {name} ({st})")).collect();
                    if live.is_empty() {
                        "no process".into()
                    } else {
                        live.join("\n")
                    }
                });
                Current(Procs { ctx: ctx.clone(), table, fs: fs.clone() })
            })
            .0
            .clone();
        let range = p.st().pid_range();
        if range != (pid_min, pid_max) && (pid_min, pid_max) != DEFAULT_PIDS {
            ctx.misuse(
                format!("the execution's PID table allocates {}..={}, not {pid_min}..={pid_max}", range.0, range.1),
                "choose the PID space with Procs::with_pids before anything touches processes",
            );
        }
        p
    }

    fn st(&self) -> MutexGuard<'_, ProcTable> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file system as seen by process `pid` (its own descriptor table).
    ///
    /// # Panics
    /// For a PID no process holds.
    pub fn fs_of(&self, pid: Pid) -> FsProc {
        self.ctx.observe("processes");
        let id = self.st().proc_id(pid).expect("fs_of: no process holds that PID");
        self.fs.process(FS_PROC_BASE + id.0)
    }

    fn release(&self, id: state::ProcId) {
        self.fs.release_process(crate::fs::state::ProcId(FS_PROC_BASE + id.0));
    }

    fn step<R>(
        &self,
        ready: impl Fn(&ProcTable) -> Result<(), String> + Send + 'static,
        op: impl FnOnce(&mut ProcTable) -> (R, String, String),
    ) -> R {
        self.step_on("processes", ready, op)
    }

    /// A step that can end a process: with a file system attached, its death releases the
    /// process's files and locks in the same step, so the step touches both objects.
    fn death_step<R>(
        &self,
        ready: impl Fn(&ProcTable) -> Result<(), String> + Send + 'static,
        op: impl FnOnce(&mut ProcTable) -> (R, String, String),
    ) -> R {
        self.step_on("processes+fs", ready, op)
    }

    fn step_on<R>(
        &self,
        object: &str,
        ready: impl Fn(&ProcTable) -> Result<(), String> + Send + 'static,
        op: impl FnOnce(&mut ProcTable) -> (R, String, String),
    ) -> R {
        let watched = Arc::clone(&self.table);
        self.ctx.step(
            object,
            move || ready(&watched.lock().unwrap_or_else(|e| e.into_inner())),
            || {
                let (r, call, result) = op(&mut self.st());
                (r, Step::new(call, result))
            },
        )
    }

    /// A process before any thread runs (not a step).
    pub fn setup_spawn(&self, name: &str) -> Pid {
        let pid = self.st().spawn(name).expect("setup_spawn: the PID space is full");
        self.ctx.setup(format!("process {name} has pid {pid}"));
        pid
    }

    /// `fork`+`exec` of `name`: the new process's PID (the lowest free one).
    pub fn spawn(&self, name: &str) -> Result<Pid, Errno> {
        self.step(
            |_| Ok(()),
            |t| {
                let r = t.spawn(name);
                let res = shown(&r, |p| format!("pid {p}"));
                (r, format!("spawn({name})"), res)
            },
        )
    }

    /// `fork`+`exec` of `name` through an API that keeps a handle to the child (Go's
    /// `exec.Cmd.Start`, Rust's `Command::spawn`): the PID and the handle come from the same step,
    /// so the handle cannot name a process that replaced the child.
    pub fn spawn_child(&self, name: &str) -> Result<ChildHandle, Errno> {
        self.step(
            |_| Ok(()),
            |t| {
                let r = t.spawn(name).and_then(|pid| t.child_handle(pid));
                let res = shown(&r, |h| format!("pid {}", h.pid));
                (r, format!("spawn({name})"), res)
            },
        )
    }

    /// The process `pid` exits with `code` (made by the thread that plays that process). Its files
    /// and locks are released in the same step.
    pub fn exit(&self, pid: Pid, code: i32) -> Result<(), Errno> {
        self.exit_step(pid, code, false)
    }

    /// The calling thread's own process `pid` exits with `code`: as [`Procs::exit`], and in the
    /// same step the thread retires (it makes no more steps; see `Ctx::retire`), so nothing can
    /// run between the process's death and its thread's end.
    pub fn exit_self(&self, pid: Pid, code: i32) -> Result<(), Errno> {
        self.exit_step(pid, code, true)
    }

    fn exit_step(&self, pid: Pid, code: i32, retire: bool) -> Result<(), Errno> {
        self.death_step(
            |_| Ok(()),
            |t| {
                let r = t.exit(pid, code);
                if let Ok(id) = &r {
                    self.release(*id);
                    if retire {
                        self.ctx.retire();
                    }
                }
                let res = shown(&r, |_| "ok".into());
                (r.map(|_| ()), format!("exit({code}) of pid {pid}"), res)
            },
        )
    }

    /// [`Procs::exit_self`] made by the only thread process `pid` ever had, once it has closed every
    /// file: its death then releases nothing in the file system, so the step is on the PID table
    /// alone and commutes with every other process's file-system steps (a `processes+fs` step
    /// would be ordered against each of them, multiplying the schedules to explore for nothing).
    /// The thread retires in the same step. Falls back to [`Procs::exit_self`] when the process
    /// still holds a descriptor.
    pub fn exit_alone(&self, pid: Pid, code: i32) -> Result<(), Errno> {
        let id = self.st().proc_id(pid);
        let holds = id.is_some_and(|id| self.fs.holds_files(crate::fs::state::ProcId(FS_PROC_BASE + id.0)));
        if holds {
            return self.exit_self(pid, code);
        }
        self.step(
            |_| Ok(()),
            |t| {
                let r = t.exit(pid, code);
                if r.is_ok() {
                    self.ctx.retire();
                }
                let res = shown(&r, |_| "ok".into());
                (r.map(|_| ()), format!("exit({code}) of pid {pid}"), res)
            },
        )
    }

    /// `kill(pid, sig)` through a raw PID: reaches whoever holds the PID now.
    pub fn kill(&self, pid: Pid, sig: Signal) -> Result<KillEffect, Errno> {
        self.death_step(
            |_| Ok(()),
            |t| {
                let r = t.kill(pid, sig);
                if let Ok(e) = &r {
                    if e.died {
                        self.release(e.proc_id);
                    }
                }
                let res = killed(&r);
                (r, format!("kill({pid}, {sig})"), res)
            },
        )
    }

    /// A handle to the child `pid` (pidfd, Go's `os.Process`, Rust's `Child`), without a step.
    pub fn handle(&self, pid: Pid) -> Result<ChildHandle, Errno> {
        self.ctx.observe("processes");
        self.st().child_handle(pid)
    }

    /// Signals through a handle: refused once the handle's process was reaped.
    pub fn kill_handle(&self, h: &ChildHandle, sig: Signal) -> Result<KillEffect, Errno> {
        let h = *h;
        self.death_step(
            |_| Ok(()),
            |t| {
                let r = t.kill_handle(&h, sig);
                if let Ok(e) = &r {
                    if e.died {
                        self.release(e.proc_id);
                    }
                }
                let res = killed(&r);
                (r, format!("handle({}).kill({sig})", h.pid), res)
            },
        )
    }

    /// `waitpid(pid)`: waits while the process runs, then reaps it (its PID is free again).
    pub fn waitpid(&self, pid: Pid) -> Result<ExitStatus, Errno> {
        self.step(
            move |t| match t.waitpid_would_block(pid) {
                Ok(true) => Err(format!("waitpid({pid}): the process is running")),
                _ => Ok(()),
            },
            |t| {
                let r = t.waitpid(pid);
                let res = shown(&r, |s| s.to_string());
                (r, format!("waitpid({pid})"), res)
            },
        )
    }

    /// Non-blocking wait through a handle (`Child::try_wait`): the status if the process has
    /// exited (reaping it, and marking the handle reaped), `None` while it runs.
    pub fn try_wait_handle(&self, h: &mut ChildHandle) -> Result<Option<ExitStatus>, Errno> {
        self.step(
            |_| Ok(()),
            |t| {
                let r = t.try_wait_handle(h);
                let res = shown(&r, |s| s.map_or("still running".to_string(), |s| s.to_string()));
                (r, format!("handle({}).try_wait()", h.pid), res)
            },
        )
    }

    /// Waits through a handle, reaps, and marks the handle reaped.
    pub fn wait_handle(&self, h: &mut ChildHandle) -> Result<ExitStatus, Errno> {
        let watched = *h;
        self.step(
            move |t| match t.handle_would_block(&watched) {
                Ok(true) => Err(format!("wait on handle({}): the process is running", watched.pid)),
                _ => Ok(()),
            },
            |t| {
                let r = t.wait_handle(h);
                let res = shown(&r, |s| s.to_string());
                (r, format!("handle({}).wait()", h.pid), res)
            },
        )
    }

    /// The state of the process holding `pid` now, without a step.
    pub fn state(&self, pid: Pid) -> Option<ProcState> {
        self.ctx.observe("processes");
        self.st().state(pid)
    }

    /// Reads the table without a step: for invariants and end checks.
    pub fn inspect<R>(&self, f: impl FnOnce(&ProcTable) -> R) -> R {
        self.ctx.observe("processes");
        f(&self.st())
    }
}
