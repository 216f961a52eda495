//! The std-shaped primitives against `std` itself, where `std` is deterministic: proptest makes
//! sequences of operations on one thread (`try_lock`, `try_read`, `try_write`, guards dropped,
//! panics while holding a lock, poison cleared, atomic read-modify-writes), runs each on `std`'s
//! type and on ours inside one execution, and compares every result. Then what only interleavings
//! show, checked over every schedule: a notification with no waiter is lost, a waiting writer
//! holds new readers back, `notify_one` wakes one waiter and `notify_all` every one.

use interleave::check::Outcome;
use interleave::{Expect, Scenario, Source, Variant};
use proptest::prelude::*;
use std::sync::{Arc, Mutex as StdMutex};

/// Runs `f` as the body of one execution (every thread running as long as it can) and returns
/// what it returned.
fn in_execution<R: Send + 'static>(f: impl Fn() -> R + Send + Sync + 'static) -> R {
    let out: Arc<StdMutex<Option<R>>> = Arc::default();
    let slot = Arc::clone(&out);
    let v = Variant::new("ops", Expect::Holds, move |_| {
        let r = f();
        *slot.lock().unwrap() = Some(r);
    });
    let s = Scenario::new("primitives", "", Source { seed: "-", section: "-" }, vec![v]);
    let outcome = interleave::check::replay_lenient(&s.variants[0], Vec::new());
    assert!(outcome.violation().is_none(), "{:?}", outcome.violations);
    let r = out.lock().unwrap().take();
    r.expect("the body ran")
}

/// Panics while `f` holds what it takes, and catches the panic (without the panic hook).
fn panic_holding(f: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f();
        std::panic::resume_unwind(Box::new("while holding"));
    }));
}

#[derive(Clone, Debug)]
enum MutexOp {
    TryLock(usize),
    Lock(usize),
    Drop(usize),
    PanicHolding,
    IsPoisoned,
    ClearPoison,
}

fn mutex_op() -> impl Strategy<Value = MutexOp> {
    prop_oneof![
        (0..3usize).prop_map(MutexOp::TryLock),
        (0..3usize).prop_map(MutexOp::Lock),
        (0..3usize).prop_map(MutexOp::Drop),
        Just(MutexOp::PanicHolding),
        Just(MutexOp::IsPoisoned),
        Just(MutexOp::ClearPoison),
    ]
}

/// Runs `ops` on a mutex; `lock`, `try_lock`, `is_poisoned` and `clear_poison` are the type's.
macro_rules! run_mutex_ops {
    ($m:expr, $ops:expr, $would_block:path, $poisoned:path) => {{
        let m = $m;
        let mut guards: Vec<Option<_>> = (0..3).map(|_| None).collect();
        let mut seen = Vec::new();
        for op in $ops {
            let held = guards.iter().any(Option::is_some);
            match op {
                MutexOp::TryLock(i) if guards[*i].is_none() => match m.try_lock() {
                    Ok(g) => {
                        guards[*i] = Some(g);
                        seen.push("ok")
                    }
                    Err($poisoned(p)) => {
                        guards[*i] = Some(p.into_inner());
                        seen.push("poisoned")
                    }
                    Err($would_block) => seen.push("would block"),
                },
                // A thread that locks a mutex it holds waits for itself: not generated.
                MutexOp::Lock(i) if !held => match m.lock() {
                    Ok(g) => {
                        guards[*i] = Some(g);
                        seen.push("ok")
                    }
                    Err(p) => {
                        guards[*i] = Some(p.into_inner());
                        seen.push("poisoned")
                    }
                },
                MutexOp::Drop(i) => {
                    guards[*i] = None;
                    seen.push("dropped")
                }
                MutexOp::PanicHolding if !held => {
                    panic_holding(|| drop(m.lock()));
                    seen.push("panicked")
                }
                MutexOp::IsPoisoned => seen.push(if m.is_poisoned() { "is poisoned" } else { "not poisoned" }),
                MutexOp::ClearPoison => {
                    m.clear_poison();
                    seen.push("cleared")
                }
                _ => seen.push("skipped"),
            }
        }
        seen
    }};
}

#[derive(Clone, Debug)]
enum RwOp {
    TryRead(usize),
    TryWrite(usize),
    Drop(usize),
    PanicWriting,
    PanicReading,
    IsPoisoned,
}

fn rw_op() -> impl Strategy<Value = RwOp> {
    prop_oneof![
        (0..3usize).prop_map(RwOp::TryRead),
        (0..3usize).prop_map(RwOp::TryWrite),
        (0..3usize).prop_map(RwOp::Drop),
        Just(RwOp::PanicWriting),
        Just(RwOp::PanicReading),
        Just(RwOp::IsPoisoned),
    ]
}

/// A held guard of either kind.
enum Held<R, W> {
    Read(R),
    Write(W),
}

macro_rules! run_rw_ops {
    ($l:expr, $ops:expr, $would_block:path, $poisoned:path) => {{
        let l = $l;
        let mut guards: Vec<Option<Held<_, _>>> = (0..3).map(|_| None).collect();
        let mut seen = Vec::new();
        for op in $ops {
            let held = guards.iter().any(Option::is_some);
            match op {
                RwOp::TryRead(i) if guards[*i].is_none() => match l.try_read() {
                    Ok(g) => {
                        guards[*i] = Some(Held::Read(g));
                        seen.push("read ok")
                    }
                    Err($poisoned(p)) => {
                        guards[*i] = Some(Held::Read(p.into_inner()));
                        seen.push("read poisoned")
                    }
                    Err($would_block) => seen.push("read would block"),
                },
                RwOp::TryWrite(i) if guards[*i].is_none() => match l.try_write() {
                    Ok(g) => {
                        guards[*i] = Some(Held::Write(g));
                        seen.push("write ok")
                    }
                    Err($poisoned(p)) => {
                        guards[*i] = Some(Held::Write(p.into_inner()));
                        seen.push("write poisoned")
                    }
                    Err($would_block) => seen.push("write would block"),
                },
                RwOp::Drop(i) => {
                    guards[*i] = None;
                    seen.push("dropped")
                }
                RwOp::PanicWriting if !held => {
                    panic_holding(|| drop(l.write()));
                    seen.push("panicked writing")
                }
                RwOp::PanicReading if !held => {
                    panic_holding(|| drop(l.read()));
                    seen.push("panicked reading")
                }
                RwOp::IsPoisoned => seen.push(if l.is_poisoned() { "is poisoned" } else { "not poisoned" }),
                _ => seen.push("skipped"),
            }
        }
        seen
    }};
}

#[derive(Clone, Debug)]
enum AtomicOp {
    Load,
    Store(u8),
    Swap(u8),
    FetchAdd(u8),
    FetchSub(u8),
    FetchMax(u8),
    FetchMin(u8),
    FetchAnd(u8),
    FetchOr(u8),
    FetchXor(u8),
    CompareExchange(u8, u8),
    FetchUpdateDouble,
}

fn atomic_op() -> impl Strategy<Value = AtomicOp> {
    prop_oneof![
        Just(AtomicOp::Load),
        any::<u8>().prop_map(AtomicOp::Store),
        any::<u8>().prop_map(AtomicOp::Swap),
        any::<u8>().prop_map(AtomicOp::FetchAdd),
        any::<u8>().prop_map(AtomicOp::FetchSub),
        any::<u8>().prop_map(AtomicOp::FetchMax),
        any::<u8>().prop_map(AtomicOp::FetchMin),
        any::<u8>().prop_map(AtomicOp::FetchAnd),
        any::<u8>().prop_map(AtomicOp::FetchOr),
        any::<u8>().prop_map(AtomicOp::FetchXor),
        (0..4u8, any::<u8>()).prop_map(|(a, b)| AtomicOp::CompareExchange(a, b)),
        Just(AtomicOp::FetchUpdateDouble),
    ]
}

macro_rules! run_atomic_ops {
    ($a:expr, $ops:expr) => {{
        use std::sync::atomic::Ordering::SeqCst;
        let a = $a;
        let mut seen: Vec<String> = Vec::new();
        for op in $ops {
            let r = match *op {
                AtomicOp::Load => format!("{}", a.load(SeqCst)),
                AtomicOp::Store(v) => {
                    a.store(u32::from(v), SeqCst);
                    String::new()
                }
                AtomicOp::Swap(v) => format!("{}", a.swap(u32::from(v), SeqCst)),
                AtomicOp::FetchAdd(v) => format!("{}", a.fetch_add(u32::from(v) << 24, SeqCst)),
                AtomicOp::FetchSub(v) => format!("{}", a.fetch_sub(u32::from(v) << 24, SeqCst)),
                AtomicOp::FetchMax(v) => format!("{}", a.fetch_max(u32::from(v), SeqCst)),
                AtomicOp::FetchMin(v) => format!("{}", a.fetch_min(u32::from(v), SeqCst)),
                AtomicOp::FetchAnd(v) => format!("{}", a.fetch_and(u32::from(v), SeqCst)),
                AtomicOp::FetchOr(v) => format!("{}", a.fetch_or(u32::from(v), SeqCst)),
                AtomicOp::FetchXor(v) => format!("{}", a.fetch_xor(u32::from(v), SeqCst)),
                AtomicOp::CompareExchange(c, n) => {
                    format!("{:?}", a.compare_exchange(u32::from(c), u32::from(n), SeqCst, SeqCst))
                }
                AtomicOp::FetchUpdateDouble => {
                    format!("{:?}", a.fetch_update(SeqCst, SeqCst, |x| x.checked_mul(2)))
                }
            };
            seen.push(r);
        }
        seen
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutex_sequences_behave_as_std(ops in prop::collection::vec(mutex_op(), 1..24)) {
        let expected =
            run_mutex_ops!(std::sync::Mutex::new(0u32), &ops, std::sync::TryLockError::WouldBlock, std::sync::TryLockError::Poisoned);
        let model = ops.clone();
        let got = in_execution(move || {
            run_mutex_ops!(interleave::sync::Mutex::new(0u32), &model, interleave::sync::TryLockError::WouldBlock, interleave::sync::TryLockError::Poisoned)
        });
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn rwlock_sequences_behave_as_std(ops in prop::collection::vec(rw_op(), 1..24)) {
        let expected =
            run_rw_ops!(std::sync::RwLock::new(0u32), &ops, std::sync::TryLockError::WouldBlock, std::sync::TryLockError::Poisoned);
        let model = ops.clone();
        let got = in_execution(move || {
            run_rw_ops!(interleave::sync::RwLock::new(0u32), &model, interleave::sync::TryLockError::WouldBlock, interleave::sync::TryLockError::Poisoned)
        });
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn atomic_sequences_behave_as_std(ops in prop::collection::vec(atomic_op(), 1..24)) {
        let expected = run_atomic_ops!(std::sync::atomic::AtomicU32::new(1), &ops);
        let model = ops.clone();
        let got = in_execution(move || run_atomic_ops!(interleave::sync::atomic::AtomicU32::new(1), &model));
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn a_notification_with_no_waiter_is_lost_as_in_std() {
    use std::time::Duration;
    let std_side = {
        let (m, cv) = (std::sync::Mutex::new(()), std::sync::Condvar::new());
        cv.notify_one();
        cv.notify_all();
        let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
        r.timed_out()
    };
    let model = in_execution(|| {
        let (m, cv) = (interleave::sync::Mutex::new(()), interleave::sync::Condvar::new());
        cv.notify_one();
        cv.notify_all();
        let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::ZERO).unwrap();
        r.timed_out()
    });
    assert!(std_side, "std: the lost notification does not wake a later wait");
    assert_eq!(model, std_side);
}

/// Checks a program over every schedule (the step-level search) and returns the report.
fn every_schedule(name: &str, expect: Expect, body: impl Fn() + Send + Sync + 'static) -> interleave::VariantReport {
    let v = Variant::new(name, expect, move |_| body());
    let s = Scenario::new(name, "", Source { seed: "-", section: "-" }, vec![v]);
    let opts = interleave::CheckOptions { strategy: interleave::Strategy::Dfs, ..interleave::CheckOptions::default() };
    interleave::check_variant(s, &s.variants[0], &opts).unwrap()
}

#[test]
fn condvar_waits_and_notifications_over_every_schedule() {
    use interleave::sync::{Arc, Condvar, Mutex};
    use interleave::thread;
    // A waiter that waits once, unconditionally, and a notifier: when the notification comes
    // before the wait, it is lost and the waiter waits forever (a deadlock some schedule shows).
    let r = every_schedule("lost", Expect::Counterexample, || {
        let pair = Arc::new((Mutex::named("m", ()), Condvar::named("cv")));
        let p = Arc::clone(&pair);
        let waiter = thread::spawn(move || drop(p.1.wait(p.0.lock().unwrap())));
        pair.1.notify_one();
        waiter.join().unwrap();
    });
    assert_eq!(r.invariant.as_deref(), Some("deadlock"), "{r:#?}");
    assert!(r.trace.as_deref().unwrap().contains("notify_one(cv) = no thread waits: lost"), "{:?}", r.trace);
    // With the flag the waiter checks under the mutex (wait_while), no schedule loses it.
    let r = every_schedule("flag", Expect::Holds, || {
        let pair = Arc::new((Mutex::named("m", false), Condvar::named("cv")));
        let p = Arc::clone(&pair);
        let waiter = thread::spawn(move || drop(p.1.wait_while(p.0.lock().unwrap(), |ready| !*ready)));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_one();
        waiter.join().unwrap();
    });
    assert!(r.exhaustive && r.outcome == Outcome::Holds, "{r:#?}");
    // notify_one wakes one of two waiters: the other waits forever in some schedule; notify_all
    // wakes both in every schedule.
    for (all, expect) in [(false, Expect::Counterexample), (true, Expect::Holds)] {
        let r = every_schedule(if all { "all" } else { "one" }, expect, move || {
            let pair = Arc::new((Mutex::named("m", 0u32), Condvar::named("cv")));
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let p = Arc::clone(&pair);
                    thread::spawn(move || {
                        let mut g = p.0.lock().unwrap();
                        *g += 1;
                        drop(p.1.wait(g));
                    })
                })
                .collect();
            // Notify once both wait (the counter says they have).
            loop {
                let g = pair.0.lock().unwrap();
                if *g == 2 {
                    break;
                }
                drop(g);
                thread::yield_now();
            }
            if all {
                pair.1.notify_all();
            } else {
                pair.1.notify_one();
            }
            for w in waiters {
                w.join().unwrap();
            }
        });
        assert_eq!(r.outcome, expect, "notify_all = {all}: {r:#?}");
        if !all {
            assert_eq!(r.invariant.as_deref(), Some("deadlock"), "{r:#?}");
        }
    }
}

#[test]
fn a_waiting_writer_holds_new_readers_back() {
    use interleave::sync::{Arc, RwLock};
    use interleave::thread;
    // A thread takes a read lock, a writer comes and waits, and the first thread takes a second
    // read lock: with the writer waiting, the second read waits too, and nobody can move (as on
    // Linux and in Go). Some schedule shows it.
    let r = every_schedule("recursive-read", Expect::Counterexample, || {
        let l = Arc::new(RwLock::named("rw", ()));
        let l2 = Arc::clone(&l);
        let reader = thread::spawn(move || {
            let _a = l2.read().unwrap();
            let _b = l2.read().unwrap();
        });
        drop(l.write().unwrap());
        reader.join().unwrap();
    });
    assert_eq!(r.invariant.as_deref(), Some("deadlock"), "{r:#?}");
    let trace = r.trace.as_deref().unwrap();
    assert!(trace.contains("write(rw) = waits (held by readers thread 1)"), "{trace}");
    assert!(trace.contains("read(rw): writer main waits for it"), "{trace}");
}
