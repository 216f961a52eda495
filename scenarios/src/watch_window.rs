//! # watch-window — the user saves while the watch daemon writes back
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "Watch daemon write window"
//! (`agent-doc/src/submit.rs`, `agent-doc/src/watch.rs`).
//!
//! When an agent response is ready, `submit::run` takes the document's advisory lock
//! (`<file>.md.agent-doc.lock`), re-reads the document, merges the response into it and writes
//! it back by temporary file and rename. The audit lists this as mitigated with a low residual
//! risk: the rename makes the write atomic for readers, and the lock serializes `agent-doc`
//! processes, but "editors do not respect advisory locks", and "there is a micro-window between
//! re-read and write". The model makes the residual concrete.
//!
//! `editor` (a documented residual: counterexample), with 1 preemption:
//! 1. `watch` takes the lock and re-reads `doc.md` (`# doc\n`);
//! 2. the user saves edit `e1` from the editor: `fs::write` of `# doc\ne1\n` (the editor takes no
//!    lock, and none would stop it);
//! 3. `watch` writes its temporary file from what it read in step 1, plus the response, and
//!    renames it over the document: `e1` is gone.
//!
//! The window is the whole of the cycle's critical section after the re-read, not only the
//! rename; and an editor that saves in place (as here) also lets the re-read see a truncated
//! document.
//!
//! `agent-doc-run` is the layer the audit does claim: the other writer is `agent-doc run` (the
//! manual submit), which takes the same lock: the cycles serialize, the later one re-reads what
//! the earlier one wrote, and both responses land. It holds.
//!
//! Modeling choices: see `doc_cycle.rs`. The editor writes the whole buffer, as editors do; it
//! loaded the document before the response existed.

use super::doc_cycle;
use interleave::fs;
use interleave::process;
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// The user's save survives the daemon's write-back.
pub static SAVE_KEPT: Invariant = Invariant { name: "the daemon's write does not clobber the user's save" };
/// Every agent-doc write lands.
pub static BOTH_LAND: Invariant = Invariant { name: "both agent-doc writes land" };

const DOC: &str = "/project/doc.md";
const BEFORE: &str = "# doc\n";
const SAVED: &str = "# doc\ne1\n";

/// Who writes the document besides the daemon.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Other {
    /// The user's editor, which takes no lock.
    Editor,
    /// `agent-doc run`, which takes the document's lock.
    AgentDocRun,
}

fn run(ctx: &Ctx, other: Other) {
    let fsys = fs::Fs::current();
    fsys.setup_dir("/project");
    fsys.setup_file(DOC, BEFORE.as_bytes());
    fsys.setup_file(&doc_cycle::lock_path(DOC), b"");
    let mut watch = process::Builder::new("watch")
        .spawn(|| {
            let _ = doc_cycle::cycle(DOC, "r1\n");
        })
        .unwrap();
    let mut second = match other {
        Other::Editor => process::Builder::new("editor").spawn(|| {
            let _ = fs::write(DOC, SAVED); // the user's save: no advisory lock
        }),
        Other::AgentDocRun => process::Builder::new("run").spawn(|| {
            let _ = doc_cycle::cycle(DOC, "r2\n");
        }),
    }
    .unwrap();
    let _ = (watch.wait(), second.wait());

    let text =
        fsys.inspect(|st| st.contents(DOC)).map(|d| String::from_utf8_lossy(&d).into_owned()).unwrap_or_default();
    ctx.end(format!("{DOC} = {}", fs::show_bytes(text.as_bytes())));
    match other {
        Other::Editor => ctx.check(&SAVE_KEPT, text.contains("e1\n"), || {
            format!(
                "the user saved e1, and {DOC} is {}: the daemon wrote back what it had read before the save",
                fs::show_bytes(text.as_bytes())
            )
        }),
        Other::AgentDocRun => ctx.check(&BOTH_LAND, text.contains("r1\n") && text.contains("r2\n"), || {
            format!("{DOC} is {}: a response was lost", fs::show_bytes(text.as_bytes()))
        }),
    }
}

/// Witness: `run` asked for the lock while `watch` held it, or the reverse.
fn contended(t: &Trace) -> bool {
    doc_cycle::waited_for(t, DOC, "watch", "run") || doc_cycle::waited_for(t, DOC, "run", "watch")
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "watch-window",
    summary: "the watch daemon writes back a response while the user saves the document",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "Watch daemon write window" },
    variants: &[
        Variant {
            name: "editor",
            expect: Expect::Counterexample,
            summary: "the user's editor saves between the daemon's re-read and its rename (no lock stops it)",
            body: &|ctx| run(ctx, Other::Editor),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "agent-doc-run",
            expect: Expect::Holds,
            summary: "agent-doc run writes the same document; both take its advisory lock",
            body: &|ctx| run(ctx, Other::AgentDocRun),
            witnesses: &[Witness {
                name: "one agent-doc process asked for the lock while the other held it",
                reached: contended,
            }],
            ..Variant::DEFAULTS
        },
    ],
};
