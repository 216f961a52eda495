//! In-process synchronization as model steps: a mutex whose `lock` and `unlock` are steps in the
//! trace, so a scenario's own locks interleave, block and deadlock like everything else.
//!
//! Scenario code must not share memory through anything but models: a value guarded by this
//! mutex is safe to share because only the modeled holder ever touches it.

use crate::scenario::Ctx;
use crate::trace::Step;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

type Std<T> = std::sync::Mutex<T>;

fn plain<T>(m: &Std<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared<T> {
    name: String,
    // Who holds the modeled lock (thread index and name). Locked only for instants.
    holder: Std<Option<(usize, String)>>,
    // The guarded value. Locked only by the modeled holder, for as long as it holds the lock.
    value: Std<T>,
}

/// A mutex of the scenario's own code (Go's `sync.Mutex`, Rust's `Mutex`): `lock` blocks while
/// another thread holds it; both `lock` and `unlock` are steps.
pub struct Mutex<T> {
    ctx: Ctx,
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Mutex<T> {
    fn clone(&self) -> Self {
        Mutex { ctx: self.ctx.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<T: Send + 'static> Mutex<T> {
    /// A mutex named `name` (the name the trace uses) guarding `value`.
    pub fn new(ctx: &Ctx, name: &str, value: T) -> Mutex<T> {
        Mutex {
            ctx: ctx.clone(),
            shared: Arc::new(Shared { name: name.to_string(), holder: Std::new(None), value: Std::new(value) }),
        }
    }

    /// `lock(name)`: waits until no thread holds the mutex, then takes it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let s = &self.shared;
        let watched = Arc::clone(&self.shared);
        self.ctx.step(
            &s.name,
            move || match &*plain(&watched.holder) {
                None => Ok(()),
                Some((_, who)) => Err(format!("lock({}) held by {who}", watched.name)),
            },
            || {
                let me = self.ctx.current_thread();
                *plain(&s.holder) = Some(me);
                ((), Step { thread: 0, object: s.name.clone(), call: format!("lock({})", s.name), result: "ok".into() })
            },
        );
        MutexGuard { mutex: self, value: Some(plain(&s.value)) }
    }

    /// Reads the value inside a step or an `always` check (the caller is in one: nothing else
    /// runs meanwhile). Elsewhere, use [`Mutex::inspect`].
    pub fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&plain(&self.shared.value))
    }

    /// Reads the value without a step: for end-state checks once every thread has finished.
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.ctx.observe(&self.shared.name);
        f(&plain(&self.shared.value))
    }
}

/// A held [`Mutex`]; dropping it is the `unlock` step.
pub struct MutexGuard<'a, T: Send + 'static> {
    mutex: &'a Mutex<T>,
    value: Option<std::sync::MutexGuard<'a, T>>,
}

impl<T: Send + 'static> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("present until drop")
    }
}

impl<T: Send + 'static> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().expect("present until drop")
    }
}

impl<T: Send + 'static> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        if std::thread::panicking() {
            // An execution that is being torn down makes no more steps.
            return;
        }
        let s = &self.mutex.shared;
        self.mutex.ctx.step(
            &s.name,
            || Ok(()),
            || {
                *plain(&s.holder) = None;
                (
                    (),
                    Step {
                        thread: 0,
                        object: s.name.clone(),
                        call: format!("unlock({})", s.name),
                        result: "ok".into(),
                    },
                )
            },
        );
    }
}
