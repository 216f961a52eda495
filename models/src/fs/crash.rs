//! The durable states a crash can leave: what recovery code must cope with.
//!
//! [`crash_states`] lists every tree of directories and file contents that a crash (power loss,
//! kernel panic) at this instant could leave on disk, under the conservative POSIX contract of
//! `models.md` ("Crash states"), which is what portable code may rely on:
//!
//! * **Directories.** Each directory keeps its durable entries (those of its last `fsync`) plus
//!   **any prefix** of the log of entry changes made since
//!   ([`DirChange`](super::state::DirChange)): none of them, all of them, or anything in between,
//!   but never a later change without the earlier ones of the same directory, and never part of
//!   one change (a rename inside one directory is one change, so it is all or nothing).
//! * **Directories are independent.** Each directory's prefix is chosen on its own. A rename
//!   between two directories is an `Unlink` in one log and a `Link`/`Replace` in the other, so a
//!   crash may keep the unlink and lose the link (the file has no name left) or keep the link and
//!   lose the unlink (the file has both names). Real file systems usually commit both halves in one
//!   journal transaction, but POSIX does not promise it: this is the conservative contract, kept on
//!   purpose. The same goes for a directory created in an un-synced parent: whatever its own log
//!   says, it only exists if the parent's chosen prefix contains its name.
//! * **Files.** Each regular file reachable in the resulting tree holds its durable contents (those
//!   of the last `fsync` of a descriptor of it; empty for a new file never fsynced) or its current
//!   contents, nothing in between (two options only when they differ). The choice is per inode: a
//!   file that a crash leaves with two names (the half-kept rename above) has the same contents
//!   under both.
//!
//! The post-crash tree is built from the root down: the root's entries come from the chosen
//! prefix of the root's log, each subdirectory reached through them contributes the chosen prefix
//! of *its own* log, and so on. Only the choices of reachable inodes matter, so the states are the
//! cartesian product of those choices, walked in a deterministic order, deduplicated (different
//! choices can give the same tree) and returned sorted ([`CrashState`]'s `Ord`).
//!
//! Limits and guards:
//!
//! * A regular file that is no longer live (no name in the current tree and no open descriptor)
//!   but that an un-synced change may bring back offers only its durable contents: [`FsState`]
//!   keeps only those for freed inodes ([`FsState::inode_contents`] is `None` for them), so
//!   un-synced data written to such a file before it was freed is not among the options.
//! * An entry that would make a directory its own ancestor (possible only with independent
//!   prefixes of cross-directory renames of directories) is left out of that state, as `fsck`
//!   would; so is an entry naming an inode the model no longer knows (which its garbage
//!   collection never lets happen).
//! * At most [`MAX_CRASH_STATES`] states are returned (see [`crash_states`] for which ones), and
//!   [`crash_state_count`] gives the size of the product without enumerating it.
//!
//! [`CrashState::to_fs`] turns a state back into a fresh, fully durable [`FsState`] on which
//! recovery code can run.

use super::state::{FsState, Ino, OpenFlags, ProcId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The most states [`crash_states`] returns.
pub const MAX_CRASH_STATES: usize = 4096;

/// The most complete choices [`crash_states`] walks before it stops, duplicates included: a
/// guard for products whose choices mostly give the same few states.
const MAX_CHOICES_WALKED: usize = MAX_CRASH_STATES * 64;

/// The root directory's inode number.
const ROOT: Ino = Ino(1);

/// One durable state a crash can leave: the whole tree, by absolute path.
///
/// Ordered (and so sorted by [`crash_states`]) by `files`, then `dirs`, comparing maps and sets
/// as sorted sequences.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CrashState {
    /// Every regular file, by absolute path ("/d/state"), with its contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Every directory, by absolute path, "/" included.
    pub dirs: BTreeSet<String>,
}

/// What a crash may leave of one inode reachable in some crash state.
#[derive(Debug)]
enum Options {
    /// A directory: its entries after each prefix of its un-synced log, the durable entries
    /// (prefix 0) first and the current entries last.
    Dir(Vec<BTreeMap<String, Ino>>),
    /// A regular file: its durable contents, then its current contents if they differ.
    File(Vec<Vec<u8>>),
}

impl Options {
    fn len(&self) -> usize {
        match self {
            Options::Dir(prefixes) => prefixes.len(),
            Options::File(contents) => contents.len(),
        }
    }
}

/// The options of every inode that some crash state can reach, found from the root through the
/// entries of every prefix of every reachable directory's log.
fn options(fs: &FsState) -> BTreeMap<Ino, Options> {
    let mut all = BTreeMap::new();
    let mut todo = vec![ROOT];
    while let Some(ino) = todo.pop() {
        if all.contains_key(&ino) {
            continue;
        }
        let opts = if let Some(durable) = fs.durable_dir_entries(ino) {
            let mut prefixes = vec![durable];
            for change in fs.pending_dir_changes_of(ino).unwrap_or_default() {
                let mut next = prefixes.last().cloned().unwrap_or_default();
                change.apply(&mut next);
                prefixes.push(next);
            }
            let named: BTreeSet<Ino> = prefixes.iter().flat_map(|entries| entries.values().copied()).collect();
            todo.extend(named);
            Options::Dir(prefixes)
        } else if let Some(durable) = fs.durable_contents(ino) {
            let mut contents = vec![durable];
            if let Some(current) = fs.inode_contents(ino) {
                if contents.first() != Some(&current) {
                    contents.push(current);
                }
            }
            Options::File(contents)
        } else if ino == ROOT {
            // Unreachable: the root always exists. An empty root keeps this total.
            Options::Dir(vec![BTreeMap::new()])
        } else {
            continue;
        };
        all.insert(ino, opts);
    }
    all
}

/// Joins a directory path and an entry name.
fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The result of building the post-crash tree under some choices.
enum Walk {
    /// Every reachable inode with more than one option had a choice: this is the state.
    Done(CrashState),
    /// The first reachable inode (in walk order) with this many options and no choice yet.
    Choose(Ino, usize),
}

/// Builds the tree from the root, pre-order with names in sorted order, under `chosen` (option
/// index per inode). Stops at the first reachable inode that needs a choice and has none.
fn walk(all: &BTreeMap<Ino, Options>, chosen: &BTreeMap<Ino, usize>) -> Walk {
    let mut state = CrashState { files: BTreeMap::new(), dirs: BTreeSet::new() };
    // (inode, its path, the directories above it, itself excluded).
    let mut todo: Vec<(Ino, String, Vec<Ino>)> = vec![(ROOT, "/".to_string(), Vec::new())];
    while let Some((ino, path, above)) = todo.pop() {
        let Some(opts) = all.get(&ino) else { continue };
        let choice = match (opts.len(), chosen.get(&ino)) {
            (0 | 1, _) => 0,
            (_, Some(&k)) => k,
            (n, None) => return Walk::Choose(ino, n),
        };
        match opts {
            Options::File(contents) => {
                state.files.insert(path, contents.get(choice).cloned().unwrap_or_default());
            }
            Options::Dir(prefixes) => {
                let mut below = above;
                below.push(ino);
                if let Some(entries) = prefixes.get(choice) {
                    // Reversed: the stack pops the smallest name first.
                    for (name, child) in entries.iter().rev() {
                        if !below.contains(child) {
                            todo.push((*child, join(&path, name), below.clone()));
                        }
                    }
                }
                state.dirs.insert(path);
            }
        }
    }
    Walk::Done(state)
}

/// Every durable state a crash at this instant could leave (see the [module docs](self) for the
/// contract), deduplicated and sorted; never empty (the root survives every crash).
///
/// The choices are walked depth first: the first inode that needs a choice (in a pre-order walk
/// of the post-crash tree, names sorted) takes its options in order (shortest prefix first,
/// durable contents before current ones), then the next, and so on. If that walk finds more than
/// [`MAX_CRASH_STATES`] distinct states, it stops at the [`MAX_CRASH_STATES`]th, and the result
/// is those states, sorted: a deterministic subset, biased towards the states closest to the
/// durable one. It also stops after `64 * MAX_CRASH_STATES` complete choices even with fewer
/// distinct states (a product whose choices mostly coincide). Whether truncation can have
/// happened: [`crash_state_count`]` > MAX_CRASH_STATES`.
pub fn crash_states(fs: &FsState) -> Vec<CrashState> {
    let all = options(fs);
    let mut found = BTreeSet::new();
    let mut walked = 0usize;
    let mut todo = vec![BTreeMap::new()];
    while let Some(chosen) = todo.pop() {
        match walk(&all, &chosen) {
            Walk::Done(state) => {
                found.insert(state);
                walked += 1;
                if found.len() >= MAX_CRASH_STATES || walked >= MAX_CHOICES_WALKED {
                    break;
                }
            }
            Walk::Choose(ino, n) => {
                // Reversed: the stack pops option 0 first.
                for k in (0..n).rev() {
                    let mut next = chosen.clone();
                    next.insert(ino, k);
                    todo.push(next);
                }
            }
        }
    }
    found.into_iter().collect()
}

/// The size of the product [`crash_states`] walks, computed without enumerating it (saturating at
/// `usize::MAX`): for each directory, the sum over the prefixes of its log of the product of the
/// counts of the entries that prefix leaves; 2 for a file whose durable and current contents
/// differ, 1 for any other file.
///
/// It counts choices, not distinct states, so `crash_states(fs).len() <= crash_state_count(fs)`;
/// the two are equal (below [`MAX_CRASH_STATES`]) when no two choices give the same tree and no
/// inode has two names in one crash state (the count then chooses for each name independently,
/// [`crash_states`] once per inode).
pub fn crash_state_count(fs: &FsState) -> usize {
    let all = options(fs);
    count(&all, ROOT, &mut Vec::new())
}

/// The count of [`crash_state_count`] for the subtree of `ino`, below the directories `above`.
fn count(all: &BTreeMap<Ino, Options>, ino: Ino, above: &mut Vec<Ino>) -> usize {
    match all.get(&ino) {
        None => 1,
        Some(Options::File(contents)) => contents.len().max(1),
        Some(Options::Dir(prefixes)) => {
            above.push(ino);
            // Each child's count, computed once for all the prefixes that name it.
            let mut memo: BTreeMap<Ino, usize> = BTreeMap::new();
            let mut total = 0usize;
            for entries in prefixes {
                let mut product = 1usize;
                for child in entries.values() {
                    if above.contains(child) {
                        continue; // A cycle: the walk leaves this entry out.
                    }
                    let n = match memo.get(child) {
                        Some(&n) => n,
                        None => {
                            let n = count(all, *child, above);
                            memo.insert(*child, n);
                            n
                        }
                    };
                    product = product.saturating_mul(n);
                }
                total = total.saturating_add(product);
            }
            above.pop();
            total.max(1)
        }
    }
}

impl CrashState {
    /// A fresh [`FsState`] holding exactly this tree, fully durable (every file and directory
    /// fsynced, no pending directory change, no open descriptor), so that its only crash state
    /// is `self` and recovery code can run on it.
    ///
    /// Built only through `FsState`'s system calls, made by the setup process `ProcId(0)`:
    /// `mkdir` of every directory (parents first), `open(O_WRONLY|O_CREAT|O_TRUNC)` + `write` +
    /// `fsync` + `close` of every file, then `open(O_RDONLY|O_DIRECTORY)` + `fsync` + `close` of
    /// every directory. A hand-made state that is not a tree (a file or directory whose parent is
    /// not in `dirs`, a path that is not canonical, a path both a file and a directory) is rebuilt
    /// as far as those calls succeed: the ones that fail are skipped.
    pub fn to_fs(&self) -> FsState {
        let mut fs = FsState::new();
        let p = ProcId(0);
        // A parent's path is a prefix of its children's, so it sorts (and is created) first.
        for dir in self.dirs.iter().filter(|d| d.as_str() != "/") {
            let _ = fs.mkdir(dir);
        }
        for (path, data) in &self.files {
            if let Ok(fd) = fs.open(p, path, OpenFlags::O_WRONLY.creat().trunc()) {
                let _ = fs.write(p, fd, data);
                let _ = fs.fsync(p, fd);
                let _ = fs.close(p, fd);
            }
        }
        for dir in &self.dirs {
            if let Ok(fd) = fs.open(p, dir, OpenFlags::O_RDONLY.directory()) {
                let _ = fs.fsync(p, fd);
                let _ = fs.close(p, fd);
            }
        }
        fs
    }
}

/// Quotes bytes in full: printable ASCII as is, `"` and `\` escaped, `\n`, and `\xNN` for every
/// other byte (the escapes of [`super::show_bytes`], without its length limit).
fn quote(data: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in data {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// The parent directory's path and the last name of a non-root path.
fn split(path: &str) -> Option<(&str, &str)> {
    match path.rsplit_once('/')? {
        ("", "") => None,
        ("", name) => Some(("/", name)),
        (dir, name) => Some((dir, name)),
    }
}

impl fmt::Display for CrashState {
    /// One line, for traces: every directory with its sorted names and every file with its
    /// quoted contents, in tree order (a directory, then what is below it), separated by `; `:
    /// `/: [state]; /state: [w.json]; /state/w.json = "{\"v\":1}"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for path in self.dirs.iter().chain(self.files.keys()) {
            if let Some((dir, name)) = split(path) {
                names.entry(dir).or_default().push(name);
            }
        }
        let mut lines: Vec<(Vec<&str>, String)> = Vec::new();
        for dir in &self.dirs {
            let mut listed = names.get(dir.as_str()).cloned().unwrap_or_default();
            listed.sort_unstable();
            lines.push((dir.split('/').collect(), format!("{dir}: [{}]", listed.join(", "))));
        }
        for (path, data) in &self.files {
            lines.push((path.split('/').collect(), format!("{path} = {}", quote(data))));
        }
        // By components, so that "/d/x" comes right after "/d", before "/d-e".
        lines.sort();
        for (i, (_, line)) in lines.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}
