//! `interleave bench`: how fast each strategy finds each bug of the catalog, how many executions
//! per second the harness runs, and how close the exhaustive searches come to one execution per
//! distinct interleaving. Measurements, printed as tables or JSON; never pass/fail.

use harness::{check_variant, CheckOptions, Expect, Scenario, Strategy, Variant};
use std::io::IsTerminal;
use std::time::Instant;

/// Options of a benchmark run.
pub struct Bench {
    pub seeds: u64,
    pub budget: usize,
    pub json: bool,
    pub child_exe: Option<std::path::PathBuf>,
}

fn strategies() -> Vec<(String, Strategy)> {
    vec![
        ("random".into(), Strategy::Random),
        ("pct(d=1)".into(), Strategy::Pct { depth: 1 }),
        ("pct(d=2)".into(), Strategy::Pct { depth: 2 }),
        ("pct(d=3)".into(), Strategy::Pct { depth: 3 }),
        ("urw".into(), Strategy::Urw),
        ("bounded".into(), Strategy::Bounded { max_preemptions: None }),
        ("default".into(), Strategy::DEFAULT),
    ]
}

fn percentile(sorted: &[usize], p: f64) -> Option<usize> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)])
}

fn median_f(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// Runs the benchmark over `variants`; returns the exit status.
pub fn run(b: Bench, variants: &[(&'static Scenario, &'static Variant)]) -> u8 {
    let total = variants.iter().filter(|(_, v)| v.expect == Expect::Counterexample).count() as u64
        * strategies().len() as u64
        * b.seeds;
    let bar = std::io::stderr().is_terminal().then(|| indicatif::ProgressBar::new(total));
    let mut bug_rows = Vec::new();
    for (s, v) in variants.iter().filter(|(_, v)| v.expect == Expect::Counterexample) {
        for (label, strategy) in strategies() {
            let mut found = Vec::new();
            let mut ms = Vec::new();
            // A systematic strategy does the same thing for every seed: measure it once.
            let seeds = if matches!(strategy, Strategy::Bounded { .. }) { 1 } else { b.seeds };
            for seed in 0..seeds {
                let opts =
                    CheckOptions { strategy, iterations: b.budget, seed, minimize: false, ..CheckOptions::default() };
                let t = Instant::now();
                let r = match check_variant(s, v, &opts) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return 2;
                    }
                };
                if r.outcome == Expect::Counterexample {
                    found.push(r.executions);
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                if let Some(bar) = &bar {
                    bar.inc(if seeds == 1 { b.seeds } else { 1 });
                }
            }
            found.sort_unstable();
            bug_rows.push(serde_json::json!({
                "scenario": s.name,
                "variant": v.name,
                "strategy": label,
                "seeds": seeds,
                "found": found.len() as f64 / seeds as f64,
                "median_executions": percentile(&found, 0.5),
                "p90_executions": percentile(&found, 0.9),
                "median_ms": median_f(ms),
            }));
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut throughput = Vec::new();
    let mut exhaustive = Vec::new();
    for (s, v) in variants.iter().filter(|(_, v)| v.expect == Expect::Holds) {
        let n = b.budget.min(5_000);
        let opts = CheckOptions {
            strategy: Strategy::Random,
            iterations: n,
            seed: 1,
            minimize: false,
            ..CheckOptions::default()
        };
        let t = Instant::now();
        let r = check_variant(s, v, &opts).ok();
        let secs = t.elapsed().as_secs_f64();
        throughput.push(serde_json::json!({
            "scenario": s.name,
            "variant": v.name,
            "executions_per_sec": r.as_ref().map(|r| r.executions as f64 / secs.max(1e-9)),
            "overhead_vs_bare_shuttle": serde_json::Value::Null,
        }));
        let mut backends = vec![("shuttle dfs", Strategy::Dfs), ("bounded", Strategy::DEFAULT)];
        if cfg!(feature = "loom") && b.child_exe.is_some() {
            backends.push(("loom", Strategy::Exhaustive));
        }
        for (backend, strategy) in backends {
            let opts = CheckOptions {
                strategy,
                iterations: 100_000,
                seed: 0,
                child_exe: b.child_exe.clone(),
                minimize: false,
                ..CheckOptions::default()
            };
            let t = Instant::now();
            let Ok(r) = check_variant(s, v, &opts) else { continue };
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            // For loom, the unbounded run is the exhaustive one.
            let run =
                if backend == "loom" { r.runs.iter().find(|x| x.run == "loom unbounded") } else { r.runs.first() };
            let Some(run) = run else { continue };
            exhaustive.push(serde_json::json!({
                "scenario": s.name,
                "variant": v.name,
                "backend": backend,
                "executions": run.executions,
                "distinct_interleavings": run.distinct,
                "complete": run.complete,
                "ms": ms,
            }));
        }
    }
    let out = serde_json::json!({ "bug_finding": bug_rows, "throughput": throughput, "exhaustive": exhaustive });
    if b.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return 0;
    }
    println!("bug finding ({} seeds, budget {} executions)", b.seeds, b.budget);
    println!("{:<40} {:<10} {:>6} {:>8} {:>8} {:>9}", "variant", "strategy", "found", "median", "p90", "median ms");
    for r in &bug_rows {
        println!(
            "{:<40} {:<10} {:>5.0}% {:>8} {:>8} {:>9}",
            format!("{}/{}", r["scenario"].as_str().unwrap_or(""), r["variant"].as_str().unwrap_or("")),
            r["strategy"].as_str().unwrap_or(""),
            r["found"].as_f64().unwrap_or(0.0) * 100.0,
            r["median_executions"].as_u64().map_or("-".into(), |x| x.to_string()),
            r["p90_executions"].as_u64().map_or("-".into(), |x| x.to_string()),
            r["median_ms"].as_f64().map_or("-".into(), |x| format!("{x:.1}")),
        );
    }
    println!("\nthroughput (random, holds variants)");
    for r in &throughput {
        println!(
            "{:<40} {:>10.0} executions/s",
            format!("{}/{}", r["scenario"].as_str().unwrap_or(""), r["variant"].as_str().unwrap_or("")),
            r["executions_per_sec"].as_f64().unwrap_or(0.0)
        );
    }
    println!("\nexhaustive (holds variants)");
    println!("{:<40} {:<12} {:>10} {:>9} {:>7} {:>9}", "variant", "backend", "executions", "distinct", "ratio", "ms");
    for r in &exhaustive {
        let e = r["executions"].as_f64().unwrap_or(0.0);
        let d = r["distinct_interleavings"].as_f64().unwrap_or(0.0);
        println!(
            "{:<40} {:<12} {:>10} {:>9} {:>7.2} {:>9.0}{}",
            format!("{}/{}", r["scenario"].as_str().unwrap_or(""), r["variant"].as_str().unwrap_or("")),
            r["backend"].as_str().unwrap_or(""),
            e,
            d,
            if d > 0.0 { e / d } else { 0.0 },
            r["ms"].as_f64().unwrap_or(0.0),
            if r["complete"].as_bool() == Some(true) { "" } else { "  (incomplete)" }
        );
    }
    0
}
