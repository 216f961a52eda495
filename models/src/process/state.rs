//! A pure, deterministic, single-threaded model of a Unix PID table, as seen
//! by one supervisor that spawns, signals and reaps worker processes.
//!
//! [`ProcTable`] is a plain state machine: every method that changes it is one
//! system call (or one library call built on one), applied atomically. It
//! does no I/O, has no clock and no randomness, and every collection is a
//! `BTreeMap`/`Vec`, so two runs of the same sequence of calls produce
//! identical tables. The scheduling layer above makes each such method one
//! step of a model-checked execution and records it in the trace.
//!
//! # What it is for
//!
//! The bug class it exists to expose is **PID reuse**: a PID names a slot in a
//! table, not a process. Once a process has exited *and been reaped*, the
//! kernel may hand its PID to an unrelated newcomer, and anything that kept
//! the bare number (a PID file, a variable filled from `os.getpid()` in the
//! child, a log line) and later calls `kill(pid, …)` signals the newcomer.
//! The model therefore keeps two identities apart:
//!
//! * a [`Pid`]: the number, allocated from a small range and **reused**;
//! * a [`ProcId`]: the process itself, allocated sequentially and **never
//!   reused**. The file-system model keys descriptor tables by it, so a
//!   process that inherits a reused PID does not inherit its predecessor's
//!   descriptors or locks.
//!
//! and two kinds of handle on a process:
//!
//! * [`RawPid`]: just the number (a PID file, `os.kill(pid)`, `kill(2)`):
//!   no memory, reaches whatever process holds the number *now*;
//! * [`ChildHandle`]: a handle on the process (Linux `pidfd`, Go's
//!   `os.Process`, Rust's `std::process::Child`): it remembers which process
//!   it refers to and refuses to signal anything else.
//!
//! # Lifecycle
//!
//! A process is [`ProcState::Running`] from [`ProcTable::spawn`] until it
//! exits by itself ([`ProcTable::exit`]) or is killed by a signal
//! ([`ProcTable::kill`]); it is then a [`ProcState::Zombie`] carrying its
//! [`ExitStatus`]. A zombie **still holds its PID** (signalling it succeeds
//! and does nothing, as on Linux). Only when the supervisor reaps it
//! ([`ProcTable::waitpid`], [`ProcTable::try_waitpid`],
//! [`ProcTable::wait_handle`]) does it leave the table and its PID become
//! free.
//!
//! # PID allocation
//!
//! The PID space is a small inclusive range `pid_min..=pid_max`, and each
//! spawn takes the **lowest free PID** in it. Linux allocates cyclically
//! instead (the next PID after the last one handed out, wrapping at
//! `/proc/sys/kernel/pid_max`), so on an idle machine a PID comes back only
//! after millions of spawns. On a busy host (or in a container with a small
//! `pid_max`) the cycle comes round quickly and reuse is real; lowest-free
//! allocation in a tiny range is the simplification that makes the same reuse
//! happen in a scenario with two or three processes, so the checker can find
//! it. Any schedule that reuses a PID in the model corresponds to a real one
//! on a host busy enough to run the allocator round in between.
//!
//! # Parents
//!
//! Every process is a child of the one supervisor the model stands for, so
//! `waitpid` is allowed on any PID; `ECHILD` means "no process holds this
//! PID" (never spawned, or already reaped). Process groups, sessions and
//! re-parenting are not modeled; `Pid(0)` (which `kill(2)` and `waitpid(2)`
//! read as "my process group") is refused with `EINVAL`.
//!
//! # Not modeled
//!
//! Signal handlers, ignored or blocked signals (every signal here has its
//! default disposition), stop/continue (`SIGSTOP`, `SIGCONT`, traced
//! states), permissions (`EPERM`), `SIGCHLD` and automatic reaping
//! (`SA_NOCLDWAIT`), threads, `exec`, and PID namespaces. Signal delivery is
//! part of the `kill` step: on Linux `kill(2)` can return before the target
//! has become a zombie (the differential test polls for this), so a program
//! that does `kill` and then an immediate `waitpid(WNOHANG)` may see "still
//! running" on Linux but not in this model.

use std::collections::BTreeMap;
use std::fmt;

/// An error number, named as on Linux.
#[allow(clippy::upper_case_acronyms)] // The POSIX names are the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Errno {
    /// No such process (3): no process holds the PID, or a handle refuses
    /// because its process is gone.
    ESRCH,
    /// No child processes (10): `waitpid` on a PID no process holds.
    ECHILD,
    /// Resource temporarily unavailable (11): the PID space is full.
    EAGAIN,
    /// Operation would block: returned defensively by a blocking wait on a
    /// running process, which the scheduling layer never issues (it waits
    /// until the matching `*_would_block` method answers `false`). On Linux
    /// this is the same number as `EAGAIN`; the model keeps the names apart
    /// so a trace says which one happened.
    EWOULDBLOCK,
    /// Invalid argument (22): `Pid(0)`, i.e. a process-group operation,
    /// which the model does not have.
    EINVAL,
}

impl Errno {
    /// The number Linux uses for it (`EWOULDBLOCK` is `EAGAIN`'s).
    pub const fn linux_code(self) -> i32 {
        match self {
            Errno::ESRCH => 3,
            Errno::ECHILD => 10,
            Errno::EAGAIN | Errno::EWOULDBLOCK => 11,
            Errno::EINVAL => 22,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Debug form of a fieldless variant is exactly its name.
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

/// A process ID: a number in the table's PID range, reused after its process
/// is reaped. Displays as the bare number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u32);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The identity of one process, allocated sequentially from 1 and never
/// reused (unlike its [`Pid`]). Per-process resources (descriptor tables,
/// locks) are keyed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcId(pub u32);

/// The signals the model knows. Each displays as its name.
#[allow(clippy::upper_case_acronyms)] // The POSIX names are the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// Polite termination request (15). Terminates (default disposition).
    SIGTERM,
    /// Forced termination (9). Terminates.
    SIGKILL,
    /// Interrupt from the terminal (2). Terminates (default disposition).
    SIGINT,
    /// Signal 0: checks that some process holds the PID and delivers
    /// nothing. Displays as `SIG0`.
    SIG0,
}

impl Signal {
    /// The Linux signal number (0 for [`Signal::SIG0`]).
    pub const fn number(self) -> i32 {
        match self {
            Signal::SIGTERM => 15,
            Signal::SIGKILL => 9,
            Signal::SIGINT => 2,
            Signal::SIG0 => 0,
        }
    }

    /// The signal with Linux number `n`, if the model knows it.
    pub const fn from_number(n: i32) -> Option<Signal> {
        match n {
            15 => Some(Signal::SIGTERM),
            9 => Some(Signal::SIGKILL),
            2 => Some(Signal::SIGINT),
            0 => Some(Signal::SIG0),
            _ => None,
        }
    }

    /// Whether delivering it to a running process ends the process (true for
    /// every signal but [`Signal::SIG0`], since all dispositions are the
    /// default).
    pub const fn terminates(self) -> bool {
        !matches!(self, Signal::SIG0)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How a process ended, as `waitpid` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitStatus {
    /// It called `exit(code)`; `code` is the low 8 bits (0..=255), as
    /// `WEXITSTATUS` reports it.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
}

impl ExitStatus {
    /// Whether it exited with 0 (`std::process::ExitStatus::success`).
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }

    /// Its exit code, if it exited (`ExitStatus::code`).
    pub fn code(&self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(*c),
            ExitStatus::Signaled(_) => None,
        }
    }

    /// The signal that killed it, if one did (`ExitStatusExt::signal`).
    pub fn signal(&self) -> Option<Signal> {
        match self {
            ExitStatus::Exited(_) => None,
            ExitStatus::Signaled(s) => Some(*s),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited {code}"),
            ExitStatus::Signaled(sig) => write!(f, "killed by {sig}"),
        }
    }
}

/// The state of a process that holds a PID. A reaped process has no state:
/// it is gone from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProcState {
    /// Alive.
    Running,
    /// Exited or killed, not yet reaped; still holds its PID.
    Zombie {
        /// What `waitpid` will report.
        status: ExitStatus,
    },
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcState::Running => write!(f, "running"),
            ProcState::Zombie { status } => write!(f, "zombie ({status})"),
        }
    }
}

/// What a successful `kill` did: which process held the PID and whether the
/// signal ended it. The caller compares `proc_id` with the process it meant
/// to signal (a mismatch is "signal reached the wrong process"), and on
/// `died` releases the victim's files and locks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KillEffect {
    /// The PID signalled.
    pub pid: Pid,
    /// The process that held it when the signal arrived.
    pub proc_id: ProcId,
    /// That process's name, for the trace.
    pub name: String,
    /// Whether the signal turned it from running into a zombie (false for
    /// [`Signal::SIG0`] and for a process that was already a zombie).
    pub died: bool,
}

/// A bare PID kept for later, with no memory of which process it named: a
/// PID file, a number passed to `os.kill(pid)` or `kill(2)`. Signalling
/// through it reaches whichever process holds the number at that moment
/// ([`ProcTable::kill_raw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawPid(pub Pid);

/// A handle on one particular process: Linux `pidfd`, Go's `os.Process`,
/// Rust's `std::process::Child`. It refuses to signal once it knows its
/// process was reaped, and when the PID is now held by a different process
/// ([`ProcTable::kill_handle`]). Take one with [`ProcTable::child_handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildHandle {
    /// The PID its process had.
    pub pid: Pid,
    /// The process it refers to.
    pub proc_id: ProcId,
    /// Whether a wait through this handle (or one that found the process
    /// already gone) has observed the process reaped.
    pub reaped: bool,
}

/// One process in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    proc_id: ProcId,
    name: String,
    state: ProcState,
}

/// The PID table: every process that holds a PID (running or zombie), the
/// PID range, and the next [`ProcId`]. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcTable {
    pid_min: u32,
    pid_max: u32,
    /// The next `ProcId` to hand out; `None` once all 2^32 - 1 are used.
    next_proc_id: Option<u32>,
    procs: BTreeMap<Pid, Entry>,
}

impl ProcTable {
    /// An empty table allocating PIDs from `pid_min..=pid_max`. PID 0 is not
    /// a process (it means "my process group" to `kill`), so a `pid_min` of 0
    /// is raised to 1; an empty range (`pid_min > pid_max`) makes every
    /// spawn fail with `EAGAIN`.
    pub fn new(pid_min: u32, pid_max: u32) -> ProcTable {
        ProcTable { pid_min: pid_min.max(1), pid_max, next_proc_id: Some(1), procs: BTreeMap::new() }
    }

    /// The PID space, `(pid_min, pid_max)`.
    pub fn pid_range(&self) -> (u32, u32) {
        (self.pid_min, self.pid_max)
    }

    /// `fork`+`exec` by the supervisor: a new running process called `name`
    /// gets the lowest free PID in the range and a fresh [`ProcId`].
    /// `EAGAIN` when every PID is held (by running processes or zombies).
    pub fn spawn(&mut self, name: &str) -> Result<Pid, Errno> {
        let pid = self.lowest_free_pid().ok_or(Errno::EAGAIN)?;
        let id = self.next_proc_id.ok_or(Errno::EAGAIN)?;
        self.next_proc_id = id.checked_add(1);
        self.procs.insert(pid, Entry { proc_id: ProcId(id), name: name.to_string(), state: ProcState::Running });
        Ok(pid)
    }

    /// The process itself calls `exit(code)`: it becomes a zombie with
    /// `Exited(code & 0xff)` (only the low 8 bits reach `waitpid`, as on
    /// Linux). Returns its [`ProcId`] so the caller can release its files and
    /// locks. `ESRCH` if no running process holds `pid` (a zombie cannot
    /// exit again).
    pub fn exit(&mut self, pid: Pid, code: i32) -> Result<ProcId, Errno> {
        let entry = self.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        match entry.state {
            ProcState::Running => {
                entry.state = ProcState::Zombie { status: ExitStatus::Exited(code & 0xff) };
                Ok(entry.proc_id)
            }
            ProcState::Zombie { .. } => Err(Errno::ESRCH),
        }
    }

    /// `kill(pid, sig)`: reaches **whatever process holds `pid` now**. A
    /// running process dies of any signal but [`Signal::SIG0`] (default
    /// dispositions) and becomes a zombie with `Signaled(sig)`; a zombie
    /// still holds its PID, so signalling it succeeds and changes nothing.
    /// `ESRCH` if no process holds `pid` (never spawned, or reaped);
    /// `EINVAL` for `Pid(0)` (process groups are not modeled).
    pub fn kill(&mut self, pid: Pid, sig: Signal) -> Result<KillEffect, Errno> {
        if pid.0 == 0 {
            return Err(Errno::EINVAL);
        }
        let entry = self.procs.get_mut(&pid).ok_or(Errno::ESRCH)?;
        let died = entry.state == ProcState::Running && sig.terminates();
        if died {
            entry.state = ProcState::Zombie { status: ExitStatus::Signaled(sig) };
        }
        Ok(KillEffect { pid, proc_id: entry.proc_id, name: entry.name.clone(), died })
    }

    /// `kill` through a bare number: exactly [`ProcTable::kill`] on
    /// `raw.0`, which is the point (a [`RawPid`] has no memory).
    pub fn kill_raw(&mut self, raw: RawPid, sig: Signal) -> Result<KillEffect, Errno> {
        self.kill(raw.0, sig)
    }

    /// A handle on the process that holds `pid` now (running or zombie), as
    /// `pidfd_open(2)` gives one; `ESRCH` if none does, `EINVAL` for
    /// `Pid(0)`. Inspection, not a step: to hold a handle on a process from
    /// its birth, take it in the same step as the spawn (as `Child` and Go's
    /// `os.StartProcess` do); taking one later from a stored PID has the
    /// very race the handle is meant to close.
    pub fn child_handle(&self, pid: Pid) -> Result<ChildHandle, Errno> {
        if pid.0 == 0 {
            return Err(Errno::EINVAL);
        }
        let entry = self.procs.get(&pid).ok_or(Errno::ESRCH)?;
        Ok(ChildHandle { pid, proc_id: entry.proc_id, reaped: false })
    }

    /// Signal through a handle (`pidfd_send_signal(2)`, Go's
    /// `Process.Signal`, Rust's `Child::kill` for `SIGKILL`). Refuses with
    /// `ESRCH` once the handle knows its process was reaped, and when the
    /// PID is free or held by a different process (a handle refers to the
    /// process, not the number); otherwise it is [`ProcTable::kill`] on the
    /// handle's PID.
    ///
    /// Mapping of the refusal: `pidfd_send_signal` returns `ESRCH`; Go
    /// returns `os.ErrProcessDone`; Rust's `Child::kill` returned an
    /// `InvalidInput` error before rust-lang/rust#112594 and returns `Ok(())`
    /// without sending anything since. All of them send no signal, which is
    /// what the model's `ESRCH` stands for.
    pub fn kill_handle(&mut self, h: &ChildHandle, sig: Signal) -> Result<KillEffect, Errno> {
        if h.reaped || !self.holds(h) {
            return Err(Errno::ESRCH);
        }
        self.kill(h.pid, sig)
    }

    /// `waitpid(pid, 0)`: reaps the zombie that holds `pid` and returns its
    /// status; the PID becomes free. `ECHILD` if no process holds `pid`
    /// (every process is the supervisor's child in this model, so this means
    /// never spawned or already reaped); `EINVAL` for `Pid(0)`. On a running
    /// process the real call blocks: the scheduling layer waits until
    /// [`ProcTable::waitpid_would_block`] is false before issuing it, and if
    /// it is issued anyway it returns `EWOULDBLOCK` and changes nothing.
    pub fn waitpid(&mut self, pid: Pid) -> Result<ExitStatus, Errno> {
        match self.try_waitpid(pid)? {
            Some(status) => Ok(status),
            None => Err(Errno::EWOULDBLOCK),
        }
    }

    /// Whether `waitpid(pid)` would block now: `Ok(true)` while the process
    /// holding `pid` is running, `Ok(false)` once it is a zombie; the errors
    /// of [`ProcTable::waitpid`] otherwise.
    pub fn waitpid_would_block(&self, pid: Pid) -> Result<bool, Errno> {
        if pid.0 == 0 {
            return Err(Errno::EINVAL);
        }
        let entry = self.procs.get(&pid).ok_or(Errno::ECHILD)?;
        Ok(entry.state == ProcState::Running)
    }

    /// `waitpid(pid, WNOHANG)` (Rust's `Child::try_wait`): `Ok(None)` while
    /// the process holding `pid` runs; reaps a zombie and returns
    /// `Ok(Some(status))`; the errors of [`ProcTable::waitpid`] otherwise.
    pub fn try_waitpid(&mut self, pid: Pid) -> Result<Option<ExitStatus>, Errno> {
        if pid.0 == 0 {
            return Err(Errno::EINVAL);
        }
        let status = match self.procs.get(&pid).ok_or(Errno::ECHILD)?.state {
            ProcState::Running => return Ok(None),
            ProcState::Zombie { status } => status,
        };
        self.procs.remove(&pid);
        Ok(Some(status))
    }

    /// Wait through a handle (`waitid(P_PIDFD, …)`, Go's `Process.Wait`,
    /// Rust's `Child::wait`): reaps the handle's process, returns its status
    /// and marks the handle reaped. `ECHILD` if the handle already knows its
    /// process was reaped, or finds it gone (reaped through a raw
    /// `waitpid`, its PID free or reused); the handle is then marked reaped
    /// too. `EWOULDBLOCK` (changing nothing) while the process runs, as for
    /// [`ProcTable::waitpid`]; see [`ProcTable::handle_would_block`].
    ///
    /// Rust's `Child::wait` and `try_wait` return the cached status again
    /// after a successful wait instead of `ECHILD`; they reap nothing either
    /// way.
    pub fn wait_handle(&mut self, h: &mut ChildHandle) -> Result<ExitStatus, Errno> {
        match self.try_wait_handle(h)? {
            Some(status) => Ok(status),
            None => Err(Errno::EWOULDBLOCK),
        }
    }

    /// Non-blocking wait through a handle (Rust's `Child::try_wait`,
    /// `waitid(P_PIDFD, …, WNOHANG)`): `Ok(None)` while the process runs;
    /// otherwise as [`ProcTable::wait_handle`].
    pub fn try_wait_handle(&mut self, h: &mut ChildHandle) -> Result<Option<ExitStatus>, Errno> {
        if h.reaped {
            return Err(Errno::ECHILD);
        }
        if !self.holds(h) {
            h.reaped = true;
            return Err(Errno::ECHILD);
        }
        let status = self.try_waitpid(h.pid)?;
        if status.is_some() {
            h.reaped = true;
        }
        Ok(status)
    }

    /// Whether a wait through `h` would block now: `Ok(true)` while its
    /// process runs, `Ok(false)` when it is a zombie; `ECHILD` when a wait
    /// through it would fail.
    pub fn handle_would_block(&self, h: &ChildHandle) -> Result<bool, Errno> {
        if h.reaped || !self.holds(h) {
            return Err(Errno::ECHILD);
        }
        self.waitpid_would_block(h.pid)
    }

    /// The state of the process holding `pid`, or `None` if no process
    /// holds it. Inspection, not a step.
    pub fn state(&self, pid: Pid) -> Option<ProcState> {
        self.procs.get(&pid).map(|e| e.state)
    }

    /// The identity of the process holding `pid`, if any. Inspection.
    pub fn proc_id(&self, pid: Pid) -> Option<ProcId> {
        self.procs.get(&pid).map(|e| e.proc_id)
    }

    /// The name of the process holding `pid`, if any. Inspection.
    pub fn name(&self, pid: Pid) -> Option<&str> {
        self.procs.get(&pid).map(|e| e.name.as_str())
    }

    /// Every process that holds a PID (running or zombie), in PID order.
    /// Inspection, not a step.
    pub fn live(&self) -> Vec<(Pid, ProcId, String, ProcState)> {
        self.procs.iter().map(|(pid, e)| (*pid, e.proc_id, e.name.clone(), e.state)).collect()
    }

    /// Whether the process `h` refers to still holds `h.pid`.
    fn holds(&self, h: &ChildHandle) -> bool {
        self.proc_id(h.pid) == Some(h.proc_id)
    }

    /// The lowest PID in the range that no process holds, walking the held
    /// ones in order (so the cost is the number of processes, not the size
    /// of the range).
    fn lowest_free_pid(&self) -> Option<Pid> {
        if self.pid_min > self.pid_max {
            return None;
        }
        let mut candidate = self.pid_min;
        for pid in self.procs.range(Pid(self.pid_min)..=Pid(self.pid_max)).map(|(pid, _)| pid.0) {
            if pid != candidate {
                break;
            }
            // The range is full up to `pid`; the next candidate is past it.
            candidate = match pid.checked_add(1) {
                Some(next) if next <= self.pid_max => next,
                _ => return None,
            };
        }
        Some(Pid(candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spawns `names` in order, returning their PIDs.
    fn spawn_all(t: &mut ProcTable, names: &[&str]) -> Vec<Pid> {
        names.iter().map(|n| t.spawn(n).expect("spawn")).collect()
    }

    #[test]
    fn spawn_takes_the_lowest_free_pid() {
        let mut t = ProcTable::new(100, 109);
        assert_eq!(spawn_all(&mut t, &["a", "b", "c"]), vec![Pid(100), Pid(101), Pid(102)]);
        t.kill(Pid(101), Signal::SIGTERM).unwrap();
        t.waitpid(Pid(101)).unwrap();
        // 101 is the lowest free one now, below 103.
        assert_eq!(t.spawn("d"), Ok(Pid(101)));
        assert_eq!(t.spawn("e"), Ok(Pid(103)));
        // Holes are found anywhere, not only at the start.
        t.kill(Pid(100), Signal::SIGKILL).unwrap();
        t.waitpid(Pid(100)).unwrap();
        t.exit(Pid(102), 0).unwrap();
        t.waitpid(Pid(102)).unwrap();
        assert_eq!(t.spawn("f"), Ok(Pid(100)));
        assert_eq!(t.spawn("g"), Ok(Pid(102)));
        assert_eq!(t.spawn("h"), Ok(Pid(104)));
    }

    #[test]
    fn a_pid_is_reused_only_after_its_process_is_reaped() {
        let mut t = ProcTable::new(1, 3);
        let old = t.spawn("old").unwrap();
        let old_id = t.proc_id(old).unwrap();
        t.exit(old, 0).unwrap();
        // A zombie holds its PID: the next spawn takes another one.
        let other = t.spawn("other").unwrap();
        assert_ne!(other, old);
        assert_eq!(t.waitpid(old), Ok(ExitStatus::Exited(0)));
        assert_eq!(t.state(old), None);
        // Reaped: the PID is free and the newcomer gets it, with a new
        // identity.
        let new = t.spawn("new").unwrap();
        assert_eq!(new, old);
        assert_ne!(t.proc_id(new), Some(old_id));
        assert_eq!(t.name(new), Some("new"));
    }

    #[test]
    fn proc_ids_are_never_reused() {
        let mut t = ProcTable::new(1, 1);
        let mut seen = Vec::new();
        for _ in 0..5 {
            let pid = t.spawn("w").unwrap();
            assert_eq!(pid, Pid(1));
            seen.push(t.proc_id(pid).unwrap());
            t.kill(pid, Signal::SIGKILL).unwrap();
            t.waitpid(pid).unwrap();
        }
        assert_eq!(seen, vec![ProcId(1), ProcId(2), ProcId(3), ProcId(4), ProcId(5)]);
    }

    /// The audit's bug: a supervisor keeps a worker's PID (a PID file), the
    /// worker dies and is reaped, an unrelated process is spawned and gets
    /// the same PID, and the supervisor's later "stop the worker" kills the
    /// newcomer.
    #[test]
    fn kill_through_a_stale_raw_pid_hits_the_newcomer() {
        let mut t = ProcTable::new(1, 4);
        let worker = t.spawn("worker").unwrap();
        let worker_id = t.proc_id(worker).unwrap();
        let pid_file = RawPid(worker);
        t.exit(worker, 1).unwrap();
        assert_eq!(t.waitpid(worker), Ok(ExitStatus::Exited(1)));
        // Before reuse the stale PID reaches nobody.
        assert_eq!(t.kill_raw(pid_file, Signal::SIG0), Err(Errno::ESRCH));
        let newcomer = t.spawn("db").unwrap();
        assert_eq!(newcomer, worker);
        let newcomer_id = t.proc_id(newcomer).unwrap();
        let hit = t.kill_raw(pid_file, Signal::SIGTERM).unwrap();
        assert_eq!(hit, KillEffect { pid: worker, proc_id: newcomer_id, name: "db".to_string(), died: true });
        assert_ne!(hit.proc_id, worker_id, "the signal reached the wrong process");
        assert_eq!(t.state(newcomer), Some(ProcState::Zombie { status: ExitStatus::Signaled(Signal::SIGTERM) }));
    }

    #[test]
    fn child_handle_refuses_after_reap() {
        let mut t = ProcTable::new(1, 4);
        let pid = t.spawn("worker").unwrap();
        let mut h = t.child_handle(pid).unwrap();
        assert_eq!(t.handle_would_block(&h), Ok(true));
        assert_eq!(t.wait_handle(&mut h), Err(Errno::EWOULDBLOCK));
        assert!(!h.reaped);
        let hit = t.kill_handle(&h, Signal::SIGTERM).unwrap();
        assert!(hit.died);
        assert_eq!(t.handle_would_block(&h), Ok(false));
        assert_eq!(t.wait_handle(&mut h), Ok(ExitStatus::Signaled(Signal::SIGTERM)));
        assert!(h.reaped);
        assert_eq!(t.kill_handle(&h, Signal::SIGKILL), Err(Errno::ESRCH));
        assert_eq!(t.kill_handle(&h, Signal::SIG0), Err(Errno::ESRCH));
        assert_eq!(t.wait_handle(&mut h), Err(Errno::ECHILD));
        assert_eq!(t.try_wait_handle(&mut h), Err(Errno::ECHILD));
        assert_eq!(t.handle_would_block(&h), Err(Errno::ECHILD));
        // Even with the PID held again, the reaped handle refuses.
        let newcomer = t.spawn("db").unwrap();
        assert_eq!(newcomer, pid);
        assert_eq!(t.kill_handle(&h, Signal::SIGKILL), Err(Errno::ESRCH));
        assert_eq!(t.state(newcomer), Some(ProcState::Running));
    }

    #[test]
    fn child_handle_refuses_after_reuse_even_without_knowing_of_the_reap() {
        let mut t = ProcTable::new(1, 4);
        let pid = t.spawn("worker").unwrap();
        let mut h = t.child_handle(pid).unwrap();
        // Someone reaps through the raw PID: the handle is not told.
        t.exit(pid, 3).unwrap();
        assert_eq!(t.waitpid(pid), Ok(ExitStatus::Exited(3)));
        assert!(!h.reaped);
        let newcomer = t.spawn("db").unwrap();
        assert_eq!(newcomer, pid);
        assert_eq!(t.kill_handle(&h, Signal::SIGKILL), Err(Errno::ESRCH));
        assert_eq!(t.kill_handle(&h, Signal::SIG0), Err(Errno::ESRCH));
        assert_eq!(t.handle_would_block(&h), Err(Errno::ECHILD));
        assert_eq!(t.state(newcomer), Some(ProcState::Running));
        // A wait through it does not reap the newcomer, and teaches the
        // handle that its process is gone.
        t.kill(newcomer, Signal::SIGTERM).unwrap();
        assert_eq!(t.wait_handle(&mut h), Err(Errno::ECHILD));
        assert!(h.reaped);
        assert_eq!(t.state(newcomer), Some(ProcState::Zombie { status: ExitStatus::Signaled(Signal::SIGTERM) }));
    }

    #[test]
    fn a_zombie_holds_its_pid_and_ignores_signals() {
        let mut t = ProcTable::new(1, 4);
        let pid = t.spawn("worker").unwrap();
        let id = t.proc_id(pid).unwrap();
        let zombie = ProcState::Zombie { status: ExitStatus::Signaled(Signal::SIGTERM) };
        t.kill(pid, Signal::SIGTERM).unwrap();
        assert_eq!(t.state(pid), Some(zombie));
        for sig in [Signal::SIG0, Signal::SIGKILL, Signal::SIGTERM, Signal::SIGINT] {
            let hit = t.kill(pid, sig).unwrap();
            assert_eq!(hit, KillEffect { pid, proc_id: id, name: "worker".to_string(), died: false });
        }
        assert_eq!(t.state(pid), Some(zombie), "a later signal must not overwrite the status");
        assert_eq!(t.exit(pid, 0), Err(Errno::ESRCH));
        assert_ne!(t.spawn("other"), Ok(pid));
        assert_eq!(t.live().len(), 2);
    }

    #[test]
    fn waitpid_twice_is_echild() {
        let mut t = ProcTable::new(1, 4);
        let pid = t.spawn("worker").unwrap();
        t.kill(pid, Signal::SIGINT).unwrap();
        assert_eq!(t.waitpid(pid), Ok(ExitStatus::Signaled(Signal::SIGINT)));
        assert_eq!(t.waitpid(pid), Err(Errno::ECHILD));
        assert_eq!(t.try_waitpid(pid), Err(Errno::ECHILD));
        assert_eq!(t.waitpid_would_block(pid), Err(Errno::ECHILD));
        assert_eq!(t.kill(pid, Signal::SIG0), Err(Errno::ESRCH));
    }

    #[test]
    fn exhausting_the_pid_space_is_eagain() {
        let mut t = ProcTable::new(7, 8);
        assert_eq!(spawn_all(&mut t, &["a", "b"]), vec![Pid(7), Pid(8)]);
        assert_eq!(t.spawn("c"), Err(Errno::EAGAIN));
        // Zombies still hold their PIDs.
        t.kill(Pid(7), Signal::SIGKILL).unwrap();
        t.exit(Pid(8), 0).unwrap();
        assert_eq!(t.spawn("c"), Err(Errno::EAGAIN));
        t.waitpid(Pid(8)).unwrap();
        assert_eq!(t.spawn("c"), Ok(Pid(8)));
        // The failed spawns consumed no identity.
        assert_eq!(t.proc_id(Pid(8)), Some(ProcId(3)));
    }

    #[test]
    fn degenerate_ranges_do_not_panic() {
        let mut empty = ProcTable::new(5, 4);
        assert_eq!(empty.spawn("a"), Err(Errno::EAGAIN));
        let mut zero = ProcTable::new(0, 0);
        assert_eq!(zero.spawn("a"), Err(Errno::EAGAIN));
        let mut from_zero = ProcTable::new(0, 2);
        assert_eq!(from_zero.spawn("a"), Ok(Pid(1)));
        let mut top = ProcTable::new(u32::MAX - 1, u32::MAX);
        assert_eq!(spawn_all(&mut top, &["a", "b"]), vec![Pid(u32::MAX - 1), Pid(u32::MAX)]);
        assert_eq!(top.spawn("c"), Err(Errno::EAGAIN));
        let mut wide = ProcTable::new(1, u32::MAX);
        assert_eq!(wide.spawn("a"), Ok(Pid(1)));
    }

    #[test]
    fn running_processes_block_waits() {
        let mut t = ProcTable::new(1, 4);
        let pid = t.spawn("worker").unwrap();
        assert_eq!(t.waitpid_would_block(pid), Ok(true));
        assert_eq!(t.waitpid(pid), Err(Errno::EWOULDBLOCK));
        assert_eq!(t.try_waitpid(pid), Ok(None));
        assert_eq!(t.state(pid), Some(ProcState::Running));
        let hit = t.kill(pid, Signal::SIG0).unwrap();
        assert!(!hit.died);
        assert_eq!(t.state(pid), Some(ProcState::Running));
        assert_eq!(t.exit(pid, 2), Ok(ProcId(1)));
        assert_eq!(t.waitpid_would_block(pid), Ok(false));
        assert_eq!(t.try_waitpid(pid), Ok(Some(ExitStatus::Exited(2))));
    }

    #[test]
    fn exit_codes_keep_their_low_8_bits() {
        let mut t = ProcTable::new(1, 4);
        for (code, seen) in [(0, 0), (255, 255), (256, 0), (257, 1), (-1, 255)] {
            let pid = t.spawn("w").unwrap();
            t.exit(pid, code).unwrap();
            assert_eq!(t.waitpid(pid), Ok(ExitStatus::Exited(seen)), "exit({code})");
        }
    }

    #[test]
    fn pid_zero_is_a_process_group_and_refused() {
        let mut t = ProcTable::new(0, 4);
        t.spawn("w").unwrap();
        assert_eq!(t.kill(Pid(0), Signal::SIGTERM), Err(Errno::EINVAL));
        assert_eq!(t.waitpid(Pid(0)), Err(Errno::EINVAL));
        assert_eq!(t.try_waitpid(Pid(0)), Err(Errno::EINVAL));
        assert_eq!(t.waitpid_would_block(Pid(0)), Err(Errno::EINVAL));
        assert_eq!(t.child_handle(Pid(0)), Err(Errno::EINVAL));
        assert_eq!(t.exit(Pid(0), 0), Err(Errno::ESRCH));
        assert_eq!(t.state(Pid(1)), Some(ProcState::Running));
    }

    #[test]
    fn unknown_pids() {
        let mut t = ProcTable::new(1, 4);
        assert_eq!(t.kill(Pid(3), Signal::SIG0), Err(Errno::ESRCH));
        assert_eq!(t.kill(Pid(99), Signal::SIGKILL), Err(Errno::ESRCH));
        assert_eq!(t.exit(Pid(3), 0), Err(Errno::ESRCH));
        assert_eq!(t.waitpid(Pid(3)), Err(Errno::ECHILD));
        assert_eq!(t.child_handle(Pid(3)), Err(Errno::ESRCH));
        assert_eq!((t.state(Pid(3)), t.proc_id(Pid(3)), t.name(Pid(3))), (None, None, None));
    }

    #[test]
    fn live_lists_running_and_zombies_in_pid_order() {
        let mut t = ProcTable::new(1, 9);
        spawn_all(&mut t, &["a", "b", "c"]);
        t.kill(Pid(2), Signal::SIGKILL).unwrap();
        t.exit(Pid(3), 4).unwrap();
        t.waitpid(Pid(3)).unwrap();
        let killed = ProcState::Zombie { status: ExitStatus::Signaled(Signal::SIGKILL) };
        assert_eq!(
            t.live(),
            vec![
                (Pid(1), ProcId(1), "a".to_string(), ProcState::Running),
                (Pid(2), ProcId(2), "b".to_string(), killed),
            ]
        );
    }

    #[test]
    fn display_forms() {
        assert_eq!(Errno::ESRCH.to_string(), "ESRCH");
        assert_eq!(Errno::EWOULDBLOCK.to_string(), "EWOULDBLOCK");
        assert_eq!(Pid(42).to_string(), "42");
        assert_eq!(Signal::SIGTERM.to_string(), "SIGTERM");
        assert_eq!(Signal::SIG0.to_string(), "SIG0");
        assert_eq!(ExitStatus::Exited(3).to_string(), "exited 3");
        assert_eq!(ExitStatus::Signaled(Signal::SIGKILL).to_string(), "killed by SIGKILL");
        assert_eq!(ProcState::Running.to_string(), "running");
        let zombie = ProcState::Zombie { status: ExitStatus::Exited(0) };
        assert_eq!(zombie.to_string(), "zombie (exited 0)");
        for sig in [Signal::SIGTERM, Signal::SIGKILL, Signal::SIGINT, Signal::SIG0] {
            assert_eq!(Signal::from_number(sig.number()), Some(sig));
        }
        assert_eq!(Signal::from_number(1), None);
    }
}
