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
//! object a step touches) and, when a thread has to wait, the lock, wait and notify calls of [`Lock`].

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

/// The lock of an execution's world, used only to wait: by a thread whose step cannot proceed
/// yet, and in controlled mode by a thread waiting for its turn. A step that nobody waits for
/// never touches it.
pub(crate) enum Lock {
    Shuttle(shuttle::sync::Mutex<()>),
    #[cfg(feature = "loom")]
    Loom(loom::sync::Mutex<()>),
}

/// A held [`Lock`].
pub(crate) enum Guard<'a> {
    Shuttle(shuttle::sync::MutexGuard<'a, ()>),
    #[cfg(feature = "loom")]
    Loom(loom::sync::MutexGuard<'a, ()>),
}

/// One thread's condition variable: each logical thread waits on its own, so waking it wakes
/// nobody else (every spurious wake-up would be one more interleaving for loom to explore).
pub(crate) enum Cond {
    Shuttle(shuttle::sync::Condvar),
    #[cfg(feature = "loom")]
    Loom(loom::sync::Condvar),
}

impl Cond {
    /// A new condition variable of the active runtime.
    pub(crate) fn new() -> Cond {
        match active() {
            Backend::Shuttle => Cond::Shuttle(shuttle::sync::Condvar::new()),
            #[cfg(feature = "loom")]
            Backend::Loom => Cond::Loom(loom::sync::Condvar::new()),
        }
    }

    /// Wakes the thread waiting on it, if any.
    pub(crate) fn notify(&self) {
        match self {
            Cond::Shuttle(cv) => cv.notify_one(),
            #[cfg(feature = "loom")]
            Cond::Loom(cv) => cv.notify_one(),
        }
    }
}

impl Lock {
    /// A new lock of the active runtime.
    pub(crate) fn new() -> Lock {
        match active() {
            Backend::Shuttle => Lock::Shuttle(shuttle::sync::Mutex::new(())),
            #[cfg(feature = "loom")]
            Backend::Loom => Lock::Loom(loom::sync::Mutex::new(())),
        }
    }

    /// Takes the lock (a scheduling point). A poisoned lock is taken anyway: the panic that
    /// poisoned it is already being reported.
    pub(crate) fn lock(&self) -> Guard<'_> {
        match self {
            Lock::Shuttle(m) => Guard::Shuttle(m.lock().unwrap_or_else(|e| e.into_inner())),
            #[cfg(feature = "loom")]
            Lock::Loom(m) => Guard::Loom(m.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }

    /// Releases the lock, waits for a notification on `cond` and takes the lock again.
    pub(crate) fn wait<'a>(&'a self, cond: &Cond, guard: Guard<'a>) -> Guard<'a> {
        match (cond, guard) {
            (Cond::Shuttle(cv), Guard::Shuttle(g)) => Guard::Shuttle(cv.wait(g).unwrap_or_else(|e| e.into_inner())),
            #[cfg(feature = "loom")]
            (Cond::Loom(cv), Guard::Loom(g)) => Guard::Loom(cv.wait(g).unwrap_or_else(|e| e.into_inner())),
            #[cfg(feature = "loom")]
            _ => unreachable!("a world's lock and conditions belong to one runtime"),
        }
    }
}
