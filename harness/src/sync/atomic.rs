//! Atomics shaped like `std::sync::atomic`: every operation is one step, and every operation is
//! sequentially consistent whatever `Ordering` it is given (the argument is accepted for `std`'s
//! shape and ignored). So the model explores every interleaving of atomic operations, but not the
//! extra behaviours weaker orderings allow on real hardware: use loom's own atomics to check those.
//!
//! For the data-race detector, a load synchronizes with the store it reads (and through
//! read-modify-writes, the release sequence that store began), as `SeqCst` does.
//!
//! `compare_exchange_weak` never fails spuriously here; `fetch_update` is what `std` does, a load
//! and then compare-exchanges until one succeeds, each a step.

use super::{new_object, plain, shown};
use crate::scenario::Ctx;
use crate::trace::{Effect, Step};
use std::panic::Location;
pub use std::sync::atomic::Ordering;

macro_rules! atomic_int {
    ($(#[$doc:meta])* $name:ident, $t:ty) => {
        $(#[$doc])*
        pub struct $name {
            ctx: Ctx,
            name: String,
            value: std::sync::Mutex<$t>,
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("name", &self.name).finish_non_exhaustive()
            }
        }

        impl $name {
            /// An atomic holding `v`, named after its creation site.
            ///
            /// # Panics
            /// Outside an execution.
            #[track_caller]
            pub fn new(v: $t) -> $name {
                $name::make(None, v, Location::caller())
            }

            /// An atomic holding `v`, named `name` in the trace.
            ///
            /// # Panics
            /// Outside an execution.
            #[track_caller]
            pub fn named(name: &str, v: $t) -> $name {
                $name::make(Some(name), v, Location::caller())
            }

            fn make(name: Option<&str>, v: $t, site: &Location<'_>) -> $name {
                let (ctx, name) = new_object(stringify!($name), name, site);
                $name { ctx, name, value: std::sync::Mutex::new(v) }
            }

            /// Its name in the trace.
            pub fn name(&self) -> &str {
                &self.name
            }

            fn op<R: std::fmt::Debug>(&self, call: String, effect: Effect, f: impl FnOnce(&mut $t) -> R) -> R {
                self.ctx.step(&self.name, || Ok(()), || {
                    let r = f(&mut plain(&self.value));
                    let result = shown(&r);
                    (r, Step::new(call, result).with_effect(effect))
                })
            }

            /// `load`: one step.
            pub fn load(&self, _order: Ordering) -> $t {
                self.op(format!("load({})", self.name), Effect::Acquire, |v| *v)
            }

            /// `store`: one step.
            pub fn store(&self, new: $t, _order: Ordering) {
                self.ctx.step(&self.name, || Ok(()), || {
                    *plain(&self.value) = new;
                    ((), Step::new(format!("store({}, {new})", self.name), "").with_effect(Effect::Store))
                })
            }

            /// `swap`: one step; the previous value.
            pub fn swap(&self, new: $t, _order: Ordering) -> $t {
                self.op(format!("swap({}, {new})", self.name), Effect::Sync, |v| std::mem::replace(v, new))
            }

            /// `compare_exchange`: one step; `Ok(previous)` when it was `current` and is now `new`,
            /// `Err(actual)` otherwise.
            pub fn compare_exchange(&self, current: $t, new: $t, _success: Ordering, _failure: Ordering) -> Result<$t, $t> {
                self.ctx.step(&self.name, || Ok(()), || {
                    let mut v = plain(&self.value);
                    let (r, effect) = if *v == current {
                        *v = new;
                        (Ok(current), Effect::Sync)
                    } else {
                        (Err(*v), Effect::Acquire)
                    };
                    let call = format!("compare_exchange({}, {current}, {new})", self.name);
                    (r, Step::new(call, format!("{r:?}")).with_effect(effect))
                })
            }

            /// `compare_exchange_weak`: as [`Self::compare_exchange`] (it never fails spuriously here).
            pub fn compare_exchange_weak(&self, current: $t, new: $t, success: Ordering, failure: Ordering) -> Result<$t, $t> {
                self.compare_exchange(current, new, success, failure)
            }

            /// `fetch_update`: a load, then compare-exchanges until one succeeds (or `f` returns
            /// `None`), each a step, as `std` does.
            pub fn fetch_update<F>(&self, set: Ordering, fetch: Ordering, mut f: F) -> Result<$t, $t>
            where
                F: FnMut($t) -> Option<$t>,
            {
                let mut prev = self.load(fetch);
                while let Some(next) = f(prev) {
                    match self.compare_exchange_weak(prev, next, set, fetch) {
                        Ok(x) => return Ok(x),
                        Err(actual) => prev = actual,
                    }
                }
                Err(prev)
            }

            /// `fetch_add` (wrapping): one step; the previous value.
            pub fn fetch_add(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_add({}, {n})", self.name), Effect::Sync, |v| {
                    let old = *v;
                    *v = old.wrapping_add(n);
                    old
                })
            }

            /// `fetch_sub` (wrapping): one step; the previous value.
            pub fn fetch_sub(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_sub({}, {n})", self.name), Effect::Sync, |v| {
                    let old = *v;
                    *v = old.wrapping_sub(n);
                    old
                })
            }

            /// `fetch_max`: one step; the previous value.
            pub fn fetch_max(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_max({}, {n})", self.name), Effect::Sync, |v| {
                    let old = *v;
                    *v = old.max(n);
                    old
                })
            }

            /// `fetch_min`: one step; the previous value.
            pub fn fetch_min(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_min({}, {n})", self.name), Effect::Sync, |v| {
                    let old = *v;
                    *v = old.min(n);
                    old
                })
            }

            /// `fetch_and`: one step; the previous value.
            pub fn fetch_and(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_and({}, {n})", self.name), Effect::Sync, |v| std::mem::replace(v, *v & n))
            }

            /// `fetch_or`: one step; the previous value.
            pub fn fetch_or(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_or({}, {n})", self.name), Effect::Sync, |v| std::mem::replace(v, *v | n))
            }

            /// `fetch_xor`: one step; the previous value.
            pub fn fetch_xor(&self, n: $t, _order: Ordering) -> $t {
                self.op(format!("fetch_xor({}, {n})", self.name), Effect::Sync, |v| std::mem::replace(v, *v ^ n))
            }

            /// The value, consuming the atomic (no step).
            pub fn into_inner(self) -> $t {
                self.value.into_inner().unwrap_or_else(|e| e.into_inner())
            }

            /// The value, through exclusive access (no step).
            pub fn get_mut(&mut self) -> &mut $t {
                self.value.get_mut().unwrap_or_else(|e| e.into_inner())
            }

            /// Reads the value without a step: for end checks once every other thread has finished.
            pub fn inspect(&self) -> $t {
                self.ctx.observe(&self.name);
                *plain(&self.value)
            }
        }
    };
}

atomic_int!(
    /// `std::sync::atomic::AtomicUsize`, every operation one sequentially consistent step.
    AtomicUsize,
    usize
);
atomic_int!(
    /// `std::sync::atomic::AtomicIsize`, every operation one sequentially consistent step.
    AtomicIsize,
    isize
);
atomic_int!(
    /// `std::sync::atomic::AtomicU32`, every operation one sequentially consistent step.
    AtomicU32,
    u32
);
atomic_int!(
    /// `std::sync::atomic::AtomicI32`, every operation one sequentially consistent step.
    AtomicI32,
    i32
);
atomic_int!(
    /// `std::sync::atomic::AtomicU64`, every operation one sequentially consistent step.
    AtomicU64,
    u64
);
atomic_int!(
    /// `std::sync::atomic::AtomicI64`, every operation one sequentially consistent step.
    AtomicI64,
    i64
);

/// `std::sync::atomic::AtomicBool`, every operation one sequentially consistent step.
pub struct AtomicBool {
    ctx: Ctx,
    name: String,
    value: std::sync::Mutex<bool>,
}

impl std::fmt::Debug for AtomicBool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicBool").field("name", &self.name).finish_non_exhaustive()
    }
}

impl AtomicBool {
    /// An atomic holding `v`, named after its creation site.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new(v: bool) -> AtomicBool {
        AtomicBool::make(None, v, Location::caller())
    }

    /// An atomic holding `v`, named `name` in the trace.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn named(name: &str, v: bool) -> AtomicBool {
        AtomicBool::make(Some(name), v, Location::caller())
    }

    fn make(name: Option<&str>, v: bool, site: &Location<'_>) -> AtomicBool {
        let (ctx, name) = new_object("AtomicBool", name, site);
        AtomicBool { ctx, name, value: std::sync::Mutex::new(v) }
    }

    /// Its name in the trace.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn op(&self, call: String, effect: Effect, f: impl FnOnce(&mut bool) -> bool) -> bool {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let r = f(&mut plain(&self.value));
                (r, Step::new(call, r.to_string()).with_effect(effect))
            },
        )
    }

    /// `load`: one step.
    pub fn load(&self, _order: Ordering) -> bool {
        self.op(format!("load({})", self.name), Effect::Acquire, |v| *v)
    }

    /// `store`: one step.
    pub fn store(&self, new: bool, _order: Ordering) {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                *plain(&self.value) = new;
                ((), Step::new(format!("store({}, {new})", self.name), "").with_effect(Effect::Store))
            },
        )
    }

    /// `swap`: one step; the previous value.
    pub fn swap(&self, new: bool, _order: Ordering) -> bool {
        self.op(format!("swap({}, {new})", self.name), Effect::Sync, |v| std::mem::replace(v, new))
    }

    /// `compare_exchange`: one step.
    pub fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        _success: Ordering,
        _failure: Ordering,
    ) -> Result<bool, bool> {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut v = plain(&self.value);
                let (r, effect) = if *v == current {
                    *v = new;
                    (Ok(current), Effect::Sync)
                } else {
                    (Err(*v), Effect::Acquire)
                };
                let call = format!("compare_exchange({}, {current}, {new})", self.name);
                (r, Step::new(call, format!("{r:?}")).with_effect(effect))
            },
        )
    }

    /// `compare_exchange_weak`: as [`AtomicBool::compare_exchange`] (never fails spuriously).
    pub fn compare_exchange_weak(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        self.compare_exchange(current, new, success, failure)
    }

    /// `fetch_and`: one step; the previous value.
    pub fn fetch_and(&self, b: bool, _order: Ordering) -> bool {
        self.op(format!("fetch_and({}, {b})", self.name), Effect::Sync, |v| std::mem::replace(v, *v & b))
    }

    /// `fetch_or`: one step; the previous value.
    pub fn fetch_or(&self, b: bool, _order: Ordering) -> bool {
        self.op(format!("fetch_or({}, {b})", self.name), Effect::Sync, |v| std::mem::replace(v, *v | b))
    }

    /// `fetch_xor`: one step; the previous value.
    pub fn fetch_xor(&self, b: bool, _order: Ordering) -> bool {
        self.op(format!("fetch_xor({}, {b})", self.name), Effect::Sync, |v| std::mem::replace(v, *v ^ b))
    }

    /// `fetch_not`: one step; the previous value.
    pub fn fetch_not(&self, _order: Ordering) -> bool {
        self.op(format!("fetch_not({})", self.name), Effect::Sync, |v| std::mem::replace(v, !*v))
    }

    /// The value, consuming the atomic (no step).
    pub fn into_inner(self) -> bool {
        self.value.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the value without a step: for end checks once every other thread has finished.
    pub fn inspect(&self) -> bool {
        self.ctx.observe(&self.name);
        *plain(&self.value)
    }
}
