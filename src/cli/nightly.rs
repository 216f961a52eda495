//! `interleave nightly`: explore every variant with fresh seeds, in shards that never repeat each
//! other's work, for a time budget or a number of chunks per variant; write `report.json`, a JUnit
//! XML report, a fixture per unexpected counterexample and, with `--html-dir`, a page per
//! counterexample; end the log with the command that reproduces each failure.
//!
//! Seeds: the run's seed (by default derived from today's UTC date, printed first) and the shard
//! `I/N` give chunk `k` of the run the seed `mix(seed, k * N + I)`, so shards partition the seed
//! space and a rerun with the same seed and shard repeats the same chunks in the same order.
//!
//! Budget: every variant first gets one chunk of the portfolio, however short `--time` is (the
//! portfolio's bounded member proves a `holds` variant whose space is small, and a proven variant
//! needs no more); then the variants not yet decided get chunks of shuttle's samplers in turn until
//! `--time` has passed or each has had `--chunks` chunks. A variant that still got no execution is
//! `skipped`, and a run with a skipped variant is not green.
//!
//! The output directory: a nightly locks `<out>/.interleave-nightly.lock` for its whole run (a
//! second nightly on the same directory is refused), and that file marks the directory as a
//! nightly's. A directory holding anything else is refused; the reports and fixtures of an earlier
//! nightly are removed before the run, so files of two runs are never mixed. `junit.xml` is
//! written before `report.json`, and both carry the run's `run_id`: a run killed between them
//! leaves the new JUnit file alone (the earlier `report.json` is already gone), never a failing
//! report beside a green JUnit file.
//!
//! Pages (`--html-dir`): one self-contained HTML page per counterexample found, expected or not,
//! `<scenario>__<variant>.html`. In `--out` itself they are the run's own files, removed with its
//! reports by the next run; a directory inside `--out` is refused (the next run would find it
//! there and refuse the directory), any other directory is checked like `check --html-dir`'s.

use harness::atomic_file;
use harness::fixture::{Fixture, FIXTURE_FORMAT};
use harness::{check_variant, CheckOptions, Expect, Scenario, Strategy, Variant};
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Executions per chunk: one strategy, one seed, one variant.
const CHUNK: usize = 500;

/// The strategies the nightly rotates through after every variant's first chunk.
const ROTATION: [Strategy; 3] = [Strategy::Random, Strategy::Pct { depth: 3 }, Strategy::Urw];

/// The lock of a nightly's output directory, and the mark that a nightly wrote it.
pub const LOCK: &str = ".interleave-nightly.lock";

/// The JSON report, written last.
pub const REPORT: &str = "report.json";

/// The JUnit report, written before [`REPORT`].
pub const JUNIT: &str = "junit.xml";

/// Options of a nightly run.
pub struct Nightly {
    /// Start no chunk after this much time (the first round runs whatever it is).
    pub time: Option<Duration>,
    /// At most this many chunks per variant, the first included.
    pub chunks: Option<u64>,
    pub out: PathBuf,
    /// Where to write a page per counterexample found, if anywhere.
    pub html_dir: Option<PathBuf>,
    pub seed: Option<u64>,
    pub shard: (u64, u64),
    pub fuzz_inputs: u64,
    pub variants: Vec<(&'static Scenario, &'static Variant)>,
    /// The index in `variants` of the injected broken variant (`--inject-broken`): the run must
    /// find it, and is never green.
    pub canary: Option<usize>,
    /// Test hook: kill the process between the two reports.
    pub kill_between_reports: bool,
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

/// What a nightly found on one variant.
struct Tally {
    scenario: &'static str,
    variant: &'static str,
    expect: Expect,
    executions: usize,
    chunks: usize,
    /// A `holds` variant whose whole space a chunk explored.
    proof: bool,
    /// The injected broken variant: not finding it is a failure.
    canary: bool,
    found: Option<Found>,
    fixture: Option<PathBuf>,
    fixture_error: Option<String>,
    page: Option<PathBuf>,
    page_error: Option<String>,
}

/// A counterexample a chunk found.
struct Found {
    invariant: String,
    replay: String,
    trace: String,
}

/// A variant's verdict in the nightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// It met its expectation.
    Ok,
    /// It did not: a `holds` broke, a `counterexample` was not found, the canary was not found.
    Failed,
    /// It got no execution at all, so there is no verdict.
    Skipped,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

impl Tally {
    fn new(scenario: &'static Scenario, variant: &'static Variant, canary: bool) -> Tally {
        Tally {
            scenario: scenario.name,
            variant: variant.name,
            expect: variant.expect,
            executions: 0,
            chunks: 0,
            proof: false,
            canary,
            found: None,
            fixture: None,
            fixture_error: None,
            page: None,
            page_error: None,
        }
    }

    fn status(&self) -> Status {
        match (&self.found, self.expect) {
            (None, _) if self.executions == 0 => Status::Skipped,
            (None, _) if self.canary => Status::Failed,
            (Some(_), Expect::Counterexample) | (None, Expect::Holds) => Status::Ok,
            (None, Expect::Counterexample) | (Some(_), Expect::Holds) => Status::Failed,
        }
    }

    /// Whether another chunk could change the verdict, within `max` chunks per variant.
    fn wants_more(&self, max: Option<u64>) -> bool {
        self.found.is_none() && !self.proof && max.is_none_or(|m| (self.chunks as u64) < m)
    }

    fn name(&self) -> String {
        format!("{}/{}", self.scenario, self.variant)
    }

    /// Why the variant is not `ok`, in a sentence.
    fn problem(&self) -> Option<String> {
        match (self.status(), &self.found) {
            (Status::Ok, _) => None,
            (Status::Skipped, _) => Some("no executions: the run ended before this variant's first chunk".into()),
            (Status::Failed, Some(f)) => Some(format!(
                "holds variant violated \"{}\"; reproduce: {} replay {}",
                f.invariant,
                super::program(),
                f.replay
            )),
            (Status::Failed, None) if self.canary => Some(format!(
                "the injected broken variant was not found in {} executions: the nightly misses a known bug",
                self.executions
            )),
            (Status::Failed, None) => {
                Some(format!("counterexample variant not found in {} executions", self.executions))
            }
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Whether `name` is a file a nightly writes into its directory: a report, a fixture or a page.
fn is_nightly_output(name: &str) -> bool {
    name == REPORT
        || name == JUNIT
        || (!name.starts_with('.') && name.contains("__") && (name.ends_with(".json") || name.ends_with(".html")))
}

/// `path` as this process reaches it: resolved when it exists, made absolute when it does not.
fn resolved(path: &Path) -> PathBuf {
    path.canonicalize().or_else(|_| std::path::absolute(path)).unwrap_or_else(|_| path.to_path_buf())
}

/// Checks `--html-dir` against `--out` before the run: `Ok(true)` when it is `--out` itself (its
/// pages are then the nightly's own files), `Ok(false)` for a directory outside it, which is made
/// ready like `check --html-dir`'s. A directory inside `--out` is refused: the next run would find
/// it there, and refuse `--out`.
fn check_html_dir(dir: &Path, out: &Path, variants: &[(&'static Scenario, &'static Variant)]) -> Result<bool, String> {
    let shown = dir.display();
    let (d, o) = (resolved(dir), resolved(out));
    if d == o {
        return Ok(true);
    }
    if d.starts_with(&o) {
        return Err(format!(
            "--html-dir {shown} is inside --out {}, where a nightly keeps only its own files; name --out itself or \
             a directory outside it",
            out.display()
        ));
    }
    super::render::check_html_dir(dir, variants.iter().map(|(s, v)| (s.name, v.name)))
        .map_err(|e| format!("--html-dir {shown}: {e}"))?;
    Ok(false)
}

/// The output directory, locked for the run.
struct OutDir {
    /// Held (locked) until the process exits.
    _lock: std::fs::File,
    /// The earlier run's files removed before this one.
    cleared: Vec<String>,
}

/// Makes `out` ready before the run: a directory this process can write, locked against a second
/// nightly, holding nothing but an earlier nightly's reports and fixtures, which are removed (with
/// the temporary files of a killed writer). Refuses anything else, changing nothing: in particular
/// a refused directory is not given a lock file, which would mark it as a nightly's.
fn prepare_out(out: &Path) -> Result<OutDir, String> {
    let shown = out.display();
    atomic_file::check_directory(out).map_err(|e| format!("--out {shown}: {e}"))?;
    let lock_path = out.join(LOCK);
    let marked = match std::fs::symlink_metadata(&lock_path) {
        Ok(m) if m.is_file() => true,
        Ok(_) => return Err(format!("--out {shown}: {LOCK} is not a regular file; name another directory")),
        Err(_) => false,
    };
    atomic_file::remove_stale_temps(out);
    contents(out, marked)?;
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| format!("--out {shown}: cannot open {LOCK}: {e}"))?;
    if !lock.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!("--out {shown}: {LOCK} is not a regular file; name another directory"));
    }
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(format!(
                "--out {shown}: another nightly is writing there (it holds {LOCK}); wait for it, or name another \
                 directory"
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(format!("--out {shown}: cannot lock {LOCK}: {e}")),
    }
    // Again under the lock: another process may have written since.
    let ours = match contents(out, marked) {
        Ok(ours) => ours,
        Err(e) => {
            if !marked {
                let _ = std::fs::remove_file(&lock_path);
            }
            return Err(e);
        }
    };
    if !marked {
        let _ = (&lock).write_all(b"the lock of an interleave nightly writing this directory, and its mark\n");
    }
    for name in &ours {
        std::fs::remove_file(out.join(name))
            .map_err(|e| format!("--out {shown}: cannot remove the earlier run's {name}: {e}"))?;
    }
    Ok(OutDir { _lock: lock, cleared: ours })
}

/// The earlier nightly's files in `out` (sorted), or why the directory is refused: it holds
/// anything a nightly does not write, or it holds a nightly's kind of files but is not `marked` by
/// a nightly's lock file (`tests/fixtures/` looks like a nightly's fixtures).
fn contents(out: &Path, marked: bool) -> Result<Vec<String>, String> {
    let shown = out.display();
    let (mut ours, mut foreign) = (Vec::new(), Vec::new());
    let entries = std::fs::read_dir(out).map_err(|e| format!("--out {shown}: cannot list it: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("--out {shown}: cannot list it: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // A live writer's temporary file is never read, and goes when it is done.
        if name == LOCK || atomic_file::temp_owner(&name).is_some() {
            continue;
        }
        // A directory entry's type does not follow a symbolic link: a link is never ours.
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && is_nightly_output(&name) {
            ours.push(name);
        } else {
            foreign.push(name);
        }
    }
    ours.sort();
    foreign.sort();
    let list = |v: &[String]| {
        let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 5 {
            s.push_str(&format!(" and {} more", v.len() - 5));
        }
        s
    };
    if !foreign.is_empty() {
        return Err(format!(
            "--out {shown} holds what no nightly writes ({}); name a new or empty directory",
            list(&foreign)
        ));
    }
    if !marked && !ours.is_empty() {
        return Err(format!(
            "--out {shown} is not empty and no nightly wrote it (it has no {LOCK}): {}; name a new or empty \
             directory",
            list(&ours)
        ));
    }
    Ok(ours)
}

/// The JUnit report: one test case per variant, `<failure>` or `<skipped>` where it was not ok.
fn junit_xml(tallies: &[Tally], elapsed: Duration, run_id: &str) -> String {
    let count = |s: Status| tallies.iter().filter(|t| t.status() == s).count();
    let mut junit = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"interleave-nightly\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n  <properties>\n    <property name=\"run_id\" value=\"{}\"/>\n  </properties>\n",
        tallies.len(),
        count(Status::Failed),
        count(Status::Skipped),
        elapsed.as_secs_f64(),
        xml_escape(run_id)
    );
    for t in tallies {
        junit.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\">\n",
            xml_escape(t.scenario),
            xml_escape(t.variant)
        ));
        let msg = xml_escape(&t.problem().unwrap_or_default());
        match t.status() {
            Status::Ok => {}
            Status::Skipped => junit.push_str(&format!("    <skipped message=\"{msg}\"/>\n")),
            Status::Failed => {
                let body = t.found.as_ref().map(|f| f.trace.as_str()).unwrap_or_default();
                junit.push_str(&format!("    <failure message=\"{msg}\">{}</failure>\n", xml_escape(body)));
            }
        }
        junit.push_str("  </testcase>\n");
    }
    junit.push_str("</testsuite>\n");
    junit
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

/// Runs the nightly; returns the exit status (0 all as expected, 1 a failure or a skipped
/// variant, 2 bad input or output that could not be written).
pub fn run(n: Nightly) -> u8 {
    let seed = n.seed.unwrap_or_else(date_seed);
    let (shard_i, shard_n) = n.shard;
    // Without either bound the run is its first round.
    let max_chunks = if n.time.is_none() { Some(n.chunks.unwrap_or(1)) } else { n.chunks };
    // Pages before the output directory: a refused --html-dir leaves the earlier run's files alone.
    if let Some(dir) = &n.html_dir {
        if let Err(e) = check_html_dir(dir, &n.out, &n.variants) {
            errln!("error: {e}");
            return 2;
        }
    }
    // The scenarios whose counterexamples are replayed for their pages.
    let mut scenarios: Vec<&'static Scenario> = Vec::new();
    for (s, _) in &n.variants {
        if !scenarios.iter().any(|known| std::ptr::eq(*known, *s)) {
            scenarios.push(s);
        }
    }
    let out = match prepare_out(&n.out) {
        Ok(o) => o,
        Err(e) => {
            errln!("error: {e}");
            return 2;
        }
    };
    let budget = match (n.time, max_chunks) {
        (Some(t), None) => humantime::format_duration(t).to_string(),
        (None, Some(c)) => format!("{c} chunk(s) per variant"),
        (Some(t), Some(c)) => {
            format!("{} or {c} chunk(s) per variant, whichever ends first", humantime::format_duration(t))
        }
        (None, None) => unreachable!("a run without a time has a number of chunks"),
    };
    outln!("nightly: seed {seed}, shard {shard_i}/{shard_n}, {} variants, {budget}", n.variants.len());
    if !out.cleared.is_empty() {
        outln!("removed the earlier run's {} from {}", out.cleared.join(", "), n.out.display());
    }
    let start = Instant::now();
    let mut tallies: Vec<Tally> =
        n.variants.iter().enumerate().map(|(i, (s, v))| Tally::new(s, v, n.canary == Some(i))).collect();
    let bar = std::io::stderr().is_terminal().then(|| {
        let len = match (n.time, max_chunks) {
            (Some(t), _) => t.as_secs().max(1),
            (None, c) => c.unwrap_or(1) * n.variants.len() as u64,
        };
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut k: u64 = 0;
    let mut done_chunks: u64 = 0;
    // One chunk of `strategy`, or of the rotation's next sampler.
    let mut chunk = |idx: usize, strategy: Option<Strategy>, t: &mut Tally| -> Result<(), harness::Error> {
        let (scenario, variant) = n.variants[idx];
        let strategy = strategy.unwrap_or(ROTATION[(k as usize + idx) % ROTATION.len()]);
        let chunk_seed = mix(seed, k * shard_n + (shard_i - 1));
        k += 1;
        let opts = CheckOptions { strategy, iterations: CHUNK, seed: chunk_seed, ..CheckOptions::default() };
        let r = check_variant(scenario, variant, &opts)?;
        t.executions += r.executions;
        t.chunks += 1;
        t.proof |= r.outcome == Expect::Holds && r.exhaustive;
        if let (Some(invariant), Some(replay), Some(trace)) = (r.invariant, r.replay, r.trace) {
            let line = format!("{}: {strategy} found \"{invariant}\" (seed {chunk_seed})", t.name());
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
                    invariant: invariant.clone(),
                    trace: trace.clone(),
                };
                match f.write_atomic(&n.out) {
                    Ok(p) => t.fixture = Some(p),
                    Err(e) => {
                        errln!("error: fixture of {} not saved: {e}", t.name());
                        t.fixture_error = Some(e.to_string());
                    }
                }
            }
            if let Some(dir) = &n.html_dir {
                match super::render::write_page(&scenarios, &replay, dir) {
                    Ok(p) => t.page = Some(p),
                    Err(e) => {
                        errln!("error: page of {} not saved: {e}", t.name());
                        t.page_error = Some(e.to_string());
                    }
                }
            }
            t.found = Some(Found { invariant, replay, trace });
        }
        done_chunks += 1;
        if let Some(b) = &bar {
            b.set_position(
                if n.time.is_some() { start.elapsed().as_secs() } else { done_chunks }.min(b.length().unwrap_or(0)),
            );
            b.set_message(t.name());
        }
        Ok(())
    };
    // Every variant's minimum share first, whatever the time: one chunk of the portfolio.
    for (idx, t) in tallies.iter_mut().enumerate() {
        if let Err(e) = chunk(idx, Some(Strategy::Portfolio), t) {
            errln!("error: {e}");
            return 2;
        }
    }
    'run: loop {
        let mut progressed = false;
        for (idx, t) in tallies.iter_mut().enumerate() {
            if n.time.is_some_and(|limit| start.elapsed() >= limit) {
                break 'run;
            }
            // A counterexample already found, or a proof, needs no more time; spend it on the rest.
            if !t.wants_more(max_chunks) {
                continue;
            }
            progressed = true;
            if let Err(e) = chunk(idx, None, t) {
                errln!("error: {e}");
                return 2;
            }
        }
        if !progressed {
            break; // every variant is decided or has had its chunks
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (fuzzed, fuzz_panics) = fuzz_parsers(mix(seed, shard_i), n.fuzz_inputs);
    outln!("fuzzed the replay-string and fixture parsers with {fuzzed} inputs: {} panicked", fuzz_panics.len());
    let elapsed = start.elapsed();
    let ok = tallies.iter().all(|t| t.status() == Status::Ok) && fuzz_panics.is_empty();
    let run_id = format!(
        "{seed}-{shard_i}of{shard_n}-{}-{}",
        std::process::id(),
        std::time::UNIX_EPOCH.elapsed().map(|d| d.as_nanos()).unwrap_or(0)
    );
    let report = serde_json::json!({
        "run_id": run_id,
        "junit": JUNIT,
        "seed": seed,
        "shard": format!("{shard_i}/{shard_n}"),
        "time_budget_s": n.time.map(|t| t.as_secs_f64()),
        "chunks_per_variant": max_chunks,
        "chunk_executions": CHUNK,
        "elapsed_s": elapsed.as_secs_f64(),
        "ok": ok,
        "parser_fuzz": { "inputs": fuzzed, "panicked": fuzz_panics },
        "variants": tallies.iter().map(|t| serde_json::json!({
            "scenario": t.scenario,
            "variant": t.variant,
            "expect": t.expect,
            "status": t.status().name(),
            "ok": t.status() == Status::Ok,
            "proof": t.proof,
            "executions": t.executions,
            "chunks": t.chunks,
            "invariant": t.found.as_ref().map(|f| &f.invariant),
            "replay": t.found.as_ref().map(|f| &f.replay),
            "fixture": t.fixture.as_ref().map(|p| p.display().to_string()),
            "fixture_error": t.fixture_error,
            "page": t.page.as_ref().map(|p| p.display().to_string()),
            "page_error": t.page_error,
            "problem": t.problem(),
        })).collect::<Vec<_>>(),
    });
    // JUnit first, the JSON report last: see the module's documentation.
    let junit = junit_xml(&tallies, elapsed, &run_id);
    let pretty = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(e) = atomic_file::write(&n.out.join(JUNIT), junit.as_bytes()) {
        errln!("error: {e}");
        return 2;
    }
    if n.kill_between_reports {
        // As `kill -9` would, without a core file: no cleanup, no further write.
        let _ = std::process::Command::new("kill").arg("-KILL").arg(std::process::id().to_string()).status();
        std::process::abort();
    }
    if let Err(e) = atomic_file::write(&n.out.join(REPORT), pretty.as_bytes()) {
        errln!("error: {e}");
        return 2;
    }
    for t in &tallies {
        let status = match t.status() {
            Status::Ok if t.proof => "ok (proof)",
            Status::Ok => "ok",
            Status::Failed => "FAILED",
            Status::Skipped => "SKIPPED",
        };
        outln!("{:<44} {:<15} {:>9} executions  {status}", t.name(), t.expect.to_string(), t.executions);
    }
    outln!("wrote {} and {}", n.out.join(JUNIT).display(), n.out.join(REPORT).display());
    let unsaved = tallies.iter().filter(|t| t.fixture_error.is_some() || t.page_error.is_some()).count();
    let failures: Vec<&Tally> = tallies.iter().filter(|t| t.status() != Status::Ok).collect();
    if failures.is_empty() && ok {
        outln!("nightly: every variant met its expectation");
        // A page of an expected counterexample that could not be written is output lost.
        if unsaved > 0 {
            errln!("error: {unsaved} fixture(s) or page(s) could not be saved");
            return 2;
        }
        return 0;
    }
    if !fuzz_panics.is_empty() {
        outln!("nightly: {} parser input(s) panicked (see {REPORT})", fuzz_panics.len());
    }
    if failures.is_empty() {
        return if unsaved > 0 { 2 } else { 1 };
    }
    outln!("nightly: {} variant(s) did not meet their expectation; to reproduce:", failures.len());
    for t in failures {
        match (&t.found, t.status()) {
            (Some(f), _) => outln!("  {} replay {}", super::program(), f.replay),
            (None, Status::Skipped) => {
                outln!(
                    "  {} check {} --seed {seed}   # skipped: no executions in the nightly",
                    super::program(),
                    t.name()
                )
            }
            (None, _) => outln!(
                "  {} check {} --strategy random --iterations 10000 --seed {seed}   # not found by the nightly",
                super::program(),
                t.name()
            ),
        }
    }
    if unsaved > 0 {
        errln!("error: {unsaved} fixture(s) or page(s) could not be saved");
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(expect: Expect, executions: usize, found: bool, canary: bool) -> Tally {
        Tally {
            scenario: "s",
            variant: "v",
            expect,
            executions,
            chunks: usize::from(executions > 0),
            proof: false,
            canary,
            found: found.then(|| Found { invariant: "i".into(), replay: "r".into(), trace: "t".into() }),
            fixture: None,
            fixture_error: None,
            page: None,
            page_error: None,
        }
    }

    #[test]
    fn a_variant_that_got_no_executions_is_skipped_never_ok() {
        for expect in [Expect::Holds, Expect::Counterexample] {
            let t = tally(expect, 0, false, false);
            assert_eq!(t.status(), Status::Skipped);
            let junit = junit_xml(&[t], Duration::ZERO, "id");
            assert!(junit.contains("skipped=\"1\""), "{junit}");
            assert!(junit.contains("<skipped message=\"no executions"), "{junit}");
        }
        assert_eq!(tally(Expect::Holds, 500, false, false).status(), Status::Ok);
    }

    #[test]
    fn an_injected_broken_variant_not_found_fails_the_run() {
        let t = tally(Expect::Holds, 500, false, true);
        assert_eq!(t.status(), Status::Failed);
        assert!(t.problem().unwrap().contains("the injected broken variant was not found"));
        assert_eq!(tally(Expect::Holds, 500, true, true).status(), Status::Failed);
    }

    #[test]
    fn only_a_nightlys_own_files_are_cleared() {
        for name in ["report.json", "junit.xml", "worker-state__buggy.json", "s__v[a=1].json", "s__v.html"] {
            assert!(is_nightly_output(name), "{name}");
        }
        for name in ["notes.txt", "bench.json", ".x__y.json", "report.json.bak", "a__b.json.tmp", "index.html"] {
            assert!(!is_nightly_output(name), "{name}");
        }
    }
}
