//! Seed 001, "Registry read-modify-write": `sessions.json` is shared by concurrent `agent-doc`
//! processes; `RegistryLock` (an exclusive `flock`, as `fs2` takes it) serializes each
//! read-modify-write, and the registry is written by temporary file and rename (`tempfile`'s
//! `persist`). Ordinary Rust: `fs` is `std::fs`, or `interleave::fs` with the `model` feature.
#[cfg(feature = "model")]
use interleave::fs;
#[cfg(not(feature = "model"))]
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// An exclusive `flock` on `<dir>/sessions.json.lock`, released when dropped (the file closes).
pub struct RegistryLock(#[allow(dead_code)] fs::File);

impl RegistryLock {
    pub fn acquire(dir: &Path) -> io::Result<RegistryLock> {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("sessions.json.lock"))?;
        f.lock()?;
        Ok(RegistryLock(f))
    }
}

/// The registry: one pane per line.
pub fn load(dir: &Path) -> io::Result<Vec<String>> {
    match fs::read_to_string(dir.join("sessions.json")) {
        Ok(text) => Ok(text.lines().map(str::to_string).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Writes the registry by temporary file (named `unique`) and rename.
pub fn save(dir: &Path, panes: &[String], unique: &str) -> io::Result<()> {
    let tmp = dir.join(format!(".sessions.json.{unique}"));
    let mut f = fs::File::create_new(&tmp)?;
    f.write_all(panes.iter().map(|p| format!("{p}\n")).collect::<String>().as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join("sessions.json"))
}

/// `register_full`: adds `pane` under the lock (with `locked`), or without it, as `load()` and
/// `save()` let a caller do.
pub fn register(dir: &Path, pane: &str, unique: &str, locked: bool) -> io::Result<()> {
    let _lock = if locked { Some(RegistryLock::acquire(dir)?) } else { None };
    let mut panes = load(dir)?;
    if !panes.iter().any(|p| p == pane) {
        panes.push(pane.to_string());
    }
    save(dir, &panes, unique)
}
