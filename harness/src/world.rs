//! One execution's world: its logical threads, its trace, the violations found so far, and the
//! step protocol every model operation goes through.
//!
//! A step is atomic and is one scheduling point: one read-modify-write of the world's step counter
//! (an atomic of the active backend), after which the operation is checked, performed and
//! recorded with no other scheduling point in between. An operation that cannot proceed yet (a
//! held `flock`, a `waitpid` on a live child) leaves its readiness check with the world and waits
//! on its thread's own condition variable; after every step the world re-runs the waiting checks
//! and wakes exactly the threads that step enabled.
//!
//! Two modes:
//! - **free**: the backend's scheduler decides which thread makes its step next (shuttle's random,
//!   PCT and DFS schedulers; loom's exhaustive search).
//! - **controlled**: a [`Controller`] decides which thread makes the next step, once every thread
//!   has arrived at a step, is blocked, is joining or has finished. This is how the harness replays
//!   a step order exactly, minimizes counterexamples and runs its own systematic search, on either
//!   backend, independent of how many internal scheduling points a backend inserts.
//!
//! Architecture invariant: the world knows nothing of files, locks or processes. Models bring
//! their state and describe each step; the world only orders, records and checks.

use crate::backend::{self, Backend, Ticket, Waiter};
use crate::race::Hb;
use crate::scenario::Invariant;
use crate::trace::{Row, Step, Trace};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Why an execution stopped being a normal run of the scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViolationKind {
    /// A named invariant was found false.
    Invariant,
    /// Every live thread was blocked.
    Deadlock,
    /// Two accesses to a shared variable that happens-before does not order. Recorded, but it
    /// does not end the execution, and a search goes on looking for a violation of a named
    /// invariant: see [`ExecOutcome::decisive`].
    DataRace,
    /// The execution exceeded its step limit (a livelock, or an unfair schedule).
    StepLimit,
    /// Scenario code panicked.
    Panic,
    /// The scenario broke the step contract (it read model state outside a step while other
    /// threads ran, or made a step inside a step): not a finding about the code under audit, and
    /// never a verdict.
    Misuse,
}

/// A violation: what went wrong, under which name, with what detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The kind of violation.
    pub kind: ViolationKind,
    /// The invariant's name, or `deadlock`, `step limit`, `panic`.
    pub name: String,
    /// What was observed.
    pub detail: String,
    /// The number of steps made when it was found.
    pub at_step: usize,
}

/// One decision of a controlled execution: which threads could make the next step and which did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Threads whose next step could proceed, in increasing index order.
    pub enabled: Vec<usize>,
    /// The thread that made the previous step, if any.
    pub prev: Option<usize>,
    /// The thread chosen.
    pub chosen: usize,
    /// Enabled threads held back for fairness: each yielded (`thread::yield_now`, `sleep`) and
    /// some thread enabled when it yielded has not made a step since. Searches do not choose
    /// them while another thread is enabled; a replay may.
    pub held_back: Vec<usize>,
}

impl Decision {
    /// Whether this decision preempted a thread that could have continued (switching away from a
    /// thread that yielded is not a preemption: it asked for it).
    pub fn is_preemption(&self) -> bool {
        matches!(self.prev, Some(p) if p != self.chosen && self.enabled.contains(&p) && !self.held_back.contains(&p))
    }

    /// The threads a search may choose: the enabled ones not held back for fairness (all of them
    /// when every enabled thread is held back).
    pub fn choosable(&self) -> Vec<usize> {
        let fair: Vec<usize> = self.enabled.iter().copied().filter(|t| !self.held_back.contains(t)).collect();
        if fair.is_empty() {
            self.enabled.clone()
        } else {
            fair
        }
    }
}

/// Decides, in controlled mode, which enabled thread makes the next step.
///
/// The world calls `choose` once per step, when no thread is running scenario code between steps,
/// with the threads whose next step can proceed (never empty) and the thread of the previous step.
/// An `Err` ends the execution: the controller's schedule does not fit the code.
pub trait Controller: Send {
    /// The thread to make the next step.
    fn choose(&mut self, enabled: &[usize], prev: Option<usize>) -> Result<usize, String>;

    /// As [`Controller::choose`], told also which enabled threads are held back for fairness (see
    /// [`Decision::held_back`]). By default, ignores them.
    fn choose_fair(&mut self, enabled: &[usize], prev: Option<usize>, held_back: &[usize]) -> Result<usize, String> {
        let _ = held_back;
        self.choose(enabled, prev)
    }

    /// Whether the controller wants to know what the enabled threads' pending steps touch: then
    /// the world calls [`Controller::choose_informed`] instead of [`Controller::choose_fair`]. By
    /// default, no (and the world does not gather them).
    fn wants_pending(&self) -> bool {
        false
    }

    /// As [`Controller::choose_fair`], told also the object each enabled thread's pending step is
    /// declared on: `pending[i]` for `enabled[i]` (objects joined by `+`, as in [`Step::object`];
    /// the step may turn out to touch only a part of it). Called only when
    /// [`Controller::wants_pending`]; by default, ignores them.
    fn choose_informed(
        &mut self,
        enabled: &[usize],
        prev: Option<usize>,
        held_back: &[usize],
        pending: &[&str],
    ) -> Result<usize, String> {
        let _ = pending;
        self.choose_fair(enabled, prev, held_back)
    }

    /// Told after every step which thread made it and on which object (see [`Step::object`]).
    fn stepped(&mut self, _thread: usize, _object: &str) {}
}

/// How an execution is scheduled.
pub enum Mode {
    /// The backend's scheduler decides.
    Free,
    /// A controller decides at every step.
    Controlled(Box<dyn Controller>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    /// Running scenario code between steps.
    Running,
    /// Released from a wait; will try its step again when it next runs.
    Woken,
    /// Free mode: waiting for its step to become possible (re-examined after every step on its
    /// objects, see `World::look`).
    Blocked(String),
    /// Controlled mode: arrived at a step and waiting for its turn; `Err` says why the step cannot
    /// proceed now (re-examined before every decision, if a step touched its objects).
    AtStep(Result<(), String>),
    /// Waiting for another thread to finish.
    Joining(usize),
    /// The main thread: its body has returned and it waits for every other thread to finish
    /// (an execution ends when all its threads have, whether or not the body joined them).
    JoiningAll,
    Finished,
}

/// Whether a waiting thread's step could proceed now. Kept by the world while the thread waits,
/// so that whoever changes the state can re-examine it and wake exactly the threads it enabled.
type Ready = Box<dyn FnMut() -> Result<(), String> + Send>;

struct ThreadInfo {
    name: String,
    status: Status,
    ready: Option<Ready>,
    waiter: Arc<Waiter>,
    /// Steps this thread has made.
    steps: usize,
    /// The thread that spawned it.
    parent: Option<usize>,
    /// Cancelled (its process died): it makes no more steps, and ends at its next one.
    cancelled: bool,
    /// Retired: it promised to make no more steps (its process exited; it only returns now).
    retired: bool,
    /// After a yield: the threads that were enabled or running then and have not made a step
    /// since. While one of them is enabled, a search does not choose this thread (CHESS's fair
    /// scheduling: a thread that yields waits for others).
    yield_to: std::collections::BTreeSet<usize>,
    /// The object the step the thread waits at is declared on (see `Status::AtStep` and
    /// `Status::Blocked`): its readiness is looked at again only after steps that touch it (see
    /// `World::look`), and a controller may ask for it (see [`Controller::wants_pending`]).
    pending: String,
    /// The top-level objects of `pending` (the part of each name before a `/`), by id (see
    /// `State::roots`).
    pending_roots: Vec<usize>,
    /// The last look (see `World::look`) that looked at this thread's readiness because a step
    /// touched its objects.
    looked: usize,
    /// The last look and top-level object whose list of waiting threads (`State::waiting_on`)
    /// kept this thread (a thread listed twice there is kept once).
    listed: (usize, usize),
}

impl ThreadInfo {
    /// Whether it waits at a step (for its turn, or for the step to become possible).
    fn waits(&self) -> bool {
        matches!(self.status, Status::AtStep(_) | Status::Blocked(_))
    }
}

impl ThreadInfo {
    fn new(name: &str, controlled: bool) -> ThreadInfo {
        let waiter = Arc::new(Waiter::new(controlled));
        ThreadInfo {
            name: name.to_string(),
            status: Status::Running,
            ready: None,
            waiter,
            steps: 0,
            parent: None,
            cancelled: false,
            retired: false,
            yield_to: Default::default(),
            pending: String::new(),
            pending_roots: Vec::new(),
            looked: 0,
            listed: (0, 0),
        }
    }
}

type AlwaysCheck = Box<dyn Fn() -> Result<(), String> + Send>;

/// Describes a model object's state in a line or a few, for a rendering of the trace.
type Describer = Box<dyn Fn() -> String + Send>;

struct State {
    threads: Vec<ThreadInfo>,
    trace: Trace,
    violations: Vec<Violation>,
    always: Vec<(&'static Invariant, AlwaysCheck)>,
    /// Model objects that describe their state, by name (see `World::describe`).
    describers: Vec<(String, Describer)>,
    /// Whether to record every object's description after each step (a replay for rendering).
    describe: bool,
    controller: Option<Box<dyn Controller>>,
    decisions: Vec<Decision>,
    turn: Option<usize>,
    prev: Option<usize>,
    max_steps: usize,
    stopped: Option<Violation>,
    /// Steps made so far.
    steps: usize,
    /// The thread and call of the last step (kept whether or not the trace is recorded, to say
    /// where a misuse happened).
    last_step: Option<(usize, String)>,
    /// Happens-before, for the data-race detector.
    hb: Hb,
    /// Shared variables the variant declares intentionally racy.
    racy: Vec<&'static str>,
    /// Object names handed out so far, with how many objects asked for each (see
    /// `World::object_name`).
    names: std::collections::BTreeMap<String, usize>,
    /// Whether steps, notes and the end state go into the trace (off for a bare run, which only
    /// needs to know whether an invariant broke).
    record: bool,
    /// Each backend thread's index in `threads`.
    keys: backend::ThreadIndex,
    /// The top-level objects (by id, see `roots`) of the steps made since waiting threads'
    /// readiness was last looked at (see `World::look`).
    touched: Vec<usize>,
    /// An id for each top-level object name seen (`fs` for `fs/ino:7`), so that finding which
    /// waiting steps a step touched compares numbers.
    roots: std::collections::BTreeMap<String, usize>,
    /// Per top-level object (by id): the threads that arrived at a step on it, so that a look
    /// finds the steps a step may have enabled without going through every thread. Entries of
    /// threads that have moved on since are dropped when the list is next gone through.
    waiting_on: Vec<Vec<usize>>,
    /// How many times waiting threads' readiness has been looked at (see `World::look`).
    looks: usize,
    /// How many threads have a non-empty `yield_to`.
    yielders: usize,
}

/// What a thread must do after changing the world's state: wake these threads, or stop.
#[derive(Default)]
struct After {
    wake: Vec<Arc<Waiter>>,
    stop: bool,
}

/// The result of one execution, as the harness reads it afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutcome {
    /// What happened.
    pub trace: Trace,
    /// Every violation, in the order found; the first is the one reported.
    pub violations: Vec<Violation>,
    /// Preemptions of a controlled execution (`None` in free mode, where they are not known).
    pub preemptions: Option<usize>,
    /// Witnesses this execution reached.
    pub witnesses: Vec<String>,
    /// Spawned threads that made no step in this execution.
    #[serde(default)]
    pub stepless: Vec<String>,
}

impl ExecOutcome {
    /// The reported violation: the first decisive one (see [`ExecOutcome::decisive`]), else the
    /// first data race.
    pub fn violation(&self) -> Option<&Violation> {
        self.violations.iter().find(|v| v.kind != ViolationKind::DataRace).or_else(|| self.violations.first())
    }

    /// Whether the execution violated something besides data races (an invariant, a deadlock, a
    /// panic, the step limit, the step contract). A search stops at the first decisive
    /// execution; an execution whose only violations are data races is kept, and the search goes
    /// on, so that a racy program's report shows what the race breaks, if anything does.
    pub fn decisive(&self) -> bool {
        self.violations.iter().any(|v| v.kind != ViolationKind::DataRace)
    }
}

/// What to do about a step whose readiness changed with no step on its objects.
const READS_ONLY_ITS_OBJECTS: &str = "a step's `ready` may read only the objects the step is declared on (`a+b` for \
     several), and only steps may change them: declare every object it reads, and change shared state only in a \
     step's `act`";

/// The name of the violation a controller's schedule that the code did not follow records.
pub const SCHEDULE_DOES_NOT_FIT: &str = "schedule does not fit";

/// Payload of the panic that stops an execution the world cannot continue (deadlock, step limit,
/// a schedule that does not fit): the harness recognises it and reports the recorded violation.
#[derive(Debug)]
pub(crate) struct Stop;

/// Payload of the unwinding that ends a cancelled thread (a thread of a process that was killed
/// or exited): the thread ends there, quietly, as a thread of a dead process does; it is not a
/// panic of the scenario.
#[derive(Debug)]
pub struct Cancelled;

/// Step counters a world makes (see `World::tickets`).
const OBJECT_TICKETS: usize = 16;

/// In a build without debug assertions, every this many looks at waiting threads' readiness look
/// at every one of them, to catch a `ready` that reads what its step is not declared on (see
/// `World::look`); with debug assertions, every look does.
const VERIFY_EVERY: usize = 64;

/// With at most this many threads, every look looks at every waiting thread, in any build: that
/// costs a few `ready` calls per step, and the programs users write most have few threads.
const VERIFY_ALWAYS_UP_TO: usize = 8;

pub(crate) struct World {
    /// Set to end the execution quietly: the shuttle scheduler wrappers watch it and stop the
    /// execution at the next scheduling point (`None` under loom, which has no such stop).
    stop_signal: Option<Arc<AtomicBool>>,
    /// The world's own scheduling point, for halting.
    ticket: Ticket,
    /// Step counters for model objects: a step's scheduling point is a read-modify-write of the
    /// counter of each object it touches, so a backend that reduces by dependence (loom's DPOR)
    /// sees steps on different objects as independent, exactly as the trace's signature does. The
    /// counters are made with the world, before any thread is spawned (loom refuses an atomic
    /// that another thread made without synchronizing with it), and handed to objects in the
    /// order they are first used; past [`OBJECT_TICKETS`] objects, they share (which only costs
    /// reduction).
    tickets: Vec<Ticket>,
    /// The object each counter of `tickets` was handed to, and the counter's index.
    ticket_names: Mutex<std::collections::BTreeMap<String, usize>>,
    /// Controlled mode: the controller orders every step, so a step takes no scheduling point of
    /// the backend (shuttle's scheduler, which keeps running the current task, would do nothing
    /// at one but cost a pass over every task).
    controlled: bool,
    /// Execution-local values of models (the execution's file system, its PID table), one per
    /// type, made on first use (see `Ctx::local`).
    locals: Mutex<Vec<(std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>)>>,
    /// How deep the thread that runs now is inside a step's `ready` or `act`, or an `always`
    /// check: model state may be read there. Read without the state lock (a read inside an
    /// `always` check happens while it is held); a plain counter suffices because every task of
    /// an execution runs on one OS thread and nothing inside a step is a scheduling point.
    in_step: AtomicUsize,
    state: Mutex<State>,
}

/// Marks the extent of a step's `ready`, `act` or an `always` check (see `World::in_step`).
struct InStep<'a>(&'a AtomicUsize);

impl<'a> InStep<'a> {
    fn enter(depth: &'a AtomicUsize) -> InStep<'a> {
        depth.fetch_add(1, Ordering::Relaxed);
        InStep(depth)
    }
}

impl Drop for InStep<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl World {
    pub(crate) fn new(mode: Mode, main_name: &str, max_steps: usize, stop_signal: Option<Arc<AtomicBool>>) -> World {
        let controller = match mode {
            Mode::Free => None,
            Mode::Controlled(c) => Some(c),
        };
        let main = backend::current_thread();
        World {
            controlled: controller.is_some(),
            stop_signal,
            ticket: Ticket::new(),
            tickets: (0..OBJECT_TICKETS).map(|_| Ticket::new()).collect(),
            ticket_names: Mutex::new(std::collections::BTreeMap::new()),
            locals: Mutex::new(Vec::new()),
            in_step: AtomicUsize::new(0),
            state: Mutex::new(State {
                threads: vec![ThreadInfo::new(main_name, controller.is_some())],
                trace: Trace { threads: vec![main_name.to_string()], ..Trace::default() },
                violations: Vec::new(),
                always: Vec::new(),
                describers: Vec::new(),
                describe: false,
                controller,
                decisions: Vec::new(),
                turn: None,
                prev: None,
                max_steps,
                stopped: None,
                steps: 0,
                last_step: None,
                hb: Hb::default(),
                racy: Vec::new(),
                names: std::collections::BTreeMap::new(),
                record: true,
                keys: {
                    let mut keys = backend::ThreadIndex::default();
                    keys.insert(main, 0);
                    keys
                },
                touched: Vec::new(),
                roots: std::collections::BTreeMap::new(),
                waiting_on: Vec::new(),
                looks: 0,
                yielders: 0,
            }),
        }
    }

    // The std mutex is never contended: backends run one task at a time and no scheduling point is
    // ever reached while it is held. It is poisoned only by a panic the harness is already reporting.
    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn me(st: &State) -> usize {
        let key = backend::current_thread();
        st.keys.get(key).expect("model operations are only made by threads spawned through Ctx::spawn")
    }

    /// Registers a new logical thread (before the backend thread exists, so a controlled decision
    /// never happens without it).
    pub(crate) fn register(&self, name: &str) -> usize {
        let mut st = self.st();
        let parent = Self::me(&st);
        let mut info = ThreadInfo::new(name, self.controlled);
        info.parent = Some(parent);
        st.threads.push(info);
        st.trace.threads.push(name.to_string());
        let idx = st.threads.len() - 1;
        st.hb.spawn(parent, idx);
        idx
    }

    /// How many threads the execution has had (the main one included).
    pub(crate) fn thread_count(&self) -> usize {
        self.st().threads.len()
    }

    /// A name for a new model object: `base`, or `base#2`, `base#3` … when objects of that name
    /// exist already (two mutexes made at one line of a loop, say), so that steps on different
    /// objects never share a name.
    pub(crate) fn object_name(&self, base: &str) -> String {
        let mut st = self.st();
        let n = st.names.entry(base.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base.to_string()
        } else {
            format!("{base}#{n}")
        }
    }

    /// Declares the variant's intentionally racy variables.
    pub(crate) fn allow_races(&self, vars: &[&'static str]) {
        self.st().racy.extend_from_slice(vars);
    }

    /// Called first by a spawned thread: binds its backend identity to its index.
    pub(crate) fn attach(&self, idx: usize) {
        let key = backend::current_thread();
        self.st().keys.insert(key, idx);
    }

    /// Wakes `after.wake` and stops if asked to. Called with the state unlocked.
    fn follow(&self, after: After) {
        for w in &after.wake {
            w.wake();
        }
        if after.stop {
            self.halt();
        }
    }

    /// Waits on the calling thread's condition variable until `released` holds (or the execution
    /// stops). Called with the state unlocked.
    fn wait(&self, waiter: &Waiter, released: impl Fn(&State) -> bool) {
        waiter.wait_until(|| {
            let st = self.st();
            st.stopped.is_some() || released(&st)
        });
        if self.st().stopped.is_some() {
            self.halt();
        }
    }

    /// Called last by a spawned thread (and by the harness for the main thread).
    pub(crate) fn finish(&self, idx: usize) {
        let mut st = self.st();
        st.threads[idx].status = Status::Finished;
        let in_world = !matches!(backend::active(), Backend::Shuttle);
        let mut joiners = Vec::new();
        for t in st.threads.iter_mut() {
            if t.status == Status::Joining(idx) {
                // Under shuttle it waits in the backend's join, which the backend ends; under loom
                // in the world (see `World::join`).
                t.status = Status::Woken;
                if in_world {
                    joiners.push(Arc::clone(&t.waiter));
                }
            }
        }
        let mut wake = None;
        if st.threads[0].status == Status::JoiningAll && st.threads[1..].iter().all(|t| t.status == Status::Finished) {
            st.threads[0].status = Status::Woken;
            wake = Some(Arc::clone(&st.threads[0].waiter));
        }
        let mut after = self.settle(&mut st);
        after.wake.extend(wake);
        after.wake.extend(joiners);
        drop(st);
        self.follow(after);
    }

    /// Called by the main thread when the variant's body has returned: the execution goes on
    /// until every thread has finished, whether or not the body joined it (as under shuttle and
    /// loom), so what a thread does after the body returned is in the trace and checked.
    pub(crate) fn finish_main(&self) {
        let mut st = self.st();
        if st.threads[1..].iter().any(|t| t.status != Status::Finished) {
            st.threads[0].status = Status::JoiningAll;
            let after = self.settle(&mut st);
            let waiter = Arc::clone(&st.threads[0].waiter);
            drop(st);
            self.follow(after);
            self.wait(&waiter, |st| st.threads[0].status != Status::JoiningAll);
        } else {
            drop(st);
        }
        self.finish(0);
    }

    /// Waits until thread `target` has finished; `join_raw` is the backend's join.
    ///
    /// Under loom the backend's join is never called: a joiner waits as any other waiting thread
    /// does, woken by the target's [`World::finish`]. loom's join waits on an object of loom's own
    /// that the ending thread notifies, and a wait on it that loom finds racing with that notify
    /// makes loom retry every thread at that point (its search cannot move a blocked thread
    /// earlier): more executions, none with another order of steps.
    pub(crate) fn join(
        &self,
        target: usize,
        join_raw: impl FnOnce() -> std::thread::Result<()>,
    ) -> std::thread::Result<()> {
        let mut st = self.st();
        let me = Self::me(&st);
        let in_world = !matches!(backend::active(), Backend::Shuttle);
        if st.threads[target].status != Status::Finished {
            st.threads[me].status = Status::Joining(target);
            let after = self.settle(&mut st);
            let waiter = Arc::clone(&st.threads[me].waiter);
            drop(st);
            self.follow(after);
            if in_world {
                self.wait(&waiter, |st| st.threads[target].status == Status::Finished);
            }
        } else {
            drop(st);
        }
        let r = if in_world { Ok(()) } else { join_raw() };
        let mut st = self.st();
        st.threads[me].status = Status::Running;
        st.hb.join(me, target);
        r
    }

    /// Records `step` atomically once `ready` allows it: the protocol of every model operation.
    pub(crate) fn step<R>(
        &self,
        object: &str,
        ready: impl FnMut() -> Result<(), String> + Send + 'static,
        act: impl FnOnce() -> (R, Step),
    ) -> R {
        self.step_within(object, &|| None, ready, act)
    }

    /// As [`World::step`], for a step declared on `object` whose actual footprint `footprint`
    /// computes from the current state (parts of `object`, such as one file's inode): the step's
    /// scheduling point is taken on those parts, so that a backend reducing by dependence (loom)
    /// sees steps on different parts as independent. The state can change at the scheduling point
    /// itself (another thread runs there), so the footprint is computed again after it; if it grew,
    /// the step takes its scheduling point on the new parts as well and looks again, and is
    /// performed only once no part it touches was left out. `None` means the whole `object`.
    pub(crate) fn step_within<R>(
        &self,
        object: &str,
        footprint: &dyn Fn() -> Option<String>,
        ready: impl FnMut() -> Result<(), String> + Send + 'static,
        act: impl FnOnce() -> (R, Step),
    ) -> R {
        if self.in_step.load(Ordering::Relaxed) > 0 {
            self.misuse(
                format!("a step on {object} began inside another step's ready or act"),
                "a step's `ready` and `act` closures must not make steps themselves",
            );
        }
        let mut ready: Ready = Box::new(ready);
        let parts = |fp: Option<String>| -> Vec<usize> {
            match fp.filter(|f| crate::trace::refines(f, object)) {
                Some(f) => self.tickets_of(&f),
                None => self.tickets_of(object),
            }
        };
        let current = || {
            let _in = InStep::enter(&self.in_step);
            footprint()
        };
        loop {
            // The step's scheduling points: one per object it touches. Everything from the last
            // to the return (or the wait below) runs without another, so it is atomic under either
            // backend. A step that cannot proceed takes them too before it waits, on purpose: that
            // attempt is how loom learns that the waiting thread's step races with the steps of
            // others on the object. Checking readiness first and waiting without a point is fewer
            // executions, and loom then misses orders (tried: ref-watcher/watcher-first reached 69
            // of its 73 classes).
            //
            // In controlled mode the controller orders the steps and the backend's scheduler
            // keeps running the current thread: the step takes no point (nor its footprint, which
            // only says which points to take).
            let mut tickets = if self.controlled { Vec::new() } else { parts(current()) };
            let (first, rest) = match tickets.split_first() {
                Some((&first, rest)) => (Some(first), rest.to_vec()),
                None => (None, Vec::new()),
            };
            if let Some(first) = first {
                self.tickets[first].tick();
            }
            // Under loom the other points are critical (see `backend::critical`): once the first
            // is passed, no other thread runs until this step is performed or waits, and they only
            // tell loom which steps this one depends on. Under shuttle each is a scheduling point.
            backend::critical(|| {
                for &t in &rest {
                    self.tickets[t].tick();
                }
                // What the step touches may have changed at a scheduling point (another thread ran
                // there): if it now touches a part it did not take its point on, take that too.
                // (Computed before the state lock is taken: the footprint may ask the world things.)
                while first.is_some() {
                    let new: Vec<usize> = parts(current()).into_iter().filter(|t| !tickets.contains(t)).collect();
                    if new.is_empty() {
                        break;
                    }
                    for &t in &new {
                        self.tickets[t].tick();
                    }
                    tickets.extend(new);
                }
            });
            let mut st = self.st();
            if st.stopped.is_some() {
                drop(st);
                self.halt();
            }
            let me = Self::me(&st);
            if st.threads[me].retired {
                drop(st);
                self.misuse(
                    format!("a step on {object} came from a thread whose process had already exited"),
                    "a thread makes no step after its process exits",
                );
            }
            if st.threads[me].cancelled {
                st.threads[me].status = Status::Running;
                st.threads[me].ready = None;
                drop(st);
                std::panic::resume_unwind(Box::new(Cancelled));
            }
            let readiness = {
                let _in = InStep::enter(&self.in_step);
                ready()
            };
            if st.controller.is_some() {
                if st.turn == Some(me) {
                    if let Err(reason) = readiness {
                        // Chosen while enabled, and no step touched its object since: its `ready`
                        // reads something else.
                        let detail = Self::changed(&st, me, "stopped being possible", &reason);
                        drop(st);
                        self.misuse(detail, READS_ONLY_ITS_OBJECTS);
                    }
                }
                st.threads[me].status = Status::AtStep(readiness);
                st.threads[me].ready = Some(ready);
                Self::set_pending(&mut st, me, object);
                let after = self.settle(&mut st);
                if st.turn == Some(me) {
                    st.threads[me].ready = None;
                    drop(st);
                    self.follow(after);
                    return self.perform(me, object, act);
                }
                // Not my turn: my readiness stays with the world, which re-examines it after steps
                // on its objects, until a decision chooses me.
                let cond = Arc::clone(&st.threads[me].waiter);
                drop(st);
                self.follow(after);
                self.wait(&cond, |st| st.turn == Some(me) || st.threads[me].cancelled);
                ready = self.st().threads[me].ready.take().unwrap_or(ready_placeholder());
                continue;
            }
            match readiness {
                Ok(()) => {
                    drop(st);
                    return self.perform(me, object, act);
                }
                Err(reason) => ready = self.block(st, me, object, ready, reason),
            }
        }
    }

    /// Thread `me`'s step cannot proceed (`reason`): waits, with its readiness left with the world,
    /// which looks at it again after every step on its objects, until a step makes it ready;
    /// gives it back.
    fn block(&self, mut st: MutexGuard<'_, State>, me: usize, object: &str, ready: Ready, reason: String) -> Ready {
        st.threads[me].status = Status::Blocked(reason);
        st.threads[me].ready = Some(ready);
        Self::set_pending(&mut st, me, object);
        let after = self.settle(&mut st);
        let cond = Arc::clone(&st.threads[me].waiter);
        drop(st);
        self.follow(after);
        self.wait(&cond, |st| !matches!(st.threads[me].status, Status::Blocked(_)));
        self.st().threads[me].ready.take().unwrap_or(ready_placeholder())
    }

    /// Scenario code changed the state of `object` between steps (code that holds it alone, as an
    /// event-loop task's synchronous code holds the loop): the steps waiting on it are looked at
    /// again before the next decision, as after a step on it.
    pub(crate) fn touch(&self, object: &str) {
        let mut st = self.st();
        let State { touched, roots, waiting_on, .. } = &mut *st;
        Self::roots_of(roots, object, touched);
        waiting_on.resize_with(roots.len(), Vec::new);
    }

    /// Records that thread `me` waits at a step declared on `object`.
    fn set_pending(st: &mut State, me: usize, object: &str) {
        let State { threads, roots, waiting_on, .. } = st;
        let t = &mut threads[me];
        t.pending.clear();
        t.pending.push_str(object);
        t.pending_roots.clear();
        Self::roots_of(roots, object, &mut t.pending_roots);
        waiting_on.resize_with(roots.len(), Vec::new);
        for &r in &t.pending_roots {
            waiting_on[r].push(me);
        }
    }

    /// Appends the ids of `object`'s top-level objects to `out`, giving new names new ids.
    fn roots_of(roots: &mut std::collections::BTreeMap<String, usize>, object: &str, out: &mut Vec<usize>) {
        for part in object.split('+') {
            let id = intern(roots, part.split('/').next().unwrap_or(part));
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }

    /// Steps made so far in this execution.
    pub(crate) fn steps_made(&self) -> usize {
        self.st().steps
    }

    /// The counters of the objects in `object` (`a+b` touches two), by index, in a fixed order so
    /// that every step takes them alike.
    fn tickets_of(&self, object: &str) -> Vec<usize> {
        let mut names = self.ticket_names.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<usize> = object.split('+').map(|n| intern(&mut names, n) % OBJECT_TICKETS).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Performs and records the step of thread `me`, whose turn it is, then (in free mode)
    /// re-examines the waiting threads the step touched and wakes those it enabled.
    fn perform<R>(&self, me: usize, object: &str, act: impl FnOnce() -> (R, Step)) -> R {
        let mut st = self.st();
        st.turn = None;
        st.threads[me].status = Status::Running;
        if st.describe && st.record && st.steps == 0 {
            let before: Vec<(String, String)> = st.describers.iter().map(|(o, d)| (o.clone(), d())).collect();
            st.trace.initial_state = before;
        }
        drop(st);
        let (r, mut step) = {
            let _in = InStep::enter(&self.in_step);
            act()
        };
        step.thread = me;
        // The step may report a finer footprint than the objects it was declared on (a file-system
        // call that touched two inodes of the file system): kept when it refines them.
        if step.object != object && !crate::trace::refines(&step.object, object) {
            step.object = object.to_string();
        }
        let _in = InStep::enter(&self.in_step);
        let mut st = self.st();
        st.prev = Some(me);
        st.steps += 1;
        st.threads[me].steps += 1;
        st.last_step = Some((me, step.call.clone()));
        if let Some(c) = st.controller.as_mut() {
            c.stepped(me, &step.object);
        }
        if st.yielders > 0 {
            let mut yielders = 0;
            for t in st.threads.iter_mut() {
                t.yield_to.remove(&me);
                yielders += usize::from(!t.yield_to.is_empty());
            }
            st.yielders = yielders;
        }
        let index = st.steps;
        let State { hb, threads, .. } = &mut *st;
        let hb_objects = step.effect_on.as_deref().unwrap_or(&step.object);
        let races = hb.step(me, hb_objects, step.effect, index, &step.call, &|t| threads[t].name.clone());
        let mut found = Vec::new();
        for race in races {
            let name = format!("data race on {}", race.var);
            if !st.racy.contains(&race.var.as_str()) && !st.violations.iter().any(|v| v.name == name) {
                found.push(Violation { kind: ViolationKind::DataRace, name, detail: race.detail, at_step: index });
            }
        }
        {
            let State { touched, roots, .. } = &mut *st;
            Self::roots_of(roots, &step.object, touched);
        }
        if st.record {
            st.trace.rows.push(Row::Step(step));
        }
        if st.describe && st.record {
            let states: Vec<(String, String)> = st.describers.iter().map(|(o, d)| (o.clone(), d())).collect();
            st.trace.states.push(states);
        }
        let count = st.steps;
        for (inv, check) in &st.always {
            if !st.violations.iter().any(|v| v.name == inv.name) {
                if let Err(detail) = check() {
                    found.push(Violation {
                        kind: ViolationKind::Invariant,
                        name: inv.name.to_string(),
                        detail,
                        at_step: count,
                    });
                }
            }
        }
        for v in found {
            st.trace.rows.push(Row::Violated { invariant: v.name.clone(), detail: v.detail.clone() });
            st.violations.push(v);
        }
        let mut after = After::default();
        if count > st.max_steps {
            let v = Violation {
                kind: ViolationKind::StepLimit,
                name: "step limit".into(),
                detail: format!("more than {} steps: a livelock, or a schedule that starves a thread", st.max_steps),
                at_step: count,
            };
            st.trace.rows.push(Row::Violated { invariant: v.name.clone(), detail: v.detail.clone() });
            st.violations.push(v.clone());
            st.stopped = Some(v);
            after.stop = true;
        }
        // The state of the step's objects changed: the steps waiting on them may proceed now. In
        // free mode the backend's scheduler may run any thread next, so they are woken now; in
        // controlled mode nothing moves before the next decision, which looks first.
        if !self.controlled && !after.stop {
            self.look(&mut st, false, &mut after);
        }
        drop(st);
        drop(_in);
        self.follow(after);
        r
    }

    /// Called with the state locked whenever a thread stops running scenario code. In controlled
    /// mode, once no thread is running, asks the controller for the next turn. In both modes,
    /// detects a deadlock: no thread running and none able to proceed.
    fn settle(&self, st: &mut State) -> After {
        let mut after = After::default();
        if st.stopped.is_some() {
            after.stop = true;
            return after;
        }
        let running = st.threads.iter().any(|t| matches!(t.status, Status::Running | Status::Woken));
        if running || st.turn.is_some() {
            return after;
        }
        // Before deciding: the steps made since the last look may have enabled or disabled waiting
        // steps. In free mode every step looked already, so this looks at every waiting step, to
        // catch a `ready` that reads what its step is not declared on (see `World::look`).
        self.look(st, !self.controlled, &mut after);
        if after.stop || !after.wake.is_empty() {
            return after;
        }
        let enabled_now = |st: &State| -> Vec<usize> {
            st.threads.iter().enumerate().filter(|(_, t)| t.status == Status::AtStep(Ok(()))).map(|(i, _)| i).collect()
        };
        let mut enabled = enabled_now(st);
        if enabled.is_empty() && self.controlled {
            // About to call a deadlock: make sure no waiting step's readiness is stale.
            self.look(st, true, &mut after);
            if after.stop {
                return after;
            }
            enabled = enabled_now(st);
        }
        if enabled.is_empty() {
            if st.threads.iter().all(|t| t.status == Status::Finished) {
                return after;
            }
            // Nothing can move: every live thread waits on another.
            let mut waits = Vec::new();
            for t in &st.threads {
                match &t.status {
                    Status::Blocked(r) | Status::AtStep(Err(r)) => waits.push(format!("{} waits on {r}", t.name)),
                    Status::Joining(j) => waits.push(format!("{} waits for {} to finish", t.name, st.threads[*j].name)),
                    Status::JoiningAll => {
                        waits.push(format!("{} has returned and waits for every thread to finish", t.name))
                    }
                    _ => {}
                }
            }
            let v = Violation {
                kind: ViolationKind::Deadlock,
                name: "deadlock".into(),
                detail: format!("every thread is blocked: {}", waits.join("; ")),
                at_step: st.steps,
            };
            st.trace.rows.push(Row::Violated { invariant: v.name.clone(), detail: v.detail.clone() });
            st.violations.push(v.clone());
            // The threads still waiting are left where they are: the backend ends the execution.
            st.stopped = Some(v);
            after.stop = true;
            return after;
        }
        let prev = st.prev;
        let held_back: Vec<usize> = if st.yielders == 0 {
            Vec::new()
        } else {
            let mut is_enabled = vec![false; st.threads.len()];
            for &t in &enabled {
                is_enabled[t] = true;
            }
            enabled.iter().copied().filter(|&t| st.threads[t].yield_to.iter().any(|&u| is_enabled[u])).collect()
        };
        let State { controller, threads, .. } = &mut *st;
        let Some(controller) = controller.as_mut() else { return after };
        let choice = if controller.wants_pending() {
            let pending: Vec<&str> = enabled.iter().map(|&t| threads[t].pending.as_str()).collect();
            controller.choose_informed(&enabled, prev, &held_back, &pending)
        } else {
            controller.choose_fair(&enabled, prev, &held_back)
        };
        match choice {
            Ok(chosen) if enabled.contains(&chosen) => {
                st.decisions.push(Decision { enabled, prev, chosen, held_back });
                st.turn = Some(chosen);
                after.wake.push(Arc::clone(&st.threads[chosen].waiter));
            }
            Ok(chosen) => {
                self.stop_schedule(st, format!("the schedule chose thread {chosen}, which cannot make a step now"));
                after.stop = true;
            }
            Err(e) => {
                self.stop_schedule(st, e);
                after.stop = true;
            }
        }
        after
    }

    /// Looks again at the readiness of the steps that threads wait at, once steps have been made
    /// (their objects are in `touched`): a step's `ready` may depend only on the objects its step
    /// is declared on, which only steps change (see [`crate::Ctx::step`]), so only the waiting
    /// steps on a top-level object that a step since the last look touched are looked at, and the
    /// cost of a step does not grow with the number of threads that wait. With `all` (and in every
    /// look of a build with debug assertions or of a world of at most [`VERIFY_ALWAYS_UP_TO`]
    /// threads, and every [`VERIFY_EVERY`]th otherwise) every waiting step is looked at,
    /// and one whose readiness changed with no step on its objects stops the execution with a
    /// misuse of the step contract: the search would otherwise rest on a stale answer.
    ///
    /// A blocked thread (free mode) that can proceed now is woken (`after.wake`).
    fn look(&self, st: &mut State, all: bool, after: &mut After) {
        let mut touched = std::mem::take(&mut st.touched);
        touched.sort_unstable();
        touched.dedup();
        st.looks += 1;
        let look = st.looks;
        let verify = all
            || cfg!(debug_assertions)
            || st.threads.len() <= VERIFY_ALWAYS_UP_TO
            || look.is_multiple_of(VERIFY_EVERY);
        let _in = InStep::enter(&self.in_step);
        // The waiting threads a step touched: those listed on a touched top-level object that
        // still wait at a step on it. Two objects overlap only if their top-level objects are the
        // same: a step on another part of the same object is looked at too, which costs a call
        // and is never wrong.
        let State { threads, waiting_on, .. } = &mut *st;
        let mut affected = Vec::new();
        for &r in &touched {
            let Some(list) = waiting_on.get_mut(r) else { continue };
            list.retain(|&i| {
                let t = &mut threads[i];
                if t.listed == (look, r) || !t.waits() || !t.pending_roots.contains(&r) {
                    return false;
                }
                t.listed = (look, r);
                if t.looked != look {
                    t.looked = look;
                    affected.push(i);
                }
                true
            });
        }
        // In thread order, as every look goes, so that wake-ups come in the same order.
        affected.sort_unstable();
        let order = if verify { (0..threads.len()).collect() } else { affected };
        let mut stale = None;
        for i in order {
            let t = &mut threads[i];
            if !t.waits() {
                continue;
            }
            let Some(ready) = t.ready.as_mut() else { continue };
            let affected = t.looked == look;
            let now = ready();
            let was = matches!(t.status, Status::AtStep(Ok(())));
            if !affected && stale.is_none() && now.is_ok() != was {
                stale = Some((i, now.clone()));
            }
            match (&t.status, now) {
                (Status::AtStep(_), now) => t.status = Status::AtStep(now),
                (_, Ok(())) => {
                    t.status = Status::Woken;
                    after.wake.push(Arc::clone(&t.waiter));
                }
                (_, Err(reason)) => t.status = Status::Blocked(reason),
            }
        }
        if let Some((i, now)) = stale {
            let (how, reason) = match &now {
                Ok(()) => ("became possible", String::new()),
                Err(r) => ("stopped being possible", r.clone()),
            };
            let detail = Self::changed(st, i, how, &reason);
            self.contract_broken(st, detail, READS_ONLY_ITS_OBJECTS);
            after.stop = true;
        }
    }

    /// What to say of thread `i`, whose step's readiness changed (`how`: "became possible", or
    /// "stopped being possible" because of `reason`) although no step touched its objects.
    fn changed(st: &State, i: usize, how: &str, reason: &str) -> String {
        let t = &st.threads[i];
        let why = if reason.is_empty() { String::new() } else { format!(" (it waits on {reason})") };
        let where_ = match &st.last_step {
            Some((l, call)) => format!("after step {} ({}: {call})", st.steps, st.threads[*l].name),
            None => "before the first step".to_string(),
        };
        format!(
            "{}'s step on {} {how}{why} {where_}, and no step on {} was made since it was last looked at",
            t.name, t.pending, t.pending
        )
    }

    /// Records a misuse of the step contract with the state locked, and stops the execution (the
    /// caller then halts, as after a deadlock).
    fn contract_broken(&self, st: &mut State, detail: String, fix: &str) {
        if st.stopped.is_some() {
            return;
        }
        let v = Violation {
            kind: ViolationKind::Misuse,
            name: "step contract broken".into(),
            detail: format!("{detail} ({fix})"),
            at_step: st.steps,
        };
        st.trace.rows.push(Row::Violated { invariant: v.name.clone(), detail: v.detail.clone() });
        st.violations.push(v.clone());
        st.stopped = Some(v);
    }

    fn stop_schedule(&self, st: &mut State, detail: String) {
        let v = Violation { kind: ViolationKind::Panic, name: SCHEDULE_DOES_NOT_FIT.into(), detail, at_step: st.steps };
        st.stopped = Some(v.clone());
        st.violations.push(v);
    }

    /// Scenario code is about to read the state of model object `object` outside a step (a
    /// model's `inspect`, say). That is only sound when no other thread can run meanwhile: in
    /// setup, before any thread is spawned, and in end checks, once every other thread has
    /// finished. Otherwise the read happens at a moment no schedule controls (the step-level
    /// search runs a thread up to its next step before deciding who moves), so a verdict built on
    /// it could be wrong: the execution stops with a misuse that names the thread, the object and
    /// the last step, never with a counterexample.
    pub(crate) fn observe(&self, object: &str) {
        if self.in_step.load(Ordering::Relaxed) > 0 {
            return;
        }
        let st = self.st();
        if st.stopped.is_some() {
            return;
        }
        let me = Self::me(&st);
        // Threads that will make no more steps (cancelled, or retired by their process's exit)
        // cannot change anything a read sees.
        let others: Vec<&str> = st
            .threads
            .iter()
            .enumerate()
            .filter(|(i, t)| *i != me && t.status != Status::Finished && !t.cancelled && !t.retired)
            .map(|(_, t)| t.name.as_str())
            .collect();
        if others.is_empty() {
            return;
        }
        let where_ = match &st.last_step {
            Some((t, call)) => format!("after step {} ({}: {call})", st.steps, st.threads[*t].name),
            None => "before the first step".to_string(),
        };
        let detail = format!(
            "{} read {object} outside a step while {} {} still running, {where_}",
            st.threads[me].name,
            others.join(", "),
            if others.len() == 1 { "was" } else { "were" },
        );
        drop(st);
        self.misuse(detail, "read shared state only inside a step, or after joining every other thread");
    }

    /// Stops the execution with a misuse of the step contract (`detail`, and `fix`, what to do).
    pub(crate) fn misuse(&self, detail: String, fix: &str) -> ! {
        let mut st = self.st();
        self.contract_broken(&mut st, detail, fix);
        drop(st);
        self.halt()
    }

    /// The calling thread makes no more steps (its process has exited; it only returns now): a
    /// read of model state by another thread does not wait for it to finish.
    pub(crate) fn retire(&self) {
        let mut st = self.st();
        let me = Self::me(&st);
        st.threads[me].retired = true;
    }

    /// Cancels thread `idx` (its process was killed or exited): it makes no more steps. A thread
    /// waiting at a step is woken to end; one running code between steps ends at its next step.
    pub(crate) fn cancel(&self, idx: usize) {
        let mut st = self.st();
        let Some(t) = st.threads.get_mut(idx) else { return };
        if t.cancelled || t.status == Status::Finished {
            return;
        }
        t.cancelled = true;
        let mut wake = None;
        if matches!(t.status, Status::Blocked(_) | Status::AtStep(_)) {
            t.status = Status::Woken;
            wake = Some(Arc::clone(&t.waiter));
        }
        if st.turn == Some(idx) {
            st.turn = None;
        }
        drop(st);
        self.follow(After { wake: wake.into_iter().collect(), stop: false });
    }

    /// The calling thread yields (its last step was a `yield_now` or a `sleep`): until every
    /// thread enabled or running now has made a step (or stopped being enabled), searches choose it
    /// only when no other thread can move.
    pub(crate) fn yielded(&self) {
        let mut st = self.st();
        let me = Self::me(&st);
        // Which waiting steps are enabled now (in controlled mode the world looks at them only
        // before a decision).
        let mut after = After::default();
        self.look(&mut st, false, &mut after);
        if after.stop {
            drop(st);
            self.halt();
        }
        let others: std::collections::BTreeSet<usize> = st
            .threads
            .iter()
            .enumerate()
            .filter(|(i, t)| *i != me && matches!(t.status, Status::Running | Status::Woken | Status::AtStep(Ok(()))))
            .map(|(i, _)| i)
            .collect();
        st.yielders += usize::from(st.threads[me].yield_to.is_empty() && !others.is_empty());
        st.yielders -= usize::from(!st.threads[me].yield_to.is_empty() && others.is_empty());
        st.threads[me].yield_to = others;
    }

    pub(crate) fn current_thread(&self) -> (usize, String) {
        let st = self.st();
        let me = Self::me(&st);
        (me, st.threads[me].name.clone())
    }

    pub(crate) fn note(&self, text: String) {
        let mut st = self.st();
        if st.record {
            let me = Self::me(&st);
            st.trace.rows.push(Row::Note { thread: me, text });
        }
    }

    pub(crate) fn setup(&self, text: String) {
        let mut st = self.st();
        if st.record {
            st.trace.setup.push(text);
        }
    }

    pub(crate) fn end(&self, text: String) {
        let mut st = self.st();
        if st.record {
            st.trace.end.push(text);
        }
    }

    /// Stops recording the trace: a bare run keeps only the violations.
    pub(crate) fn unrecorded(self) -> World {
        self.st().record = false;
        self
    }

    /// Whether some violation other than a data race was recorded.
    pub(crate) fn violated_decisively(&self) -> bool {
        self.st().violations.iter().any(|v| v.kind != ViolationKind::DataRace)
    }

    pub(crate) fn violate(&self, inv: &'static Invariant, detail: String) {
        let mut st = self.st();
        if st.violations.iter().any(|v| v.name == inv.name) {
            return;
        }
        let at_step = st.steps;
        st.trace.rows.push(Row::Violated { invariant: inv.name.to_string(), detail: detail.clone() });
        st.violations.push(Violation { kind: ViolationKind::Invariant, name: inv.name.to_string(), detail, at_step });
    }

    pub(crate) fn always(&self, inv: &'static Invariant, check: AlwaysCheck) {
        let mut st = self.st();
        if st.steps > 0 {
            drop(st);
            self.misuse(
                format!(
                    "the always invariant \"{}\" was registered after {} steps had been made",
                    inv.name,
                    self.st().steps
                ),
                "register always invariants in the setup, before the first step",
            );
        }
        st.always.push((inv, check));
    }

    /// Whether the execution has `always` invariants (which may read several objects at once).
    pub(crate) fn has_always(&self) -> bool {
        !self.st().always.is_empty()
    }

    /// Registers a description of object `object`'s state, read after every step when rendering.
    pub(crate) fn describe(&self, object: &str, describer: Describer) {
        let mut st = self.st();
        if let Some(slot) = st.describers.iter_mut().find(|(o, _)| o == object) {
            slot.1 = describer;
        } else {
            st.describers.push((object.to_string(), describer));
        }
    }

    /// Turns descriptions on: after every step, every object's state goes into the trace.
    pub(crate) fn describing(self) -> World {
        self.st().describe = true;
        self
    }

    /// Records a panic of scenario code (the harness calls this after the backend caught it).
    pub(crate) fn panicked(&self, message: String) {
        let mut st = self.st();
        if st.stopped.is_some() {
            return;
        }
        let at_step = st.steps;
        st.trace.rows.push(Row::Violated { invariant: "panic".into(), detail: message.clone() });
        let v = Violation { kind: ViolationKind::Panic, name: "panic".into(), detail: message, at_step };
        st.violations.push(v.clone());
        st.stopped = Some(v);
    }

    /// Ends the execution, which cannot go on (a deadlock, the step limit, a schedule that does not
    /// fit, a panic). Under shuttle the scheduler stops it at the next scheduling point, which
    /// this thread reaches at once and never leaves; nothing unwinds and nothing is printed. Under
    /// loom, which cannot stop an execution, this panics with [`Stop`].
    pub(crate) fn halt(&self) -> ! {
        if let Some(signal) = &self.stop_signal {
            signal.store(true, Ordering::SeqCst);
            // The scheduler refuses to go on at the first of these.
            for _ in 0..8 {
                self.ticket.tick();
            }
        }
        std::panic::panic_any(Stop)
    }

    /// Marks the execution stopped by the violation named `name` (already recorded).
    pub(crate) fn stop_here(&self, name: &str) {
        let mut st = self.st();
        if st.stopped.is_none() {
            let v = st.violations.iter().find(|v| v.name == name).cloned();
            st.stopped = v.or_else(|| st.violations.first().cloned());
        }
    }

    /// Whether the execution was stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        self.st().stopped.is_some()
    }

    /// Drops what the execution registered (its `always` checks hold models, which hold the
    /// context, which holds the world: a cycle to break once the execution is over).
    pub(crate) fn teardown(&self) {
        let always = std::mem::take(&mut self.st().always);
        drop(always);
        let describers = std::mem::take(&mut self.st().describers);
        drop(describers);
        let locals = std::mem::take(&mut *self.locals.lock().unwrap_or_else(|e| e.into_inner()));
        drop(locals);
    }

    /// The execution-local value of type `T`, made by `init` on first use.
    pub(crate) fn local<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let id = std::any::TypeId::of::<T>();
        let locals = self.locals.lock().unwrap_or_else(|e| e.into_inner());
        let found = locals.iter().find(|(t, _)| *t == id).map(|(_, v)| Arc::clone(v));
        let any = match found {
            Some(v) => v,
            None => {
                // `init` may make objects of the execution (which name themselves through the
                // world), so it runs without this lock.
                drop(locals);
                let v: Arc<dyn std::any::Any + Send + Sync> = Arc::new(init());
                let mut locals = self.locals.lock().unwrap_or_else(|e| e.into_inner());
                match locals.iter().find(|(t, _)| *t == id) {
                    Some((_, existing)) => Arc::clone(existing),
                    None => {
                        locals.push((id, Arc::clone(&v)));
                        v
                    }
                }
            }
        };
        any.downcast::<T>().unwrap_or_else(|_| unreachable!("locals are keyed by their type"))
    }

    /// The thread that spawned thread `idx` (`None` for the main thread).
    pub(crate) fn parent_of(&self, idx: usize) -> Option<usize> {
        self.st().threads.get(idx).and_then(|t| t.parent)
    }

    /// The outcome, once the execution is over (its trace is moved out).
    pub(crate) fn outcome(&self) -> (ExecOutcome, Vec<Decision>) {
        let mut st = self.st();
        let controlled = st.controller.is_some();
        let preemptions = controlled.then(|| st.decisions.iter().filter(|d| d.is_preemption()).count());
        let stepless = st.threads[1..].iter().filter(|t| t.steps == 0).map(|t| t.name.clone()).collect();
        (
            ExecOutcome {
                trace: std::mem::take(&mut st.trace),
                violations: st.violations.clone(),
                preemptions,
                witnesses: Vec::new(),
                stepless,
            },
            std::mem::take(&mut st.decisions),
        )
    }
}

/// `name`'s number in `names`: the next free one for a name not seen before.
fn intern(names: &mut std::collections::BTreeMap<String, usize>, name: &str) -> usize {
    match names.get(name) {
        Some(&i) => i,
        None => {
            let next = names.len();
            names.insert(name.to_string(), next);
            next
        }
    }
}

/// What a woken thread's readiness is when its own was dropped (it was cancelled while waiting):
/// never consulted, since the thread ends at the top of its next attempt.
fn ready_placeholder() -> Ready {
    Box::new(|| Ok(()))
}

/// A cheap handle to the world, shared by every thread of an execution.
pub(crate) type WorldRef = Arc<World>;
