//! Channels shaped like `std::sync::mpsc`: [`channel`] (unbounded) and [`sync_channel`] (bounded,
//! a rendezvous with capacity 0). Every operation is one step on the channel — `send`, `recv`,
//! `try_recv`, `try_send`, and dropping the last sender or the receiver, which other threads can
//! observe (disconnection) — and blocks where `std`'s blocks: `recv` while the channel is empty and
//! a sender is alive, `send` on a full bounded channel, and on a rendezvous channel until the
//! receiver has taken the message (a second step, `send … completes`).
//!
//! For the data-race detector, a receive synchronizes with the send of the message it takes (and
//! nothing else), as a channel does.

use super::{new_object, plain, shown};
use crate::scenario::Ctx;
use crate::trace::{Effect, Step};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::panic::Location;
pub use std::sync::mpsc::{RecvError, SendError, TryRecvError, TrySendError};
use std::sync::Arc;

struct State<T> {
    /// Messages sent and not yet received, each with its serial number.
    queue: VecDeque<(u64, T)>,
    /// Messages sent so far (serial numbers).
    sent: u64,
    /// Messages received so far: a rendezvous send completes once its message is among them.
    received: u64,
    senders: usize,
    receiver: bool,
    /// `None`: unbounded.
    capacity: Option<usize>,
    /// Receivers waiting in `recv` (a rendezvous `try_send` hands its message to one).
    waiting: usize,
}

struct Chan<T> {
    ctx: Ctx,
    name: String,
    state: Arc<std::sync::Mutex<State<T>>>,
}

impl<T: Send + Debug + 'static> Chan<T> {
    fn new(capacity: Option<usize>, site: &Location<'_>) -> Arc<Chan<T>> {
        let (ctx, name) = new_object("channel", None, site);
        let state =
            State { queue: VecDeque::new(), sent: 0, received: 0, senders: 1, receiver: true, capacity, waiting: 0 };
        let state = Arc::new(std::sync::Mutex::new(state));
        let watched = Arc::clone(&state);
        ctx.describe(&name, move || {
            let st = plain(&watched);
            let queued: Vec<String> = st.queue.iter().map(|(_, t)| shown(t)).collect();
            format!(
                "queued: [{}]; senders: {}; receiver: {}",
                queued.join(", "),
                st.senders,
                if st.receiver { "alive" } else { "dropped" }
            )
        });
        Arc::new(Chan { ctx, name, state })
    }

    fn message(&self, serial: u64) -> String {
        format!("{}#{serial}", self.name)
    }

    /// Sends `t`, blocking while a bounded channel is full; on a rendezvous channel, then waits
    /// until the message was taken.
    fn send(&self, t: T) -> Result<(), SendError<T>> {
        let watched = Arc::clone(&self.state);
        let name = self.name.clone();
        let sent = self.ctx.step(
            &self.name,
            move || {
                let st = plain(&watched);
                match st.capacity {
                    // A rendezvous channel hands over one message at a time.
                    Some(c) if st.receiver && st.queue.len() >= c.max(1) => Err(format!("send({name}): full ({c})")),
                    _ => Ok(()),
                }
            },
            || {
                let mut st = plain(&self.state);
                let call = format!("send({}, {})", self.name, shown(&t));
                if !st.receiver {
                    return (
                        Err(SendError(t)),
                        Step::new(call, "Err(SendError): the receiver is gone").with_effect(Effect::Opaque),
                    );
                }
                st.sent += 1;
                let serial = st.sent;
                st.queue.push_back((serial, t));
                (Ok(serial), Step::new(call, "ok").with_effect_on(Effect::Release, self.message(serial)))
            },
        )?;
        if self.capacity() == Some(0) {
            // A rendezvous: the send returns once the receiver has the message.
            let watched = Arc::clone(&self.state);
            let name = self.name.clone();
            self.ctx.step(
                &self.name,
                move || {
                    let st = plain(&watched);
                    if st.received >= sent || !st.receiver {
                        Ok(())
                    } else {
                        Err(format!("send({name}): waits for the receiver to take it"))
                    }
                },
                || ((), Step::new(format!("send({}) completes", self.name), "").with_effect(Effect::Opaque)),
            );
        }
        Ok(())
    }

    fn capacity(&self) -> Option<usize> {
        plain(&self.state).capacity
    }

    fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut st = plain(&self.state);
                let call = format!("try_send({}, {})", self.name, shown(&t));
                if !st.receiver {
                    return (
                        Err(TrySendError::Disconnected(t)),
                        Step::new(call, "Disconnected").with_effect(Effect::Opaque),
                    );
                }
                // A rendezvous channel takes a message only when a receiver waits for one.
                let full = match st.capacity {
                    Some(0) => st.waiting == 0 || !st.queue.is_empty(),
                    Some(c) => st.queue.len() >= c,
                    None => false,
                };
                if full {
                    return (Err(TrySendError::Full(t)), Step::new(call, "Full").with_effect(Effect::Opaque));
                }
                st.sent += 1;
                let serial = st.sent;
                st.queue.push_back((serial, t));
                (Ok(()), Step::new(call, "ok").with_effect_on(Effect::Release, self.message(serial)))
            },
        )
    }

    /// Takes a message at once if there is one (or reports disconnection); otherwise announces a
    /// waiting receiver in one step and takes the next message in a second.
    fn recv(&self) -> Result<T, RecvError> {
        let first = self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut st = plain(&self.state);
                if st.queue.is_empty() && st.senders > 0 {
                    st.waiting += 1;
                    let call = format!("recv({})", self.name);
                    return (None, Step::new(call, "waits (empty)").with_effect(Effect::Opaque));
                }
                drop(st);
                let (r, step) = self.take(format!("recv({})", self.name), |_| RecvError);
                (Some(r), step)
            },
        );
        if let Some(r) = first {
            return r;
        }
        let watched = Arc::clone(&self.state);
        let name = self.name.clone();
        self.ctx.step(
            &self.name,
            move || {
                let st = plain(&watched);
                if st.queue.is_empty() && st.senders > 0 {
                    Err(format!("recv({name}): empty"))
                } else {
                    Ok(())
                }
            },
            || {
                plain(&self.state).waiting -= 1;
                self.take(format!("recv({})", self.name), |_| RecvError)
            },
        )
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let empty = plain(&self.state).queue.is_empty();
                let senders = plain(&self.state).senders;
                if empty && senders > 0 {
                    let call = format!("try_recv({})", self.name);
                    return (Err(TryRecvError::Empty), Step::new(call, "Empty").with_effect(Effect::Opaque));
                }
                self.take(format!("try_recv({})", self.name), |_| TryRecvError::Disconnected)
            },
        )
    }

    /// Takes the first message (inside a step), or reports disconnection with `gone`.
    fn take<E: Debug>(&self, call: String, gone: impl FnOnce(()) -> E) -> (Result<T, E>, Step) {
        let mut st = plain(&self.state);
        match st.queue.pop_front() {
            Some((serial, t)) => {
                st.received = serial;
                let result = shown(&t);
                (Ok(t), Step::new(call, result).with_effect_on(Effect::Acquire, self.message(serial)))
            }
            None => {
                let e = gone(());
                let result = format!("{e:?}");
                (Err(e), Step::new(call, result).with_effect(Effect::Opaque))
            }
        }
    }

    fn drop_sender(&self) {
        if std::thread::panicking() {
            plain(&self.state).senders -= 1;
            return;
        }
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let mut st = plain(&self.state);
                st.senders -= 1;
                let result = if st.senders == 0 { "the last sender: disconnected" } else { "" };
                ((), Step::new(format!("drop(Sender of {})", self.name), result).with_effect(Effect::Opaque))
            },
        )
    }

    fn drop_receiver(&self) {
        if std::thread::panicking() {
            plain(&self.state).receiver = false;
            return;
        }
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                plain(&self.state).receiver = false;
                ((), Step::new(format!("drop(Receiver of {})", self.name), "disconnected").with_effect(Effect::Opaque))
            },
        )
    }

    fn add_sender(&self) {
        // Cloning a sender is local to the thread that holds one: not a step.
        plain(&self.state).senders += 1;
    }
}

/// The sending half of a [`channel`], shaped like `std::sync::mpsc::Sender`.
pub struct Sender<T: Send + Debug + 'static> {
    chan: Arc<Chan<T>>,
}

/// The sending half of a [`sync_channel`], shaped like `std::sync::mpsc::SyncSender`.
pub struct SyncSender<T: Send + Debug + 'static> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a channel, shaped like `std::sync::mpsc::Receiver`.
pub struct Receiver<T: Send + Debug + 'static> {
    chan: Arc<Chan<T>>,
}

/// An unbounded channel (`std::sync::mpsc::channel`), named after its creation site.
///
/// # Panics
/// Outside an execution.
#[track_caller]
pub fn channel<T: Send + Debug + 'static>() -> (Sender<T>, Receiver<T>) {
    let chan = Chan::new(None, Location::caller());
    (Sender { chan: Arc::clone(&chan) }, Receiver { chan })
}

/// A bounded channel with room for `bound` messages (`std::sync::mpsc::sync_channel`; 0 is a
/// rendezvous), named after its creation site.
///
/// # Panics
/// Outside an execution.
#[track_caller]
pub fn sync_channel<T: Send + Debug + 'static>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Chan::new(Some(bound), Location::caller());
    (SyncSender { chan: Arc::clone(&chan) }, Receiver { chan })
}

impl<T: Send + Debug + 'static> Sender<T> {
    /// `send`: never blocks; `Err` once the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.chan.send(t)
    }
}

impl<T: Send + Debug + 'static> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender { chan: Arc::clone(&self.chan) }
    }
}

impl<T: Send + Debug + 'static> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T: Send + Debug + 'static> SyncSender<T> {
    /// `send`: blocks while the channel is full (on a rendezvous channel, until the message is
    /// taken); `Err` once the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.chan.send(t)
    }

    /// `try_send`: `Full` instead of blocking.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(t)
    }
}

impl<T: Send + Debug + 'static> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        SyncSender { chan: Arc::clone(&self.chan) }
    }
}

impl<T: Send + Debug + 'static> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T: Send + Debug + 'static> Receiver<T> {
    /// `recv`: waits while the channel is empty and a sender is alive; `Err` once it is empty and
    /// every sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv()
    }

    /// `try_recv`: `Empty` or `Disconnected` instead of blocking.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// The messages until every sender is gone (`for m in rx.iter()`).
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }
}

impl<T: Send + Debug + 'static> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}
