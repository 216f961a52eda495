//! `Mutex`: `lock` blocks while another thread holds it; `lock`, `try_lock` and the unlock when
//! a guard drops are steps; a guard dropped while its thread panics poisons the mutex, as in
//! `std`.

use super::{new_object, plain};
use crate::scenario::Ctx;
use crate::trace::{Effect, Step};
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult};

/// Who holds the lock, and whether a holder panicked.
#[derive(Debug, Default)]
pub(crate) struct LockState {
    pub(crate) holder: Option<(usize, String)>,
    pub(crate) poisoned: bool,
}

/// A mutual exclusion lock shaped like `std::sync::Mutex` (Go's `sync.Mutex`, a pthread mutex).
pub struct Mutex<T> {
    ctx: Ctx,
    name: String,
    pub(crate) state: Arc<std::sync::Mutex<LockState>>,
    // The guarded value: locked by the modeled holder for as long as it holds the lock, so never
    // contended.
    value: std::sync::Mutex<T>,
}

impl<T> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutex").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<T> Mutex<T> {
    /// A mutex guarding `value`, named in the trace after its creation site.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex::make(None, value, Location::caller())
    }

    /// A mutex guarding `value`, named `name` in the trace (`lock(processMutex)`).
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn named(name: &str, value: T) -> Mutex<T> {
        Mutex::make(Some(name), value, Location::caller())
    }

    fn make(name: Option<&str>, value: T, site: &Location<'_>) -> Mutex<T> {
        let (ctx, name) = new_object("Mutex", name, site);
        let state: Arc<std::sync::Mutex<LockState>> = Arc::default();
        let watched = Arc::clone(&state);
        ctx.describe(&name, move || {
            let st = plain(&watched);
            let held = st.holder.as_ref().map_or("free".to_string(), |(_, who)| format!("held by {who}"));
            if st.poisoned {
                format!("{held}, poisoned")
            } else {
                held
            }
        });
        Mutex { ctx, name, state, value: std::sync::Mutex::new(value) }
    }

    /// Its name in the trace.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `lock`: waits while another thread holds the mutex (a thread that locks a mutex it holds
    /// waits for itself: a deadlock, as with `std`'s), then takes it. `Err` carries the guard when
    /// a holder panicked.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let watched = Arc::clone(&self.state);
        let name = self.name.clone();
        let poisoned = self.ctx.step(
            &self.name,
            move || match &plain(&watched).holder {
                None => Ok(()),
                Some((_, who)) => Err(format!("lock({name}) held by {who}")),
            },
            || {
                let poisoned = self.take();
                let result = if poisoned { "ok (poisoned)" } else { "ok" };
                (poisoned, Step::new(format!("lock({})", self.name), result).with_effect(Effect::Acquire))
            },
        );
        self.guard(poisoned)
    }

    /// `try_lock`: takes the mutex if no thread holds it, else `WouldBlock` at once.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let taken = self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let holder = plain(&self.state).holder.clone();
                match holder {
                    Some((_, who)) => (
                        None,
                        Step::new(format!("try_lock({})", self.name), format!("WouldBlock (held by {who})"))
                            .with_effect(Effect::Opaque),
                    ),
                    None => {
                        let poisoned = self.take();
                        let result = if poisoned { "ok (poisoned)" } else { "ok" };
                        (
                            Some(poisoned),
                            Step::new(format!("try_lock({})", self.name), result).with_effect(Effect::Acquire),
                        )
                    }
                }
            },
        );
        match taken {
            None => Err(TryLockError::WouldBlock),
            Some(poisoned) => self.guard(poisoned).map_err(TryLockError::Poisoned),
        }
    }

    /// Makes the calling thread the holder (inside a step); returns whether the mutex is poisoned.
    fn take(&self) -> bool {
        let me = self.ctx.current_thread();
        let mut st = plain(&self.state);
        st.holder = Some(me);
        st.poisoned
    }

    pub(crate) fn guard(&self, poisoned: bool) -> LockResult<MutexGuard<'_, T>> {
        let guard = MutexGuard { mutex: self, value: Some(plain(&self.value)) };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// `is_poisoned`: one step.
    pub fn is_poisoned(&self) -> bool {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let p = plain(&self.state).poisoned;
                (p, Step::new(format!("is_poisoned({})", self.name), p.to_string()).with_effect(Effect::Opaque))
            },
        )
    }

    /// `clear_poison`: one step.
    pub fn clear_poison(&self) {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                plain(&self.state).poisoned = false;
                ((), Step::new(format!("clear_poison({})", self.name), "").with_effect(Effect::Opaque))
            },
        )
    }

    /// The value, consuming the mutex (no step: nobody else can hold it).
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = plain(&self.state).poisoned;
        let v = self.value.into_inner().unwrap_or_else(|e| e.into_inner());
        if poisoned {
            Err(PoisonError::new(v))
        } else {
            Ok(v)
        }
    }

    /// The value, through exclusive access (no step).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = plain(&self.state).poisoned;
        let v = self.value.get_mut().unwrap_or_else(|e| e.into_inner());
        if poisoned {
            Err(PoisonError::new(v))
        } else {
            Ok(v)
        }
    }

    /// Reads the value without a step: for end checks once every other thread has finished (and
    /// in `always` checks). Anywhere else it is a misuse of the step contract, reported as such.
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.ctx.observe(&self.name);
        match self.value.try_lock() {
            Ok(v) => f(&v),
            Err(std::sync::TryLockError::Poisoned(p)) => f(&p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                let holder = plain(&self.state).holder.clone().map_or("a thread".to_string(), |h| h.1);
                self.ctx.misuse(
                    format!("the value of {} was read while {holder} holds it", self.name),
                    "read a mutex's value through its lock, or once no thread holds it",
                )
            }
        }
    }

    /// Releases the lock as a step (`unlock`), or, while the thread panics, at once and poisoned.
    pub(crate) fn release(&self) {
        if std::thread::panicking() {
            // An unwinding thread makes no more steps; std poisons the mutex, and so does this.
            let mut st = plain(&self.state);
            st.holder = None;
            st.poisoned = true;
            return;
        }
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                plain(&self.state).holder = None;
                ((), Step::new(format!("unlock({})", self.name), "ok").with_effect(Effect::Release))
            },
        );
    }
}

/// A held [`Mutex`]; dropping it is the `unlock` step.
pub struct MutexGuard<'a, T> {
    pub(crate) mutex: &'a Mutex<T>,
    value: Option<std::sync::MutexGuard<'a, T>>,
}

impl<'a, T> MutexGuard<'a, T> {
    /// Gives up the value without unlocking (for `Condvar::wait`, whose own step unlocks).
    pub(crate) fn into_mutex(mut self) -> &'a Mutex<T> {
        self.value = None;
        let m = self.mutex;
        std::mem::forget(self);
        m
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("present until drop")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().expect("present until drop")
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        self.mutex.release();
    }
}
