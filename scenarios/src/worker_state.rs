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
//! drawn at random, because randomness the scheduler does not control stays out of models;
//! `fs::read`'s `statx` for a size hint is not modeled, since its result only sizes a buffer.

use interleave::fs::state::{Errno, OpenFlags};
use interleave::fs::{Fs, FsProc};
use interleave::{Ctx, Expect, Invariant, Param, Scenario, Source, Trace, Variant, Witness};

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

/// `write_state` as each variant implements it.
fn write_state(p: &FsProc, how: Write, data: &[u8], writer: &str, chunks: usize) -> Result<(), Errno> {
    match how {
        Write::InPlace => p.write_file(PATH, data, chunks),
        Write::FixedTemp => {
            let tmp = format!("{PATH}.tmp");
            p.write_file(&tmp, data, chunks)?;
            p.rename(&tmp, PATH) // the audit's fix: rename is atomic
        }
        Write::UniqueTemp => {
            // A name no other write uses, created exclusively: no writer ever opens another's file.
            let tmp = format!("{DIR}/.w.json.{writer}");
            let fd = p.open(&tmp, OpenFlags::O_WRONLY.creat().excl())?;
            let written = p.write_chunks(fd, data, chunks).and_then(|()| p.fsync(fd));
            let closed = p.close(fd);
            written.and(closed)?;
            p.rename(&tmp, PATH)?;
            let dir = p.open(DIR, OpenFlags::O_RDONLY.directory())?;
            let synced = p.fsync(dir); // the rename is durable once the directory is synced
            let closed = p.close(dir);
            synced.and(closed)
        }
    }
}

/// `read_all`: list the directory, read every `*.json`; skip what fails to read, delete what
/// fails to parse.
fn read_all(ctx: &Ctx, p: &FsProc) -> usize {
    let Ok(names) = p.readdir(DIR) else { return 0 };
    let mut parsed = 0;
    for name in names.iter().filter(|n| n.ends_with(".json")) {
        let path = format!("{DIR}/{name}");
        let Ok(data) = p.read_file(&path) else {
            ctx.note("read failed → skip");
            continue;
        };
        match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(_) => parsed += 1,
            Err(e) => {
                ctx.note(format!("parse: {e} → delete"));
                let _ = p.unlink(&path);
            }
        }
    }
    parsed
}

/// The shared setup and threads: `writers` update worker `w`'s state while `read_all` runs.
fn run(ctx: &Ctx, how: Write) {
    let writers = ctx.param("writers");
    let chunks = ctx.param("chunks");
    let fs = Fs::current();
    fs.setup_dir(DIR);
    fs.setup_file(PATH, OLD);
    // Only the fixed variant claims crash consistency; the others are not checked for it.
    let crash_check = matches!(how, Write::UniqueTemp);
    if crash_check {
        fs.track_crashes();
    }

    // (b) is checked after every step: a writer process's open descriptor on an inode that has no
    // name left means read_all (the only code here that removes names) deleted a live file.
    let watch = fs.clone();
    ctx.always(&NO_DELETE_WHILE_WRITING, move || {
        watch.inspect(|st| {
            for pid in 1..=writers as u32 {
                for fd in 3..8 {
                    let fd = interleave::fs::state::Fd(fd);
                    if let Some(ino) = st.fd_ino(interleave::fs::state::ProcId(pid), fd) {
                        if st.links(ino) == 0 && !st.open_writers(ino).is_empty() {
                            return Err(format!(
                                "inode {ino} lost its last name while writer {pid} has it open as fd {fd}"
                            ));
                        }
                    }
                }
            }
            Ok(())
        })
    });

    let mut handles = Vec::new();
    for i in 0..writers {
        let name = if writers == 1 { "writer".to_string() } else { format!("writer{}", i + 1) };
        let p = fs.process(i as u32 + 1);
        let data = [NEW, NEW_B, NEW_C][i % 3];
        let me = name.clone();
        handles.push((
            name,
            ctx.spawn(&me.clone(), move || {
                let r = write_state(&p, how, data, &me, chunks);
                // The crash point right after write_state's last step (0 unless crashes are tracked).
                (r, p.crash_point_of_last_step())
            }),
        ));
    }
    let reader = fs.process(100);
    let c = ctx.clone();
    let r = ctx.spawn("reader", move || read_all(&c, &reader));

    let mut results: Vec<(String, Result<(), Errno>)> = Vec::new();
    // The crash point at which each write_state that returned Ok had returned.
    let mut returned_at = Vec::new();
    for (n, h) in handles {
        let (res, at) = h.join().unwrap();
        if res.is_ok() {
            returned_at.push(at);
        }
        results.push((n, res));
    }
    r.join().unwrap();

    let any_ok = results.iter().any(|(_, r)| r.is_ok());
    let returned: Vec<String> = results
        .iter()
        .map(|(n, r)| match r {
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
    ctx.end(format!("{shown}; {}", returned.join(", ")));
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
