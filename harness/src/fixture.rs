//! Regression fixtures: a counterexample kept as a JSON file, replayable by `interleave replay
//! FILE.json` and by `cargo test` (every file in `tests/fixtures/`).
//!
//! A fixture is written atomically — a uniquely named temporary file in the target directory,
//! `fsync`, `rename` over the final name, `fsync` of the directory: the pattern the catalog proves
//! correct (`worker-state/fixed`, `save-durability/fixed`) — so a run killed while writing never
//! leaves half a fixture. Reading one is hostile-input parsing: fixtures arrive from bug reports.

use crate::error::{Error, ErrorKind};
use crate::replay::ReplayString;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The fixture format this harness writes and reads.
pub const FIXTURE_FORMAT: &str = "interleave-fixture/1";

/// The largest fixture file accepted, in bytes.
pub const MAX_FIXTURE_BYTES: u64 = 4 << 20;

/// A counterexample kept as a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Always [`FIXTURE_FORMAT`].
    pub format: String,
    /// The version of the harness that wrote it.
    pub harness_version: String,
    /// The replay string.
    pub replay: String,
    /// The scenario's name (the replay string names it too; they must agree).
    pub scenario: String,
    /// The variant's name.
    pub variant: String,
    /// The strategy that found it.
    pub strategy: String,
    /// The run's seed.
    pub seed: u64,
    /// The invariant it violates.
    pub invariant: String,
    /// The rendered trace, for people reading the file.
    pub trace: String,
}

fn bad(message: String) -> Error {
    Error::new(ErrorKind::MalformedReplay, message)
}

impl Fixture {
    /// The file name this fixture is saved under: `<scenario>__<variant>.json`.
    pub fn file_name(&self) -> Result<String, Error> {
        let r = ReplayString::parse(&self.replay)?;
        Ok(format!("{}__{}.json", r.scenario, r.variant))
    }

    /// Checks what a well-formed fixture must satisfy (the replay string parses and names the same
    /// scenario and variant).
    pub fn validate(&self) -> Result<ReplayString, Error> {
        if self.format != FIXTURE_FORMAT {
            return Err(bad(format!(
                "unsupported fixture format '{}': this harness reads {FIXTURE_FORMAT}",
                self.format.chars().take(40).collect::<String>()
            )));
        }
        let r = ReplayString::parse(&self.replay)?;
        if r.scenario != self.scenario || r.variant != self.variant {
            return Err(bad(format!(
                "the fixture names {}/{} but its replay string names {}/{}",
                self.scenario.chars().take(64).collect::<String>(),
                self.variant.chars().take(64).collect::<String>(),
                r.scenario,
                r.variant
            )));
        }
        Ok(r)
    }

    /// Reads and validates a fixture file.
    pub fn read(path: &Path) -> Result<Fixture, Error> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read fixture {shown}: {e}")))?;
        if meta.len() > MAX_FIXTURE_BYTES {
            return Err(bad(format!("fixture {shown} is {} bytes; the limit is {MAX_FIXTURE_BYTES}", meta.len())));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read fixture {shown}: {e}")))?;
        let f: Fixture = serde_json::from_str(&text)
            .map_err(|e| bad(format!("fixture {shown} is not a valid fixture ({FIXTURE_FORMAT} JSON): {e}")))?;
        f.validate()?;
        Ok(f)
    }

    /// Writes the fixture into `dir` atomically: temporary file, `fsync`, `rename`, `fsync` of
    /// the directory. Returns the final path.
    pub fn write_atomic(&self, dir: &Path) -> Result<PathBuf, Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let io =
            |what: &str, e: std::io::Error| Error::new(ErrorKind::Backend, format!("{what} in {}: {e}", dir.display()));
        let name = self.file_name()?;
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create the fixture directory", e))?;
        let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let json = serde_json::to_string_pretty(self).map_err(|e| io("cannot encode a fixture", e.into()))?;
        let written = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(json.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("cannot write a fixture", e));
        }
        let target = dir.join(&name);
        std::fs::rename(&tmp, &target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("cannot rename a fixture into place", e)
        })?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("cannot fsync the fixture directory", e))?;
        Ok(target)
    }
}
