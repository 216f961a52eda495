//! The backend facade: the few primitives the engine needs, taken from whichever runtime runs the
//! current execution.
//!
//! Scenario and model code never names `shuttle` or `loom`; it spawns threads through
//! [`crate::Ctx::spawn`] and reaches shared state through model steps, which this module turns into
//! operations of the active runtime. Both runtimes are compiled in when the `loom` feature is on, and
//! the runtime is chosen per run rather than per build: a counterexample that loom finds is
//! minimized and replayed on shuttle's deterministic scheduler, so the replay string and snapshot of
//! a bug are the same whichever backend found it.
//!
//! Architecture invariant: the only scheduling points of a model are [`Ticket::tick`] (one per
//! object a step touches) and, when a thread has to wait, its [`Waiter`]'s (under loom only the
//! park: a switch that is no operation on any object).

use std::cell::Cell;

/// The runtime that executes scenario code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// shuttle: randomized, PCT and depth-first schedulers, and our own step-level controller.
    Shuttle,
    /// loom: exhaustive exploration with dynamic partial-order reduction.
    #[cfg(feature = "loom")]
    Loom,
}

impl Backend {
    /// The name used in snapshot names and reports (`shuttle`, `loom`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Shuttle => "shuttle",
            #[cfg(feature = "loom")]
            Backend::Loom => "loom",
        }
    }
}

std::thread_local! {
    // Both runtimes run every task of an execution as a coroutine on the OS thread that started the
    // run, so an OS-thread-local value set around the run is visible to all of its tasks.
    static ACTIVE: Cell<Option<Backend>> = const { Cell::new(None) };
}

/// Runs `f` with `backend` recorded as the runtime of this OS thread's executions.
pub(crate) fn with_backend<R>(backend: Backend, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<Backend>);
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.0));
        }
    }
    let _reset = Reset(ACTIVE.with(|a| a.replace(Some(backend))));
    f()
}

/// The runtime of the execution running on this OS thread.
///
/// # Panics
/// When called outside an exploration: models and scenarios only run inside one.
pub(crate) fn active() -> Backend {
    ACTIVE
        .with(|a| a.get())
        .expect("interleave primitives are only usable inside an exploration started by the harness")
}

/// The identity of a backend thread, comparable within one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadKey {
    Shuttle(shuttle::thread::ThreadId),
    #[cfg(feature = "loom")]
    Loom(loom::thread::ThreadId),
}

/// Which logical thread each backend thread of an execution is.
#[derive(Default)]
pub(crate) struct ThreadIndex {
    /// shuttle's threads, by their task number (dense: shuttle numbers tasks from 0).
    shuttle: Vec<Option<usize>>,
    /// loom's threads (at most five).
    #[cfg(feature = "loom")]
    loom: Vec<(loom::thread::ThreadId, usize)>,
}

impl ThreadIndex {
    /// Records that backend thread `key` is logical thread `idx`.
    pub(crate) fn insert(&mut self, key: ThreadKey, idx: usize) {
        match key {
            ThreadKey::Shuttle(id) => {
                let n: usize = id.into();
                if self.shuttle.len() <= n {
                    self.shuttle.resize(n + 1, None);
                }
                self.shuttle[n] = Some(idx);
            }
            #[cfg(feature = "loom")]
            ThreadKey::Loom(id) => self.loom.push((id, idx)),
        }
    }

    /// The logical thread that backend thread `key` is.
    pub(crate) fn get(&self, key: ThreadKey) -> Option<usize> {
        match key {
            ThreadKey::Shuttle(id) => self.shuttle.get(usize::from(id)).copied().flatten(),
            #[cfg(feature = "loom")]
            ThreadKey::Loom(id) => self.loom.iter().find(|(k, _)| *k == id).map(|&(_, i)| i),
        }
    }
}

/// The identity of the calling backend thread.
pub(crate) fn current_thread() -> ThreadKey {
    match active() {
        Backend::Shuttle => ThreadKey::Shuttle(shuttle::thread::current().id()),
        #[cfg(feature = "loom")]
        Backend::Loom => ThreadKey::Loom(loom::thread::current().id()),
    }
}

/// A backend thread's handle.
pub(crate) enum RawJoinHandle<T> {
    Shuttle(shuttle::thread::JoinHandle<T>),
    #[cfg(feature = "loom")]
    Loom(loom::thread::JoinHandle<T>),
}

impl<T> RawJoinHandle<T> {
    /// Waits for the thread; `Err` carries its panic payload.
    pub(crate) fn join(self) -> std::thread::Result<T> {
        match self {
            RawJoinHandle::Shuttle(h) => h.join(),
            #[cfg(feature = "loom")]
            RawJoinHandle::Loom(h) => h.join(),
        }
    }
}

/// Tells the backend's scheduler that the calling thread yields (shuttle's PCT lowers its
/// priority; loom needs it to bound a spinning loop).
pub(crate) fn yield_now() {
    match active() {
        Backend::Shuttle => shuttle::thread::yield_now(),
        #[cfg(feature = "loom")]
        Backend::Loom => loom::thread::yield_now(),
    }
}

/// Spawns a backend thread.
pub(crate) fn spawn<F, T>(f: F) -> RawJoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match active() {
        Backend::Shuttle => RawJoinHandle::Shuttle(shuttle::thread::spawn(f)),
        #[cfg(feature = "loom")]
        Backend::Loom => RawJoinHandle::Loom(loom::thread::spawn(f)),
    }
}

/// The step counter of an execution's world: every model step begins with one read-modify-write
/// of it, which is the step's only scheduling point. All steps touch the same counter, so the
/// backend treats every pair of steps as dependent and explores every order of them; and since a
/// step is a single backend operation, loom's search grows with the number of steps, not with the
/// number of lock and unlock operations around them.
pub(crate) enum Ticket {
    Shuttle(shuttle::sync::atomic::AtomicUsize),
    #[cfg(feature = "loom")]
    Loom(loom::sync::atomic::AtomicUsize),
}

impl Ticket {
    /// A new counter of the active runtime.
    pub(crate) fn new() -> Ticket {
        match active() {
            Backend::Shuttle => Ticket::Shuttle(shuttle::sync::atomic::AtomicUsize::new(0)),
            #[cfg(feature = "loom")]
            Backend::Loom => Ticket::Loom(loom::sync::atomic::AtomicUsize::new(0)),
        }
    }

    /// The scheduling point of a step.
    pub(crate) fn tick(&self) {
        match self {
            Ticket::Shuttle(a) => {
                a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            #[cfg(feature = "loom")]
            Ticket::Loom(a) => {
                a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

/// Runs `f`, whose scheduling points (the second and later step counters of one step) are not
/// places where another thread's turn could change anything: every order loom could try there is
/// the same step order. Under loom they are marked critical (`loom::stop_exploring`), so loom
/// keeps running the thread through them and moves any backtracking they would ask for to the
/// step's first counter, where the step as a whole is put before the other thread's. Under shuttle
/// nothing changes.
pub(crate) fn critical<R>(f: impl FnOnce() -> R) -> R {
    match active() {
        Backend::Shuttle => f(),
        #[cfg(feature = "loom")]
        Backend::Loom => {
            struct Explore;
            impl Drop for Explore {
                fn drop(&mut self) {
                    loom::explore();
                }
            }
            loom::stop_exploring();
            let _explore = Explore;
            f()
        }
    }
}

/// Where one logical thread waits: for its step to become possible, or in controlled mode for its
/// turn. Each thread waits on its own, so waking it wakes nobody else (every spurious wake-up
/// would be one more interleaving for loom to explore). A step that nobody waits for never
/// touches one.
///
/// Under shuttle's own schedulers (free mode) it is a mutex and a condition variable, whose
/// operations are scheduling points those schedulers choose at, as they do in the code the
/// harness models. In controlled mode the world's controller decides every step and shuttle's
/// scheduler only keeps the current thread running, so there it is the thread's park token:
/// one scheduling point per wait and one per wake, where a mutex and a condition variable take
/// several, and shuttle's every scheduling point costs a pass over all its threads. Under loom it
/// is the thread's park token too:
/// `park` and `unpark` are not operations loom's search permutes (an `unpark` is no branch point
/// at all), where a mutex's lock and unlock and a condition variable's wait are, each one more
/// operation whose orders loom must try. What orders the waker's step before the waiter's is the
/// step's own [`Ticket`], which both touch (the waiter took it on its attempt that could not
/// proceed); the wait itself adds nothing loom must explore.
// One per logical thread, behind an `Arc`: the size of the shuttle variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Waiter {
    Shuttle {
        lock: shuttle::sync::Mutex<()>,
        cond: shuttle::sync::Condvar,
    },
    /// The waiting thread's handle, set when it first waits (as under loom).
    ShuttlePark(std::sync::Mutex<Option<shuttle::thread::Thread>>),
    /// The waiting thread's handle, set when it first waits (a thread that never waited has
    /// nothing to unpark: it checks its condition before it parks).
    #[cfg(feature = "loom")]
    Loom(std::sync::Mutex<Option<loom::thread::Thread>>),
}

impl Waiter {
    /// A new waiter of the active runtime; `controlled`: for an execution whose steps a controller
    /// orders.
    pub(crate) fn new(controlled: bool) -> Waiter {
        match active() {
            Backend::Shuttle if controlled => Waiter::ShuttlePark(std::sync::Mutex::new(None)),
            Backend::Shuttle => {
                Waiter::Shuttle { lock: shuttle::sync::Mutex::new(()), cond: shuttle::sync::Condvar::new() }
            }
            #[cfg(feature = "loom")]
            Backend::Loom => Waiter::Loom(std::sync::Mutex::new(None)),
        }
    }

    /// Blocks the calling thread until `released()` holds, checking it first and after every
    /// wake-up (which may be spurious). `released` must not be a scheduling point.
    pub(crate) fn wait_until(&self, mut released: impl FnMut() -> bool) {
        match self {
            Waiter::Shuttle { lock, cond } => {
                let mut g = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !released() {
                    g = cond.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            }
            Waiter::ShuttlePark(handle) => {
                // As under loom: no scheduling point between setting the handle, checking and
                // parking, and an unpark before the park leaves a token.
                *handle.lock().unwrap_or_else(|e| e.into_inner()) = Some(shuttle::thread::current());
                while !released() {
                    shuttle::thread::park();
                }
            }
            #[cfg(feature = "loom")]
            Waiter::Loom(handle) => {
                // Setting the handle, checking and parking run without a scheduling point between
                // them (loom switches threads only at its own operations): no wake-up is lost, and
                // an unpark that comes before the park leaves a token that makes it return at once.
                *handle.lock().unwrap_or_else(|e| e.into_inner()) = Some(loom::thread::current());
                while !released() {
                    loom::thread::park();
                }
            }
        }
    }

    /// Wakes the thread waiting here, if any.
    pub(crate) fn wake(&self) {
        match self {
            Waiter::Shuttle { lock, cond } => {
                let g = lock.lock().unwrap_or_else(|e| e.into_inner());
                cond.notify_one();
                drop(g);
            }
            Waiter::ShuttlePark(handle) => {
                let t = handle.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(t) = t {
                    t.unpark();
                }
            }
            #[cfg(feature = "loom")]
            Waiter::Loom(handle) => {
                if let Some(t) = handle.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    t.unpark();
                }
            }
        }
    }
}
