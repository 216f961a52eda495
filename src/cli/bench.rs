//! `interleave bench`: how fast each strategy finds each bug (the catalog's and the scalable
//! family's), against shuttle's own schedulers run bare on the same body; how many executions per
//! second the harness runs and what its tracing and recording cost against bare shuttle; and how
//! close the exhaustive searches come to one execution per distinct interleaving. Measurements,
//! printed as tables or JSON; never pass/fail.

use harness::{check_variant, CheckOptions, Expect, Scenario, Strategy, Variant};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::time::Instant;

/// Options of a benchmark run.
pub struct Bench {
    /// Seeds per randomized strategy and bug.
    pub seeds: u64,
    /// Executions a search may spend on one bug.
    pub budget: usize,
    /// Print JSON instead of tables.
    pub json: bool,
    /// The `interleave` executable, for loom's child processes.
    pub child_exe: Option<std::path::PathBuf>,
    /// Where to write the JSON object as well (checked before the run, written atomically).
    pub save: Option<std::path::PathBuf>,
    /// Only these strategies (labels as in the tables); empty: all.
    pub only: Vec<String>,
    /// Whether to run the exhaustive searches of the holds variants.
    pub exhaustive: bool,
}

/// Every strategy label the benchmark knows, for messages.
pub fn strategy_labels() -> Vec<String> {
    strategies().into_iter().map(|(l, _)| l).collect()
}

/// One instance of the scalable family (see `internal::family`).
#[derive(Clone, Copy, Debug)]
pub struct Instance {
    /// Threads besides main.
    pub threads: usize,
    /// Steps per thread.
    pub steps: usize,
    /// Ordering constraints the bug needs.
    pub depth: usize,
    /// Threads that carry each event (1: one specific thread opens each window).
    pub openers: usize,
    /// Steps per thread on a shared object the bug does not need.
    pub noise: usize,
    /// 0 plain shared variable, 1 a mutex around every event, 2 and a condition-variable gate.
    pub sync: usize,
}

const fn inst(threads: usize, steps: usize, depth: usize, openers: usize, noise: usize, sync: usize) -> Instance {
    Instance { threads, steps, depth, openers, noise, sync }
}

/// The scalable family's instances the benchmark measures, so that no one shape decides: 2 to 100
/// threads; short threads (6 to 10 steps) and long ones (250 steps, of which at most a dozen touch
/// a shared object); bug depth 1 to 5; windows only one thread opens and windows any of several
/// can; plain shared variables, mutexes, and a condition-variable gate; with and without shared
/// traffic the bug does not need. The layout of each is the generator's (layout seed 0), not
/// chosen. (At most 2,000 steps an execution: long threads come at most six at a time.)
pub const FAMILY: &[Instance] = &[
    inst(2, 10, 1, 1, 0, 0),
    inst(2, 10, 3, 1, 0, 1),
    inst(2, 250, 5, 1, 2, 0),
    inst(3, 40, 3, 1, 0, 0),
    inst(4, 10, 2, 1, 0, 0),
    inst(4, 10, 4, 2, 1, 2),
    inst(4, 250, 3, 1, 3, 1),
    inst(6, 250, 3, 2, 2, 2),
    inst(10, 10, 2, 1, 0, 0),
    inst(10, 8, 3, 2, 1, 1),
    inst(10, 10, 5, 2, 0, 0),
    inst(20, 8, 2, 1, 0, 0),
    inst(20, 8, 3, 3, 1, 2),
    inst(50, 8, 2, 1, 0, 1),
    inst(50, 6, 3, 3, 1, 0),
    inst(100, 6, 1, 1, 0, 0),
    inst(100, 6, 2, 1, 1, 2),
    inst(100, 8, 3, 3, 0, 1),
];

/// The name of a family instance's bug (parameters at their defaults left out).
pub fn instance_name(i: &Instance) -> String {
    let mut p = format!("threads={},steps={},depth={}", i.threads, i.steps, i.depth);
    for (name, v, default) in [("openers", i.openers, 1), ("noise", i.noise, 0), ("sync", i.sync, 0)] {
        if v != default {
            p.push_str(&format!(",{name}={v}"));
        }
    }
    format!("family/bug[{p}]")
}

/// The family instances to measure: the bug for bug finding, the twin for the exhaustive table.
pub fn family_targets() -> Vec<String> {
    let mut t: Vec<String> = FAMILY.iter().map(instance_name).collect();
    t.push("family/holds[threads=2,steps=6,depth=2]".into());
    t
}

/// A strategy as the benchmark runs it: through the harness, or bare shuttle on the same body.
#[derive(Clone, Copy)]
enum Runner {
    Ours(Strategy),
    Bare(Strategy),
}

fn strategies() -> Vec<(String, Runner)> {
    let mut v: Vec<(String, Runner)> = vec![
        ("random".into(), Runner::Ours(Strategy::Random)),
        ("pct(d=1)".into(), Runner::Ours(Strategy::Pct { depth: 1 })),
        ("pct(d=2)".into(), Runner::Ours(Strategy::Pct { depth: 2 })),
        ("pct(d=3)".into(), Runner::Ours(Strategy::Pct { depth: 3 })),
        ("urw".into(), Runner::Ours(Strategy::Urw)),
        ("pos".into(), Runner::Ours(Strategy::Pos)),
        ("surw".into(), Runner::Ours(Strategy::Surw)),
        ("step-pct(d=2)".into(), Runner::Ours(Strategy::StepPct { depth: 2 })),
        ("step-pct(d=3)".into(), Runner::Ours(Strategy::StepPct { depth: 3 })),
        ("bounded".into(), Runner::Ours(Strategy::Bounded { max_preemptions: None })),
    ];
    v.push(("default".into(), Runner::Ours(Strategy::DEFAULT)));
    v.extend([
        ("bare random".into(), Runner::Bare(Strategy::Random)),
        ("bare pct(d=1)".into(), Runner::Bare(Strategy::Pct { depth: 1 })),
        ("bare pct(d=2)".into(), Runner::Bare(Strategy::Pct { depth: 2 })),
        ("bare pct(d=3)".into(), Runner::Bare(Strategy::Pct { depth: 3 })),
        ("bare urw".into(), Runner::Bare(Strategy::Urw)),
    ]);
    v
}

/// Whether every seed gives the same run (so one run stands for all seeds).
fn deterministic(r: Runner) -> bool {
    match r {
        Runner::Ours(s) => s.is_systematic(),
        Runner::Bare(_) => false,
    }
}

/// The `p` quantile of `found` among `seeds` runs, counting a run that did not find the bug as
/// worse than any that did: `None` when that quantile did not find it.
fn quantile(found: &[usize], seeds: usize, p: f64) -> Option<usize> {
    if seeds == 0 {
        return None;
    }
    let i = ((seeds as f64 - 1.0) * p).round() as usize;
    found.get(i).copied()
}

fn median_f(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

fn name(s: &Scenario, v: &Variant) -> String {
    format!("{}/{}", s.name, v.name)
}

/// Executions to the first counterexample of one run (`None`: not within the budget).
fn find(
    s: &'static Scenario,
    v: &'static Variant,
    r: Runner,
    seed: u64,
    budget: usize,
) -> Result<Option<usize>, String> {
    match r {
        Runner::Ours(strategy) => {
            // A systematic search gets exactly the budget here, like every other strategy.
            let opts = CheckOptions {
                strategy,
                iterations: budget,
                seed,
                minimize: false,
                minimize_budget: budget,
                ..CheckOptions::default()
            };
            let rep = check_variant(s, v, &opts).map_err(|e| e.to_string())?;
            Ok((rep.outcome == Expect::Counterexample).then_some(rep.executions))
        }
        Runner::Bare(strategy) => {
            let b = harness::check::bare(v, strategy, seed, budget).map_err(|e| e.to_string())?;
            Ok(b.failed.then_some(b.executions))
        }
    }
}

/// Runs the benchmark; `bugs` are the counterexample variants to find, `holds` the variants for
/// throughput and exhaustive search. Returns the exit status.
pub fn run(
    b: Bench,
    bugs: &[(&'static Scenario, &'static Variant)],
    holds: &[(&'static Scenario, &'static Variant)],
) -> u8 {
    let strats: Vec<(String, Runner)> =
        strategies().into_iter().filter(|(l, _)| b.only.is_empty() || b.only.contains(l)).collect();
    let total = bugs.len() as u64 * strats.len() as u64 * b.seeds;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} elapsed, eta {eta} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut bug_rows = Vec::new();
    for &(s, v) in bugs {
        if let Some(bar) = &bar {
            bar.set_message(name(s, v));
        }
        for (label, runner) in &strats {
            let seeds = if deterministic(*runner) { 1 } else { b.seeds };
            let mut found = Vec::new();
            let mut ms = Vec::new();
            let mut per_seed = Vec::new();
            for seed in 0..seeds {
                let t = Instant::now();
                match find(s, v, *runner, seed, b.budget) {
                    Ok(Some(n)) => {
                        found.push(n);
                        per_seed.push(Some(n));
                        ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(None) => per_seed.push(None),
                    Err(e) => {
                        errln!("error: {e}");
                        return 2;
                    }
                }
                if let Some(bar) = &bar {
                    bar.inc(if seeds == 1 { b.seeds } else { 1 });
                }
            }
            found.sort_unstable();
            let n = seeds as usize;
            bug_rows.push(json!({
                "scenario": s.name,
                "variant": v.name,
                "strategy": label,
                "seeds": seeds,
                "found": found.len() as f64 / n as f64,
                "median_executions": quantile(&found, n, 0.5),
                "p90_executions": quantile(&found, n, 0.9),
                "median_ms": median_f(ms),
                "executions_by_seed": per_seed,
            }));
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let labels: Vec<String> = strats.iter().map(|(l, _)| l.clone()).collect();
    let summary = summarize(&bug_rows, bugs, b.budget, &labels);
    let (throughput, exhaustive) = match holds_tables(&b, holds) {
        Ok(t) => t,
        Err(e) => {
            errln!("error: {e}");
            return 2;
        }
    };
    let out = json!({
        "bug_finding": bug_rows,
        "throughput": throughput,
        "exhaustive": exhaustive,
        "summary": summary,
        "seeds": b.seeds,
        "budget": b.budget,
    });
    if let Some(path) = &b.save {
        let text = serde_json::to_string_pretty(&out).unwrap_or_default();
        if let Err(e) = harness::atomic_file::write(path, text.as_bytes()) {
            errln!("error: --save {}: {e}", path.display());
            return 2;
        }
    }
    if b.json {
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_tables(&b, &out);
    }
    0
}

/// Per bug: the default's median against the best single strategy's and the best bare shuttle
/// scheduler's; per strategy: the total of its medians over all bugs (a bug it did not find in
/// half its seeds counts as the whole budget, so that total is a lower bound).
fn summarize(
    rows: &[Value],
    bugs: &[(&'static Scenario, &'static Variant)],
    budget: usize,
    labels: &[String],
) -> Value {
    let median = |s: &str, v: &str, strat: &str| -> Option<usize> {
        rows.iter()
            .find(|r| r["scenario"] == s && r["variant"] == v && r["strategy"] == strat)
            .and_then(|r| r["median_executions"].as_u64())
            .map(|x| x as usize)
    };
    let singles: Vec<&String> = labels.iter().filter(|l| *l != "default" && !l.starts_with("bare ")).collect();
    let bares: Vec<&String> = labels.iter().filter(|l| l.starts_with("bare ")).collect();
    let mut per_bug = Vec::new();
    let mut totals: Vec<(String, usize, usize)> = labels.iter().map(|l| (l.clone(), 0, 0)).collect();
    for &(s, v) in bugs {
        for t in totals.iter_mut() {
            match median(s.name, v.name, &t.0) {
                Some(m) => t.1 += m,
                None => {
                    t.1 += budget;
                    t.2 += 1;
                }
            }
        }
        let best =
            |set: &[&String]| set.iter().filter_map(|l| median(s.name, v.name, l).map(|m| (m, (*l).clone()))).min();
        let default = median(s.name, v.name, "default");
        let single = best(&singles);
        let bare = best(&bares);
        let ratio = |a: Option<usize>, b: Option<(usize, String)>| match (a, b) {
            (Some(a), Some((b, _))) => Some(a as f64 / b.max(1) as f64),
            _ => None,
        };
        per_bug.push(json!({
            "scenario": s.name,
            "variant": v.name,
            "default_median": default,
            "best_single": single.as_ref().map(|x| &x.1),
            "best_single_median": single.as_ref().map(|x| x.0),
            "default_vs_best_single": ratio(default, single.clone()),
            "best_bare": bare.as_ref().map(|x| &x.1),
            "best_bare_median": bare.as_ref().map(|x| x.0),
            "default_vs_best_bare": ratio(default, bare.clone()),
        }));
    }
    let totals: Vec<Value> = totals
        .into_iter()
        .map(|(l, total, missed)| json!({"strategy": l, "total_median_executions": total, "bugs_missed": missed}))
        .collect();
    json!({ "per_bug": per_bug, "totals": totals })
}

/// Throughput (harness against bare shuttle, random scheduler, same seed and executions) and the
/// exhaustive searches of the holds variants.
fn holds_tables(
    b: &Bench,
    holds: &[(&'static Scenario, &'static Variant)],
) -> Result<(Vec<Value>, Vec<Value>), String> {
    let mut throughput = Vec::new();
    let mut exhaustive = Vec::new();
    for &(s, v) in holds {
        let one = harness::check::replay_lenient(v, Vec::new()).trace;
        let threads = one.threads.len().saturating_sub(1);
        // The steps of one execution (the one that always runs the first thread that can): the
        // per-step figures below divide by it, which is exact where every execution makes as many
        // steps (the family) and an estimate elsewhere.
        let steps = one.step_count().max(1);
        let n = b.budget.clamp(1, 5_000);
        // Alternate harness, bare and step-level runs, three of each, and keep the median rate of
        // each. The step-level sampler (`surw`) runs in the harness's controlled mode, where the
        // world decides every step: its cost per step is the harness's own.
        let (mut ours, mut bare, mut stepped) = (Vec::new(), Vec::new(), Vec::new());
        let mut distinct = 0;
        for rep in 0..3u64 {
            let opts = CheckOptions {
                strategy: Strategy::Random,
                iterations: n,
                seed: rep + 1,
                minimize: false,
                ..CheckOptions::default()
            };
            let t = Instant::now();
            let r = check_variant(s, v, &opts).map_err(|e| e.to_string())?;
            ours.push(r.executions as f64 / t.elapsed().as_secs_f64().max(1e-9));
            distinct = distinct.max(r.distinct_interleavings);
            let t = Instant::now();
            let r = harness::check::bare(v, Strategy::Random, rep + 1, n).map_err(|e| e.to_string())?;
            bare.push(r.executions as f64 / t.elapsed().as_secs_f64().max(1e-9));
            let t = Instant::now();
            let r =
                check_variant(s, v, &CheckOptions { strategy: Strategy::Surw, ..opts }).map_err(|e| e.to_string())?;
            stepped.push(r.executions as f64 / t.elapsed().as_secs_f64().max(1e-9));
        }
        let (ours, bare) = (median_f(ours).unwrap_or(0.0), median_f(bare).unwrap_or(0.0));
        let stepped = median_f(stepped).unwrap_or(0.0);
        let us_per_step = |rate: f64| if rate > 0.0 { 1e6 / (rate * steps as f64) } else { 0.0 };
        throughput.push(json!({
            "scenario": s.name,
            "variant": v.name,
            "threads": threads,
            "executions_per_sec": ours,
            "bare_executions_per_sec": bare,
            "overhead_vs_bare_shuttle": if ours > 0.0 { bare / ours } else { 0.0 },
            "steps_per_execution": steps,
            "us_per_step": us_per_step(ours),
            "surw_executions_per_sec": stepped,
            "surw_us_per_step": us_per_step(stepped),
        }));
        if !b.exhaustive {
            continue;
        }
        let mut backends = vec![
            ("dfs", Strategy::Dfs),
            ("shuttle dfs", Strategy::ShuttleDfs),
            ("bounded", Strategy::Bounded { max_preemptions: None }),
        ];
        if cfg!(feature = "loom") && b.child_exe.is_some() {
            backends.push(("loom", Strategy::Exhaustive));
        }
        let mut complete_distinct = None;
        for (backend, strategy) in backends {
            let opts = CheckOptions {
                strategy,
                iterations: 100_000,
                seed: 0,
                child_exe: b.child_exe.clone(),
                child_mode: harness::check::ChildMode::Cli,
                minimize: false,
                minimize_budget: 100_000,
                loom_cap: harness::check::DEFAULT_LOOM_CAP,
            };
            let t = Instant::now();
            let r = check_variant(s, v, &opts).map_err(|e| e.to_string())?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            // For loom, the unbounded run is the exhaustive one.
            let run =
                if backend == "loom" { r.runs.iter().find(|x| x.run == "loom unbounded") } else { r.runs.first() };
            let Some(run) = run else { continue };
            if run.complete && backend == "bounded" {
                complete_distinct = Some(run.distinct);
            }
            exhaustive.push(json!({
                "scenario": s.name,
                "variant": v.name,
                "backend": backend,
                "executions": run.executions,
                "distinct_interleavings": run.distinct,
                "complete": run.complete,
                "ms": ms,
            }));
        }
        // Coverage: the share of all distinct interleavings the random run above reached.
        if let (Some(all), Some(row)) = (complete_distinct, throughput.last_mut()) {
            row["random_coverage"] = json!(distinct as f64 / all.max(1) as f64);
            row["random_executions"] = json!(n);
        }
    }
    Ok((throughput, exhaustive))
}

fn opt_u(v: &Value) -> String {
    v.as_u64().map_or("-".into(), |x| x.to_string())
}

fn print_tables(b: &Bench, out: &Value) {
    let rows = |k: &str| out[k].as_array().cloned().unwrap_or_default();
    let vname = |r: &Value| format!("{}/{}", r["scenario"].as_str().unwrap_or(""), r["variant"].as_str().unwrap_or(""));
    outln!(
        "bug finding ({} seeds, budget {} executions; median and p90 count a miss as worse than any find)",
        b.seeds,
        b.budget
    );
    outln!("{:<52} {:<14} {:>6} {:>8} {:>8} {:>9}", "variant", "strategy", "found", "median", "p90", "median ms");
    for r in rows("bug_finding") {
        outln!(
            "{:<52} {:<14} {:>5.0}% {:>8} {:>8} {:>9}",
            vname(&r),
            r["strategy"].as_str().unwrap_or(""),
            r["found"].as_f64().unwrap_or(0.0) * 100.0,
            opt_u(&r["median_executions"]),
            opt_u(&r["p90_executions"]),
            r["median_ms"].as_f64().map_or("-".into(), |x| format!("{x:.1}")),
        );
    }
    outln!("\ndefault against the best single strategy and the best bare shuttle scheduler (median executions)");
    outln!(
        "{:<52} {:>8} {:>22} {:>6} {:>22} {:>6}",
        "variant",
        "default",
        "best single",
        "ratio",
        "best bare",
        "ratio"
    );
    for r in out["summary"]["per_bug"].as_array().cloned().unwrap_or_default() {
        let best = |k: &str, m: &str| format!("{} {}", r[k].as_str().unwrap_or("-"), opt_u(&r[m]));
        let ratio = |k: &str| r[k].as_f64().map_or("-".into(), |x| format!("{x:.2}"));
        outln!(
            "{:<52} {:>8} {:>22} {:>6} {:>22} {:>6}",
            vname(&r),
            opt_u(&r["default_median"]),
            best("best_single", "best_single_median"),
            ratio("default_vs_best_single"),
            best("best_bare", "best_bare_median"),
            ratio("default_vs_best_bare"),
        );
    }
    outln!("\ntotal of medians over every bug (a miss counts as the whole budget)");
    for r in out["summary"]["totals"].as_array().cloned().unwrap_or_default() {
        outln!(
            "  {:<14} {:>9}  ({} bugs missed)",
            r["strategy"].as_str().unwrap_or(""),
            opt_u(&r["total_median_executions"]),
            opt_u(&r["bugs_missed"])
        );
    }
    outln!(
        "\nthroughput (random scheduler; harness against bare shuttle on the same body; µs per step of it and of the \
         step-level surw, whose every step the harness decides)"
    );
    outln!(
        "{:<52} {:>7} {:>12} {:>12} {:>9} {:>9} {:>8} {:>10}",
        "variant",
        "threads",
        "harness/s",
        "bare/s",
        "overhead",
        "coverage",
        "µs/step",
        "surw µs/step"
    );
    for r in rows("throughput") {
        outln!(
            "{:<52} {:>7} {:>12.0} {:>12.0} {:>8.2}x {:>9} {:>8.1} {:>12.1}",
            vname(&r),
            opt_u(&r["threads"]),
            r["executions_per_sec"].as_f64().unwrap_or(0.0),
            r["bare_executions_per_sec"].as_f64().unwrap_or(0.0),
            r["overhead_vs_bare_shuttle"].as_f64().unwrap_or(0.0),
            r["random_coverage"].as_f64().map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
            r["us_per_step"].as_f64().unwrap_or(0.0),
            r["surw_us_per_step"].as_f64().unwrap_or(0.0),
        );
    }
    outln!("\nexhaustive (holds variants)");
    outln!("{:<52} {:<12} {:>10} {:>9} {:>7} {:>9}", "variant", "backend", "executions", "distinct", "ratio", "ms");
    for r in rows("exhaustive") {
        let e = r["executions"].as_f64().unwrap_or(0.0);
        let d = r["distinct_interleavings"].as_f64().unwrap_or(0.0);
        outln!(
            "{:<52} {:<12} {:>10} {:>9} {:>7.2} {:>9.0}{}",
            vname(&r),
            r["backend"].as_str().unwrap_or(""),
            e,
            d,
            if d > 0.0 { e / d } else { 0.0 },
            r["ms"].as_f64().unwrap_or(0.0),
            if r["complete"].as_bool() == Some(true) { "" } else { "  (incomplete)" }
        );
    }
}
