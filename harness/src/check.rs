//! Checking a variant: explore with a strategy, decide the outcome against the expectation,
//! minimize any counterexample and render it with its replay string.

use crate::bounded;
use crate::error::{Error, ErrorKind};
use crate::explore::{replay_order, shuttle_free, FreeResult};
use crate::replay::ReplayString;
use crate::scenario::{Expect, Scenario, Variant};
use crate::strategy::Strategy;
use crate::world::{ExecOutcome, ViolationKind};
use serde::Serialize;
use shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler, UrwRandomScheduler};
use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

/// The most executions a loom run of `exhaustive` takes by default before it stops incomplete.
pub const DEFAULT_LOOM_CAP: usize = 250_000;

/// Options of a check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The strategy.
    pub strategy: Strategy,
    /// The exploration's budget: executions per run of a sampler (random, pct, urw), the cap of
    /// a systematic search (`dfs`, `shuttle-dfs`, `bounded`) and the total of the `portfolio`.
    /// Minimization has a budget of its own, `minimize_budget`.
    pub iterations: usize,
    /// The run's seed; execution seeds derive from it.
    pub seed: u64,
    /// The executable that runs loom explorations in child processes: the parent's own binary (a
    /// command line built with `cli::main`, or a test binary).
    pub child_exe: Option<PathBuf>,
    /// What kind of binary `child_exe` is, so that the child reaches the code that recognises
    /// `INTERLEAVE_LOOM_CHILD`.
    pub child_mode: ChildMode,
    /// Executions the minimizer may spend.
    pub minimize_budget: usize,
    /// Whether to minimize and render a counterexample (the benchmark measures finding alone).
    pub minimize: bool,
    /// The most executions each loom run of the `exhaustive` strategy may take before it stops
    /// and reports itself incomplete (by default [`DEFAULT_LOOM_CAP`]). A capped
    /// loom run proves nothing and never counts against another run's verdict.
    pub loom_cap: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            strategy: Strategy::DEFAULT,
            iterations: 20_000,
            seed: 0,
            child_exe: None,
            child_mode: ChildMode::Cli,
            minimize_budget: 50_000,
            minimize: true,
            loom_cap: DEFAULT_LOOM_CAP,
        }
    }
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Some execution violated an invariant (or deadlocked, or panicked).
    #[serde(rename = "counterexample")]
    Counterexample,
    /// No explored execution violated anything.
    #[serde(rename = "holds")]
    Holds,
    /// The scenario broke the step contract: there is no verdict about the code under audit.
    #[serde(rename = "scenario error")]
    ScenarioError,
}

impl PartialEq<Expect> for Outcome {
    fn eq(&self, other: &Expect) -> bool {
        matches!((self, other), (Outcome::Counterexample, Expect::Counterexample) | (Outcome::Holds, Expect::Holds))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Counterexample => "counterexample",
            Outcome::Holds => "holds",
            Outcome::ScenarioError => "scenario error",
        })
    }
}

/// What kind of binary runs the loom children (always the parent's own binary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ChildMode {
    /// A command line built with `interleave::cli::main`: started as `__loom-child`.
    #[default]
    Cli,
    /// A libtest binary: started on this test (its full path, as libtest names its thread), which
    /// calls `interleave::assert_expectations`.
    Test(String),
    /// Any other binary that calls `interleave::assert_expectations` (a doc-test, a `main`):
    /// started with no arguments.
    Plain,
}

/// One exploration that contributed to a verdict.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// What ran: `random`, `pct(depth 3)`, `loom unbounded`, `loom preemption bound 2`, …
    pub run: String,
    /// The search family (`loom`, `shuttle`, `bounded`): preemption bounds compare only within one.
    pub family: &'static str,
    /// The preemption bound of a systematic run; `None` for an unbounded one.
    pub bound: Option<usize>,
    /// Executions it ran.
    pub executions: usize,
    /// Whether it explored its whole space.
    pub complete: bool,
    /// The invariant it found violated, if any.
    pub violated: Option<String>,
    /// Distinct interleavings among its executions (classes up to reordering of steps on
    /// different model objects).
    pub distinct: usize,
}

/// A witness and whether any execution reached it.
#[derive(Clone, Debug, Serialize)]
pub struct WitnessReport {
    /// The witness's name.
    pub name: String,
    /// Whether some execution reached it.
    pub reached: bool,
}

/// The result of checking one variant.
#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    /// The scenario's name.
    pub scenario: String,
    /// The variant's name.
    pub variant: String,
    /// What the variant declares.
    pub expect: Expect,
    /// What the check found.
    pub outcome: Outcome,
    /// The strategy.
    pub strategy: String,
    /// Executions explored until the verdict (not counting minimization).
    pub executions: usize,
    /// Distinct interleavings among them (the largest count of any one run).
    pub distinct_interleavings: usize,
    /// Wall-clock time of the check.
    pub elapsed_ms: u64,
    /// The violated invariant, when there is a counterexample.
    pub invariant: Option<String>,
    /// The minimized counterexample's replay string.
    pub replay: Option<String>,
    /// The minimized counterexample, rendered.
    pub trace: Option<String>,
    /// Whether the outcome met the expectation (and, for `holds`, every witness was reached and
    /// every run agreed).
    pub ok: bool,
    /// Why `ok` is false, in a sentence.
    pub problem: Option<String>,
    /// Preemptions of the minimized counterexample.
    pub preemptions: Option<usize>,
    /// Steps of the minimized counterexample.
    pub steps: Option<usize>,
    /// Executions the minimizer spent.
    pub minimize_executions: usize,
    /// Whether the counterexample shown is known minimal (fewest preemptions, then fewest steps);
    /// `false` when the minimizer's budget ran out first. `None` without a counterexample.
    pub minimal: Option<bool>,
    /// What the minimizer proved about preemptions: no counterexample (of the kind minimized, see
    /// [`finish_counterexample`]) has fewer than this many. Equal to `preemptions` when the
    /// preemptions shown are the fewest (always when `minimal`); 0 when it proved nothing. `None`
    /// without a counterexample.
    pub minimal_lower_bound: Option<usize>,
    /// Spawned threads that made no step in any execution: the state they share is probably
    /// outside the models (plain `std` types), so the harness could not interleave it.
    pub stepless_threads: Vec<String>,
    /// Remarks on how the verdict was reached (a backend skipped, and why).
    pub notes: Vec<String>,
    /// Whether the exploration was exhaustive (so a `holds` is a proof at step granularity).
    pub exhaustive: bool,
    /// The witnesses of the variant.
    pub witnesses: Vec<WitnessReport>,
    /// The explorations behind the verdict.
    pub runs: Vec<RunReport>,
    /// Runs that disagreed, when they did.
    pub disagreement: Option<String>,
}

/// A counterexample ready to show: minimized, rendered, replayable.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The minimized execution.
    pub outcome: ExecOutcome,
    /// Its preemptions.
    pub preemptions: usize,
    /// Its replay string.
    pub replay: String,
    /// Its rendering: headline, table, end state.
    pub rendered: String,
    /// Whether it is known minimal (see [`VariantReport::minimal`]).
    pub minimal: bool,
    /// No counterexample has fewer preemptions (see [`VariantReport::minimal_lower_bound`]).
    pub lower_bound: usize,
}

/// Renders an execution with its headline.
pub fn render(scenario: &str, variant: &str, out: &ExecOutcome, preemptions: Option<usize>) -> String {
    render_marked(scenario, variant, out, preemptions, None)
}

/// Renders an execution with its headline, which says when the execution is not known minimal:
/// `unfinished` is `Some(b)` when the minimizer's budget ran out, having proved that no
/// counterexample has fewer than `b` preemptions.
fn render_marked(
    scenario: &str,
    variant: &str,
    out: &ExecOutcome,
    preemptions: Option<usize>,
    unfinished: Option<usize>,
) -> String {
    let steps = out.trace.step_count();
    let p = match preemptions {
        Some(1) => ", 1 preemption".to_string(),
        Some(n) => format!(", {n} preemptions"),
        None => String::new(),
    };
    let s = if steps == 1 { "" } else { "s" };
    // The decisive violations first (an invariant, a deadlock, a panic), then data races.
    let mut ordered: Vec<&crate::world::Violation> =
        out.violations.iter().filter(|v| v.kind != ViolationKind::DataRace).collect();
    ordered.extend(out.violations.iter().filter(|v| v.kind == ViolationKind::DataRace));
    let headline = match ordered.as_slice() {
        [] => format!("{scenario}/{variant}: no invariant violated in {steps} step{s}{p}"),
        [v, rest @ ..] => {
            let mut h = format!(
                "{scenario}/{variant}: violated \"{}\" after {} step{}{p}",
                v.name,
                v.at_step,
                if v.at_step == 1 { "" } else { "s" }
            );
            for r in rest {
                let word = if r.kind == ViolationKind::DataRace { "also" } else { "then" };
                h.push_str(&format!("; {word} \"{}\"", r.name));
            }
            match unfinished {
                None => {}
                // The preemptions are the fewest (none, or as many as the bounds proved empty need);
                // a shorter execution with as many may exist.
                Some(b) if preemptions.is_some_and(|p| p <= b) => h.push_str(&format!(
                    " (fewest preemptions, not known shortest: the minimizer's budget ran out at bound {b})"
                )),
                Some(0) => h.push_str(" (not minimal: the minimizer's budget ran out first)"),
                Some(b) => h.push_str(&format!(
                    " (not known minimal: no counterexample with fewer than {b} preemption{}; the minimizer's \
                     budget ran out at bound {b})",
                    if b == 1 { "" } else { "s" }
                )),
            }
            h
        }
    };
    format!("{headline}\n{}", out.trace.render_table())
}

/// Minimizes `found` (fewest preemptions, then fewest steps, same invariant) and renders it.
///
/// Two searches share `budget`: first the local search from `found`'s own schedule
/// ([`crate::local_min`], at most a quarter of it), which removes preemptions quickly however many
/// threads there are; then the exhaustive one ([`bounded::minimize`], the rest), bound by bound up
/// to the local result's preemptions, which proves what it completes. The result with the fewest
/// preemptions, then steps, is shown; on a tie the exhaustive one. It is known minimal only when
/// the exhaustive search completed every bound up to its own.
pub fn finish_counterexample(
    scenario: &'static Scenario,
    variant: &'static Variant,
    found: &ExecOutcome,
    budget: usize,
) -> (Counterexample, usize) {
    let name = found.violation().map(|v| v.name.clone()).unwrap_or_default();
    // The preemptions of the found execution, counted at step granularity by replaying its order.
    let (replayed, decisions) = replay_order(variant, found.trace.order());
    let fits = replayed.violation().map(|v| v.name.as_str()) == Some(name.as_str());
    let upper = if fits { decisions.iter().filter(|d| d.is_preemption()).count() } else { 3 };
    // The shortest violation of any invariant at the fewest preemptions: which invariant the search
    // happened to break first does not change what is reported, so every strategy (and every seed)
    // reports the same counterexample.
    // A decisive counterexample is minimized over decisive violations (a data race alone is not
    // what it shows); a data race alone, over that race.
    let target = if found.decisive() { None } else { Some(name.as_str()) };
    // The local search starts from the found execution as the harness replays it: only when that
    // replay shows the same violation (a loom execution's order may not fit the step-level
    // replay; then there is no schedule to start from, and a "schedule does not fit" is no
    // counterexample to shorten).
    let local = if fits {
        crate::local_min::minimize(variant, target, &replayed, &decisions, budget / 4)
    } else {
        crate::local_min::LocalMin::default()
    };
    // The exhaustive search keeps the found execution's preemptions as its upper bound. Both
    // searches count preemptions alike (a switch away from a thread that could go on and did not
    // yield), so capping it at the local result's count would be sound and would only save the
    // bounds above it, which it never reaches unless every bound below completes empty; it is
    // left uncapped, as before the local search existed.
    let min = bounded::minimize(variant, target, upper, budget.saturating_sub(local.executions));
    let spent = local.executions + min.executions;
    let exhaustive = min.outcome.map(|m| {
        let (_, d) = replay_order(variant, m.trace.order());
        (d.iter().filter(|d| d.is_preemption()).count(), m)
    });
    let local_key = local.outcome.as_ref().map(|l| (local.preemptions, l.trace.step_count()));
    let (chosen, minimal) = match (exhaustive, local.outcome) {
        (Some((p, e)), Some(l)) if local_key < Some((p, e.trace.step_count())) => (l, false),
        (Some((_, e)), _) => (e, min.minimal),
        (None, Some(l)) => (l, false),
        (None, None) if fits => (replayed, false),
        (None, None) => (found.clone(), false),
    };
    // Render from a replay of the chosen order, so what is shown is exactly what the replay string
    // reproduces, preemptions included.
    let order = chosen.trace.order();
    let (shown, decisions) = replay_order(variant, order.clone());
    let preemptions = decisions.iter().filter(|d| d.is_preemption()).count();
    let lower_bound = if minimal { preemptions } else { min.empty_below.min(preemptions) };
    let replay = ReplayString { scenario: scenario.name.into(), variant: variant.name.into(), order }.encode();
    let unfinished = (!minimal).then_some(lower_bound);
    let rendered = render_marked(scenario.name, variant.name, &shown, Some(preemptions), unfinished);
    (Counterexample { outcome: shown, preemptions, replay, rendered, minimal, lower_bound }, spent)
}

/// A scenario error shown as found (not minimized: it is a mistake in the scenario, not a
/// schedule worth shortening), with the replay string of its execution.
fn scenario_error(scenario: &'static Scenario, variant: &'static Variant, found: &ExecOutcome) -> (String, String) {
    let order = found.trace.order();
    let (shown, decisions) = replay_order(variant, order.clone());
    // A free execution is recorded as it happened; its replay must show the same misuse.
    let shown = if shown.violation().map(|v| &v.kind) == Some(&ViolationKind::Misuse) { shown } else { found.clone() };
    let preemptions = decisions.iter().filter(|d| d.is_preemption()).count();
    let replay = ReplayString { scenario: scenario.name.into(), variant: variant.name.into(), order }.encode();
    (replay, render(scenario.name, variant.name, &shown, Some(preemptions)))
}

/// A step-level search's result as a run of the report.
fn bounded_run(b: bounded::BoundedResult, bound: usize) -> (RunReport, FreeResult) {
    let space = (!b.complete).then_some(bound);
    let r = FreeResult {
        executions: b.executions,
        counterexample: b.counterexample,
        witnesses: b.witnesses,
        complete: b.complete,
        decisions: 0,
        distinct: b.signatures.len(),
        signatures: b.signatures,
        stepless: b.stepless,
    };
    (run_report(bounded_label(bound), "bounded", space, &r), r)
}

fn bounded_label(bound: usize) -> String {
    if bound == usize::MAX {
        "bounded (every schedule)".into()
    } else {
        format!("bounded (preemption bound {bound})")
    }
}

fn run_report(run: String, family: &'static str, bound: Option<usize>, r: &FreeResult) -> RunReport {
    RunReport {
        run,
        family,
        bound,
        executions: r.executions,
        complete: r.complete,
        violated: r.counterexample.as_ref().and_then(|c| c.violation()).map(|v| v.name.clone()),
        distinct: r.distinct.max(r.signatures.len()),
    }
}

/// Runs `variant` as a plain shuttle test would, under the shuttle scheduler `strategy` names
/// (random, pct or urw) with `seed`, for at most `iterations` executions: the benchmark's
/// baseline. See [`crate::explore::shuttle_bare`].
pub fn bare(
    variant: &'static Variant,
    strategy: Strategy,
    seed: u64,
    iterations: usize,
) -> Result<crate::explore::BareResult, Error> {
    use crate::explore::shuttle_bare;
    let n = iterations.max(1);
    Ok(match strategy {
        Strategy::Random => shuttle_bare(variant, RandomScheduler::new_from_seed(seed, n)),
        Strategy::Pct { depth } => shuttle_bare(variant, PctScheduler::new_from_seed(seed, depth, n)),
        Strategy::Urw => shuttle_bare(variant, UrwRandomScheduler::new_from_seed(seed, n)),
        Strategy::ShuttleDfs => shuttle_bare(variant, DfsScheduler::new(Some(n), false)),
        other => {
            return Err(Error::new(
                ErrorKind::BadOption,
                format!("bare shuttle runs shuttle's own schedulers (random, pct, urw, shuttle-dfs), not {other}"),
            ))
        }
    })
}

/// The classes of executions (up to reordering of independent steps, see
/// [`crate::Trace::signature`]) that `iterations` executions of shuttle's random scheduler reach,
/// and those the step-level `dfs` reaches (every class, when it completes). The first must be a
/// subset of the second: scenario code that reads shared state outside a step breaks that, and
/// with it every proof the step-level search gives.
pub fn classes_random_and_dfs(
    variant: &'static Variant,
    iterations: usize,
    seed: u64,
) -> (BTreeSet<u64>, BTreeSet<u64>, bool) {
    let n = iterations.max(1);
    let random = shuttle_free(variant, RandomScheduler::new_from_seed(seed, n), n);
    let dfs = bounded::search(variant, usize::MAX, 1_000_000, bounded::Target::First, true);
    (random.signatures, dfs.signatures, dfs.complete)
}

/// Explores `variant` with `opts` and reports whether it met its expectation.
pub fn check_variant(
    scenario: &'static Scenario,
    variant: &'static Variant,
    opts: &CheckOptions,
) -> Result<VariantReport, Error> {
    // shuttle's schedulers let these variables override the seed the harness gives them, which
    // would make `--seed` (and every recorded seed) a lie.
    for var in ["SHUTTLE_RANDOM_SEED", "SHUTTLE_ALWAYS_PERSIST_SEED"] {
        if std::env::var_os(var).is_some() {
            return Err(Error::new(
                ErrorKind::BadOption,
                format!("{var} is set: interleave seeds shuttle itself (use --seed); unset it"),
            ));
        }
    }
    let start = Instant::now();
    let n = opts.iterations.max(1);
    let mut runs: Vec<(RunReport, FreeResult)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    match opts.strategy {
        Strategy::Random => {
            let r = shuttle_free(variant, RandomScheduler::new_from_seed(opts.seed, n), n);
            runs.push((run_report("random".into(), "shuttle", None, &r), r));
        }
        Strategy::Pct { depth } => {
            let r = shuttle_free(variant, PctScheduler::new_from_seed(opts.seed, depth, n), n);
            runs.push((run_report(format!("pct(depth {depth})"), "shuttle", None, &r), r));
        }
        Strategy::Urw => {
            let r = shuttle_free(variant, UrwRandomScheduler::new_from_seed(opts.seed, n), n);
            runs.push((run_report("urw".into(), "shuttle", None, &r), r));
        }
        Strategy::Pos | Strategy::Surw | Strategy::StepPct { .. } => {
            let sampler: Box<dyn crate::sampler::Sampler> = match opts.strategy {
                Strategy::Pos => Box::new(crate::pos::PosSampler),
                Strategy::Surw => Box::new(crate::surw::SurwSampler),
                Strategy::StepPct { depth } => Box::new(crate::step_pct::StepPctSampler { depth }),
                _ => unreachable!("matched above"),
            };
            let label = sampler.label();
            let r = crate::sampler::sample(variant, sampler, opts.seed, n);
            runs.push((run_report(label, "sampler", None, &r), r));
        }
        Strategy::Dfs => {
            let b = bounded::search(variant, usize::MAX, n, bounded::Target::First, true);
            let (mut report, r) = bounded_run(b, usize::MAX);
            report.run = "dfs".into();
            runs.push((report, r));
        }
        Strategy::ShuttleDfs => {
            let r = shuttle_free(variant, DfsScheduler::new(Some(n), false), n);
            runs.push((run_report("shuttle dfs".into(), "shuttle", None, &r), r));
        }
        Strategy::Bounded { max_preemptions } => {
            // A search cut short by its budget is a sample, and the report says so (`exhaustive`).
            let (b, bound) = bounded::iterative(variant, max_preemptions, n);
            runs.push(bounded_run(b, bound));
        }
        Strategy::Exhaustive => {
            exhaustive_runs(scenario, variant, opts, &mut runs, &mut notes)?;
        }
        Strategy::Portfolio => {
            for (member, r) in crate::portfolio::run(variant, crate::portfolio::MEMBERS, opts.seed, n, n) {
                match r {
                    crate::portfolio::MemberResult::Shuttle(r) => {
                        runs.push((run_report(format!("portfolio: {}", member.label()), "shuttle", None, &r), r));
                    }
                    crate::portfolio::MemberResult::Sampler(r) => {
                        runs.push((run_report(format!("portfolio: {}", member.label()), "sampler", None, &r), r));
                    }
                    crate::portfolio::MemberResult::Bounded(b, bound) => {
                        let (mut report, r) = bounded_run(b, bound);
                        report.run = format!("portfolio: {}", report.run);
                        runs.push((report, r));
                    }
                }
            }
        }
    }
    let executions = runs.iter().map(|(_, r)| r.executions).sum();
    let mut witnesses_reached = BTreeSet::new();
    for (_, r) in &runs {
        witnesses_reached.extend(r.witnesses.iter().cloned());
    }
    // A decisive counterexample of any run before a data race alone (see `ExecOutcome::decisive`).
    let found = runs
        .iter()
        .find_map(|(_, r)| r.counterexample.clone().filter(ExecOutcome::decisive))
        .or_else(|| runs.iter().find_map(|(_, r)| r.counterexample.clone()));
    let reports: Vec<&RunReport> = runs.iter().map(|(rr, _)| rr).collect();
    let failing: Vec<&RunReport> = reports.iter().copied().filter(|rr| rr.violated.is_some()).collect();
    // A complete run that passed disagrees with a failing run when its space contains the failing
    // run's: it is unbounded, or it has a larger bound in the same family. A smaller bound passing
    // where a larger one fails is just a bound too small, not a disagreement.
    let covers = |p: &RunReport, f: &RunReport| match (p.bound, f.bound) {
        (None, _) => true,
        (Some(pb), Some(fb)) => p.family == f.family && pb >= fb,
        (Some(_), None) => false,
    };
    let passing: Vec<&RunReport> = reports
        .iter()
        .copied()
        .filter(|p| p.violated.is_none() && p.complete && failing.iter().any(|f| covers(p, f)))
        .collect();
    let disagreement = (!failing.is_empty() && !passing.is_empty()).then(|| {
        format!(
            "{} found \"{}\" but {} passed",
            failing.iter().map(|r| r.run.as_str()).collect::<Vec<_>>().join(", "),
            failing[0].violated.clone().unwrap_or_default(),
            passing.iter().map(|r| r.run.as_str()).collect::<Vec<_>>().join(", ")
        )
    });
    if failing.is_empty() {
        match coverage(&reports) {
            Some(Coverage::LoomReachedMore(n)) | Some(Coverage::LoomMissed(n)) => notes.push(n),
            None => {}
        }
    }
    let witnesses: Vec<WitnessReport> = variant
        .witnesses
        .iter()
        .map(|w| WitnessReport { name: w.name.into(), reached: witnesses_reached.contains(w.name) })
        .collect();
    // A portfolio's samples never complete; its bounded member's search does.
    let exhaustive = found.is_none()
        && if opts.strategy == Strategy::Portfolio {
            runs.iter().any(|(r, _)| r.family == "bounded" && r.complete)
        } else {
            runs.iter().all(|(r, _)| r.complete)
        };
    let misuse = found.as_ref().and_then(|f| f.violation()).filter(|v| v.kind == ViolationKind::Misuse).cloned();
    let mut stepless: Option<BTreeSet<String>> = None;
    for (_, r) in &runs {
        if let Some(s) = &r.stepless {
            stepless = Some(match stepless {
                None => s.clone(),
                Some(before) => before.intersection(s).cloned().collect(),
            });
        }
    }
    let mut report = VariantReport {
        scenario: scenario.name.into(),
        variant: variant.name.into(),
        expect: variant.expect,
        outcome: match (&found, &misuse) {
            (_, Some(_)) => Outcome::ScenarioError,
            (Some(_), None) => Outcome::Counterexample,
            (None, None) => Outcome::Holds,
        },
        strategy: opts.strategy.name().into(),
        executions,
        distinct_interleavings: runs.iter().map(|(r, _)| r.distinct).max().unwrap_or(0),
        elapsed_ms: 0,
        invariant: None,
        replay: None,
        trace: None,
        ok: false,
        problem: None,
        preemptions: None,
        steps: None,
        minimize_executions: 0,
        minimal: None,
        minimal_lower_bound: None,
        stepless_threads: stepless.unwrap_or_default().into_iter().collect(),
        notes,
        exhaustive,
        witnesses,
        runs: runs.iter().map(|(r, _)| r.clone()).collect(),
        disagreement,
    };
    if let (Some(found), Some(v)) = (&found, &misuse) {
        let (replay, trace) = scenario_error(scenario, variant, found);
        report.invariant = Some(v.name.clone());
        report.replay = Some(replay);
        report.trace = Some(trace);
    } else if let Some(found) = found.filter(|_| opts.minimize) {
        let (cx, spent) = finish_counterexample(scenario, variant, &found, opts.minimize_budget);
        report.invariant =
            cx.outcome.violation().map(|v| v.name.clone()).or_else(|| found.violation().map(|v| v.name.clone()));
        report.preemptions = Some(cx.preemptions);
        report.steps = Some(cx.outcome.trace.step_count());
        report.replay = Some(cx.replay);
        report.trace = Some(cx.rendered);
        report.minimize_executions = spent;
        report.minimal = Some(cx.minimal);
        report.minimal_lower_bound = Some(cx.lower_bound);
    }
    let stepless_problem = (!report.stepless_threads.is_empty()).then(|| {
        format!(
            "{} made no model step in any execution: the state {} shares is outside the models (plain std \
             types, say), which the harness cannot interleave; use interleave's primitives",
            report.stepless_threads.join(", "),
            if report.stepless_threads.len() == 1 { "it" } else { "they" },
        )
    });
    report.problem =
        if let Some(v) = &misuse {
            Some(format!("the scenario broke the step contract, so there is no verdict: {}", v.detail))
        } else if let Some(d) = &report.disagreement {
            Some(format!("the explorations disagree, so a backend or a model is wrong: {d}"))
        } else if report.outcome != report.expect {
            Some(match &stepless_problem {
                Some(p) => format!("expected {} but found {}; {p}", report.expect, report.outcome),
                None => format!("expected {} but found {}", report.expect, report.outcome),
            })
        } else if report.outcome == Outcome::Holds && stepless_problem.is_some() {
            stepless_problem.clone()
        } else if report.expect == Expect::Holds {
            if variant.witnesses.is_empty() {
                Some("a holds variant must name a witness of its racy window".into())
            } else {
                report.witnesses.iter().find(|w| !w.reached).map(|w| {
                    format!("no execution reached the witness \"{}\": the holds verdict proves nothing", w.name)
                })
            }
        } else {
            None
        };
    report.ok = report.problem.is_none();
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(report)
}

/// What comparing two complete searches of every schedule found (see [`coverage`]).
#[derive(Debug, PartialEq, Eq)]
enum Coverage {
    /// loom reached more distinct interleavings than the step-level search. Expected where a thread
    /// yields (`sleep`, `yield_now`): the step-level search holds a yielding thread back until the
    /// others have moved, so a polling loop polls again only after a change, where loom lets it
    /// poll any number of times in a row. Anywhere else, a footprint that leaves out what a step
    /// touches.
    LoomReachedMore(String),
    /// loom reached fewer: loom's search missed some, and the verdict rests on the step-level one.
    LoomMissed(String),
}

/// Compares loom's unbounded run with the step-level search of every schedule, when both
/// completed without a violation. Both count the trace's signatures, whichever backend ran the
/// code: fewer under loom means loom's search missed some (its unbounded search can: loom issues
/// #166 and #392); more, see [`Coverage::LoomReachedMore`]. Either is said in the report's notes:
/// neither makes a verdict wrong, since the step-level search's own completeness is what a proof
/// rests on.
fn coverage(reports: &[&RunReport]) -> Option<Coverage> {
    let every = |family: &str| {
        reports.iter().copied().find(|r| r.family == family && r.bound.is_none() && r.complete && r.violated.is_none())
    };
    let (lr, br) = (every("loom")?, every("bounded")?);
    match lr.distinct.cmp(&br.distinct) {
        std::cmp::Ordering::Greater => Some(Coverage::LoomReachedMore(format!(
            "{} reached {} distinct interleavings and {} {}: the step-level search holds a thread that \
             yields (sleep, yield_now) back until another has moved, and loom does not; without such a \
             thread, a step's footprint leaves out what it touches",
            lr.run, lr.distinct, br.run, br.distinct
        ))),
        std::cmp::Ordering::Less => Some(Coverage::LoomMissed(format!(
            "{} reached {} of the {} distinct interleavings {} did: loom's search missed some (loom issues \
             #166, #392), and the verdict rests on the step-level search",
            lr.run, lr.distinct, br.distinct, br.run
        ))),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(not(feature = "loom"))]
fn exhaustive_runs(
    _scenario: &'static Scenario,
    _variant: &'static Variant,
    _opts: &CheckOptions,
    _runs: &mut Vec<(RunReport, FreeResult)>,
    _notes: &mut Vec<String>,
) -> Result<(), Error> {
    Err(Error::new(
        ErrorKind::Backend,
        "the exhaustive strategy runs loom, which this build does not include: rebuild with `--features loom`, or choose one of random, pct, urw, dfs, bounded",
    ))
}

#[cfg(feature = "loom")]
fn exhaustive_runs(
    scenario: &'static Scenario,
    variant: &'static Variant,
    opts: &CheckOptions,
    runs: &mut Vec<(RunReport, FreeResult)>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let exe = opts.child_exe.clone().ok_or_else(|| {
        Error::new(
            ErrorKind::Backend,
            "the exhaustive strategy needs the interleave executable to run loom in a child process",
        )
    })?;
    // loom runs at most five threads, the main one included, and fails on a sixth with an
    // assertion of its own: count the variant's threads first and leave loom out past that.
    let threads = replay_lenient(variant, Vec::new()).trace.threads.len();
    let loom_max = crate::loom_run::MAX_THREADS;
    if threads > loom_max {
        notes.push(format!(
            "loom skipped: {}/{} runs {threads} threads (the main one included), and loom allows at most {loom_max}; \
             the verdict rests on the step-level search alone",
            scenario.name, variant.name
        ));
    }
    let launch = crate::loom_run::Launch { exe, mode: opts.child_mode.clone() };
    let fp = fingerprint(scenario, variant);
    for bound in crate::loom_run::BOUNDS.into_iter().filter(|_| threads <= loom_max) {
        let r =
            match crate::loom_run::loom_child(&launch, scenario.name, variant.name, bound, opts.loom_cap.max(2), &fp) {
                Ok(r) => r,
                Err(e) if e.kind == ErrorKind::Unsupported => {
                    notes.push(format!("loom skipped: {e}; the verdict rests on the step-level search alone"));
                    break;
                }
                Err(e) => return Err(e),
            };
        let label = match bound {
            None => "loom unbounded".to_string(),
            Some(b) => format!("loom preemption bound {b}"),
        };
        runs.push((run_report(label, "loom", bound, &r), r));
    }
    // shuttle's dfs counts where it completes; the harness's own step-level search always does on
    // the catalog's variants.
    let n = opts.iterations.max(1);
    // shuttle's dfs is only a count to compare with: it gets at most 3,000 executions.
    let shuttle_n = n.min(3_000);
    let r = shuttle_free(variant, DfsScheduler::new(Some(shuttle_n), false), shuttle_n);
    if r.complete || r.counterexample.is_some() {
        runs.push((run_report("shuttle dfs".into(), "shuttle", None, &r), r));
    }
    let (b, bound) = bounded::iterative(variant, None, n);
    runs.push(bounded_run(b, bound));
    Ok(())
}

/// A fingerprint of `variant` of `scenario` as this build has it: its scenario's metadata (names,
/// expectations, summaries, parameters, witnesses) and the trace of the variant's first schedule
/// (every thread running as long as it can). A loom child checks it against its parent's, so that
/// a child of another build of the scenario is refused, never believed.
pub fn fingerprint(scenario: &Scenario, variant: &'static Variant) -> String {
    let mut text =
        format!("{}|{}|{}|{}\n", scenario.name, scenario.summary, scenario.source.seed, scenario.source.section);
    for v in scenario.variants {
        text.push_str(&format!("{}|{}|{}|{:?}|{:?}\n", v.name, v.expect, v.summary, v.params, v.racy));
        for w in v.witnesses {
            text.push_str(w.name);
        }
    }
    text.push_str(variant.name);
    text.push_str(&render(scenario.name, variant.name, &replay_lenient(variant, Vec::new()), None));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Finds `scenario[/variant]` arguments in `catalog`: a bare scenario name selects all its variants.
pub fn select(
    catalog: &[&'static Scenario],
    args: &[String],
) -> Result<Vec<(&'static Scenario, &'static Variant)>, Error> {
    let mut out = Vec::new();
    if args.is_empty() {
        for s in catalog {
            for v in s.variants {
                out.push((*s, v));
            }
        }
        return Ok(out);
    }
    let names = || catalog.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
    for a in args {
        let (sname, vname) = match a.split_once('/') {
            Some((s, v)) => (s, Some(v)),
            None => (a.as_str(), None),
        };
        let shown: String = sname.chars().take(60).collect();
        let s = catalog.iter().find(|s| s.name == sname).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownScenario,
                format!("unknown scenario '{shown}': known scenarios are {}", names()),
            )
        })?;
        match vname {
            None => out.extend(s.variants.iter().map(|v| (*s, v))),
            Some(v) => {
                let (v, set) = parse_instance(v)?;
                let var = s.variant(v).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UnknownScenario,
                        format!(
                            "unknown variant '{}' of {}: its variants are {}",
                            v.chars().take(60).collect::<String>(),
                            s.name,
                            s.variants.iter().map(|v| v.name).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                out.push((*s, var.instance(&set)?));
            }
        }
    }
    Ok(out)
}

/// Parameter values by name, as written in `variant[p=v,…]`.
type Assignments<'a> = Vec<(&'a str, usize)>;

/// Splits `name[p=v,…]` into the variant's name and its parameter values.
fn parse_instance(arg: &str) -> Result<(&str, Assignments<'_>), Error> {
    let Some((name, rest)) = arg.split_once('[') else { return Ok((arg, Vec::new())) };
    let shown: String = arg.chars().take(80).collect();
    let bad = |what: &str| {
        Error::new(
            ErrorKind::BadOption,
            format!(
                "malformed variant instance '{shown}': {what} (expected variant[param=value,…], e.g. buggy[writers=2])"
            ),
        )
    };
    let list = rest.strip_suffix(']').ok_or_else(|| bad("it must end with ']'"))?;
    let mut set = Vec::new();
    for kv in list.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(|| bad("each parameter is name=value"))?;
        let v: usize = v.parse().map_err(|_| bad("values are whole numbers"))?;
        if set.iter().any(|(seen, _)| *seen == k) {
            return Err(bad("a parameter is set twice"));
        }
        set.push((k, v));
    }
    Ok((name, set))
}

/// What a replay did.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    /// The scenario's name.
    pub scenario: String,
    /// The variant's name.
    pub variant: String,
    /// The replayed execution.
    pub outcome: ExecOutcome,
    /// Its rendering.
    pub rendered: String,
    /// For each step (by index among steps), whether the decision to make it preempted a thread
    /// that could have gone on.
    pub preempted: Vec<bool>,
}

/// Replays one execution from a replay string.
pub fn replay(catalog: &[&'static Scenario], input: &str) -> Result<ReplayReport, Error> {
    replay_with(catalog, input, false)
}

/// Replays one execution from a replay string, recording every model object's state after each
/// step (`Trace::states`), for a rendering of the trace for people (the HTML view).
pub fn replay_described(catalog: &[&'static Scenario], input: &str) -> Result<ReplayReport, Error> {
    replay_with(catalog, input, true)
}

fn replay_with(catalog: &[&'static Scenario], input: &str, describe: bool) -> Result<ReplayReport, Error> {
    let r = ReplayString::parse(input)?;
    let sel = select(catalog, &[format!("{}/{}", r.scenario, r.variant)])?;
    let (scenario, variant) = sel[0];
    let (out, decisions) = if describe {
        crate::explore::replay_order_described(variant, r.order.clone())
    } else {
        replay_order(variant, r.order.clone())
    };
    if let Some(v) = out.violations.iter().find(|v| v.name == crate::world::SCHEDULE_DOES_NOT_FIT) {
        return Err(Error::new(
            ErrorKind::ScheduleMismatch,
            format!("the schedule no longer fits {}/{}: {}", scenario.name, variant.name, v.detail),
        ));
    }
    if decisions.len() < r.order.len() {
        return Err(Error::new(
            ErrorKind::ScheduleMismatch,
            format!(
                "the schedule does not fit {}/{}: the execution ended after {} steps; {} steps of the schedule are left",
                scenario.name,
                variant.name,
                decisions.len(),
                r.order.len() - decisions.len()
            ),
        ));
    }
    let preemptions = decisions.iter().filter(|d| d.is_preemption()).count();
    let rendered = render(scenario.name, variant.name, &out, Some(preemptions));
    let preempted = decisions.iter().map(|d| d.is_preemption()).collect();
    Ok(ReplayReport {
        scenario: scenario.name.to_string(),
        variant: variant.name.to_string(),
        outcome: out,
        rendered,
        preempted,
    })
}

/// Replays `order` on `variant` as far as the variant's code allows, then without preemptions:
/// how a counterexample's schedule is tried against a fixed variant, whose steps differ.
pub fn replay_lenient(variant: &'static Variant, order: Vec<usize>) -> ExecOutcome {
    struct Lenient {
        order: Vec<usize>,
        pos: usize,
    }
    impl crate::world::Controller for Lenient {
        fn choose(&mut self, enabled: &[usize], prev: Option<usize>) -> Result<usize, String> {
            while let Some(&t) = self.order.get(self.pos) {
                self.pos += 1;
                if enabled.contains(&t) {
                    return Ok(t);
                }
            }
            Ok(match prev {
                Some(p) if enabled.contains(&p) => p,
                _ => enabled[0],
            })
        }
    }
    crate::explore::run_once(variant, Box::new(Lenient { order, pos: 0 })).0
}

#[cfg(test)]
mod tests {
    use super::{coverage, Coverage, RunReport};

    fn run(run: &str, family: &'static str, bound: Option<usize>, complete: bool, distinct: usize) -> RunReport {
        RunReport { run: run.into(), family, bound, executions: 100, complete, violated: None, distinct }
    }

    #[test]
    fn two_complete_searches_of_every_schedule_must_reach_the_same_interleavings() {
        let every = run("bounded (every schedule)", "bounded", None, true, 73);
        let loom = |distinct| run("loom unbounded", "loom", None, true, distinct);
        assert_eq!(coverage(&[&loom(73), &every]), None);
        match coverage(&[&loom(69), &every]) {
            Some(Coverage::LoomMissed(n)) => assert!(n.contains("69 of the 73"), "{n}"),
            other => panic!("{other:?}"),
        }
        match coverage(&[&loom(80), &every]) {
            Some(Coverage::LoomReachedMore(d)) => assert!(d.contains("80") && d.contains("(every schedule) 73"), "{d}"),
            other => panic!("{other:?}"),
        }
        // A capped run, a bounded one, or a run that found a violation proves no count.
        let capped = run("loom unbounded", "loom", None, false, 69);
        let bound3 = run("loom preemption bound 3", "loom", Some(3), true, 50);
        let mut failed = loom(69);
        failed.violated = Some("x".into());
        for r in [&capped, &bound3, &failed] {
            assert_eq!(coverage(&[r, &every]), None, "{r:?}");
        }
    }
}
