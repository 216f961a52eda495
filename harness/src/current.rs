//! The execution the calling code runs in, found from the thread, so that primitives shaped like
//! `std`'s need no context handed to them.
//!
//! shuttle and loom run every task of an execution as a coroutine on the OS thread that started
//! the run, and one execution at a time; so an OS-thread-local value set around each execution's
//! body is what every task of that execution sees.

use crate::scenario::Ctx;
use std::cell::RefCell;

std::thread_local! {
    static CURRENT: RefCell<Option<Ctx>> = const { RefCell::new(None) };
}

/// Restores the previous execution (none) when the body is over, however it ends.
pub(crate) struct Entered(Option<Ctx>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Makes `ctx` the current execution of this OS thread until the returned value is dropped.
pub(crate) fn enter(ctx: Ctx) -> Entered {
    Entered(CURRENT.with(|c| c.borrow_mut().replace(ctx)))
}

/// The current execution, if any.
pub(crate) fn try_current() -> Option<Ctx> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The current execution.
///
/// # Panics
/// Outside an execution, with a message that names `what` was used and where it may be.
#[track_caller]
pub(crate) fn current(what: &str) -> Ctx {
    match try_current() {
        Some(ctx) => ctx,
        None => panic!(
            "{what} was used outside an execution: interleave's primitives work only inside a scenario's body \
             while the harness runs it (a test calling interleave::assert_expectations, `interleave check`), \
             in threads spawned with interleave::thread; not in a `static`, before the check starts, or in a \
             thread spawned with std::thread"
        ),
    }
}
