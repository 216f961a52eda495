//! A pure, deterministic, single-threaded model of a POSIX file system with
//! Linux semantics.
//!
//! [`FsState`] is a plain state machine: every method is one system call,
//! applied atomically. It does no I/O, has no clock and no randomness, and
//! every collection is a `BTreeMap`/`Vec`, so two runs of the same sequence of
//! calls produce identical states (the scheduling layer above relies on this
//! to replay and compare traces).
//!
//! The model keeps the three levels of a Unix file system separate, because
//! the interesting bugs live in the gaps between them:
//!
//! * **directory entries** (names) point at **inodes**; an inode counts its
//!   names (`links`) and lives on after its last name is gone while an open
//!   file description still refers to it;
//! * **open file descriptions** ([`Ofd`]) hold the offset and access mode and
//!   are created by each successful `open`; advisory `flock` locks attach
//!   to them (see [`FsState::flock`]);
//! * **file descriptors** ([`Fd`]) are per-process small integers pointing at
//!   descriptions.
//!
//! Durability is tracked alongside: every regular file has `current` and
//! `durable` contents, every directory has `current` and `durable` entries
//! plus the ordered log of entry changes made since its last `fsync`
//! ([`DirChange`]). Applying any prefix of that log to the durable entries
//! gives a directory that may be observed after a crash; applying all of it
//! gives the current entries.
//!
//! Error numbers follow what Linux (ext4, kernel >= 6.4) returns, including
//! where Linux departs from POSIX (`unlink` of a directory is `EISDIR`,
//! `O_RDONLY|O_TRUNC` truncates, `O_CREAT|O_DIRECTORY` is `EINVAL`). The
//! differential test `tests/fs_differential.rs` checks this against the real
//! kernel.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An error number, named and numbered as on Linux.
#[allow(clippy::upper_case_acronyms)] // The POSIX names are the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Errno {
    /// No such file or directory (2).
    ENOENT,
    /// File exists (17).
    EEXIST,
    /// Bad file descriptor, or not open in the needed mode (9).
    EBADF,
    /// Is a directory (21).
    EISDIR,
    /// Not a directory (20).
    ENOTDIR,
    /// Directory not empty (39).
    ENOTEMPTY,
    /// Invalid argument (22).
    EINVAL,
    /// Device or resource busy (16); e.g. removing or renaming "/".
    EBUSY,
    /// Too many open files (24); only reachable after ~4 billion opens.
    EMFILE,
    /// Operation would block (11): a `flock` with `LOCK_NB` that conflicts.
    /// On Linux `EWOULDBLOCK` and `EAGAIN` are the same number, so
    /// [`Errno::from_io`] maps every 11 to this variant.
    EWOULDBLOCK,
}

impl Errno {
    /// Every variant, for table-driven conversions.
    const ALL: [Errno; 10] = [
        Errno::ENOENT,
        Errno::EEXIST,
        Errno::EBADF,
        Errno::EISDIR,
        Errno::ENOTDIR,
        Errno::ENOTEMPTY,
        Errno::EINVAL,
        Errno::EBUSY,
        Errno::EMFILE,
        Errno::EWOULDBLOCK,
    ];

    /// The Linux (x86_64 and every other mainstream architecture) number.
    pub const fn linux_code(self) -> i32 {
        match self {
            Errno::ENOENT => 2,
            Errno::EBADF => 9,
            Errno::EWOULDBLOCK => 11,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENOTDIR => 20,
            Errno::EISDIR => 21,
            Errno::EINVAL => 22,
            Errno::EMFILE => 24,
            Errno::ENOTEMPTY => 39,
        }
    }

    /// Maps a real OS error to the model's errno; `None` for errors that did
    /// not come from the OS (e.g. std's own validation) or that the model
    /// does not know.
    pub fn from_io(e: &std::io::Error) -> Option<Errno> {
        let code = e.raw_os_error()?;
        Errno::ALL.into_iter().find(|errno| errno.linux_code() == code)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Debug form of a fieldless variant is exactly its name.
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

/// The flags of an `open(2)` call that the model understands.
///
/// `read`/`write` form the access mode. Neither set is Linux's special access
/// mode 3: permission is checked for both, but the descriptor can be used for
/// neither (it still works for `fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpenFlags {
    /// The descriptor may be read (`O_RDONLY` or `O_RDWR`).
    pub read: bool,
    /// The descriptor may be written (`O_WRONLY` or `O_RDWR`).
    pub write: bool,
    /// `O_CREAT`: create a regular file if the name is missing.
    pub create: bool,
    /// `O_EXCL`: with `O_CREAT`, fail with `EEXIST` if the name exists.
    pub excl: bool,
    /// `O_TRUNC`: empty an existing regular file.
    pub trunc: bool,
    /// `O_APPEND`: every write goes to the end of the file.
    pub append: bool,
    /// `O_DIRECTORY`: fail with `ENOTDIR` unless the path is a directory.
    pub directory: bool,
}

impl OpenFlags {
    /// Read-only access, no other flags.
    pub const O_RDONLY: OpenFlags = OpenFlags::access(true, false);
    /// Write-only access, no other flags.
    pub const O_WRONLY: OpenFlags = OpenFlags::access(false, true);
    /// Read-write access, no other flags.
    pub const O_RDWR: OpenFlags = OpenFlags::access(true, true);

    const fn access(read: bool, write: bool) -> OpenFlags {
        OpenFlags { read, write, create: false, excl: false, trunc: false, append: false, directory: false }
    }

    /// These flags plus `O_CREAT`.
    pub const fn creat(self) -> OpenFlags {
        OpenFlags { create: true, ..self }
    }

    /// These flags plus `O_EXCL`.
    pub const fn excl(self) -> OpenFlags {
        OpenFlags { excl: true, ..self }
    }

    /// These flags plus `O_TRUNC`.
    pub const fn trunc(self) -> OpenFlags {
        OpenFlags { trunc: true, ..self }
    }

    /// These flags plus `O_APPEND`.
    pub const fn append(self) -> OpenFlags {
        OpenFlags { append: true, ..self }
    }

    /// These flags plus `O_DIRECTORY`.
    pub const fn directory(self) -> OpenFlags {
        OpenFlags { directory: true, ..self }
    }
}

/// Read-only access (`OpenFlags::O_RDONLY`).
pub const O_RDONLY: OpenFlags = OpenFlags::O_RDONLY;
/// Write-only access (`OpenFlags::O_WRONLY`).
pub const O_WRONLY: OpenFlags = OpenFlags::O_WRONLY;
/// Read-write access (`OpenFlags::O_RDWR`).
pub const O_RDWR: OpenFlags = OpenFlags::O_RDWR;

impl fmt::Display for OpenFlags {
    /// Prints like strace: the access mode, then the flags in bit order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match (self.read, self.write) {
            (true, false) => "O_RDONLY",
            (false, true) => "O_WRONLY",
            (true, true) => "O_RDWR",
            // strace's name for access mode 3.
            (false, false) => "O_ACCMODE",
        };
        f.write_str(mode)?;
        let flags = [
            (self.create, "O_CREAT"),
            (self.excl, "O_EXCL"),
            (self.trunc, "O_TRUNC"),
            (self.append, "O_APPEND"),
            (self.directory, "O_DIRECTORY"),
        ];
        for (_, name) in flags.iter().filter(|(set, _)| *set) {
            write!(f, "|{name}")?;
        }
        Ok(())
    }
}

/// A modeled process; each has its own file descriptor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcId(pub u32);

/// A file descriptor number, meaningful only together with its [`ProcId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fd(pub u32);

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inode number. Allocated sequentially and never reused; the root
/// directory is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ino(pub u64);

impl fmt::Display for Ino {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The id of an open file description (what `open` creates and a file
/// descriptor points at). Allocated sequentially and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ofd(pub u64);

/// A `flock(2)` operation (without `LOCK_NB`, which is a separate argument
/// of [`FsState::flock`]).
///
/// As a held lock ([`FsState::flock_of`], [`FsState::flock_holders`]) only
/// `Shared` and `Exclusive` appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlockOp {
    /// `LOCK_SH`: a shared lock; any number of descriptions may hold one.
    Shared,
    /// `LOCK_EX`: an exclusive lock; no other description may hold any lock.
    Exclusive,
    /// `LOCK_UN`: release this description's lock, if it has one.
    Unlock,
}

impl FlockOp {
    /// Whether a request for `self` by one description conflicts with the
    /// lock `held` by another description of the same inode.
    fn conflicts_with(self, held: FlockOp) -> bool {
        match self {
            FlockOp::Unlock => false,
            FlockOp::Shared => held == FlockOp::Exclusive,
            FlockOp::Exclusive => held != FlockOp::Unlock,
        }
    }
}

impl fmt::Display for FlockOp {
    /// The C constant's name, as strace prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlockOp::Shared => "LOCK_SH",
            FlockOp::Exclusive => "LOCK_EX",
            FlockOp::Unlock => "LOCK_UN",
        })
    }
}

/// One change to a directory's entries, as recorded in its log of changes
/// not yet made durable by an `fsync` of the directory.
///
/// Each variant is one atomic step: a crash may keep any prefix of the log,
/// never part of a step. A rename inside one directory is a single
/// [`DirChange::Rename`] step (journaling file systems commit it in one
/// transaction, and programs rely on rename-over being atomic); a rename
/// between two directories is an `Unlink` in one log and a `Link`/`Replace`
/// in the other, which a crash may separate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirChange {
    /// `name` appeared, naming `ino` (create, mkdir, rename into a free name).
    Link {
        /// The new entry's name.
        name: String,
        /// The inode it names.
        ino: Ino,
    },
    /// `name`, which named `ino`, disappeared (unlink, rmdir, rename away).
    Unlink {
        /// The removed entry's name.
        name: String,
        /// The inode it used to name.
        ino: Ino,
    },
    /// `name` switched atomically from `old` to `new` (rename from another
    /// directory over an existing entry).
    Replace {
        /// The entry's name.
        name: String,
        /// The inode it named before.
        old: Ino,
        /// The inode it names now.
        new: Ino,
    },
    /// Rename within this directory: `from` disappeared and `to` names `ino`,
    /// replacing `replaced` if `to` existed.
    Rename {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
        /// The renamed inode.
        ino: Ino,
        /// The inode `to` named before, if any.
        replaced: Option<Ino>,
    },
}

impl DirChange {
    /// Applies the change to a directory's entries (name -> inode).
    pub fn apply(&self, entries: &mut BTreeMap<String, Ino>) {
        match self {
            DirChange::Link { name, ino } => {
                entries.insert(name.clone(), *ino);
            }
            DirChange::Unlink { name, .. } => {
                entries.remove(name);
            }
            DirChange::Replace { name, new, .. } => {
                entries.insert(name.clone(), *new);
            }
            DirChange::Rename { from, to, ino, .. } => {
                entries.remove(from);
                entries.insert(to.clone(), *ino);
            }
        }
    }

    /// Every inode the change mentions; they must be kept for crash states.
    fn inos(&self) -> Vec<Ino> {
        match self {
            DirChange::Link { ino, .. } | DirChange::Unlink { ino, .. } => vec![*ino],
            DirChange::Replace { old, new, .. } => vec![*old, *new],
            DirChange::Rename { ino, replaced, .. } => std::iter::once(*ino).chain(*replaced).collect(),
        }
    }
}

/// The root directory's inode number.
const ROOT: Ino = Ino(1);

/// Lowest descriptor number handed out: 0, 1 and 2 are stdin/out/err.
const FIRST_FD: u32 = 3;

/// A directory's entries, current and durable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Dir {
    /// What lookups see now.
    entries: BTreeMap<String, Ino>,
    /// What survived the last `fsync` of this directory.
    durable: BTreeMap<String, Ino>,
    /// Changes since then, oldest first: `durable` + all of them = `entries`.
    pending: Vec<DirChange>,
}

/// What an inode holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Node {
    /// A regular file. A new file's durable contents are empty: until its
    /// data is fsynced a crash can leave it empty (if its name survives).
    File { current: Vec<u8>, durable: Vec<u8> },
    /// A directory.
    Dir(Dir),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Inode {
    /// Number of directory entries naming this inode (the root counts as
    /// one). Unlike st_nlink, "." and ".." are not counted.
    links: u32,
    node: Node,
}

/// An open file description: what one successful `open` creates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Description {
    ino: Ino,
    offset: usize,
    read: bool,
    write: bool,
    append: bool,
    /// The `flock` lock this description holds on `ino`: `Shared`,
    /// `Exclusive`, or `None` (never `Some(Unlock)`). Ending the description
    /// releases it; renaming or unlinking the inode's names does not.
    lock: Option<FlockOp>,
}

/// What `stat(2)` (and `statx`, `fstat`) says of a file: the model's inodes have no modes,
/// owners or times, only these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The inode.
    pub ino: Ino,
    /// Whether it is a directory (else a regular file).
    pub is_dir: bool,
    /// A regular file's size in bytes (0 for a directory, whose size the model does not keep).
    pub len: u64,
}

/// The modeled file system: namespace, inodes, open file descriptions and
/// per-process descriptor tables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FsState {
    /// Live inodes, plus dead ones still needed to describe crash states
    /// (see [`FsState::collect_garbage`]).
    inodes: BTreeMap<Ino, Inode>,
    next_ino: u64,
    descriptions: BTreeMap<Ofd, Description>,
    next_ofd: u64,
    /// Created on a process's first successful open, dropped on `exit`.
    fd_tables: BTreeMap<ProcId, BTreeMap<Fd, Ofd>>,
}

impl Default for FsState {
    fn default() -> Self {
        FsState::new()
    }
}

/// Splits an absolute path into its components ("/" has none). The model
/// only accepts canonical paths, so anything else is the caller's bug and
/// reported as `EINVAL` rather than guessed at.
fn components(path: &str) -> Result<Vec<&str>, Errno> {
    let rest = path.strip_prefix('/').ok_or(Errno::EINVAL)?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let comps: Vec<&str> = rest.split('/').collect();
    let bad = |c: &&str| c.is_empty() || *c == "." || *c == ".." || c.contains('\0');
    if comps.iter().any(bad) {
        return Err(Errno::EINVAL);
    }
    Ok(comps)
}

/// The directory part of a canonical, non-root path ("/d/a" -> "/d").
fn parent_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Whether `path` is `ancestor` or lies below it (both canonical, non-root).
fn is_within(path: &str, ancestor: &str) -> bool {
    path == ancestor || path.strip_prefix(ancestor).is_some_and(|rest| rest.starts_with('/'))
}

impl FsState {
    /// A file system containing only the empty root directory "/".
    pub fn new() -> FsState {
        let root = Inode { links: 1, node: Node::Dir(Dir::default()) };
        FsState {
            inodes: BTreeMap::from([(ROOT, root)]),
            next_ino: ROOT.0 + 1,
            descriptions: BTreeMap::new(),
            next_ofd: 1,
            fd_tables: BTreeMap::new(),
        }
    }

    // ----- system calls -------------------------------------------------

    /// `open(2)`: returns the lowest free descriptor (>= 3) of process `p`,
    /// pointing at a new open file description.
    pub fn open(&mut self, p: ProcId, path: &str, flags: OpenFlags) -> Result<Fd, Errno> {
        // Linux >= 6.4 rejects this pair in build_open_flags, before lookup.
        if flags.create && flags.directory {
            return Err(Errno::EINVAL);
        }
        components(path)?;
        // The kernel reserves the descriptor before walking the path, so
        // EMFILE wins over every lookup error.
        let fd = self.lowest_free_fd(p)?;
        let last = self.resolve_parent(path)?;
        let existing = match last {
            None => Some(ROOT),
            Some((dir, name)) => self.entries(dir)?.get(name).copied(),
        };
        let ino = match (existing, last) {
            (Some(ino), _) => {
                self.check_open_existing(ino, flags)?;
                // Linux truncates whatever the access mode, even O_RDONLY
                // (O_TRUNC makes the kernel demand write permission, which
                // the model always has).
                if flags.trunc {
                    if let Some(Node::File { current, .. }) = self.node_mut(ino) {
                        current.clear();
                    }
                }
                ino
            }
            (None, Some((dir, name))) if flags.create => {
                let ino = self.alloc_inode(Node::File { current: Vec::new(), durable: Vec::new() });
                self.add_entry(dir, name, ino);
                ino
            }
            (None, _) => return Err(Errno::ENOENT),
        };
        let ofd = Ofd(self.next_ofd);
        self.next_ofd += 1;
        self.descriptions.insert(
            ofd,
            Description { ino, offset: 0, read: flags.read, write: flags.write, append: flags.append, lock: None },
        );
        self.fd_tables.entry(p).or_default().insert(fd, ofd);
        Ok(fd)
    }

    /// The checks `do_open`/`may_open` make on an existing inode, in the
    /// kernel's order.
    fn check_open_existing(&self, ino: Ino, flags: OpenFlags) -> Result<(), Errno> {
        let is_dir = self.is_dir_ino(ino);
        if flags.create {
            if flags.excl {
                return Err(Errno::EEXIST);
            }
            if is_dir {
                return Err(Errno::EISDIR);
            }
        }
        if flags.directory && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        // A directory can only be opened for reading: O_TRUNC and access
        // mode 3 both ask for write permission, which directories refuse.
        if is_dir && (flags.write || flags.trunc || !flags.read) {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    /// `close(2)`. Frees the inode if this was its last reference, and
    /// releases the description's `flock` lock (this was its only
    /// descriptor).
    pub fn close(&mut self, p: ProcId, fd: Fd) -> Result<(), Errno> {
        let table = self.fd_tables.get_mut(&p).ok_or(Errno::EBADF)?;
        let ofd = table.remove(&fd).ok_or(Errno::EBADF)?;
        // Without dup/fork each description has exactly one descriptor, so
        // closing the descriptor ends the description.
        self.descriptions.remove(&ofd);
        self.collect_garbage();
        Ok(())
    }

    /// Process death: closes every descriptor of `p`, and so releases every
    /// `flock` lock its descriptions held.
    pub fn exit(&mut self, p: ProcId) {
        if let Some(table) = self.fd_tables.remove(&p).filter(|t| !t.is_empty()) {
            for ofd in table.values() {
                self.descriptions.remove(ofd);
            }
            self.collect_garbage();
        }
    }

    /// Whether process `p` has any descriptor open (so that its death changes the file system).
    pub fn has_descriptors(&self, p: ProcId) -> bool {
        self.fd_tables.get(&p).is_some_and(|t| !t.is_empty())
    }

    /// `write(2)`: writes all of `data` at the offset (at the end with
    /// `O_APPEND`), zero-filling any gap, and advances the offset.
    pub fn write(&mut self, p: ProcId, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let ofd = self.ofd(p, fd)?;
        let desc = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?;
        if !desc.write {
            return Err(Errno::EBADF);
        }
        let (ino, offset, append) = (desc.ino, desc.offset, desc.append);
        let Some(Node::File { current, .. }) = self.node_mut(ino) else {
            // Unreachable: directories cannot be opened for writing.
            return Err(Errno::EISDIR);
        };
        // A zero-length write changes nothing, not even an O_APPEND offset:
        // the kernel only stores the new position when bytes were written.
        if data.is_empty() {
            return Ok(0);
        }
        let start = if append { current.len() } else { offset };
        // Only reachable with absurd offsets; Linux would say EFBIG.
        let end = start.checked_add(data.len()).ok_or(Errno::EINVAL)?;
        if current.len() < end {
            // Writing past the end leaves a hole that reads as zeros (the
            // offset can be past the end after another open truncated).
            current.resize(end, 0);
        }
        if let Some(dst) = current.get_mut(start..end) {
            dst.copy_from_slice(data);
        }
        if let Some(desc) = self.descriptions.get_mut(&ofd) {
            desc.offset = end;
        }
        Ok(data.len())
    }

    /// `read(2)`: up to `max` bytes from the offset, advancing it.
    pub fn read(&mut self, p: ProcId, fd: Fd, max: usize) -> Result<Vec<u8>, Errno> {
        let ofd = self.ofd(p, fd)?;
        let desc = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?;
        if !desc.read {
            return Err(Errno::EBADF);
        }
        let offset = desc.offset;
        let data = match self.inodes.get(&desc.ino).map(|i| &i.node) {
            Some(Node::File { current, .. }) => {
                let start = offset.min(current.len());
                let end = start + max.min(current.len() - start);
                current.get(start..end).unwrap_or_default().to_vec()
            }
            // generic_read_dir: even a zero-byte read of a directory fails.
            Some(Node::Dir(_)) | None => return Err(Errno::EISDIR),
        };
        if let Some(desc) = self.descriptions.get_mut(&ofd) {
            desc.offset = offset + data.len();
        }
        Ok(data)
    }

    /// `lseek(fd, 0, SEEK_CUR)`: the description's offset.
    pub fn offset(&self, p: ProcId, fd: Fd) -> Result<u64, Errno> {
        let ofd = self.ofd(p, fd)?;
        Ok(self.descriptions.get(&ofd).ok_or(Errno::EBADF)?.offset as u64)
    }

    /// `lseek(fd, 0, SEEK_SET)`.
    pub fn lseek_start(&mut self, p: ProcId, fd: Fd) -> Result<(), Errno> {
        let ofd = self.ofd(p, fd)?;
        let desc = self.descriptions.get_mut(&ofd).ok_or(Errno::EBADF)?;
        desc.offset = 0;
        Ok(())
    }

    /// `fsync(2)`: a file's durable contents become its current contents; a
    /// directory's durable entries become its current entries. Works on any
    /// open descriptor, whatever its access mode.
    pub fn fsync(&mut self, p: ProcId, fd: Fd) -> Result<(), Errno> {
        let ofd = self.ofd(p, fd)?;
        let ino = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?.ino;
        match self.node_mut(ino) {
            Some(Node::File { current, durable }) => durable.clone_from(current),
            Some(Node::Dir(dir)) => {
                dir.durable.clone_from(&dir.entries);
                dir.pending.clear();
            }
            None => return Err(Errno::EBADF),
        }
        // Inodes only the old durable entries referred to can go now.
        self.collect_garbage();
        Ok(())
    }

    /// `unlink(2)`: removes a name of a non-directory.
    pub fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        // unlink("/") is EISDIR in Linux (the last component is not a name).
        let (dir, name) = self.resolve_parent(path)?.ok_or(Errno::EISDIR)?;
        let ino = *self.entries(dir)?.get(name).ok_or(Errno::ENOENT)?;
        // Linux says EISDIR here where POSIX says EPERM.
        if self.is_dir_ino(ino) {
            return Err(Errno::EISDIR);
        }
        self.remove_entry(dir, name);
        self.collect_garbage();
        Ok(())
    }

    /// `mkdir(2)`.
    pub fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = self.resolve_parent(path)?.ok_or(Errno::EEXIST)?;
        if self.entries(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.alloc_inode(Node::Dir(Dir::default()));
        self.add_entry(dir, name, ino);
        Ok(())
    }

    /// `rmdir(2)`: removes an empty directory.
    pub fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        let (dir, name) = self.resolve_parent(path)?.ok_or(Errno::EBUSY)?;
        let ino = *self.entries(dir)?.get(name).ok_or(Errno::ENOENT)?;
        match self.node(ino) {
            Some(Node::Dir(d)) if d.entries.is_empty() => {}
            Some(Node::Dir(_)) => return Err(Errno::ENOTEMPTY),
            _ => return Err(Errno::ENOTDIR),
        }
        self.remove_entry(dir, name);
        self.collect_garbage();
        Ok(())
    }

    /// `rename(2)`: atomically makes `to` name what `from` named, replacing
    /// any compatible existing `to`.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        // Check order follows do_renameat2 and vfs_rename.
        let from_last = self.resolve_parent(from)?;
        let to_last = self.resolve_parent(to)?;
        let (Some((from_dir, from_name)), Some((to_dir, to_name))) = (from_last, to_last) else {
            return Err(Errno::EBUSY);
        };
        let ino = *self.entries(from_dir)?.get(from_name).ok_or(Errno::ENOENT)?;
        // The kernel's "trap" checks compare dentries; with canonical paths
        // and no hard-linked directories, comparing paths is equivalent.
        if is_within(parent_path(to), from) {
            return Err(Errno::EINVAL); // moving a directory into itself
        }
        if is_within(parent_path(from), to) {
            return Err(Errno::ENOTEMPTY); // target is an ancestor of source
        }
        let target = self.entries(to_dir)?.get(to_name).copied();
        if target == Some(ino) {
            return Ok(()); // two names of one inode: POSIX says do nothing
        }
        if let Some(old) = target {
            match (self.node(ino), self.node(old)) {
                (Some(Node::Dir(_)), Some(Node::File { .. })) => return Err(Errno::ENOTDIR),
                (Some(Node::File { .. }), Some(Node::Dir(_))) => return Err(Errno::EISDIR),
                (_, Some(Node::Dir(d))) if !d.entries.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }

        // Current entries and link counts.
        if let Some(d) = self.dir_mut(from_dir) {
            d.entries.remove(from_name);
        }
        if let Some(d) = self.dir_mut(to_dir) {
            d.entries.insert(to_name.to_string(), ino);
        }
        if let Some(old) = target {
            if let Some(inode) = self.inodes.get_mut(&old) {
                inode.links = inode.links.saturating_sub(1);
            }
        }

        // The un-synced change log(s).
        if from_dir == to_dir {
            self.log(
                from_dir,
                DirChange::Rename { from: from_name.to_string(), to: to_name.to_string(), ino, replaced: target },
            );
        } else {
            self.log(from_dir, DirChange::Unlink { name: from_name.to_string(), ino });
            let change = match target {
                Some(old) => DirChange::Replace { name: to_name.to_string(), old, new: ino },
                None => DirChange::Link { name: to_name.to_string(), ino },
            };
            self.log(to_dir, change);
        }
        self.collect_garbage();
        Ok(())
    }

    /// The names in a directory, sorted, without "." and "..". (Real
    /// readdir order is unspecified; sorting keeps the model deterministic.)
    pub fn readdir(&self, path: &str) -> Result<Vec<String>, Errno> {
        let ino = self.resolve(path)?;
        let entries = self.entries(ino)?;
        Ok(entries.keys().cloned().collect())
    }

    /// `stat(2)`: what `path` names (following no descriptor).
    pub fn stat(&self, path: &str) -> Result<Stat, Errno> {
        let ino = self.resolve(path)?;
        Ok(self.stat_ino(ino))
    }

    /// `fstat(2)`: what descriptor `fd` of process `p` refers to (an unlinked file too).
    pub fn fstat(&self, p: ProcId, fd: Fd) -> Result<Stat, Errno> {
        let ofd = self.ofd(p, fd)?;
        let ino = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?.ino;
        Ok(self.stat_ino(ino))
    }

    fn stat_ino(&self, ino: Ino) -> Stat {
        match self.node(ino) {
            Some(Node::File { current, .. }) => Stat { ino, is_dir: false, len: current.len() as u64 },
            _ => Stat { ino, is_dir: true, len: 0 },
        }
    }

    /// `ftruncate(2)`: the file `fd` refers to becomes `len` bytes long (cut, or extended with
    /// zeros); the offset does not move. `EINVAL` when `fd` is not open for writing (what Linux
    /// says for a read-only descriptor), `EBADF` when it is not open at all.
    pub fn ftruncate(&mut self, p: ProcId, fd: Fd, len: u64) -> Result<(), Errno> {
        let ofd = self.ofd(p, fd)?;
        let desc = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?;
        if !desc.write {
            return Err(Errno::EINVAL);
        }
        let ino = desc.ino;
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        match self.node_mut(ino) {
            Some(Node::File { current, .. }) => {
                current.resize(len, 0);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `getdents64(2)` on a directory descriptor: the names in the directory it refers to, sorted
    /// (the model's deterministic order; "." and ".." left out, as `std::fs::read_dir` does).
    pub fn getdents(&self, p: ProcId, fd: Fd) -> Result<Vec<String>, Errno> {
        let ofd = self.ofd(p, fd)?;
        let ino = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?.ino;
        Ok(self.entries(ino)?.keys().cloned().collect())
    }

    /// Whether `flock(p, fd, op, ...)` would have to wait now: another open
    /// file description of the same inode holds a conflicting lock
    /// (`LOCK_EX` conflicts with any lock, `LOCK_SH` with `LOCK_EX`). The
    /// description's own lock never conflicts, whichever process opened the
    /// other descriptions: a second `open` of the same file by the same
    /// process is a different description and is blocked like any other.
    ///
    /// Side-effect free; `Ok(true)` exactly when [`FsState::flock`] with
    /// `nonblocking` would fail with `EWOULDBLOCK`. `LOCK_UN` never blocks.
    /// Errors, in the kernel's order: `EBADF` if `fd` is not open in `p`,
    /// then `EBADF` for `LOCK_SH`/`LOCK_EX` on a descriptor opened with
    /// access mode 3 (neither readable nor writable: Linux's `flock` asks
    /// for `FMODE_READ` or `FMODE_WRITE`). Read-only descriptors and
    /// directories can be locked.
    pub fn flock_would_block(&self, p: ProcId, fd: Fd, op: FlockOp) -> Result<bool, Errno> {
        let ofd = self.ofd(p, fd)?;
        let desc = self.descriptions.get(&ofd).ok_or(Errno::EBADF)?;
        if op == FlockOp::Unlock {
            return Ok(false);
        }
        if !desc.read && !desc.write {
            return Err(Errno::EBADF);
        }
        let ino = desc.ino;
        Ok(self
            .descriptions
            .iter()
            .any(|(other, d)| *other != ofd && d.ino == ino && d.lock.is_some_and(|held| op.conflicts_with(held))))
    }

    /// `flock(2)`: takes, converts or (`LOCK_UN`) releases the advisory
    /// lock of the open file description behind `fd` of process `p`.
    ///
    /// Locks belong to descriptions, not to processes or descriptor
    /// numbers: they conflict between descriptions (see
    /// [`FsState::flock_would_block`]), and they end with `LOCK_UN`, with
    /// the close of the description's last descriptor (here, its only one:
    /// [`FsState::close`]) or with the death of its process
    /// ([`FsState::exit`]). `unlink` and `rename` leave them alone: the lock
    /// stays on the inode, and a new file created at the old path is another
    /// inode, unlocked.
    ///
    /// Asking for the lock the description already holds is a no-op, as in
    /// Linux. Asking for the other kind converts the lock (SH->EX or
    /// EX->SH). Linux converts by releasing the old lock and then acquiring
    /// the new one, not atomically; when the new lock is free at once, both
    /// happen under one hold of the inode's lock-context spinlock (in
    /// current kernels; old ones could reschedule in between), so this model
    /// makes such a conversion one atomic step.
    ///
    /// On a conflict:
    /// * with `nonblocking` (`LOCK_NB`): `Err(EWOULDBLOCK)`, and — as on
    ///   Linux, which releases the old lock before it looks for conflicts —
    ///   a description that held the other kind of lock has lost it;
    /// * without `nonblocking`: the call must not be made. The stepping
    ///   layer waits until [`FsState::flock_would_block`] is false and only
    ///   then calls this, in the same atomic step. Called anyway, it returns
    ///   `Err(EWOULDBLOCK)` and changes nothing.
    ///
    /// So while a blocking conversion waits, the model's caller still holds
    /// its old lock, where a Linux caller holds none (two `LOCK_SH` holders
    /// that both ask for `LOCK_EX` deadlock here, while on Linux one of them
    /// gets it). A stepping layer that wants Linux's behaviour exactly makes
    /// the first attempt with `nonblocking` (on a conflict that drops the
    /// old lock, as Linux does before it sleeps), then waits and retries.
    ///
    /// Errors as [`FsState::flock_would_block`], checked before anything
    /// changes.
    pub fn flock(&mut self, p: ProcId, fd: Fd, op: FlockOp, nonblocking: bool) -> Result<(), Errno> {
        let blocked = self.flock_would_block(p, fd, op)?;
        if blocked && !nonblocking {
            return Err(Errno::EWOULDBLOCK);
        }
        let ofd = self.ofd(p, fd)?;
        let desc = self.descriptions.get_mut(&ofd).ok_or(Errno::EBADF)?;
        if desc.lock == Some(op) {
            return Ok(());
        }
        // Linux's flock_lock_inode: drop the description's old lock first,
        // then look for conflicts.
        desc.lock = None;
        if blocked {
            return Err(Errno::EWOULDBLOCK);
        }
        if op != FlockOp::Unlock {
            desc.lock = Some(op);
        }
        Ok(())
    }

    // ----- inspection helpers (not system calls) ------------------------

    /// Current contents of the regular file at `path`; `None` if the path
    /// does not resolve or names a directory.
    pub fn contents(&self, path: &str) -> Option<Vec<u8>> {
        self.inode_contents(self.ino_of(path)?)
    }

    /// Whether `path` resolves to anything.
    pub fn exists(&self, path: &str) -> bool {
        self.ino_of(path).is_some()
    }

    /// Whether `path` resolves to a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        self.ino_of(path).is_some_and(|ino| self.is_dir_ino(ino))
    }

    /// The inode `path` currently names.
    pub fn ino_of(&self, path: &str) -> Option<Ino> {
        self.resolve(path).ok()
    }

    /// How many directory entries name `ino` (0 for unknown inodes). The
    /// root counts as one; "." and ".." are not counted.
    pub fn links(&self, ino: Ino) -> u32 {
        self.inodes.get(&ino).map_or(0, |i| i.links)
    }

    /// Regular files that have no name left while some descriptor has them open for writing: a
    /// writer's data goes to an inode nobody can find any more. With each, the descriptors.
    pub fn nameless_open_for_write(&self) -> Vec<(Ino, Vec<(ProcId, Fd)>)> {
        let mut out: Vec<(Ino, Vec<(ProcId, Fd)>)> = Vec::new();
        for (p, fd, d) in self.descriptors().filter(|(_, _, d)| d.write) {
            if self.links(d.ino) == 0 {
                match out.iter_mut().find(|(i, _)| *i == d.ino) {
                    Some((_, fds)) => fds.push((p, fd)),
                    None => out.push((d.ino, vec![(p, fd)])),
                }
            }
        }
        out
    }

    /// Descriptors (of any process) open for writing on `ino`, in order.
    pub fn open_writers(&self, ino: Ino) -> Vec<(ProcId, Fd)> {
        self.descriptors().filter(|(_, _, d)| d.ino == ino && d.write).map(|(p, fd, _)| (p, fd)).collect()
    }

    /// The inode behind descriptor `fd` of process `p`.
    pub fn fd_ino(&self, p: ProcId, fd: Fd) -> Option<Ino> {
        let ofd = self.ofd(p, fd).ok()?;
        self.descriptions.get(&ofd).map(|d| d.ino)
    }

    /// The `flock` locks held on inode `ino`, by description, in [`Ofd`]
    /// order: any number of `Shared`, or one `Exclusive`.
    pub fn flock_holders(&self, ino: Ino) -> Vec<(Ofd, FlockOp)> {
        self.descriptions.iter().filter(|(_, d)| d.ino == ino).filter_map(|(ofd, d)| Some((*ofd, d.lock?))).collect()
    }

    /// The `flock` lock held by the description behind descriptor `fd` of
    /// process `p`; `None` if it holds none or `fd` is not open.
    pub fn flock_of(&self, p: ProcId, fd: Fd) -> Option<FlockOp> {
        let ofd = self.ofd(p, fd).ok()?;
        self.descriptions.get(&ofd)?.lock
    }

    /// The open file description behind descriptor `fd` of process `p`.
    pub fn fd_ofd(&self, p: ProcId, fd: Fd) -> Option<Ofd> {
        self.ofd(p, fd).ok()
    }

    /// Who makes `flock(p, fd, op)` wait: every descriptor (process, number) of another
    /// description of the same inode that holds a lock conflicting with `op`, with that lock, in
    /// (process, fd) order. Empty when the call would not block (see
    /// [`FsState::flock_would_block`]).
    pub fn flock_blockers(&self, p: ProcId, fd: Fd, op: FlockOp) -> Vec<(ProcId, Fd, FlockOp)> {
        let Ok(mine) = self.ofd(p, fd) else { return Vec::new() };
        let Some(ino) = self.descriptions.get(&mine).map(|d| d.ino) else { return Vec::new() };
        if op == FlockOp::Unlock {
            return Vec::new();
        }
        let conflicting = |ofd: &Ofd, d: &Description| {
            *ofd != mine && d.ino == ino && d.lock.is_some_and(|held| op.conflicts_with(held))
        };
        self.fd_tables
            .iter()
            .flat_map(|(q, table)| table.iter().map(move |(n, ofd)| (*q, *n, *ofd)))
            .filter_map(|(q, n, ofd)| {
                let d = self.descriptions.get(&ofd)?;
                conflicting(&ofd, d).then(|| (q, n, d.lock.unwrap_or(FlockOp::Exclusive)))
            })
            .collect()
    }

    /// A current path of inode `ino` (the first in name order), or `None` when no directory
    /// entry names it any more.
    pub fn path_of(&self, ino: Ino) -> Option<String> {
        if ino == ROOT {
            return Some("/".into());
        }
        let mut todo = vec![(ROOT, String::new())];
        while let Some((dir, path)) = todo.pop() {
            let Some(entries) = self.dir(dir).map(|d| &d.entries) else { continue };
            for (name, child) in entries.iter().rev() {
                let child_path = format!("{path}/{name}");
                if *child == ino {
                    return Some(child_path);
                }
                if self.is_dir_ino(*child) {
                    todo.push((*child, child_path));
                }
            }
        }
        None
    }

    /// Current contents of a live regular file, named or not; `None` for
    /// directories and freed inodes.
    pub fn inode_contents(&self, ino: Ino) -> Option<Vec<u8>> {
        if !self.is_live(ino) {
            return None;
        }
        match self.node(ino)? {
            Node::File { current, .. } => Some(current.clone()),
            Node::Dir(_) => None,
        }
    }

    /// The contents a crash would leave in regular file `ino` (if a name for
    /// it survives). Available for as long as some durable or pending
    /// directory entry may still name the inode, even after it was freed.
    pub fn durable_contents(&self, ino: Ino) -> Option<Vec<u8>> {
        match self.node(ino)? {
            Node::File { durable, .. } => Some(durable.clone()),
            Node::Dir(_) => None,
        }
    }

    /// Names in the durable entries of the directory at `dir_path`, sorted.
    pub fn durable_entries(&self, dir_path: &str) -> Option<Vec<String>> {
        let ino = self.ino_of(dir_path)?;
        Some(self.dir(ino)?.durable.keys().cloned().collect())
    }

    /// Entry changes to the directory at `dir_path` since its last fsync,
    /// oldest first.
    pub fn pending_dir_changes(&self, dir_path: &str) -> Option<Vec<DirChange>> {
        let ino = self.ino_of(dir_path)?;
        Some(self.dir(ino)?.pending.clone())
    }

    /// Durable entries (name -> inode) of directory inode `ino`, which need
    /// not be reachable any more: crash states are built from the root's
    /// durable entries downwards, not from current paths.
    pub fn durable_dir_entries(&self, ino: Ino) -> Option<BTreeMap<String, Ino>> {
        Some(self.dir(ino)?.durable.clone())
    }

    /// Current entries (name -> inode) of directory inode `ino`.
    pub fn dir_entries(&self, ino: Ino) -> Option<BTreeMap<String, Ino>> {
        Some(self.dir(ino)?.entries.clone())
    }

    /// Un-synced entry changes of directory inode `ino`, oldest first.
    pub fn pending_dir_changes_of(&self, ino: Ino) -> Option<Vec<DirChange>> {
        Some(self.dir(ino)?.pending.clone())
    }

    // ----- internals ----------------------------------------------------

    fn node(&self, ino: Ino) -> Option<&Node> {
        self.inodes.get(&ino).map(|i| &i.node)
    }

    fn node_mut(&mut self, ino: Ino) -> Option<&mut Node> {
        self.inodes.get_mut(&ino).map(|i| &mut i.node)
    }

    fn dir(&self, ino: Ino) -> Option<&Dir> {
        match self.node(ino)? {
            Node::Dir(d) => Some(d),
            Node::File { .. } => None,
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> Option<&mut Dir> {
        match self.node_mut(ino)? {
            Node::Dir(d) => Some(d),
            Node::File { .. } => None,
        }
    }

    /// Current entries of a directory; `ENOTDIR` for anything else.
    fn entries(&self, ino: Ino) -> Result<&BTreeMap<String, Ino>, Errno> {
        self.dir(ino).map(|d| &d.entries).ok_or(Errno::ENOTDIR)
    }

    fn is_dir_ino(&self, ino: Ino) -> bool {
        self.dir(ino).is_some()
    }

    /// Live: named somewhere, or held open. Anything else is freed as far
    /// as the running system can tell.
    fn is_live(&self, ino: Ino) -> bool {
        self.links(ino) > 0 || self.descriptions.values().any(|d| d.ino == ino)
    }

    /// Walks `comps` from the root. A missing component is `ENOENT`; trying
    /// to look up a name inside a non-directory is `ENOTDIR`.
    fn walk(&self, comps: &[&str]) -> Result<Ino, Errno> {
        comps.iter().try_fold(ROOT, |dir, name| self.entries(dir)?.get(*name).copied().ok_or(Errno::ENOENT))
    }

    fn resolve(&self, path: &str) -> Result<Ino, Errno> {
        self.walk(&components(path)?)
    }

    /// Resolves all but the last component: the parent directory and the
    /// last name, or `None` for "/" itself (Linux's `LAST_ROOT`, which each
    /// call turns into its own errno).
    fn resolve_parent<'p>(&self, path: &'p str) -> Result<Option<(Ino, &'p str)>, Errno> {
        let comps = components(path)?;
        let Some((last, init)) = comps.split_last() else {
            return Ok(None);
        };
        let dir = self.walk(init)?;
        self.entries(dir)?;
        Ok(Some((dir, *last)))
    }

    fn ofd(&self, p: ProcId, fd: Fd) -> Result<Ofd, Errno> {
        self.fd_tables.get(&p).and_then(|t| t.get(&fd)).copied().ok_or(Errno::EBADF)
    }

    fn lowest_free_fd(&self, p: ProcId) -> Result<Fd, Errno> {
        let Some(table) = self.fd_tables.get(&p) else {
            return Ok(Fd(FIRST_FD));
        };
        (FIRST_FD..=u32::MAX).map(Fd).find(|fd| !table.contains_key(fd)).ok_or(Errno::EMFILE)
    }

    /// All descriptors with their descriptions, in (process, fd) order.
    fn descriptors(&self) -> impl Iterator<Item = (ProcId, Fd, &Description)> {
        self.fd_tables.iter().flat_map(move |(p, table)| {
            table.iter().filter_map(move |(fd, ofd)| Some((*p, *fd, self.descriptions.get(ofd)?)))
        })
    }

    fn alloc_inode(&mut self, node: Node) -> Ino {
        let ino = Ino(self.next_ino);
        self.next_ino += 1;
        self.inodes.insert(ino, Inode { links: 0, node });
        ino
    }

    fn log(&mut self, dir: Ino, change: DirChange) {
        if let Some(d) = self.dir_mut(dir) {
            d.pending.push(change);
        }
    }

    /// Adds a new name (the caller checked it is free).
    fn add_entry(&mut self, dir: Ino, name: &str, ino: Ino) {
        if let Some(d) = self.dir_mut(dir) {
            d.entries.insert(name.to_string(), ino);
        }
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.links += 1;
        }
        let name = name.to_string();
        self.log(dir, DirChange::Link { name, ino });
    }

    /// Removes an existing name.
    fn remove_entry(&mut self, dir: Ino, name: &str) {
        let Some(ino) = self.dir_mut(dir).and_then(|d| d.entries.remove(name)) else {
            return;
        };
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.links = inode.links.saturating_sub(1);
        }
        let name = name.to_string();
        self.log(dir, DirChange::Unlink { name, ino });
    }

    /// Frees inodes nothing can reach any more. Reachable are: the root,
    /// inodes held by open descriptions, and everything named by a reachable
    /// directory's current entries, durable entries or pending changes. The
    /// last two keep unlinked-and-closed inodes around while a crash could
    /// still resurrect their names; their data then only matters through
    /// `durable_contents`.
    fn collect_garbage(&mut self) {
        let mut reachable = BTreeSet::new();
        let mut todo: Vec<Ino> = std::iter::once(ROOT).chain(self.descriptions.values().map(|d| d.ino)).collect();
        while let Some(ino) = todo.pop() {
            if !reachable.insert(ino) {
                continue;
            }
            if let Some(d) = self.dir(ino) {
                todo.extend(d.entries.values().copied());
                todo.extend(d.durable.values().copied());
                todo.extend(d.pending.iter().flat_map(DirChange::inos));
            }
        }
        self.inodes.retain(|ino, _| reachable.contains(ino));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: ProcId = ProcId(1);
    const P2: ProcId = ProcId(2);

    fn write_file(fs: &mut FsState, path: &str, data: &[u8]) {
        let fd = fs.open(P1, path, O_WRONLY.creat().trunc()).unwrap();
        assert_eq!(fs.write(P1, fd, data), Ok(data.len()));
        fs.close(P1, fd).unwrap();
    }

    #[test]
    fn write_to_unlinked_open_file_goes_to_orphan() {
        let mut fs = FsState::new();
        let fd = fs.open(P1, "/a", O_RDWR.creat()).unwrap();
        let ino = fs.fd_ino(P1, fd).unwrap();
        fs.unlink("/a").unwrap();
        assert_eq!(fs.links(ino), 0);
        assert_eq!(fs.write(P1, fd, b"ghost"), Ok(5));
        assert!(!fs.exists("/a"));
        assert_eq!(fs.contents("/a"), None);
        assert_eq!(fs.inode_contents(ino), Some(b"ghost".to_vec()));
        fs.lseek_start(P1, fd).unwrap();
        assert_eq!(fs.read(P1, fd, 100), Ok(b"ghost".to_vec()));
        fs.close(P1, fd).unwrap();
        assert_eq!(fs.inode_contents(ino), None, "freed on last close");
        // Recreating the name gets a fresh inode.
        write_file(&mut fs, "/a", b"new");
        assert_ne!(fs.ino_of("/a"), Some(ino));
    }

    #[test]
    fn rename_replaces_target_and_old_inode_survives_while_open() {
        let mut fs = FsState::new();
        write_file(&mut fs, "/a", b"old");
        write_file(&mut fs, "/a.tmp", b"new");
        let old_ino = fs.ino_of("/a").unwrap();
        let new_ino = fs.ino_of("/a.tmp").unwrap();
        let reader = fs.open(P2, "/a", O_RDONLY).unwrap();

        fs.rename("/a.tmp", "/a").unwrap();
        assert_eq!(fs.readdir("/"), Ok(vec!["a".to_string()]));
        assert_eq!(fs.ino_of("/a"), Some(new_ino));
        assert_eq!(fs.contents("/a"), Some(b"new".to_vec()));
        assert_eq!(fs.links(old_ino), 0);
        assert_eq!(fs.read(P2, reader, 10), Ok(b"old".to_vec()));
        fs.close(P2, reader).unwrap();
        assert_eq!(fs.inode_contents(old_ino), None);
    }

    #[test]
    fn rename_error_cases() {
        let mut fs = FsState::new();
        fs.mkdir("/d").unwrap();
        fs.mkdir("/e").unwrap();
        write_file(&mut fs, "/a", b"x");
        write_file(&mut fs, "/d/a", b"y");
        assert_eq!(fs.rename("/missing", "/b"), Err(Errno::ENOENT));
        assert_eq!(fs.rename("/a", "/nodir/b"), Err(Errno::ENOENT));
        assert_eq!(fs.rename("/a", "/d"), Err(Errno::EISDIR));
        assert_eq!(fs.rename("/e", "/a"), Err(Errno::ENOTDIR));
        assert_eq!(fs.rename("/e", "/d"), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.rename("/d", "/d/sub"), Err(Errno::EINVAL));
        assert_eq!(fs.rename("/d/a", "/d"), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.rename("/", "/x"), Err(Errno::EBUSY));
        assert_eq!(fs.rename("/a", "/"), Err(Errno::EBUSY));
        assert_eq!(fs.rename("/a", "/a"), Ok(()));
        assert!(fs.pending_dir_changes("/").unwrap().len() == 3);
        // A directory over an empty one replaces it.
        fs.rename("/d", "/e").unwrap();
        assert_eq!(fs.readdir("/"), Ok(vec!["a".to_string(), "e".to_string()]));
        assert_eq!(fs.contents("/e/a"), Some(b"y".to_vec()));
    }

    #[test]
    fn o_trunc_empties_even_read_only() {
        let mut fs = FsState::new();
        write_file(&mut fs, "/a", b"hello");
        let fd = fs.open(P1, "/a", O_WRONLY.trunc()).unwrap();
        assert_eq!(fs.contents("/a"), Some(Vec::new()));
        fs.write(P1, fd, b"hi").unwrap();
        // Linux truncates on O_RDONLY|O_TRUNC too.
        fs.open(P1, "/a", O_RDONLY.trunc()).unwrap();
        assert_eq!(fs.contents("/a"), Some(Vec::new()));
        // The first descriptor's offset is now past the end: a hole appears.
        fs.write(P1, fd, b"!").unwrap();
        assert_eq!(fs.contents("/a"), Some(b"\0\0!".to_vec()));
    }

    #[test]
    fn o_excl_and_other_open_errors() {
        let mut fs = FsState::new();
        write_file(&mut fs, "/a", b"");
        fs.mkdir("/d").unwrap();
        assert_eq!(fs.open(P1, "/a", O_WRONLY.creat().excl()), Err(Errno::EEXIST));
        assert_eq!(fs.open(P1, "/d", O_WRONLY.creat().excl()), Err(Errno::EEXIST));
        assert_eq!(fs.open(P1, "/d", O_RDONLY.creat()), Err(Errno::EISDIR));
        assert_eq!(fs.open(P1, "/d", O_WRONLY), Err(Errno::EISDIR));
        assert_eq!(fs.open(P1, "/d", O_RDONLY.trunc()), Err(Errno::EISDIR));
        assert_eq!(fs.open(P1, "/a", O_RDONLY.directory()), Err(Errno::ENOTDIR));
        assert_eq!(fs.open(P1, "/b", O_RDONLY), Err(Errno::ENOENT));
        assert_eq!(fs.open(P1, "/x/b", O_WRONLY.creat()), Err(Errno::ENOENT));
        assert_eq!(fs.open(P1, "/a/b", O_WRONLY.creat()), Err(Errno::ENOTDIR));
        assert_eq!(fs.open(P1, "/b", O_RDONLY.creat().directory()), Err(Errno::EINVAL));
        let dirfd = fs.open(P1, "/d", O_RDONLY.directory()).unwrap();
        assert_eq!(fs.read(P1, dirfd, 0), Err(Errno::EISDIR));
        assert_eq!(fs.write(P1, dirfd, b"x"), Err(Errno::EBADF));
        let wfd = fs.open(P1, "/a", O_WRONLY).unwrap();
        assert_eq!(fs.read(P1, wfd, 1), Err(Errno::EBADF));
    }

    #[test]
    fn fsync_of_dir_makes_rename_durable() {
        let mut fs = FsState::new();
        write_file(&mut fs, "/a", b"v1");
        let root = fs.open(P1, "/", O_RDONLY).unwrap();
        fs.fsync(P1, root).unwrap();
        let v1 = fs.ino_of("/a").unwrap();

        let fd = fs.open(P1, "/a.tmp", O_WRONLY.creat().excl()).unwrap();
        fs.write(P1, fd, b"v2").unwrap();
        let v2 = fs.fd_ino(P1, fd).unwrap();
        assert_eq!(fs.durable_contents(v2), Some(Vec::new()));
        fs.fsync(P1, fd).unwrap();
        assert_eq!(fs.durable_contents(v2), Some(b"v2".to_vec()));
        fs.close(P1, fd).unwrap();
        fs.rename("/a.tmp", "/a").unwrap();

        // Not durable yet: a crash may show the old name and the old file,
        // whose durable data must therefore still be available.
        assert_eq!(fs.durable_entries("/"), Some(vec!["a".to_string()]));
        assert_eq!(fs.durable_dir_entries(Ino(1)).unwrap()["a"], v1);
        assert_eq!(fs.durable_contents(v1), Some(Vec::new()));
        assert_eq!(
            fs.pending_dir_changes("/"),
            Some(vec![
                DirChange::Link { name: "a.tmp".into(), ino: v2 },
                DirChange::Rename { from: "a.tmp".into(), to: "a".into(), ino: v2, replaced: Some(v1) },
            ])
        );

        fs.fsync(P1, root).unwrap();
        assert_eq!(fs.pending_dir_changes("/"), Some(vec![]));
        assert_eq!(fs.durable_dir_entries(Ino(1)).unwrap()["a"], v2);
        assert_eq!(fs.durable_contents(v1), None, "nothing can name v1 any more");
    }

    #[test]
    fn pending_changes_replay_to_current_entries() {
        let mut fs = FsState::new();
        fs.mkdir("/d").unwrap();
        write_file(&mut fs, "/a", b"1");
        write_file(&mut fs, "/d/a", b"2");
        fs.rename("/d/a", "/a").unwrap();
        fs.rename("/a", "/b").unwrap();
        fs.unlink("/b").unwrap();
        for ino in [Ino(1), fs.ino_of("/d").unwrap()] {
            let mut replay = fs.durable_dir_entries(ino).unwrap();
            for change in fs.pending_dir_changes_of(ino).unwrap() {
                change.apply(&mut replay);
            }
            assert_eq!(Some(replay), fs.dir_entries(ino));
        }
    }

    #[test]
    fn lowest_free_fd_is_reused_per_process() {
        let mut fs = FsState::new();
        let a = fs.open(P1, "/a", O_WRONLY.creat()).unwrap();
        let b = fs.open(P1, "/b", O_WRONLY.creat()).unwrap();
        let c = fs.open(P1, "/a", O_RDONLY).unwrap();
        assert_eq!((a, b, c), (Fd(3), Fd(4), Fd(5)));
        assert_eq!(fs.open(P2, "/a", O_RDONLY), Ok(Fd(3)), "own table");
        fs.close(P1, b).unwrap();
        assert_eq!(fs.close(P1, b), Err(Errno::EBADF));
        assert_eq!(fs.open(P1, "/b", O_RDONLY), Ok(Fd(4)));
        assert_eq!(fs.open(P1, "/b", O_RDONLY), Ok(Fd(6)));
        let ino = fs.ino_of("/a").unwrap();
        assert_eq!(fs.open_writers(ino), vec![(P1, Fd(3))]);
        fs.exit(P1);
        assert_eq!(fs.open_writers(ino), vec![]);
        assert_eq!(fs.close(P1, a), Err(Errno::EBADF));
        assert_eq!(fs.open(P1, "/a", O_RDONLY), Ok(Fd(3)));
        assert_eq!(fs.close(ProcId(9), Fd(0)), Err(Errno::EBADF));
    }

    #[test]
    fn append_and_reads() {
        let mut fs = FsState::new();
        write_file(&mut fs, "/a", b"abc");
        let fd = fs.open(P1, "/a", O_RDWR.append()).unwrap();
        assert_eq!(fs.read(P1, fd, 2), Ok(b"ab".to_vec()));
        assert_eq!(fs.write(P1, fd, b""), Ok(0));
        assert_eq!(fs.read(P1, fd, 9), Ok(b"c".to_vec()));
        fs.lseek_start(P1, fd).unwrap();
        assert_eq!(fs.write(P1, fd, b"de"), Ok(2));
        assert_eq!(fs.read(P1, fd, 9), Ok(Vec::new()));
        assert_eq!(fs.contents("/a"), Some(b"abcde".to_vec()));
    }

    #[test]
    fn directory_calls_and_root() {
        let mut fs = FsState::new();
        assert_eq!(fs.mkdir("/d"), Ok(()));
        assert_eq!(fs.mkdir("/d"), Err(Errno::EEXIST));
        assert_eq!(fs.mkdir("/x/y"), Err(Errno::ENOENT));
        write_file(&mut fs, "/d/a", b"");
        assert_eq!(fs.rmdir("/d"), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.rmdir("/d/a"), Err(Errno::ENOTDIR));
        assert_eq!(fs.rmdir("/nope"), Err(Errno::ENOENT));
        assert_eq!(fs.unlink("/d"), Err(Errno::EISDIR));
        assert_eq!(fs.readdir("/d/a"), Err(Errno::ENOTDIR));
        assert_eq!(fs.readdir("/d"), Ok(vec!["a".to_string()]));
        assert_eq!(fs.rmdir("/"), Err(Errno::EBUSY));
        assert_eq!(fs.unlink("/"), Err(Errno::EISDIR));
        assert_eq!(fs.mkdir("/"), Err(Errno::EEXIST));
        assert!(fs.is_dir("/") && fs.is_dir("/d") && !fs.is_dir("/d/a"));
        assert_eq!(fs.links(Ino(1)), 1);
    }

    #[test]
    fn invalid_paths_are_einval_not_panics() {
        let mut fs = FsState::new();
        for bad in ["", "a", "/a/", "//a", "/./a", "/a/..", "/a\0b"] {
            assert_eq!(fs.open(P1, bad, O_RDWR.creat()), Err(Errno::EINVAL), "{bad:?}");
            assert_eq!(fs.mkdir(bad), Err(Errno::EINVAL));
            assert_eq!(fs.rename(bad, "/b"), Err(Errno::EINVAL));
            assert_eq!(fs.readdir(bad), Err(Errno::EINVAL));
            assert!(!fs.exists(bad));
        }
        assert_eq!(fs.read(P1, Fd(u32::MAX), usize::MAX), Err(Errno::EBADF));
    }

    #[test]
    fn display_formats() {
        assert_eq!(O_WRONLY.creat().trunc().to_string(), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(O_RDONLY.directory().to_string(), "O_RDONLY|O_DIRECTORY");
        assert_eq!(O_RDWR.append().excl().creat().to_string(), "O_RDWR|O_CREAT|O_EXCL|O_APPEND");
        assert_eq!(Errno::ENOTEMPTY.to_string(), "ENOTEMPTY");
        assert_eq!(Fd(7).to_string(), "7");
        assert_eq!(Ino(1).to_string(), "1");
        let e = std::io::Error::from_raw_os_error(39);
        assert_eq!(Errno::from_io(&e), Some(Errno::ENOTEMPTY));
        assert_eq!(Errno::from_io(&std::io::Error::other("x")), None);
    }

    #[test]
    fn access_mode_3_opens_files_but_not_directories() {
        let mut fs = FsState::new();
        let none = OpenFlags { read: false, ..O_WRONLY };
        let none = OpenFlags { write: false, ..none };
        assert_eq!(none.to_string(), "O_ACCMODE");
        let fd = fs.open(P1, "/a", none.creat()).unwrap();
        assert_eq!(fs.read(P1, fd, 1), Err(Errno::EBADF));
        assert_eq!(fs.write(P1, fd, b"x"), Err(Errno::EBADF));
        assert_eq!(fs.fsync(P1, fd), Ok(()));
        assert_eq!(fs.open(P1, "/", none), Err(Errno::EISDIR));
    }

    use FlockOp::{Exclusive as EX, Shared as SH, Unlock as UN};

    /// A file "/a" and `n` read-write descriptions of it opened by `p`.
    fn opened(fs: &mut FsState, p: ProcId, n: usize) -> Vec<Fd> {
        (0..n).map(|_| fs.open(p, "/a", O_RDWR.creat()).unwrap()).collect()
    }

    #[test]
    fn flock_second_description_of_same_process_conflicts() {
        let mut fs = FsState::new();
        let fds = opened(&mut fs, P1, 2);
        assert_eq!(fs.flock(P1, fds[0], EX, false), Ok(()));
        assert_eq!(fs.flock_would_block(P1, fds[1], EX), Ok(true), "not reentrant per process");
        assert_eq!(fs.flock_would_block(P1, fds[1], SH), Ok(true));
        assert_eq!(fs.flock_would_block(P1, fds[0], EX), Ok(false), "own lock never conflicts");
        assert_eq!(fs.flock(P1, fds[0], EX, true), Ok(()), "re-locking is a no-op");
        assert_eq!(fs.flock_of(P1, fds[1]), None);
    }

    #[test]
    fn flock_nonblocking_conflict_is_ewouldblock() {
        let mut fs = FsState::new();
        let a = opened(&mut fs, P1, 1)[0];
        let b = opened(&mut fs, P2, 1)[0];
        fs.flock(P1, a, EX, false).unwrap();
        assert_eq!(fs.flock(P2, b, SH, true), Err(Errno::EWOULDBLOCK));
        assert_eq!(fs.flock(P2, b, EX, true), Err(Errno::EWOULDBLOCK));
        // The defensive answer of a blocking call that would block.
        assert_eq!(fs.flock(P2, b, EX, false), Err(Errno::EWOULDBLOCK));
        assert_eq!(fs.flock_of(P2, b), None);
        let ino = fs.fd_ino(P1, a).unwrap();
        assert_eq!(fs.flock_holders(ino), vec![(fs.fd_ofd(P1, a).unwrap(), EX)]);
        assert_eq!(Errno::from_io(&std::io::Error::from_raw_os_error(11)), Some(Errno::EWOULDBLOCK));
        assert_eq!(Errno::EWOULDBLOCK.linux_code(), 11);
    }

    #[test]
    fn flock_close_releases() {
        let mut fs = FsState::new();
        let fds = opened(&mut fs, P1, 2);
        fs.flock(P1, fds[0], EX, false).unwrap();
        assert_eq!(fs.flock_would_block(P1, fds[1], EX), Ok(true));
        fs.close(P1, fds[0]).unwrap();
        assert_eq!(fs.flock_would_block(P1, fds[1], EX), Ok(false));
        assert_eq!(fs.flock(P1, fds[1], EX, true), Ok(()));
        assert_eq!(fs.flock_would_block(P1, fds[0], UN), Err(Errno::EBADF));
        assert_eq!(fs.flock(P1, fds[0], UN, true), Err(Errno::EBADF));
    }

    #[test]
    fn flock_exit_releases() {
        let mut fs = FsState::new();
        let held = opened(&mut fs, P2, 1)[0];
        let mine = opened(&mut fs, P1, 1)[0];
        fs.flock(P2, held, SH, false).unwrap();
        assert_eq!(fs.flock(P1, mine, EX, true), Err(Errno::EWOULDBLOCK));
        fs.exit(P2);
        assert_eq!(fs.flock_holders(fs.ino_of("/a").unwrap()), vec![]);
        assert_eq!(fs.flock(P1, mine, EX, true), Ok(()));
    }

    #[test]
    fn flock_survives_unlink_and_rename_but_not_onto_a_new_file() {
        let mut fs = FsState::new();
        let locked = opened(&mut fs, P1, 1)[0];
        let old = opened(&mut fs, P2, 1)[0];
        let ino = fs.fd_ino(P1, locked).unwrap();
        fs.flock(P1, locked, EX, false).unwrap();
        fs.rename("/a", "/b").unwrap();
        assert_eq!(fs.flock_would_block(P2, old, SH), Ok(true), "rename does not release");
        fs.unlink("/b").unwrap();
        assert_eq!(fs.flock_would_block(P2, old, SH), Ok(true), "unlink does not release");
        assert_eq!(fs.flock_holders(ino).len(), 1);
        // The same path now names a new inode, which nobody has locked.
        let fresh = fs.open(P2, "/a", O_RDONLY.creat()).unwrap();
        assert_ne!(fs.fd_ino(P2, fresh), Some(ino));
        assert_eq!(fs.flock(P2, fresh, EX, true), Ok(()));
        assert_eq!(fs.flock_of(P1, locked), Some(EX));
    }

    #[test]
    fn flock_shared_locks_coexist_and_block_exclusive() {
        let mut fs = FsState::new();
        let p1 = opened(&mut fs, P1, 2);
        let p2 = opened(&mut fs, P2, 1)[0];
        fs.flock(P1, p1[0], SH, true).unwrap();
        assert_eq!(fs.flock(P2, p2, SH, true), Ok(()), "shared + shared coexist");
        assert_eq!(fs.flock_would_block(P1, p1[1], EX), Ok(true), "EX blocked by another's SH");
        assert_eq!(fs.flock(P1, p1[1], EX, true), Err(Errno::EWOULDBLOCK));
        // Converting SH -> EX is blocked by the other SH holder.
        assert_eq!(fs.flock_would_block(P2, p2, EX), Ok(true));
        fs.flock(P1, p1[0], UN, false).unwrap();
        // With only its own SH left, P2 converts atomically.
        assert_eq!(fs.flock(P2, p2, EX, false), Ok(()));
        assert_eq!(fs.flock_of(P2, p2), Some(EX));
        assert_eq!(fs.flock(P2, p2, SH, false), Ok(()), "EX -> SH never blocks");
        assert_eq!(fs.flock(P1, p1[0], SH, true), Ok(()));
        let ino = fs.ino_of("/a").unwrap();
        let ofds: Vec<Ofd> = [(P1, p1[0]), (P2, p2)].iter().map(|(p, fd)| fs.fd_ofd(*p, *fd).unwrap()).collect();
        assert_eq!(fs.flock_holders(ino), vec![(ofds[0], SH), (ofds[1], SH)], "in Ofd order");
    }

    #[test]
    fn flock_failed_nonblocking_conversion_loses_the_old_lock() {
        // Linux drops the old lock before looking for conflicts.
        let mut fs = FsState::new();
        let fds = opened(&mut fs, P1, 3);
        fs.flock(P1, fds[0], SH, true).unwrap();
        fs.flock(P1, fds[1], SH, true).unwrap();
        assert_eq!(fs.flock(P1, fds[0], EX, true), Err(Errno::EWOULDBLOCK));
        assert_eq!(fs.flock_of(P1, fds[0]), None);
        fs.flock(P1, fds[1], UN, true).unwrap();
        assert_eq!(fs.flock(P1, fds[2], EX, true), Ok(()));
        // A blocking call that would block is refused and changes nothing.
        fs.flock(P1, fds[2], SH, true).unwrap();
        fs.flock(P1, fds[1], SH, true).unwrap();
        assert_eq!(fs.flock(P1, fds[1], EX, false), Err(Errno::EWOULDBLOCK));
        assert_eq!(fs.flock_of(P1, fds[1]), Some(SH));
    }

    #[test]
    fn flock_on_directories_read_only_and_access_mode_3() {
        let mut fs = FsState::new();
        fs.mkdir("/d").unwrap();
        let d1 = fs.open(P1, "/d", O_RDONLY.directory()).unwrap();
        let d2 = fs.open(P2, "/d", O_RDONLY).unwrap();
        assert_eq!(fs.flock(P1, d1, EX, true), Ok(()));
        assert_eq!(fs.flock(P2, d2, SH, true), Err(Errno::EWOULDBLOCK));
        let ro = fs.open(P1, "/a", O_RDONLY.creat()).unwrap();
        assert_eq!(fs.flock(P1, ro, EX, true), Ok(()), "read-only descriptions lock too");
        let none = OpenFlags { read: false, write: false, ..O_RDONLY };
        let fd = fs.open(P2, "/a", none).unwrap();
        assert_eq!(fs.flock_would_block(P2, fd, SH), Err(Errno::EBADF));
        assert_eq!(fs.flock(P2, fd, EX, true), Err(Errno::EBADF));
        assert_eq!(fs.flock(P2, fd, UN, true), Ok(()));
        assert_eq!(fs.flock_would_block(ProcId(9), Fd(u32::MAX), UN), Err(Errno::EBADF));
        assert_eq!(fs.flock_holders(Ino(12345)), vec![]);
        assert_eq!(fs.flock_of(ProcId(9), Fd(0)), None);
        assert_eq!([SH, EX, UN].map(|op| op.to_string()), ["LOCK_SH", "LOCK_EX", "LOCK_UN"]);
    }
}
