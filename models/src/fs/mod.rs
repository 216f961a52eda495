//! The modeled file system: [`state::FsState`] (the POSIX semantics, a pure state machine) made
//! into steps of an execution.
//!
//! Every call here is one system call and one step: atomic, a scheduling point, and recorded in
//! the trace in the words of the real call (`open("/state/w.json", O_WRONLY|O_CREAT|O_TRUNC) = fd 3`).
//! What real library code does in several system calls is several steps: [`FsProc::write_file`]
//! is `std::fs::write` (open with `O_TRUNC`, one write per chunk, close) and
//! [`FsProc::read_file`] is `std::fs::read` (open, reads until one returns 0 bytes, close).
//!
//! Setup ([`Fs::setup_file`]) and inspection ([`Fs::inspect`]) are not steps: they run before any
//! thread starts or after every thread has finished, and in `always` invariants.

pub mod crash;
pub mod state;
mod std_fs;

pub use std_fs::{
    create_dir, create_dir_all, exists, metadata, read, read_dir, read_to_string, remove_dir, remove_file, rename,
    write, DirEntry, File, Metadata, OpenOptions, ReadDir, TryLockError,
};

use harness::{Ctx, Step};
use state::{DirChange, Errno, Fd, FlockOp, FsState, OpenFlags, ProcId};
use std::sync::{Arc, Mutex, MutexGuard};

/// A file system shared by the threads (processes) of one execution.
#[derive(Clone)]
pub struct Fs {
    ctx: Ctx,
    state: Arc<Mutex<FsState>>,
    /// With crash tracking on: after each step, the durable states a crash there could leave.
    crashes: Arc<Mutex<Option<Vec<CrashPoint>>>>,
    /// The crash point recorded after each process's last step (see
    /// [`FsProc::crash_point_of_last_step`]).
    last_points: Arc<Mutex<std::collections::BTreeMap<ProcId, usize>>>,
    /// Every time a step took the last name of a file some descriptor had open for writing (see
    /// [`Fs::lost_while_writing`]).
    lost: Arc<Mutex<Vec<LostWhileWriting>>>,
    /// The most bytes one `write` writes (a short write), if limited (see [`Fs::limit_writes`]).
    write_limit: Arc<Mutex<Option<usize>>>,
    /// What to call each process in reports (see [`Fs::name_process`]).
    names: Arc<Mutex<std::collections::BTreeMap<ProcId, String>>>,
}

/// A step that took the last name of a file some descriptor had open for writing: whatever that
/// writer writes from then on goes to a file nobody can open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostWhileWriting {
    /// The call, in the trace's words (`unlink("/state/w.json")`).
    pub call: String,
    /// The file-system process that made it.
    pub by: ProcId,
    /// The processes and descriptors that had the file open for writing.
    pub writers: Vec<(ProcId, Fd)>,
}

/// The durable states a crash right after a given step could leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashPoint {
    /// After which step of the trace (numbered as the trace's `#` column; 0: before the first).
    pub after_steps: usize,
    /// Every state a crash there could leave (see [`crash::crash_states`]).
    pub states: Vec<crash::CrashState>,
}

/// Quotes bytes for a trace: printable ASCII as a string, with the length when it is long.
pub fn show_bytes(data: &[u8]) -> String {
    const MAX: usize = 40;
    let mut s = String::from("\"");
    for &b in data.iter().take(MAX) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            b'\n' => s.push_str("\\n"),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if data.len() > MAX {
        s.push('…');
    }
    s.push('"');
    s
}

fn show_stat(s: &state::Stat) -> String {
    if s.is_dir {
        "directory".into()
    } else {
        format!("file, {} bytes", s.len)
    }
}

fn shown<T>(r: &Result<T, Errno>, ok: impl FnOnce(&T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => e.to_string(),
    }
}

/// Makes the entry of `path` in its parent directory durable (setup only).
fn sync_parent(st: &mut FsState, path: &str) {
    let parent = match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    };
    let p = ProcId(0);
    let fd = st.open(p, parent, OpenFlags::O_RDONLY.directory()).expect("setup: the parent is a directory");
    st.fsync(p, fd).expect("setup: fsync of the parent");
    st.close(p, fd).expect("setup: close");
}

/// The execution's file system, kept by the execution (see `Ctx::local`).
struct Current(Fs);

/// The file system as the HTML view's side panel shows it: every file with its contents, what a
/// crash would leave of it where that differs, its `flock`s, and each directory's entry changes
/// not yet durable.
pub fn describe_state(st: &FsState) -> String {
    let mut out = Vec::new();
    let mut dirs = vec!["/".to_string()];
    while let Some(dir) = dirs.pop() {
        if let Some(changes) = st.pending_dir_changes(&dir).filter(|c| !c.is_empty()) {
            let shown: Vec<String> = changes.iter().map(show_dir_change).collect();
            out.push(format!("{dir}: not yet durable: {}", shown.join(", ")));
        }
        let Ok(names) = st.readdir(&dir) else { continue };
        for name in names.iter().rev() {
            let path = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
            if st.is_dir(&path) {
                dirs.push(path);
                continue;
            }
            let Some(ino) = st.ino_of(&path) else { continue };
            let current = st.contents(&path).unwrap_or_default();
            let mut line = format!("{path} = {}", show_bytes(&current));
            if let Some(durable) = st.durable_contents(ino).filter(|d| *d != current) {
                line.push_str(&format!(" (durable: {})", show_bytes(&durable)));
            }
            let locks = st.flock_holders(ino);
            if !locks.is_empty() {
                let shown: Vec<String> =
                    locks.iter().map(|(ofd, op)| format!("{op} by description {}", ofd.0)).collect();
                line.push_str(&format!(" [flock: {}]", shown.join(", ")));
            }
            out.push(line);
        }
    }
    out.sort();
    if out.is_empty() {
        "no files".into()
    } else {
        out.join("\n")
    }
}

/// One entry change of a directory not yet durable, in a few words: `created a`, `removed a`,
/// `replaced a`, `renamed a → b` (inode numbers mean nothing to a reader of the page).
fn show_dir_change(change: &DirChange) -> String {
    match change {
        DirChange::Link { name, .. } => format!("created {name}"),
        DirChange::Unlink { name, .. } => format!("removed {name}"),
        DirChange::Replace { name, .. } => format!("replaced {name}"),
        DirChange::Rename { from, to, replaced: None, .. } => format!("renamed {from} → {to}"),
        DirChange::Rename { from, to, replaced: Some(_), .. } => format!("renamed {from} → {to} (over the old {to})"),
    }
}

impl Fs {
    /// The execution's file system, shared by all its threads (and by `interleave::fs`'s
    /// std-shaped calls): made, with only the root directory, the first time a thread asks.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn current() -> Fs {
        let ctx = Ctx::current();
        ctx.local(|| {
            let state = Arc::new(Mutex::new(FsState::new()));
            let watched = Arc::clone(&state);
            ctx.describe("fs", move || describe_state(&watched.lock().unwrap_or_else(|e| e.into_inner())));
            Current(Fs {
                ctx: ctx.clone(),
                state,
                crashes: Arc::new(Mutex::new(None)),
                last_points: Arc::default(),
                lost: Arc::default(),
                write_limit: Arc::default(),
                names: Arc::default(),
            })
        })
        .0
        .clone()
    }

    /// Starts recording, after this point and after every later step, every durable state a
    /// crash could leave (models.md, "Crash states"). Call it after setup.
    pub fn track_crashes(&self) {
        let states = crash::crash_states(&self.st());
        *self.crashes.lock().unwrap_or_else(|e| e.into_inner()) = Some(vec![CrashPoint { after_steps: 0, states }]);
    }

    /// The crash point recorded right after the calling thread's process's last step (see
    /// [`FsProc::crash_point_of_last_step`]): only that process's own steps change it.
    pub fn crash_point_of_caller(&self) -> usize {
        let id = crate::process::current_member().map_or(crate::process::PROGRAM_FS_ID, |m| m.fs_id());
        self.process(id.0).crash_point_of_last_step()
    }

    /// Every step so far that took the last name of a file a descriptor had open for writing
    /// (`read_all` deleting the file a worker is writing, say). A read of the model: for end checks.
    pub fn lost_while_writing(&self) -> Vec<LostWhileWriting> {
        self.ctx.observe("fs");
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes every `write` write at most `max` bytes and return that count (a short write, which
    /// POSIX allows), so that a `write_all` loop makes several writes and a reader can see a
    /// prefix. Setup only.
    pub fn limit_writes(&self, max: usize) {
        *self.write_limit.lock().unwrap_or_else(|e| e.into_inner()) = Some(max.max(1));
    }

    /// The crash points recorded so far (empty unless [`Fs::track_crashes`] was called). A read of
    /// the model: for end checks.
    pub fn crash_points(&self) -> Vec<CrashPoint> {
        self.ctx.observe("fs");
        self.crashes.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default()
    }

    fn st(&self) -> MutexGuard<'_, FsState> {
        // Never contended: only locked inside a step or between steps, never across one.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a directory before any thread runs (not a step; durable at once).
    pub fn setup_dir(&self, path: &str) {
        let mut st = self.st();
        st.mkdir(path).expect("setup_dir: the parent must exist");
        sync_parent(&mut st, path);
    }

    /// Creates a file with `contents` before any thread runs (not a step; durable at once).
    pub fn setup_file(&self, path: &str, contents: &[u8]) {
        let mut st = self.st();
        let p = ProcId(0);
        let fd = st.open(p, path, OpenFlags::O_WRONLY.creat().trunc()).expect("setup_file: the parent must exist");
        st.write(p, fd, contents).expect("setup_file: write");
        st.fsync(p, fd).expect("setup_file: fsync");
        st.close(p, fd).expect("setup_file: close");
        sync_parent(&mut st, path);
        drop(st);
        self.ctx.setup(format!("{path} = {}", show_bytes(contents)));
    }

    /// Reads the state without making a step: for setup, `always` invariants and end checks.
    pub fn inspect<R>(&self, f: impl FnOnce(&FsState) -> R) -> R {
        self.ctx.observe("fs");
        f(&self.st())
    }

    /// The file system as seen by process `pid` (which owns its own descriptor table).
    pub fn process(&self, pid: u32) -> FsProc {
        FsProc { fs: self.clone(), pid: ProcId(pid) }
    }

    /// A step of process `by` that waits until `ready` (which must not change anything) allows it.
    /// `touch` says what the call resolves and uses, from which the step's footprint is computed
    /// (see [`footprint`]).
    fn step_when<R>(
        &self,
        by: ProcId,
        touch: &[Touch<'_>],
        ready: impl Fn(&FsState) -> Result<(), String> + Send + 'static,
        op: impl FnOnce(&mut FsState) -> (R, String, String),
    ) -> R {
        let watched = Arc::clone(&self.state);
        // Crash states and `always` invariants see the whole file system at once: then a step is
        // on all of it.
        //
        // Crash states are the one exception short of that: every crash point sees every inode, so
        // every call that may change a file's contents or a directory's names (`Touch::Changes`:
        // an `open` that creates or truncates, a write, an fsync, a rename …) is also on
        // `fs/durable`, which orders all of them. A call that never does (a read, a `statx`, a
        // `getdents64`, an `flock`, a `close`: crash states do not see descriptors, and what a
        // close frees is what no crash state needs) leaves every crash state as it was, and stays
        // on its own parts. Which calls are which is decided by the call, never by what one
        // execution's state made it do: whether an fsync of an unlinked file matters to a crash
        // depends on a directory fsync on other parts, so a per-execution answer would let two
        // steps that do not commute pass as independent.
        let changes = touch.iter().any(|t| matches!(t, Touch::Changes));
        let tracking = || self.crashes.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        let before = || -> Option<String> {
            if self.ctx.has_always() {
                return None;
            }
            let st = self.st();
            let mut objects = footprint(&st, by, touch);
            // A call that may create an inode takes the next inode number.
            if touch.iter().any(|t| matches!(t, Touch::Path(p) if !st.exists(p))) {
                objects.insert("fs/alloc".into());
            }
            if changes && tracking() {
                objects.insert(DURABLE.into());
            }
            Some(objects.into_iter().collect::<Vec<_>>().join("+"))
        };
        self.ctx.step_within(
            "fs",
            &before,
            move || ready(&watched.lock().unwrap_or_else(|e| e.into_inner())),
            || {
                let mut st = self.st();
                let mut objects = footprint(&st, by, touch);
                if touch.iter().any(|t| matches!(t, Touch::Path(p) if !st.exists(p))) {
                    objects.insert("fs/alloc".into());
                }
                if changes && tracking() {
                    objects.insert(DURABLE.into());
                }
                let orphans_before = st.nameless_open_for_write();
                let (r, call, result) = op(&mut st);
                objects.extend(footprint(&st, by, touch));
                for (ino, writers) in st.nameless_open_for_write() {
                    if !orphans_before.iter().any(|(i, _)| *i == ino) {
                        let event = LostWhileWriting { call: call.clone(), by, writers };
                        self.lost.lock().unwrap_or_else(|e| e.into_inner()).push(event);
                    }
                }
                let mut crashes = self.crashes.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(points) = crashes.as_mut() {
                    // Numbered as the trace numbers steps, so a report's "after step N" is row N.
                    let after_steps = self.ctx.steps_made() + 1;
                    points.push(CrashPoint { after_steps, states: crash::crash_states(&st) });
                    self.last_points.lock().unwrap_or_else(|e| e.into_inner()).insert(by, after_steps);
                }
                let step = Step::new(call, result);
                let fine = !self.ctx.has_always();
                let step = if fine {
                    Step { object: objects.into_iter().collect::<Vec<_>>().join("+"), ..step }
                } else {
                    step
                };
                (r, step)
            },
        )
    }

    /// Names process `pid` (its identity in this file system) for reports: a `flock` that waits
    /// says whose lock it waits for ("held by fd 3 of claim (pid 101)"). `interleave::process`
    /// names the processes it starts; unnamed ones are "process N".
    pub fn name_process(&self, pid: u32, name: impl Into<String>) {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).insert(ProcId(pid), name.into());
    }

    /// Whether process `p` has a descriptor open, read without a step and without declaring a
    /// read of the model: sound only for the one thread of `p`, between its steps, since no other
    /// process can change `p`'s descriptor table (only `p`'s own calls and its death do).
    pub fn holds_files(&self, p: ProcId) -> bool {
        self.st().has_descriptors(p)
    }

    /// Releases everything process `p` holds (its descriptors, and so its `flock`s): what the
    /// kernel does when a process dies. Not a step by itself: the process model calls it inside
    /// the step in which the process dies.
    pub fn release_process(&self, p: ProcId) {
        self.st().exit(p);
    }
}

/// The part every step that changes an inode is on while crash states are tracked (see
/// [`Fs::track_crashes`]).
const DURABLE: &str = "fs/durable";

/// What a system call resolves and uses, for its footprint.
#[derive(Clone, Copy, Debug)]
enum Touch<'a> {
    /// A path it resolves: every directory on the way and what the path names, before and after.
    Path(&'a str),
    /// A descriptor it uses: the inode it refers to, and the process's descriptor table.
    Fd(Fd),
    /// The process's descriptor table (an `open` allocates a descriptor, a `close` frees one).
    Table,
    /// The call may change a file's contents or a directory's entries (so what a crash leaves).
    Changes,
}

/// The objects a system call of process `by` reads or changes, as parts of the file system:
/// `fs/ino:N` for inode `N` (a file's contents, size, locks and open descriptions; a directory's
/// entries) and `fs/fds:P` for process `P`'s descriptor table. Computed on the state before and
/// after the call; calls whose footprints share no part commute, which is what the step-level
/// search's reduction and the count of distinct interleavings rely on.
fn footprint(st: &FsState, by: ProcId, touch: &[Touch<'_>]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for t in touch {
        match t {
            Touch::Path(path) => {
                let mut prefix = String::new();
                if let Some(ino) = st.ino_of("/") {
                    out.insert(format!("fs/ino:{}", ino.0));
                }
                for comp in path.split('/').filter(|c| !c.is_empty()) {
                    prefix.push('/');
                    prefix.push_str(comp);
                    match st.ino_of(&prefix) {
                        Some(ino) => {
                            out.insert(format!("fs/ino:{}", ino.0));
                        }
                        None => break,
                    }
                }
            }
            Touch::Fd(fd) => {
                if let Some(ino) = st.fd_ino(by, *fd) {
                    out.insert(format!("fs/ino:{}", ino.0));
                }
                out.insert(format!("fs/fds:{}", by.0));
            }
            Touch::Table => {
                out.insert(format!("fs/fds:{}", by.0));
            }
            Touch::Changes => {}
        }
    }
    out
}

/// What a `flock` that must wait waits on, for deadlock reports: the call, the file, and every
/// descriptor whose lock is in the way, named by process ("this process's fd 3" when the waiting
/// process holds it through another open file description: `flock` is not reentrant).
fn flock_wait(
    st: &FsState,
    names: &Mutex<std::collections::BTreeMap<ProcId, String>>,
    p: ProcId,
    fd: Fd,
    op: FlockOp,
) -> String {
    let names = names.lock().unwrap_or_else(|e| e.into_inner());
    let file = st.fd_ino(p, fd).and_then(|ino| st.path_of(ino)).map_or(String::new(), |path| format!(" on \"{path}\""));
    let holders: Vec<String> = st
        .flock_blockers(p, fd, op)
        .into_iter()
        .map(|(q, n, held)| {
            let who = if q == p {
                "this process's".to_string()
            } else {
                format!("{}'s", names.get(&q).cloned().unwrap_or_else(|| format!("process {}", q.0)))
            };
            format!("{held} held by {who} fd {n}")
        })
        .collect();
    let by = if holders.is_empty() { "another description holds a lock".to_string() } else { holders.join(", ") };
    format!("flock(fd {fd}, {op}){file}: {by}")
}

/// One process's view of a [`Fs`]: its system calls, each one step.
#[derive(Clone)]
pub struct FsProc {
    fs: Fs,
    pid: ProcId,
}

impl FsProc {
    /// The process id.
    pub fn pid(&self) -> ProcId {
        self.pid
    }

    fn step<R>(&self, touch: &[Touch<'_>], op: impl FnOnce(&mut FsState) -> (R, String, String)) -> R {
        self.fs.step_when(self.pid, touch, |_| Ok(()), op)
    }

    /// The crash point recorded right after this process's last step (0 before its first, and
    /// without crash tracking): where, say, a `write_state` that just returned had returned. Only
    /// this process's own steps change it, so reading it between steps is sound.
    pub fn crash_point_of_last_step(&self) -> usize {
        self.fs.last_points.lock().unwrap_or_else(|e| e.into_inner()).get(&self.pid).copied().unwrap_or(0)
    }

    /// `open(path, flags)`.
    pub fn open(&self, path: &str, flags: OpenFlags) -> Result<Fd, Errno> {
        let p = self.pid;
        let changes = if flags.create || flags.trunc { Touch::Changes } else { Touch::Table };
        self.step(&[Touch::Path(path), Touch::Table, changes], |st| {
            let r = st.open(p, path, flags);
            let res = shown(&r, |fd| format!("fd {fd}"));
            (r, format!("open(\"{path}\", {flags})"), res)
        })
    }

    /// `write(fd, data)`: returns the bytes written (fewer than given when
    /// [`Fs::limit_writes`] limits them).
    pub fn write(&self, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let p = self.pid;
        let limit = *self.fs.write_limit.lock().unwrap_or_else(|e| e.into_inner());
        let data = &data[..limit.map_or(data.len(), |m| m.min(data.len()))];
        self.step(&[Touch::Fd(fd), Touch::Changes], |st| {
            let r = st.write(p, fd, data);
            let res = shown(&r, |n| n.to_string());
            (r, format!("write(fd {fd}, {})", show_bytes(data)), res)
        })
    }

    /// `read(fd, max)`.
    pub fn read(&self, fd: Fd, max: usize) -> Result<Vec<u8>, Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd)], |st| {
            let r = st.read(p, fd, max);
            let res = shown(&r, |d| format!("{} ({} bytes)", show_bytes(d), d.len()));
            (r, format!("read(fd {fd}, {max})"), res)
        })
    }

    /// `close(fd)`.
    pub fn close(&self, fd: Fd) -> Result<(), Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd), Touch::Table], |st| {
            let r = st.close(p, fd);
            let res = shown(&r, |_| "ok".into());
            (r, format!("close(fd {fd})"), res)
        })
    }

    /// `fsync(fd)`: of a file, makes its contents durable; of a directory, its entries.
    pub fn fsync(&self, fd: Fd) -> Result<(), Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd), Touch::Changes], |st| {
            let r = st.fsync(p, fd);
            let res = shown(&r, |_| "ok".into());
            (r, format!("fsync(fd {fd})"), res)
        })
    }

    /// `unlink(path)`.
    pub fn unlink(&self, path: &str) -> Result<(), Errno> {
        self.step(&[Touch::Path(path), Touch::Changes], |st| {
            let r = st.unlink(path);
            let res = shown(&r, |_| "ok".into());
            (r, format!("unlink(\"{path}\")"), res)
        })
    }

    /// `rename(from, to)`: atomically replaces `to`.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), Errno> {
        self.step(&[Touch::Path(from), Touch::Path(to), Touch::Changes], |st| {
            let r = st.rename(from, to);
            let res = shown(&r, |_| "ok".into());
            (r, format!("rename(\"{from}\", \"{to}\")"), res)
        })
    }

    /// `rename(from, to)`, and `then` run on the file system right after it, in the same step:
    /// for commentary that needs the state the rename left (say, whose file it moved). `then`
    /// must not change anything.
    pub fn rename_then<R>(&self, from: &str, to: &str, then: impl FnOnce(&FsState) -> R) -> (Result<(), Errno>, R) {
        self.step(&[Touch::Path(from), Touch::Path(to), Touch::Changes], |st| {
            let r = st.rename(from, to);
            let res = shown(&r, |_| "ok".into());
            let seen = then(st);
            ((r, seen), format!("rename(\"{from}\", \"{to}\")"), res)
        })
    }

    /// `statx(path)` (`stat(2)`): what the path names.
    pub fn stat(&self, path: &str) -> Result<state::Stat, Errno> {
        self.step(&[Touch::Path(path)], |st| {
            let r = st.stat(path);
            let res = shown(&r, show_stat);
            (r, format!("statx(\"{path}\")"), res)
        })
    }

    /// `statx(fd)` (`fstat(2)`): what the descriptor refers to.
    pub fn fstat(&self, fd: Fd) -> Result<state::Stat, Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd)], |st| {
            let r = st.fstat(p, fd);
            let res = shown(&r, show_stat);
            (r, format!("statx(fd {fd})"), res)
        })
    }

    /// `lseek(fd, 0, SEEK_CUR)`: the offset.
    pub fn tell(&self, fd: Fd) -> Result<u64, Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd)], |st| {
            let r = st.offset(p, fd);
            let res = shown(&r, |o| o.to_string());
            (r, format!("lseek(fd {fd}, 0, SEEK_CUR)"), res)
        })
    }

    /// `ftruncate(fd, len)`.
    pub fn ftruncate(&self, fd: Fd, len: u64) -> Result<(), Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd), Touch::Changes], |st| {
            let r = st.ftruncate(p, fd, len);
            let res = shown(&r, |_| "ok".into());
            (r, format!("ftruncate(fd {fd}, {len})"), res)
        })
    }

    /// `fdatasync(fd)`: the model keeps no metadata apart from contents, so it makes the same
    /// things durable as `fsync`.
    pub fn fdatasync(&self, fd: Fd) -> Result<(), Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd), Touch::Changes], |st| {
            let r = st.fsync(p, fd);
            let res = shown(&r, |_| "ok".into());
            (r, format!("fdatasync(fd {fd})"), res)
        })
    }

    /// `getdents64(fd)`: the names in the directory the descriptor refers to, sorted.
    pub fn getdents(&self, fd: Fd) -> Result<Vec<String>, Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd)], |st| {
            let r = st.getdents(p, fd);
            let res = shown(&r, |names| {
                format!("[{}]", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "))
            });
            (r, format!("getdents64(fd {fd})"), res)
        })
    }

    /// `getdents64(fd)` once every entry was read: 0 entries.
    pub fn getdents_end(&self, fd: Fd) -> Result<(), Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd)], |st| {
            let r = st.getdents(p, fd).map(|_| ());
            let res = shown(&r, |_| "[] (end)".into());
            (r, format!("getdents64(fd {fd})"), res)
        })
    }

    /// `mkdir(path)`.
    pub fn mkdir(&self, path: &str) -> Result<(), Errno> {
        self.step(&[Touch::Path(path), Touch::Changes], |st| {
            let r = st.mkdir(path);
            let res = shown(&r, |_| "ok".into());
            (r, format!("mkdir(\"{path}\")"), res)
        })
    }

    /// `rmdir(path)`.
    pub fn rmdir(&self, path: &str) -> Result<(), Errno> {
        self.step(&[Touch::Path(path), Touch::Changes], |st| {
            let r = st.rmdir(path);
            let res = shown(&r, |_| "ok".into());
            (r, format!("rmdir(\"{path}\")"), res)
        })
    }

    /// `readdir(path)`: the names, sorted (the model's deterministic order).
    pub fn readdir(&self, path: &str) -> Result<Vec<String>, Errno> {
        self.step(&[Touch::Path(path)], |st| {
            let r = st.readdir(path);
            let res = shown(&r, |names| {
                format!("[{}]", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "))
            });
            (r, format!("readdir(\"{path}\")"), res)
        })
    }

    /// `flock(fd, op)`: waits while another open file description holds a conflicting lock.
    pub fn flock(&self, fd: Fd, op: FlockOp) -> Result<(), Errno> {
        let p = self.pid;
        let names = Arc::clone(&self.fs.names);
        self.fs.step_when(
            p,
            &[Touch::Fd(fd)],
            move |st| match st.flock_would_block(p, fd, op) {
                Ok(true) => Err(flock_wait(st, &names, p, fd, op)),
                _ => Ok(()),
            },
            |st| {
                let r = st.flock(p, fd, op, false);
                let res = shown(&r, |_| "ok".into());
                (r, format!("flock(fd {fd}, {op})"), res)
            },
        )
    }

    /// `flock(fd, op | LOCK_NB)`: `EWOULDBLOCK` instead of waiting.
    pub fn flock_nb(&self, fd: Fd, op: FlockOp) -> Result<(), Errno> {
        let p = self.pid;
        self.step(&[Touch::Fd(fd)], |st| {
            let r = st.flock(p, fd, op, true);
            let res = shown(&r, |_| "ok".into());
            (r, format!("flock(fd {fd}, {op}|LOCK_NB)"), res)
        })
    }

    /// `std::fs::write(path, data)` with the data written in `chunks` pieces (a short-write loop):
    /// `open(O_WRONLY|O_CREAT|O_TRUNC)`, one `write` per chunk, `close`.
    pub fn write_file(&self, path: &str, data: &[u8], chunks: usize) -> Result<(), Errno> {
        let fd = self.open(path, OpenFlags::O_WRONLY.creat().trunc())?;
        let r = self.write_chunks(fd, data, chunks);
        let c = self.close(fd);
        r.and(c)
    }

    /// Writes `data` in `chunks` pieces of (nearly) equal size.
    pub fn write_chunks(&self, fd: Fd, data: &[u8], chunks: usize) -> Result<(), Errno> {
        let size = data.len().div_ceil(chunks.max(1)).max(1);
        for piece in data.chunks(size) {
            let mut rest = piece;
            while !rest.is_empty() {
                let n = self.write(fd, rest)?;
                rest = &rest[n..];
            }
        }
        Ok(())
    }

    /// `std::fs::read(path)`: `open(O_RDONLY)`, `read` until it returns 0 bytes, `close`.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, Errno> {
        const BUF: usize = 4096;
        let fd = self.open(path, OpenFlags::O_RDONLY)?;
        let mut data = Vec::new();
        let r = loop {
            match self.read(fd, BUF) {
                Ok(chunk) if chunk.is_empty() => break Ok(()),
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(e) => break Err(e),
            }
        };
        let _ = self.close(fd);
        r.map(|()| data)
    }
}
