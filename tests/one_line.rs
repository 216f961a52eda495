//! A finding's test is one line, `interleave::assert_expectations(&SCENARIO)`: it passes when
//! every variant meets its expectation (on shuttle, and with `--features loom` on loom too, whose
//! child process is this very test binary), and otherwise panics with each unmet variant's
//! minimized trace, replay string and reproduce command. `INTERLEAVE_REPLAY` replays one execution
//! inside the test. Variants here are closures, built at run time from a table.

use interleave::sync::{Arc, Mutex};
use interleave::{thread, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};
use std::process::Command;

static BOTH_COUNTED: Invariant = Invariant { name: "both increments counted" };

fn saw_other(t: &Trace) -> bool {
    t.steps().filter(|s| s.call.starts_with("lock(count)")).count() >= 2
        && t.rows.iter().any(|r| matches!(r, interleave::Row::Note { text, .. } if text == "read 1"))
}

static WITNESS: &[Witness] = &[Witness { name: "the second increment read the first", reached: saw_other }];

/// Two threads increment a counter, with the read and the write under one lock or two.
fn counter(locked: bool) {
    let c = Arc::new(Mutex::named("count", 0u32));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                if locked {
                    let mut g = c.lock().unwrap();
                    interleave::Ctx::current().note(format!("read {}", *g));
                    *g += 1;
                } else {
                    let v = *c.lock().unwrap();
                    *c.lock().unwrap() = v + 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let n = c.inspect(|v| *v);
    interleave::Ctx::current().check(&BOTH_COUNTED, n == 2, || format!("count is {n}, not 2"));
}

/// A table of programs, each `(variant, expectation, locked)`, made into a scenario.
fn table(name: &str, rows: &[(&str, Expect, bool)]) -> &'static Scenario {
    let variants = rows
        .iter()
        .map(|&(v, expect, locked)| Variant::new(v, expect, move |_| counter(locked)).witnesses(WITNESS))
        .collect();
    Scenario::new(name, "a counter", Source { seed: "-", section: "-" }, variants)
}

fn good() -> &'static Scenario {
    table("counter", &[("lost-update", Expect::Counterexample, false), ("locked", Expect::Holds, true)])
}

fn bad() -> &'static Scenario {
    table("counter-bad", &[("locked", Expect::Holds, true), ("lost-update", Expect::Holds, false)])
}

#[test]
fn a_scenario_whose_expectations_hold_passes_in_one_line() {
    interleave::assert_expectations(good());
}

#[test]
fn an_unmet_expectation_fails_with_its_trace_replay_string_and_command() {
    let s = bad();
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| interleave::assert_expectations(s)))
        .expect_err("lost-update breaks");
    let msg = failure.downcast_ref::<String>().cloned().unwrap_or_default();
    let backends = if cfg!(feature = "loom") { 2 } else { 1 };
    assert!(msg.contains(&format!("{backends} of {} checks of counter-bad", 2 * backends)), "{msg}");
    assert!(msg.contains("counter-bad/lost-update on shuttle"), "{msg}");
    assert!(msg.contains("expected holds, found counterexample"), "{msg}");
    assert!(msg.contains("violated \"both increments counted\""), "{msg}");
    let replay = msg.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("a replay line").to_string();
    assert!(msg.contains(&format!(
        "reproduce: INTERLEAVE_REPLAY='{replay}' cargo test an_unmet_expectation_fails_with_its_trace_replay_string_and_command -- --exact --nocapture"
    )));
    assert!(!msg.contains("counter-bad/locked"), "the variant that holds is not listed: {msg}");
}

#[test]
fn interleave_replay_replays_one_execution_inside_the_test() {
    // Find the counterexample's replay string, then run the one-line test again with it set.
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| interleave::assert_expectations(bad())))
        .expect_err("breaks");
    let msg = failure.downcast_ref::<String>().cloned().unwrap_or_default();
    let replay = msg.lines().find_map(|l| l.trim().strip_prefix("replay: ")).unwrap().to_string();
    let trace = interleave::replay(&[bad()], &replay).unwrap().rendered;
    let run = |test: &str| {
        Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("INTERLEAVE_REPLAY", &replay)
            .output()
            .unwrap()
    };
    // The scenario it names is replayed: a holds variant broken fails the test, and prints it.
    let o = run("an_unmet_expectation_fails_with_its_trace_replay_string_and_command");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("interleave: replaying {replay}\n{trace}")), "{stdout}");
    // (That test asserts that `assert_expectations` panics, and a replay that breaks a holds variant
    // does panic, so it passes; what matters is that it replayed, printed, and checked nothing else.)
    assert!(!stdout.contains("checks of counter-bad"), "{stdout}");
    // Another scenario's test skips, saying why.
    let o = run("a_scenario_whose_expectations_hold_passes_in_one_line");
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("replays counter-bad, not counter: skipped"));
}
