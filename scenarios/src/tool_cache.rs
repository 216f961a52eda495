//! # tool-cache — `toolUseCache` written without `cacheMutex`
//!
//! Source: seed `004_d81902ba399f928a.txt`, "4. Tool Use Cache Corruption" (websocket.go:71-73).
//!
//! `ChatService` keeps `toolUseCache map[string]ToolUseInfo` beside `cacheMutex sync.Mutex`, and
//! "Map accessed without mutex protection in some code paths": one path takes the mutex, another
//! writes `svc.toolUseCache[toolID] = ToolUseInfo{…}` without it. A goroutine caches each
//! `tool_use` as Claude's stream announces it, and looks it up again when the matching
//! `tool_result` arrives, to show which tool the result belongs to.
//!
//! Go's runtime sets a "writing" flag in the map header for the duration of a write and throws
//! `fatal error: concurrent map writes` (or `concurrent map read and map write`) when another
//! access finds it set; the throw cannot be recovered, the server dies ("Server crashes"). The
//! failing interleaving of the code as audited (`buggy`), 1 preemption:
//! 1. the stream goroutine of `toolu_1`, on the locked path, begins its write (the flag is set);
//! 2. the stream goroutine of `toolu_2`, on the unlocked path, begins its write, finds the flag
//!    set, and the runtime throws `concurrent map writes`.
//!
//! The data-race detector reports `data race on toolUseCache` in the same execution, as Go's race
//! detector would, in every schedule (the runtime's check only fires when the writes overlap).
//!
//! `fixed` takes `cacheMutex` on every path, for the write and for the lookup: it holds, and no
//! race is reported. The audit names no code for its fix beyond "Fix concurrent map writes"; this
//! is the one the struct's own `cacheMutex` implies.
//!
//! Modeling choices: `interleave::go_map::GoMap` is the runtime's map (a write is two steps, flag
//! set, then store and flag cleared; the value is the tool's name, standing for `ToolUseInfo`).

use interleave::go_map::GoMap;
use interleave::sync::{Arc, Mutex};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Variant, Witness};

/// Every tool result finds the tool use it answers.
pub static FOUND: Invariant = Invariant { name: "every tool result finds its tool use" };

/// `ChatService`'s cache and its mutex.
struct ChatService {
    tool_use_cache: GoMap<&'static str, &'static str>,
    cache_mutex: Mutex<()>,
}

/// One stream goroutine: cache the `tool_use`, later look it up for its `tool_result`; `locked`
/// is whether its code path takes `cacheMutex`.
fn stream(svc: &ChatService, id: &'static str, tool: &'static str, locked: bool) -> Option<&'static str> {
    {
        let _g = locked.then(|| svc.cache_mutex.lock().unwrap());
        svc.tool_use_cache.insert(id, tool); // svc.toolUseCache[toolID] = ToolUseInfo{...}
    }
    // … the tool runs; its tool_result arrives:
    let _g = locked.then(|| svc.cache_mutex.lock().unwrap());
    svc.tool_use_cache.get(&id)
}

/// `toolu_1` comes through the locked path; `toolu_2` through the unlocked one (as audited) or
/// the locked one (fixed).
fn run(ctx: &Ctx, fixed: bool) {
    let svc = Arc::new(ChatService {
        tool_use_cache: GoMap::new("toolUseCache"),
        cache_mutex: Mutex::named("cacheMutex", ()),
    });
    let spawn = |id: &'static str, tool: &'static str, locked: bool| {
        let svc = Arc::clone(&svc);
        thread::Builder::new().name(format!("stream {id}")).spawn(move || stream(&svc, id, tool, locked)).unwrap()
    };
    let a = spawn("toolu_1", "Read", true);
    let b = spawn("toolu_2", "Bash", fixed); // fixed: this path takes cacheMutex too
    let found = [("toolu_1", a.join().unwrap()), ("toolu_2", b.join().unwrap())];
    let cache = svc.tool_use_cache.inspect();
    ctx.end(format!("toolUseCache = {cache:?}"));
    for (id, info) in found {
        ctx.check(&FOUND, info.is_some(), || format!("the tool_result of {id} found no tool use in the cache"));
    }
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "tool-cache",
    summary: "toolUseCache is written without cacheMutex on one path: Go throws \"concurrent map writes\"",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "4. Tool Use Cache Corruption" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "one stream path writes toolUseCache without cacheMutex",
            body: &|ctx| run(ctx, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "every path takes cacheMutex to write and to look up",
            body: &|ctx| run(ctx, true),
            witnesses: &[Witness {
                name: "the two stream goroutines overlapped",
                reached: |t| t.interleaved("stream toolu_1", "stream toolu_2"),
            }],
            ..Variant::DEFAULTS
        },
    ],
};
