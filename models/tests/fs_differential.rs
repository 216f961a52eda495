//! Differential test of the file-system model against the real kernel.
//!
//! proptest generates short sequences of system calls over a tiny namespace
//! (so names collide often), runs each call on the model and on a real
//! temporary directory, and after every call compares the results (errno
//! included) and then the whole tree: every directory's listing and every
//! file's contents. It also checks that each open descriptor refers to the
//! same inode (same size, link count, bytes, and sharing with other
//! descriptors) in both worlds, and a few internal model invariants.
//!
//! Case count: 256 by default; `PROPTEST_CASES=N` overrides it (proptest's
//! `ProptestConfig::default()` reads the variable).

// The model is of Linux, and the flag values below are Linux's.
#![cfg(target_os = "linux")]

use interleave_models::fs::state::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

// Linux open(2) flag bits (no libc dependency). These are the values on
// x86_64, aarch64, arm and riscv64, except O_DIRECTORY, which differs.
// They are all passed through `custom_flags`, which std ORs into the
// syscall's flags unchecked, so every combination reaches the kernel exactly
// as the model sees it. (std's own `truncate`/`create`/`append` would refuse
// some combinations, e.g. O_RDONLY|O_TRUNC, before making the syscall, and
// so hide the kernel's behaviour.) The access mode still comes from
// `read`/`write`: std sets it itself.
const O_CREAT: i32 = 0o100;
const O_EXCL: i32 = 0o200;
const O_TRUNC: i32 = 0o1000;
const O_APPEND: i32 = 0o2000;
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
const O_DIRECTORY: i32 = 0o200000;
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const O_DIRECTORY: i32 = 0o40000;

/// Paths that mutating calls use, from a tiny namespace so that names
/// collide often: file names in "/" and "/d" (which every run starts with),
/// and a few directory-ish names for nesting, renaming directories into
/// themselves, and so on. "/" itself is left out on purpose: it is mapped to
/// the temporary directory, whose last component is a normal name to the
/// kernel, so `rmdir`/`rename` of it would not behave like the root (and
/// could delete the test's own directory). The root cases are pinned by the
/// unit tests instead.
const ROOT_FILES: &[&str] = &["/a", "/b", "/a.tmp"];
const SUBDIR_FILES: &[&str] = &["/d/a", "/d/b", "/d/a.tmp"];
const DIRS: &[&str] = &["/d", "/e", "/d/e", "/e/a"];

fn path() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        3 => prop::sample::select(ROOT_FILES),
        2 => prop::sample::select(SUBDIR_FILES),
        1 => prop::sample::select(DIRS),
    ]
}

/// Paths for calls that only look (open, readdir): the above plus "/".
fn look_path() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => path(), 1 => Just("/")]
}

/// A descriptor number the model never hands out in a 40-call sequence.
const NEVER_OPENED: Fd = Fd(99);

/// Which descriptor a call uses: the `index`-th open one of `proc`, or (if
/// `bogus`, or none is open) one that was never opened.
#[derive(Clone, Copy, Debug)]
struct FdPick {
    proc: u32,
    index: usize,
    bogus: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Open(u32, &'static str, OpenFlags),
    Close(FdPick),
    Write(FdPick, Vec<u8>),
    Read(FdPick, usize),
    LseekStart(FdPick),
    Fsync(FdPick),
    Unlink(&'static str),
    Rename(&'static str, &'static str),
    Mkdir(&'static str),
    Rmdir(&'static str),
    Readdir(&'static str),
    Exit(u32),
}

fn proc_id() -> impl Strategy<Value = u32> {
    1..=2u32
}

fn open_flags() -> impl Strategy<Value = OpenFlags> {
    let mode = prop::sample::select(vec![O_RDONLY, O_WRONLY, O_RDWR]);
    let w = prop::bool::weighted;
    (mode, w(0.7), w(0.2), w(0.25), w(0.25), w(0.15)).prop_map(|(mode, creat, excl, trunc, append, directory)| {
        let mut f = mode;
        f.create = creat;
        f.excl = excl;
        f.trunc = trunc;
        f.append = append;
        f.directory = directory;
        f
    })
}

fn fd_pick() -> impl Strategy<Value = FdPick> {
    (proc_id(), 0..8usize, prop::bool::weighted(0.1)).prop_map(|(proc, index, bogus)| FdPick { proc, index, bogus })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (proc_id(), look_path(), open_flags()).prop_map(|(p, path, f)| Op::Open(p, path, f)),
        2 => fd_pick().prop_map(Op::Close),
        5 => (fd_pick(), prop::collection::vec(b'a'..=b'z', 0..6))
            .prop_map(|(fd, data)| Op::Write(fd, data)),
        3 => (fd_pick(), 0..8usize).prop_map(|(fd, max)| Op::Read(fd, max)),
        1 => fd_pick().prop_map(Op::LseekStart),
        2 => fd_pick().prop_map(Op::Fsync),
        2 => path().prop_map(Op::Unlink),
        4 => (path(), path()).prop_map(|(from, to)| Op::Rename(from, to)),
        1 => path().prop_map(Op::Mkdir),
        1 => path().prop_map(Op::Rmdir),
        1 => look_path().prop_map(Op::Readdir),
        1 => proc_id().prop_map(Op::Exit),
    ]
}

/// What a call returned, in a form both worlds can produce. Descriptor
/// numbers are not compared: real ones are whatever this process has free.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Unit,
    Opened,
    Count(usize),
    Bytes(Vec<u8>),
    Names(Vec<String>),
}

type Outcome = Result<Value, Errno>;

/// The model and the real directory, plus the real descriptor behind each
/// model descriptor.
struct World {
    model: FsState,
    dir: tempfile::TempDir,
    files: BTreeMap<(ProcId, Fd), File>,
}

/// Converts a real error; one the model has no errno for fails the case.
fn real_errno(e: io::Error) -> Result<Errno, TestCaseError> {
    Errno::from_io(&e).ok_or_else(|| TestCaseError::fail(format!("unmapped real error: {e:?}")))
}

fn real_outcome<T>(r: io::Result<T>, f: impl FnOnce(T) -> Value) -> Result<Outcome, TestCaseError> {
    match r {
        Ok(v) => Ok(Ok(f(v))),
        Err(e) => Ok(Err(real_errno(e)?)),
    }
}

fn child(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

impl World {
    fn new() -> World {
        World { model: FsState::new(), dir: tempfile::tempdir().expect("create temp dir"), files: BTreeMap::new() }
    }

    fn real(&self, path: &str) -> PathBuf {
        match path.strip_prefix('/') {
            // Not `join("")`: that appends a trailing slash, which changes
            // what the kernel answers (e.g. EISDIR instead of EEXIST for
            // O_CREAT|O_EXCL).
            Some("") | None => self.dir.path().to_path_buf(),
            Some(rel) => self.dir.path().join(rel),
        }
    }

    fn pick(&self, pick: FdPick) -> (ProcId, Fd) {
        let p = ProcId(pick.proc);
        let open: Vec<Fd> = self.files.keys().filter(|(q, _)| *q == p).map(|(_, fd)| *fd).collect();
        match open.len() {
            _ if pick.bogus => (p, NEVER_OPENED),
            0 => (p, NEVER_OPENED),
            n => (p, open[pick.index % n]),
        }
    }

    /// Runs a call on a real descriptor. A model descriptor with no real
    /// counterpart was never opened (or is closed); the kernel's answer for
    /// such a descriptor is EBADF by definition, and producing a real
    /// invalid descriptor would need `unsafe` (forbidden in this workspace).
    fn on_file(
        &mut self,
        key: (ProcId, Fd),
        call: impl FnOnce(&mut File) -> io::Result<Value>,
    ) -> Result<Outcome, TestCaseError> {
        match self.files.get_mut(&key) {
            None => Ok(Err(Errno::EBADF)),
            Some(file) => real_outcome(call(file), |v| v),
        }
    }

    /// Runs one call in both worlds and returns (model, real) outcomes.
    fn step(&mut self, op: &Op) -> Result<(Outcome, Outcome), TestCaseError> {
        let unit = |r: Result<(), Errno>| r.map(|()| Value::Unit);
        Ok(match op {
            Op::Open(p, path, flags) => {
                let p = ProcId(*p);
                let model = self.model.open(p, path, *flags);
                let mut options = OpenOptions::new();
                options.read(flags.read).write(flags.write);
                let custom = [
                    (flags.create, O_CREAT),
                    (flags.excl, O_EXCL),
                    (flags.trunc, O_TRUNC),
                    (flags.append, O_APPEND),
                    (flags.directory, O_DIRECTORY),
                ]
                .iter()
                .filter(|(set, _)| *set)
                .fold(0, |acc, (_, bit)| acc | bit);
                options.custom_flags(custom);
                let real = match options.open(self.real(path)) {
                    Ok(file) => {
                        if let Ok(fd) = model {
                            prop_assert!(
                                self.files.insert((p, fd), file).is_none(),
                                "model reused open descriptor {fd} of {p:?}"
                            );
                        }
                        Ok(Value::Opened)
                    }
                    Err(e) => Err(real_errno(e)?),
                };
                (model.map(|_| Value::Opened), real)
            }
            Op::Close(pick) => {
                let (p, fd) = self.pick(*pick);
                let model = unit(self.model.close(p, fd));
                // Dropping the File closes it.
                let real = match self.files.remove(&(p, fd)) {
                    Some(_) => Ok(Value::Unit),
                    None => Err(Errno::EBADF),
                };
                (model, real)
            }
            Op::Write(pick, data) => {
                let (p, fd) = self.pick(*pick);
                let model = self.model.write(p, fd, data).map(Value::Count);
                let real = self.on_file((p, fd), |f| f.write(data).map(Value::Count))?;
                (model, real)
            }
            Op::Read(pick, max) => {
                let (p, fd) = self.pick(*pick);
                let model = self.model.read(p, fd, *max).map(Value::Bytes);
                let real = self.on_file((p, fd), |f| {
                    let mut buf = vec![0; *max];
                    let n = f.read(&mut buf)?;
                    buf.truncate(n);
                    Ok(Value::Bytes(buf))
                })?;
                (model, real)
            }
            Op::LseekStart(pick) => {
                let (p, fd) = self.pick(*pick);
                let model = unit(self.model.lseek_start(p, fd));
                let real = self.on_file((p, fd), |f| f.seek(SeekFrom::Start(0)).map(|_| Value::Unit))?;
                (model, real)
            }
            Op::Fsync(pick) => {
                let (p, fd) = self.pick(*pick);
                let model = unit(self.model.fsync(p, fd));
                let real = self.on_file((p, fd), |f| f.sync_all().map(|()| Value::Unit))?;
                (model, real)
            }
            Op::Unlink(path) => {
                (unit(self.model.unlink(path)), real_outcome(std::fs::remove_file(self.real(path)), |()| Value::Unit)?)
            }
            Op::Rename(from, to) => (
                unit(self.model.rename(from, to)),
                real_outcome(std::fs::rename(self.real(from), self.real(to)), |()| Value::Unit)?,
            ),
            Op::Mkdir(path) => {
                (unit(self.model.mkdir(path)), real_outcome(std::fs::create_dir(self.real(path)), |()| Value::Unit)?)
            }
            Op::Rmdir(path) => {
                (unit(self.model.rmdir(path)), real_outcome(std::fs::remove_dir(self.real(path)), |()| Value::Unit)?)
            }
            Op::Readdir(path) => (
                self.model.readdir(path).map(Value::Names),
                real_outcome(real_listing(&self.real(path)), Value::Names)?,
            ),
            Op::Exit(p) => {
                let p = ProcId(*p);
                self.model.exit(p);
                self.files.retain(|(q, _), _| *q != p);
                (Ok(Value::Unit), Ok(Value::Unit))
            }
        })
    }

    /// Every path below "/" with `None` for directories and the contents
    /// for files, as the model sees it.
    fn model_tree(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut tree = BTreeMap::new();
        let mut todo = vec!["/".to_string()];
        while let Some(dir) = todo.pop() {
            for name in self.model.readdir(&dir).unwrap_or_default() {
                let path = child(&dir, &name);
                if self.model.is_dir(&path) {
                    todo.push(path.clone());
                    tree.insert(path, None);
                } else {
                    tree.insert(path.clone(), Some(self.model.contents(&path).unwrap_or_default()));
                }
            }
        }
        tree
    }

    /// The same for the real directory.
    fn real_tree(&self) -> io::Result<BTreeMap<String, Option<Vec<u8>>>> {
        let mut tree = BTreeMap::new();
        let mut todo = vec!["/".to_string()];
        while let Some(dir) = todo.pop() {
            for name in real_listing(&self.real(&dir))? {
                let path = child(&dir, &name);
                let real = self.real(&path);
                if std::fs::symlink_metadata(&real)?.is_dir() {
                    todo.push(path.clone());
                    tree.insert(path, None);
                } else {
                    tree.insert(path, Some(std::fs::read(&real)?));
                }
            }
        }
        Ok(tree)
    }

    /// Each open descriptor must refer to the same inode in both worlds:
    /// same kind, size, link count and (where readable) bytes, and two
    /// descriptors share an inode in one world iff they do in the other.
    /// This is what catches writes that went to the wrong (or no) orphan.
    fn check_descriptors(&self) -> Result<(), TestCaseError> {
        let mut model_inos = Vec::new();
        let mut real_inos = Vec::new();
        for (&(p, fd), file) in &self.files {
            let ino = self.model.fd_ino(p, fd);
            prop_assert!(ino.is_some(), "{p:?} fd {fd} open for real, not in model");
            let ino = ino.unwrap_or(Ino(0));
            let meta = file.metadata().map_err(|e| TestCaseError::fail(e.to_string()))?;
            model_inos.push(ino);
            real_inos.push(meta.ino());
            if meta.is_dir() {
                prop_assert!(self.model.dir_entries(ino).is_some(), "fd {fd}: not a dir in model");
                continue;
            }
            let contents = self.model.inode_contents(ino);
            prop_assert!(contents.is_some(), "fd {fd}: inode {ino} freed in model");
            let contents = contents.unwrap_or_default();
            prop_assert_eq!(contents.len() as u64, meta.len(), "fd {} size", fd);
            prop_assert_eq!(self.model.links(ino), meta.nlink() as u32, "fd {} nlink", fd);
            // pread does not move the offset, so this does not disturb the run;
            // it fails with EBADF on write-only descriptors, which we skip.
            let mut buf = vec![0; contents.len() + 1];
            if let Ok(n) = file.read_at(&mut buf, 0) {
                prop_assert_eq!(&buf[..n], &contents[..], "fd {} bytes", fd);
            }
        }
        for i in 0..model_inos.len() {
            for j in 0..i {
                prop_assert_eq!(
                    model_inos[i] == model_inos[j],
                    real_inos[i] == real_inos[j],
                    "inode sharing differs between descriptors #{} and #{}",
                    i,
                    j
                );
            }
        }
        Ok(())
    }

    /// Model-internal bookkeeping: replaying a directory's pending changes
    /// on its durable entries gives its current entries, and link counts
    /// match the names in the tree.
    fn check_model_invariants(&self) -> Result<(), TestCaseError> {
        let mut names: BTreeMap<Ino, u32> = BTreeMap::new();
        let mut todo = vec![Ino(1)];
        while let Some(dir) = todo.pop() {
            let entries = self.model.dir_entries(dir).unwrap_or_default();
            let mut replay = self.model.durable_dir_entries(dir).unwrap_or_default();
            for change in self.model.pending_dir_changes_of(dir).unwrap_or_default() {
                change.apply(&mut replay);
            }
            prop_assert_eq!(&replay, &entries, "replay of dir {}", dir);
            for &ino in entries.values() {
                *names.entry(ino).or_default() += 1;
                if self.model.dir_entries(ino).is_some() {
                    todo.push(ino);
                }
            }
        }
        for (ino, n) in names {
            prop_assert_eq!(self.model.links(ino), n, "links of {}", ino);
        }
        Ok(())
    }
}

/// Sorted names in a real directory (readdir order is unspecified).
fn real_listing(path: &std::path::Path) -> io::Result<Vec<String>> {
    let mut names = std::fs::read_dir(path)?
        .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut world = World::new();
    // Every run starts with the subdirectory "d" so that paths below it
    // resolve from the first call on.
    let (model, real) = world.step(&Op::Mkdir("/d"))?;
    prop_assert_eq!(model, real);
    for (i, op) in ops.iter().enumerate() {
        let (model, real) = world.step(op)?;
        prop_assert_eq!(&model, &real, "step {} {:?}: model vs real", i, op);
        let real_tree = world.real_tree().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(world.model_tree(), real_tree, "tree after step {} {:?}", i, op);
        world.check_descriptors()?;
        world.check_model_invariants()?;
    }
    Ok(())
}

proptest! {
    // `default()` is 256 cases unless PROPTEST_CASES is set.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn model_matches_linux(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops)?;
    }
}

/// The scenario the model exists for, spelled out: write-to-temp, fsync,
/// rename over the target, while a reader holds the old file open.
#[test]
fn atomic_replace_scenario_matches_linux() {
    let ops = [
        Op::Open(1, "/a", O_WRONLY.creat()),
        Op::Write(FdPick { proc: 1, index: 0, bogus: false }, b"old".to_vec()),
        Op::Open(2, "/a", O_RDONLY),
        Op::Open(1, "/a.tmp", O_WRONLY.creat().excl()),
        Op::Write(FdPick { proc: 1, index: 1, bogus: false }, b"new".to_vec()),
        Op::Fsync(FdPick { proc: 1, index: 1, bogus: false }),
        Op::Rename("/a.tmp", "/a"),
        Op::Read(FdPick { proc: 2, index: 0, bogus: false }, 8),
        Op::Write(FdPick { proc: 1, index: 0, bogus: false }, b"lost".to_vec()),
        Op::Open(1, "/a.tmp", O_WRONLY.creat().excl()),
        Op::Exit(1),
    ];
    run(&ops).unwrap();
}
