//! A finding's test is one line: [`assert_expectations`] checks every variant of a scenario and
//! panics with what did not hold; [`assert_snapshots!`](crate::assert_snapshots) keeps every
//! minimized counterexample as an insta snapshot in the calling crate; `INTERLEAVE_REPLAY` replays
//! one execution inside the test.
//!
//! Under `--features loom` (the user's crate forwarding to `interleave/loom`), every variant is
//! also checked by loom's exhaustive exploration. loom aborts the process on some failures, so it
//! runs in a child process: this same test binary, started on this one test with
//! `INTERLEAVE_LOOM_CHILD` set, which [`assert_expectations`] recognises. The child checks that it
//! runs the same scenario as its parent (a fingerprint) before anything it says is believed.

use harness::check::{check_variant, CheckOptions, ChildMode, Outcome, VariantReport};
use harness::replay::ReplayString;
use harness::{Expect, Scenario, Strategy};
use std::io::Write as _;
use std::sync::Mutex;

/// The environment variable that makes a test replay one execution: a replay string, as printed
/// in a failure or kept in a fixture.
pub const REPLAY_ENV: &str = "INTERLEAVE_REPLAY";

/// Reports made in this process, by scenario, variant and backend, so that
/// [`assert_snapshots!`](crate::assert_snapshots) after [`assert_expectations`] checks nothing twice.
static REPORTS: Mutex<Vec<(String, String, &'static str, VariantReport)>> = Mutex::new(Vec::new());

fn reports() -> std::sync::MutexGuard<'static, Vec<(String, String, &'static str, VariantReport)>> {
    REPORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The test this code runs in, as libtest names its thread (`None` outside libtest's threads).
fn test_name() -> Option<String> {
    std::thread::current().name().filter(|n| *n != "main").map(str::to_string)
}

/// Writes straight to standard output: libtest captures `print!`, and a replay asked for with
/// `INTERLEAVE_REPLAY` must be seen.
fn show(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The backends a check runs: shuttle (the default strategy) always, loom (exhaustive) when
/// this build has it.
fn backends() -> Vec<(&'static str, Strategy)> {
    let mut v = vec![("shuttle", Strategy::DEFAULT)];
    if cfg!(feature = "loom") {
        v.push(("loom", Strategy::Exhaustive));
    }
    v
}

/// Checks `variant` of `scenario` on `backend`, or returns the report this process made already.
fn report(
    scenario: &'static Scenario,
    variant: &'static harness::Variant,
    backend: (&'static str, Strategy),
) -> VariantReport {
    if let Some(r) = reports()
        .iter()
        .find(|(s, v, b, _)| s == scenario.name && v == variant.name && *b == backend.0)
        .map(|x| x.3.clone())
    {
        return r;
    }
    let opts = CheckOptions {
        strategy: backend.1,
        child_exe: std::env::current_exe().ok(),
        child_mode: match test_name() {
            Some(t) => ChildMode::Test(t),
            None => ChildMode::Plain,
        },
        ..CheckOptions::default()
    };
    let r = match check_variant(scenario, variant, &opts) {
        Ok(r) => r,
        Err(e) => panic!("interleave: cannot check {}/{} on {}: {e}", scenario.name, variant.name, backend.0),
    };
    reports().push((scenario.name.to_string(), variant.name.to_string(), backend.0, r.clone()));
    r
}

/// Acts as a loom child when this process is one (and exits), or replays `INTERLEAVE_REPLAY` when
/// it names `scenario`. Returns whether the test's normal work should be skipped.
fn special(scenario: &'static Scenario) -> bool {
    if let Ok(spec) = std::env::var(harness::LOOM_CHILD_ENV) {
        // `<scenario>/<variant>|…`: the child of another test of the same binary leaves it.
        if spec.split('/').next() != Some(scenario.name) {
            return true;
        }
        std::process::exit(loom_child(scenario));
    }
    if let Ok(replay) = std::env::var(REPLAY_ENV) {
        match ReplayString::parse(&replay) {
            Ok(r) if r.scenario != scenario.name => {
                show(&format!("interleave: {REPLAY_ENV} replays {}, not {}: skipped\n", r.scenario, scenario.name));
            }
            Ok(_) => replay_here(scenario, &replay),
            Err(e) => panic!("interleave: {REPLAY_ENV} is not a replay string: {e}"),
        }
        return true;
    }
    false
}

#[cfg(feature = "loom")]
fn loom_child(scenario: &'static Scenario) -> i32 {
    harness::loom_run::child_main(&[scenario])
}

#[cfg(not(feature = "loom"))]
fn loom_child(_: &'static Scenario) -> i32 {
    println!("INTERLEAVE-ERROR this test binary was built without interleave's loom feature");
    2
}

/// Replays `replay` (which names `scenario`) and prints its trace; panics when it shows a
/// `holds` variant broken, so that a nightly's failure fails here too.
fn replay_here(scenario: &'static Scenario, replay: &str) {
    let r = match harness::replay(&[scenario], replay) {
        Ok(r) => r,
        Err(e) => panic!("interleave: cannot replay {replay}: {e}"),
    };
    show(&format!("interleave: replaying {replay}\n{}", r.rendered));
    let variant = ReplayString::parse(replay).ok().and_then(|s| {
        let base = s.variant.split('[').next().map(str::to_string)?;
        scenario.variant(&base).map(|v| v.expect)
    });
    if variant == Some(Expect::Holds) {
        if let Some(v) = r.outcome.violation() {
            panic!(
                "interleave: the replayed execution violates \"{}\" of a variant declared to hold:\n{}",
                v.name, r.rendered
            );
        }
    }
}

/// Checks every variant of `scenario` with the default strategy (and, built with interleave's
/// `loom` feature, with loom's exhaustive exploration too), and panics when any variant does not
/// meet its expectation, with every unmet variant's minimized trace, its replay string and the
/// one command that reproduces it. A test is this one line:
///
/// ```no_run
/// # static SCENARIO: interleave::Scenario = interleave::Scenario {
/// #     name: "x", summary: "", source: interleave::Source { seed: "", section: "" }, variants: &[] };
/// #[test]
/// fn session_history() {
///     interleave::assert_expectations(&SCENARIO);
/// }
/// ```
///
/// With `INTERLEAVE_REPLAY=<replay string>` set, it checks nothing and replays that one execution
/// instead (when the string names this scenario), printing its trace.
///
/// # Panics
/// When a variant does not meet its expectation, or cannot be checked.
pub fn assert_expectations(scenario: &'static Scenario) {
    if special(scenario) {
        return;
    }
    let mut unmet = Vec::new();
    let mut checked = 0;
    for variant in scenario.variants {
        for backend in backends() {
            checked += 1;
            let r = report(scenario, variant, backend);
            if !r.ok {
                unmet.push((backend.0, r));
            }
        }
    }
    if unmet.is_empty() {
        return;
    }
    let test = test_name().unwrap_or_default();
    let mut msg = format!(
        "interleave: {} of {checked} checks of {} did not meet their expectation\n",
        unmet.len(),
        scenario.name
    );
    for (backend, r) in &unmet {
        let found = match (r.outcome, r.exhaustive) {
            (Outcome::Holds, true) => "holds (proof)".to_string(),
            (Outcome::Holds, false) => "holds (sample)".to_string(),
            (o, _) => o.to_string(),
        };
        msg.push_str(&format!(
            "\n{}/{} on {backend} ({} executions): expected {}, found {found}\n",
            r.scenario, r.variant, r.executions, r.expect
        ));
        if let Some(p) = &r.problem {
            msg.push_str(&format!("  problem: {p}\n"));
        }
        if let (Some(trace), Some(replay)) = (&r.trace, &r.replay) {
            for line in trace.lines() {
                msg.push_str(&format!("    {line}\n"));
            }
            msg.push_str(&format!("  replay: {replay}\n"));
            msg.push_str(&format!("  reproduce: {REPLAY_ENV}='{replay}' cargo test {test} -- --exact --nocapture\n"));
        }
    }
    panic!("{msg}");
}

/// One snapshot [`assert_snapshots!`](crate::assert_snapshots) keeps: a minimized
/// counterexample.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// `<scenario>__<variant>@<backend>`.
    pub name: String,
    /// The snapshot's description: the command that replays it.
    pub description: String,
    /// The minimized trace.
    pub trace: String,
}

/// The snapshots of `scenario`: every `counterexample` variant's minimized trace on every backend
/// of this build, each checked to replay to the same bytes. Used by
/// [`assert_snapshots!`](crate::assert_snapshots); empty when this process is a loom child or
/// replays `INTERLEAVE_REPLAY`.
///
/// # Panics
/// When a `counterexample` variant has none, or its replay string does not reproduce its trace.
pub fn snapshots(scenario: &'static Scenario) -> Vec<Snapshot> {
    if special(scenario) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for variant in scenario.variants.iter().filter(|v| v.expect == Expect::Counterexample) {
        for backend in backends() {
            let r = report(scenario, variant, backend);
            let (Some(trace), Some(replay)) = (r.trace.clone(), r.replay.clone()) else {
                panic!(
                    "interleave: {}/{} on {}: no counterexample to keep ({})",
                    scenario.name,
                    variant.name,
                    backend.0,
                    r.problem.unwrap_or_default()
                );
            };
            for _ in 0..3 {
                let again = harness::replay(&[scenario], &replay).unwrap_or_else(|e| panic!("{replay}: {e}"));
                assert_eq!(again.rendered, trace, "interleave: {replay} does not replay to its trace");
            }
            out.push(Snapshot {
                name: format!("{}__{}@{}", scenario.name, variant.name, backend.0),
                description: format!("interleave replay {replay}"),
                trace,
            });
        }
    }
    out
}

/// Snapshots every minimized counterexample of a scenario with insta, in the calling crate's
/// `snapshots/` beside the test file (`tests/snapshots/<scenario>__<variant>@<backend>.snap`),
/// with the command that replays it as the description. Review changes with `cargo insta
/// review`; with `CI=true` a changed snapshot fails instead of being written.
///
/// ```no_run
/// # static SCENARIO: interleave::Scenario = interleave::Scenario {
/// #     name: "x", summary: "", source: interleave::Source { seed: "", section: "" }, variants: &[] };
/// #[test]
/// fn session_history_snapshots() {
///     interleave::assert_snapshots!(&SCENARIO);
/// }
/// ```
#[macro_export]
macro_rules! assert_snapshots {
    ($scenario:expr) => {
        for __snapshot in $crate::snapshots($scenario) {
            $crate::__private::insta::with_settings!({
                prepend_module_to_snapshot => false,
                description => __snapshot.description.clone(),
                omit_expression => true,
            }, {
                $crate::__private::insta::assert_snapshot!(__snapshot.name.clone(), __snapshot.trace.clone());
            });
        }
    };
}
