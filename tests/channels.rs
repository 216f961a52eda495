//! `interleave::sync::mpsc` against `std::sync::mpsc`: proptest makes sequences of channel
//! operations on one thread (sends, `try_send` on a bounded channel, `try_recv`, `recv` when it
//! cannot block, senders cloned and dropped, the receiver dropped) and compares every result; then
//! what needs threads, over every schedule: `recv` waits for a send, a full bounded channel holds
//! its sender back, a rendezvous send returns only once received, and every sender gone ends
//! `recv`.

use interleave::check::Outcome;
use interleave::{Expect, Scenario, Source, Variant};
use proptest::prelude::*;
use std::sync::{Arc, Mutex as StdMutex};

fn in_execution<R: Send + 'static>(f: impl Fn() -> R + Send + Sync + 'static) -> R {
    let out: Arc<StdMutex<Option<R>>> = Arc::default();
    let slot = Arc::clone(&out);
    let v = Variant::new("ops", Expect::Holds, move |_| {
        let r = f();
        *slot.lock().unwrap() = Some(r);
    });
    let s = Scenario::new("channels", "", Source { seed: "-", section: "-" }, vec![v]);
    let outcome = interleave::check::replay_lenient(&s.variants[0], Vec::new());
    assert!(outcome.violation().is_none(), "{:?}", outcome.violations);
    let r = out.lock().unwrap().take();
    r.expect("the body ran")
}

#[derive(Clone, Debug)]
enum Op {
    Send(usize, u8),
    TrySend(usize, u8),
    TryRecv,
    Recv,
    CloneSender(usize),
    DropSender(usize),
    DropReceiver,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, any::<u8>()).prop_map(|(i, v)| Op::Send(i, v)),
        (0..3usize, any::<u8>()).prop_map(|(i, v)| Op::TrySend(i, v)),
        Just(Op::TryRecv),
        Just(Op::Recv),
        (0..3usize).prop_map(Op::CloneSender),
        (0..3usize).prop_map(Op::DropSender),
        Just(Op::DropReceiver),
    ]
}

/// Runs `ops` on a channel made by `$make` (bounded when `$bound` is `Some`): `$module` is
/// `std::sync::mpsc` or `interleave::sync::mpsc`. A `send` or `recv` that would block forever on
/// one thread is skipped, by a count of what the channel holds.
macro_rules! run_ops {
    ($module:path, $bound:expr, $ops:expr) => {{
        use $module as m;
        let bound: Option<usize> = $bound;
        let mut seen: Vec<String> = Vec::new();
        let mut held = 0usize;
        let mut alive_senders = 1usize;
        let (mut senders, mut rx) = match bound {
            None => {
                let (tx, rx) = m::channel::<u8>();
                (vec![Some(Tx::Unbounded(tx)), None, None], Some(rx))
            }
            Some(b) => {
                let (tx, rx) = m::sync_channel::<u8>(b);
                (vec![Some(Tx::Bounded(tx)), None, None], Some(rx))
            }
        };
        enum Tx<A, B> {
            Unbounded(A),
            Bounded(B),
        }
        for op in $ops {
            let r = match op {
                Op::Send(i, v) => match &senders[*i] {
                    Some(tx) if rx.is_none() || bound.is_none_or(|b| held < b) => {
                        let r = match tx {
                            Tx::Unbounded(t) => t.send(*v).map_err(|_| ()),
                            Tx::Bounded(t) => t.send(*v).map_err(|_| ()),
                        };
                        if r.is_ok() {
                            held += 1;
                        }
                        format!("{r:?}")
                    }
                    _ => "skipped".into(),
                },
                Op::TrySend(i, v) => match &senders[*i] {
                    Some(Tx::Bounded(t)) => {
                        let r = t.try_send(*v);
                        if r.is_ok() {
                            held += 1;
                        }
                        match r {
                            Ok(()) => "ok".into(),
                            Err(m::TrySendError::Full(_)) => "Full".into(),
                            Err(m::TrySendError::Disconnected(_)) => "Disconnected".into(),
                        }
                    }
                    _ => "skipped".into(),
                },
                Op::TryRecv => match &rx {
                    Some(r) => {
                        let got = r.try_recv();
                        if got.is_ok() {
                            held -= 1;
                        }
                        format!("{got:?}")
                    }
                    None => "skipped".into(),
                },
                Op::Recv => match &rx {
                    Some(r) if held > 0 || alive_senders == 0 => {
                        let got = r.recv();
                        if got.is_ok() {
                            held -= 1;
                        }
                        format!("{got:?}")
                    }
                    _ => "skipped".into(),
                },
                Op::CloneSender(i) => match (&senders[*i], senders.iter().position(Option::is_none)) {
                    (Some(tx), Some(free)) => {
                        let c = match tx {
                            Tx::Unbounded(t) => Tx::Unbounded(t.clone()),
                            Tx::Bounded(t) => Tx::Bounded(t.clone()),
                        };
                        senders[free] = Some(c);
                        alive_senders += 1;
                        "cloned".into()
                    }
                    _ => "skipped".into(),
                },
                Op::DropSender(i) => match senders[*i].take() {
                    Some(_) => {
                        alive_senders -= 1;
                        "dropped sender".into()
                    }
                    None => "skipped".into(),
                },
                Op::DropReceiver => match rx.take() {
                    Some(_) => "dropped receiver".into(),
                    None => "skipped".into(),
                },
            };
            seen.push(r);
        }
        seen
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn channel_sequences_behave_as_std(
        bound in prop_oneof![Just(None), (1..3usize).prop_map(Some)],
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let expected = run_ops!(std::sync::mpsc, bound, &ops);
        let model = ops.clone();
        let got = in_execution(move || run_ops!(interleave::sync::mpsc, bound, &model));
        prop_assert_eq!(got, expected);
    }
}

fn every_schedule(name: &str, expect: Expect, body: impl Fn() + Send + Sync + 'static) -> interleave::VariantReport {
    let v = Variant::new(name, expect, move |_| body());
    let s = Scenario::new(name, "", Source { seed: "-", section: "-" }, vec![v]);
    let opts = interleave::CheckOptions { strategy: interleave::Strategy::Dfs, ..interleave::CheckOptions::default() };
    interleave::check_variant(s, &s.variants[0], &opts).unwrap()
}

#[test]
fn blocking_operations_over_every_schedule() {
    use interleave::sync::atomic::{AtomicUsize, Ordering};
    use interleave::sync::mpsc;
    use interleave::thread;
    // recv waits for the send; the receive follows the send in every schedule.
    let r = every_schedule("recv-waits", Expect::Holds, || {
        let (tx, rx) = mpsc::channel::<u32>();
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(rx.recv(), Ok(7));
        t.join().unwrap();
    });
    assert!(r.outcome == Outcome::Holds && r.exhaustive, "{r:#?}");
    // Every sender gone (after their messages): recv drains them and then reports disconnection.
    let r = every_schedule("disconnect", Expect::Holds, || {
        let (tx, rx) = mpsc::channel::<u32>();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.send(1).unwrap());
        let b = thread::spawn(move || tx2.send(2).unwrap());
        let mut got: Vec<u32> = rx.iter().collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert!(rx.recv().is_err());
        a.join().unwrap();
        b.join().unwrap();
    });
    assert!(r.outcome == Outcome::Holds && r.exhaustive, "{r:#?}");
    // A bounded channel of one: the second send waits until the first is received, so the
    // receiver never sees the counter past 1 before its first receive.
    let r = every_schedule("bounded", Expect::Holds, || {
        let (tx, rx) = mpsc::sync_channel::<u32>(1);
        let sent = std::sync::Arc::new(AtomicUsize::named("sent", 0));
        let s = std::sync::Arc::clone(&sent);
        let t = thread::spawn(move || {
            for i in 0..2 {
                tx.send(i).unwrap();
                s.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert!(sent.load(Ordering::SeqCst) <= 1);
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(rx.recv(), Ok(1));
        t.join().unwrap();
    });
    assert!(r.outcome == Outcome::Holds && r.exhaustive, "{r:#?}");
    // A rendezvous: the send completes only once the message is received.
    let r = every_schedule("rendezvous", Expect::Holds, || {
        let (tx, rx) = mpsc::sync_channel::<u32>(0);
        let done = std::sync::Arc::new(AtomicUsize::named("done", 0));
        let d = std::sync::Arc::clone(&done);
        let t = thread::spawn(move || {
            tx.send(9).unwrap();
            d.store(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 0, "a rendezvous send returned before the receive");
        assert_eq!(rx.recv(), Ok(9));
        t.join().unwrap();
    });
    assert!(r.outcome == Outcome::Holds && r.exhaustive, "{r:#?}");
    // Without the receive, the rendezvous send waits forever: a deadlock some schedule shows.
    let r = every_schedule("rendezvous-alone", Expect::Counterexample, || {
        let (tx, rx) = mpsc::sync_channel::<u32>(0);
        let t = thread::spawn(move || tx.send(9).unwrap());
        t.join().unwrap();
        drop(rx);
    });
    assert_eq!(r.invariant.as_deref(), Some("deadlock"), "{r:#?}");
}
