//! # load-save-footgun — a caller that bypasses `with_registry`
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "load()/save() API footgun"
//! (`agent-doc/src/sessions.rs`).
//!
//! `sessions::load()` and `sessions::save()` take no lock: a caller must hold `RegistryLock`
//! itself. The audit's mitigation makes them `pub(crate)`, so that code outside the crate must go
//! through `with_registry()`, which holds the lock from the load to the save. `pub(crate)`
//! narrows who can call them; it does not make a caller inside the crate take the lock, and the
//! lock protects only callers that all take it. The model shows both halves of the footgun.
//!
//! `bypass-write`, with 1 preemption: `sync` records that pane `%1` moved to window `@2` with a
//! bare `load()` … `save()`, while `claim` registers `s2` through `register_full` (which holds
//! `RegistryLock`):
//! 1. `sync` loads the registry (`s1 → %1`), no lock;
//! 2. `claim` takes the lock, loads, inserts `s2 → %2`, saves, releases;
//! 3. `sync` saves its copy, with `@2` but without `s2`: claim's registration is gone, though
//!    `claim` held the lock the whole time. (Or `sync`'s in-place save truncates the file while
//!    `claim` reads it, and `claim` fails to parse it.)
//!
//! `bypass-read` is a read that bypasses the lock, as `claim.rs` itself does (in the crate, so
//! `pub(crate)` allows it): before registering, `claim` checks with `sessions::load()
//! .unwrap_or_default()` whether another document already holds the pane, and provisions a new
//! pane if so ("never commandeer another document's pane"). `save()` is `fs::write`, which
//! truncates the file in place, with 1 preemption:
//! 1. `sync` takes the lock and starts its save: `open(O_TRUNC)` empties `sessions.json`;
//! 2. `claim` reads the registry: 0 bytes, a parse error, and `unwrap_or_default()` makes that
//!    an empty registry: no document holds pane `%1`;
//! 3. `sync` writes the registry back; `claim` registers `s2` on pane `%1`, and
//!    `register_full` removes `s1` from `%1` as "stale": a.md has lost its pane.
//!
//! `fixed` routes `sync` through `with_registry`, and `fixed-read` makes `claim`'s check and its
//! registration one `with_registry` transaction (the check under the lock): both hold. So does any reader once
//! `save()` writes a temporary file and renames it (what `tempfile` + `persist` does for the
//! snapshots), which the model does not need to show again (see `snapshot-submit`).
//!
//! Modeling choices: see `registry.rs`. In `fixed-read` the registration inside the transaction
//! is `register_full`'s insert (no other session is on the chosen pane there, so its
//! de-duplication has nothing to remove).

use super::registry::{self, Code, Entry, Registry};
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};
use std::io;

/// Every registry change of a caller that returned Ok survives.
pub static NO_CLOBBER: Invariant = Invariant { name: "no caller's registry change is clobbered" };
/// A claim never takes the pane of another document (claim.rs: "never commandeer").
pub static NO_COMMANDEER: Invariant = Invariant { name: "a claim never takes another document's pane" };

/// How `sync` and `claim` reach the registry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// `sync` writes with bare `load()` / `save()`.
    BypassWrite,
    /// `claim` checks the pane with a bare `load()`.
    BypassRead,
    /// `sync` writes through `with_registry`.
    Write,
    /// `claim` checks the pane and registers in one `with_registry` transaction.
    Read,
}

const LOCKED: Code = Code { lock: true, held_flag: true };

/// `agent-doc sync`: pane %1 moved to window @2.
fn sync(access: Access) -> io::Result<()> {
    let record = |r: &mut Registry| {
        if let Some(e) = r.get_mut("s1") {
            e.window = "@2".into();
        }
    };
    if access == Access::BypassWrite {
        let mut r = registry::load_registry()?; // sessions::load(): no lock
        record(&mut r);
        registry::save_registry(&r) // sessions::save(): no lock
    } else {
        registry::with_registry(LOCKED, record)
    }
}

/// `agent-doc claim b.md` from pane `pane`: unless another document holds the pane, register it
/// there; else provision a new pane (`%3`).
fn claim(access: Access, pane: &'static str) -> io::Result<()> {
    let occupied = |r: &Registry| r.iter().any(|(k, e)| e.pane == pane && k != "s2");
    let choose = |taken: bool| {
        if taken {
            Ctx::current().note(format!("[claim] pane {pane} is already claimed; provisioning a new pane"));
            "%3"
        } else {
            pane
        }
    };
    match access {
        Access::BypassRead => {
            let taken = occupied(&registry::load_registry().unwrap_or_default()); // sessions::load().unwrap_or_default()
            registry::register_full(LOCKED, "s2", choose(taken), "b.md")
        }
        // The fix: the check and the registration in one with_registry transaction.
        Access::Read => registry::with_registry(LOCKED, |r| {
            let pane = choose(occupied(r));
            r.insert("s2".into(), Entry::new(pane, "b.md"));
        }),
        _ => registry::register_full(LOCKED, "s2", pane, "b.md"),
    }
}

fn run(ctx: &Ctx, access: Access) {
    let initial: Registry = [("s1".into(), Entry::new("%1", "a.md"))].into();
    registry::setup(&initial);
    // In the write variants claim runs in a pane of its own; in the read variants it is started
    // from pane %1, which a.md holds.
    let pane = if matches!(access, Access::BypassRead | Access::Read) { "%1" } else { "%2" };
    let mut s = registry::agent_doc("sync", move || sync(access));
    let mut c = registry::agent_doc("claim", move || claim(access, pane));
    let (sync_ok, claim_ok) = (registry::succeeded(&mut s), registry::succeeded(&mut c));

    let end = registry::on_disk();
    ctx.end(format!("{}: {}", registry::REGISTRY, end.as_ref().map_or_else(|e| e.clone(), registry::show)));
    let end = end.unwrap_or_default();
    let mut lost = Vec::new();
    if sync_ok && end.get("s1").is_some_and(|e| e.window != "@2") {
        lost.push("sync's window @2 for s1".to_string());
    }
    if claim_ok && !end.contains_key("s2") {
        lost.push("claim's s2".to_string());
    }
    if !(sync_ok && claim_ok) {
        lost.push(format!("a caller failed ({})", if sync_ok { "claim" } else { "sync" }));
    }
    ctx.check(&NO_CLOBBER, lost.is_empty(), || format!("lost: {}", lost.join(", ")));
    ctx.check(&NO_COMMANDEER, end.get("s1").is_some_and(|e| e.pane == "%1"), || {
        format!("a.md (s1) no longer holds pane %1: claim registered b.md there ({})", registry::show(&end))
    });
}

/// Witness: one process asked for the lock while the other held it.
fn contended(t: &Trace) -> bool {
    registry::waited_for(t, "sync", "claim") || registry::waited_for(t, "claim", "sync")
}

/// Witness: claim checked the pane while sync held the lock, or the reverse.
const CONTENDED: Witness =
    Witness { name: "one process asked for the lock while the other held it", reached: contended };

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "load-save-footgun",
    summary: "sessions::load()/save() take no lock; a caller inside the crate can still bypass with_registry",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "load()/save() API footgun" },
    variants: &[
        Variant {
            name: "bypass-write",
            expect: Expect::Counterexample,
            summary: "sync writes with bare load()/save() while claim holds RegistryLock",
            body: &|ctx| run(ctx, Access::BypassWrite),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "sync writes through with_registry",
            body: &|ctx| run(ctx, Access::Write),
            witnesses: &[CONTENDED],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "bypass-read",
            expect: Expect::Counterexample,
            summary: "claim's pane check reads with bare load().unwrap_or_default() during sync's in-place save",
            body: &|ctx| run(ctx, Access::BypassRead),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed-read",
            expect: Expect::Holds,
            summary: "claim checks the pane and registers in one with_registry transaction",
            body: &|ctx| run(ctx, Access::Read),
            witnesses: &[CONTENDED],
            ..Variant::DEFAULTS
        },
    ],
};
