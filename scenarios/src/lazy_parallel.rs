//! # lazy-parallel — the three tested safety guarantees of parallel documents
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "Lazy parallelization (skill-level)"
//! (`.claude/skills/agent-doc/SKILL.md`, `agent-doc/src/submit.rs`).
//!
//! When the user submits several documents, the skill runs the second and later ones in
//! background subagents, each an `agent-doc` process running the locked cycle of `submit::run`
//! (take `<file>.agent-doc.lock`, re-read, write back by temporary file and rename, release). The
//! audit lists three "safety guarantees (tested)", each backed by a unit test in `submit.rs`;
//! each is a variant here, checked over every interleaving rather than the one a test's sleeps
//! make likely:
//! 1. `different-files` (`parallel_different_files_no_interference`): cycles on `a.md` and
//!    `b.md` run at once; each has its own lock and temporary file, and each document ends with
//!    its own response only.
//! 2. `same-file` (`same_file_serialized_by_flock`): two cycles on `a.md`; the lock serializes
//!    them, the later one re-reads what the earlier one wrote, and both writes land, in the order
//!    the lock was taken.
//! 3. `no-partial-read` (`flock_prevents_partial_read_during_write`): a reader takes the same
//!    lock and reads the document while a cycle writes it: it sees the document before the cycle
//!    or after it, never part of it.
//!
//! All three hold, as the audit says.
//!
//! Modeling choices: see `doc_cycle.rs`. The tests' sleeps (to make overlap likely) are left
//! out: every overlap is explored anyway. In `different-files` the two documents are in folders
//! of their own (`notes/a.md`, `plans/b.md`); each file-system step reports its footprint (the
//! names and inodes it touches), so the searches and loom see that the cycles' steps commute (no
//! step of one names a file of the other).

use super::doc_cycle;
use interleave::fs;
use interleave::process;
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// 1. Different files: no interference.
pub static NO_INTERFERENCE: Invariant =
    Invariant { name: "different files: each document ends with its own response, and only its own" };
/// 2. Same file: both writes land in order.
pub static IN_ORDER: Invariant = Invariant { name: "same file: both writes land, in the order the lock was taken" };
/// 3. No partial reads.
pub static NO_PARTIAL_READ: Invariant =
    Invariant { name: "no partial reads: the reader sees the document before or after the write" };

const A: &str = "/project/a.md";
/// The documents of guarantee 1, each in a folder of its own.
const NOTES: &str = "/project/notes";
const PLANS: &str = "/project/plans";
const NOTE: &str = "/project/notes/a.md";
const PLAN: &str = "/project/plans/b.md";

/// Which guarantee.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guarantee {
    DifferentFiles,
    SameFile,
    NoPartialRead,
}

fn contents(path: &str) -> String {
    fs::Fs::current()
        .inspect(|st| st.contents(path))
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default()
}

fn run(ctx: &Ctx, g: Guarantee) {
    let fsys = fs::Fs::current();
    fsys.setup_dir("/project");
    let docs: &[&str] = if g == Guarantee::DifferentFiles {
        fsys.setup_dir(NOTES);
        fsys.setup_dir(PLANS);
        &[NOTE, PLAN]
    } else {
        &[A]
    };
    for doc in docs {
        fsys.setup_file(doc, b"# doc\n");
        fsys.setup_file(&doc_cycle::lock_path(doc), b"");
    }
    let cycle = |name: &str, doc: &'static str, response: &'static str| {
        process::Builder::new(name)
            .spawn(move || {
                let _ = doc_cycle::cycle(doc, response);
            })
            .unwrap()
    };
    // What the reader of guarantee 3 read, reported through its exit status: 0 for the document
    // before the cycle, 1 after it, 2 for anything else.
    let reader = || {
        process::Builder::new("reader")
            .spawn(|| {
                let read = doc_cycle::acquire_doc_lock(A).and_then(|_lock| fs::read_to_string(A));
                let seen = read.unwrap_or_default();
                Ctx::current().note(format!("read {}", fs::show_bytes(seen.as_bytes())));
                match seen.as_str() {
                    "# doc\n" => {}
                    "# doc\nwriter\n" => process::exit(1),
                    _ => process::exit(2),
                }
            })
            .unwrap()
    };
    let mut children = match g {
        Guarantee::DifferentFiles => vec![cycle("cycle a.md", NOTE, "ra\n"), cycle("cycle b.md", PLAN, "rb\n")],
        Guarantee::SameFile => vec![cycle("cycle 1", A, "r1\n"), cycle("cycle 2", A, "r2\n")],
        Guarantee::NoPartialRead => vec![cycle("writer", A, "writer\n"), reader()],
    };
    let statuses: Vec<_> = children.iter_mut().map(|c| c.wait().ok()).collect();
    let shown: Vec<String> = docs.iter().map(|d| format!("{d} = {}", fs::show_bytes(contents(d).as_bytes()))).collect();
    ctx.end(shown.join("; "));
    match g {
        Guarantee::DifferentFiles => {
            let (a, b) = (contents(NOTE), contents(PLAN));
            ctx.check(&NO_INTERFERENCE, a == "# doc\nra\n" && b == "# doc\nrb\n", || {
                format!("a.md = {}, b.md = {}", fs::show_bytes(a.as_bytes()), fs::show_bytes(b.as_bytes()))
            })
        }
        Guarantee::SameFile => {
            let a = contents(A);
            ctx.check(&IN_ORDER, a == "# doc\nr1\nr2\n" || a == "# doc\nr2\nr1\n", || {
                format!("a.md = {}: a write was lost or interleaved", fs::show_bytes(a.as_bytes()))
            })
        }
        Guarantee::NoPartialRead => {
            let code = statuses[1].and_then(|s| s.code());
            ctx.check(&NO_PARTIAL_READ, matches!(code, Some(0 | 1)), || {
                "the reader saw a document that is neither the one before the write nor the one after".to_string()
            })
        }
    }
}

/// Witness (1): the two cycles overlapped.
fn overlapped(t: &Trace) -> bool {
    t.interleaved("cycle a.md", "cycle b.md")
}

/// Witness (2): one cycle asked for the lock while the other held it.
fn serialized(t: &Trace) -> bool {
    doc_cycle::waited_for(t, A, "cycle 1", "cycle 2") || doc_cycle::waited_for(t, A, "cycle 2", "cycle 1")
}

/// Witness (3): the reader asked for the lock while the writer held it.
fn reader_waited(t: &Trace) -> bool {
    doc_cycle::waited_for(t, A, "writer", "reader")
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "lazy-parallel",
    summary: "parallel agent-doc cycles: different files, the same file, a reader during a write",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "Lazy parallelization (skill-level)" },
    variants: &[
        Variant {
            name: "different-files",
            expect: Expect::Holds,
            summary: "cycles on a.md and b.md at once: independent flocks and atomic renames",
            body: &|ctx| run(ctx, Guarantee::DifferentFiles),
            witnesses: &[Witness { name: "the two cycles overlapped", reached: overlapped }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "same-file",
            expect: Expect::Holds,
            summary: "two cycles on a.md: flock serializes the read-modify-write",
            body: &|ctx| run(ctx, Guarantee::SameFile),
            witnesses: &[Witness { name: "one cycle asked for the lock while the other held it", reached: serialized }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "no-partial-read",
            expect: Expect::Holds,
            summary: "a reader takes a.md's lock and reads while a cycle writes it",
            body: &|ctx| run(ctx, Guarantee::NoPartialRead),
            witnesses: &[Witness {
                name: "the reader asked for the lock while the writer held it",
                reached: reader_waited,
            }],
            ..Variant::DEFAULTS
        },
    ],
};
