//! # claim-toctou — two panes claim one document
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "claim validate-to-register TOCTOU gap"
//! (`agent-doc/src/claim.rs`).
//!
//! `agent-doc claim doc.md` binds the document to the tmux pane it runs in. It first runs
//! `validate_file_claim()` (take `RegistryLock`, remove entries for the file whose pane is dead,
//! release), then reads the document and takes its session ID from the frontmatter
//! (`frontmatter::ensure_session`, which makes a new UUID when there is none and writes it back
//! with `fs::write`), then `register_full()` takes the lock again and inserts
//! `session → pane` (removing other sessions on the same pane). Another claim can run in the gap.
//! The audit: "Residual risk: Negligible. `register_full()` deduplicates entries pointing to the
//! same pane, so the system self-heals. […] no data is lost."
//!
//! What the model finds with two panes, `%1` and `%2`, claiming one document:
//! - `claimed-doc` (the document already carries its session ID `s1`, and the registry still
//!   binds it to dead pane `%0`): **holds**, as the audit says, but not for the audit's reason.
//!   Both claims register under the same key, `s1`, so the later `insert` replaces the earlier;
//!   the registry ends with one entry for the document, on a live pane, whatever the
//!   interleaving. The per-pane de-duplication plays no part (the panes differ).
//! - `new-doc` (the document has no session ID yet, as on its first claim): **counterexample**,
//!   where the audit says the system self-heals and no data is lost. With 1 preemption:
//!   1. `claim %1` reads `doc.md` (no frontmatter) and makes session `u1`;
//!   2. `claim %2` reads `doc.md` (still no frontmatter) and makes session `u2`;
//!   3. each writes the document with its own frontmatter, and registers its own session: the
//!      registry ends with `u1 → %1` and `u2 → %2`, both for `doc.md`, while the document names
//!      only one of them. De-duplication is per pane, and `prune()` removes only dead panes, so
//!      nothing ever removes the orphan: the document stays bound to two live panes.
//!
//!   In other schedules `fs::write`'s truncation loses data outright: one claim reads the
//!   document while the other has truncated it, takes the empty file for a document without
//!   frontmatter and writes back a frontmatter with no body (the body is gone).
//! - `fixed`: one `with_registry` transaction around the whole claim (validate, the document's
//!   read and write, the registration), so the second claim reads the session ID the first one
//!   wrote: holds, on the `new-doc` setup.
//!
//! Modeling choices: see `registry.rs`. Two reductions keep the proof of `claimed-doc` within
//! the default budget (written when the model's file system was one object, which could not see
//! that these steps commute; with per-step footprints they may no longer be needed):
//! - nothing writes the document there, so its read (five steps per claim) commutes with every
//!   other step: each claim takes the session ID `s1` from the frontmatter without reading it;
//! - the model starts with `claim %1` in the gap, its `validate_file_claim` done (`s1 → %0`
//!   removed, the lock released). The claims are symmetric, so in any schedule one of the two
//!   validates first: call it `claim %1`. The only step `claim %2` can make during that
//!   validation is opening the lock file (it then waits in `flock`), which changes nothing the
//!   validation reads. So every schedule is, up to the panes' names, one the model explores.
//!
//! In `new-doc` and `fixed` both claims run whole and read and write the document. The claim's
//! other steps (the pane's tmux session check, scaffolding, the claims log, focusing the pane) touch neither file and are left out; so is the
//! unlocked "pane already claimed" check (`load-save-footgun/bypass-read` models it). The new
//! UUID is named after the claim (`u1`, `u2`): randomness the scheduler does not control stays
//! out of models.

use super::registry::{self, Code, Entry, Registry, RegistryLock};
use interleave::fs;
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};
use std::io;

/// The system self-heals: the document ends bound to one live pane, under its own session.
pub static SELF_HEALS: Invariant =
    Invariant { name: "the system self-heals: the document is bound to one pane, under its own session" };
/// No data is lost: the document keeps its body.
pub static NO_DATA_LOST: Invariant = Invariant { name: "no data is lost: the document keeps its body" };

const DOC: &str = "/project/doc.md";
/// The document's path as the registry records it.
const FILE: &str = "doc.md";
const BODY: &str = "# doc\n";
/// The panes tmux lists as alive (`%0` died with a restart).
const ALIVE: &[&str] = &["%1", "%2"];
const LOCKED: Code = Code { lock: true, held_flag: true };

/// The session ID in the document's frontmatter, if it has one.
fn session_of(content: &str) -> Option<&str> {
    content.strip_prefix("---\nagent_doc_session: ")?.split_once('\n').map(|(id, _)| id)
}

/// `frontmatter::ensure_session`: the document with a session ID, and that ID (`new` when it had
/// none).
fn ensure_session(content: &str, new: &str) -> (String, String) {
    match session_of(content) {
        Some(id) => (content.to_string(), id.to_string()),
        None => (format!("---\nagent_doc_session: {new}\n---\n{content}"), new.to_string()),
    }
}

/// `validate_file_claim`'s change: remove the file's entries whose pane is dead.
fn remove_stale(registry: &mut Registry) -> bool {
    let stale: Vec<String> = registry
        .iter()
        .filter(|(_, e)| e.file == FILE && !ALIVE.contains(&e.pane.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    for key in &stale {
        Ctx::current().note(format!("stale claim: {FILE} was bound to dead pane {}, replacing", registry[key].pane));
        registry.remove(key);
    }
    !stale.is_empty()
}

/// `validate_file_claim(file)`, as audited: its own lock, released before the registration.
fn validate_file_claim() {
    let Ok(_lock) = RegistryLock::acquire(LOCKED) else { return };
    let Ok(mut registry) = registry::load_registry() else { return };
    if remove_stale(&mut registry) {
        let _ = registry::save_registry(&registry);
    }
}

/// Reads the document and makes sure it has a session ID (writing it back if it had none).
fn document_session(new: &str) -> io::Result<String> {
    let content = fs::read_to_string(DOC)?;
    let (updated, session) = ensure_session(&content, new);
    if updated != content {
        fs::write(DOC, &updated)?;
        Ctx::current().note(format!("Generated session UUID: {session}"));
    }
    Ok(session)
}

/// `agent-doc claim doc.md` from `pane`; `new` is the UUID it would generate; `known` is the
/// session ID of a document that carries one (read without steps), and `in_gap` starts the
/// claim after its `validate_file_claim` (see the modeling choices).
fn claim(
    one_transaction: bool,
    pane: &'static str,
    new: &'static str,
    known: Option<&'static str>,
    in_gap: bool,
) -> io::Result<()> {
    if one_transaction {
        // The fix: validate, the document's session and the registration in one transaction.
        return registry::with_registry(LOCKED, |r| {
            remove_stale(r);
            let session = document_session(new)?;
            r.retain(|k, e| e.pane != pane || *k == session);
            r.insert(session, Entry::new(pane, FILE));
            Ok(())
        })?;
    }
    if !in_gap {
        validate_file_claim(); // first lock, released here: the gap
    }
    let session = match known {
        Some(id) => id.to_string(),
        None => document_session(new)?,
    };
    registry::register_full(LOCKED, &session, pane, FILE) // second lock
}

/// The document's setup.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Doc {
    /// It carries session `s1`, which the registry binds to dead pane `%0`.
    Claimed,
    /// No frontmatter yet; the registry has no entry for it.
    New,
}

fn run(ctx: &Ctx, doc: Doc, one_transaction: bool) {
    let (initial, content): (Registry, String) = match doc {
        Doc::Claimed => {
            ([("s1".into(), Entry::new("%0", FILE))].into(), format!("---\nagent_doc_session: s1\n---\n{BODY}"))
        }
        Doc::New => (Registry::new(), BODY.to_string()),
    };
    // In claimed-doc, claim %1 has validated already (see the modeling choices): the stale entry
    // is gone and the lock is free.
    let in_gap = doc == Doc::Claimed;
    let initial = if in_gap { Registry::new() } else { initial };
    registry::setup(&initial);
    if in_gap {
        ctx.setup("claim %1 has run validate_file_claim (removing s1 → %0) and released the lock");
    }
    fs::Fs::current().setup_file(DOC, content.as_bytes());
    ctx.setup(format!("tmux panes alive: {}", ALIVE.join(", ")));
    let known = (doc == Doc::Claimed).then_some("s1");
    let mut a = registry::agent_doc("claim %1", move || claim(one_transaction, "%1", "u1", known, in_gap));
    let mut b = registry::agent_doc("claim %2", move || claim(one_transaction, "%2", "u2", known, false));
    registry::succeeded(&mut a);
    registry::succeeded(&mut b);

    let end = registry::on_disk();
    let text = fs::Fs::current().inspect(|st| st.contents(DOC)).map(|d| String::from_utf8_lossy(&d).into_owned());
    let text = text.unwrap_or_default();
    ctx.end(format!(
        "{}: {}; {DOC} = {}",
        registry::REGISTRY,
        end.as_ref().map_or_else(|e| e.clone(), registry::show),
        fs::show_bytes(text.as_bytes())
    ));
    let end = end.unwrap_or_default();
    let bound: Vec<(&String, &Entry)> = end.iter().filter(|(_, e)| e.file == FILE).collect();
    let session = session_of(&text);
    ctx.check(
        &SELF_HEALS,
        matches!(bound.as_slice(), [(k, e)] if Some(k.as_str()) == session && ALIVE.contains(&e.pane.as_str())),
        || {
            let shown: Vec<String> = bound.iter().map(|(k, e)| format!("{k} → {}", e.pane)).collect();
            format!(
                "{FILE} is bound to [{}] and its frontmatter names {}: register_full de-duplicates per pane, so nothing \
                 removes an entry on another live pane",
                shown.join(", "),
                session.unwrap_or("no session")
            )
        },
    );
    ctx.check(&NO_DATA_LOST, text.ends_with(BODY), || {
        format!("{DOC} lost its body: it is {}", fs::show_bytes(text.as_bytes()))
    });
}

/// Witness: one claim took the lock between the other's validate and its registration.
fn claimed_in_the_gap(t: &Trace) -> bool {
    let gap = |a: &str, b: &str| {
        let held = registry::held_intervals(t, a);
        held.len() >= 2 && t.step_between(b, "flock(fd 3, LOCK_EX)", held[0].1, held[1].0)
    };
    gap("claim %1", "claim %2") || gap("claim %2", "claim %1")
}

/// Witness (`fixed`): one claim asked for the lock while the other held it.
fn contended(t: &Trace) -> bool {
    registry::waited_for(t, "claim %1", "claim %2") || registry::waited_for(t, "claim %2", "claim %1")
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "claim-toctou",
    summary: "two panes claim one document in the gap between validate_file_claim and register_full",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "claim validate-to-register TOCTOU gap" },
    variants: &[
        Variant {
            name: "claimed-doc",
            expect: Expect::Holds,
            summary: "the document already carries its session ID: both claims register under it",
            body: &|ctx| run(ctx, Doc::Claimed, false),
            witnesses: &[Witness {
                name: "one claim took the lock between the other's validate and its registration",
                reached: claimed_in_the_gap,
            }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "new-doc",
            expect: Expect::Counterexample,
            summary: "no session ID yet: each claim makes its own, and both register",
            body: &|ctx| run(ctx, Doc::New, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "one with_registry transaction around validate, the session ID and the registration",
            body: &|ctx| run(ctx, Doc::New, true),
            witnesses: &[Witness { name: "one claim asked for the lock while the other held it", reached: contended }],
            ..Variant::DEFAULTS
        },
    ],
};
