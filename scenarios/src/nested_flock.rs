//! # nested-flock — `prune()` inside `with_registry()`
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "Nested lock deadlock (flock non-reentrancy)"
//! (`tmux-router/src/registry.rs`).
//!
//! `flock` locks belong to open file descriptions, not to processes or threads: a second `open`
//! of the lock file is a second description, and its `flock(LOCK_EX)` waits for the first one,
//! even in the same thread. So a `prune()` called from inside `with_registry()` (which holds
//! `RegistryLock` across its load-modify-save) waits for a lock its own thread holds.
//!
//! The failing interleaving of the code before v0.9.6 (`buggy`, no held flag), which needs no
//! preemption:
//! 1. `agent-doc resync` enters `with_registry`: opens `sessions.json.lock` (fd 3), locks it,
//!    loads the registry and, inside the closure, calls `prune()`;
//! 2. `prune()` opens the lock file again (fd 4: a second description) and asks for
//!    `flock(fd 4, LOCK_EX)`, which waits for fd 3, held by the same process: it waits forever;
//! 3. every other `agent-doc` process (here `agent-doc claim` registering another document) then
//!    waits in its own `flock` for resync's fd 3: the whole tool hangs.
//!
//! The deadlock report lists what each thread waits on, down to whose descriptor holds the lock.
//!
//! `fixed` is the v0.9.6 mitigation: `RegistryLock::acquire` sets the thread-local
//! `REGISTRY_LOCK_HELD` and refuses a nested acquire, and `prune()` uses `acquire_or_skip()`, so
//! the nested `prune()` returns at once with a warning, and `claim` waits for resync's lock as
//! before. It holds. The nested prune is then a no-op: the dead pane's entry stays until the next
//! top-level `prune()`, which is what the audit says it does.
//!
//! `fixed-other-thread` shows where the fix stops: the flag is per thread, the lock per open
//! file description. A `prune()` that runs on another thread of the process holding the lock
//! (here the closure hands it to a helper thread and joins it) finds its own thread's flag clear,
//! opens the lock file again and waits, while the holder waits for the helper: a deadlock
//! again. The audited code has no such call; the variant marks the boundary of the guarantee
//! ("returns an error if already held" holds for the same thread only).
//!
//! Modeling choices: see `registry.rs`. What resync does inside the closure, beside the nested
//! `prune()`, is to record that pane `%1` moved to window `@2` (`update_window_for_entry`'s
//! change), so that both processes' changes can be checked at the end.

use super::registry::{self, Code, Entry, Registry};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// Every registry change survives.
pub static EVERY_CHANGE: Invariant = Invariant { name: "every registry change survives" };

/// The panes tmux lists as alive (`%0` died with a restart).
const ALIVE: &[&str] = &["%1", "%2"];

/// Where the nested `prune()` runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nested {
    /// In the closure, on the thread that holds the lock (the audited call).
    SameThread,
    /// On a helper thread of the same process, joined by the closure.
    HelperThread,
}

/// `agent-doc resync`: one registry transaction that records pane `%1`'s new window and prunes.
fn resync(code: Code, nested: Nested) -> std::io::Result<()> {
    let pruned = registry::with_registry(code, |registry| {
        if let Some(e) = registry.get_mut("s1") {
            e.window = "@2".into();
        }
        match nested {
            Nested::SameThread => registry::prune(code, ALIVE), // the nested call
            Nested::HelperThread => thread::Builder::new()
                .name("resync's prune".into())
                .spawn(move || registry::prune(code, ALIVE))
                .unwrap()
                .join()
                .unwrap(),
        }
    })?;
    pruned.map(|_| ())
}

fn run(ctx: &Ctx, code: Code, nested: Nested) {
    let initial: Registry = [("s0".into(), Entry::new("%0", "old.md")), ("s1".into(), Entry::new("%1", "a.md"))].into();
    registry::setup(&initial);
    ctx.setup(format!("tmux panes alive: {}", ALIVE.join(", ")));
    let mut resync = registry::agent_doc("resync", move || resync(code, nested));
    let mut claim = registry::agent_doc("claim", move || registry::register_full(code, "s2", "%2", "b.md"));
    registry::succeeded(&mut resync);
    registry::succeeded(&mut claim);

    let end = registry::on_disk();
    ctx.end(format!("{}: {}", registry::REGISTRY, end.as_ref().map_or_else(|e| e.clone(), registry::show)));
    let end = end.unwrap_or_default();
    let mut lost = Vec::new();
    if end.get("s1").is_none_or(|e| e.window != "@2") {
        lost.push("resync's window @2 for s1");
    }
    if end.get("s2").is_none_or(|e| e.pane != "%2") {
        lost.push("claim's s2 → %2");
    }
    ctx.check(&EVERY_CHANGE, lost.is_empty(), || format!("lost: {}", lost.join(", ")));
}

/// Witness: the nested `prune()` ran while its thread held the lock, and skipped.
fn nested_prune_skipped(t: &Trace) -> bool {
    t.rows.iter().any(|r| matches!(r, interleave::Row::Note { text, .. } if text.contains("prune skipped")))
}

/// Witness: claim asked for the lock while resync held it.
fn claim_waited(t: &Trace) -> bool {
    registry::waited_for(t, "resync", "claim")
}

const BEFORE: Code = Code { lock: true, held_flag: false };
const FIXED: Code = Code { lock: true, held_flag: true };

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "nested-flock",
    summary: "prune() inside with_registry() opens the lock file again: flock is not reentrant",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "Nested lock deadlock (flock non-reentrancy)" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "RegistryLock::acquire without the held flag: the nested flock waits for its own thread",
            body: &|ctx| run(ctx, BEFORE, Nested::SameThread),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "thread-local REGISTRY_LOCK_HELD; prune() uses acquire_or_skip() and skips",
            body: &|ctx| run(ctx, FIXED, Nested::SameThread),
            witnesses: &[
                Witness { name: "the nested prune() ran under the lock and skipped", reached: nested_prune_skipped },
                Witness { name: "claim asked for the lock while resync held it", reached: claim_waited },
            ],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed-other-thread",
            expect: Expect::Counterexample,
            summary: "the fix, with the nested prune() on a helper thread of the holding process",
            body: &|ctx| run(ctx, FIXED, Nested::HelperThread),
            ..Variant::DEFAULTS
        },
    ],
};
