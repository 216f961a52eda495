//! `interleave nightly`: spend a time budget exploring every variant with fresh seeds, in shards
//! that never repeat each other's work; write `report.json`, a JUnit XML report and a fixture per
//! unexpected counterexample; end the log with the command that reproduces each failure.
//!
//! Seeds: the run's seed (by default derived from today's UTC date, printed first) and the shard
//! `I/N` give chunk `k` of the run the seed `mix(seed, k * N + I)`, so shards partition the seed
//! space and a rerun with the same seed and shard repeats the same chunks in the same order.

use harness::fixture::{Fixture, FIXTURE_FORMAT};
use harness::{check_variant, CheckOptions, Expect, Scenario, Strategy, Variant};
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Executions per chunk: one strategy, one seed, one variant.
const CHUNK: usize = 500;

/// The strategies the nightly rotates through.
const ROTATION: [Strategy; 3] = [Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Urw];

/// Options of a nightly run.
pub struct Nightly {
    pub time: Duration,
    pub out: PathBuf,
    pub seed: Option<u64>,
    pub shard: (u64, u64),
    pub fuzz_inputs: u64,
    pub variants: Vec<(&'static Scenario, &'static Variant)>,
}

/// The shard `I/N`, 1-based: `1/4` … `4/4`.
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || {
        format!(
            "invalid shard '{}': expected I/N with 1 <= I <= N <= 1024, e.g. 2/4",
            s.chars().take(30).collect::<String>()
        )
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i == 0 || n == 0 || i > n || n > 1024 {
        return Err(bad());
    }
    Ok((i, n))
}

/// splitmix64: a bijective mix, so distinct inputs give distinct seeds.
fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Today's seed: the UTC date as YYYYMMDD (readable in a log, stable for a day). The command line
/// may read the clock; models and scenarios never do.
fn date_seed() -> u64 {
    let days = std::time::SystemTime::UNIX_EPOCH.elapsed().map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y * 10_000 + m * 100 + d) as u64
}

struct Tally {
    scenario: &'static str,
    variant: &'static str,
    expect: Expect,
    executions: usize,
    chunks: usize,
    found: Option<(String, String, String, String, u64)>, // invariant, replay, trace, strategy, seed
    fixture: Option<PathBuf>,
}

impl Tally {
    fn ok(&self) -> bool {
        match self.expect {
            Expect::Counterexample => self.found.is_some(),
            Expect::Holds => self.found.is_none(),
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes `contents` to `path` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp =
        dir.join(format!(".{}.tmp-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Inputs the parser fuzzing phase feeds to the replay-string and fixture parsers.
pub const FUZZ_INPUTS: u64 = 1_000_000;

/// Feeds `count` hostile inputs (random bytes, and valid replay strings and fixtures with bytes
/// altered, cut or inserted) to the replay-string and fixture parsers, derived from `seed`.
/// Returns how many were fed and the inputs that panicked (none, or a bug).
fn fuzz_parsers(seed: u64, count: u64) -> (u64, Vec<String>) {
    let valid = harness::replay::ReplayString {
        scenario: "worker-state".into(),
        variant: "buggy".into(),
        order: vec![1, 2, 2, 2, 2, 2, 1, 1, 1],
    }
    .encode();
    let fixture = format!(
        "{{\"format\":\"{FIXTURE_FORMAT}\",\"harness_version\":\"0.1.0\",\"replay\":\"{valid}\",\"scenario\":\"worker-state\",\"variant\":\"buggy\",\"strategy\":\"bounded\",\"seed\":0,\"invariant\":\"x\",\"trace\":\"\"}}"
    );
    let mut panics = Vec::new();
    for i in 0..count {
        let r = mix(seed ^ 0x5eed, i);
        let base = if r.is_multiple_of(2) { valid.as_bytes() } else { fixture.as_bytes() };
        let mut bytes = base.to_vec();
        match (r >> 8) % 4 {
            0 => bytes = (0..(r >> 16) % 64).map(|j| (mix(r, j) & 0xff) as u8).collect(),
            1 => bytes.truncate(((r >> 16) as usize) % (bytes.len() + 1)),
            2 => {
                let at = ((r >> 16) as usize) % bytes.len();
                bytes[at] = (r >> 40) as u8;
            }
            _ => {
                let at = ((r >> 16) as usize) % (bytes.len() + 1);
                bytes.insert(at, (r >> 40) as u8);
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = std::panic::catch_unwind(|| {
            let _ = harness::replay::ReplayString::parse(&text);
            if let Ok(f) = serde_json::from_str::<Fixture>(&text) {
                let _ = f.validate();
            }
        });
        if outcome.is_err() {
            panics.push(text);
        }
    }
    (count, panics)
}

/// Runs the nightly; returns the exit status (0 all as expected, 1 a failure, 2 bad input).
pub fn run(n: Nightly) -> u8 {
    let seed = n.seed.unwrap_or_else(date_seed);
    let (shard_i, shard_n) = n.shard;
    outln!(
        "nightly: seed {seed}, shard {shard_i}/{shard_n}, {} variants, {}",
        n.variants.len(),
        humantime::format_duration(n.time)
    );
    if let Err(e) = std::fs::create_dir_all(&n.out) {
        eprintln!("error: cannot create {}: {e}", n.out.display());
        return 2;
    }
    let start = Instant::now();
    let mut tallies: Vec<Tally> = n
        .variants
        .iter()
        .map(|(s, v)| Tally {
            scenario: s.name,
            variant: v.name,
            expect: v.expect,
            executions: 0,
            chunks: 0,
            found: None,
            fixture: None,
        })
        .collect();
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(n.time.as_secs().max(1));
        b.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} s {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut k: u64 = 0;
    'run: loop {
        let mut progressed = false;
        for (idx, (scenario, variant)) in n.variants.iter().enumerate() {
            if start.elapsed() >= n.time {
                break 'run;
            }
            // A counterexample already found needs no more time; spend it on the rest.
            if tallies[idx].found.is_some() {
                continue;
            }
            progressed = true;
            let chunk_seed = mix(seed, k * shard_n + (shard_i - 1));
            let strategy = ROTATION[(k as usize + idx) % ROTATION.len()];
            k += 1;
            let opts = CheckOptions { strategy, iterations: CHUNK, seed: chunk_seed, ..CheckOptions::default() };
            let r = match check_variant(scenario, variant, &opts) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            let t = &mut tallies[idx];
            t.executions += r.executions;
            t.chunks += 1;
            if let (Some(inv), Some(replay), Some(trace)) = (r.invariant, r.replay, r.trace) {
                let line = format!("{}/{}: {} found \"{inv}\" (seed {chunk_seed})", t.scenario, t.variant, strategy);
                match &bar {
                    Some(b) => b.println(line),
                    None => outln!("{line}"),
                }
                if t.expect == Expect::Holds {
                    let f = Fixture {
                        format: FIXTURE_FORMAT.into(),
                        harness_version: env!("CARGO_PKG_VERSION").into(),
                        replay: replay.clone(),
                        scenario: t.scenario.into(),
                        variant: t.variant.into(),
                        strategy: strategy.name().into(),
                        seed: chunk_seed,
                        invariant: inv.clone(),
                        trace: trace.clone(),
                    };
                    match f.write_atomic(&n.out) {
                        Ok(p) => t.fixture = Some(p),
                        Err(e) => eprintln!("error: {e}"),
                    }
                }
                t.found = Some((inv, replay, trace, strategy.name().into(), chunk_seed));
            }
            if let Some(b) = &bar {
                b.set_position(start.elapsed().as_secs().min(n.time.as_secs()));
                b.set_message(format!("{}/{}", t.scenario, t.variant));
            }
        }
        if !progressed {
            break; // every variant has its counterexample: nothing left to look for
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (fuzzed, fuzz_panics) = fuzz_parsers(mix(seed, shard_i), n.fuzz_inputs);
    outln!("fuzzed the replay-string and fixture parsers with {fuzzed} inputs: {} panicked", fuzz_panics.len());
    let elapsed = start.elapsed();
    let ok = tallies.iter().all(Tally::ok) && fuzz_panics.is_empty();
    let report = serde_json::json!({
        "seed": seed,
        "shard": format!("{shard_i}/{shard_n}"),
        "time_budget_s": n.time.as_secs_f64(),
        "elapsed_s": elapsed.as_secs_f64(),
        "ok": ok,
        "parser_fuzz": { "inputs": fuzzed, "panicked": fuzz_panics },
        "variants": tallies.iter().map(|t| serde_json::json!({
            "scenario": t.scenario,
            "variant": t.variant,
            "expect": t.expect,
            "executions": t.executions,
            "chunks": t.chunks,
            "ok": t.ok(),
            "invariant": t.found.as_ref().map(|f| &f.0),
            "replay": t.found.as_ref().map(|f| &f.1),
            "fixture": t.fixture.as_ref().map(|p| p.display().to_string()),
        })).collect::<Vec<_>>(),
    });
    let mut junit = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"interleave-nightly\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">\n",
        tallies.len(),
        tallies.iter().filter(|t| !t.ok()).count(),
        elapsed.as_secs_f64()
    );
    for t in &tallies {
        junit.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\">\n",
            xml_escape(t.scenario),
            xml_escape(t.variant)
        ));
        if !t.ok() {
            let msg = match (&t.expect, &t.found) {
                (Expect::Holds, Some(f)) => {
                    format!("holds variant violated \"{}\"; reproduce: interleave replay {}", f.0, f.1)
                }
                _ => format!("counterexample variant not found in {} executions", t.executions),
            };
            let body = t.found.as_ref().map(|f| f.2.clone()).unwrap_or_default();
            junit.push_str(&format!("    <failure message=\"{}\">{}</failure>\n", xml_escape(&msg), xml_escape(&body)));
        }
        junit.push_str("  </testcase>\n");
    }
    junit.push_str("</testsuite>\n");
    let pretty = serde_json::to_string_pretty(&report).unwrap_or_default();
    for (name, contents) in [("report.json", pretty.as_str()), ("junit.xml", junit.as_str())] {
        if let Err(e) = write_atomic(&n.out.join(name), contents) {
            eprintln!("error: cannot write {name} in {}: {e}", n.out.display());
            return 2;
        }
    }
    for t in &tallies {
        outln!(
            "{:<44} {:<15} {:>9} executions  {}",
            format!("{}/{}", t.scenario, t.variant),
            t.expect.to_string(),
            t.executions,
            if t.ok() { "ok" } else { "FAILED" }
        );
    }
    outln!("wrote {} and {}", n.out.join("report.json").display(), n.out.join("junit.xml").display());
    let failures: Vec<&Tally> = tallies.iter().filter(|t| !t.ok()).collect();
    if failures.is_empty() && ok {
        outln!("nightly: every variant met its expectation");
        return 0;
    }
    outln!("nightly: {} variant(s) did not meet their expectation; to reproduce:", failures.len());
    for t in failures {
        match &t.found {
            Some(f) => outln!("  interleave replay {}", f.1),
            None => outln!(
                "  interleave check {}/{} --strategy random --iterations 10000 --seed {seed}   # not found by the nightly",
                t.scenario, t.variant
            ),
        }
    }
    1
}
