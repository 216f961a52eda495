//! Running executions: free explorations under a backend's scheduler, and controlled executions
//! under a [`Driver`] that hands out one [`Controller`] per execution.
//!
//! Isolation: every shuttle run happens on a fresh OS thread. A failed shuttle execution can leave
//! thread-local state behind that makes the next run on the same OS thread fail at once (when a
//! second task panicked while unwinding); a fresh thread has fresh thread-locals, so one failure
//! never colours the next verdict. loom runs happen in a child process (see `loom_child`), because
//! loom aborts the whole process on a deadlock.

use crate::backend::{self, Backend};
use crate::scenario::{Ctx, Variant};
use crate::world::{Controller, Decision, ExecOutcome, Mode, Stop, World};
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use std::any::Any;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};

/// The most model steps one execution may make before it is reported as a step-limit violation.
pub const MAX_STEPS: usize = 2_000;

/// The most backend scheduling decisions one shuttle execution may make.
const SHUTTLE_MAX_DECISIONS: usize = 200_000;

std::thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once, a panic hook that stays silent on exploration threads: a panic there is a
/// finding the harness reports, not a crash to print. Elsewhere the hook that was installed before
/// runs, as if the harness were not there.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        // shuttle installs its own hook (which prints schedules) the first time it runs. Let it do
        // so now and discard it: the harness reports failures itself, with replay strings.
        let _ = std::thread::spawn(|| {
            let sched = shuttle::scheduler::RoundRobinScheduler::new(1);
            shuttle::Runner::new(sched, quiet_config()).run(|| {});
        })
        .join();
        drop(std::panic::take_hook());
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
}

fn quiet_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.max_steps = shuttle::MaxSteps::FailAfter(SHUTTLE_MAX_DECISIONS);
    config.silence_warnings = true;
    config.ungraceful_shutdown_config.immediately_return_on_panic = true;
    config
}

/// Runs `f` on a fresh OS thread whose panics are silent, and returns its result.
pub(crate) fn isolated<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    install_quiet_hook();
    std::thread::Builder::new()
        .name("interleave-exploration".into())
        .spawn(move || {
            QUIET.with(|q| q.set(true));
            f()
        })
        .expect("spawning an exploration thread")
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// Completes an outcome after its execution: which witnesses it reached.
fn finish_outcome(variant: &Variant, out: &mut ExecOutcome) {
    out.witnesses = variant.witnesses.iter().filter(|w| (w.reached)(&out.trace)).map(|w| w.name.to_string()).collect();
}

/// Runs the body of `variant` in `world` to its end (the main thread's part of an execution).
/// Primitives find the execution from the thread while it runs (see `current`); every
/// execution ends when every thread has finished, whatever the body did.
pub(crate) fn run_body(variant: &'static Variant, world: &Arc<World>) {
    let ctx = Ctx { world: Arc::clone(world), variant };
    let _current = crate::current::enter(ctx.clone());
    world.allow_races(&variant.racy.iter().map(|r| r.var).collect::<Vec<_>>());
    crate::scenario::guarded(world, || (variant.body)(&ctx));
    world.finish_main();
}

/// The outcome of an execution that has ended, normally or not, and drops what it registered.
fn collect(variant: &Variant, world: &World) -> (ExecOutcome, Vec<Decision>) {
    let (mut out, decisions) = world.outcome();
    world.teardown();
    finish_outcome(variant, &mut out);
    (out, decisions)
}

/// Turns a failure that escaped the world (a panic out of the backend itself, which the harness
/// does not expect) into an outcome.
fn outcome_of_failure(
    variant: &Variant,
    world: Option<Arc<World>>,
    payload: &(dyn Any + Send),
) -> (ExecOutcome, Vec<Decision>) {
    let Some(world) = world else {
        let mut out = ExecOutcome::default();
        out.violations.push(crate::world::Violation {
            kind: crate::world::ViolationKind::Panic,
            name: "panic".into(),
            detail: panic_message(payload),
            at_step: 0,
        });
        return (out, Vec::new());
    };
    if payload.downcast_ref::<Stop>().is_none() {
        let msg = panic_message(payload);
        if msg.starts_with("deadlock!") {
            world.panicked(format!("the backend found every task blocked ({msg})"));
        } else if msg.starts_with("exceeded max_steps") {
            world.panicked(format!("the backend's step bound was exceeded ({msg})"));
        } else {
            world.panicked(msg);
        }
    }
    collect(variant, &world)
}

/// What a free exploration found.
#[derive(Clone, Debug, Default)]
pub struct FreeResult {
    /// Executions run.
    pub executions: usize,
    /// The first execution that violated something.
    pub counterexample: Option<ExecOutcome>,
    /// Witnesses reached by any execution.
    pub witnesses: BTreeSet<String>,
    /// Whether the scheduler exhausted its space (only `dfs` can).
    pub complete: bool,
    /// Backend scheduling decisions made over all executions.
    pub decisions: usize,
    /// Distinct interleavings among the executions: classes up to reordering of steps on
    /// different model objects (see [`crate::Trace::signature`]).
    pub distinct: usize,
    /// The signatures seen (to count `distinct`).
    pub signatures: BTreeSet<u64>,
    /// Spawned threads that made no step in any execution so far (`None` before the first).
    pub stepless: Option<BTreeSet<String>>,
}

/// Narrows `acc`, the threads that made no step in any execution so far, by one more execution.
pub(crate) fn narrow_stepless(acc: &mut Option<BTreeSet<String>>, out: &ExecOutcome) {
    let this: BTreeSet<String> = out.stepless.iter().cloned().collect();
    *acc = Some(match acc.take() {
        None => this,
        Some(before) => before.intersection(&this).cloned().collect(),
    });
}

impl FreeResult {
    /// Whether the counterexample kept is decisive (see [`ExecOutcome::decisive`]): the search can
    /// stop.
    pub fn decisive(&self) -> bool {
        self.counterexample.as_ref().is_some_and(ExecOutcome::decisive)
    }

    /// Counts an execution; returns whether a decisive counterexample is now known (the first
    /// decisive execution is kept; until there is one, the first that raced).
    pub(crate) fn absorb(&mut self, out: ExecOutcome) -> bool {
        self.executions += 1;
        narrow_stepless(&mut self.stepless, &out);
        self.signatures.insert(out.trace.signature());
        self.distinct = self.signatures.len();
        self.witnesses.extend(out.witnesses.iter().cloned());
        if out.violation().is_some() && !self.decisive() && (self.counterexample.is_none() || out.decisive()) {
            self.counterexample = Some(out);
        }
        self.decisive()
    }
}

struct FreeShared {
    variant: &'static Variant,
    /// The world of the execution in progress; taken when its outcome is collected.
    world: Option<Arc<World>>,
    result: FreeResult,
    stop: bool,
}

impl FreeShared {
    /// Collects the execution in progress if it ended without reaching its epilogue (it was
    /// halted). Returns whether the exploration should stop.
    fn collect_halted(&mut self) -> bool {
        if let Some(world) = self.world.take() {
            let (out, _) = collect(self.variant, &world);
            if self.result.absorb(out) {
                self.stop = true;
            }
        }
        self.stop
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wraps a shuttle scheduler: counts and records every decision, stops an execution the world
/// halted, collects it, and ends the exploration at the first counterexample.
struct Recording<S> {
    // `None` only once dropped early (see `Drop`).
    inner: Option<S>,
    shared: Arc<Mutex<FreeShared>>,
    halt: Arc<AtomicBool>,
    decisions: Vec<TaskId>,
    stopped_early: bool,
}

impl<S> Drop for Recording<S> {
    fn drop(&mut self) {
        // shuttle's random scheduler prints "failing seed" when dropped in the middle of an
        // iteration, which is what stopping at a counterexample looks like to it. The harness reports
        // the counterexample itself (with a replay string), so the scheduler is forgotten instead:
        // a few hundred bytes, once per exploration.
        if self.stopped_early || std::thread::panicking() {
            std::mem::forget(self.inner.take());
        }
    }
}

impl<S: Scheduler> Scheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        {
            let mut shared = lock(&self.shared);
            shared.result.decisions += self.decisions.len();
            self.decisions.clear();
            if shared.collect_halted() {
                self.stopped_early = true;
                return None;
            }
        }
        self.halt.store(false, Ordering::SeqCst);
        self.inner.as_mut()?.new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        if self.halt.load(Ordering::SeqCst) {
            return None;
        }
        let t = self.inner.as_mut()?.next_task(runnable, current, is_yielding)?;
        self.decisions.push(t);
        Some(t)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.as_mut().map_or(0, |s| s.next_u64())
    }
}

/// Explores `variant` under a shuttle scheduler until it stops or finds a counterexample.
pub fn shuttle_free<S>(variant: &'static Variant, scheduler: S, iterations: usize) -> FreeResult
where
    S: Scheduler + Send + 'static,
{
    let shared = Arc::new(Mutex::new(FreeShared { variant, world: None, result: FreeResult::default(), stop: false }));
    let sh = Arc::clone(&shared);
    isolated(move || {
        let halt = Arc::new(AtomicBool::new(false));
        let recording = Recording {
            inner: Some(scheduler),
            shared: Arc::clone(&sh),
            halt: Arc::clone(&halt),
            decisions: Vec::new(),
            stopped_early: false,
        };
        let sh2 = Arc::clone(&sh);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            backend::with_backend(Backend::Shuttle, || {
                shuttle::Runner::new(recording, quiet_config()).run(move || {
                    let world = Arc::new(World::new(Mode::Free, "main", MAX_STEPS, Some(Arc::clone(&halt))));
                    lock(&sh2).world = Some(Arc::clone(&world));
                    run_body(variant, &world);
                    let (out, _) = collect(variant, &world);
                    let mut s = lock(&sh2);
                    s.world = None;
                    if s.result.absorb(out) {
                        s.stop = true;
                    }
                })
            })
        }));
        let mut s = lock(&sh);
        if let Err(payload) = run {
            let (out, _) = outcome_of_failure(variant, s.world.take(), payload.as_ref());
            s.result.absorb(out);
        }
        s.collect_halted();
        s.result.complete = !s.result.decisive() && s.result.executions < iterations;
        std::mem::take(&mut s.result)
    })
}

/// What a bare shuttle run found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BareResult {
    /// Executions run, the failing one included.
    pub executions: usize,
    /// Whether an execution failed.
    pub failed: bool,
}

/// The least a bare run needs around shuttle's scheduler: end the run after a failing execution
/// (as a failed `assert!` would, without shuttle's printing), stop an execution the world halted,
/// and keep shuttle's random scheduler from printing a "failing seed" when it is dropped early.
/// One atomic load per execution and per decision; nothing recorded.
struct Bare<S> {
    inner: Option<S>,
    failed: Arc<AtomicBool>,
    halt: Arc<AtomicBool>,
}

impl<S> Drop for Bare<S> {
    fn drop(&mut self) {
        if self.failed.load(Ordering::Relaxed) || std::thread::panicking() {
            std::mem::forget(self.inner.take());
        }
    }
}

impl<S: Scheduler> Scheduler for Bare<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        // The world halted the previous execution (a deadlock, a panic): it failed.
        if self.halt.load(Ordering::Relaxed) {
            self.failed.store(true, Ordering::Relaxed);
        }
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        self.inner.as_mut()?.new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        if self.halt.load(Ordering::Relaxed) {
            return None;
        }
        self.inner.as_mut()?.next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.as_mut().map_or(0, |s| s.next_u64())
    }
}

/// Runs `variant`'s body the way a plain shuttle test runs its closure, as the baseline the
/// benchmark measures the harness against: shuttle's `Runner` with `scheduler` itself (not wrapped
/// to record its decisions), the world recording no trace, and the first execution that violates
/// an invariant (or deadlocks, or panics) ending the run. Nothing is collected: no trace,
/// witnesses or signatures.
pub fn shuttle_bare<S>(variant: &'static Variant, scheduler: S) -> BareResult
where
    S: Scheduler + Send + 'static,
{
    isolated(move || {
        let failed = Arc::new(AtomicBool::new(false));
        let halt = Arc::new(AtomicBool::new(false));
        let (f, h) = (Arc::clone(&failed), Arc::clone(&halt));
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let bare = Bare { inner: Some(scheduler), failed: Arc::clone(&failed), halt: Arc::clone(&halt) };
        // The scheduler is moved into the runner; count executions in the body instead.
        let c = Arc::clone(&counter);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            backend::with_backend(Backend::Shuttle, || {
                shuttle::Runner::new(bare, quiet_config()).run(move || {
                    c.fetch_add(1, Ordering::Relaxed);
                    let world = Arc::new(World::new(Mode::Free, "main", MAX_STEPS, Some(Arc::clone(&h))).unrecorded());
                    // A halted execution (deadlock, panic) unwinds out of here: a failure too.
                    let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_body(variant, &world)));
                    if finished.is_err() || world.violated_decisively() {
                        f.store(true, Ordering::Relaxed);
                    }
                    world.teardown();
                })
            })
        }));
        let executions = counter.load(Ordering::Relaxed);
        BareResult { executions, failed: failed.load(Ordering::Relaxed) || run.is_err() }
    })
}

/// Hands out the controller of each controlled execution and learns from its outcome.
pub trait Driver: Send + 'static {
    /// Called before the first execution with `None`, then after every execution with its outcome
    /// and decisions. Returns the next execution's controller, or `None` to stop.
    fn next(&mut self, last: Option<(ExecOutcome, Vec<Decision>)>) -> Option<Box<dyn Controller>>;
}

struct ControlledShared<D> {
    variant: &'static Variant,
    /// Whether executions record every object's state after each step (for rendering).
    describe: bool,
    // Taken back at the end. (A halted shuttle execution leaks its tasks' stacks, and with them
    // clones of the shared handle, so the handle itself cannot be unwrapped.)
    driver: Option<D>,
    pending: Option<Box<dyn Controller>>,
    world: Option<Arc<World>>,
}

impl<D: Driver> ControlledShared<D> {
    /// Hands the finished (or halted) execution's outcome to the driver.
    fn collect(&mut self, world: &World) {
        let last = collect(self.variant, world);
        self.pending = self.driver.as_mut().and_then(|d| d.next(Some(last)));
    }
}

/// A deterministic shuttle scheduler for controlled executions: it keeps running the current task
/// and otherwise takes the first runnable one. The controller, not this scheduler, orders steps;
/// this only has to be deterministic so that replays print the same bytes. It also collects
/// halted executions and stops them, like [`Recording`].
struct Steady<D> {
    shared: Arc<Mutex<ControlledShared<D>>>,
    halt: Arc<AtomicBool>,
}

impl<D: Driver> Scheduler for Steady<D> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let mut s = lock(&self.shared);
        if let Some(world) = s.world.take() {
            s.collect(&world);
        }
        self.halt.store(false, Ordering::SeqCst);
        s.pending.is_some().then(|| Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, _is_yielding: bool) -> Option<TaskId> {
        if self.halt.load(Ordering::SeqCst) {
            return None;
        }
        // shuttle lists parked threads too (they may wake spuriously); choosing one would only
        // wake it to park again, so the running thread is kept only while it can run, and
        // otherwise the first thread that can.
        match current {
            Some(c) if runnable.iter().any(|t| t.id() == c && t.runnable()) => Some(c),
            _ => runnable.iter().find(|t| t.runnable()).or(runnable.first()).map(|t| t.id()),
        }
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// Runs controlled executions of `variant` on shuttle for as long as `driver` hands out
/// controllers, and returns the driver.
pub fn run_controlled<D: Driver>(variant: &'static Variant, driver: D) -> D {
    run_controlled_with(variant, driver, false)
}

/// As [`run_controlled`]; with `describe`, every execution records every model object's state
/// after each step (`Trace::states`), for rendering.
fn run_controlled_with<D: Driver>(variant: &'static Variant, mut driver: D, describe: bool) -> D {
    let Some(first) = driver.next(None) else { return driver };
    let shared = Arc::new(Mutex::new(ControlledShared {
        variant,
        describe,
        driver: Some(driver),
        pending: Some(first),
        world: None,
    }));
    loop {
        let sh = Arc::clone(&shared);
        // Runs until the driver stops. Only a failure the world did not catch ends a run early;
        // the next run then starts on a fresh OS thread.
        let more = isolated(move || {
            let halt = Arc::new(AtomicBool::new(false));
            let sched = Steady { shared: Arc::clone(&sh), halt: Arc::clone(&halt) };
            let sh2 = Arc::clone(&sh);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                backend::with_backend(Backend::Shuttle, || {
                    shuttle::Runner::new(sched, quiet_config()).run(move || {
                        let (controller, describe) = {
                            let mut s = lock(&sh2);
                            (s.pending.take(), s.describe)
                        };
                        let Some(controller) = controller else { return };
                        let mut world =
                            World::new(Mode::Controlled(controller), "main", MAX_STEPS, Some(Arc::clone(&halt)));
                        if describe {
                            world = world.describing();
                        }
                        let world = Arc::new(world);
                        lock(&sh2).world = Some(Arc::clone(&world));
                        run_body(variant, &world);
                        let mut s = lock(&sh2);
                        s.world = None;
                        s.collect(&world);
                    })
                })
            }));
            let mut s = lock(&sh);
            match run {
                Ok(_) => false,
                Err(payload) => {
                    let last = outcome_of_failure(variant, s.world.take(), payload.as_ref());
                    s.pending = s.driver.as_mut().and_then(|d| d.next(Some(last)));
                    s.pending.is_some()
                }
            }
        });
        if !more {
            break;
        }
    }
    let driver = lock(&shared).driver.take();
    driver.expect("the driver is only taken here")
}

/// Follows a fixed step order; beyond it, either stops the execution (`strict`, for replay) or
/// lets the current thread continue and otherwise takes the lowest enabled one (no preemption).
pub struct PrefixController {
    prefix: Vec<usize>,
    pos: usize,
    strict: bool,
}

impl PrefixController {
    /// A controller that follows `prefix`.
    pub fn new(prefix: Vec<usize>, strict: bool) -> PrefixController {
        PrefixController { prefix, pos: 0, strict }
    }
}

impl Controller for PrefixController {
    fn choose(&mut self, enabled: &[usize], prev: Option<usize>) -> Result<usize, String> {
        if let Some(&t) = self.prefix.get(self.pos) {
            self.pos += 1;
            if !enabled.contains(&t) {
                return Err(format!(
                    "step {} of the schedule is thread {t}, but only threads {enabled:?} can make a step there",
                    self.pos
                ));
            }
            return Ok(t);
        }
        if self.strict {
            return Err(format!("the schedule ends after {} steps but the execution goes on", self.prefix.len()));
        }
        Ok(match prev {
            Some(p) if enabled.contains(&p) => p,
            _ => enabled[0],
        })
    }
}

/// Runs exactly one controlled execution following `order`.
pub fn replay_order(variant: &'static Variant, order: Vec<usize>) -> (ExecOutcome, Vec<Decision>) {
    run_once(variant, Box::new(PrefixController::new(order, true)))
}

/// Runs exactly one controlled execution following `order`, recording every model object's state
/// after each step (`Trace::states`): what a rendering of the trace for people shows beside it.
pub fn replay_order_described(variant: &'static Variant, order: Vec<usize>) -> (ExecOutcome, Vec<Decision>) {
    run_once_with(variant, Box::new(PrefixController::new(order, true)), true)
}

/// Runs exactly one controlled execution under `controller`.
pub fn run_once(variant: &'static Variant, controller: Box<dyn Controller>) -> (ExecOutcome, Vec<Decision>) {
    run_once_with(variant, controller, false)
}

fn run_once_with(
    variant: &'static Variant,
    controller: Box<dyn Controller>,
    describe: bool,
) -> (ExecOutcome, Vec<Decision>) {
    struct Once {
        controller: Option<Box<dyn Controller>>,
        result: Option<(ExecOutcome, Vec<Decision>)>,
    }
    impl Driver for Once {
        fn next(&mut self, last: Option<(ExecOutcome, Vec<Decision>)>) -> Option<Box<dyn Controller>> {
            if let Some(l) = last {
                self.result = Some(l);
                return None;
            }
            self.controller.take()
        }
    }
    let d = run_controlled_with(variant, Once { controller: Some(controller), result: None }, describe);
    d.result.unwrap_or_default()
}
