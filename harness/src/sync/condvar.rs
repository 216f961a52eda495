//! `Condvar`: `wait` releases the mutex and starts waiting in one step (so no notification can
//! slip between the two, as `std` guarantees); a notified waiter takes the mutex again in a
//! second step, once it is free. `notify_one` lets one of the threads waiting at that moment
//! wake, and which one is the scheduler's choice (`std` does not say); `notify_all` wakes all of
//! them. A notification with no thread waiting is lost, as in `std`. Spurious wake-ups are not
//! modeled: a waiter wakes only when notified.

use super::mutex::{Mutex, MutexGuard};
use super::{new_object, plain};
use crate::scenario::Ctx;
use crate::trace::{Effect, Step};
use std::panic::Location;
use std::sync::{Arc, LockResult, PoisonError};

/// Whether a [`Condvar::wait_timeout`] ended by timing out (`std`'s type cannot be made outside
/// `std`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait timed out rather than being notified.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out so far: a waiter's ticket orders it among waits and notifications.
    next: u64,
    /// Threads waiting: (ticket, thread, name, notified).
    waiting: Vec<(u64, usize, String, bool)>,
    /// Unclaimed `notify_one`s, each the ticket at which it was made: it may wake any thread that
    /// was waiting then (ticket below it).
    permits: Vec<u64>,
}

impl State {
    /// Whether the waiter with `ticket` may wake: it was notified by `notify_all`, or some
    /// `notify_one` made while it waited is unclaimed.
    fn may_wake(&self, ticket: u64) -> bool {
        self.waiting.iter().any(|w| w.0 == ticket && w.3) || self.permits.iter().any(|p| *p > ticket)
    }

    /// The waiter with `ticket` stops waiting without a notification (it timed out).
    fn leave(&mut self, ticket: u64) {
        self.waiting.retain(|w| w.0 != ticket);
        let oldest = self.waiting.iter().map(|w| w.0).min();
        self.permits.retain(|p| oldest.is_some_and(|o| *p > o));
    }

    /// Wakes the waiter with `ticket`: takes the earliest permit it may claim (so that a later
    /// waiter is never left without one an earlier waiter could have taken instead).
    fn wake(&mut self, ticket: u64) {
        let notified = self.waiting.iter().any(|w| w.0 == ticket && w.3);
        if !notified {
            if let Some(i) = self.permits.iter().enumerate().filter(|(_, p)| **p > ticket).min_by_key(|(_, p)| **p) {
                self.permits.remove(i.0);
            }
        }
        self.waiting.retain(|w| w.0 != ticket);
        // A permit nobody waiting may claim any more is a lost notification.
        let oldest = self.waiting.iter().map(|w| w.0).min();
        self.permits.retain(|p| oldest.is_some_and(|o| *p > o));
    }
}

/// A condition variable shaped like `std::sync::Condvar` (Go's `sync.Cond`).
pub struct Condvar {
    ctx: Ctx,
    name: String,
    state: Arc<std::sync::Mutex<State>>,
}

impl std::fmt::Debug for Condvar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condvar").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl Condvar {
    /// A condition variable named after its creation site.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new() -> Condvar {
        Condvar::make(None, Location::caller())
    }

    /// A condition variable named `name` in the trace.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn named(name: &str) -> Condvar {
        Condvar::make(Some(name), Location::caller())
    }

    fn make(name: Option<&str>, site: &Location<'_>) -> Condvar {
        let (ctx, name) = new_object("Condvar", name, site);
        let state: Arc<std::sync::Mutex<State>> = Arc::default();
        let watched = Arc::clone(&state);
        ctx.describe(&name, move || {
            let st = plain(&watched);
            if st.waiting.is_empty() {
                "no thread waits".into()
            } else {
                format!("waiting: {}; unclaimed notify_one: {}", names(&st.waiting), st.permits.len())
            }
        });
        Condvar { ctx, name, state }
    }

    /// `wait`: releases the guard's mutex and waits for a notification, in one step; then, once
    /// notified and the mutex is free, takes it again (a second step).
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_inner(guard, false).map(|(g, _)| g).map_err(|p| PoisonError::new(p.into_inner().0))
    }

    /// `wait_timeout`: as [`Condvar::wait`], but the wait may also end without a notification,
    /// at whatever moment the scheduler chooses (time is not modeled, so the timeout can fall
    /// anywhere): the second step takes the mutex back once it is free, woken if a notification
    /// has come for it by then, timed out otherwise.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        _timeout: std::time::Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        self.wait_inner(guard, true)
    }

    fn wait_inner<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        may_time_out: bool,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let mutex: &'a Mutex<T> = guard.into_mutex();
        let objects = format!("{}+{}", self.name, mutex.name());
        let ticket = self.ctx.step(
            &objects,
            || Ok(()),
            || {
                let me = self.ctx.current_thread();
                plain(&mutex.state).holder = None;
                let _ = may_time_out;
                let mut st = plain(&self.state);
                let ticket = st.next;
                st.next += 1;
                st.waiting.push((ticket, me.0, me.1, false));
                (
                    ticket,
                    Step::new(format!("wait({}, {})", self.name, mutex.name()), "unlocks, waits")
                        .with_effect(Effect::Release),
                )
            },
        );
        let (cv, m) = (Arc::clone(&self.state), Arc::clone(&mutex.state));
        let (cv_name, m_name) = (self.name.clone(), mutex.name().to_string());
        let poisoned = self.ctx.step(
            &objects,
            move || {
                if !may_time_out && !plain(&cv).may_wake(ticket) {
                    return Err(format!("wait({cv_name}): not notified"));
                }
                match &plain(&m).holder {
                    None => Ok(()),
                    Some((_, who)) => Err(format!("lock({m_name}) held by {who}, after wait({cv_name})")),
                }
            },
            || {
                let mut cv = plain(&self.state);
                let notified = cv.may_wake(ticket);
                if notified {
                    cv.wake(ticket);
                } else {
                    cv.leave(ticket);
                }
                drop(cv);
                let me = self.ctx.current_thread();
                let mut ms = plain(&mutex.state);
                ms.holder = Some(me);
                let how = if notified { "woken" } else { "timed out" };
                let result = if ms.poisoned { format!("{how}, locks (poisoned)") } else { format!("{how}, locks") };
                let call = if may_time_out {
                    format!("wait_timeout({}, {})", self.name, mutex.name())
                } else {
                    format!("wait({}, {})", self.name, mutex.name())
                };
                ((ms.poisoned, !notified), Step::new(call, result).with_effect(Effect::Acquire))
            },
        );
        let (poisoned, timed_out) = poisoned;
        let r = WaitTimeoutResult(timed_out);
        match mutex.guard(poisoned) {
            Ok(g) => Ok((g, r)),
            Err(p) => Err(PoisonError::new((p.into_inner(), r))),
        }
    }

    /// `wait_while`: waits while `condition` holds of the guarded value.
    pub fn wait_while<'a, T, F>(&self, mut guard: MutexGuard<'a, T>, mut condition: F) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// `notify_one`: one of the threads waiting now may wake (the scheduler chooses which); with
    /// none waiting, the notification is lost.
    pub fn notify_one(&self) {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut st = plain(&self.state);
                let result = if st.waiting.is_empty() {
                    "no thread waits: lost".to_string()
                } else {
                    let ticket = st.next;
                    st.next += 1;
                    st.permits.push(ticket);
                    format!("one of {} may wake", names(&st.waiting))
                };
                ((), Step::new(format!("notify_one({})", self.name), result).with_effect(Effect::Opaque))
            },
        )
    }

    /// `notify_all`: every thread waiting now wakes.
    pub fn notify_all(&self) {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut st = plain(&self.state);
                let result = if st.waiting.is_empty() {
                    "no thread waits: lost".to_string()
                } else {
                    for w in st.waiting.iter_mut() {
                        w.3 = true;
                    }
                    format!("{} wake", names(&st.waiting))
                };
                ((), Step::new(format!("notify_all({})", self.name), result).with_effect(Effect::Opaque))
            },
        )
    }
}

fn names(waiting: &[(u64, usize, String, bool)]) -> String {
    waiting.iter().map(|w| w.2.as_str()).collect::<Vec<_>>().join(", ")
}
