//! Differential test of `interleave::fs`'s std-shaped calls against `std::fs` itself.
//!
//! proptest generates sequences of calls (`fs::write`, `fs::read`, `fs::read_to_string`,
//! `fs::rename`, `fs::remove_file`, `fs::create_dir`, `fs::create_dir_all`, `fs::remove_dir`,
//! `fs::metadata`, `fs::exists`, `fs::read_dir`, and `File`s opened with every combination of
//! `OpenOptions` and used with `read`, `write`, `read_to_end`, `set_len`, `sync_all`,
//! `sync_data`, `metadata`, `lock`, `try_lock`, `try_lock_shared`, `unlock`) over a tiny
//! namespace, runs each sequence with `std::fs` on a real temporary directory and with
//! `interleave::fs` inside one execution of the model, and compares every result: values, and for
//! errors the `ErrorKind` and the `raw_os_error`. Directory listings are compared sorted (the
//! kernel's order is the file system's).
//!
//! Case count: 2,000 by default (a case costs about a millisecond); `PROPTEST_CASES=N` overrides
//! it.

#![cfg(target_os = "linux")]

use harness::{Expect, Scenario, Source, Variant};
use interleave_models::fs as model;
use proptest::prelude::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const FILES: &[&str] = &["a", "b", "s/a", "s/t/b"];
const DIRS: &[&str] = &["s", "s/t", "u"];

#[derive(Clone, Debug)]
enum Op {
    Write(&'static str, Vec<u8>),
    Read(&'static str),
    ReadToString(&'static str),
    Rename(&'static str, &'static str),
    RemoveFile(&'static str),
    CreateDir(&'static str),
    CreateDirAll(&'static str),
    RemoveDir(&'static str),
    Metadata(&'static str),
    Exists(&'static str),
    ReadDir(&'static str),
    /// Open into a slot: read, write, append, truncate, create, create_new.
    Open(usize, &'static str, [bool; 6]),
    FileRead(usize, usize),
    FileWrite(usize, Vec<u8>),
    FileReadToEnd(usize),
    SetLen(usize, u64),
    SyncAll(usize),
    SyncData(usize),
    FileMetadata(usize),
    Lock(usize),
    TryLock(usize),
    TryLockShared(usize),
    Unlock(usize),
    Close(usize),
}

fn any_path() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => prop::sample::select(FILES), 2 => prop::sample::select(DIRS), 1 => Just("")]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), Just(0xff)], 0..6)
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..3usize;
    prop_oneof![
        (any_path(), data()).prop_map(|(p, d)| Op::Write(p, d)),
        any_path().prop_map(Op::Read),
        any_path().prop_map(Op::ReadToString),
        (any_path(), any_path()).prop_map(|(a, b)| Op::Rename(a, b)),
        any_path().prop_map(Op::RemoveFile),
        any_path().prop_map(Op::CreateDir),
        any_path().prop_map(Op::CreateDirAll),
        any_path().prop_map(Op::RemoveDir),
        any_path().prop_map(Op::Metadata),
        any_path().prop_map(Op::Exists),
        any_path().prop_map(Op::ReadDir),
        (slot.clone(), any_path(), prop::array::uniform6(any::<bool>())).prop_map(|(s, p, o)| Op::Open(s, p, o)),
        (slot.clone(), 0..8usize).prop_map(|(s, n)| Op::FileRead(s, n)),
        (slot.clone(), data()).prop_map(|(s, d)| Op::FileWrite(s, d)),
        slot.clone().prop_map(Op::FileReadToEnd),
        (slot.clone(), 0..8u64).prop_map(|(s, n)| Op::SetLen(s, n)),
        slot.clone().prop_map(Op::SyncAll),
        slot.clone().prop_map(Op::SyncData),
        slot.clone().prop_map(Op::FileMetadata),
        slot.clone().prop_map(Op::Lock),
        slot.clone().prop_map(Op::TryLock),
        slot.clone().prop_map(Op::TryLockShared),
        slot.clone().prop_map(Op::Unlock),
        slot.prop_map(Op::Close),
    ]
}

fn io_err(e: &std::io::Error) -> String {
    format!("Err({:?}, {:?})", e.kind(), e.raw_os_error())
}

fn try_lock_err(e: &std::fs::TryLockError) -> String {
    match e {
        std::fs::TryLockError::WouldBlock => "WouldBlock".into(),
        std::fs::TryLockError::Error(e) => io_err(e),
    }
}

/// Runs `ops` with the `fs` module `$fs` (std's or the model's) under `$root`; `$file` is its
/// `File` type. Returns one line per call. A blocking `lock` that another slot's lock would hold
/// up forever (the same process, another description) is skipped.
macro_rules! run {
    ($fs:ident, $file:ty, $root:expr, $ops:expr) => {{
        let root: PathBuf = $root;
        let at = |p: &str| if p.is_empty() { root.clone() } else { root.join(p) };
        let mut slots: Vec<Option<$file>> = (0..3).map(|_| None).collect();
        let mut locks = [false; 3];
        let mut out: Vec<String> = Vec::new();
        for op in $ops {
            let line = match op {
                Op::Write(p, d) => format!("{:?}", $fs::write(at(p), d).map_err(|e| io_err(&e))),
                Op::Read(p) => format!("{:?}", $fs::read(at(p)).map_err(|e| io_err(&e))),
                Op::ReadToString(p) => format!("{:?}", $fs::read_to_string(at(p)).map_err(|e| io_err(&e))),
                Op::Rename(a, b) => format!("{:?}", $fs::rename(at(a), at(b)).map_err(|e| io_err(&e))),
                Op::RemoveFile(p) => format!("{:?}", $fs::remove_file(at(p)).map_err(|e| io_err(&e))),
                Op::CreateDir(p) => format!("{:?}", $fs::create_dir(at(p)).map_err(|e| io_err(&e))),
                Op::CreateDirAll(p) => format!("{:?}", $fs::create_dir_all(at(p)).map_err(|e| io_err(&e))),
                Op::RemoveDir(p) if !p.is_empty() => {
                    format!("{:?}", $fs::remove_dir(at(p)).map_err(|e| io_err(&e)))
                }
                Op::Metadata(p) => match $fs::metadata(at(p)) {
                    Ok(m) if m.is_dir() => "dir".to_string(),
                    Ok(m) => format!("file {}", m.len()),
                    Err(e) => io_err(&e),
                },
                Op::Exists(p) => format!("{:?}", $fs::exists(at(p)).map_err(|e| io_err(&e))),
                Op::ReadDir(p) => match $fs::read_dir(at(p)) {
                    Ok(entries) => {
                        let mut names: Vec<String> = entries
                            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()).unwrap_or_default())
                            .collect();
                        names.sort();
                        format!("{names:?}")
                    }
                    Err(e) => io_err(&e),
                },
                Op::Open(s, p, o) if slots[*s].is_none() => {
                    let r = $fs::OpenOptions::new()
                        .read(o[0])
                        .write(o[1])
                        .append(o[2])
                        .truncate(o[3])
                        .create(o[4])
                        .create_new(o[5])
                        .open(at(p));
                    match r {
                        Ok(f) => {
                            slots[*s] = Some(f);
                            locks[*s] = false;
                            "opened".to_string()
                        }
                        Err(e) => io_err(&e),
                    }
                }
                Op::FileRead(s, n) => match &mut slots[*s] {
                    Some(f) => {
                        let mut buf = vec![0u8; *n];
                        format!("{:?}", f.read(&mut buf).map(|k| buf[..k].to_vec()).map_err(|e| io_err(&e)))
                    }
                    None => "no file".into(),
                },
                Op::FileWrite(s, d) => match &mut slots[*s] {
                    Some(f) => format!("{:?}", f.write_all(d).map_err(|e| io_err(&e))),
                    None => "no file".into(),
                },
                Op::FileReadToEnd(s) => match &mut slots[*s] {
                    Some(f) => {
                        let mut buf = Vec::new();
                        format!("{:?}", f.read_to_end(&mut buf).map(|_| buf).map_err(|e| io_err(&e)))
                    }
                    None => "no file".into(),
                },
                Op::SetLen(s, n) => match &slots[*s] {
                    Some(f) => format!("{:?}", f.set_len(*n).map_err(|e| io_err(&e))),
                    None => "no file".into(),
                },
                Op::SyncAll(s) => match &slots[*s] {
                    Some(f) => format!("{:?}", f.sync_all().map_err(|e| io_err(&e))),
                    None => "no file".into(),
                },
                Op::SyncData(s) => match &slots[*s] {
                    Some(f) => format!("{:?}", f.sync_data().map_err(|e| io_err(&e))),
                    None => "no file".into(),
                },
                Op::FileMetadata(s) => match &slots[*s] {
                    Some(f) => match f.metadata() {
                        Ok(m) if m.is_dir() => "dir".to_string(),
                        Ok(m) => format!("file {}", m.len()),
                        Err(e) => io_err(&e),
                    },
                    None => "no file".into(),
                },
                // A blocking lock while another slot holds one could wait forever: try instead.
                Op::Lock(s) if locks.iter().enumerate().all(|(i, l)| i == *s || !l) => match &slots[*s] {
                    Some(f) => {
                        let r = f.lock().map_err(|e| io_err(&e));
                        locks[*s] = r.is_ok();
                        format!("{r:?}")
                    }
                    None => "no file".into(),
                },
                Op::TryLock(s) => match &slots[*s] {
                    Some(f) => {
                        let r = f.try_lock();
                        if r.is_ok() {
                            locks[*s] = true;
                        }
                        format!("{:?}", r.map_err(|e| try_lock_err(&e)))
                    }
                    None => "no file".into(),
                },
                Op::TryLockShared(s) => match &slots[*s] {
                    Some(f) => {
                        let r = f.try_lock_shared();
                        if r.is_ok() {
                            locks[*s] = true;
                        }
                        format!("{:?}", r.map_err(|e| try_lock_err(&e)))
                    }
                    None => "no file".into(),
                },
                Op::Unlock(s) => match &slots[*s] {
                    Some(f) => {
                        locks[*s] = false;
                        format!("{:?}", f.unlock().map_err(|e| io_err(&e)))
                    }
                    None => "no file".into(),
                },
                Op::Close(s) => {
                    locks[*s] = false;
                    slots[*s] = None;
                    "closed".into()
                }
                _ => "skipped".into(),
            };
            out.push(line);
        }
        out
    }};
}

/// Runs `f` as the body of one execution and returns what it returned.
fn in_execution<R: Send + 'static>(f: impl Fn() -> R + Send + Sync + 'static) -> R {
    let out: Arc<Mutex<Option<R>>> = Arc::default();
    let slot = Arc::clone(&out);
    let v = Variant::new("ops", Expect::Holds, move |_| {
        let r = f();
        *slot.lock().unwrap() = Some(r);
    });
    let s = Scenario::new("std-fs", "", Source { seed: "-", section: "-" }, vec![v]);
    let outcome = harness::check::replay_lenient(&s.variants[0], Vec::new());
    assert!(outcome.violation().is_none(), "{:?}", outcome.violations);
    let r = out.lock().unwrap().take();
    r.expect("the body ran")
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn std_shaped_calls_behave_as_std_fs(ops in prop::collection::vec(op(), 1..30)) {
        let tmp = tempfile::tempdir().unwrap();
        let expected = run!(std_fs, std::fs::File, tmp.path().to_path_buf(), &ops);
        let model_ops = ops.clone();
        let got = in_execution(move || {
            model::Fs::current().setup_dir("/root");
            run!(model, model::File, Path::new("/root").to_path_buf(), &model_ops)
        });
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            prop_assert_eq!(g, e, "call {} of {:?}", i + 1, &ops[..=i]);
        }
    }
}

/// `std::fs`, under the name the macro uses for it.
mod std_fs {
    pub use std::fs::*;
}

/// Runs `ops` both ways and compares them call by call.
fn same_both_ways(ops: &[Op]) {
    let tmp = tempfile::tempdir().unwrap();
    let expected = run!(std_fs, std::fs::File, tmp.path().to_path_buf(), ops);
    let model_ops = ops.to_vec();
    let got = in_execution(move || {
        model::Fs::current().setup_dir("/root");
        run!(model, model::File, Path::new("/root").to_path_buf(), &model_ops)
    });
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "call {} of {:?}", i + 1, &ops[..=i]);
    }
}

#[test]
fn chosen_sequences_behave_as_std_fs() {
    use Op::*;
    const RW_APPEND: [bool; 6] = [true, false, true, false, false, false];
    const RO: [bool; 6] = [true, false, false, false, false, false];
    const RW: [bool; 6] = [true, true, false, false, false, false];
    const NEW: [bool; 6] = [false, true, false, false, false, true];
    let cases: Vec<Vec<Op>> = vec![
        // An appending descriptor writes at the end, whatever its offset.
        vec![Write("a", b"xy".to_vec()), Open(0, "a", RW_APPEND), FileWrite(0, b"z".to_vec()), Read("a")],
        vec![
            Write("a", b"xy".to_vec()),
            Open(0, "a", RW_APPEND),
            FileRead(0, 1),
            FileWrite(0, b"z".to_vec()),
            FileReadToEnd(0),
        ],
        // create_new on an existing file; set_len on a read-only descriptor; shrink and grow.
        vec![Write("a", b"x".to_vec()), Open(0, "a", NEW), Open(1, "a", RO), SetLen(1, 0)],
        vec![Write("a", b"xyz".to_vec()), Open(0, "a", RW), SetLen(0, 1), FileReadToEnd(0), SetLen(0, 4), Read("a")],
        // Directories: rename a file over one, a directory into itself, remove a non-empty one,
        // read one, list a file, create_dir_all through a file, create_dir of an existing one.
        vec![
            CreateDir("s"),
            Write("a", vec![]),
            Rename("a", "s"),
            Rename("s", "s/t"),
            Write("s/a", vec![]),
            RemoveDir("s"),
        ],
        vec![
            CreateDir("s"),
            Read("s"),
            ReadToString("s"),
            ReadDir("a"),
            Write("a", vec![]),
            ReadDir("a"),
            CreateDirAll("a/b"),
        ],
        vec![CreateDirAll("s/t"), CreateDirAll("s/t"), CreateDir("s"), ReadDir("s"), Metadata("s/t"), Exists("s/t/b")],
        // Not UTF-8.
        vec![Write("a", vec![0xff]), ReadToString("a"), Read("a")],
        // flock between two descriptions of one file in one process.
        vec![
            Write("a", vec![]),
            Open(0, "a", RO),
            Open(1, "a", RW),
            TryLock(0),
            TryLock(1),
            TryLockShared(1),
            Unlock(0),
            TryLockShared(1),
            TryLockShared(0),
            TryLock(0),
        ],
        // A file removed while open keeps its data for the descriptor.
        vec![
            Write("a", b"xy".to_vec()),
            Open(0, "a", RO),
            RemoveFile("a"),
            FileReadToEnd(0),
            FileMetadata(0),
            Exists("a"),
        ],
    ];
    for ops in cases {
        same_both_ways(&ops);
    }
}
