//! The data-race detector on programs whose races are known: unsynchronized accesses to a
//! `Shared` variable are reported in the first execution in which they occur (even when nothing
//! else breaks, and even in the schedule that runs one thread after the other), and accesses
//! ordered by a mutex, a join, a channel, an atomic flag or a rwlock are not.

use interleave::check::Outcome;
use interleave::sync::atomic::{AtomicBool, Ordering};
use interleave::sync::{mpsc, Arc, Mutex, RwLock, Shared};
use interleave::{thread, Expect, Racy, Scenario, Source, Strategy, Variant, VariantReport, Witness};

fn check(name: &str, expect: Expect, racy: &'static [Racy], body: impl Fn() + Send + Sync + 'static) -> VariantReport {
    let mut v = Variant::new(name, expect, move |_| body());
    v.racy = racy;
    v.witnesses = &[Witness {
        name: "both threads made steps",
        reached: |t| t.steps().any(|s| s.thread == 0) && t.steps().any(|s| s.thread == 1),
    }];
    let s = Scenario::new(name, "", Source { seed: "-", section: "-" }, vec![v]);
    let opts = interleave::CheckOptions { strategy: Strategy::Dfs, ..interleave::CheckOptions::default() };
    interleave::check_variant(s, &s.variants[0], &opts).unwrap()
}

/// The first execution of a program, one thread after the other: what the detector sees there.
fn first_execution(body: impl Fn() + Send + Sync + 'static) -> Vec<String> {
    let v = Variant::new("first", Expect::Holds, move |_| body());
    let s = Scenario::new("first", "", Source { seed: "-", section: "-" }, vec![v]);
    interleave::check::replay_lenient(&s.variants[0], Vec::new()).violations.into_iter().map(|v| v.name).collect()
}

fn two_writers(lock_both: bool) {
    let x = Shared::named("x", 0u32);
    let m = Arc::new(Mutex::named("m", ()));
    let (x2, m2) = (x.clone(), Arc::clone(&m));
    let t = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        x2.set(1);
    });
    let _g = lock_both.then(|| m.lock().unwrap());
    x.set(2);
    drop(_g);
    t.join().unwrap();
}

#[test]
fn an_unsynchronized_write_is_a_race_in_the_first_execution() {
    // The body writes x after the thread did, in the very first schedule: no lock orders them.
    assert_eq!(first_execution(|| two_writers(false)), ["data race on x"]);
    let r = check("unlocked", Expect::Counterexample, &[], || two_writers(false));
    assert_eq!(r.invariant.as_deref(), Some("data race on x"), "{r:#?}");
    let trace = r.trace.as_deref().unwrap();
    assert!(trace.contains("are not ordered by happens-before"), "{trace}");
    // Under the same mutex: no race in any schedule.
    assert!(first_execution(|| two_writers(true)).is_empty());
    let r = check("locked", Expect::Holds, &[], || two_writers(true));
    assert!(r.ok && r.exhaustive, "{r:#?}");
}

#[test]
fn a_race_that_never_changes_an_outcome_is_still_reported_unless_declared() {
    // Both threads write the same value to a flag nobody reads: no outcome can differ, and it is
    // still a data race (the Go race detector reports it too).
    let same_value = || {
        let done = Shared::named("done", false);
        let d = done.clone();
        let t = thread::spawn(move || d.set(true));
        done.set(true);
        t.join().unwrap();
    };
    let r = check("same-value", Expect::Counterexample, &[], same_value);
    assert_eq!(r.invariant.as_deref(), Some("data race on done"), "{r:#?}");
    assert!(r.ok);
    // Declared intentionally racy, it is not reported, and the variant holds.
    static DECLARED: &[Racy] = &[Racy { var: "done", why: "a flag both set to the same value, read by nobody" }];
    let r = check("declared", Expect::Holds, DECLARED, same_value);
    assert!(r.ok && r.exhaustive && r.outcome == Outcome::Holds, "{r:#?}");
}

#[test]
fn joins_channels_atomics_and_rwlocks_order_accesses() {
    // A join orders the thread's write before the body's read.
    let joined = || {
        let x = Shared::named("x", 0u32);
        let x2 = x.clone();
        thread::spawn(move || x2.set(1)).join().unwrap();
        assert_eq!(x.get(), 1);
    };
    let r = check("join", Expect::Holds, &[], joined);
    assert!(r.ok && r.exhaustive, "{r:#?}");
    // A message orders the sender's write before the receiver's read.
    let message = || {
        let x = Shared::named("x", 0u32);
        let (tx, rx) = mpsc::channel::<()>();
        let x2 = x.clone();
        let t = thread::spawn(move || {
            x2.set(1);
            tx.send(()).unwrap();
        });
        rx.recv().unwrap();
        assert_eq!(x.get(), 1);
        t.join().unwrap();
    };
    let r = check("channel", Expect::Holds, &[], message);
    assert!(r.ok && r.exhaustive, "{r:#?}");
    // A flag set after the write and seen before the read orders them; read before seeing the
    // flag, it races.
    let flag = |wait: bool| {
        let x = Shared::named("x", 0u32);
        let ready = Arc::new(AtomicBool::named("ready", false));
        let (x2, r2) = (x.clone(), Arc::clone(&ready));
        let t = thread::spawn(move || {
            x2.set(1);
            r2.store(true, Ordering::Release);
        });
        if wait {
            while !ready.load(Ordering::Acquire) {
                thread::yield_now();
            }
        }
        let _ = x.get();
        t.join().unwrap();
    };
    let r = check("flag", Expect::Holds, &[], move || flag(true));
    assert!(r.ok && r.exhaustive, "{r:#?}");
    let r = check("no-flag", Expect::Counterexample, &[], move || flag(false));
    assert_eq!(r.invariant.as_deref(), Some("data race on x"), "{r:#?}");
    // Readers under a read lock, the writer under the write lock: ordered.
    let rw = || {
        let x = Shared::named("x", 0u32);
        let l = Arc::new(RwLock::named("rw", ()));
        let (x2, l2) = (x.clone(), Arc::clone(&l));
        let t = thread::spawn(move || {
            let _r = l2.read().unwrap();
            let _ = x2.get();
        });
        {
            let _w = l.write().unwrap();
            x.set(1);
        }
        t.join().unwrap();
    };
    let r = check("rwlock", Expect::Holds, &[], rw);
    assert!(r.ok && r.exhaustive, "{r:#?}");
}

#[test]
fn a_lock_released_before_the_write_does_not_order_it() {
    // Read under the lock, write after releasing it (seed 004's session history): a race.
    let body = || {
        let x = Shared::named("history", vec![1u32]);
        let m = Arc::new(Mutex::named("processMutex", ()));
        let handler = |x: Shared<Vec<u32>>, m: Arc<Mutex<()>>, id: u32| {
            let mut h = {
                let _g = m.lock().unwrap();
                x.get()
            };
            h.push(id);
            x.set(h);
        };
        let (x2, m2) = (x.clone(), Arc::clone(&m));
        let t = thread::spawn(move || handler(x2, m2, 2));
        handler(x, m, 3);
        t.join().unwrap();
    };
    assert_eq!(first_execution(body), ["data race on history"]);
}
