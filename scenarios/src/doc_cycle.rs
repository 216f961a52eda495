//! Not a scenario: agent-doc's locked document cycle (`submit::run`, with `acquire_doc_lock` and
//! `atomic_write`), written once with `interleave::fs` for the scenarios of seed 001 that share
//! it (`watch-window`, `lazy-parallel`).
//!
//! `acquire_doc_lock(doc)` opens `<doc>.agent-doc.lock` with `OpenOptions::new().create(true)
//! .write(true).truncate(false)` and locks it with `fs2`'s `lock_exclusive` (`flock(LOCK_EX)`);
//! the lock is the returned `File`, released when it is dropped (`close`). `atomic_write(doc, s)`
//! is `tempfile::NamedTempFile::new_in(dir)` (`open(O_RDWR|O_CREAT|O_EXCL)` of a fresh name),
//! `write_all`, `persist(doc)` (`rename` over the document), then the persisted file is dropped
//! (`close`). The cycle holds the lock from the re-read of the document to the rename.
//!
//! Modeling choices: the lock's `create_dir_all` of its directory is left out (the directory
//! exists: a `mkdir` that fails with `EEXIST` and a `statx`); the temporary file's random name is
//! named after the process (`.tmp-<pid>`), which is as unique as the random one and keeps
//! randomness the scheduler does not control out of the model; the agent's response is appended
//! to what the cycle re-read (the 3-way merge of a response onto an unchanged document).

use interleave::fs::{self, File, OpenOptions};
use std::io::{self, Write};

/// The lock file of document `doc`.
pub fn lock_path(doc: &str) -> String {
    format!("{doc}.agent-doc.lock")
}

/// `acquire_doc_lock(doc)`: the exclusive advisory lock, held until the `File` is dropped.
pub fn acquire_doc_lock(doc: &str) -> io::Result<File> {
    let file = OpenOptions::new().create(true).write(true).truncate(false).open(lock_path(doc))?;
    file.lock()?; // fs2's lock_exclusive: flock(LOCK_EX)
    Ok(file)
}

/// `atomic_write(doc, content)`: a fresh temporary file beside the document, renamed over it.
pub fn atomic_write(doc: &str, content: &str) -> io::Result<()> {
    let dir = doc.rsplit_once('/').map_or("/", |(d, _)| d);
    let tmp = format!("{dir}/.tmp-{}", interleave::process::id());
    let mut file = File::create_new(&tmp)?; // NamedTempFile::new_in(dir)
    file.write_all(content.as_bytes())?;
    fs::rename(&tmp, doc)?; // persist(doc)
    drop(file);
    Ok(())
}

/// The locked cycle of `submit::run`: lock, re-read the document, write it back with `response`
/// appended, unlock. Returns what it re-read.
pub fn cycle(doc: &str, response: &str) -> io::Result<String> {
    let lock = acquire_doc_lock(doc)?;
    let content = fs::read_to_string(doc)?;
    atomic_write(doc, &format!("{content}{response}"))?;
    drop(lock); // explicit release after the document is written
    Ok(content)
}

/// The intervals (indices among steps) in which `holder` held the lock of `doc`: from its
/// `flock(…, LOCK_EX)` to the `close` of that descriptor (or the end of the trace).
pub fn held_intervals(t: &interleave::Trace, holder: &str) -> Vec<(usize, usize)> {
    let Some(h) = t.thread_index(holder) else { return Vec::new() };
    let mut out = Vec::new();
    let mut held: Option<(usize, String)> = None;
    for (i, s) in t.steps().enumerate().filter(|(_, s)| s.thread == h) {
        if s.call.starts_with("flock(") && s.call.contains("LOCK_EX") {
            let fd = s.call.trim_start_matches("flock(").split(',').next().unwrap_or_default().to_string();
            held = Some((i, fd));
        } else if let Some((from, fd)) = &held {
            if s.call == format!("close({fd})") {
                out.push((*from, i));
                held = None;
            }
        }
    }
    if let Some((from, _)) = held {
        out.push((from, t.step_count()));
    }
    out
}

/// Witness: `other` opened `doc`'s lock file (and so went on to wait in `flock`) while `holder`
/// held it.
pub fn waited_for(t: &interleave::Trace, doc: &str, holder: &str, other: &str) -> bool {
    let open = format!("open(\"{}\"", lock_path(doc));
    held_intervals(t, holder).into_iter().any(|(from, to)| t.step_between(other, &open, from, to))
}
