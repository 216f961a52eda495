//! A JavaScript (Node, Bun) event loop: one task runs at a time, and a task gives up the loop
//! only at an `await`.
//!
//! Each task is a logical thread of the execution that holds the loop while it runs. The loop's
//! queue is FIFO, as the real macrotask queue is: an event that arrives, or an awaited operation
//! that resolves, enqueues its task, and the task runs when it is at the head of the queue and the
//! loop is free. So the steps of a task are:
//! - `event arrives` (the task is queued) and `runs` (it takes the loop);
//! - for every `await x`: `await x` (gives up the loop), `x resolves` (queued again, at a moment the
//!   scheduler chooses: I/O completes whenever it does), and `resumes` (takes the loop);
//! - `returns` (gives up the loop for good).
//!
//! Code between two steps of a task is synchronous and atomic: no other task can observe it
//! half-done, which is exactly what makes check-then-add guards sound on one loop. State shared by
//! tasks is plain data that only the task holding the loop touches ([`Task::with`]).
//!
//! Quiescence: no task running, none queued, no awaited operation pending. Liveness invariants are
//! checked there ([`EventLoop::at_quiescence`]), after every task has returned.
//!
//! Not modeled: the microtask queue's priority over macrotasks (every continuation here is queued
//! as a macrotask), timers' ordering by deadline (a timer is an event arriving at an arbitrary
//! moment).

use harness::{Ctx, Invariant, JoinHandle, Step};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct LoopState {
    /// The task that holds the loop.
    running: Option<String>,
    /// Tasks waiting for the loop, in arrival order.
    queue: VecDeque<String>,
    /// Awaited operations not yet resolved: (task, what).
    pending: Vec<(String, String)>,
}

/// One event loop, shared by its tasks. `S` is the JavaScript state the tasks share.
pub struct EventLoop<S> {
    ctx: Ctx,
    state: Arc<Mutex<LoopState>>,
    shared: Arc<Mutex<S>>,
}

impl<S> Clone for EventLoop<S> {
    fn clone(&self) -> Self {
        EventLoop { ctx: self.ctx.clone(), state: Arc::clone(&self.state), shared: Arc::clone(&self.shared) }
    }
}

fn plain<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Never contended: locked only inside a step, or by the task holding the loop between steps.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A task running on an [`EventLoop`].
pub struct Task<S> {
    lp: EventLoop<S>,
    name: String,
}

impl<S: Send + 'static> EventLoop<S> {
    /// A loop whose tasks share `shared`.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new(shared: S) -> EventLoop<S> {
        let ctx = Ctx::current();
        let state = Arc::new(Mutex::new(LoopState::default()));
        let watched = Arc::clone(&state);
        ctx.describe("event loop", move || {
            let st = plain(&watched);
            format!(
                "running: {}\nqueued: {:?}\npending: {:?}",
                st.running.as_deref().unwrap_or("none"),
                st.queue,
                st.pending.iter().map(|(t, w)| format!("{t} awaits {w}")).collect::<Vec<_>>()
            )
        });
        EventLoop { ctx, state, shared: Arc::new(Mutex::new(shared)) }
    }

    fn step<R>(
        &self,
        ready: impl FnMut(&LoopState) -> Result<(), String> + Send + 'static,
        act: impl FnOnce(&mut LoopState) -> (R, String, String),
    ) -> R {
        let mut ready = ready;
        let state = Arc::clone(&self.state);
        self.ctx.step(
            "event loop",
            move || ready(&plain(&state)),
            || {
                let (r, call, result) = act(&mut plain(&self.state));
                (r, Step::new(call, result))
            },
        )
    }

    /// An event (a message, a timer, a cron tick) whose handler runs as task `name`, from the
    /// moment the scheduler lets it arrive.
    pub fn spawn<T, F>(&self, name: &str, handler: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: FnOnce(&Task<S>) -> T + Send + 'static,
    {
        self.spawn_when(name, "", |_| true, handler)
    }

    /// An event that can only arrive once `trigger` holds of the shared state (say, "chat A's run
    /// has started"), at a moment the scheduler chooses from then on. `why` names the trigger in
    /// deadlock reports.
    pub fn spawn_when<T, F, C>(&self, name: &str, why: &str, trigger: C, handler: F) -> JoinHandle<T>
    where
        T: Send + 'static,
        F: FnOnce(&Task<S>) -> T + Send + 'static,
        C: Fn(&S) -> bool + Send + 'static,
    {
        let task = Task { lp: self.clone(), name: name.to_string() };
        let why = why.to_string();
        self.ctx.spawn(name, move || {
            let who = task.name.clone();
            let shared = Arc::clone(&task.lp.shared);
            task.lp.step(
                move |_| if trigger(&plain(&shared)) { Ok(()) } else { Err(why.clone()) },
                |st| {
                    st.queue.push_back(who.clone());
                    ((), "event arrives".into(), String::new())
                },
            );
            task.take_loop("runs");
            let r = handler(&task);
            task.lp.step(
                |_| Ok(()),
                |st| {
                    st.running = None;
                    ((), "returns".into(), String::new())
                },
            );
            r
        })
    }

    /// Checks `check` at quiescence: call it once every task has been joined. A task still
    /// running or queued, or an operation still pending, is itself a violation of `inv`.
    pub fn at_quiescence(&self, inv: &'static Invariant, check: impl FnOnce(&S) -> Result<(), String>) {
        self.ctx.observe("event loop");
        let st = plain(&self.state);
        let busy = st.running.is_some() || !st.queue.is_empty() || !st.pending.is_empty();
        let detail =
            format!("not quiescent: running {:?}, queued {:?}, pending {:?}", st.running, st.queue, st.pending);
        drop(st);
        self.ctx.check(inv, !busy, || detail);
        if let Err(e) = check(&plain(&self.shared)) {
            self.ctx.check(inv, false, || e);
        }
    }

    /// The context, for notes and checks.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Reads the shared state without a step: for invariants and end checks.
    pub fn inspect<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        self.ctx.observe("event loop");
        f(&plain(&self.shared))
    }
}

impl<S: Send + 'static> Task<S> {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The context, for notes and checks.
    pub fn ctx(&self) -> &Ctx {
        &self.lp.ctx
    }

    fn take_loop(&self, call: &str) {
        let me = self.name.clone();
        let me2 = self.name.clone();
        self.lp.step(
            move |st| match (&st.running, st.queue.front()) {
                (None, Some(head)) if *head == me => Ok(()),
                (Some(r), _) => Err(format!("the loop, which {r} holds")),
                (None, _) => Err(format!("its turn in the loop's queue {:?}", st.queue)),
            },
            move |st| {
                st.queue.pop_front();
                st.running = Some(me2);
                ((), call.to_string(), String::new())
            },
        );
    }

    /// Synchronous code: runs `f` on the shared state. Not a step: the task holds the loop, so no
    /// other task can run until its next `await` or its return.
    pub fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let r = f(&mut plain(&self.lp.shared));
        // An event's trigger reads the shared state (see `spawn_when`): its step is looked at again.
        self.lp.ctx.touch("event loop");
        r
    }

    /// `await what`: gives up the loop until `what` resolves and the task's turn comes again.
    pub fn await_(&self, what: &str) {
        let me = self.name.clone();
        let w = what.to_string();
        self.lp.step(|_| Ok(()), {
            let me = me.clone();
            move |st| {
                st.running = None;
                st.pending.push((me, w.clone()));
                ((), format!("await {w}"), "pending".into())
            }
        });
        let w = what.to_string();
        self.lp.step(
            |_| Ok(()),
            move |st| {
                st.pending.retain(|(t, x)| !(*t == me && *x == w));
                st.queue.push_back(me.clone());
                ((), format!("{w} resolves"), String::new())
            },
        );
        self.take_loop("resumes");
    }
}
