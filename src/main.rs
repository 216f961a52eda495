//! The `interleave` command line: list the catalog, check variants, replay a counterexample.
//!
//! Exit status: 0 when every outcome met its expectation (for `replay`: the execution violated
//! nothing), 1 when one did not (for `replay`: it violated an invariant), 2 for bad input.

/// `println!` that does not panic when standard output is closed (`interleave check | head`): the
/// output is simply dropped.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that does not panic when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod bench;
mod nightly;

use clap::{Parser, Subcommand};
use harness::{check_variant, select, CheckOptions, Expect, Strategy};
use std::io::Write as _;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "interleave", version, about = "Deterministic concurrency model checking of audited findings")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every scenario and variant with its source and expectation.
    List,
    /// Explore variants and report whether each met its expectation.
    Check {
        /// `SCENARIO` or `SCENARIO/VARIANT`; none checks the whole catalog.
        targets: Vec<String>,
        /// portfolio (the default), random, pct, urw, dfs, shuttle-dfs, bounded or exhaustive (loom; needs `--features loom`).
        #[arg(long, default_value = "portfolio")]
        strategy: String,
        /// Executions per run (the budget of `bounded` and `portfolio`, the cap of `dfs`).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        iterations: u64,
        /// The run's seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The bug depth of `pct`.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=20))]
        depth: u64,
        /// The largest preemption bound of `bounded` (default: bounds 0 to 3, then every schedule).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=64))]
        max_preemptions: Option<u64>,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// Write one JSON fixture per counterexample into this directory (atomically).
        #[arg(long, value_name = "DIR")]
        save_fixtures: Option<std::path::PathBuf>,
        /// For variants with parameters: let proptest generate this many instances, shrink the
        /// first that fails to the smallest that still fails, and report that one (a variant
        /// without parameters is checked as it is).
        #[arg(long, value_name = "CASES", value_parser = clap::value_parser!(u32).range(1..=10_000))]
        smallest: Option<u32>,
    },
    /// Run one execution again from its replay string or fixture file and print its trace.
    Replay {
        /// The replay string printed by `check` (iv1:…), or a fixture file (FILE.json).
        schedule: String,
    },
    /// Explore every variant with fresh seeds for a time budget; write report.json, junit.xml and
    /// a fixture per unexpected counterexample into DIR.
    Nightly {
        /// How long to explore (e.g. 30s, 10m, 1h).
        #[arg(long, value_parser = humantime::parse_duration)]
        time: std::time::Duration,
        /// Where to write report.json, junit.xml and fixtures.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
        /// The run's seed (default: today's UTC date as YYYYMMDD).
        #[arg(long)]
        seed: Option<u64>,
        /// This machine's shard of the seed space, I/N (1-based).
        #[arg(long, default_value = "1/1", value_parser = nightly::parse_shard)]
        shard: (u64, u64),
        /// Hostile inputs fed to the replay-string and fixture parsers.
        #[arg(long, default_value_t = nightly::FUZZ_INPUTS)]
        fuzz_inputs: u64,
        /// Test hook: add a variant declared `holds` that is broken, to check that the nightly
        /// reports, keeps and reproduces a failure.
        #[arg(long, hide = true)]
        inject_broken: bool,
    },
    /// Measure how fast each strategy finds each bug, throughput, and exhaustive search sizes.
    Bench {
        /// Scenarios or variants to measure (`family/bug[threads=4]` too); default: the catalog and
        /// the scalable family's benchmark instances.
        targets: Vec<String>,
        /// Seeds per randomized strategy and bug.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        seeds: u64,
        /// Executions each search may spend on a bug.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        budget: u64,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// Also write the JSON object to this file (atomically), whichever is printed.
        #[arg(long, value_name = "FILE")]
        save: Option<std::path::PathBuf>,
    },
    /// Internal: one loom exploration in a child process.
    #[command(name = "__loom-child", hide = true)]
    LoomChild {
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
}

fn bad_input(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let catalog = scenarios::CATALOG;
    match cli.command {
        Command::List => {
            let mut out = std::io::stdout().lock();
            for s in catalog {
                let _ = writeln!(out, "{} — {}", s.name, s.summary);
                let _ = writeln!(out, "  source: {}, \"{}\"", s.source.seed, s.source.section);
                for v in s.variants {
                    let _ = writeln!(out, "  {:<24} {:<15} {}", v.name, v.expect.to_string(), v.summary);
                    for p in v.params {
                        let _ = writeln!(
                            out,
                            "  {:<24} {:<15} [{}={}] {}..={}: {}",
                            "", "", p.name, p.default, p.min, p.max, p.summary
                        );
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Check {
            targets,
            strategy,
            iterations,
            seed,
            depth,
            max_preemptions,
            json,
            save_fixtures,
            smallest,
        } => {
            let strategy = match Strategy::parse(&strategy, depth as usize, max_preemptions.map(|m| m as usize)) {
                Ok(s) => s,
                Err(e) => return bad_input(e),
            };
            // Named targets may also be the harness's self-test scenarios; no target means the catalog.
            let all = scenarios::all();
            let selected = match select(if targets.is_empty() { catalog } else { &all }, &targets) {
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
                outln!(
                    "{} variants, {} met their expectation, {} did not",
                    reports.len(),
                    reports.len() - failed,
                    failed
                );
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Replay { schedule } => match replay_input(&schedule) {
            Ok(r) => {
                out!("{}", r.rendered);
                if r.outcome.violation().is_some() {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => bad_input(e),
        },
        Command::Nightly { time, out, seed, shard, fuzz_inputs, inject_broken } => {
            let mut variants: Vec<_> = catalog.iter().flat_map(|s| s.variants.iter().map(move |v| (*s, v))).collect();
            if inject_broken {
                let s = &scenarios::selftest::SELFTEST;
                variants.push((s, s.variant("broken-canary").expect("the self-test has a broken canary")));
            }
            ExitCode::from(nightly::run(nightly::Nightly { time, out, seed, shard, fuzz_inputs, variants }))
        }
        Command::Bench { targets, seeds, budget, json, save } => {
            if let Some(path) = &save {
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                if !dir.is_dir() {
                    return bad_input(format!(
                        "--save {}: no directory {} to write it in",
                        path.display(),
                        dir.display()
                    ));
                }
                if path.is_dir() {
                    return bad_input(format!("--save {}: a directory; name the file to write", path.display()));
                }
            }
            let all = scenarios::all();
            let selected = if targets.is_empty() {
                select(catalog, &[]).and_then(|mut v| {
                    v.extend(select(&all, &bench::family_targets())?);
                    Ok(v)
                })
            } else {
                select(&all, &targets)
            };
            let selected = match selected {
                Ok(s) => s,
                Err(e) => return bad_input(e),
            };
            let (bugs, holds): (Vec<_>, Vec<_>) =
                selected.into_iter().partition(|(_, v)| v.expect == Expect::Counterexample);
            let b =
                bench::Bench { seeds, budget: budget as usize, json, save, child_exe: std::env::current_exe().ok() };
            ExitCode::from(bench::run(b, &bugs, &holds))
        }
        Command::LoomChild { args } => loom_child(&scenarios::all(), &args),
    }
}

#[cfg(feature = "loom")]
fn loom_child(catalog: &[&'static harness::Scenario], args: &[String]) -> ExitCode {
    ExitCode::from(harness::loom_run::child_main(catalog, args) as u8)
}

#[cfg(not(feature = "loom"))]
fn loom_child(_catalog: &[&'static harness::Scenario], _args: &[String]) -> ExitCode {
    bad_input("this build does not include loom: rebuild with `--features loom`")
}

/// A replay string, or the path of a fixture file (anything ending in `.json` or naming a file).
fn replay_input(input: &str) -> Result<harness::check::ReplayReport, harness::Error> {
    let path = std::path::Path::new(input);
    if input.ends_with(".json") || (!input.starts_with("iv") && path.is_file()) {
        let fixture = harness::fixture::Fixture::read(path)?;
        let r = harness::replay(&scenarios::all(), &fixture.replay)?;
        let found = r.outcome.violation().map(|v| v.name.as_str());
        if found != Some(fixture.invariant.as_str()) {
            eprintln!(
                "note: the fixture recorded \"{}\"; this replay {}",
                fixture.invariant,
                match found {
                    Some(v) => format!("violates \"{v}\""),
                    None => "violates nothing".into(),
                }
            );
        }
        return Ok(r);
    }
    harness::replay(&scenarios::all(), input)
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
