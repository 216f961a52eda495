//! Seed 000, "Non-atomic worker state writes": a worker saves its state with `write_state`
//! while another process runs `read_all`, which deletes what fails to parse. Ordinary Rust: `fs`
//! is `std::fs`, or `interleave::fs` with the `model` feature, and nothing else changes.
#[cfg(feature = "model")]
use interleave::fs;
#[cfg(not(feature = "model"))]
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// A worker's saved state: `{"id":"<id>","v":<n>}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub id: String,
    pub v: u32,
}

impl State {
    pub fn to_json(&self) -> Vec<u8> {
        format!("{{\"id\":\"{}\",\"v\":{}}}", self.id, self.v).into_bytes()
    }

    /// Parses what `to_json` writes; anything else (an empty or a cut file) is an error.
    pub fn parse(data: &[u8]) -> Result<State, String> {
        let s = std::str::from_utf8(data).map_err(|e| e.to_string())?;
        let rest = s.strip_prefix("{\"id\":\"").ok_or("EOF while parsing an object")?;
        let (id, rest) = rest.split_once("\",\"v\":").ok_or("EOF while parsing an object")?;
        let v = rest.strip_suffix('}').ok_or("EOF while parsing an object")?;
        Ok(State { id: id.to_string(), v: v.parse().map_err(|_| "invalid number")? })
    }
}

/// `write_state` as audited: `fs::write` truncates the file in place.
pub fn write_state(dir: &Path, state: &State) -> io::Result<()> {
    fs::write(dir.join(format!("{}.json", state.id)), state.to_json())
}

/// `write_state` fixed: a temporary file of this write's own (`unique`, as `tempfile` names
/// one), written, `sync_all`ed, renamed over the state file, and the directory synced.
pub fn write_state_fixed(dir: &Path, state: &State, unique: &str) -> io::Result<()> {
    let tmp = dir.join(format!(".{}.json.{unique}", state.id));
    let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    f.write_all(&state.to_json())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(format!("{}.json", state.id)))?;
    fs::File::open(dir)?.sync_all()
}

/// `read_all`: every `*.json` state; a file that cannot be read is skipped, one that does not
/// parse is deleted as corrupt.
pub fn read_all(dir: &Path) -> io::Result<Vec<State>> {
    let mut states = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(data) = fs::read(&path) else { continue };
        match State::parse(&data) {
            Ok(s) => states.push(s),
            Err(_) => fs::remove_file(&path)?,
        }
    }
    Ok(states)
}
