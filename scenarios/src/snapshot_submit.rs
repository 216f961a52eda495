//! # snapshot-submit — concurrent submits of one document
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "Snapshot read-modify-write"; the crash variants
//! check the same audit's "Snapshot write atomicity".
//!
//! agent-doc keeps, per document, a snapshot of the document as last submitted. A submit loads
//! the snapshot, reads the document, diffs the two, hands the diff on to the agent and saves the
//! document as the new snapshot. `agent-doc run` (started by the user, e.g. from the editor
//! plugin) and `agent-doc watch` (the daemon that submits when the file changes) can submit the
//! same document at once, while the user goes on editing it. The invariant: every edit is handed
//! on in exactly one diff, and the final snapshot is the document as the later submit read it.
//!
//! The failing interleaving of the code as audited (`buggy`, no lock), with 1 preemption:
//! 1. the snapshot holds `# doc`, the document `# doc e1`; the user saves `e2` and the editor
//!    plugin starts `agent-doc run`;
//! 2. `run` loads the snapshot (`# doc`), reads `# doc e1 e2`, hands `e1, e2` on and writes its
//!    temporary snapshot, but has not renamed it yet;
//! 3. `watch` loads the snapshot — still `# doc` — reads the same document, hands `e1, e2` on
//!    **again** and saves;
//! 4. `run` renames its snapshot into place: both edits went to the agent twice. In other
//!    schedules the later rename puts an older document over a newer snapshot, and the edit it
//!    lacks is handed on again by the next submit.
//!
//! `audit-fix` is the audit's mitigation as the code implements it: `SnapshotLock` is taken by
//! `load()` and by `save()`, each for its own call. In `submit::run` (btakita/agent-doc),
//! `diff::compute` loads the snapshot (through `snapshot::resolve`, under its own short lock)
//! well before the lock around the save, so no lock is held from the load to the save. The model
//! finds the same schedule as in `buggy`, with each load and each save inside its own lock:
//! **still a counterexample**, where the audit lists the finding as resolved. `fixed` holds one
//! exclusive `flock` on `<doc>.agent-doc.lock` from before the load until after the save (what
//! `with_snapshot()` offers), reads the document inside it, and writes the snapshot by
//! temporary file, `fsync` and rename.
//!
//! The crash check ("Crash consistency" in scenarios.md) covers the snapshot writes.
//! `crash-no-fsync` holds the lock across and writes the snapshot as the real `save_unlocked`
//! does: `tempfile::NamedTempFile`, `write_all`, `persist` (a rename), no `fsync`. Under the
//! conservative contract of models.md a crash right after the rename can keep the rename and
//! lose the data, leaving an **empty** snapshot: a counterexample, where scenarios.md expects
//! temporary file + rename to hold (the audit's "atomic rename" protects readers, not crashes).
//! ext4's `auto_da_alloc` flushes the data of a file renamed over another, which hides this on
//! default ext4 mounts; POSIX does not promise it. `crash-fixed` is `fixed`'s write, with the
//! `fsync` of the temporary file before the rename: every crash state holds the initial
//! snapshot or one a submit wrote. Without a directory `fsync` a crash can still lose a rename
//! whose save had returned; the snapshot is then the previous complete version and the next
//! submit hands the same edits on again. That meets this invariant (completeness), and a
//! directory `fsync` would not make the hand-off exactly-once across crashes either: the diff is
//! handed on before the save, so a crash between the two always repeats it (at least once).
//!
//! Modeling choices:
//! - An edit is a line appended to the document, and a diff is the document's lines the snapshot
//!   lacks, so "handed on exactly once" is a count of lines.
//! - The editor saves as vim and JetBrains' safe write do: the new version goes to a temporary
//!   file, which is then renamed over the document. Writing that temporary file touches an inode
//!   and a name no other process uses, so those steps commute with every other step: the model
//!   writes it in setup, and the save is its one observable step, the rename (three more steps
//!   there, each independent of every other, would only multiply the orders a search tries). An editor that saves in
//!   place (truncate, then write) lets a submit read a prefix of the document, which no advisory
//!   lock prevents: that is the audit's separate "Watch daemon write window".
//! - The user's save and `agent-doc run` are one user action (the plugin saves, then runs
//!   `agent-doc run`), so they are one thread: the save, then the submit; `watch` submits
//!   concurrently, for the earlier save of `e1`. (With the save on a thread of its own, the
//!   orders of `fixed` multiply again; loom's unbounded run already stops at its 250,000 cap on
//!   `fixed` as it is, with 794 classes, while the step-level search proves it in 11,036.)
//! - The diff goes to the agent this submit starts (as its prompt), which no other thread reads:
//!   it is each submit's result and a note in the trace, not a model step.
//! - The real `submit::run` also writes the agent's response into the document and saves the
//!   document plus the response as the snapshot; that write-back is the audit's "Watch daemon
//!   write window" and is left out.
//! - The code is written as agent-doc's is, with `fs` from `interleave` (`interleave::fs` is
//!   shaped like `std::fs`): `SnapshotLock` opens its lock file and calls `File::lock` (fs2's
//!   `lock_exclusive`), and its `Drop` unlocks and closes as `RegistryLock`'s does; `load()`
//!   probes `exists()` (a `statx`) and reads with `fs::read_to_string` (open, `statx`, reads until
//!   0 bytes, close); `save()` is `NamedTempFile::new_in` (an `O_EXCL` open), `write_all`,
//!   `persist` (a rename), then the drop's close. `agent-doc run`, `watch` and the crash variants'
//!   editor are processes of their own (`interleave::process::Builder`: their own descriptors
//!   and `flock`s). `Path::exists` is `fs::exists` here: the std method would ask the real disk.
//! - The editor's save (a rename, no descriptor) is made by `run`'s process: which process
//!   renames a name does not change what the rename does.
//! - The crash variants run one submit while the user saves. The lock serializes saves, so a
//!   second submit only repeats the same operations in the snapshot directory (the other submit
//!   only opens and reads files there). Enumerating every crash state after every step is what
//!   costs, so `fixed` leaves crash tracking to these two variants.

use interleave::fs::{self, show_bytes, File, Fs, OpenOptions};
use interleave::process::Builder;
use interleave::sync::Arc;
use interleave::{Ctx, Expect, Invariant, Param, Scenario, Source, Trace, Variant, Witness};
use std::collections::BTreeSet;
use std::io::{self, Write as _};

const DOC: &str = "/p/doc.md";
/// The editor's temporary file, renamed over the document when it saves.
const EDITOR_TMP: &str = "/p/.doc.md.swp";
/// `SnapshotLock`'s lock file: a file of its own, so that renaming a new snapshot into place
/// never changes which inode the lock is on.
const LOCK: &str = "/p/doc.md.agent-doc.lock";
const SNAP_DIR: &str = "/p/snapshots";
const SNAP: &str = "/p/snapshots/doc.md";

/// The document as last submitted: the snapshot before either submit.
const V0: &[u8] = b"# doc\n";
/// The user's save that started `watch`'s submit (edit `e1`).
const V1: &[u8] = b"# doc\ne1\n";
/// The user's next save, while `watch` submits (edit `e2`).
const V2: &[u8] = b"# doc\ne1\ne2\n";
/// Every edit of the document.
const EDITS: [&str; 2] = ["e1", "e2"];

/// How many `agent-doc watch` submits race `run` (names `watch`, `watch2`).
const WATCHERS: Param =
    Param { name: "watchers", default: 1, min: 0, max: 2, summary: "agent-doc watch submits racing agent-doc run" };
/// How many `write` calls save a snapshot.
const CHUNKS: Param =
    Param { name: "chunks", default: 1, min: 1, max: 3, summary: "write calls that save a temporary snapshot" };
static EDITING_PARAMS: [Param; 2] = [WATCHERS, CHUNKS];
static CRASH_PARAMS: [Param; 1] = [CHUNKS];

/// Every edit is handed on in exactly one diff: none twice, none lost.
pub static EXACTLY_ONCE: Invariant = Invariant { name: "every edit is handed on in exactly one diff" };
/// The final snapshot is the newest document a submit read.
pub static LATEST: Invariant = Invariant { name: "the final snapshot is the document as the later submit read it" };
/// After a crash at any point, the snapshot is a complete version.
pub static COMPLETE: Invariant = Invariant { name: "after a crash the snapshot is a complete version" };

/// How a variant holds `SnapshotLock`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Locking {
    /// No lock.
    None,
    /// `load()` and `save()` each take the lock for their own call (the audit's mitigation).
    PerCall,
    /// One lock held from before the load until after the save.
    Held,
}

/// What runs, and what is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `watch` submits; meanwhile the user saves `e2` and the plugin runs `agent-doc run`.
    Editing,
    /// `run` submits while the user saves `e2`, and every crash state of every point is checked.
    Crash,
}

/// What one variant's code does.
#[derive(Clone, Copy)]
struct Code {
    locking: Locking,
    /// `fsync` of the temporary snapshot before the rename.
    fsync: bool,
    shape: Shape,
}

/// What one submit did, for the end checks.
#[derive(Clone, Default)]
struct Submit {
    name: &'static str,
    /// The document as it read it.
    doc: Option<Vec<u8>>,
    /// The edits it handed on.
    handed: Vec<String>,
    /// What it saved as the snapshot (its `doc`), once the save returned.
    saved: Option<Vec<u8>>,
}

fn lines(data: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(data).unwrap_or("").lines()
}

/// The diff: the document's lines the snapshot lacks (what a line diff adds when, as here,
/// lines are unique and edits append).
fn diff(snapshot: &[u8], doc: &[u8]) -> Vec<String> {
    let old: BTreeSet<&str> = lines(snapshot).collect();
    lines(doc).filter(|l| !old.contains(l)).map(String::from).collect()
}

/// `SnapshotLock`: the exclusive advisory lock on the document's snapshot, the same pattern as
/// `RegistryLock` (seed 001): released when dropped.
struct SnapshotLock {
    file: File,
}

impl SnapshotLock {
    /// `SnapshotLock::acquire`: open the lock file (creating it if needed) and `flock(LOCK_EX)`
    /// it (fs2's `lock_exclusive`, std's `File::lock`), which waits while another open file
    /// description holds the lock.
    fn acquire() -> io::Result<SnapshotLock> {
        let file = OpenOptions::new().create(true).write(true).truncate(false).open(LOCK)?;
        file.lock()?;
        Ok(SnapshotLock { file })
    }
}

impl Drop for SnapshotLock {
    /// `let _ = self.file.unlock();`, then the file closes. A thread that is unwinding (the
    /// execution stopped) makes no step.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.file.unlock();
        }
    }
}

/// `snapshot::load`: `None` when there is no snapshot yet; under its own lock when `per_call`.
fn load(per_call: bool) -> io::Result<Option<Vec<u8>>> {
    let _lock = if per_call { Some(SnapshotLock::acquire()?) } else { None };
    // `snapshot_path.exists()` in agent-doc: `fs::exists` here, since `Path::exists` would ask
    // the real file system.
    if !fs::exists(SNAP)? {
        return Ok(None);
    }
    Ok(Some(fs::read_to_string(SNAP)?.into_bytes()))
}

/// `snapshot::save` (`save_unlocked` under its own lock when `per_call`):
/// `tempfile::NamedTempFile::new_in` the snapshot directory (`O_RDWR|O_CREAT|O_EXCL`, a name no
/// other writer uses), `write_all`, `persist` (the rename over the snapshot); the descriptor is
/// closed when the persisted file is dropped.
fn save(per_call: bool, tmp: &str, data: &[u8], fsync: bool) -> io::Result<()> {
    let _lock = if per_call { Some(SnapshotLock::acquire()?) } else { None };
    let mut f = OpenOptions::new().read(true).write(true).create_new(true).open(tmp)?;
    f.write_all(data)?;
    if fsync {
        f.sync_all()?; // the crash fix: the data is durable before the rename can be
    }
    fs::rename(tmp, SNAP)?; // persist()
    drop(f);
    Ok(())
}

/// One submit: load the snapshot, read the document, diff, hand the diff on, save the document
/// as the new snapshot.
fn submit(ctx: &Ctx, name: &'static str, code: Code) -> Submit {
    let mut out = Submit { name, ..Submit::default() };
    let per_call = code.locking == Locking::PerCall;
    let mut steps = || -> io::Result<()> {
        let _held = if code.locking == Locking::Held { Some(SnapshotLock::acquire()?) } else { None }; // the fix
        let snapshot = load(per_call)?.unwrap_or_default();
        let doc = fs::read_to_string(DOC)?.into_bytes();
        out.handed = diff(&snapshot, &doc);
        out.doc = Some(doc.clone());
        ctx.note(format!("diff [{}] → handed on", out.handed.join(", ")));
        save(per_call, &format!("{SNAP_DIR}/.tmp-{name}"), &doc, code.fsync)?;
        out.saved = Some(doc);
        Ok(()) // `_held` is dropped only now, after the save: the lock is released here
    };
    if let Err(e) = steps() {
        ctx.note(format!("submit failed: {e}"));
    }
    out
}

/// What each submit process did: written by the process after its last step, read once every
/// process has exited.
type Submits = Arc<std::sync::Mutex<Vec<Submit>>>;

/// Spawns process `name`, which runs `f`.
fn process(name: &'static str, f: impl FnOnce() + Send + 'static) -> interleave::process::Child {
    Builder::new(name).spawn(f).expect("the PID space has room")
}

/// Spawns the submit process `name`: first `before` (the editor's save, for `run`), then a submit.
fn submitter(ctx: &Ctx, done: &Submits, name: &'static str, code: Code, edit: bool) -> interleave::process::Child {
    let (c, done) = (ctx.clone(), Arc::clone(done));
    process(name, move || {
        if edit {
            c.note("the editor saves e2, then its plugin runs agent-doc run");
            let _ = fs::rename(EDITOR_TMP, DOC);
        }
        let s = submit(&c, name, code);
        done.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    })
}

/// The shared setup and threads.
fn run(ctx: &Ctx, code: Code) {
    let fs = Fs::current();
    fs.setup_dir("/p");
    fs.setup_dir(SNAP_DIR);
    fs.setup_file(SNAP, V0);
    fs.setup_file(DOC, V1);
    fs.setup_file(LOCK, b""); // left by earlier submits
    fs.setup_file(EDITOR_TMP, V2); // the editor's next version, written but not yet renamed
                                   // The snapshot's write(2)s are short when `chunks` > 1 (a short-write loop in `write_all`).
    fs.limit_writes(V2.len().div_ceil(ctx.param("chunks")));
    let done: Submits = Arc::default();
    let children = match code.shape {
        Shape::Editing => {
            let mut children = vec![submitter(ctx, &done, "run", code, true)];
            for name in ["watch", "watch2"][..ctx.param("watchers")].iter().copied() {
                children.push(submitter(ctx, &done, name, code, false));
            }
            children
        }
        Shape::Crash => {
            fs.track_crashes();
            let run = submitter(ctx, &done, "run", code, false);
            let editor = process("editor", || _ = fs::rename(EDITOR_TMP, DOC));
            vec![run, editor]
        }
    };
    for mut child in children {
        let _ = child.wait();
    }
    let mut submits = done.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // The order the checks and the end line name them in: run first, then the watchers.
    submits.sort_by_key(|s| SUBMITTERS.iter().position(|n| *n == s.name));

    let snapshot = fs.inspect(|st| st.contents(SNAP)).unwrap_or_default();
    let handed = |s: &Submit| format!("{} handed on [{}]", s.name, s.handed.join(", "));
    ctx.end(format!(
        "{SNAP} = {}; {}",
        show_bytes(&snapshot),
        submits.iter().map(handed).collect::<Vec<_>>().join(", ")
    ));
    check_exactly_once(ctx, &submits, &snapshot);
    check_latest(ctx, &submits, &snapshot);
    if code.shape == Shape::Crash {
        check_crashes(ctx, &fs, &submits);
    }
}

/// Every edit is in exactly one diff, and the final snapshot records exactly the edits handed on:
/// an edit it records that no diff carried is lost for good, and one a diff carried that it
/// lacks is handed on again by the next submit.
fn check_exactly_once(ctx: &Ctx, submits: &[Submit], snapshot: &[u8]) {
    let recorded: BTreeSet<&str> = lines(snapshot).collect();
    let mut problems = Vec::new();
    for edit in EDITS {
        let by: Vec<&str> = submits.iter().filter(|s| s.handed.iter().any(|h| h == edit)).map(|s| s.name).collect();
        match (by.as_slice(), recorded.contains(edit)) {
            ([_, _, ..], _) => problems.push(format!("{edit} was handed on twice ({})", by.join(" and "))),
            ([], true) => problems.push(format!("{edit} is in the snapshot but no diff handed it on")),
            ([who], false) => problems
                .push(format!("{who} handed {edit} on but the snapshot lacks it: the next submit sends it again")),
            _ => {}
        }
    }
    ctx.check(&EXACTLY_ONCE, problems.is_empty(), || problems.join("; "));
}

/// The final snapshot is the newest document any submit read (edits only append, so the longer
/// one is the newer).
fn check_latest(ctx: &Ctx, submits: &[Submit], snapshot: &[u8]) {
    let read = submits.iter().filter_map(|s| s.doc.as_ref().map(|d| (s.name, d)));
    let Some((who, newest)) = read.max_by_key(|(_, d)| d.len()) else { return };
    ctx.check(&LATEST, newest == snapshot, || {
        format!("the snapshot is {} but {who} read {}", show_bytes(snapshot), show_bytes(newest))
    });
}

/// How the end line of the crash check begins.
const CRASHED: &str = "crashed at every point:";

/// At every crash point, in every crash state, the snapshot is the initial version or one a
/// submit wrote.
fn check_crashes(ctx: &Ctx, fs: &Fs, submits: &[Submit]) {
    let written: Vec<&[u8]> = submits.iter().filter_map(|s| s.saved.as_deref()).collect();
    let (mut states, mut kept) = (0, 0);
    let mut bad = Vec::new();
    for point in fs.crash_points() {
        for state in &point.states {
            states += 1;
            match state.files.get(SNAP) {
                Some(s) if s == V0 => {}
                Some(s) if written.contains(&s.as_slice()) => kept += 1,
                other => bad.push((point.after_steps, other.cloned())),
            }
        }
    }
    ctx.end(format!("{CRASHED} {states} crash states, {kept} of them keep a save's rename with its data"));
    ctx.check(&COMPLETE, bad.is_empty(), || {
        let (step, snap) = &bad[0];
        let left = match snap {
            Some(s) => format!("{SNAP} = {}", show_bytes(s)),
            None => format!("no {SNAP}"),
        };
        format!(
            "a crash after step {step} can leave {left}, a version no submit wrote ({} of {states} crash states)",
            bad.len()
        )
    });
}

/// The submits' threads: `run` and the watchers.
const SUBMITTERS: [&str; 3] = ["run", "watch", "watch2"];

/// Whether `during` holds for some submit's lock interval: from its `flock(LOCK_EX)` to its
/// `flock(LOCK_UN)` on the lock's descriptor, fd 3 (the first file a submit process opens).
fn held_while(t: &Trace, during: impl Fn(&Trace, &str, usize, usize) -> bool) -> bool {
    let (from, to) = ("flock(fd 3, LOCK_EX", "flock(fd 3, LOCK_UN");
    SUBMITTERS.into_iter().any(|holder| match (t.find_step(holder, from), t.find_step(holder, to)) {
        (Some(from), Some(to)) => during(t, holder, from, to),
        _ => false,
    })
}

/// Witness: one submit opened the lock file while the other held the `flock` (and then waited
/// in its own `flock`).
fn waited_on_lock(t: &Trace) -> bool {
    held_while(t, |t, holder, from, to| {
        SUBMITTERS.iter().any(|other| *other != holder && t.step_between(other, &format!("open(\"{LOCK}\""), from, to))
    })
}

/// Witness: the user saved the document while a submit held the lock.
fn edited_while_held(t: &Trace) -> bool {
    held_while(t, |t, _, from, to| t.step_between("run", &format!("rename(\"{EDITOR_TMP}\""), from, to))
}

/// Witness: some crash state keeps a save's rename together with its data (the window in which
/// `crash-no-fsync` loses the data).
fn crash_kept_rename(t: &Trace) -> bool {
    let kept = |l: &str| l.split(", ").nth(1)?.split(' ').next()?.parse::<usize>().ok();
    t.end.iter().filter_map(|l| l.strip_prefix(CRASHED)).any(|l| kept(l).is_some_and(|n| n > 0))
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "snapshot-submit",
    summary: "agent-doc run and watch submit one document at once: both diff against the same snapshot",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "Snapshot read-modify-write" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "no lock: two submits load the same snapshot and hand the same edit on",
            body: &|ctx| run(ctx, Code { locking: Locking::None, fsync: false, shape: Shape::Editing }),
            witnesses: &[],
            params: &EDITING_PARAMS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix",
            expect: Expect::Counterexample,
            summary: "SnapshotLock taken by load() and by save() separately, not from the load to the save",
            body: &|ctx| run(ctx, Code { locking: Locking::PerCall, fsync: false, shape: Shape::Editing }),
            witnesses: &[],
            params: &EDITING_PARAMS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "one flock held from before the load until after the save; snapshot by temp file, fsync, rename",
            body: &|ctx| run(ctx, Code { locking: Locking::Held, fsync: true, shape: Shape::Editing }),
            witnesses: &[
                Witness { name: "one submit opened the lock file while the other held it", reached: waited_on_lock },
                Witness { name: "the user saved while a submit held the lock", reached: edited_while_held },
            ],
            params: &EDITING_PARAMS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "crash-no-fsync",
            expect: Expect::Counterexample,
            summary: "the lock held across, snapshot by temp file and rename without fsync, crashed at every point",
            body: &|ctx| run(ctx, Code { locking: Locking::Held, fsync: false, shape: Shape::Crash }),
            witnesses: &[],
            params: &CRASH_PARAMS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "crash-fixed",
            expect: Expect::Holds,
            summary: "fixed's snapshot writes (fsync before the rename), crashed at every point",
            body: &|ctx| run(ctx, Code { locking: Locking::Held, fsync: true, shape: Shape::Crash }),
            witnesses: &[Witness {
                name: "a crash state keeps a save's rename with its data",
                reached: crash_kept_rename,
            }],
            params: &CRASH_PARAMS,
            ..Variant::DEFAULTS
        },
    ],
};
