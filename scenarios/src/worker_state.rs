//! # worker-state — worker state write vs `read_all`
//!
//! Source: seed `000_22be9e3ee358d176.txt`, "Non-atomic worker state writes".
//!
//! A worker saves its state with `write_state` = `fs::write(<dir>/<id>.json, json)`, which is
//! three kinds of system call: `open(O_WRONLY|O_CREAT|O_TRUNC)`, one `write` per chunk of a short
//! write loop, and `close`. Another process runs `read_all`: `readdir(<dir>)`, then for every
//! `*.json` name `fs::read` it (`open`, `read` until 0 bytes, `close`); a read error skips the
//! file, and a JSON parse error **deletes** it as corrupt.
//!
//! The failing interleaving of the code as audited (`buggy`), with 1 preemption:
//! 1. the writer opens `w.json` with `O_TRUNC`: the file is now empty;
//! 2. `read_all` lists the directory, opens `w.json` and reads 0 bytes;
//! 3. the parse fails ("EOF while parsing"), so `read_all` unlinks `w.json`;
//! 4. the writer writes its JSON into the open descriptor, which now refers to an orphaned inode
//!    (POSIX keeps an unlinked inode alive while a descriptor is open), and closes it;
//! 5. `write_state` returned Ok, and the worker's state file is gone.
//!
//! With chunked writes `read_all` can also read a prefix of the JSON and delete that.
//!
//! The audit's fix (`audit-fix`: write `<id>.json.tmp`, then rename it over `<id>.json`) holds
//! for one writer per file: `read_all` only ever sees the old or the new complete file. But the
//! temporary name is fixed, so two updaters of the same worker id (`audit-fix-two-writers`) share
//! it: one truncates the temporary file the other has written and is about to rename, a
//! half-written (here: empty) file is renamed into place, and `read_all` deletes it. `fixed` uses a
//! unique temporary name per write (what `tempfile::NamedTempFile::persist` does, opened with
//! `O_CREAT|O_EXCL`), fsyncs it, renames it and fsyncs the directory.
//!
//! Modeling choices: the unique temporary name is derived from the writer's identity rather than
//! drawn at random, because randomness the scheduler does not control stays out of models. The
//! code is written with `interleave::fs`, shaped like `std::fs`, so each call makes the system
//! calls the real one makes (`fs::read` is `open`, `statx`, `read`s, `close`; `read_dir` is
//! `open`, `statx`, `getdents64` twice, `close`); the worker and `read_all` are two processes
//! (`interleave::process::Builder`), each with its own descriptors. A short-write loop is the
//! file system's: `Fs::limit_writes` makes each `write(2)` write at most a chunk, and `write_all`
//! loops. Invariant (b) is the file system's own record of every step that took the last name of a
//! file open for writing, checked at the end.

use interleave::fs::{self, Fs};
use interleave::process::Builder;
use interleave::sync::Arc;
use interleave::{Ctx, Expect, Invariant, Param, Scenario, Source, Trace, Variant, Witness};
use std::io::{self, Write as _};

const DIR: &str = "/state";
const PATH: &str = "/state/w.json";
const OLD: &[u8] = br#"{"id":"w","v":1}"#;
const NEW: &[u8] = br#"{"id":"w","v":2,"task":"review"}"#;
const NEW_B: &[u8] = br#"{"id":"w","v":3,"task":"merge"}"#;
const NEW_C: &[u8] = br#"{"id":"w","v":4,"task":"ship"}"#;

/// The sizes a variant runs at. `write_state` writes in `chunks` chunks (by default two: a
/// short-write loop, so a reader can see a prefix); `writers` updaters of worker `w` run at once.
const fn params(writers: usize) -> [Param; 2] {
    [
        Param {
            name: "writers",
            default: writers,
            min: 1,
            max: 3,
            summary: "concurrent write_state calls for worker w",
        },
        Param { name: "chunks", default: 2, min: 1, max: 4, summary: "write calls in write_state's short-write loop" },
    ]
}
static ONE_WRITER: [Param; 2] = params(1);
static TWO_WRITERS: [Param; 2] = params(2);

/// (a) A state file whose `write_state` returned Ok is present and parses once every thread has
/// finished.
pub static SURVIVES: Invariant = Invariant { name: "state file survives read_all" };
/// (b) `read_all` never deletes a file that a live writer is writing.
pub static NO_DELETE_WHILE_WRITING: Invariant =
    Invariant { name: "read_all never deletes a file a live writer is writing" };
/// (`fixed` only; scenarios.md, "Crash consistency") After a crash at any point, `read_all` finds
/// the old or the new state, and the new one once `write_state` has returned.
pub static SURVIVES_CRASH: Invariant =
    Invariant { name: "after a crash read_all finds the old or the new state, the new once write_state returned" };

/// How `write_state` saves the file.
#[derive(Clone, Copy)]
enum Write {
    /// `fs::write(path)`: truncate in place.
    InPlace,
    /// Write `<path>.tmp`, then rename it over `<path>` (the audit's fix).
    FixedTemp,
    /// A unique temporary file, fsync, rename, fsync of the directory.
    UniqueTemp,
}

/// `write_state` as each variant implements it: ordinary Rust, with `fs` from `interleave`.
fn write_state(how: Write, data: &[u8], writer: &str) -> io::Result<()> {
    match how {
        Write::InPlace => fs::write(PATH, data),
        Write::FixedTemp => {
            let tmp = format!("{PATH}.tmp");
            fs::write(&tmp, data)?;
            fs::rename(&tmp, PATH) // the audit's fix: rename is atomic
        }
        Write::UniqueTemp => {
            // A name no other write uses, created exclusively (tempfile's NamedTempFile): no
            // writer ever opens another's file.
            let tmp = format!("{DIR}/.w.json.{writer}");
            let mut f = fs::OpenOptions::new().read(true).write(true).create_new(true).open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, PATH)?; // persist()
            fs::File::open(DIR)?.sync_all() // the rename is durable once the directory is synced
        }
    }
}

/// `read_all`: list the directory, read every `*.json`; skip what fails to read, delete what
/// fails to parse.
fn read_all(ctx: &Ctx) -> usize {
    let Ok(entries) = fs::read_dir(DIR) else { return 0 };
    let mut parsed = 0;
    for entry in entries {
        let Ok(path) = entry.map(|e| e.path()) else { continue };
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(data) = fs::read(&path) else {
            ctx.note("read failed → skip");
            continue;
        };
        match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(_) => parsed += 1,
            Err(e) => {
                ctx.note(format!("parse: {e} → delete"));
                let _ = fs::remove_file(&path);
            }
        }
    }
    parsed
}

/// What each writer process's `write_state` returned, and the crash point right after its last
/// step: written by the process itself after its last step, read once it has exited.
type Returned = Arc<std::sync::Mutex<Vec<(String, Result<(), String>, usize)>>>;

/// The shared setup and processes: `writers` update worker `w`'s state while `read_all` runs.
fn run(ctx: &Ctx, how: Write) {
    let writers = ctx.param("writers");
    let chunks = ctx.param("chunks");
    let fs = Fs::current();
    fs.setup_dir(DIR);
    fs.setup_file(PATH, OLD);
    // write_state's write(2)s are short (a short-write loop): a reader can see a prefix.
    fs.limit_writes(NEW.len().div_ceil(chunks));
    // Only the fixed variant claims crash consistency; the others are not checked for it.
    let crash_check = matches!(how, Write::UniqueTemp);
    if crash_check {
        fs.track_crashes();
    }

    let returned: Returned = Arc::default();
    let mut children = Vec::new();
    for i in 0..writers {
        let name = if writers == 1 { "writer".to_string() } else { format!("writer{}", i + 1) };
        let data = [NEW, NEW_B, NEW_C][i % 3];
        let (me, done) = (name.clone(), Arc::clone(&returned));
        children.push(
            Builder::new(name)
                .spawn(move || {
                    let r = write_state(how, data, &me).map_err(|e| e.to_string());
                    // The crash point right after write_state's last step (0 unless tracked).
                    let at = Fs::current().crash_point_of_caller();
                    done.lock().unwrap_or_else(|e| e.into_inner()).push((me, r, at));
                })
                .expect("the PID space has room"),
        );
    }
    let c = ctx.clone();
    children.push(Builder::new("reader").spawn(move || _ = read_all(&c)).expect("the PID space has room"));
    for mut child in children {
        let _ = child.wait();
    }

    let mut results = returned.lock().unwrap_or_else(|e| e.into_inner()).clone();
    results.sort();
    let any_ok = results.iter().any(|(_, r, _)| r.is_ok());
    let returned_at: Vec<usize> = results.iter().filter(|(_, r, _)| r.is_ok()).map(|(_, _, at)| *at).collect();
    let shown_results: Vec<String> = results
        .iter()
        .map(|(n, r, _)| match r {
            Ok(()) => format!("{n}'s write_state returned Ok"),
            Err(e) => format!("{n}'s write_state returned {e}"),
        })
        .collect();
    let final_state = fs.inspect(|st| st.contents(PATH));
    let parses = final_state.as_deref().is_some_and(|d| serde_json::from_slice::<serde_json::Value>(d).is_ok());
    let shown = match &final_state {
        None => format!("\"{PATH}\" missing"),
        Some(d) => format!("\"{PATH}\" = {}", interleave::fs::show_bytes(d)),
    };
    ctx.end(format!("{shown}; {}", shown_results.join(", ")));
    // (b): the file system records every step that took the last name of a file open for writing.
    if let Some(lost) = fs.lost_while_writing().first() {
        ctx.check(&NO_DELETE_WHILE_WRITING, false, || {
            format!("{} took the last name of a file a writer had open for writing", lost.call)
        });
    }
    ctx.check(&SURVIVES, !any_ok || parses, || {
        if final_state.is_none() {
            format!("\"{PATH}\" is missing though write_state returned Ok")
        } else {
            format!("\"{PATH}\" does not parse though write_state returned Ok")
        }
    });
    if crash_check {
        check_crashes(ctx, &fs, &returned_at);
    }
}

/// The crash check of `fixed`: at every crash point, every durable state holds `w.json` as the old
/// or a new state (so `read_all` parses it and keeps it), and the new one once the `write_state`
/// that wrote it had returned.
fn check_crashes(ctx: &Ctx, fs: &Fs, returned: &[usize]) {
    for point in fs.crash_points() {
        let done = returned.iter().any(|&at| point.after_steps >= at);
        for disk in &point.states {
            let found = disk.files.get(PATH);
            let ok = match found {
                Some(d) if d == OLD => !done,
                Some(d) => d == NEW || d == NEW_B || d == NEW_C,
                None => false,
            };
            if !ok {
                let seen = match found {
                    None => format!("no \"{PATH}\""),
                    Some(d) if d == OLD => "the old state, though write_state had returned".into(),
                    Some(d) => interleave::fs::show_bytes(d),
                };
                ctx.end(format!("crash after step {}: read_all finds {seen}", point.after_steps));
                ctx.check(&SURVIVES_CRASH, false, || {
                    format!("a crash after step {} can leave the disk as [{disk}]", point.after_steps)
                });
                return;
            }
        }
    }
}

/// Witness: `read_all` read `w.json` while a `write_state` was between its first and last step.
fn read_during_write(t: &Trace) -> bool {
    let Some(reader) = t.thread_index("reader") else { return false };
    let steps: Vec<_> = t.steps().collect();
    let writers: Vec<usize> = (0..t.threads.len()).filter(|&i| t.threads[i].starts_with("writer")).collect();
    writers.iter().any(|&w| {
        let first = steps.iter().position(|s| s.thread == w);
        let last = steps.iter().rposition(|s| s.thread == w);
        match (first, last) {
            (Some(a), Some(b)) => steps[a..b]
                .iter()
                .any(|s| s.thread == reader && s.call.starts_with("read(") && !s.result.starts_with('E')),
            _ => false,
        }
    })
}

static WITNESSES: &[Witness] =
    &[Witness { name: "read_all read w.json while a write was in flight", reached: read_during_write }];

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "worker-state",
    summary: "worker state write (fs::write truncates in place) vs read_all, which deletes what fails to parse",
    source: Source { seed: "000_22be9e3ee358d176.txt", section: "Non-atomic worker state writes" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "fs::write truncates w.json in place; read_all deletes the empty file",
            body: &|ctx| run(ctx, Write::InPlace),
            witnesses: WITNESSES,
            params: &ONE_WRITER,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix",
            expect: Expect::Holds,
            summary: "write w.json.tmp, then rename over w.json (one writer per file)",
            body: &|ctx| run(ctx, Write::FixedTemp),
            witnesses: WITNESSES,
            params: &ONE_WRITER,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix-two-writers",
            expect: Expect::Counterexample,
            summary: "two updaters of one worker id share the fixed w.json.tmp name",
            body: &|ctx| run(ctx, Write::FixedTemp),
            witnesses: WITNESSES,
            params: &TWO_WRITERS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "unique O_EXCL temporary file, fsync, rename, fsync of the directory",
            body: &|ctx| run(ctx, Write::UniqueTemp),
            witnesses: WITNESSES,
            params: &ONE_WRITER,
            ..Variant::DEFAULTS
        },
    ],
};
