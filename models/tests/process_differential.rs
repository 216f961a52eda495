//! Differential test of the PID-table model against real child processes.
//!
//! proptest generates short sequences of process calls over up to three
//! children, runs each call on the model and on real children of this test
//! process, and after every call compares the results (errno included), the
//! exit statuses, and every unreaped child's state: the model's `Zombie` must
//! be a `Z` in `/proc/<pid>/stat`, its `Running` must not.
//!
//! Each real child is `sh -c 'read -r code && exit "$code"'`: it blocks in
//! `read` like a `sleep 1000` would, so signals find it running, and it can
//! also be made to `exit(code)` on demand by writing the code to its stdin,
//! which is how the model's `exit` is driven. Calls map as follows (model
//! child `i` and real child `i` are matched by index; real PIDs are never
//! compared with the model's, since the kernel's allocator is not the
//! model's):
//!
//! | model                            | real                          |
//! |----------------------------------|-------------------------------|
//! | `spawn`                          | `Command::spawn`              |
//! | `exit(pid, code)`                | write `code` to the child     |
//! | `kill(pid, SIGTERM)`             | `kill -TERM <pid>`            |
//! | `kill(pid, SIG0)`                | `kill -0 <pid>`               |
//! | `kill_handle(h, SIGKILL)`        | `Child::kill`                 |
//! | `try_waitpid(pid)`               | `Child::try_wait`             |
//! | `wait_handle(h)`                 | `Child::wait`                 |
//!
//! Once a child has been reaped, its real PID is free and the host may give
//! it to anyone, so no real signal but 0 is ever sent to it (the model's side
//! is still checked); the one remaining `kill -0` could in principle find an
//! unrelated process of this user that got the PID within the same
//! millisecond, after the kernel's PID counter wrapped round. `Child` then
//! answers from its cached status without a system call: `kill` says
//! `Ok(())` and `wait`/`try_wait` repeat the status, which the model's
//! handle answers with `ESRCH`/`ECHILD` (see `ProcTable::kill_handle`). A
//! blocking wait is only issued when the model says it would not block; when
//! it would, the real child must still be running (`try_wait` is `None`).
//!
//! Signal delivery and exit are asynchronous in the kernel: `kill(2)` returns
//! before the target is a zombie. After each call the test polls
//! `/proc/<pid>/stat` (every millisecond, up to 5 s) until each child the
//! model calls a zombie is one.
//!
//! Every real child is killed and reaped at the end of each case by a drop
//! guard, also when an assertion fails.
//!
//! Case count: proptest's default (256) unless `PROPTEST_CASES=N` is set;
//! sequences have 1 to 12 calls.

// `/proc/<pid>/stat` and the signal numbers are Linux's.
#![cfg(target_os = "linux")]

use interleave_models::process::state::*;
use proptest::prelude::*;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many children a case may spawn in all.
const MAX_CHILDREN: usize = 3;

/// The real child: blocks reading an exit code, then exits with it.
const WORKER: &str = "read -r code && exit \"$code\"";

/// One call. A child index picks the `index % n`-th child spawned so far
/// (the call is skipped while there is none).
#[derive(Clone, Copy, Debug)]
enum Op {
    Spawn,
    Exit(usize, u8),
    Term(usize),
    Probe(usize),
    Kill(usize),
    TryWait(usize),
    Wait(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let child = || 0..MAX_CHILDREN;
    prop_oneof![
        3 => Just(Op::Spawn),
        1 => (child(), any::<u8>()).prop_map(|(i, code)| Op::Exit(i, code)),
        2 => child().prop_map(Op::Term),
        2 => child().prop_map(Op::Probe),
        2 => child().prop_map(Op::Kill),
        2 => child().prop_map(Op::TryWait),
        2 => child().prop_map(Op::Wait),
    ]
}

/// Kills and reaps every real child when dropped, so that no process
/// outlives its case, whatever happened. `Child::kill` sends nothing once
/// the child has been waited for (it answers from the cached status), so
/// this never signals a PID that may already belong to someone else.
struct Guard(Vec<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The model's view of one child.
struct Kid {
    pid: Pid,
    handle: ChildHandle,
    /// The status the model returned when it reaped the child.
    reaped: Option<ExitStatus>,
}

struct World {
    model: ProcTable,
    kids: Vec<Kid>,
    real: Guard,
}

fn fail<T>(msg: String) -> Result<T, TestCaseError> {
    Err(TestCaseError::fail(msg))
}

/// A real status in the model's terms.
fn status_of(s: std::process::ExitStatus) -> Result<ExitStatus, TestCaseError> {
    match (s.code(), s.signal()) {
        (Some(code), _) => Ok(ExitStatus::Exited(code)),
        (None, Some(n)) => match Signal::from_number(n) {
            Some(sig) => Ok(ExitStatus::Signaled(sig)),
            None => fail(format!("child killed by unexpected signal {n}")),
        },
        (None, None) => fail(format!("unexpected real status {s:?}")),
    }
}

/// Runs the `kill` command: `Ok` on success, `ESRCH` for "No such process".
fn kill_command(flag: &str, pid: u32) -> Result<Result<(), Errno>, TestCaseError> {
    let out = Command::new("kill")
        .args([flag, &pid.to_string()])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestCaseError::fail(format!("running kill: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(Ok(()))
    } else if stderr.contains("No such process") {
        Ok(Err(Errno::ESRCH))
    } else {
        fail(format!("kill {flag} {pid}: {:?}, {stderr}", out.status))
    }
}

/// The state letter in `/proc/<pid>/stat` (`S`, `R`, `Z`, ...), if the
/// process exists.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": comm may contain anything, including ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

/// Waits up to 5 s for `pid` to be a zombie: the kernel delivers signals and
/// finishes exits after `kill(2)` and `write(2)` have returned.
#[allow(clippy::disallowed_methods)] // The one real-time wait: for the kernel, not a model.
fn wait_for_zombie(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if proc_state(pid) == Some('Z') {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl World {
    fn new() -> World {
        // Room for every child a case can spawn: the model never says EAGAIN.
        World { model: ProcTable::new(1, MAX_CHILDREN as u32), kids: Vec::new(), real: Guard(Vec::new()) }
    }

    fn index(&self, i: usize) -> Option<usize> {
        (!self.kids.is_empty()).then(|| i % self.kids.len())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Spawn => self.spawn(),
            Op::Exit(i, code) => self.index(i).map_or(Ok(()), |i| self.exit(i, code)),
            Op::Term(i) => self.index(i).map_or(Ok(()), |i| self.signal(i, Signal::SIGTERM)),
            Op::Probe(i) => self.index(i).map_or(Ok(()), |i| self.signal(i, Signal::SIG0)),
            Op::Kill(i) => self.index(i).map_or(Ok(()), |i| self.kill_child(i)),
            Op::TryWait(i) => self.index(i).map_or(Ok(()), |i| self.try_wait(i)),
            Op::Wait(i) => self.index(i).map_or(Ok(()), |i| self.wait(i)),
        }
    }

    fn spawn(&mut self) -> Result<(), TestCaseError> {
        if self.kids.len() == MAX_CHILDREN {
            return Ok(());
        }
        let child = Command::new("sh")
            .args(["-c", WORKER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| TestCaseError::fail(format!("spawning a real child: {e}")))?;
        self.real.0.push(child);
        let pid = self.model.spawn(&format!("worker{}", self.kids.len()));
        prop_assert!(pid.is_ok(), "model spawn: {pid:?}");
        let pid = pid.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let handle = self.model.child_handle(pid).map_err(|e| TestCaseError::fail(e.to_string()))?;
        self.kids.push(Kid { pid, handle, reaped: None });
        Ok(())
    }

    /// The process calls `exit(code)`; only a running one can.
    fn exit(&mut self, i: usize, code: u8) -> Result<(), TestCaseError> {
        let kid = &self.kids[i];
        if kid.reaped.is_some() || self.model.state(kid.pid) != Some(ProcState::Running) {
            return Ok(());
        }
        let id = self.model.exit(kid.pid, i32::from(code));
        prop_assert_eq!(id, Ok(kid.handle.proc_id));
        let stdin = self.real.0[i].stdin.as_mut();
        let written = stdin.map(|s| s.write_all(format!("{code}\n").as_bytes()));
        prop_assert!(matches!(written, Some(Ok(()))), "writing the exit code: {written:?}");
        Ok(())
    }

    /// `kill(pid, sig)` through the bare PID, real side by the `kill`
    /// command.
    fn signal(&mut self, i: usize, sig: Signal) -> Result<(), TestCaseError> {
        let kid = &self.kids[i];
        let real_pid = self.real.0[i].id();
        if kid.reaped.is_some() {
            // The model's PID may have been reused by a later child (lowest
            // free allocation); the kernel's has not been, so there is
            // nothing to compare then: the reuse is pinned by
            // `pid_reuse_reaches_the_newcomer_through_a_raw_pid_only`.
            if self.model.proc_id(kid.pid).is_some() {
                return Ok(());
            }
            prop_assert_eq!(self.model.kill(kid.pid, sig), Err(Errno::ESRCH));
            if sig == Signal::SIG0 {
                prop_assert_eq!(kill_command("-0", real_pid)?, Err(Errno::ESRCH));
            }
            return Ok(());
        }
        let was_running = self.model.state(kid.pid) == Some(ProcState::Running);
        let model = self.model.kill(kid.pid, sig);
        let flag = match sig {
            Signal::SIGTERM => "-TERM",
            Signal::SIGKILL => "-KILL",
            Signal::SIGINT => "-INT",
            Signal::SIG0 => "-0",
        };
        let real = kill_command(flag, real_pid)?;
        prop_assert_eq!(model.as_ref().map(|_| ()).map_err(|e| *e), real, "kill {} of child {}", sig, i);
        if let Ok(effect) = model {
            prop_assert_eq!(effect.proc_id, kid.handle.proc_id, "an unreaped child holds its PID");
            prop_assert_eq!(effect.died, was_running && sig != Signal::SIG0, "whether {} ended child {}", sig, i);
        }
        Ok(())
    }

    /// `Child::kill` (SIGKILL through the handle).
    fn kill_child(&mut self, i: usize) -> Result<(), TestCaseError> {
        let kid = &self.kids[i];
        let model = self.model.kill_handle(&kid.handle, Signal::SIGKILL);
        let real = self.real.0[i].kill();
        if kid.reaped.is_some() {
            // The handle refuses; `Child` refuses too, by sending nothing and
            // answering `Ok(())` from its cached status.
            prop_assert_eq!(model, Err(Errno::ESRCH));
            prop_assert!(real.is_ok(), "Child::kill after wait: {:?}", real);
        } else {
            prop_assert!(model.is_ok() && real.is_ok(), "Child::kill: model {:?}, real {:?}", model, real);
        }
        Ok(())
    }

    /// `waitpid(pid, WNOHANG)`, through `Child::try_wait`.
    fn try_wait(&mut self, i: usize) -> Result<(), TestCaseError> {
        let real = self.real.0[i].try_wait().map_err(|e| TestCaseError::fail(format!("try_wait: {e}")))?;
        let real = real.map(status_of).transpose()?;
        let kid = &mut self.kids[i];
        if let Some(status) = kid.reaped {
            // The PID may be reused in the model: ask through the handle.
            prop_assert_eq!(self.model.try_wait_handle(&mut kid.handle), Err(Errno::ECHILD));
            prop_assert_eq!(real, Some(status), "Child::try_wait repeats the cached status");
            return Ok(());
        }
        let model = self.model.try_waitpid(kid.pid);
        prop_assert_eq!(model, Ok(real), "try_wait of child {}", i);
        kid.reaped = real;
        Ok(())
    }

    /// A blocking wait through the handle, `Child::wait`, issued only when
    /// the model says it would not block.
    fn wait(&mut self, i: usize) -> Result<(), TestCaseError> {
        let kid = &mut self.kids[i];
        if let Some(status) = kid.reaped {
            prop_assert_eq!(self.model.wait_handle(&mut kid.handle), Err(Errno::ECHILD));
            let real = self.real.0[i].wait().map_err(|e| TestCaseError::fail(format!("wait: {e}")))?;
            prop_assert_eq!(status_of(real)?, status, "Child::wait repeats the cached status");
            return Ok(());
        }
        if self.model.handle_would_block(&kid.handle) == Ok(true) {
            prop_assert_eq!(self.model.wait_handle(&mut kid.handle), Err(Errno::EWOULDBLOCK));
            let real = self.real.0[i].try_wait().map_err(|e| TestCaseError::fail(format!("try_wait: {e}")))?;
            prop_assert!(real.is_none(), "the model would block but the real child is done: {:?}", real);
            return Ok(());
        }
        let model = self.model.wait_handle(&mut kid.handle);
        let real = self.real.0[i].wait().map_err(|e| TestCaseError::fail(format!("wait: {e}")))?;
        prop_assert_eq!(model, Ok(status_of(real)?), "wait of child {}", i);
        prop_assert!(kid.handle.reaped);
        kid.reaped = model.ok();
        Ok(())
    }

    /// Every unreaped child: the model still has it under its PID, and it is
    /// a zombie in both worlds or in neither. The model's table holds
    /// nothing else.
    fn check(&self) -> Result<(), TestCaseError> {
        let mut expected = Vec::new();
        for (i, kid) in self.kids.iter().enumerate() {
            if kid.reaped.is_some() {
                continue;
            }
            let pid = self.real.0[i].id();
            prop_assert_eq!(self.model.proc_id(kid.pid), Some(kid.handle.proc_id), "child {} lost", i);
            match self.model.state(kid.pid) {
                Some(ProcState::Zombie { .. }) => {
                    prop_assert!(
                        wait_for_zombie(pid),
                        "child {} is a zombie in the model only: {:?}",
                        i,
                        proc_state(pid)
                    );
                }
                state => {
                    let real = proc_state(pid);
                    prop_assert!(
                        matches!(real, Some(c) if c != 'Z'),
                        "child {}: model {:?}, real {:?}",
                        i,
                        state,
                        real
                    );
                }
            }
            expected.push(kid.handle.proc_id);
        }
        let mut held: Vec<ProcId> = self.model.live().into_iter().map(|(_, id, _, _)| id).collect();
        held.sort();
        prop_assert_eq!(held, expected);
        Ok(())
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut world = World::new();
    for &op in ops {
        world.apply(op)?;
        world.check()?;
    }
    Ok(())
}

proptest! {
    // `default()` is 256 cases unless PROPTEST_CASES is set.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn model_matches_real_processes(ops in prop::collection::vec(op(), 1..=12)) {
        run(&ops)?;
    }
}

/// PID reuse, pinned on the model alone. The differential test cannot show
/// it: Linux allocates PIDs cyclically, handing out the number after the
/// last one it gave and wrapping only at `/proc/sys/kernel/pid_max`
/// (32768 by default, 4194304 on most 64-bit distributions), so a reaped
/// child's PID comes back only after the whole range has gone round. Forcing
/// that on demand would mean spawning and reaping up to millions of
/// processes while racing every other process on the host, and the PID, once
/// it came back, might go to someone else's process rather than ours. The
/// model's lowest-free allocation brings the reuse into a three-process
/// scenario; this test pins what then happens through each kind of handle.
#[test]
fn pid_reuse_reaches_the_newcomer_through_a_raw_pid_only() {
    let mut t = ProcTable::new(1, 3);
    let worker = t.spawn("worker").unwrap();
    let handle = t.child_handle(worker).unwrap();
    let pid_file = RawPid(worker);
    // The worker crashes and the supervisor's reaper collects it.
    t.exit(worker, 1).unwrap();
    assert_eq!(t.waitpid(worker), Ok(ExitStatus::Exited(1)));
    let db = t.spawn("db").unwrap();
    assert_eq!(db, worker, "lowest-free allocation reuses the PID at once");
    let db_id = t.proc_id(db).unwrap();
    assert_ne!(db_id, handle.proc_id);
    // The handle refuses: it refers to the worker, not the number.
    assert_eq!(t.kill_handle(&handle, Signal::SIGTERM), Err(Errno::ESRCH));
    assert_eq!(t.state(db), Some(ProcState::Running));
    // The PID file does not know: "stop the worker" stops the database.
    let hit = t.kill_raw(pid_file, Signal::SIGTERM).unwrap();
    assert_eq!((hit.proc_id, hit.name.as_str(), hit.died), (db_id, "db", true));
    assert_eq!(t.state(db), Some(ProcState::Zombie { status: ExitStatus::Signaled(Signal::SIGTERM) }));
}

/// The calls of the model-only property test: any PID (including 0 and ones
/// outside the range), any signal.
#[derive(Clone, Copy, Debug)]
enum ModelOp {
    Spawn,
    Exit(u32, i32),
    Kill(u32, Signal),
    Waitpid(u32),
    TryWaitpid(u32),
    Handle(u32),
    KillHandle(usize, Signal),
    WaitHandle(usize),
    TryWaitHandle(usize),
}

fn signal() -> impl Strategy<Value = Signal> {
    prop::sample::select(vec![Signal::SIGTERM, Signal::SIGKILL, Signal::SIGINT, Signal::SIG0])
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    let pid = || 0..=6u32;
    prop_oneof![
        3 => Just(ModelOp::Spawn),
        1 => (pid(), any::<i32>()).prop_map(|(p, c)| ModelOp::Exit(p, c)),
        3 => (pid(), signal()).prop_map(|(p, s)| ModelOp::Kill(p, s)),
        1 => pid().prop_map(ModelOp::Waitpid),
        2 => pid().prop_map(ModelOp::TryWaitpid),
        2 => pid().prop_map(ModelOp::Handle),
        2 => (0..4usize, signal()).prop_map(|(h, s)| ModelOp::KillHandle(h, s)),
        1 => (0..4usize).prop_map(ModelOp::WaitHandle),
        1 => (0..4usize).prop_map(ModelOp::TryWaitHandle),
    ]
}

/// Applies `op`, checking what each call promises about whom it touched.
fn apply_model(t: &mut ProcTable, handles: &mut Vec<ChildHandle>, op: ModelOp) -> Result<(), TestCaseError> {
    match op {
        ModelOp::Spawn => {
            let before = t.live().len();
            if let Ok(pid) = t.spawn("p") {
                prop_assert_eq!(t.state(pid), Some(ProcState::Running));
                prop_assert_eq!(t.live().len(), before + 1);
            }
        }
        ModelOp::Exit(p, code) => {
            let holder = t.proc_id(Pid(p));
            if let Ok(id) = t.exit(Pid(p), code) {
                prop_assert_eq!(Some(id), holder);
                prop_assert_eq!(t.state(Pid(p)), Some(ProcState::Zombie { status: ExitStatus::Exited(code & 0xff) }));
            }
        }
        ModelOp::Kill(p, sig) => {
            let holder = t.proc_id(Pid(p));
            match t.kill(Pid(p), sig) {
                Ok(effect) => prop_assert_eq!(Some(effect.proc_id), holder),
                Err(e) => prop_assert!(holder.is_none() || p == 0, "{e} with a holder"),
            }
        }
        ModelOp::Waitpid(p) => {
            if t.waitpid(Pid(p)).is_ok() {
                prop_assert_eq!(t.state(Pid(p)), None);
            }
        }
        ModelOp::TryWaitpid(p) => {
            if let Ok(Some(_)) = t.try_waitpid(Pid(p)) {
                prop_assert_eq!(t.state(Pid(p)), None);
            }
        }
        ModelOp::Handle(p) => {
            if let Ok(h) = t.child_handle(Pid(p)) {
                handles.push(h);
            }
        }
        ModelOp::KillHandle(i, sig) => {
            if let Some(h) = handles.get(i) {
                if let Ok(effect) = t.kill_handle(h, sig) {
                    prop_assert_eq!(effect.proc_id, h.proc_id, "a handle signalled another process");
                }
            }
        }
        ModelOp::WaitHandle(i) | ModelOp::TryWaitHandle(i) => {
            if let Some(h) = handles.get_mut(i) {
                let others: Vec<_> = t.live().into_iter().filter(|(_, id, _, _)| *id != h.proc_id).collect();
                let reaped = match op {
                    ModelOp::WaitHandle(_) => t.wait_handle(h).is_ok(),
                    _ => matches!(t.try_wait_handle(h), Ok(Some(_))),
                };
                if reaped {
                    prop_assert!(h.reaped);
                    prop_assert_ne!(t.proc_id(h.pid), Some(h.proc_id));
                }
                let after: Vec<_> = t.live().into_iter().filter(|(_, id, _, _)| *id != h.proc_id).collect();
                prop_assert_eq!(others, after, "a wait through a handle touched another process");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    /// Model only, any arguments: no call panics, each touches only the
    /// process it names, PIDs stay in range and identities unique, and the
    /// same calls give the same table (determinism).
    #[test]
    fn model_invariants(
        lo in 0..=3u32,
        len in 0..=4u32,
        ops in prop::collection::vec(model_op(), 0..40),
    ) {
        let hi = (lo + len).saturating_sub(1);
        let mut t = ProcTable::new(lo, hi);
        let mut handles = Vec::new();
        for &op in &ops {
            apply_model(&mut t, &mut handles, op)?;
            let live = t.live();
            for (pid, _, _, _) in &live {
                prop_assert!(pid.0 >= lo.max(1) && pid.0 <= hi, "PID {} outside {}..={}", pid, lo, hi);
            }
            let mut ids: Vec<ProcId> = live.iter().map(|(_, id, _, _)| *id).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), live.len(), "two processes share an identity");
        }
        let mut again = ProcTable::new(lo, hi);
        let mut again_handles = Vec::new();
        for &op in &ops {
            apply_model(&mut again, &mut again_handles, op)?;
        }
        prop_assert_eq!(&t, &again);
        prop_assert_eq!(handles, again_handles);
    }
}
