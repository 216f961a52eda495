//! loom explorations, each in a child process.
//!
//! loom aborts the whole process when it meets a deadlock it did not expect or a panic during
//! drop, so the parent never runs loom itself: it re-executes its own binary as a child. A
//! command line built with `interleave::cli::main` is started with the hidden `__loom-child`
//! subcommand; a test binary is started on the one test that called
//! `interleave::assert_expectations`, with `INTERLEAVE_LOOM_CHILD` set. Either way the child calls
//! [`child_run`], which first checks that its scenario is the parent's (a fingerprint of the
//! scenario, its variants and the trace of the variant's first schedule): a child of another build
//! is an error, never a verdict. The child prints one line `INTERLEAVE-RESULT <json>` when the
//! exploration ends; before any panic can turn into an abort, its panic hook prints
//! `INTERLEAVE-FAILURE <json>` with the failing execution, so the parent learns what failed even
//! when the child does not survive it; `INTERLEAVE-ERROR <message>` is a refusal.
//!
//! loom's `Builder::new()` reads `LOOM_*` environment variables; every field that matters is set
//! explicitly afterwards, so the environment cannot change a verdict.

use crate::backend::{self, Backend};
use crate::error::{Error, ErrorKind};
use crate::explore::{panic_message, FreeResult};
use crate::scenario::{Scenario, Variant};
use crate::world::{ExecOutcome, Mode, Stop, World};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The loom runs of the `exhaustive` strategy: unbounded, then preemption bounds 1, 2 and 3.
pub const BOUNDS: [Option<usize>; 4] = [None, Some(1), Some(2), Some(3)];

/// The most threads loom runs, the main one included (`loom::MAX_THREADS`, not configurable).
pub const MAX_THREADS: usize = 5;

/// The most loom executions one run may take before it is reported incomplete, by default (see
/// [`crate::CheckOptions::loom_cap`]).
pub const MAX_PERMUTATIONS: usize = crate::check::DEFAULT_LOOM_CAP;

struct Shared {
    world: Option<Arc<World>>,
    result: FreeResult,
}

static CURRENT: Mutex<Option<Arc<Mutex<Shared>>>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn outcome_with_witnesses(variant: &Variant, world: &World) -> ExecOutcome {
    let (mut out, _) = world.outcome();
    out.witnesses = variant.witnesses.iter().filter(|w| (w.reached)(&out.trace)).map(|w| w.name.to_string()).collect();
    out
}

/// Explores `variant` with loom in this process. Only the child process calls this.
pub fn loom_explore(variant: &'static Variant, bound: Option<usize>, cap: usize) -> FreeResult {
    let shared = Arc::new(Mutex::new(Shared { world: None, result: FreeResult::default() }));
    *lock(&CURRENT) = Some(Arc::clone(&shared));
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = bound;
    builder.max_permutations = Some(cap);
    builder.max_duration = None;
    builder.max_branches = 100_000;
    builder.checkpoint_file = None;
    builder.location = false;
    builder.log = false;
    let sh = Arc::clone(&shared);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        backend::with_backend(Backend::Loom, || {
            builder.check(move || {
                let world = Arc::new(World::new(Mode::Free, "main", crate::explore::MAX_STEPS, None));
                lock(&sh).world = Some(Arc::clone(&world));
                crate::explore::run_body(variant, &world);
                let out = outcome_with_witnesses(variant, &world);
                world.teardown();
                let mut s = lock(&sh);
                s.world = None;
                // The first decisive execution ends the search; a data race alone is kept and the
                // search goes on (see `ExecOutcome::decisive`).
                let decisive = s.result.absorb(out);
                if decisive {
                    drop(s);
                    // Every thread has finished: ending loom's search with a panic is safe here.
                    std::panic::panic_any(Stop);
                }
            })
        })
    }));
    let mut s = lock(&shared);
    if let Err(payload) = run {
        if !s.result.decisive() {
            let out = match s.world.take() {
                Some(world) => {
                    if payload.downcast_ref::<Stop>().is_none() {
                        world.panicked(panic_message(payload.as_ref()));
                    }
                    let out = outcome_with_witnesses(variant, &world);
                    world.teardown();
                    out
                }
                None => ExecOutcome::default(),
            };
            s.result.executions += 1;
            s.result.counterexample = Some(out);
        }
    }
    // loom stops *before* the execution that would reach `max_permutations`, so a capped run
    // ends at `cap - 1` executions; only a run that ended sooner covered everything.
    s.result.complete = !s.result.decisive() && s.result.executions + 1 < cap;
    std::mem::take(&mut s.result)
}

fn result_json(r: &FreeResult) -> String {
    serde_json::json!({
        "executions": r.executions,
        "distinct": r.distinct,
        "complete": r.complete,
        "witnesses": r.witnesses,
        "counterexample": r.counterexample,
        "stepless": r.stepless,
    })
    .to_string()
}

fn parse_result(line: &str) -> Option<FreeResult> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(FreeResult {
        executions: v.get("executions")?.as_u64()? as usize,
        distinct: v.get("distinct")?.as_u64()? as usize,
        signatures: Default::default(),
        complete: v.get("complete")?.as_bool()?,
        witnesses: serde_json::from_value(v.get("witnesses")?.clone()).ok()?,
        counterexample: serde_json::from_value(v.get("counterexample")?.clone()).ok()?,
        stepless: serde_json::from_value(v.get("stepless")?.clone()).ok()?,
        decisions: 0,
    })
}

use crate::LOOM_CHILD_ENV as CHILD_ENV;

/// The `__loom-child` subcommand's entry point: what to explore is in [`CHILD_ENV`]. Prints the
/// result line and returns the exit status.
pub fn child_main(catalog: &[&'static Scenario]) -> i32 {
    let spec = std::env::var(CHILD_ENV).unwrap_or_default();
    let mut parts = spec.splitn(4, '|');
    let (Some(target), Some(bound), Some(cap), Some(fingerprint)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        println!("INTERLEAVE-ERROR {CHILD_ENV} must be <scenario>/<variant>|<bound|unbounded>|<cap>|<fingerprint>");
        return 2;
    };
    let cap = match cap.parse::<usize>() {
        Ok(c) if c >= 2 => c,
        _ => {
            println!("INTERLEAVE-ERROR the loom child's cap is a number of executions of at least 2, not {cap}");
            return 2;
        }
    };
    child_run(catalog, target, bound, cap, fingerprint)
}

/// Runs the loom exploration a parent asked for: `target` among `scenarios`, with `bound`, after
/// checking that the child's scenario has the parent's `fingerprint`. Prints the result line and
/// returns the exit status.
pub fn child_run(scenarios: &[&'static Scenario], target: &str, bound: &str, cap: usize, fingerprint: &str) -> i32 {
    let refuse = |message: String| {
        println!("INTERLEAVE-ERROR {message}");
        2
    };
    let sel = match crate::check::select(scenarios, &[target.to_string()]) {
        Ok(s) if s.len() == 1 => s,
        Ok(_) => return refuse("the loom child must be given exactly one variant".into()),
        Err(e) => return refuse(format!("the loom child cannot find {target}: {e}")),
    };
    let bound = match bound {
        "unbounded" => None,
        b => match b.parse() {
            Ok(n) => Some(n),
            Err(_) => return refuse(format!("the loom child's bound is a number or 'unbounded', not {b}")),
        },
    };
    let (scenario, variant) = sel[0];
    let own = crate::check::fingerprint(scenario, variant);
    if own != fingerprint {
        return refuse(format!(
            "the loom child's {target} is not its parent's (fingerprint {own}, the parent's {fingerprint}): it \
             runs another build of the scenario, so its verdict would be about other code"
        ));
    }
    // Report the failing execution before loom can abort the process over it.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let shared = lock(&CURRENT).clone();
        let halted = info.payload().downcast_ref::<Stop>().is_some();
        if let Some(shared) = shared {
            if let Ok(s) = shared.try_lock() {
                if let Some(world) = &s.world {
                    let mut out = outcome_with_witnesses(variant, world);
                    if info.payload().downcast_ref::<Stop>().is_none() {
                        let msg = panic_message(info.payload());
                        out.violations.push(crate::world::Violation {
                            kind: crate::world::ViolationKind::Panic,
                            name: "panic".into(),
                            detail: msg,
                            at_step: out.trace.step_count(),
                        });
                    }
                    let mut r = s.result.clone();
                    r.executions += 1;
                    r.counterexample = Some(out);
                    r.complete = false;
                    println!("INTERLEAVE-FAILURE {}", result_json(&r));
                    return;
                }
            }
        }
        // The harness's own way of ending an execution or the search is not a crash to print.
        if !halted {
            previous(info);
        }
    }));
    let r = loom_explore(variant, bound, cap);
    println!("INTERLEAVE-RESULT {}", result_json(&r));
    0
}

/// What follows `marker` in `line`: a test binary's child prints its line after libtest's
/// `test name ... `, on the same line.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// How to start a loom child: the binary to re-execute, and how to make it reach the code that
/// recognises [`CHILD_ENV`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The executable: the parent's own binary.
    pub exe: std::path::PathBuf,
    /// What kind of binary it is.
    pub mode: crate::check::ChildMode,
}

/// Runs one loom exploration of `scenario/variant` in a child process started as `launch` says;
/// `fingerprint` is the parent's fingerprint of the scenario.
pub fn loom_child(
    launch: &Launch,
    scenario: &str,
    variant: &str,
    bound: Option<usize>,
    cap: usize,
    fingerprint: &str,
) -> Result<FreeResult, Error> {
    let bound_arg = bound.map_or("unbounded".to_string(), |b| b.to_string());
    let target = format!("{scenario}/{variant}");
    let exe = &launch.exe;
    let mut cmd = Command::new(exe);
    cmd.env(CHILD_ENV, format!("{target}|{bound_arg}|{cap}|{fingerprint}"));
    match &launch.mode {
        crate::check::ChildMode::Cli => {
            cmd.arg("__loom-child");
        }
        crate::check::ChildMode::Test(test) => {
            cmd.args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"]);
        }
        crate::check::ChildMode::Plain => {}
    }
    let output = cmd.output().map_err(|e| {
        Error::new(ErrorKind::Backend, format!("could not start the loom child process {}: {e}", exe.display()))
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if let Some(message) = stdout.lines().find_map(|l| after(l, "INTERLEAVE-ERROR ")) {
        return Err(Error::new(ErrorKind::Backend, message.to_string()));
    }
    // loom's own refusal of a sixth thread surfaces as a panic in the scenario's spawn: it is a
    // limit of the backend, never a finding.
    if stdout.contains("self.threads.len() < self.max()") {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{scenario}/{variant} spawned more threads than loom allows ({MAX_THREADS}, the main one included)"
            ),
        ));
    }
    let mut failure = None;
    for line in stdout.lines() {
        if let Some(json) = after(line, "INTERLEAVE-RESULT ") {
            if let Some(r) = parse_result(json) {
                return Ok(r);
            }
        }
        if let Some(json) = after(line, "INTERLEAVE-FAILURE ") {
            if failure.is_none() {
                failure = parse_result(json);
            }
        }
    }
    failure.ok_or_else(|| {
        Error::new(
            ErrorKind::Backend,
            format!(
                "the loom child process for {scenario}/{variant} ({bound_arg}) ended with {} and no result; its output ends: {} | {}",
                output.status,
                stdout.lines().rev().take(3).collect::<Vec<_>>().join(" | "),
                String::from_utf8_lossy(&output.stderr).lines().rev().take(3).collect::<Vec<_>>().join(" | ")
            ),
        )
    })
}
