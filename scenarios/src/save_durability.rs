//! # save-durability — a crash during or after `save_state_with_integrity`
//!
//! Source: seed `002_e7e22f33e81c5c71.txt`, "Fix 2: Directory fsync" (issue #80,
//! `state_version.py: save_state_with_integrity()`).
//!
//! `save_state_with_integrity` writes the new state to a temporary file in the state file's
//! directory and renames it over the state file. A rename changes a directory entry, which is
//! durable only once the directory is fsynced; the file's data is durable only once the file is
//! fsynced. The audit adds the directory fsync after the rename. This scenario puts a crash (power
//! loss, kernel panic) after every step and runs the recovery, a read of the state file, on every
//! durable state the crash can leave (models.md, "Crash states": each directory keeps any prefix of
//! its entry changes since its last fsync, each file its durable or its current contents).
//!
//! The failing crashes:
//! - `no-fsync` (neither the file nor the directory is fsynced): a crash right after the rename can
//!   keep the rename but not the temporary file's data, which was never fsynced: the state file is
//!   empty. The old state was durable; the crash destroyed it.
//! - `file-fsync-only` (the temporary file is fsynced, the directory is not: the gap issue #80
//!   reports): every crash leaves the old or the new state, complete, but a crash after `save` has
//!   returned can lose the rename: recovery finds the old state though the caller was told the new
//!   one was saved.
//! - `fixed` (fsync the file, rename, fsync the directory: the audit's fix): every crash leaves the
//!   old or the new state, complete, and the new one once `save` has returned.
//!
//! Invariants: (a) after a crash at any point, recovery reads the old or the new state, complete;
//! (b) after a crash that came once `save` had returned, it reads the new one; (c) without a
//! crash, a `load_state` that runs during the save reads the old or the new state (what the
//! temporary file and rename are for). (a) and (b) are checked at the end, over every crash point
//! the file system recorded and every durable state there; the end of the trace names the first
//! crash point that breaks them.
//!
//! Modeling choices:
//! - One writer: crash consistency is about where the crash falls, not about interleaving. The
//!   loader beside it checks (c), and it also gives shuttle's PCT scheduler a choice to make:
//!   with one thread it asserts "test closure did not exercise any concurrency".
//! - The audit shows only the rename and the directory fsync, so the temporary name
//!   (`state.json.tmp`), the single `write` and the file fsync of `file-fsync-only` are
//!   assumptions.
//! - The contract is the conservative POSIX one of models.md, not ext4's `data=ordered`, under
//!   which `no-fsync` would usually survive (ext4 flushes a file's data before it commits a
//!   rename over another file).

use interleave::fs::crash::CrashState;
use interleave::fs::state::{Errno, OpenFlags};
use interleave::fs::{show_bytes, Fs, FsProc};
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

const DIR: &str = "/data";
const STATE: &str = "/data/state.json";
const TMP: &str = "/data/state.json.tmp";
const OLD: &[u8] = br#"{"version":1,"sha256":"9f2c"}"#;
const NEW: &[u8] = br#"{"version":2,"sha256":"41ab"}"#;

/// (a) After a crash, the state file is the old or the new state, complete.
pub static COMPLETE: Invariant =
    Invariant { name: "after a crash the state file is the old or the new state, complete" };
/// (b) After a crash that came once `save` had returned, the state file is the new state.
pub static DURABLE: Invariant = Invariant { name: "after save returned, a crash leaves the new state" };
/// (c) Without a crash, a load that runs during the save reads the old or the new state, complete.
pub static LOAD_COMPLETE: Invariant = Invariant { name: "a load during the save reads the old or the new state" };

/// Which fsyncs `save_state_with_integrity` makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fsyncs {
    /// None.
    Nothing,
    /// The temporary file's, before the rename.
    File,
    /// The temporary file's, and the directory's after the rename (the audit's fix).
    FileAndDir,
}

/// `save_state_with_integrity(state)`.
fn save(p: &FsProc, sync: Fsyncs, data: &[u8]) -> Result<(), Errno> {
    let fd = p.open(TMP, OpenFlags::O_WRONLY.creat().trunc())?;
    let written = p.write_chunks(fd, data, 1);
    let synced = if sync == Fsyncs::Nothing { Ok(()) } else { p.fsync(fd) }; // os.fsync(f.fileno())
    let closed = p.close(fd);
    written.and(synced).and(closed)?;
    p.rename(TMP, STATE)?;
    if sync == Fsyncs::FileAndDir {
        // The audit's fix: the rename is durable once the directory is synced.
        let dir = p.open(DIR, OpenFlags::O_RDONLY.directory())?;
        let synced = p.fsync(dir);
        let closed = p.close(dir);
        synced.and(closed)?;
    }
    Ok(())
}

/// The recovery: read the state file as the disk holds it after the crash.
fn recover(disk: &CrashState) -> Result<&'static str, String> {
    match disk.files.get(STATE) {
        Some(d) if d == OLD => Ok("old"),
        Some(d) if d == NEW => Ok("new"),
        Some(d) => Err(format!("recovery reads {STATE} = {}, neither the old nor the new state", show_bytes(d))),
        None => Err(format!("recovery finds no {STATE}")),
    }
}

fn run(ctx: &Ctx, sync: Fsyncs) {
    let fs = Fs::current();
    fs.setup_dir(DIR);
    fs.setup_file(STATE, OLD); // the old state is durable
    fs.track_crashes();

    let p = fs.process(1);
    let c = ctx.clone();
    let writer = ctx.spawn("writer", move || {
        let r = save(&p, sync, NEW);
        c.note(match &r {
            Ok(()) => "save returned Ok".to_string(),
            Err(e) => format!("save returned {e}"),
        });
        // The crash point right after the save's last step: from here on it has returned.
        (r.is_ok(), p.crash_point_of_last_step())
    });
    let q = fs.process(2);
    let c = ctx.clone();
    let loader = ctx.spawn("loader", move || {
        let read = q.read_file(STATE);
        c.check(&LOAD_COMPLETE, matches!(&read, Ok(d) if d == OLD || d == NEW), || match &read {
            Ok(d) => format!("load_state read {}", show_bytes(d)),
            Err(e) => format!("load_state failed with {e}"),
        });
    });
    let (saved, returned_at) = writer.join().unwrap();
    loader.join().unwrap();

    let points = fs.crash_points();
    let most = points.iter().map(|p| p.states.len()).max().unwrap_or(0);
    ctx.end(format!("{} crash points checked, up to {most} durable states at one", points.len()));
    // (a) first, over every crash point; then (b), over those after save returned.
    let torn = points.iter().find_map(|p| p.states.iter().find_map(|d| recover(d).err().map(|e| (p, d, e))));
    if let Some((point, disk, what)) = &torn {
        ctx.end(format!("crash after step {}: {what}", point.after_steps));
        ctx.check(&COMPLETE, false, || {
            format!("a crash after step {} can leave the disk as [{disk}]", point.after_steps)
        });
    }
    let lost = points
        .iter()
        .filter(|p| saved && p.after_steps >= returned_at)
        .find_map(|p| p.states.iter().find(|d| recover(d) == Ok("old")).map(|d| (p, d)));
    if let Some((point, disk)) = lost {
        ctx.end(format!(
            "crash after step {}, once save had returned: recovery reads the old state",
            point.after_steps
        ));
        ctx.check(&DURABLE, false, || {
            format!(
                "save returned after step {returned_at}, but a crash after step {} can leave the disk as [{disk}]",
                point.after_steps
            )
        });
    }
}

/// Witness: the loader read the state file while the save was between its first and last step.
fn load_during_save(t: &Trace) -> bool {
    let (Some(w), Some(l)) = (t.thread_index("writer"), t.thread_index("loader")) else { return false };
    let steps: Vec<_> = t.steps().collect();
    match (steps.iter().position(|s| s.thread == w), steps.iter().rposition(|s| s.thread == w)) {
        (Some(a), Some(b)) => steps[a..b].iter().any(|s| s.thread == l && s.call.starts_with("read(")),
        _ => false,
    }
}

/// Witness: some crash point had more than one possible durable state (the check had something
/// to check).
fn several_states(t: &Trace) -> bool {
    t.end.iter().any(|l| {
        l.split_once("up to ")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > 1)
    })
}

const CRASHES: Witness =
    Witness { name: "a crash point had more than one possible durable state", reached: several_states };
static WITNESSES: &[Witness] =
    &[CRASHES, Witness { name: "a load read the state file while the save was in flight", reached: load_during_save }];

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "save-durability",
    summary: "save_state_with_integrity renames a temporary file over the state file; a crash can undo or tear it",
    source: Source { seed: "002_e7e22f33e81c5c71.txt", section: "Fix 2: Directory fsync" },
    variants: &[
        Variant {
            name: "no-fsync",
            expect: Expect::Counterexample,
            summary: "write the temporary file, rename it over the state file; no fsync",
            body: &|ctx| run(ctx, Fsyncs::Nothing),
            witnesses: &[CRASHES],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "file-fsync-only",
            expect: Expect::Counterexample,
            summary: "fsync the temporary file, rename; no directory fsync (the gap issue #80 reports)",
            body: &|ctx| run(ctx, Fsyncs::File),
            witnesses: &[CRASHES],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "fsync the temporary file, rename, fsync the directory (the audit's fix)",
            body: &|ctx| run(ctx, Fsyncs::FileAndDir),
            witnesses: WITNESSES,
            ..Variant::DEFAULTS
        },
    ],
};
