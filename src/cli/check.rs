//! `interleave check`: explore variants, print one row per variant (with every counterexample's
//! minimized trace and replay command), write fixtures, exit 0/1/2.

use super::bad_input;
use harness::{check_variant, select, CheckOptions, Strategy};
use std::process::ExitCode;

/// The options of `check`, as parsed.
pub struct Args {
    pub targets: Vec<String>,
    pub strategy: String,
    pub iterations: u64,
    pub seed: u64,
    pub depth: u64,
    pub max_preemptions: Option<u64>,
    pub json: bool,
    pub save_fixtures: Option<std::path::PathBuf>,
    pub smallest: Option<u32>,
}

/// Runs `check` over `catalog` (no target) or the named targets of `all`.
pub fn run(catalog: &[&'static harness::Scenario], all: &[&'static harness::Scenario], args: Args) -> ExitCode {
    let Args { targets, strategy, iterations, seed, depth, max_preemptions, json, save_fixtures, smallest } = args;
    let strategy = match Strategy::parse(&strategy, depth as usize, max_preemptions.map(|m| m as usize)) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    // Named targets may also be the harness's self-test scenarios; no target means the catalog.
    let selected = match select(if targets.is_empty() { catalog } else { all }, &targets) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let opts = CheckOptions {
        strategy,
        iterations: iterations as usize,
        seed,
        child_exe: std::env::current_exe().ok(),
        ..CheckOptions::default()
    };
    let mut reports = Vec::new();
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
        match checked {
            Ok(r) => {
                if !json {
                    print_report(&r);
                }
                reports.push(r);
            }
            Err(e) => return bad_input(e),
        }
    }
    if let Some(dir) = &save_fixtures {
        for r in &reports {
            let (Some(replay), Some(invariant), Some(trace)) = (&r.replay, &r.invariant, &r.trace) else {
                continue;
            };
            let fixture = harness::fixture::Fixture {
                format: harness::fixture::FIXTURE_FORMAT.into(),
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
                Ok(path) => eprintln!("fixture: {}", path.display()),
                Err(e) => return bad_input(e),
            }
        }
    }
    let ok = reports.iter().all(|r| r.ok);
    if json {
        let v = serde_json::json!({ "ok": ok, "results": reports });
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let failed = reports.iter().filter(|r| !r.ok).count();
        outln!("{} variants, {} met their expectation, {} did not", reports.len(), reports.len() - failed, failed);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_report(r: &harness::VariantReport) {
    let verdict = if r.ok { "ok" } else { "FAILED" };
    outln!(
        "{:<40} expect {:<15} found {:<15} {:>8} executions {:>7} distinct {:>7} ms  {verdict}",
        format!("{}/{}", r.scenario, r.variant),
        r.expect.to_string(),
        r.outcome.to_string(),
        r.executions,
        r.distinct_interleavings,
        r.elapsed_ms
    );
    for w in &r.witnesses {
        outln!("    witness \"{}\": {}", w.name, if w.reached { "reached" } else { "NOT reached" });
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
        outln!("    replay: interleave replay {replay}");
        outln!();
    }
}
