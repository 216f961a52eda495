//! Writing a file so that a reader sees either the old contents or the new, never half of either,
//! and so that nothing but a regular file is ever replaced. Fixtures, `bench --save` and the
//! nightly's reports all go through [`write()`].
//!
//! The life of one write:
//! 1. the destination is checked ([`check_destination`]): a path that exists and is not a regular
//!    file (a directory, a FIFO, a socket, a device node) is refused, and so is a symbolic link,
//!    whatever it points to (`/proc/self/fd/1`, `/dev/null`): the harness never writes through a
//!    link, it names the file it writes. Callers check every destination before their run too, so
//!    a bad one is found in a second, not after an hour;
//! 2. the contents go into a temporary file in the same directory, named
//!    `.<name>.interleave-tmp-<pid>-<n>`, created exclusively and locked (`flock`) by its writer for
//!    as long as it exists; then `fsync`;
//! 3. the destination is checked again, immediately before `rename` moves the temporary file over
//!    it (`rename` would replace anything but a directory; std offers no `RENAME_NOREPLACE` and
//!    this crate forbids `unsafe`, so what remains is the instant between this check and the
//!    rename);
//! 4. `fsync` of the directory, so the rename itself survives a crash.
//!
//! On any error before the rename the temporary file is removed. A process killed (SIGKILL) while
//! writing cannot remove its own: [`remove_stale_temps`], which every command that writes calls on
//! its directory before its run, removes those whose process no longer exists. The temporary names
//! never end in `.json`, `.xml` or the destination's name, so nothing that reads the directory's
//! fixtures or reports ever sees one.

use crate::error::{Error, ErrorKind};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What marks a temporary file of [`write()`]: `.<name>.interleave-tmp-<pid>-<n>`.
pub const TEMP_MARK: &str = ".interleave-tmp-";

/// A destination the harness refuses to write, or cannot.
fn refused(message: String) -> Error {
    Error::new(ErrorKind::BadOption, message)
}

/// A write that failed (a full disk, a failed rename).
fn failed(message: String) -> Error {
    Error::new(ErrorKind::Backend, message)
}

/// The directory a path's file is written in: its parent, or `.` for a bare name.
fn parent(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// What a file that is not a regular file is, for messages.
fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device node";
        }
    }
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Checks the path itself: absent, or a regular file (not a link to one).
fn check_target(path: &Path) -> Result<(), Error> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        // Absent (or under something that is not a directory, which the caller's check of the
        // directory reports).
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(()),
        Err(e) => Err(refused(format!("cannot inspect {shown}: {e}"))),
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => Err(refused(format!("{shown} is a directory; name the file to write"))),
        Ok(m) if m.file_type().is_symlink() => Err(refused(format!(
            "{shown} is a symbolic link: interleave never writes through a link (it would replace whatever the \
             link names); name the file itself"
        ))),
        Ok(m) => Err(refused(format!(
            "{shown} is {}, not a regular file: interleave replaces only regular files",
            kind_of(m.file_type())
        ))),
    }
}

/// Checks, before a run, that [`write()`] may write `path`: it names a file; it is absent or a regular
/// file (not a directory, a FIFO, a socket, a device node or a symbolic link); its directory exists
/// and this process can create files in it (tried by creating and removing a temporary file).
pub fn check_destination(path: &Path) -> Result<(), Error> {
    check_target(path)?;
    if path.file_name().is_none() {
        return Err(refused(format!("{} names no file; name the file to write", path.display())));
    }
    let dir = parent(path);
    if !dir.is_dir() {
        return Err(refused(format!("no directory {} to write {} in", dir.display(), path.display())));
    }
    probe(dir)
}

/// Checks, before a run, that `dir` is a directory this process can create files in, creating it
/// (and its parents) when it does not exist.
pub fn check_directory(dir: &Path) -> Result<(), Error> {
    let shown = dir.display();
    if let Ok(m) = std::fs::metadata(dir) {
        if !m.is_dir() {
            return Err(refused(format!("{shown} is {}, not a directory", kind_of(m.file_type()))));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| refused(format!("cannot create the directory {shown}: {e}")))?;
    probe(dir)
}

/// Creates and removes a temporary file in `dir`: the only sure test that a write would succeed
/// (permissions, a read-only file system, an unwritable mount; `root` passes permission bits).
fn probe(dir: &Path) -> Result<(), Error> {
    let (tmp, file) =
        create_temp(dir, "probe").map_err(|e| refused(format!("cannot write in {}: {e}", dir.display())))?;
    drop(file);
    let _ = std::fs::remove_file(tmp);
    Ok(())
}

/// Creates a fresh temporary file for `name` in `dir`, exclusively, and locks it. A name left by a
/// dead process with this PID is skipped, not reused.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}{TEMP_MARK}{pid}-{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => {
                // The lock tells `remove_stale_temps` of another PID namespace that the file is in use;
                // a file system without locks only loses that hint.
                let _ = file.try_lock();
                return Ok((tmp, file));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1 << 20 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `contents` to `path` atomically; see the module's documentation for the steps and what
/// is refused. On error nothing is left behind and `path` is as it was.
pub fn write(path: &Path, contents: &[u8]) -> Result<(), Error> {
    write_with(path, |f| f.write_all(contents))
}

/// [`write()`] with the contents written by `fill` (which tests make fail).
fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<(), Error> {
    let shown = path.display();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| refused(format!("{shown} names no file; name the file to write")))?;
    check_target(path)?;
    let dir = parent(path);
    let (tmp, mut file) = create_temp(dir, name).map_err(|e| failed(format!("cannot write {shown}: {e}")))?;
    let done = fill(&mut file)
        .and_then(|()| file.sync_all())
        .map_err(|e| failed(format!("cannot write {shown}: {e}")))
        .and_then(|()| check_target(path))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| failed(format!("cannot rename into {shown}: {e}"))));
    // Closing releases the lock only now: the temporary name is locked for as long as it exists.
    drop(file);
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir).map_err(|e| failed(format!("cannot fsync the directory of {shown}: {e}")))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The PID in a temporary file's name `.<name>.interleave-tmp-<pid>-<n>`, or `None` for any other
/// name.
pub fn temp_owner(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, rest) = name.rsplit_once(TEMP_MARK)?;
    let (pid, n) = rest.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// Whether `pid` names a live process. Linux only (`/proc/<pid>`); `None` where there is no such
/// `/proc`.
fn alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join(std::process::id().to_string()).exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// Removes the temporary files of [`write()`] in `dir` whose writer is dead, and returns their paths.
///
/// A file is stale when the process its name names no longer exists (`/proc/<pid>`) and no process
/// holds its lock (a writer in another PID namespace still does). A PID reused since leaves the
/// file for a later run, which is safe. Where there is no `/proc` (not Linux) nothing is removed:
/// the files are harmless there, as nothing reads them. Errors are ignored: this is tidying.
pub fn remove_stale_temps(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return removed };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else { continue };
        if pid == std::process::id() || alive(pid) != Some(false) {
            continue;
        }
        let path = entry.path();
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        if let Ok(f) = File::open(&path) {
            if let Err(std::fs::TryLockError::WouldBlock) = f.try_lock() {
                continue;
            }
        }
        if std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("interleave-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_write_replaces_a_regular_file_and_leaves_nothing_else() {
        let d = tempdir("replace");
        let p = d.join("report.json");
        std::fs::write(&p, "old").unwrap();
        write(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(names(&d), ["report.json"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_removes_its_temporary_file_and_keeps_the_old_contents() {
        let d = tempdir("enospc");
        let p = d.join("report.json");
        std::fs::write(&p, "old").unwrap();
        // As a full disk would: the write itself fails.
        let e = write_with(&p, |_| Err(std::io::Error::from_raw_os_error(28))).unwrap_err();
        assert!(e.message.contains("cannot write"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(names(&d), ["report.json"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_destination_that_changed_before_the_rename_is_refused_and_the_temporary_file_removed() {
        let d = tempdir("rename");
        let p = d.join("bench.json");
        // While the contents are written, something else takes the name: the rename must not go
        // ahead, and the temporary file must go.
        let e = write_with(&p, |f| {
            std::fs::create_dir(d.join("bench.json"))?;
            std::fs::write(d.join("bench.json/inside"), "x")?;
            f.write_all(b"new")
        })
        .unwrap_err();
        assert!(e.message.contains("is a directory"), "{e}");
        assert_eq!(names(&d), ["bench.json"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn temporary_names_name_their_writer() {
        assert_eq!(temp_owner(".report.json.interleave-tmp-123-4"), Some(123));
        assert_eq!(temp_owner(".a.json.interleave-tmp-x-4"), None);
        assert_eq!(temp_owner("a.json.interleave-tmp-1-4"), None);
        assert_eq!(temp_owner(".a.json"), None);
        assert_eq!(temp_owner(".a.interleave-tmp-12-"), None);
    }
}
