//! Files shaped like `std::fs`, so that Rust code under audit can be checked unchanged: import
//! `fs` from `interleave` instead of `std` under a cfg or a feature, and its calls become steps on
//! the execution's file system ([`super::Fs::current`]), in the calling thread's process (see
//! `interleave::process`: each process has its own descriptor table and `flock`s).
//!
//! Each call makes the system calls the real one makes on Linux (read off `strace` of `std`
//! 1.95), each one step, in the words of the call:
//! - `fs::write` = `open(O_WRONLY|O_CREAT|O_TRUNC)`, `write` until everything is written, `close`;
//! - `fs::read` and `fs::read_to_string` = `open(O_RDONLY)`, `statx` of the descriptor (a size
//!   hint), `read` until one returns 0 bytes, `close`;
//! - `fs::read_dir` = `open(O_RDONLY|O_DIRECTORY)`, `statx` of the descriptor, then `getdents64`
//!   when the iterator first needs entries, `getdents64` again (0 entries) when they run out, and
//!   `close` when the iterator is dropped;
//! - `fs::create_dir_all` = `mkdir` of the path, and on `ENOENT` of each missing parent first,
//!   with a `statx` where `std` checks that an existing path is a directory;
//! - `fs::metadata` and `fs::exists` = `statx`; `fs::rename`, `fs::remove_file`, `fs::create_dir`,
//!   `fs::remove_dir` = one call each;
//! - a `File`'s `read` and `write` are one call each (`write_all` loops as `std`'s does),
//!   `sync_all` is `fsync`, `sync_data` is `fdatasync`, `set_len` is `ftruncate`, `metadata` is
//!   `statx`, `lock`/`lock_shared`/`try_lock`/`try_lock_shared`/`unlock` are `flock` (as in `std`
//!   since 1.89), `read_to_end` is `statx`, `lseek(SEEK_CUR)` and reads; dropping a `File` is
//!   `close`.
//!
//! Errors are `std::io::Error`s with the real `raw_os_error` and so the real `ErrorKind`, checked
//! against `std::fs` on a temporary directory by `tests/std_fs_differential.rs`.
//!
//! Paths: absolute, as the model has no current directory; a relative path, or one with `.` or
//! `..`, is a misuse of the model (reported as such, never as a verdict). Trailing and repeated
//! `/` are dropped, as the kernel does.

use super::state::{Errno, Fd, FlockOp, OpenFlags};
use super::{Fs, FsProc};
use harness::Ctx;
use std::ffi::OsString;
pub use std::fs::TryLockError;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The calling thread's process's view of the execution's file system.
fn me() -> FsProc {
    let id = crate::process::current_member().map_or(crate::process::PROGRAM_FS_ID, |m| m.fs_id());
    Fs::current().process(id.0)
}

fn err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.linux_code())
}

/// The model's canonical form of `path`: absolute, no `.` or `..`, no empty components.
fn model_path(path: &Path) -> String {
    let misuse = |why: &str| -> ! {
        Ctx::current().misuse(
            format!("interleave::fs was given the path {path:?}, {why}"),
            "give the model absolute paths without '.' or '..' (it has no current directory)",
        )
    };
    let Some(s) = path.to_str() else { misuse("which is not UTF-8") };
    if !s.starts_with('/') {
        misuse("which is relative");
    }
    let parts: Vec<&str> = s.split('/').filter(|c| !c.is_empty()).collect();
    if parts.iter().any(|c| *c == "." || *c == "..") {
        misuse("which has '.' or '..' in it");
    }
    format!("/{}", parts.join("/"))
}

/// What `statx` says of a file: `std::fs::Metadata`'s shape, for what the model keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    is_dir: bool,
    len: u64,
}

impl Metadata {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.is_dir
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        !self.is_dir
    }

    /// A regular file's size in bytes (the model keeps no size for directories: 0).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether [`Metadata::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn metadata_of(s: super::state::Stat) -> Metadata {
    Metadata { is_dir: s.is_dir, len: s.len }
}

/// An open file, shaped like `std::fs::File`.
#[derive(Debug)]
pub struct File {
    io: FsProc,
    fd: Fd,
}

impl std::fmt::Debug for FsProc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsProc").field("pid", &self.pid().0).finish()
    }
}

impl File {
    /// `File::open`: `open(path, O_RDONLY)`.
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// `File::create`: `open(path, O_WRONLY|O_CREAT|O_TRUNC)`.
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// `File::create_new`: `open(path, O_RDWR|O_CREAT|O_EXCL)`.
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create_new(true).open(path)
    }

    /// `File::options`.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// `sync_all`: `fsync`.
    pub fn sync_all(&self) -> io::Result<()> {
        self.io.fsync(self.fd).map_err(err)
    }

    /// `sync_data`: `fdatasync`.
    pub fn sync_data(&self) -> io::Result<()> {
        self.io.fdatasync(self.fd).map_err(err)
    }

    /// `set_len`: `ftruncate`.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.io.ftruncate(self.fd, size).map_err(err)
    }

    /// `metadata`: `statx` of the descriptor.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.io.fstat(self.fd).map(metadata_of).map_err(err)
    }

    /// `lock`: `flock(LOCK_EX)`, waiting while another open file description holds a lock.
    pub fn lock(&self) -> io::Result<()> {
        self.io.flock(self.fd, FlockOp::Exclusive).map_err(err)
    }

    /// `lock_shared`: `flock(LOCK_SH)`, waiting while another description holds `LOCK_EX`.
    pub fn lock_shared(&self) -> io::Result<()> {
        self.io.flock(self.fd, FlockOp::Shared).map_err(err)
    }

    /// `try_lock`: `flock(LOCK_EX|LOCK_NB)`.
    pub fn try_lock(&self) -> Result<(), TryLockError> {
        match self.io.flock_nb(self.fd, FlockOp::Exclusive) {
            Ok(()) => Ok(()),
            Err(Errno::EWOULDBLOCK) => Err(TryLockError::WouldBlock),
            Err(e) => Err(TryLockError::Error(err(e))),
        }
    }

    /// `try_lock_shared`: `flock(LOCK_SH|LOCK_NB)`.
    pub fn try_lock_shared(&self) -> Result<(), TryLockError> {
        match self.io.flock_nb(self.fd, FlockOp::Shared) {
            Ok(()) => Ok(()),
            Err(Errno::EWOULDBLOCK) => Err(TryLockError::WouldBlock),
            Err(e) => Err(TryLockError::Error(err(e))),
        }
    }

    /// `unlock`: `flock(LOCK_UN)`.
    pub fn unlock(&self) -> io::Result<()> {
        self.io.flock(self.fd, FlockOp::Unlock).map_err(err)
    }

    /// What `read_to_end` does on a `File`: a size hint from `statx` and the offset, then reads
    /// until one returns 0 bytes.
    fn read_rest(&self, buf: &mut Vec<u8>, known_offset: Option<u64>) -> io::Result<usize> {
        let size = self.io.fstat(self.fd).map_err(err)?.len;
        let offset = match known_offset {
            Some(o) => o,
            None => self.io.tell(self.fd).map_err(err)?,
        };
        let hint = usize::try_from(size.saturating_sub(offset)).unwrap_or(usize::MAX);
        let start = buf.len();
        let mut want = if hint > 0 { hint } else { 32 };
        loop {
            let chunk = self.io.read(self.fd, want).map_err(err)?;
            if chunk.is_empty() {
                return Ok(buf.len() - start);
            }
            buf.extend_from_slice(&chunk);
            want = 32;
        }
    }
}

impl Read for File {
    /// One `read` of up to `buf.len()` bytes.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.io.read(self.fd, buf.len()).map_err(err)?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.read_rest(buf, None)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let n = self.read_rest(&mut bytes, None)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))?;
        buf.push_str(&text);
        Ok(n)
    }
}

impl Write for File {
    /// One `write` of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(self.fd, buf).map_err(err)
    }

    /// Nothing to flush: a `File` has no buffer.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for File {
    /// `close`. A thread that unwinds (its process was killed, or it panicked) makes no more
    /// steps: its descriptors are closed when its process ends.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.io.close(self.fd);
        }
    }
}

/// Options for opening a file, shaped like `std::fs::OpenOptions`, with `std`'s rules for which
/// combinations are valid (`InvalidInput` otherwise).
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
}

impl OpenOptions {
    /// No option set.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.write = on;
        self
    }

    /// Writes go to the end (`O_APPEND`; implies writing).
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.append = on;
        self
    }

    /// Truncate to 0 bytes on open (`O_TRUNC`).
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.truncate = on;
        self
    }

    /// Create if missing (`O_CREAT`).
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.create = on;
        self
    }

    /// Create, failing if it exists (`O_CREAT|O_EXCL`).
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.create_new = on;
        self
    }

    /// The open flags `std` would pass, or its `InvalidInput`.
    fn flags(&self) -> io::Result<OpenFlags> {
        // What std says for a combination it refuses before any system call.
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "invalid combination of open options");
        let mut flags = match (self.read, self.write, self.append) {
            (true, false, false) => OpenFlags::O_RDONLY,
            (false, true, false) => OpenFlags::O_WRONLY,
            (true, true, false) => OpenFlags::O_RDWR,
            (false, _, true) => OpenFlags::O_WRONLY.append(),
            (true, _, true) => OpenFlags::O_RDWR.append(),
            (false, false, false) => return Err(invalid()),
        };
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) => {
                if self.truncate || self.create || self.create_new {
                    return Err(invalid());
                }
            }
            (_, true) => {
                if self.truncate && !self.create_new {
                    return Err(invalid());
                }
            }
        }
        flags = match (self.create, self.truncate, self.create_new) {
            (false, false, false) => flags,
            (true, false, false) => flags.creat(),
            (false, true, false) => flags.trunc(),
            (true, true, false) => flags.creat().trunc(),
            (_, _, true) => flags.creat().excl(),
        };
        Ok(flags)
    }

    /// `open(path, flags)`.
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let flags = self.flags()?;
        let path = model_path(path.as_ref());
        let io = me();
        let fd = io.open(&path, flags).map_err(err)?;
        Ok(File { io, fd })
    }
}

/// `std::fs::read`.
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.read_rest(&mut buf, Some(0))?;
    Ok(buf)
}

/// `std::fs::read_to_string`.
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// `std::fs::write`.
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    File::create(path)?.write_all(contents.as_ref())
}

/// `std::fs::rename`.
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (model_path(from.as_ref()), model_path(to.as_ref()));
    me().rename(&from, &to).map_err(err)
}

/// `std::fs::remove_file`: `unlink`.
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    me().unlink(&model_path(path.as_ref())).map_err(err)
}

/// `std::fs::create_dir`: `mkdir`.
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    me().mkdir(&model_path(path.as_ref())).map_err(err)
}

/// `std::fs::remove_dir`: `rmdir`.
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    me().rmdir(&model_path(path.as_ref())).map_err(err)
}

/// `std::fs::create_dir_all`, step for step as `std` does it.
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = model_path(path.as_ref());
    create_dir_all_in(&me(), &path)
}

fn create_dir_all_in(io: &FsProc, path: &str) -> io::Result<()> {
    if path == "/" {
        return Ok(());
    }
    let is_dir = |p: &str| io.stat(p).is_ok_and(|s| s.is_dir);
    match io.mkdir(path) {
        Ok(()) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(_) if is_dir(path) => return Ok(()),
        Err(e) => return Err(err(e)),
    }
    let parent = match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    };
    create_dir_all_in(io, parent)?;
    match io.mkdir(path) {
        Ok(()) => Ok(()),
        Err(_) if is_dir(path) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// `std::fs::metadata`: `statx`.
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    me().stat(&model_path(path.as_ref())).map(metadata_of).map_err(err)
}

/// `std::fs::exists`: `statx`; `Ok(false)` on `ENOENT`.
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    match me().stat(&model_path(path.as_ref())) {
        Ok(_) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(err(e)),
    }
}

/// `std::fs::read_dir`: an iterator over the directory's entries (see the module's note on its
/// steps).
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let dir = model_path(path.as_ref());
    let io = me();
    let fd = io.open(&dir, OpenFlags::O_RDONLY.directory()).map_err(err)?;
    let d = ReadDir { io, fd, dir: PathBuf::from(&dir), names: None, done: false };
    d.io.fstat(fd).map_err(err)?;
    Ok(d)
}

/// The entries of a directory, shaped like `std::fs::ReadDir`.
#[derive(Debug)]
pub struct ReadDir {
    io: FsProc,
    fd: Fd,
    dir: PathBuf,
    /// The entries `getdents64` returned and the iterator has not yet given out.
    names: Option<std::collections::VecDeque<String>>,
    done: bool,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.done {
            return None;
        }
        if self.names.is_none() {
            match self.io.getdents(self.fd) {
                Ok(names) => self.names = Some(names.into()),
                Err(e) => {
                    self.done = true;
                    return Some(Err(err(e)));
                }
            }
        }
        match self.names.as_mut().and_then(|n| n.pop_front()) {
            Some(name) => Some(Ok(DirEntry { path: self.dir.join(&name), name })),
            None => {
                self.done = true;
                match self.io.getdents_end(self.fd) {
                    Ok(()) => None,
                    Err(e) => Some(Err(err(e))),
                }
            }
        }
    }
}

impl Drop for ReadDir {
    /// `close` of the directory's descriptor.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.io.close(self.fd);
        }
    }
}

/// An entry of a directory, shaped like `std::fs::DirEntry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    name: String,
    path: PathBuf,
}

impl DirEntry {
    /// The entry's name.
    pub fn file_name(&self) -> OsString {
        OsString::from(&self.name)
    }

    /// The directory's path joined with the name.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }
}
