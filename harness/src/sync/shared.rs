//! `Shared<T>`: a plain shared variable, as code without synchronization has them (a Go struct
//! field, a JavaScript module variable, a Python attribute, a Rust value behind `UnsafeCell`).
//! Every read and every write is one step, and none orders anything: the data-race detector
//! reports two accesses from different threads, at least one a write, that nothing else orders.
//!
//! A read-modify-write that real code does as a read and then a write (Go's
//! `h = append(h, id)`) is [`Shared::get`] and then [`Shared::set`]: two steps, between which
//! another thread can write. [`Shared::write`] is one step, a write computed from the value as if
//! atomically; use it only where the real code's update is one store.

use super::{new_object, plain, shown};
use crate::scenario::Ctx;
use crate::trace::{Effect, Step};
use std::fmt::Debug;
use std::panic::Location;
use std::sync::Arc;

struct Inner<T> {
    ctx: Ctx,
    name: String,
    value: std::sync::Mutex<T>,
}

/// A plain shared variable; clones are handles to the same variable.
pub struct Shared<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { inner: Arc::clone(&self.inner) }
    }
}

impl<T> Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl<T: Debug + Send + 'static> Shared<T> {
    /// A variable holding `value`, named after its creation site.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new(value: T) -> Shared<T> {
        Shared::make(None, value, Location::caller())
    }

    /// A variable holding `value`, named `name` in the trace and in race reports.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn named(name: &str, value: T) -> Shared<T> {
        Shared::make(Some(name), value, Location::caller())
    }

    fn make(name: Option<&str>, value: T, site: &Location<'_>) -> Shared<T> {
        let (ctx, name) = new_object("Shared", name, site);
        let inner = Arc::new(Inner { ctx, name, value: std::sync::Mutex::new(value) });
        let watched = Arc::downgrade(&inner);
        inner.ctx.describe(&inner.name, move || match watched.upgrade() {
            Some(i) => shown(&*plain(&i.value)),
            None => "dropped".into(),
        });
        Shared { inner }
    }

    /// Its name in the trace.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A read: one step, `f` applied to the value.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let i = &self.inner;
        i.ctx.step(
            &i.name,
            || Ok(()),
            || {
                let v = plain(&i.value);
                let r = f(&v);
                (r, Step::new(format!("read({})", i.name), shown(&*v)).with_effect(Effect::Read))
            },
        )
    }

    /// A read of the whole value: one step.
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.read(T::clone)
    }

    /// A write of the whole value: one step.
    pub fn set(&self, value: T) {
        let i = &self.inner;
        i.ctx.step(
            &i.name,
            || Ok(()),
            || {
                let call = format!("write({}, {})", i.name, shown(&value));
                *plain(&i.value) = value;
                ((), Step::new(call, "").with_effect(Effect::Write))
            },
        )
    }

    /// A write computed from the value, as one step (see the module's note on read-modify-write).
    pub fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let i = &self.inner;
        i.ctx.step(
            &i.name,
            || Ok(()),
            || {
                let mut v = plain(&i.value);
                let r = f(&mut v);
                (r, Step::new(format!("write({}, {})", i.name, shown(&*v)), "").with_effect(Effect::Write))
            },
        )
    }

    /// Reads the value without a step: for end checks once every other thread has finished.
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.inner.ctx.observe(&self.inner.name);
        f(&plain(&self.inner.value))
    }
}
