//! `interleave check`: explore variants, print one row per variant (with every counterexample's
//! minimized trace and replay command), write fixtures and pages, exit 0/1/2.

use super::bad_input;
use harness::atomic_file;
use harness::check::Outcome;
use harness::fixture::{file_name_of, Fixture, FIXTURE_FORMAT};
use harness::{check_variant, select, CheckOptions, Strategy};
use std::process::ExitCode;

/// The bug depth of `pct` when `--depth` is not given.
const DEFAULT_PCT_DEPTH: u64 = 3;

/// The options of `check`, as parsed.
pub struct Args {
    pub targets: Vec<String>,
    pub strategy: String,
    pub iterations: u64,
    pub minimize_budget: u64,
    pub seed: u64,
    pub depth: Option<u64>,
    pub max_preemptions: Option<u64>,
    pub json: bool,
    pub save_fixtures: Option<std::path::PathBuf>,
    pub html_dir: Option<std::path::PathBuf>,
    pub smallest: Option<u32>,
}

/// Refuses an option the strategy does not take: accepted, it would do nothing.
fn refuse_unused_options(strategy: Strategy, depth: Option<u64>, max_preemptions: Option<u64>) -> Result<(), String> {
    if depth.is_some() && !matches!(strategy, Strategy::Pct { .. } | Strategy::StepPct { .. }) {
        return Err(format!(
            "--depth is the bug depth of pct and step-pct; only --strategy pct or step-pct takes it, and {strategy} takes none"
        ));
    }
    if max_preemptions.is_some() && !matches!(strategy, Strategy::Bounded { .. }) {
        return Err(format!(
            "--max-preemptions is the largest preemption bound of bounded; only --strategy bounded takes it, and \
             {strategy} takes none"
        ));
    }
    Ok(())
}

/// Runs `check` over `catalog` (no target) or the named targets of `all`.
pub fn run(catalog: &[&'static harness::Scenario], all: &[&'static harness::Scenario], args: Args) -> ExitCode {
    let Args {
        targets,
        strategy,
        iterations,
        minimize_budget,
        seed,
        depth,
        max_preemptions,
        json,
        save_fixtures,
        html_dir,
        smallest,
    } = args;
    let strategy = match Strategy::parse(
        &strategy,
        depth.unwrap_or(DEFAULT_PCT_DEPTH) as usize,
        max_preemptions.map(|m| m as usize),
    ) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    if let Err(e) = refuse_unused_options(strategy, depth, max_preemptions) {
        return bad_input(e);
    }
    // Named targets may also be the harness's self-test scenarios; no target means the catalog.
    let selected = match select(if targets.is_empty() { catalog } else { all }, &targets) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    // Every destination is checked before the run, so a bad one costs a second, not the run.
    if let Some(dir) = &save_fixtures {
        let ready = atomic_file::check_directory(dir).and_then(|()| {
            atomic_file::remove_stale_temps(dir);
            selected
                .iter()
                .try_for_each(|(s, v)| atomic_file::check_destination(&dir.join(file_name_of(s.name, v.name))))
        });
        if let Err(e) = ready {
            return bad_input(format!("--save-fixtures {}: {e}", dir.display()));
        }
    }
    if let Some(dir) = &html_dir {
        if let Err(e) = super::render::check_html_dir(dir, selected.iter().map(|(s, v)| (s.name, v.name))) {
            return bad_input(format!("--html-dir {}: {e}", dir.display()));
        }
    }
    let opts = CheckOptions {
        strategy,
        iterations: iterations as usize,
        minimize_budget: minimize_budget as usize,
        seed,
        child_exe: std::env::current_exe().ok(),
        ..CheckOptions::default()
    };
    let mut reports = Vec::new();
    let mut unsaved = 0;
    for (s, v) in selected {
        let checked = match smallest {
            Some(cases) if !v.params.is_empty() => {
                harness::shrink::smallest_failing(s, v, &opts, cases).and_then(|found| match found.report {
                    Some(r) => Ok(r),
                    // No instance failed: report the variant itself.
                    None => check_variant(s, v, &opts),
                })
            }
            _ => check_variant(s, v, &opts),
        };
        let r = match checked {
            Ok(r) => r,
            Err(e) => return bad_input(e),
        };
        if !json {
            print_report(&r);
        }
        // Each fixture as soon as it is found: a run stopped later keeps it.
        if let Some(dir) = &save_fixtures {
            if let (Some(replay), Some(invariant), Some(trace)) = (&r.replay, &r.invariant, &r.trace) {
                let fixture = Fixture {
                    format: FIXTURE_FORMAT.into(),
                    harness_version: env!("CARGO_PKG_VERSION").into(),
                    replay: replay.clone(),
                    scenario: r.scenario.clone(),
                    variant: r.variant.clone(),
                    strategy: r.strategy.clone(),
                    seed,
                    invariant: invariant.clone(),
                    trace: trace.clone(),
                };
                match fixture.write_atomic(dir) {
                    Ok(path) => errln!("fixture: {}", path.display()),
                    Err(e) => {
                        errln!("error: fixture of {}/{} not saved: {e}", r.scenario, r.variant);
                        unsaved += 1;
                    }
                }
            }
        }
        // The page from a replay of the same string, so it shows what the replay reproduces.
        if let (Some(dir), Some(replay)) = (&html_dir, &r.replay) {
            match super::render::write_page(all, replay, dir) {
                Ok(path) => errln!("page: {}", path.display()),
                Err(e) => {
                    errln!("error: page of {}/{} not saved: {e}", r.scenario, r.variant);
                    unsaved += 1;
                }
            }
        }
        reports.push(r);
    }
    let ok = reports.iter().all(|r| r.ok);
    if json {
        let v = serde_json::json!({ "ok": ok, "results": reports });
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let failed = reports.iter().filter(|r| !r.ok).count();
        outln!("{} variants, {} met their expectation, {} did not", reports.len(), reports.len() - failed, failed);
    }
    if unsaved > 0 {
        errln!("error: {unsaved} fixture(s) or page(s) could not be saved");
        ExitCode::from(2)
    } else if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What the check found, as the table shows it: a `holds` says whether it is a proof (the whole
/// space explored) or a sample (a random strategy, a search cut short by its budget).
fn found(r: &harness::VariantReport) -> String {
    match r.outcome {
        Outcome::Holds if r.exhaustive => "holds (proof)".into(),
        Outcome::Holds => "holds (sample)".into(),
        Outcome::Counterexample | Outcome::ScenarioError => r.outcome.to_string(),
    }
}

fn print_report(r: &harness::VariantReport) {
    let verdict = if r.ok { "ok" } else { "FAILED" };
    outln!(
        "{:<40} expect {:<15} found {:<15} {:>8} executions {:>7} distinct {:>7} ms  {verdict}",
        format!("{}/{}", r.scenario, r.variant),
        r.expect.to_string(),
        found(r),
        r.executions,
        r.distinct_interleavings,
        r.elapsed_ms
    );
    for w in &r.witnesses {
        outln!("    witness \"{}\": {}", w.name, if w.reached { "reached" } else { "NOT reached" });
    }
    for n in &r.notes {
        outln!("    note: {n}");
    }
    if let Some(d) = &r.disagreement {
        outln!("    disagreement: {d}");
    }
    if let Some(p) = &r.problem {
        outln!("    problem: {p}");
    }
    if let (Some(trace), Some(replay)) = (&r.trace, &r.replay) {
        outln!();
        for line in trace.lines() {
            outln!("    {line}");
        }
        outln!("    replay: {} replay {replay}", super::program());
        outln!();
    }
}
