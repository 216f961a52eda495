//! worker-state on the real OS: the `fixed` write (a unique temporary file from
//! `tempfile::NamedTempFile::new_in`, `write`, `sync_all`, `persist` = rename, fsync of the
//! directory) under real concurrent `read_all`s never shows a reader a missing, empty or partial
//! state file; and, as the control that shows the test can fail, the `buggy` write
//! (`fs::write` in place) does show one within the iteration bound.
//!
//! Bounded by iterations, never by time: the writer makes at most a fixed number of writes and the
//! readers stop when it is done.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Concurrent `read_all` threads.
const READERS: usize = 2;
/// Bytes of padding in each state, so that a write takes long enough to be caught half done.
const PAD: usize = 64 * 1024;

fn state(seq: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "id": "w", "seq": seq, "log": "x".repeat(PAD) })).unwrap()
}

/// What the readers saw go wrong, and how many files they parsed.
#[derive(Default)]
struct Seen {
    bad: Mutex<Vec<String>>,
    bad_count: AtomicUsize,
    parsed: AtomicUsize,
    /// Writes the writer made.
    writes: AtomicUsize,
}

impl Seen {
    fn bad(&self, what: String) {
        self.bad_count.fetch_add(1, Ordering::SeqCst);
        let mut bad = self.bad.lock().unwrap();
        if bad.len() < 5 {
            bad.push(what);
        }
    }
}

/// `read_all`, without the delete: list the directory, read and parse every `*.json`; and read
/// `w.json` by name as well, so that a missing file is noticed even when a listing races a rename
/// (readdir need not return an entry renamed during it).
fn read_all(dir: &Path, path: &Path, seen: &Seen) {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.push(path.to_path_buf());
    for p in paths {
        match fs::read(&p) {
            Err(e) => seen.bad(format!("{}: {e}", p.display())),
            Ok(data) => match serde_json::from_slice::<serde_json::Value>(&data) {
                Ok(_) => {
                    seen.parsed.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => seen.bad(format!("{}: {} bytes: {e}", p.display(), data.len())),
            },
        }
    }
}

/// How `write_state` writes.
#[derive(Clone, Copy)]
enum How {
    /// `fs::write(path)`: truncate in place (as audited).
    InPlace,
    /// A unique temporary file, fsync, rename, fsync of the directory (`fixed`).
    UniqueTemp,
}

fn write_state(dir: &Path, path: &Path, how: How, data: &[u8]) {
    match how {
        How::InPlace => fs::write(path, data).unwrap(),
        How::UniqueTemp => {
            let mut tmp = tempfile::NamedTempFile::new_in(dir).unwrap();
            tmp.write_all(data).unwrap();
            tmp.as_file().sync_all().unwrap();
            tmp.persist(path).unwrap();
            fs::File::open(dir).unwrap().sync_all().unwrap();
        }
    }
}

/// Runs `writes` writes of `how` against `READERS` concurrent `read_all`s; with `stop_at_first_bad`
/// the writer stops as soon as a reader has seen something wrong.
fn run(how: How, writes: usize, stop_at_first_bad: bool) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.json");
    fs::write(&path, state(0)).unwrap();
    let seen = Seen::default();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..READERS {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    read_all(dir.path(), &path, &seen);
                }
            });
        }
        for seq in 1..=writes {
            write_state(dir.path(), &path, how, &state(seq));
            seen.writes.store(seq, Ordering::SeqCst);
            if stop_at_first_bad && seen.bad_count.load(Ordering::SeqCst) > 0 {
                break;
            }
        }
        done.store(true, Ordering::SeqCst);
    });
    seen
}

#[test]
fn fixed_write_never_shows_a_reader_a_missing_or_partial_file() {
    let seen = run(How::UniqueTemp, 300, false);
    let bad = seen.bad.lock().unwrap();
    assert!(bad.is_empty(), "{} bad reads, first: {bad:#?}", seen.bad_count.load(Ordering::SeqCst));
    let parsed = seen.parsed.load(Ordering::SeqCst);
    assert!(parsed > 0, "the readers never read");
    println!("{} writes, {parsed} complete reads, no bad one", seen.writes.load(Ordering::SeqCst));
}

#[test]
fn control_buggy_write_in_place_shows_a_reader_a_partial_file() {
    // The same test against the audited code must fail, or it proves nothing.
    let seen = run(How::InPlace, 5_000, true);
    assert!(
        seen.bad_count.load(Ordering::SeqCst) > 0,
        "fs::write in place never showed a reader an empty or partial file in 5000 writes"
    );
    let bad = seen.bad.lock().unwrap();
    println!("first bad read after {} writes: {}", seen.writes.load(Ordering::SeqCst), bad[0]);
}
