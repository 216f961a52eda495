//! `RwLock`: many readers or one writer. A writer that has to wait announces itself first, and
//! from then on new readers wait too (what Rust's futex `RwLock` on Linux and Go's `RWMutex` do),
//! so a thread that takes a read lock it already holds can deadlock behind a waiting writer.
//!
//! Steps: `read` (waits while a writer holds the lock or waits for it), `write` (takes the lock
//! if it is free; otherwise announces the writer, and a second step takes it once the readers
//! have left), the unlock of each guard, `try_read` and `try_write`. A write guard dropped while
//! its thread panics poisons the lock; a read guard does not (as in `std`).

use super::{new_object, plain};
use crate::scenario::Ctx;
use crate::trace::{Effect, Step};
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult};

#[derive(Debug, Default)]
struct State {
    /// One entry per read guard held.
    readers: Vec<(usize, String)>,
    writer: Option<(usize, String)>,
    /// Writers that announced themselves and wait for the lock.
    waiting: Vec<(usize, String)>,
    poisoned: bool,
}

impl State {
    fn read_blocked(&self) -> Option<String> {
        match (&self.writer, self.waiting.first()) {
            (Some((_, w)), _) => Some(format!("held by writer {w}")),
            (None, Some((_, w))) => Some(format!("writer {w} waits for it")),
            (None, None) => None,
        }
    }

    fn write_blocked(&self) -> Option<String> {
        match &self.writer {
            Some((_, w)) => Some(format!("held by writer {w}")),
            None if !self.readers.is_empty() => Some(format!("held by readers {}", names(&self.readers))),
            None => None,
        }
    }
}

fn names(holders: &[(usize, String)]) -> String {
    holders.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
}

/// A reader-writer lock shaped like `std::sync::RwLock` (Go's `sync.RWMutex`).
pub struct RwLock<T> {
    ctx: Ctx,
    name: String,
    state: Arc<std::sync::Mutex<State>>,
    value: std::sync::RwLock<T>,
}

impl<T> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLock").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<T> RwLock<T> {
    /// A lock guarding `value`, named after its creation site.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock::make(None, value, Location::caller())
    }

    /// A lock guarding `value`, named `name` in the trace.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn named(name: &str, value: T) -> RwLock<T> {
        RwLock::make(Some(name), value, Location::caller())
    }

    fn make(name: Option<&str>, value: T, site: &Location<'_>) -> RwLock<T> {
        let (ctx, name) = new_object("RwLock", name, site);
        let state: Arc<std::sync::Mutex<State>> = Arc::default();
        let watched = Arc::clone(&state);
        ctx.describe(&name, move || {
            let st = plain(&watched);
            let mut parts = Vec::new();
            match &st.writer {
                Some((_, w)) => parts.push(format!("written by {w}")),
                None if st.readers.is_empty() => parts.push("free".to_string()),
                None => parts.push(format!("read by {}", names(&st.readers))),
            }
            if !st.waiting.is_empty() {
                parts.push(format!("writers waiting: {}", names(&st.waiting)));
            }
            parts.join("; ")
        });
        RwLock { ctx, name, state, value: std::sync::RwLock::new(value) }
    }

    /// Its name in the trace.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn me(&self) -> (usize, String) {
        self.ctx.current_thread()
    }

    /// `read` (Go's `RLock`): waits while a writer holds the lock or waits for it.
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let watched = Arc::clone(&self.state);
        let name = self.name.clone();
        let poisoned = self.ctx.step(
            &self.name,
            move || match plain(&watched).read_blocked() {
                None => Ok(()),
                Some(why) => Err(format!("read({name}): {why}")),
            },
            || {
                let me = self.me();
                let mut st = plain(&self.state);
                st.readers.push(me);
                let n = st.readers.len();
                let result = if n == 1 { "ok".to_string() } else { format!("ok ({n} readers)") };
                (st.poisoned, Step::new(format!("read({})", self.name), result).with_effect(Effect::Acquire))
            },
        );
        self.read_guard(poisoned)
    }

    /// `try_read`: a read lock if one can be had at once (no writer holds or waits), else
    /// `WouldBlock`.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let taken = self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let me = self.me();
                let mut st = plain(&self.state);
                let call = format!("try_read({})", self.name);
                match st.read_blocked() {
                    Some(why) => (None, Step::new(call, format!("WouldBlock ({why})")).with_effect(Effect::Opaque)),
                    None => {
                        st.readers.push(me);
                        (Some(st.poisoned), Step::new(call, "ok").with_effect(Effect::Acquire))
                    }
                }
            },
        );
        match taken {
            None => Err(TryLockError::WouldBlock),
            Some(p) => self.read_guard(p).map_err(TryLockError::Poisoned),
        }
    }

    /// `write` (Go's `Lock`): takes the lock if it is free; otherwise announces the writer (new
    /// readers wait from then on) and takes the lock once it is free.
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let acquired = self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let me = self.me();
                let mut st = plain(&self.state);
                let call = format!("write({})", self.name);
                match st.write_blocked() {
                    None => {
                        st.writer = Some(me);
                        (Some(st.poisoned), Step::new(call, "ok").with_effect(Effect::Acquire))
                    }
                    Some(why) => {
                        st.waiting.push(me);
                        (None, Step::new(call, format!("waits ({why})")).with_effect(Effect::Opaque))
                    }
                }
            },
        );
        let poisoned = match acquired {
            Some(p) => p,
            None => {
                let watched = Arc::clone(&self.state);
                let name = self.name.clone();
                self.ctx.step(
                    &self.name,
                    move || match plain(&watched).write_blocked() {
                        None => Ok(()),
                        Some(why) => Err(format!("write({name}): {why}")),
                    },
                    || {
                        let me = self.me();
                        let mut st = plain(&self.state);
                        st.waiting.retain(|(t, _)| *t != me.0);
                        st.writer = Some(me);
                        (st.poisoned, Step::new(format!("write({})", self.name), "ok").with_effect(Effect::Acquire))
                    },
                )
            }
        };
        self.write_guard(poisoned)
    }

    /// `try_write`: the write lock if it is free, else `WouldBlock`.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let taken = self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let me = self.me();
                let mut st = plain(&self.state);
                let call = format!("try_write({})", self.name);
                match st.write_blocked() {
                    Some(why) => (None, Step::new(call, format!("WouldBlock ({why})")).with_effect(Effect::Opaque)),
                    None => {
                        st.writer = Some(me);
                        (Some(st.poisoned), Step::new(call, "ok").with_effect(Effect::Acquire))
                    }
                }
            },
        );
        match taken {
            None => Err(TryLockError::WouldBlock),
            Some(p) => self.write_guard(p).map_err(TryLockError::Poisoned),
        }
    }

    fn read_guard(&self, poisoned: bool) -> LockResult<RwLockReadGuard<'_, T>> {
        let g = RwLockReadGuard { lock: self, value: Some(self.value.read().unwrap_or_else(|e| e.into_inner())) };
        if poisoned {
            Err(PoisonError::new(g))
        } else {
            Ok(g)
        }
    }

    fn write_guard(&self, poisoned: bool) -> LockResult<RwLockWriteGuard<'_, T>> {
        let g = RwLockWriteGuard { lock: self, value: Some(self.value.write().unwrap_or_else(|e| e.into_inner())) };
        if poisoned {
            Err(PoisonError::new(g))
        } else {
            Ok(g)
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

    /// The value, consuming the lock (no step).
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = plain(&self.state).poisoned;
        let v = self.value.into_inner().unwrap_or_else(|e| e.into_inner());
        if poisoned {
            Err(PoisonError::new(v))
        } else {
            Ok(v)
        }
    }

    /// Reads the value without a step: for end checks once every other thread has finished.
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.ctx.observe(&self.name);
        match self.value.try_read() {
            Ok(v) => f(&v),
            Err(std::sync::TryLockError::Poisoned(p)) => f(&p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => self.ctx.misuse(
                format!("the value of {} was read while a writer holds it", self.name),
                "read a lock's value through the lock, or once no thread holds it",
            ),
        }
    }

    fn unlock(&self, write: bool) {
        let me = self.me().0;
        if std::thread::panicking() {
            let mut st = plain(&self.state);
            if write {
                st.writer = None;
                st.poisoned = true;
            } else if let Some(i) = st.readers.iter().position(|(t, _)| *t == me) {
                st.readers.remove(i);
            }
            return;
        }
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut st = plain(&self.state);
                let call = if write {
                    st.writer = None;
                    format!("write_unlock({})", self.name)
                } else {
                    if let Some(i) = st.readers.iter().position(|(t, _)| *t == me) {
                        st.readers.remove(i);
                    }
                    format!("read_unlock({})", self.name)
                };
                ((), Step::new(call, "ok").with_effect(Effect::Release))
            },
        );
    }
}

/// A read lock of an [`RwLock`]; dropping it is the `read_unlock` step.
pub struct RwLockReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    value: Option<std::sync::RwLockReadGuard<'a, T>>,
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("present until drop")
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        self.lock.unlock(false);
    }
}

/// The write lock of an [`RwLock`]; dropping it is the `write_unlock` step.
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    value: Option<std::sync::RwLockWriteGuard<'a, T>>,
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("present until drop")
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().expect("present until drop")
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        self.lock.unlock(true);
    }
}
