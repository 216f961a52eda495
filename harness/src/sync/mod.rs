//! Synchronization shaped like `std::sync`, as model steps: [`Mutex`], [`RwLock`], [`Condvar`],
//! [`mpsc`] channels,
//! [`atomic`], and [`Shared`], a plain shared variable; `Arc` and the lock result types are
//! `std`'s own.
//!
//! Every operation that another thread could observe is one step, with the semantics of the
//! real one where `std` is deterministic (checked against `std` by the differential tests in
//! `tests/primitives.rs`), and recorded in the words of the call (`lock(processMutex) = ok`).
//! What `std` leaves open, the model leaves to the scheduler: which waiter a `notify_one` wakes,
//! which writer a free `RwLock` lets in. Spurious wake-ups are not modeled.
//!
//! Each object is named in the trace by the name given to `named` (`Mutex::named("processMutex",
//! v)`) or else by its creation site (`Mutex@session.rs:42`); two objects never share a name (a
//! second made at the same line is `…#2`). Objects belong to the execution that made them and
//! must be made inside it, in the body or a thread it spawned, not in a `static`.

pub mod atomic;
mod condvar;
pub mod mpsc;
mod mutex;
mod rwlock;
mod shared;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use shared::Shared;
pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult, Weak};

use crate::scenario::Ctx;
use std::panic::Location;

/// The context and unique name of a new object of kind `kind`, named `name` or after `site`.
#[track_caller]
pub(crate) fn new_object(kind: &str, name: Option<&str>, site: &Location<'_>) -> (Ctx, String) {
    let ctx = crate::current::current(&format!("interleave::sync::{kind}"));
    let base = match name {
        Some(n) => n.to_string(),
        None => format!("{kind}@{}", creation_site(site)),
    };
    let name = ctx.object_name(&base);
    (ctx, name)
}

/// `file.rs:LINE` of a creation site: the file's last path component, so that the name is the
/// same whatever directory the crate was built from.
pub(crate) fn creation_site(site: &Location<'_>) -> String {
    let file = site.file().rsplit(['/', '\\']).next().unwrap_or(site.file());
    format!("{file}:{}", site.line())
}

/// Locks a `std` mutex of the model's own bookkeeping (never contended: only ever locked inside
/// a step, or by the modeled holder of the object).
pub(crate) fn plain<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A value as the trace shows it: its `Debug` form, cut at 60 characters.
pub(crate) fn shown(v: &impl std::fmt::Debug) -> String {
    let s = format!("{v:?}");
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(59).collect();
        format!("{cut}…")
    } else {
        s
    }
}
