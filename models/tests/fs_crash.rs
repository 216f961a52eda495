//! Crash states of the file-system model (`fs::crash`), pinned as exact sets.
//!
//! Each test runs a short list of system calls on a fresh [`FsState`] and compares
//! [`crash_states`] with the expected states, written out literally in sorted order. The helper
//! also checks, for every state, that [`CrashState::to_fs`] rebuilds a fully durable file system
//! whose only crash state is that state, and that [`crash_state_count`] bounds the list.

use interleave_models::fs::crash::{crash_state_count, crash_states, CrashState, MAX_CRASH_STATES};
use interleave_models::fs::state::{Errno, Fd, FsState, OpenFlags, ProcId};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The process making every call.
const P: ProcId = ProcId(1);

/// One system call (or, for `FsyncDir`, the usual open + fsync + close of a directory).
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `mkdir(path)`.
    Mkdir(&'static str),
    /// `open(path, O_WRONLY|O_CREAT|O_TRUNC)`; the descriptor is remembered by path.
    Create(&'static str),
    /// `write(fd of path, data)`.
    Write(&'static str, &'static str),
    /// `fsync(fd of path)`.
    Fsync(&'static str),
    /// `close(fd of path)`.
    Close(&'static str),
    /// `open(path, O_RDONLY|O_DIRECTORY)`, `fsync`, `close`.
    FsyncDir(&'static str),
    /// `rename(from, to)`.
    Rename(&'static str, &'static str),
    /// `unlink(path)`.
    Unlink(&'static str),
}
use Op::*;

/// Runs `ops` on a fresh file system; every call must succeed.
fn run(ops: &[Op]) -> FsState {
    let mut fs = FsState::new();
    let mut fds = BTreeMap::new();
    for op in ops {
        assert_eq!(apply(&mut fs, &mut fds, *op), Ok(()), "{op:?}");
    }
    fs
}

/// Makes the call of `op`; `fds` holds the open descriptors by path.
fn apply(fs: &mut FsState, fds: &mut BTreeMap<&'static str, Fd>, op: Op) -> Result<(), Errno> {
    let fd = |fds: &BTreeMap<&str, Fd>, path: &str| fds.get(path).copied().ok_or(Errno::EBADF);
    match op {
        Mkdir(path) => fs.mkdir(path),
        Create(path) => fs.open(P, path, OpenFlags::O_WRONLY.creat().trunc()).map(|fd| {
            fds.insert(path, fd);
        }),
        Write(path, data) => fd(fds, path).and_then(|fd| fs.write(P, fd, data.as_bytes())).map(drop),
        Fsync(path) => fd(fds, path).and_then(|fd| fs.fsync(P, fd)),
        Close(path) => fd(fds, path).and_then(|fd| fs.close(P, fd)).map(|()| {
            fds.remove(path);
        }),
        FsyncDir(path) => fs.open(P, path, OpenFlags::O_RDONLY.directory()).and_then(|fd| {
            fs.fsync(P, fd)?;
            fs.close(P, fd)
        }),
        Rename(from, to) => fs.rename(from, to),
        Unlink(path) => fs.unlink(path),
    }
}

/// A crash state: these directories (and "/") and these files.
fn state(dirs: &[&str], files: &[(&str, &str)]) -> CrashState {
    CrashState {
        files: files.iter().map(|(path, data)| (path.to_string(), data.as_bytes().to_vec())).collect(),
        dirs: std::iter::once("/").chain(dirs.iter().copied()).map(String::from).collect(),
    }
}

/// A crash state of the save scenario: "/d" and these files in it.
fn d(files: &[(&str, &str)]) -> CrashState {
    state(&["/d"], files)
}

/// Runs `ops` and checks that the crash states are exactly `expected` (which must be written
/// sorted and without duplicates, so this pins the order too), that each state rebuilds into a
/// file system whose only crash state is itself, and that the count bounds the list. Returns the
/// file system and the count.
fn check(ops: &[Op], expected: &[CrashState]) -> (FsState, usize) {
    assert!(expected.windows(2).all(|w| w[0] < w[1]), "expected states must be sorted and distinct");
    let fs = run(ops);
    let got = crash_states(&fs);
    let shown = |states: &[CrashState]| states.iter().map(|s| format!("\n  {s}")).collect::<String>();
    assert_eq!(got, expected, "after {ops:?}\ngot:{}\nexpected:{}", shown(&got), shown(expected));
    for s in &got {
        assert_eq!(crash_states(&s.to_fs()), vec![s.clone()], "round trip of {s}");
        assert_eq!(crash_state_count(&s.to_fs()), 1);
    }
    let count = crash_state_count(&fs);
    assert!(count >= got.len(), "count {count} < {} states", got.len());
    (fs, count)
}

/// `check`, and the count is exact (no two choices give the same state).
fn check_exact(ops: &[Op], expected: &[CrashState]) {
    let (_, count) = check(ops, expected);
    assert_eq!(count, expected.len(), "crash_state_count after {ops:?}");
}

// ----- save_state_with_integrity (scenarios.md, "Crash consistency") ---------------------------

const STATE: &str = "/d/state";
const TMP: &str = "/d/state.tmp";

/// A durable "/d/state" = "old": the file fsynced, and both directories on its path.
const SETUP: &[Op] =
    &[Mkdir("/d"), FsyncDir("/"), Create(STATE), Write(STATE, "old"), Fsync(STATE), Close(STATE), FsyncDir("/d")];

/// `ops` after the setup.
fn after(ops: &[Op]) -> Vec<Op> {
    [SETUP, ops].concat()
}

#[test]
fn save_setup_is_one_durable_state() {
    check_exact(SETUP, &[d(&[("/d/state", "old")])]);
}

/// Variant `no-fsync`: write the temporary file, rename it over the state file, no fsync at all.
#[test]
fn save_without_any_fsync() {
    // The creation of state.tmp is the only change in /d's log: kept or not. A kept state.tmp
    // holds its durable contents, which for a new file are empty.
    check_exact(&after(&[Create(TMP)]), &[d(&[("/d/state", "old")]), d(&[("/d/state", "old"), ("/d/state.tmp", "")])]);
    // Once written, state.tmp holds its durable contents ("") or its current ones ("new").
    let written = [
        d(&[("/d/state", "old")]),
        d(&[("/d/state", "old"), ("/d/state.tmp", "")]),
        d(&[("/d/state", "old"), ("/d/state.tmp", "new")]),
    ];
    check_exact(&after(&[Create(TMP), Write(TMP, "new")]), &written);
    // close changes nothing durable.
    check_exact(&after(&[Create(TMP), Write(TMP, "new"), Close(TMP)]), &written);
    // /d's log is [Link state.tmp, Rename state.tmp -> state]. Prefix 0: the old file alone.
    // Prefix 1: the old file and state.tmp, empty or complete. Prefix 2: the rename happened,
    // and the renamed file holds "" (its data never fsynced: the counterexample) or "new".
    // state.tmp never coexists with the renamed state: a rename inside one directory is one
    // change of its log, kept whole or not at all.
    check_exact(
        &after(&[Create(TMP), Write(TMP, "new"), Close(TMP), Rename(TMP, STATE)]),
        &[
            d(&[("/d/state", "")]),
            d(&[("/d/state", "new")]),
            d(&[("/d/state", "old")]),
            d(&[("/d/state", "old"), ("/d/state.tmp", "")]),
            d(&[("/d/state", "old"), ("/d/state.tmp", "new")]),
        ],
    );
}

/// Variant `file-fsync-only`: the temporary file is fsynced before the rename, /d is not.
#[test]
fn save_with_file_fsync_only() {
    // After the fsync state.tmp can no longer be empty, but its name may still be lost.
    let synced = [d(&[("/d/state", "old")]), d(&[("/d/state", "old"), ("/d/state.tmp", "new")])];
    check_exact(&after(&[Create(TMP), Write(TMP, "new"), Fsync(TMP)]), &synced);
    check_exact(&after(&[Create(TMP), Write(TMP, "new"), Fsync(TMP), Close(TMP)]), &synced);
    // After the rename: never empty, but the rename itself may be lost ("old" after `save`
    // returned: the counterexample), with or without state.tmp.
    check_exact(
        &after(&[Create(TMP), Write(TMP, "new"), Fsync(TMP), Close(TMP), Rename(TMP, STATE)]),
        &[d(&[("/d/state", "new")]), d(&[("/d/state", "old")]), d(&[("/d/state", "old"), ("/d/state.tmp", "new")])],
    );
}

/// Variant `fixed`: fsync the file, rename, fsync the directory.
#[test]
fn save_with_file_and_directory_fsync() {
    // The fsync of /d makes the whole log durable: one state left.
    check_exact(
        &after(&[Create(TMP), Write(TMP, "new"), Fsync(TMP), Close(TMP), Rename(TMP, STATE), FsyncDir("/d")]),
        &[d(&[("/d/state", "new")])],
    );
    // Fsyncing /d without the file first only pins the names: the data can still be lost.
    check_exact(
        &after(&[Create(TMP), Write(TMP, "new"), Close(TMP), Rename(TMP, STATE), FsyncDir("/d")]),
        &[d(&[("/d/state", "")]), d(&[("/d/state", "new")])],
    );
}

// ----- directories ---------------------------------------------------------------------------

/// "/a" and "/b" durable, and a durable "/a/f" = "x".
const AB: &[Op] = &[
    Mkdir("/a"),
    Mkdir("/b"),
    FsyncDir("/"),
    Create("/a/f"),
    Write("/a/f", "x"),
    Fsync("/a/f"),
    Close("/a/f"),
    FsyncDir("/a"),
];

#[test]
fn cross_directory_rename_halves_are_independent() {
    // /a's log is [Unlink f], /b's is [Link f]: each kept or not, independently. Both halves
    // lost: the file has no name; both kept: it has two. The conservative contract allows both.
    let ab = &["/a", "/b"];
    check_exact(
        &[AB, &[Rename("/a/f", "/b/f")]].concat(),
        &[
            state(ab, &[]),
            state(ab, &[("/a/f", "x")]),
            state(ab, &[("/a/f", "x"), ("/b/f", "x")]),
            state(ab, &[("/b/f", "x")]),
        ],
    );
    // Syncing /b only: the new name is durable, the old one may still be there.
    check_exact(
        &[AB, &[Rename("/a/f", "/b/f"), FsyncDir("/b")]].concat(),
        &[state(ab, &[("/a/f", "x"), ("/b/f", "x")]), state(ab, &[("/b/f", "x")])],
    );
}

#[test]
fn a_file_with_two_names_after_a_crash_has_one_contents() {
    // As above, but the data is not fsynced ("/a/f" durable as an empty file, current "x").
    // Where both names survive they are one inode: both "" or both "x", never mixed. The count
    // chooses per name (3 for /a times 3 for /b) and so over-counts by the two mixed states.
    let ops = [
        Mkdir("/a"),
        Mkdir("/b"),
        FsyncDir("/"),
        Create("/a/f"),
        FsyncDir("/a"),
        Write("/a/f", "x"),
        Close("/a/f"),
        Rename("/a/f", "/b/f"),
    ];
    let ab = &["/a", "/b"];
    let (_, count) = check(
        &ops,
        &[
            state(ab, &[]),
            state(ab, &[("/a/f", "")]),
            state(ab, &[("/a/f", ""), ("/b/f", "")]),
            state(ab, &[("/a/f", "x")]),
            state(ab, &[("/a/f", "x"), ("/b/f", "x")]),
            state(ab, &[("/b/f", "")]),
            state(ab, &[("/b/f", "x")]),
        ],
    );
    assert_eq!(count, 9);
}

#[test]
fn a_new_directory_exists_only_if_its_parent_kept_its_name() {
    // The root's log is [Link n]; /n's is [Link f]. Without n there is nothing below it; with
    // it, /n is empty or holds f, empty or complete.
    check_exact(
        &[Mkdir("/n"), Create("/n/f"), Write("/n/f", "x"), Close("/n/f")],
        &[state(&[], &[]), state(&["/n"], &[]), state(&["/n"], &[("/n/f", "")]), state(&["/n"], &[("/n/f", "x")])],
    );
    // Syncing /n does not help while "/" is not synced.
    check_exact(
        &[Mkdir("/n"), Create("/n/f"), Write("/n/f", "x"), Fsync("/n/f"), Close("/n/f"), FsyncDir("/n")],
        &[state(&[], &[]), state(&["/n"], &[("/n/f", "x")])],
    );
}

#[test]
fn different_prefixes_giving_one_tree_are_one_state() {
    // The root's log is [Link x, Unlink x]: prefixes 0 and 2 both leave an empty root.
    let (_, count) = check(&[Create("/x"), Close("/x"), Unlink("/x")], &[state(&[], &[]), state(&[], &[("/x", "")])]);
    assert_eq!(count, 3, "the count counts choices, not distinct states");
}

#[test]
fn a_freed_file_brought_back_by_a_crash_has_its_durable_contents() {
    // The model keeps only the durable contents of a freed inode (documented limit): "/x" was
    // written ("1") but never fsynced, then unlinked and closed, so a crash that keeps its
    // creation and loses its unlink shows it empty.
    check(&[Create("/x"), Write("/x", "1"), Close("/x"), Unlink("/x")], &[state(&[], &[]), state(&[], &[("/x", "")])]);
    // Still open, the orphan is live and both contents are possible.
    check(
        &[Create("/x"), Write("/x", "1"), Unlink("/x")],
        &[state(&[], &[]), state(&[], &[("/x", "")]), state(&[], &[("/x", "1")])],
    );
}

#[test]
fn directory_cycles_are_cut_not_followed() {
    // Durable: /a/b. Then /a/b moves to /b and /a moves into it (/b/a): two cross-directory
    // renames, four independent logs. A crash can keep /a's old entry b (prefix 0) and also /b's
    // new entry a (the same inodes): a cycle a -> b -> a, which the walk cuts where it would
    // repeat an ancestor, instead of looping.
    let ops = [
        Mkdir("/a"),
        Mkdir("/a/b"),
        FsyncDir("/"),
        FsyncDir("/a"),
        FsyncDir("/a/b"),
        Rename("/a/b", "/b"),
        Rename("/a", "/b/a"),
    ];
    // Root prefixes: {a}, {a, b}, {b}; /a: {b}, {}; /b: {}, {a}. Under root {a}: /a/b, and /a/b/a
    // would be /a again (cut). Under root {a, b}: /a and /b each reach the other once. Under root
    // {b}: /b and /b/a, whose b would be /b again (cut).
    let (_, count) = check(
        &ops,
        &[
            state(&["/a"], &[]),
            state(&["/a", "/a/b"], &[]),
            state(&["/a", "/a/b", "/b"], &[]),
            state(&["/a", "/a/b", "/b", "/b/a"], &[]),
            state(&["/a", "/b"], &[]),
            state(&["/a", "/b", "/b/a"], &[]),
            state(&["/b"], &[]),
            state(&["/b", "/b/a"], &[]),
        ],
    );
    assert!(count >= 8);
}

// ----- limits, order, display, rebuild -------------------------------------------------------

#[test]
fn an_empty_file_system_has_one_crash_state() {
    check_exact(&[], &[state(&[], &[])]);
}

#[test]
fn too_many_states_are_truncated_deterministically() {
    // 13 files whose names are durable and whose data is not: 2^13 = 8192 states.
    let names: Vec<String> = (0..13).map(|i| format!("/f{i:02}")).collect();
    let mut fs = FsState::new();
    let mut fds = Vec::new();
    for name in &names {
        fds.push(fs.open(P, name, OpenFlags::O_RDWR.creat()).unwrap());
    }
    let root = fs.open(P, "/", OpenFlags::O_RDONLY.directory()).unwrap();
    fs.fsync(P, root).unwrap();
    for fd in &fds {
        fs.write(P, *fd, b"x").unwrap();
    }
    assert_eq!(crash_state_count(&fs), 8192);
    let states = crash_states(&fs);
    assert_eq!(states.len(), MAX_CRASH_STATES);
    assert!(states.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    assert_eq!(crash_states(&fs), states, "deterministic");
    // The walk takes each file's durable contents first, so the first file stays durable in
    // every state kept and the other twelve take all 4096 combinations.
    assert!(states.iter().all(|s| s.files.get("/f00") == Some(&Vec::new())));
    let f12: BTreeSet<&Vec<u8>> = states.iter().filter_map(|s| s.files.get("/f12")).collect();
    assert_eq!(f12.len(), 2);
}

#[test]
fn display_is_one_line_in_tree_order() {
    let s = state(&["/d", "/d-e", "/d/sub"], &[("/d/state", "{\"v\":1}"), ("/d/z", ""), ("/top", "a\\b")]);
    assert_eq!(
        s.to_string(),
        "/: [d, d-e, top]; /d: [state, sub, z]; /d/state = \"{\\\"v\\\":1}\"; /d/sub: []; /d/z = \"\"; \
         /d-e: []; /top = \"a\\\\b\""
    );
    let bytes = CrashState {
        files: BTreeMap::from([("/b".to_string(), b"\n\0\xff~ ".to_vec())]),
        dirs: BTreeSet::from(["/".to_string()]),
    };
    assert_eq!(bytes.to_string(), r#"/: [b]; /b = "\n\x00\xff~ ""#);
    assert_eq!(state(&[], &[]).to_string(), "/: []");
}

#[test]
fn to_fs_builds_a_durable_tree_and_skips_what_is_not_a_tree() {
    let s = state(&["/d", "/d/e"], &[("/d/e/f", "data"), ("/g", "")]);
    let fs = s.to_fs();
    assert_eq!(fs.contents("/d/e/f"), Some(b"data".to_vec()));
    assert_eq!(fs.readdir("/"), Ok(vec!["d".to_string(), "g".to_string()]));
    assert_eq!(crash_states(&fs), vec![s]);
    // A hand-made state with an orphan file, a bad path and a path both file and directory: no
    // panic, and what can be built is.
    let bad = state(&["/x", "/x/"], &[("/nodir/f", "1"), ("/x", "2"), ("rel", "3"), ("/ok", "4")]);
    assert_eq!(crash_states(&bad.to_fs()), vec![state(&["/x"], &[("/ok", "4")])]);
}

// ----- any sequence of calls ----------------------------------------------------------------

/// Every call over a tiny namespace (so names collide), for the property test.
fn any_op() -> impl Strategy<Value = Op> {
    const FILES: &[&str] = &["/a", "/b", "/d/a", "/d/b", "/e/a"];
    const DIRS: &[&str] = &["/", "/d", "/e", "/d/e"];
    let mut ops = Vec::new();
    for &f in FILES {
        ops.extend([Create(f), Fsync(f), Close(f), Unlink(f), Write(f, "1"), Write(f, "22")]);
        ops.extend(FILES.iter().map(|&to| Rename(f, to)));
    }
    for &dir in DIRS {
        ops.extend([Mkdir(dir), FsyncDir(dir), FsyncDir(dir), Rename(dir, "/e/d"), Rename(dir, "/d/e")]);
    }
    prop::sample::select(ops)
}

/// The tree as it is now (what a crash after fsyncing everything leaves).
fn current_tree(fs: &FsState) -> CrashState {
    let mut s = state(&[], &[]);
    let mut todo = vec!["/".to_string()];
    while let Some(dir) = todo.pop() {
        for name in fs.readdir(&dir).unwrap_or_default() {
            let path = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            if fs.is_dir(&path) {
                s.dirs.insert(path.clone());
                todo.push(path);
            } else {
                s.files.insert(path.clone(), fs.contents(&path).unwrap_or_default());
            }
        }
    }
    s
}

proptest! {
    /// Whatever the calls: the states are sorted, distinct, bounded by the count and the limit,
    /// include the current tree, and rebuild into themselves; once every file and directory of
    /// the current tree is fsynced, the current tree is the only state left.
    #[test]
    fn crash_states_are_sound_for_any_calls(ops in prop::collection::vec(any_op(), 0..14)) {
        let mut fs = FsState::new();
        let mut fds = BTreeMap::new();
        for op in &ops {
            let _ = apply(&mut fs, &mut fds, *op);
            let states = crash_states(&fs);
            prop_assert!(!states.is_empty() && states.len() <= MAX_CRASH_STATES);
            prop_assert!(states.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(crash_state_count(&fs) >= states.len());
            let now = current_tree(&fs);
            prop_assert!(states.contains(&now), "current tree {} missing after {:?}", now, ops);
            for s in &states {
                prop_assert_eq!(crash_states(&s.to_fs()), vec![s.clone()]);
            }
        }
        let now = current_tree(&fs);
        let q = ProcId(2);
        for path in now.files.keys() {
            let fd = fs.open(q, path, OpenFlags::O_RDONLY).unwrap();
            fs.fsync(q, fd).unwrap();
            fs.close(q, fd).unwrap();
        }
        for dir in &now.dirs {
            let fd = fs.open(q, dir, OpenFlags::O_RDONLY.directory()).unwrap();
            fs.fsync(q, fd).unwrap();
            fs.close(q, fd).unwrap();
        }
        prop_assert_eq!(crash_states(&fs), vec![now]);
        prop_assert_eq!(crash_state_count(&fs), 1);
    }
}
