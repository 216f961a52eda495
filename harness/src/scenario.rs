//! What a scenario is: a named finding with variants, each a body, an expectation, invariants and
//! witnesses; and [`Ctx`], the handle scenario and model code use inside one execution.
//!
//! Life cycle: the harness creates a fresh world for every execution and calls the variant's body
//! on the main thread with a [`Ctx`]. The body sets up state, spawns threads with [`Ctx::spawn`],
//! joins them and checks its end-state invariants with [`Ctx::check`]. Invariants registered with
//! [`Ctx::always`] are checked after every step. A violation is recorded, not thrown: the
//! execution runs on to its end, so the trace tells the whole story, and the harness reads the
//! violations afterwards. Witnesses are predicates over the finished trace.

use crate::backend::{self, RawJoinHandle};
use crate::error::{Error, ErrorKind};
use crate::trace::{Step, Trace};
use crate::world::{Cancelled, Stop, World, WorldRef};
use serde::Serialize;
use std::fmt;
use std::sync::{Arc, Mutex};

/// What the checker must find for a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Some execution violates an invariant.
    Counterexample,
    /// No execution violates an invariant, and every witness is reached.
    Holds,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Counterexample => "counterexample",
            Expect::Holds => "holds",
        })
    }
}

/// A property of the scenario, named in the words of the audit ("state file survives read_all").
#[derive(Debug, PartialEq, Eq)]
pub struct Invariant {
    /// The short name a violation carries.
    pub name: &'static str,
}

/// A condition showing that an execution reached the racy window a `holds` verdict is about
/// (e.g. "read_all ran while a write was in flight"). A `holds` verdict without it proves nothing.
pub struct Witness {
    /// What the witness shows.
    pub name: &'static str,
    /// Whether a finished execution's trace reached it.
    pub reached: fn(&Trace) -> bool,
}

impl fmt::Debug for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Witness").field("name", &self.name).finish()
    }
}

/// Instances made by [`Variant::instance`], each with the catalog variant it was made from. A few
/// per process (a search over parameters makes tens), so a list.
static INSTANCES: Mutex<Vec<(&'static Variant, &'static Variant)>> = Mutex::new(Vec::new());

fn lock_instances() -> std::sync::MutexGuard<'static, Vec<(&'static Variant, &'static Variant)>> {
    INSTANCES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A size a variant can be run at (how many writers, chunks, submits…). A variant that declares
/// parameters reads them with [`Ctx::param`]; `interleave check 'worker-state/buggy[writers=2]'`
/// and proptest (which shrinks them to the smallest failing instance) choose other values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its name, as written in `variant[name=value]`.
    pub name: &'static str,
    /// The value the catalog's variant uses.
    pub default: usize,
    /// The smallest value allowed.
    pub min: usize,
    /// The largest value allowed (keeps a loom run within its five threads, an execution within its
    /// step limit).
    pub max: usize,
    /// One line: what it sizes.
    pub summary: &'static str,
}

/// A shared variable a variant declares intentionally racy, and why: the data-race detector does
/// not report it (its other invariants still apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Racy {
    /// The variable's name, as given to `Shared::named` (or its creation-site name).
    pub var: &'static str,
    /// Why the race is intended (a statistics counter whose exactness does not matter, say).
    pub why: &'static str,
}

/// The main thread of one execution: a function, or a closure (so that a table of programs can
/// become variants without one function each). Non-capturing closures coerce to it in a
/// `static`: `body: &|ctx| run(ctx, Lock::Flock)`.
pub type Body = &'static (dyn Fn(&Ctx) + Send + Sync);

/// One version of the audited code: as audited, as the audit proposed to fix it, or fixed.
#[derive(Clone)]
pub struct Variant {
    /// Its name (`buggy`, `audit-fix`, `fixed`, …).
    pub name: &'static str,
    /// What the checker must find.
    pub expect: Expect,
    /// One line: what this variant does differently.
    pub summary: &'static str,
    /// The main thread of one execution.
    pub body: Body,
    /// Witnesses of the racy window; a `holds` variant names at least one.
    pub witnesses: &'static [Witness],
    /// The parameters the body reads with [`Ctx::param`].
    pub params: &'static [Param],
    /// An instance's values, one per parameter; empty (the defaults) in the catalog. Made by
    /// [`Variant::instance`].
    pub values: &'static [usize],
    /// Shared variables whose races are intended (see [`Racy`]).
    pub racy: &'static [Racy],
}

impl fmt::Debug for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variant")
            .field("name", &self.name)
            .field("expect", &self.expect)
            .field("summary", &self.summary)
            .field("witnesses", &self.witnesses)
            .field("params", &self.params)
            .field("values", &self.values)
            .field("racy", &self.racy)
            .finish_non_exhaustive()
    }
}

impl Variant {
    /// The value of parameter `name` in this variant or instance.
    pub fn param(&self, name: &str) -> Option<usize> {
        let i = self.params.iter().position(|p| p.name == name)?;
        Some(self.values.get(i).copied().unwrap_or(self.params[i].default))
    }

    /// The name without an instance's parameters (`buggy` for `buggy[writers=2]`).
    pub fn base_name(&self) -> &'static str {
        self.name.split('[').next().unwrap_or(self.name)
    }

    /// This variant with some parameters set: `self` when every value is its default, otherwise an
    /// instance named `name[p=v,…]` (non-default values, in declaration order). Instances live for
    /// the rest of the process, one per distinct set of values.
    pub fn instance(&'static self, set: &[(&str, usize)]) -> Result<&'static Variant, Error> {
        let mut values: Vec<usize> = self.params.iter().map(|p| self.param(p.name).unwrap_or(p.default)).collect();
        for (name, value) in set {
            let Some(i) = self.params.iter().position(|p| p.name == *name) else {
                let known: Vec<&str> = self.params.iter().map(|p| p.name).collect();
                return Err(Error::new(
                    ErrorKind::UnknownScenario,
                    format!(
                        "variant {} has no parameter '{}': {}",
                        self.base_name(),
                        name.chars().take(40).collect::<String>(),
                        if known.is_empty() {
                            "it takes none".to_string()
                        } else {
                            format!("its parameters are {}", known.join(", "))
                        }
                    ),
                ));
            };
            let p = &self.params[i];
            if !(p.min..=p.max).contains(value) {
                return Err(Error::new(
                    ErrorKind::BadOption,
                    format!(
                        "parameter {}={value} of {} is out of range: {} takes {}..={}",
                        p.name,
                        self.base_name(),
                        p.name,
                        p.min,
                        p.max
                    ),
                ));
            }
            values[i] = *value;
        }
        let named: Vec<String> = self
            .params
            .iter()
            .zip(&values)
            .filter(|(p, v)| p.default != **v)
            .map(|(p, v)| format!("{}={v}", p.name))
            .collect();
        let base = self.base_variant();
        if named.is_empty() {
            return Ok(base);
        }
        let mut made = lock_instances();
        if let Some((_, v)) = made.iter().find(|(b, v)| std::ptr::eq(*b, base) && v.values == values.as_slice()) {
            return Ok(v);
        }
        let v: &'static Variant = Box::leak(Box::new(Variant {
            name: Box::leak(format!("{}[{}]", base.name, named.join(",")).into_boxed_str()),
            values: Box::leak(values.into_boxed_slice()),
            ..base.clone()
        }));
        made.push((base, v));
        Ok(v)
    }

    /// The catalog variant an instance was made from (itself for a catalog variant).
    fn base_variant(&'static self) -> &'static Variant {
        lock_instances().iter().find(|(_, v)| std::ptr::eq(*v, self)).map_or(self, |(b, _)| b)
    }

    /// The fields most catalog variants leave as they are: no witnesses, no parameters. Complete it
    /// with `Variant { name, expect, summary, body, ..Variant::DEFAULTS }`.
    pub const DEFAULTS: Variant = Variant {
        name: "",
        expect: Expect::Holds,
        summary: "",
        body: &|_| {},
        witnesses: &[],
        params: &[],
        values: &[],
        racy: &[],
    };

    /// A variant whose body is `body`, a closure that may capture (it is leaked: variants live
    /// for the rest of the process). With [`Scenario::new`], a table of programs becomes a
    /// scenario without one function per program.
    pub fn new(name: &str, expect: Expect, body: impl Fn(&Ctx) + Send + Sync + 'static) -> Variant {
        Variant {
            name: Box::leak(name.to_string().into_boxed_str()),
            expect,
            body: Box::leak(Box::new(body)),
            ..Variant::DEFAULTS
        }
    }

    /// The same variant with `summary`.
    pub fn summary(mut self, summary: &str) -> Variant {
        self.summary = Box::leak(summary.to_string().into_boxed_str());
        self
    }

    /// The same variant with `witnesses`.
    pub fn witnesses(mut self, witnesses: &'static [Witness]) -> Variant {
        self.witnesses = witnesses;
        self
    }
}

/// Where a finding comes from.
#[derive(Debug)]
pub struct Source {
    /// The audit's seed file, e.g. `000_22be9e3ee358d176.txt`.
    pub seed: &'static str,
    /// The audit's own section title.
    pub section: &'static str,
}

/// An audited finding, modeled.
#[derive(Debug)]
pub struct Scenario {
    /// Its name, e.g. `worker-state`.
    pub name: &'static str,
    /// One line: the finding.
    pub summary: &'static str,
    /// Where it comes from.
    pub source: Source,
    /// Its variants, side by side.
    pub variants: &'static [Variant],
}

impl Scenario {
    /// A scenario made at run time (leaked: scenarios live for the rest of the process), for
    /// scenarios built from a table rather than written as a `static`.
    pub fn new(name: &str, summary: &str, source: Source, variants: Vec<Variant>) -> &'static Scenario {
        Box::leak(Box::new(Scenario {
            name: Box::leak(name.to_string().into_boxed_str()),
            summary: Box::leak(summary.to_string().into_boxed_str()),
            source,
            variants: Box::leak(variants.into_boxed_slice()),
        }))
    }

    /// The variant named `name`.
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// The handle scenario and model code use inside one execution. Cheap to clone; move clones into
/// spawned threads.
#[derive(Clone)]
pub struct Ctx {
    pub(crate) world: WorldRef,
    pub(crate) variant: &'static Variant,
}

impl Ctx {
    /// The current execution's context, found from the thread: what primitives shaped like
    /// `std`'s use, so that scenario code needs no context handed to it.
    ///
    /// # Panics
    /// Outside an execution, saying where primitives may be used.
    #[track_caller]
    pub fn current() -> Ctx {
        crate::current::current("interleave::Ctx::current")
    }

    /// The current execution's context, or `None` outside one.
    pub fn try_current() -> Option<Ctx> {
        crate::current::try_current()
    }

    /// Spawns a logical thread named `name` (the name heads its trace column); the same as
    /// `interleave::thread::Builder::new().name(name).spawn(f)`.
    pub fn spawn<F, T>(&self, name: &str, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let idx = self.world.register(name);
        let world = Arc::clone(&self.world);
        let slot = Arc::new(std::sync::Mutex::new(None));
        let filled = Arc::clone(&slot);
        let raw = backend::spawn(move || {
            world.attach(idx);
            // A cancelled thread (of a process that died) ends quietly, with no value.
            let r = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guarded(&world, f))) {
                Ok(v) => Some(v),
                Err(p) if p.downcast_ref::<Cancelled>().is_some() => None,
                Err(p) => std::panic::resume_unwind(p),
            };
            // The value is where a joiner takes it before the thread counts as finished.
            *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            world.finish(idx);
        });
        crate::thread::handle(raw, slot, idx, name, Arc::clone(&self.world))
    }

    /// A name for a new model object: `base`, or `base#2`, `base#3` … when an object of that
    /// name exists already in this execution (two mutexes made at one line of a loop, say).
    /// Models and primitives name every object they make through this, so that steps on
    /// different objects never share a name.
    pub fn object_name(&self, base: &str) -> String {
        self.world.object_name(base)
    }

    /// Makes one atomic model step on `object` (one model object, or several joined by `+`; see
    /// [`Step::object`]): waits (as a blocked thread) until `ready` returns `Ok`, then runs `act`,
    /// which performs the operation and describes it. Code between steps must not
    /// read shared model state to decide what to do next: only a step's `ready` and `act` may
    /// (the step-level search runs a thread's code up to its next step before deciding who
    /// moves, so such a read would never see what another thread does in between). The returned step's `thread`
    /// and `object` fields are filled in by the harness. `ready` must not change any state, and
    /// may read only the state of `object` (every object it reads, joined by `+`), which only
    /// steps change: while it returns `Err(what it waits on)` it is called again after every step
    /// that touches one of those objects, and only then. A readiness that changes with no such
    /// step stops the execution with a misuse of the step contract (checked at every look in a
    /// build with debug assertions or with up to 8 threads, at every 64th otherwise, and before
    /// any deadlock is reported).
    pub fn step<R>(
        &self,
        object: &str,
        ready: impl FnMut() -> Result<(), String> + Send + 'static,
        act: impl FnOnce() -> (R, Step),
    ) -> R {
        self.world.step(object, ready, act)
    }

    /// As [`Ctx::step`], for a step declared on `object` (its whole model, `fs`) whose actual
    /// footprint — the parts of `object` it reads or changes, joined by `+`, each named
    /// `object/part` (`fs/ino:7+fs/fds:1`) — `footprint` computes from the state before the step
    /// (`None`: the whole object). The step's scheduling point is taken on those parts, so loom's
    /// reduction sees steps on different parts as independent; `act` may report the same or a
    /// finer footprint in its step's `object`. `footprint` must not change anything, and must name
    /// everything the step will read or change.
    pub fn step_within<R>(
        &self,
        object: &str,
        footprint: &dyn Fn() -> Option<String>,
        ready: impl FnMut() -> Result<(), String> + Send + 'static,
        act: impl FnOnce() -> (R, Step),
    ) -> R {
        self.world.step_within(object, footprint, ready, act)
    }

    /// Declares that the calling code changed the state of `object` between steps, where no other
    /// thread could see it change (code that holds `object` alone: an event-loop task's
    /// synchronous code holds the loop). The steps waiting on `object` are looked at again before
    /// the next decision, as after a step on it; without this, a waiting step whose `ready` reads
    /// that state would not be, and the execution stops with a misuse of the step contract.
    pub fn touch(&self, object: &str) {
        self.world.touch(object);
    }

    /// Declares that the calling code is about to read the state of model object `object`
    /// outside a step: every model calls this from its `inspect`-style reads. Such a read is
    /// sound in setup (before any thread is spawned), in `always` checks and steps, and in end
    /// checks once every other thread has finished; anywhere else the execution stops with a
    /// misuse of the step contract that names the thread, the object and the last step (the read
    /// would happen at a moment no schedule controls, so a verdict resting on it could be wrong).
    pub fn observe(&self, object: &str) {
        self.world.observe(object);
    }

    /// How many steps this execution has made so far: inside a step's `act`, the steps before
    /// it, so the step itself is number `steps_made() + 1` of the trace.
    pub fn steps_made(&self) -> usize {
        self.world.steps_made()
    }

    /// The value of the variant's parameter `name` (its default unless this is an instance).
    ///
    /// # Panics
    /// When the variant declares no such parameter: a bug in the scenario, reported as a panic.
    pub fn param(&self, name: &str) -> usize {
        match self.variant.param(name) {
            Some(v) => v,
            None => panic!("variant {} reads parameter '{name}', which it does not declare", self.variant.name),
        }
    }

    /// The calling thread's index and name. Not to be called from a step's `ready` closure.
    pub fn current_thread(&self) -> (usize, String) {
        self.world.current_thread()
    }

    /// Adds a remark to the calling thread's column (not a scheduling point).
    pub fn note(&self, text: impl Into<String>) {
        self.world.note(text.into());
    }

    /// Describes the initial state (shown above the trace).
    pub fn setup(&self, text: impl Into<String>) {
        self.world.setup(text.into());
    }

    /// Describes the end state (shown below the trace).
    pub fn end(&self, text: impl Into<String>) {
        self.world.end(text.into());
    }

    /// The execution-local value of type `T`, made by `init` the first time any thread of this
    /// execution asks: how a model keeps one object per execution (the file system all threads
    /// share, the PID table), so that code reaching it needs no handle threaded through it.
    pub fn local<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        self.world.local(init)
    }

    /// Cancels thread `index`: it makes no more steps and ends at its next one (a waiting thread
    /// is woken to end), its `JoinHandle::join` returning `Err`. How a model ends the threads of a
    /// process that was killed or exited.
    pub fn cancel(&self, index: usize) {
        self.world.cancel(index);
    }

    /// Declares that the calling thread makes no more steps (its process has exited and it only
    /// returns now); a later step of it is a misuse. Lets other threads read model state without
    /// waiting for it to finish.
    pub fn retire(&self) {
        self.world.retire();
    }

    /// How many threads the execution has had so far, the main one included.
    pub fn thread_count(&self) -> usize {
        self.world.thread_count()
    }

    /// The thread that spawned thread `index` (`None` for the main thread): a model that keeps
    /// per-thread state (which process a thread belongs to) inherits it along this.
    pub fn parent_of(&self, index: usize) -> Option<usize> {
        self.world.parent_of(index)
    }

    /// Stops the execution with a misuse of the step contract: `detail` says what happened, `fix`
    /// what to do instead. For models and primitives that detect their own misuse.
    pub fn misuse(&self, detail: String, fix: &str) -> ! {
        self.world.misuse(detail, fix)
    }

    /// Records a violation of `inv` when `ok` is false. The execution goes on.
    pub fn check(&self, inv: &'static Invariant, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            self.world.violate(inv, detail());
        }
    }

    /// Records a violation of `inv` that the real program could not survive (Go's runtime throwing
    /// "concurrent map writes", an abort) and ends the execution here.
    pub fn fatal(&self, inv: &'static Invariant, detail: impl Into<String>) -> ! {
        self.world.violate(inv, detail.into());
        self.world.stop_here(inv.name);
        self.world.halt()
    }

    /// Registers a description of model object `object`'s state (who holds a lock, which files
    /// exist and what is durable, the PID table, a queue), read after every step only when a trace
    /// is rendered for people (the HTML view's side panel); `describe` must not change anything. A
    /// model calls this when it makes an object; a later registration for the same object
    /// replaces the earlier.
    pub fn describe(&self, object: &str, describe: impl Fn() -> String + Send + 'static) {
        self.world.describe(object, Box::new(describe));
    }

    /// Whether the execution has `always` invariants. A model whose steps could report footprints
    /// finer than one object (files by inode) reports the whole object instead when they do: an
    /// `always` invariant may read several of its parts at once, and then steps on different
    /// parts do not commute for it.
    pub fn has_always(&self) -> bool {
        self.world.has_always()
    }

    /// Registers `check`, evaluated after every step of this execution; an `Err` is a violation of
    /// `inv` (recorded once, at the step that broke it).
    pub fn always(&self, inv: &'static Invariant, check: impl Fn() -> Result<(), String> + Send + 'static) {
        self.world.always(inv, Box::new(check));
    }
}

pub use crate::thread::JoinHandle;

/// The value a thread returned, `None` for a thread that was cancelled; set before the thread
/// counts as finished.
pub(crate) type Slot<T> = Arc<std::sync::Mutex<Option<Option<T>>>>;

/// What a [`JoinHandle`] holds: the backend's handle, where the thread leaves its value, and the
/// thread's place in the world.
pub(crate) struct RawHandle<T> {
    raw: RawJoinHandle<()>,
    slot: Slot<T>,
    idx: usize,
    world: WorldRef,
}

impl<T> RawHandle<T> {
    pub(crate) fn new(raw: RawJoinHandle<()>, slot: Slot<T>, idx: usize, world: WorldRef) -> RawHandle<T> {
        RawHandle { raw, slot, idx, world }
    }

    /// Waits for the thread to finish and returns its result: `Err` for a thread that was
    /// cancelled (its process died). A thread that panicked already ended the execution (a panic
    /// is a finding), so this carries that end on.
    pub(crate) fn join(self) -> std::thread::Result<T> {
        let raw = self.raw;
        let joined = self.world.join(self.idx, move || raw.join());
        let value = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (joined, value) {
            (Ok(()), Some(Some(v))) => Ok(v),
            (Ok(()), Some(None)) => Err(Box::new(Cancelled)),
            _ => self.world.halt(),
        }
    }
}

/// Runs scenario code, turning a panic into a recorded violation that ends the execution (rather
/// than a crash of the backend, which would print and could leave state behind).
pub(crate) fn guarded<T>(world: &World, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            // A stopped execution, or a cancelled thread (its process died or exited), unwinds on:
            // neither is a panic of the scenario.
            if payload.downcast_ref::<Stop>().is_some()
                || payload.downcast_ref::<Cancelled>().is_some()
                || world.is_stopped()
            {
                std::panic::resume_unwind(payload);
            }
            world.panicked(crate::explore::panic_message(payload.as_ref()));
            world.halt()
        }
    }
}
