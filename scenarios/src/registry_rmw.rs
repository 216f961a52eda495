//! # registry-rmw — concurrent read-modify-writes of `sessions.json`
//!
//! Source: seed `001_afe368d8d8e6a342.txt`, "Registry read-modify-write"
//! (`tmux-router/src/registry.rs`).
//!
//! `sessions.json` is shared by every `agent-doc` process: `claim` registers a document's pane
//! (`register_full`), `sync` records where a pane moved (`update_window_for_entry`, or any caller
//! of `with_registry`), `resync` removes entries of dead panes (`prune`). Each is a
//! read-modify-write of the whole file. The audit's mitigation (v0.2.1 / v0.9.5): every mutator
//! holds `RegistryLock` (an exclusive `flock` on `sessions.json.lock`) from the load to the save.
//!
//! The failing interleaving of the code before the lock (`buggy`), with 1 preemption:
//! 1. `claim` loads the registry (`s0 → %0`, `s1 → %1`);
//! 2. `resync` loads the same registry, drops `s0` (its pane `%0` is dead) and saves;
//! 3. `claim` inserts `s2 → %2` into the copy it loaded in step 1 and saves it over `resync`'s:
//!    the dead pane's entry is back, restored by a process that never meant to touch it. (Or the
//!    other way round, and claim's registration is gone; or a process reads the file while the
//!    other's in-place save has truncated it, and fails to parse it.)
//!
//! `fixed` holds `RegistryLock` across each of the three read-modify-writes: they serialize in
//! some order, and every change survives, whichever order it is.
//!
//! Modeling choices: see `registry.rs`. The mutators' changes touch different entries, so every
//! serial order ends in the same registry, and the invariant is that registry. By default two
//! processes run, `claim` (`register_full`, which is `with_registry` around an insert) and
//! `resync` (`prune`); `registry-rmw/fixed[mutators=3]` adds `sync` (a bare `with_registry`
//! caller), whose proof takes about 3,800 interleaving classes, over the default budget's
//! bounded share (the nightly explores it).

use super::registry::{self, Code, Entry, Registry};
use interleave::{Ctx, Expect, Invariant, Param, Scenario, Source, Trace, Variant, Witness};

/// No process clobbers another's change: the registry ends with all three changes.
pub static NO_CLOBBER: Invariant = Invariant { name: "no process clobbers another's registry change" };

/// How many mutators run: `claim` (`register_full`) and `resync` (`prune`), and with 3 also `sync`
/// (`with_registry`).
static MUTATORS: [Param; 1] = [Param {
    name: "mutators",
    default: 2,
    min: 2,
    max: 3,
    summary: "agent-doc processes rewriting the registry: claim, resync (and sync)",
}];

/// The panes tmux lists as alive (`%0` died).
const ALIVE: &[&str] = &["%1", "%2"];

fn run(ctx: &Ctx, code: Code) {
    let initial: Registry = [("s0".into(), Entry::new("%0", "old.md")), ("s1".into(), Entry::new("%1", "a.md"))].into();
    registry::setup(&initial);
    ctx.setup(format!("tmux panes alive: {}", ALIVE.join(", ")));
    let with_sync = ctx.param("mutators") == 3;
    let mut procs = vec![
        // `agent-doc claim b.md` in pane %2.
        registry::agent_doc("claim", move || registry::register_full(code, "s2", "%2", "b.md")),
        // `agent-doc resync`: drop the dead pane's entry.
        registry::agent_doc("resync", move || registry::prune(code, ALIVE).map(|_| ())),
    ];
    if with_sync {
        // `agent-doc sync`: pane %1 was moved to window @2.
        procs.push(registry::agent_doc("sync", move || {
            registry::with_registry(code, |r| {
                if let Some(e) = r.get_mut("s1") {
                    e.window = "@2".into();
                }
            })
        }));
    }
    for p in &mut procs {
        registry::succeeded(p);
    }

    let end = registry::on_disk();
    ctx.end(format!("{}: {}", registry::REGISTRY, end.as_ref().map_or_else(|e| e.clone(), registry::show)));
    let end = end.unwrap_or_default();
    let mut lost = Vec::new();
    if end.get("s2").is_none_or(|e| e.pane != "%2") {
        lost.push("claim's s2 → %2");
    }
    if with_sync && end.get("s1").is_none_or(|e| e.window != "@2") {
        lost.push("sync's window @2 for s1");
    }
    if end.contains_key("s0") {
        lost.push("resync's removal of dead pane %0's s0");
    }
    ctx.check(&NO_CLOBBER, lost.is_empty(), || format!("lost: {}", lost.join(", ")));
}

/// Witness: a mutator asked for the lock while another held it.
fn contended(t: &Trace) -> bool {
    let names = ["claim", "sync", "resync"];
    names.iter().any(|a| names.iter().any(|b| a != b && registry::waited_for(t, a, b)))
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "registry-rmw",
    summary: "claim, sync and resync each read, modify and rewrite sessions.json",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "Registry read-modify-write" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "no RegistryLock: a save from a stale load clobbers another process's change",
            body: &|ctx| run(ctx, Code { lock: false, held_flag: false }),
            params: &MUTATORS,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "RegistryLock held across register_full, with_registry and prune",
            body: &|ctx| run(ctx, Code { lock: true, held_flag: true }), // the fix: lock: true
            witnesses: &[Witness { name: "a mutator asked for the lock while another held it", reached: contended }],
            params: &MUTATORS,
            ..Variant::DEFAULTS
        },
    ],
};
