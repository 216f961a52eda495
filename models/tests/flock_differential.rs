//! Differential test of the model's `flock` locks against the real kernel.
//!
//! proptest generates short sequences of calls over one or two file names in
//! a temporary directory, with at most four open file descriptions at a time,
//! each opened read-only or read-write by "process" 1 or 2. In the real world
//! every description is a separate `std::fs::File` from a separate `open` in
//! this test process: `flock` locks belong to open file descriptions, not to
//! processes, so one real process can play both. After every call the test
//! compares
//!
//! * the call's result (`Ok`, `EWOULDBLOCK`, other errno) in both worlds;
//! * the locks held on every open inode: the model's `flock_holders` against
//!   this process's `FLOCK` lines in `/proc/locks` (count of `READ` and
//!   `WRITE` locks per device and inode);
//! * for every description that holds no lock, whether `LOCK_SH` and
//!   `LOCK_EX` would block: `flock_would_block` against a real non-blocking
//!   attempt, undone at once when it succeeds (a description without a lock
//!   that takes one and unlocks it is back where it was).
//!
//! Only non-blocking attempts can be compared directly: a real blocking
//! `flock` that has to wait would hang this single-threaded test. A blocking
//! `Lock` op therefore compares `flock_would_block` with the real
//! `try_lock`; if the real attempt succeeds, that is the lock being taken,
//! and the model takes it with a blocking `flock`. If it fails, the test
//! gives the call up, as the real attempt did: Linux has then already
//! released the description's old lock (in a SH->EX conversion), so the
//! model gets the same non-blocking attempt, which does that too.
//!
//! A second test runs a real child process that holds a lock, kills it, and
//! checks that the lock goes away with it, in both worlds.
//!
//! Case count: 256 by default; `PROPTEST_CASES=N` overrides it (proptest's
//! `ProptestConfig::default()` reads the variable).

// The model is of Linux, and /proc/locks and the flag values are Linux's.
#![cfg(target_os = "linux")]

use interleave_models::fs::state::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Linux's `O_CREAT`, passed through `custom_flags` because std refuses
/// `create` without write access (the kernel does not).
const O_CREAT: i32 = 0o100;

/// At most this many descriptions are open at once; further opens are
/// skipped.
const MAX_OPEN: usize = 4;

/// The file names a case works on: the first one or two of these.
const NAMES: &[&str] = &["/a", "/b"];

/// A spare name that renames can move a file to (and back from), so that a
/// one-name case can still move its locked file away and create a new one
/// at the old path.
const SPARE: &str = "/moved";

/// Which path an op uses: an index into the case's names, or the spare name,
/// or the directory itself (only for `open`: flock works on directories).
#[derive(Clone, Copy, Debug)]
enum Name {
    File(usize),
    Spare,
    Root,
}

#[derive(Clone, Debug)]
enum Op {
    /// `open(path, O_RDONLY or O_RDWR, maybe O_CREAT)` by process `proc`.
    Open {
        proc: u32,
        name: Name,
        write: bool,
        create: bool,
    },
    /// `close` of the `n`-th open description (modulo how many are open).
    Close(usize),
    /// `flock(LOCK_SH or LOCK_EX | LOCK_NB)`.
    TryLock(usize, FlockOp),
    /// `flock(LOCK_SH or LOCK_EX)`, blocking (see the module docs).
    Lock(usize, FlockOp),
    /// `flock(LOCK_UN)`.
    Unlock(usize),
    Unlink(Name),
    Rename(Name, Name),
    /// Death of process `proc`: all its descriptions close.
    Exit(u32),
}

fn proc_id() -> impl Strategy<Value = u32> {
    1..=2u32
}

fn file_name() -> impl Strategy<Value = Name> {
    prop_oneof![6 => (0..NAMES.len()).prop_map(Name::File), 1 => Just(Name::Spare)]
}

fn open_name() -> impl Strategy<Value = Name> {
    prop_oneof![10 => (0..NAMES.len()).prop_map(Name::File), 1 => Just(Name::Spare), 1 => Just(Name::Root)]
}

fn lock_kind() -> impl Strategy<Value = FlockOp> {
    prop::sample::select(vec![FlockOp::Shared, FlockOp::Exclusive])
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0..MAX_OPEN;
    prop_oneof![
        6 => (proc_id(), open_name(), any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(proc, name, write, create)| Op::Open { proc, name, write, create }),
        2 => index.clone().prop_map(Op::Close),
        6 => (index.clone(), lock_kind()).prop_map(|(i, k)| Op::TryLock(i, k)),
        4 => (index.clone(), lock_kind()).prop_map(|(i, k)| Op::Lock(i, k)),
        3 => index.prop_map(Op::Unlock),
        2 => file_name().prop_map(Op::Unlink),
        2 => (file_name(), file_name()).prop_map(|(from, to)| Op::Rename(from, to)),
        1 => proc_id().prop_map(Op::Exit),
    ]
}

/// What a call returned, in a form both worlds can produce.
type Outcome = Result<(), Errno>;

/// One open description: the model's (process, descriptor) and the real
/// file.
struct Open {
    p: ProcId,
    fd: Fd,
    file: File,
}

struct World {
    model: FsState,
    dir: tempfile::TempDir,
    /// How many of `NAMES` this case uses (1 or 2).
    names: usize,
    /// Open descriptions, oldest first.
    open: Vec<Open>,
}

/// Converts a real error; one the model has no errno for fails the case.
fn real_errno(e: &io::Error) -> Result<Errno, TestCaseError> {
    Errno::from_io(e).ok_or_else(|| TestCaseError::fail(format!("unmapped real error: {e:?}")))
}

fn real_outcome(r: io::Result<()>) -> Result<Outcome, TestCaseError> {
    match r {
        Ok(()) => Ok(Ok(())),
        Err(e) => Ok(Err(real_errno(&e)?)),
    }
}

/// A real non-blocking `flock` of `file`.
fn real_try_lock(file: &File, kind: FlockOp) -> Result<Outcome, TestCaseError> {
    let r = match kind {
        FlockOp::Shared => file.try_lock_shared(),
        FlockOp::Exclusive => file.try_lock(),
        FlockOp::Unlock => return real_outcome(file.unlock()),
    };
    match r {
        Ok(()) => Ok(Ok(())),
        Err(TryLockError::WouldBlock) => Ok(Err(Errno::EWOULDBLOCK)),
        Err(TryLockError::Error(e)) => Ok(Err(real_errno(&e)?)),
    }
}

/// Linux's `dev_t` decoding (glibc's `gnu_dev_major`/`gnu_dev_minor`), to
/// match the `MAJ:MIN:INO` field of `/proc/locks`.
fn dev_major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// Spawning a child copies this process's descriptor table into it until
/// the child execs (and closes them: std opens everything `O_CLOEXEC`). A
/// description closed here meanwhile lives on in the child, lock included,
/// which the differential tests would see as a lock the model released too
/// early. So they hold this for reading, and the test that spawns a child
/// holds it for writing.
static SPAWNING: RwLock<()> = RwLock::new(());

/// A real inode: ((major, minor), inode number).
type RealIno = ((u64, u64), u64);

/// The text of `/proc/locks`, as nearly one snapshot as the kernel allows.
///
/// It is a seq_file: one `read` is generated under the lock list's lock, but
/// it stops when the kernel's one-page buffer is full, and the next `read`
/// resumes by position, so lines can repeat or go missing when locks come
/// and go in between (other tests of this binary, other processes).
/// `read_to_string` starts with a tiny probe read and so splits the listing
/// almost always. One big `read` gets it whole while it fits in a page;
/// callers retry a comparison that fails, for the rare longer listing.
fn proc_locks() -> io::Result<String> {
    let mut file = File::open("/proc/locks")?;
    let mut buf = vec![0; 1 << 16];
    let mut n = file.read(&mut buf)?;
    buf.truncate(n);
    while n > 0 {
        let mut more = vec![0; 1 << 16];
        n = file.read(&mut more)?;
        buf.extend_from_slice(&more[..n]);
    }
    String::from_utf8(buf).map_err(io::Error::other)
}

/// This process's `flock` locks from `/proc/locks`: (dev, ino) -> (number of
/// `READ` locks, number of `WRITE` locks).
fn real_flocks() -> io::Result<BTreeMap<RealIno, (usize, usize)>> {
    let pid = std::process::id().to_string();
    let mut locks: BTreeMap<RealIno, (usize, usize)> = BTreeMap::new();
    for line in proc_locks()?.lines() {
        // "1: FLOCK  ADVISORY  WRITE 4242 fe:00:10027234 0 EOF"; blocked
        // requests have a "->" after the number and are skipped.
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, "FLOCK", _, kind, owner, dev_ino, ..] = fields[..] else { continue };
        if owner != pid {
            continue;
        }
        let parts: Vec<&str> = dev_ino.split(':').collect();
        let [maj, min, ino] = parts[..] else { continue };
        let parse = |s: &str, radix| u64::from_str_radix(s, radix).map_err(io::Error::other);
        let key = ((parse(maj, 16)?, parse(min, 16)?), parse(ino, 10)?);
        let counts = locks.entry(key).or_default();
        match kind {
            "READ" => counts.0 += 1,
            "WRITE" => counts.1 += 1,
            _ => return Err(io::Error::other(format!("unexpected lock kind in {line:?}"))),
        }
    }
    Ok(locks)
}

impl World {
    fn new(names: usize) -> World {
        World { model: FsState::new(), dir: tempfile::tempdir().expect("create temp dir"), names, open: Vec::new() }
    }

    /// The model path of `name`.
    fn path(&self, name: Name) -> &'static str {
        match name {
            Name::File(i) => NAMES[i % self.names],
            Name::Spare => SPARE,
            Name::Root => "/",
        }
    }

    /// The real path of a model path.
    fn real(&self, path: &str) -> PathBuf {
        match path.strip_prefix('/') {
            Some("") | None => self.dir.path().to_path_buf(),
            Some(rel) => self.dir.path().join(rel),
        }
    }

    /// The `i`-th open description, modulo how many there are.
    fn pick(&self, i: usize) -> Option<usize> {
        (!self.open.is_empty()).then(|| i % self.open.len())
    }

    /// Runs one call in both worlds and returns (model, real) outcomes.
    fn step(&mut self, op: &Op) -> Result<(Outcome, Outcome), TestCaseError> {
        const SKIPPED: (Outcome, Outcome) = (Ok(()), Ok(()));
        Ok(match *op {
            Op::Open { proc, name, write, create } => {
                if self.open.len() >= MAX_OPEN {
                    return Ok(SKIPPED);
                }
                let p = ProcId(proc);
                let path = self.path(name);
                let mut flags = if write { O_RDWR } else { O_RDONLY };
                flags.create = create;
                let model = self.model.open(p, path, flags);
                let real = OpenOptions::new()
                    .read(true)
                    .write(write)
                    .custom_flags(if create { O_CREAT } else { 0 })
                    .open(self.real(path));
                match (model, real) {
                    (Ok(fd), Ok(file)) => {
                        self.open.push(Open { p, fd, file });
                        (Ok(()), Ok(()))
                    }
                    (model, real) => {
                        let real = match real {
                            Ok(_) => Ok(()),
                            Err(e) => Err(real_errno(&e)?),
                        };
                        (model.map(|_| ()), real)
                    }
                }
            }
            Op::Close(i) => {
                let Some(i) = self.pick(i) else { return Ok(SKIPPED) };
                let Open { p, fd, file } = self.open.remove(i);
                let model = self.model.close(p, fd);
                drop(file); // close(2)
                (model, Ok(()))
            }
            Op::TryLock(i, kind) => {
                let Some(i) = self.pick(i) else { return Ok(SKIPPED) };
                let Open { p, fd, ref file } = self.open[i];
                (self.model.flock(p, fd, kind, true), real_try_lock(file, kind)?)
            }
            Op::Lock(i, kind) => {
                let Some(i) = self.pick(i) else { return Ok(SKIPPED) };
                let Open { p, fd, ref file } = self.open[i];
                let would_block = self.model.flock_would_block(p, fd, kind);
                let real = real_try_lock(file, kind)?;
                let model = match would_block {
                    Err(e) => Err(e),
                    Ok(false) => {
                        // Free: the stepping layer would now make the call.
                        let taken = self.model.flock(p, fd, kind, false);
                        prop_assert_eq!(taken, Ok(()), "blocking flock after would_block said free");
                        Ok(())
                    }
                    Ok(true) => {
                        // Given up, like the real attempt (see module docs).
                        let tried = self.model.flock(p, fd, kind, true);
                        prop_assert_eq!(tried, Err(Errno::EWOULDBLOCK), "would_block vs LOCK_NB");
                        Err(Errno::EWOULDBLOCK)
                    }
                };
                (model, real)
            }
            Op::Unlock(i) => {
                let Some(i) = self.pick(i) else { return Ok(SKIPPED) };
                let Open { p, fd, ref file } = self.open[i];
                prop_assert_eq!(self.model.flock_would_block(p, fd, FlockOp::Unlock), Ok(false));
                (self.model.flock(p, fd, FlockOp::Unlock, false), real_outcome(file.unlock())?)
            }
            Op::Unlink(name) => {
                let path = self.path(name);
                (self.model.unlink(path), real_outcome(std::fs::remove_file(self.real(path)))?)
            }
            Op::Rename(from, to) => {
                let (from, to) = (self.path(from), self.path(to));
                (self.model.rename(from, to), real_outcome(std::fs::rename(self.real(from), self.real(to)))?)
            }
            Op::Exit(proc) => {
                let p = ProcId(proc);
                self.model.exit(p);
                self.open.retain(|o| o.p != p); // drops (closes) the files
                (Ok(()), Ok(()))
            }
        })
    }

    /// Compares the locks on every open inode, then probes every unlocked
    /// description (see the module docs).
    fn check_locks(&self) -> Result<(), TestCaseError> {
        let fail = |e: io::Error| TestCaseError::fail(e.to_string());
        // Model inode -> real (device, inode), which must be a bijection.
        let mut inodes: BTreeMap<Ino, RealIno> = BTreeMap::new();
        for o in &self.open {
            let ino = self.model.fd_ino(o.p, o.fd);
            prop_assert!(ino.is_some(), "{:?} fd {} open for real, not in model", o.p, o.fd);
            let meta = o.file.metadata().map_err(fail)?;
            let real = (dev_major_minor(meta.dev()), meta.ino());
            let known = *inodes.entry(ino.unwrap_or(Ino(0))).or_insert(real);
            prop_assert_eq!(known, real, "one model inode, two real ones");
        }
        let distinct: std::collections::BTreeSet<_> = inodes.values().collect();
        prop_assert_eq!(distinct.len(), inodes.len(), "two model inodes, one real one");

        // (LOCK_SH, LOCK_EX) holders of each open inode.
        let open_ofds: Vec<Option<Ofd>> = self.open.iter().map(|o| self.model.fd_ofd(o.p, o.fd)).collect();
        let mut model_counts: BTreeMap<RealIno, (usize, usize)> = BTreeMap::new();
        for (&ino, &real) in &inodes {
            let holders = self.model.flock_holders(ino);
            let count = |kind| holders.iter().filter(|(_, k)| *k == kind).count();
            model_counts.insert(real, (count(FlockOp::Shared), count(FlockOp::Exclusive)));
            prop_assert!(count(FlockOp::Exclusive) == 0 || holders.len() == 1, "LOCK_EX not alone: {:?}", holders);
            for (ofd, _) in &holders {
                prop_assert!(open_ofds.contains(&Some(*ofd)), "holder {:?} is not open", ofd);
            }
        }
        // Only this thread changes locks on these inodes, so a difference
        // that goes away on a re-read was the listing's, not the kernel's.
        let mut real_counts = BTreeMap::new();
        for _ in 0..20 {
            let listed = real_flocks().map_err(fail)?;
            real_counts = inodes.values().map(|k| (*k, listed.get(k).copied().unwrap_or_default())).collect();
            if real_counts == model_counts {
                break;
            }
        }
        prop_assert_eq!(
            &model_counts,
            &real_counts,
            "(LOCK_SH, LOCK_EX) holders by real inode; model inodes: {:?}",
            inodes
        );

        for o in &self.open {
            if self.model.flock_of(o.p, o.fd).is_some() {
                continue;
            }
            for kind in [FlockOp::Shared, FlockOp::Exclusive] {
                let model = match self.model.flock_would_block(o.p, o.fd, kind) {
                    Ok(false) => Ok(()),
                    Ok(true) => Err(Errno::EWOULDBLOCK),
                    Err(e) => Err(e),
                };
                let real = real_try_lock(&o.file, kind)?;
                if real.is_ok() {
                    o.file.unlock().map_err(fail)?;
                }
                prop_assert_eq!(model, real, "probe {} of {:?} fd {}", kind, o.p, o.fd);
            }
        }
        Ok(())
    }
}

fn run(names: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let _no_spawn = SPAWNING.read().unwrap_or_else(|e| e.into_inner());
    let mut world = World::new(names);
    for (i, op) in ops.iter().enumerate() {
        let (model, real) = world.step(op)?;
        prop_assert_eq!(model, real, "step {} {:?}: model vs real", i, op);
        world.check_locks().map_err(|e| TestCaseError::fail(format!("after step {i} {op:?}: {e}")))?;
    }
    Ok(())
}

proptest! {
    // `default()` is 256 cases unless PROPTEST_CASES is set.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn flock_model_matches_linux(names in 1..=NAMES.len(), ops in prop::collection::vec(op(), 1..40)) {
        run(names, &ops)?;
    }
}

/// The cases the unit tests pin, against the kernel.
#[test]
fn flock_pinned_sequences_match_linux() {
    use FlockOp::{Exclusive as EX, Shared as SH};
    let open = |proc, write| Op::Open { proc, name: Name::File(0), write, create: true };
    // Same process, second description: blocked; close releases.
    let same_process = [open(1, true), open(1, false), Op::TryLock(0, EX), Op::TryLock(1, SH), Op::Close(0)];
    // SH + SH coexist; EX blocked by the other SH; a failed LOCK_NB
    // conversion loses the old lock; a blocking attempt that is free.
    let shared = [
        open(1, false),
        open(2, false),
        open(2, true),
        Op::TryLock(0, SH),
        Op::TryLock(1, SH),
        Op::TryLock(2, EX),
        Op::TryLock(0, EX),
        Op::Unlock(1),
        Op::Lock(2, EX),
    ];
    // Unlink and rename keep the lock; a new file at the path is unlocked;
    // exit releases.
    let unlink = [
        open(1, true),
        open(2, false),
        Op::TryLock(0, EX),
        Op::Rename(Name::File(0), Name::Spare),
        Op::Unlink(Name::Spare),
        Op::Lock(1, SH),
        open(2, true),
        Op::TryLock(2, EX),
        Op::Exit(2),
        Op::Exit(1),
    ];
    for ops in [&same_process[..], &shared, &unlink] {
        run(1, ops).unwrap();
    }
}

// ----- a real child process holding a lock -------------------------------

/// Set in the environment of the re-executed test binary: the path of the
/// file the child locks.
const CHILD_ENV: &str = "INTERLEAVE_FLOCK_CHILD_PATH";

/// The child's side of `killing_the_holder_releases_its_lock`: a no-op in a
/// normal run. Run as a child with `CHILD_ENV` set, it opens the file, takes
/// `LOCK_EX` and holds it (blocked reading its stdin, a pipe the parent never
/// writes to) until it is killed or the parent goes away.
#[test]
fn flock_child_helper() {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    let file = File::open(path).expect("child: open");
    file.lock().expect("child: flock(LOCK_EX)");
    let _ = io::stdin().read(&mut [0u8; 1]);
}

/// Kills the child on every way out of the test, so that no process
/// outlives it holding a lock.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `f` every 10 ms until it returns true, for up to 10 s; returns
/// whether it did. The only wait on wall-clock time in these tests: how long
/// a real child takes to start is not something to model.
#[allow(clippy::disallowed_methods)] // thread::sleep: bounded polling of a real process, not a model step.
fn poll_until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn_lock_holder(path: &Path) -> Child {
    // Not util-linux's `flock -x FILE cmd`: it runs `cmd` with the locked
    // descriptor inherited, so killing `flock` leaves the description (and
    // the lock) alive in `cmd`. The test binary itself holds the lock alone.
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args(["--exact", "flock_child_helper", "--test-threads=1", "--quiet"])
        .env(CHILD_ENV, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the child")
}

#[test]
fn killing_the_holder_releases_its_lock() {
    const PARENT: ProcId = ProcId(1);
    const CHILD: ProcId = ProcId(2);
    let _spawning = SPAWNING.write().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lock");
    let mine = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).expect("open");

    let mut model = FsState::new();
    let parent_fd = model.open(PARENT, "/lock", O_RDWR.creat()).expect("model open");
    let child_fd = model.open(CHILD, "/lock", O_RDONLY).expect("model open");
    assert_eq!(model.flock(CHILD, child_fd, FlockOp::Exclusive, false), Ok(()));

    let mut child = Reaper(spawn_lock_holder(&path));
    // Until the child holds the lock our attempts may succeed; each one is
    // undone at once so that the child's blocking flock can go through.
    let held = poll_until(|| match mine.try_lock() {
        Ok(()) => {
            mine.unlock().expect("unlock");
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(e)) => panic!("try_lock: {e}"),
    });
    assert!(held, "the child did not take the lock within 10 s");
    assert_eq!(model.flock(PARENT, parent_fd, FlockOp::Exclusive, true), Err(Errno::EWOULDBLOCK));
    assert_eq!(model.flock_would_block(PARENT, parent_fd, FlockOp::Shared), Ok(true));

    // SIGKILL, then reap: by the time wait returns the kernel has closed the
    // child's files, so no polling is needed any more.
    child.0.kill().expect("kill the child");
    let status = child.0.wait().expect("wait for the child");
    assert!(!status.success(), "the child was killed, not finished: {status}");
    model.exit(CHILD);

    assert!(mine.try_lock().is_ok(), "the dead child's lock is gone");
    assert_eq!(model.flock(PARENT, parent_fd, FlockOp::Exclusive, true), Ok(()));
    assert_eq!(model.flock_holders(model.fd_ino(PARENT, parent_fd).expect("open")).len(), 1);
}
