//! Threads of an execution, shaped like `std::thread`: [`spawn`], [`Builder`] with a name,
//! [`JoinHandle::join`] returning a `Result`, [`current`], [`yield_now`] and [`sleep`].
//!
//! A thread's name heads its column in the trace; an unnamed one is `thread 1`, `thread 2`, …
//! in spawn order. Spawning is not a step; the first step of the new thread is its first model
//! operation. An execution ends when every thread has finished, whether or not it was joined (as
//! under shuttle and loom): what a thread nobody joins does is in the trace and is checked.
//!
//! A panic in any thread is a finding (the `panic` violation) and ends the execution, so
//! [`JoinHandle::join`] returns `Err` only in code that catches a panic itself.
//!
//! Time is not modeled: [`sleep`] and [`yield_now`] are steps that touch nothing shared, points
//! at which other threads may run, and nothing more.

use crate::backend::RawJoinHandle;
use crate::current::current as execution;
use crate::scenario::{Ctx, RawHandle, Slot};
use crate::trace::{Effect, Step};
use crate::world::WorldRef;
use std::time::Duration;

/// A handle to a spawned thread.
pub struct JoinHandle<T> {
    inner: RawHandle<T>,
    thread: Thread,
}

/// Makes the handle of thread `idx`, named `name`.
pub(crate) fn handle<T>(
    raw: RawJoinHandle<()>,
    slot: Slot<T>,
    idx: usize,
    name: &str,
    world: WorldRef,
) -> JoinHandle<T> {
    JoinHandle { inner: RawHandle::new(raw, slot, idx, world), thread: Thread { index: idx, name: name.to_string() } }
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result, as `std` does. Joining orders
    /// everything the thread did before everything the caller does next (happens-before).
    pub fn join(self) -> std::thread::Result<T> {
        self.inner.join()
    }

    /// The thread.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }
}

/// A thread of the execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    index: usize,
    name: String,
}

impl Thread {
    /// Its name: the one given to [`Builder::name`], the scenario's (`main` for the body), or
    /// `thread N` for the N-th unnamed thread.
    pub fn name(&self) -> Option<&str> {
        Some(&self.name)
    }

    /// Its index in the execution: 0 for the body's thread, then spawn order (the digits of a
    /// replay string).
    pub fn index(&self) -> usize {
        self.index
    }
}

/// Configures a thread before spawning it, as `std::thread::Builder`.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder with no name set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread (its trace column's heading).
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Spawns the thread. Never fails; the `io::Result` is `std`'s shape.
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let ctx = execution("interleave::thread::Builder::spawn");
        Ok(spawn_in(&ctx, self.name, f))
    }
}

fn spawn_in<F, T>(ctx: &Ctx, name: Option<String>, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let name = name.unwrap_or_else(|| format!("thread {}", ctx.world.thread_count()));
    ctx.spawn(&name, f)
}

/// Spawns a thread of the current execution, as `std::thread::spawn`.
///
/// # Panics
/// Outside an execution.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let ctx = execution("interleave::thread::spawn");
    spawn_in(&ctx, None, f)
}

/// The calling thread (`std::thread::current`).
///
/// # Panics
/// Outside an execution.
pub fn current() -> Thread {
    let ctx = execution("interleave::thread::current");
    let (index, name) = ctx.current_thread();
    Thread { index, name }
}

/// `std::thread::yield_now`: a step that touches nothing shared, where other threads may run.
pub fn yield_now() {
    pause("yield_now()".into());
}

/// `std::thread::sleep`: time is not modeled, so this is a step that touches nothing shared,
/// where other threads may run (a polling loop's sleep gives every other thread its chance).
pub fn sleep(duration: Duration) {
    pause(format!("sleep({duration:?})"));
}

fn pause(call: String) {
    let ctx = execution("interleave::thread::sleep");
    let (me, _) = ctx.current_thread();
    // An object of the thread's own: the step commutes with every other thread's steps.
    ctx.step(&format!("yield:{me}"), || Ok(()), || ((), Step::new(call, "").with_effect(Effect::Opaque)));
    ctx.world.yielded();
    crate::backend::yield_now();
}
