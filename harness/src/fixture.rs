//! Regression fixtures: a counterexample kept as a JSON file, replayable by `interleave replay
//! FILE.json` and by `cargo test` (every file in `tests/fixtures/`).
//!
//! A fixture is written with [`crate::atomic_file::write`] — a uniquely named temporary file in the
//! target directory, `fsync`, `rename` over the final name, `fsync` of the directory: the pattern
//! the catalog proves correct (`worker-state/fixed`, `save-durability/fixed`) — so a run killed
//! while writing never leaves half a fixture, and a destination that is not a regular file is
//! refused, never replaced. Reading one is hostile-input parsing: fixtures arrive from bug reports,
//! so only a regular file is read, and never more than [`MAX_FIXTURE_BYTES`] and one byte of it.

use crate::error::{Error, ErrorKind};
use crate::replay::ReplayString;
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::path::{Path, PathBuf};

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
        Ok(file_name_of(&r.scenario, &r.variant))
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

    /// Reads and validates a fixture file. Only a regular file is read (a FIFO would block
    /// forever, a device or `/proc` file would be read until memory runs out): the path is
    /// checked before it is opened, so that opening a FIFO does not block, and the opened file is
    /// checked again, so that a file swapped in between is not read; and at most
    /// [`MAX_FIXTURE_BYTES`] and one byte are read, whatever the file's size claims.
    pub fn read(path: &Path) -> Result<Fixture, Error> {
        let shown = path.display();
        let cannot = |e: std::io::Error| bad(format!("cannot read fixture {shown}: {e}"));
        let not_regular = || bad(format!("fixture {shown} is not a regular file; a fixture is a JSON file"));
        if !std::fs::metadata(path).map_err(cannot)?.is_file() {
            return Err(not_regular());
        }
        let file = std::fs::File::open(path).map_err(cannot)?;
        if !file.metadata().map_err(cannot)?.is_file() {
            return Err(not_regular());
        }
        let bytes = read_at_most(file, MAX_FIXTURE_BYTES).map_err(cannot)?.ok_or_else(|| {
            bad(format!("fixture {shown} is larger than {MAX_FIXTURE_BYTES} bytes, the limit for a fixture"))
        })?;
        let text = String::from_utf8(bytes).map_err(|e| bad(format!("fixture {shown} is not UTF-8 text: {e}")))?;
        let f: Fixture = serde_json::from_str(&text)
            .map_err(|e| bad(format!("fixture {shown} is not a valid fixture ({FIXTURE_FORMAT} JSON): {e}")))?;
        f.validate()?;
        Ok(f)
    }

    /// Writes the fixture into `dir` (created if missing) atomically, with
    /// [`crate::atomic_file::write`]. Returns the final path.
    pub fn write_atomic(&self, dir: &Path) -> Result<PathBuf, Error> {
        let name = self.file_name()?;
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(ErrorKind::Backend, format!("cannot create the fixture directory {}: {e}", dir.display()))
        })?;
        let mut json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot encode a fixture: {e}")))?;
        json.push('\n');
        let target = dir.join(name);
        crate::atomic_file::write(&target, json.as_bytes())?;
        Ok(target)
    }
}

/// The file name of a fixture of `scenario/variant`: `<scenario>__<variant>.json`. Callers check
/// such a destination before a run ([`crate::atomic_file::check_destination`]).
pub fn file_name_of(scenario: &str, variant: &str) -> String {
    format!("{scenario}__{variant}.json")
}

/// Reads `reader` to its end if it holds at most `limit` bytes (`Some`), and stops after `limit` and
/// one byte otherwise (`None`): the size is never taken from metadata, which a FIFO, a device or a
/// `/proc` file does not give truthfully.
fn read_at_most(reader: impl std::io::Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endless source that fails the test if more than `limit` bytes are taken from it.
    struct Endless {
        served: u64,
        limit: u64,
    }

    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.served += buf.len() as u64;
            assert!(self.served <= self.limit, "read {} bytes of an endless input", self.served);
            buf.fill(b' ');
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_input_is_read_only_to_the_limit_and_one_byte() {
        let r = read_at_most(Endless { served: 0, limit: MAX_FIXTURE_BYTES + 1 }, MAX_FIXTURE_BYTES).unwrap();
        assert!(r.is_none(), "an input over the limit is refused");
        let r = read_at_most(&b"{}"[..], MAX_FIXTURE_BYTES).unwrap();
        assert_eq!(r.as_deref(), Some(&b"{}"[..]));
    }
}
