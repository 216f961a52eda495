//! Processes started with `interleave::process::Builder` (a thread of the scenario that is a
//! process of its own) as the seed 001 scenarios use them: a process that calls `exit`, a process
//! that is killed, and a parent that reads the model once it has waited for its children. Each
//! is a small scenario checked under every shuttle strategy; none may end in a panic or a
//! scenario error.

use interleave::fs::{self, Fs};
use interleave::process::{self, Signal};
use interleave::{check_variant, CheckOptions, Ctx, Expect, Invariant, Scenario, Source, Strategy, Variant, Witness};

static STATUS: Invariant = Invariant { name: "the waiter sees the status the process ended with" };
static WRITTEN: Invariant = Invariant { name: "the parent reads what its child wrote" };

const ANY_STEP: &[Witness] = &[Witness { name: "a step was made", reached: |t| t.step_count() > 0 }];

fn setup() {
    Fs::current().setup_dir("/d");
}

/// A child writes a file and exits with status 3; the parent waits and checks the status.
fn exit_with_status(ctx: &Ctx) {
    setup();
    let mut child = process::Builder::new("child")
        .spawn(|| {
            let _ = fs::write("/d/out", "x");
            process::exit(3);
        })
        .unwrap();
    let status = child.wait().unwrap();
    ctx.check(&STATUS, status.code() == Some(3), || format!("status {status:?}"));
}

/// A child writes three times; the parent kills it at any point and waits.
fn killed(ctx: &Ctx) {
    setup();
    let mut child = process::Builder::new("child")
        .spawn(|| {
            for _ in 0..3 {
                let _ = fs::write("/d/out", "x");
            }
        })
        .unwrap();
    let _ = child.kill();
    let status = child.wait().unwrap();
    ctx.check(&STATUS, status.success() || status.signal() == Some(Signal::SIGKILL), || format!("status {status:?}"));
}

/// Two children write their files; the parent waits for both, then reads the model.
fn read_after_wait(ctx: &Ctx) {
    setup();
    let mut children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|n| process::Builder::new(n).spawn(move || fs::write(format!("/d/{n}"), n).unwrap()).unwrap())
        .collect();
    for c in &mut children {
        c.wait().unwrap();
    }
    let (a, b) = Fs::current().inspect(|st| (st.contents("/d/a"), st.contents("/d/b")));
    ctx.check(&WRITTEN, a.as_deref() == Some(b"a") && b.as_deref() == Some(b"b"), || format!("{a:?} {b:?}"));
}

fn check(name: &str, body: fn(&Ctx)) {
    let variant = Variant::new("holds", Expect::Holds, body).witnesses(ANY_STEP);
    let scenario = Scenario::new(name, "", Source { seed: "", section: "" }, vec![variant]);
    for strategy in [Strategy::DEFAULT, Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Urw, Strategy::Dfs] {
        let opts = CheckOptions { strategy, iterations: 2_000, seed: 1, ..CheckOptions::default() };
        let r = check_variant(scenario, &scenario.variants[0], &opts).unwrap();
        assert!(
            r.ok && r.outcome == Expect::Holds,
            "{name} under {strategy}: {:?}\n{}",
            r.problem,
            r.trace.unwrap_or_default()
        );
    }
}

#[test]
fn a_process_that_calls_exit_ends_with_that_status_and_no_panic() {
    check("exit-with-status", exit_with_status);
}

#[test]
fn a_killed_process_thread_ends_at_its_next_step_without_a_panic() {
    check("killed", killed);
}

#[test]
fn the_parent_may_read_the_model_once_it_has_waited_for_every_child() {
    check("read-after-wait", read_after_wait);
}
