//! The `interleave` command line as a library function: [`main`] over any list of scenarios gives
//! a binary (a `[[bin]]`, or a `[[test]]` with `harness = false`) `list`, `check`, `replay`,
//! `nightly`, `bench` and the loom child process, which re-executes that same binary.
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
mod check;
mod list;
mod nightly;
mod replay;

use clap::{Parser, Subcommand};
use harness::{select, Expect};
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
        /// The exploration's budget in executions: per run of random, pct and urw; the cap of dfs, shuttle-dfs and bounded; the portfolio's total.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
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

pub(crate) fn bad_input(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Runs the command line over `catalog`, with the process's arguments, and returns the exit
/// status. The harness's own scenarios ([`crate::internal::INTERNAL`]) are reachable by name
/// beside them; `list` and a bare `check` show only `catalog`.
pub fn main(catalog: &[&'static harness::Scenario]) -> ExitCode {
    let cli = Cli::parse();
    let all: Vec<&'static harness::Scenario> =
        catalog.iter().chain(crate::internal::INTERNAL.iter()).copied().collect();
    match cli.command {
        Command::List => list::run(catalog),
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
        } => check::run(
            catalog,
            &all,
            check::Args { targets, strategy, iterations, seed, depth, max_preemptions, json, save_fixtures, smallest },
        ),
        Command::Replay { schedule } => replay::run(&all, &schedule),
        Command::Nightly { time, out, seed, shard, fuzz_inputs, inject_broken } => {
            let mut variants: Vec<_> = catalog.iter().flat_map(|s| s.variants.iter().map(move |v| (*s, v))).collect();
            if inject_broken {
                let s = &crate::internal::selftest::SELFTEST;
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
        Command::LoomChild { args } => loom_child(&all, &args),
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
