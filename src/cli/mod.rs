//! The `interleave` command line as a library function: [`main`] over any list of scenarios gives
//! a binary (a `[[bin]]`, or a `[[test]]` with `harness = false`) `list`, `check`, `replay`,
//! `render`, `nightly`, `bench` and the loom child process, which re-executes that same binary.
//!
//! Exit status: 0 when every outcome met its expectation (for `replay`: the execution violated
//! nothing), 1 when one did not (for `replay`: it violated an invariant), 2 when there is no
//! verdict to trust: bad input (an unknown scenario, a malformed schedule or fixture, an option the
//! strategy does not take, a destination that is not a regular file or cannot be written), or
//! output that could not be written (a full disk under standard output, a fixture or report that
//! could not be saved). A closed pipe is not an error: `interleave check | head` exits as if
//! nothing had been cut.

/// `println!` that does not panic on standard output: a closed pipe drops the output, any other
/// write error is remembered and makes the exit status 2 (see [`output`]).
macro_rules! outln {
    () => {
        $crate::cli::output::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that does not panic on standard output (see [`outln!`]).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that does not panic on standard error: a closed pipe drops the message (and the
/// run goes on: fixtures are still written), any other write error makes the exit status 2.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) mod output {
    //! Standard output and standard error for the whole command line. Rust ignores `SIGPIPE`, so a
    //! closed pipe shows up as `BrokenPipe` errors: those are dropped silently, as a reader that
    //! stopped reading asked for. Any other write error (a full disk, an I/O error) is remembered;
    //! [`finish`] reports the first one and turns the exit status into 2, so `check --json > file`
    //! on a full disk never exits 0 with truncated JSON. After a failed write a stream stays silent,
    //! so what was written is a prefix of the output, never output with holes.

    use std::fmt::Arguments;
    use std::io::Write as _;
    use std::sync::Mutex;

    /// The first error other than a closed pipe on each stream: standard output, standard error.
    static FAILED: Mutex<[Option<String>; 2]> = Mutex::new([None, None]);

    fn write(stream: usize, args: Arguments<'_>) {
        let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
        if failed[stream].is_some() {
            return;
        }
        let result = if stream == 0 {
            std::io::stdout().lock().write_fmt(args)
        } else {
            std::io::stderr().lock().write_fmt(args)
        };
        if let Err(e) = result {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                failed[stream] = Some(e.to_string());
            }
        }
    }

    /// Writes to standard output.
    pub fn stdout(args: Arguments<'_>) {
        write(0, args);
    }

    /// Writes to standard error.
    pub fn stderr(args: Arguments<'_>) {
        write(1, args);
    }

    /// Flushes standard output and returns `code`, or 2 when a write to either stream failed with
    /// anything but a closed pipe (the error is reported on standard error, if that still works).
    pub fn finish(code: std::process::ExitCode) -> std::process::ExitCode {
        {
            let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
            if failed[0].is_none() {
                if let Err(e) = std::io::stdout().lock().flush() {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        failed[0] = Some(e.to_string());
                    }
                }
            }
        }
        let failed = FAILED.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(e) = &failed[0] {
            stderr(format_args!("error: cannot write to standard output: {e}\n"));
        }
        if failed.iter().any(Option::is_some) {
            std::process::ExitCode::from(2)
        } else {
            code
        }
    }
}

mod bench;
mod check;
mod list;
mod nightly;
mod render;
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
    /// List every scenario, grouped by audit, with each variant's expectation.
    List {
        /// Print `[{"scenario", "source": {"seed", "section"}, "summary", "variants": [{"name", "expect"}]}]`.
        #[arg(long)]
        json: bool,
    },
    /// Explore variants and report whether each met its expectation.
    Check {
        /// `SCENARIO` or `SCENARIO/VARIANT`; none checks the whole catalog.
        targets: Vec<String>,
        /// portfolio (the default), random, pct, urw (shuttle's schedulers), pos, surw, step-pct (the harness's step-level samplers), dfs, shuttle-dfs, bounded or exhaustive (loom; needs `--features loom`).
        #[arg(long, default_value = "portfolio")]
        strategy: String,
        /// The exploration's whole budget in executions, for every strategy: per run of random, pct and urw; the cap of dfs, shuttle-dfs and bounded; the portfolio's total. Minimizing a counterexample has its own, --minimize-budget.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        iterations: u64,
        /// Executions the minimizer may spend on a counterexample (the fewest preemptions, then the fewest steps).
        #[arg(long, value_name = "N", default_value_t = harness::CheckOptions::default().minimize_budget as u64, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        minimize_budget: u64,
        /// The run's seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The bug depth of `pct` and `step-pct` (default 3); only those strategies take it.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20))]
        depth: Option<u64>,
        /// The largest preemption bound of `bounded` (default: bounds 0 to 3, then every schedule); only `--strategy bounded` takes it.
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=64))]
        max_preemptions: Option<u64>,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// Write one JSON fixture per counterexample into this directory (atomically), as each is found.
        #[arg(long, value_name = "DIR")]
        save_fixtures: Option<std::path::PathBuf>,
        /// Write one self-contained HTML page per counterexample into this directory (atomically),
        /// `<scenario>__<variant>.html`, as each is found.
        #[arg(long, value_name = "DIR")]
        html_dir: Option<std::path::PathBuf>,
        /// For variants with parameters: let proptest generate this many instances, shrink the
        /// first that fails to the smallest that still fails, and report that one (a variant
        /// without parameters is checked as it is).
        #[arg(long, value_name = "CASES", value_parser = clap::value_parser!(u32).range(1..=10_000))]
        smallest: Option<u32>,
    },
    /// Run one execution again from its replay string or fixture file and print its trace.
    Replay {
        /// The replay string printed by `check` (iv1:… or iv2:…), or a fixture file (FILE.json).
        schedule: String,
    },
    /// Run one execution again from its replay string or fixture file and draw it as one
    /// self-contained HTML page: a lane per thread, a row per step, the model state at each step.
    Render {
        /// The replay string printed by `check` (iv1:… or iv2:…), or a fixture file (FILE.json).
        schedule: String,
        /// The page to write (atomically): absent or a regular file, not a directory, a FIFO or a
        /// symbolic link.
        #[arg(long, value_name = "OUT.html")]
        html: std::path::PathBuf,
    },
    /// Explore every variant with fresh seeds, for a time budget or a number of chunks per
    /// variant; write report.json, junit.xml and a fixture per unexpected counterexample into DIR.
    #[command(group(clap::ArgGroup::new("budget").args(["time", "chunks"]).multiple(true).required(true)))]
    Nightly {
        /// How long to explore (e.g. 30s, 10m, 1h). Every variant gets its first chunk however short
        /// this is; after that no chunk starts once it has passed.
        #[arg(long, value_parser = humantime::parse_duration)]
        time: Option<std::time::Duration>,
        /// At most this many chunks (of 500 executions) per variant, the first included: a run
        /// bounded by work, not by the clock. With --time too, whichever ends first.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        chunks: Option<u64>,
        /// Where to write report.json, junit.xml and fixtures: a new or empty directory, or one an
        /// earlier nightly wrote (its reports and fixtures are removed first).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
        /// Write one self-contained HTML page per counterexample found into this directory,
        /// `<scenario>__<variant>.html`: `--out` itself (the pages are then the run's, removed with
        /// its reports by the next run) or a directory outside it.
        #[arg(long, value_name = "DIR")]
        html_dir: Option<std::path::PathBuf>,
        /// The run's seed (default: today's UTC date as YYYYMMDD).
        #[arg(long)]
        seed: Option<u64>,
        /// This machine's shard of the seed space, I/N (1-based).
        #[arg(long, default_value = "1/1", value_parser = nightly::parse_shard)]
        shard: (u64, u64),
        /// Hostile inputs fed to the replay-string and fixture parsers.
        #[arg(long, default_value_t = nightly::FUZZ_INPUTS)]
        fuzz_inputs: u64,
        /// Test hook: add a variant declared `holds` that is broken, checked first, to check that the
        /// nightly reports, keeps and reproduces a failure (the run is then never green).
        #[arg(long, hide = true)]
        inject_broken: bool,
        /// Test hook: kill the process (SIGKILL) after junit.xml is written and before report.json.
        #[arg(long, hide = true)]
        kill_between_reports: bool,
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
        /// Also write the JSON object to this file (atomically), whichever is printed. The file may
        /// be absent or a regular file; anything else (a directory, a FIFO, a device, a symbolic
        /// link) is refused before the run.
        #[arg(long, value_name = "FILE")]
        save: Option<std::path::PathBuf>,
        /// Only these strategies, by their labels in the tables, comma-separated (`pos,surw,bare urw`);
        /// default: all of them.
        #[arg(long, value_delimiter = ',')]
        strategies: Vec<String>,
        /// Skip the throughput and exhaustive tables (bug finding only).
        #[arg(long)]
        no_holds: bool,
        /// Skip the exhaustive table (keep throughput): the exhaustive searches of many-thread
        /// instances do not finish in any time worth waiting.
        #[arg(long)]
        no_exhaustive: bool,
    },
    /// Internal: one loom exploration in a child process.
    #[command(name = "__loom-child", hide = true)]
    LoomChild {
        #[arg(num_args = 0..)]
        args: Vec<String>,
    },
}

/// Reports `e` as bad input (or an unwritable destination) and returns exit status 2.
/// The name this command line runs under (`interleave`, or a user's own binary), for the
/// commands it prints.
pub(crate) fn program() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "interleave".into())
}

pub(crate) fn bad_input(e: impl std::fmt::Display) -> ExitCode {
    errln!("error: {e}");
    ExitCode::from(2)
}

/// Runs the command line over `catalog`, with the process's arguments, and returns the exit
/// status. The harness's own scenarios ([`crate::internal::INTERNAL`]) are reachable by name
/// beside them; `list` and a bare `check` show only `catalog`.
///
/// With no arguments at all it runs `check` (so that a `[[test]]` target with `harness = false`
/// calling it checks every scenario under `cargo test`).
pub fn main(catalog: &[&'static harness::Scenario]) -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 1 {
        args.push("check".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to standard output, errors to standard error; either may fail.
            let printed = e.print();
            let code = ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
            return match printed {
                Err(p) if p.kind() != std::io::ErrorKind::BrokenPipe => ExitCode::from(2),
                _ => output::finish(code),
            };
        }
    };
    output::finish(run(cli, catalog))
}

fn run(cli: Cli, catalog: &[&'static harness::Scenario]) -> ExitCode {
    let all: Vec<&'static harness::Scenario> =
        catalog.iter().chain(crate::internal::INTERNAL.iter()).copied().collect();
    match cli.command {
        Command::List { json } => list::run(catalog, json),
        Command::Check {
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
        } => check::run(
            catalog,
            &all,
            check::Args {
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
            },
        ),
        Command::Replay { schedule } => replay::run(&all, &schedule),
        Command::Render { schedule, html } => render::run(&all, &schedule, &html),
        Command::Nightly {
            time,
            chunks,
            out,
            html_dir,
            seed,
            shard,
            fuzz_inputs,
            inject_broken,
            kill_between_reports,
        } => {
            let mut variants: Vec<_> = catalog.iter().flat_map(|s| s.variants.iter().map(move |v| (*s, v))).collect();
            if inject_broken {
                // First, so that no budget, however short, ends the run before it.
                let s = &crate::internal::selftest::SELFTEST;
                variants.insert(0, (s, s.variant("broken-canary").expect("the self-test has a broken canary")));
            }
            ExitCode::from(nightly::run(nightly::Nightly {
                time,
                chunks,
                out,
                html_dir,
                seed,
                shard,
                fuzz_inputs,
                variants,
                canary: inject_broken.then_some(0),
                kill_between_reports,
            }))
        }
        Command::Bench { targets, seeds, budget, json, save, strategies, no_holds, no_exhaustive } => {
            let known = bench::strategy_labels();
            if let Some(bad) = strategies.iter().find(|s| !known.contains(s)) {
                return bad_input(format!(
                    "unknown benchmark strategy '{}': valid ones are {}",
                    bad.chars().take(40).collect::<String>(),
                    known.join(", ")
                ));
            }
            if let Some(path) = &save {
                if let Err(e) = harness::atomic_file::check_destination(path) {
                    return bad_input(format!("--save {}: {e}", path.display()));
                }
                harness::atomic_file::remove_stale_temps(
                    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")),
                );
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
            let (bugs, mut holds): (Vec<_>, Vec<_>) =
                selected.into_iter().partition(|(_, v)| v.expect == Expect::Counterexample);
            if no_holds {
                holds.clear();
            }
            let b = bench::Bench {
                seeds,
                budget: budget as usize,
                json,
                save,
                child_exe: std::env::current_exe().ok(),
                only: strategies,
                exhaustive: !no_exhaustive,
            };
            ExitCode::from(bench::run(b, &bugs, &holds))
        }
        Command::LoomChild { args: _ } => loom_child(&all),
    }
}

#[cfg(feature = "loom")]
fn loom_child(catalog: &[&'static harness::Scenario]) -> ExitCode {
    ExitCode::from(harness::loom_run::child_main(catalog) as u8)
}

#[cfg(not(feature = "loom"))]
fn loom_child(_catalog: &[&'static harness::Scenario]) -> ExitCode {
    bad_input("this build does not include loom: rebuild with `--features loom`")
}
