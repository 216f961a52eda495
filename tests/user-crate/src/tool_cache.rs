//! Seed 004, "4. Tool Use Cache Corruption": `toolUseCache` is written without `cacheMutex` on
//! one code path. Go's runtime sets a writing flag for each map write and throws "concurrent map
//! writes" when another access finds it set; the race detector reports the race first.
use interleave::go_map::GoMap;
use interleave::sync::{Arc, Mutex};
use interleave::{thread, Ctx, Expect, Scenario, Source, Variant, Witness};

/// A tool result arrives: the streaming path caches it; `locked` is whether it takes the mutex.
fn cache_tool_use(cache: &GoMap<&'static str, u32>, mutex: &Mutex<()>, id: &'static str, locked: bool) {
    let _g = locked.then(|| mutex.lock().unwrap());
    cache.insert(id, 1); // svc.toolUseCache[toolID] = ToolUseInfo{...}
}

fn run(_: &Ctx, locked: bool) {
    let cache = GoMap::new("toolUseCache");
    let mutex = Arc::new(Mutex::named("cacheMutex", ()));
    let writers: Vec<_> = ["toolu_1", "toolu_2"]
        .into_iter()
        .map(|id| {
            let (cache, mutex) = (cache.clone(), Arc::clone(&mutex));
            thread::Builder::new().name(id.into()).spawn(move || cache_tool_use(&cache, &mutex, id, locked)).unwrap()
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
}

pub static SCENARIO: Scenario = Scenario {
    name: "tool-cache",
    summary: "toolUseCache written without cacheMutex on one path",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "4. Tool Use Cache Corruption" },
    variants: &[
        Variant { name: "buggy", expect: Expect::Counterexample, body: &|c| run(c, false), ..Variant::DEFAULTS },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            body: &|c| run(c, true),
            witnesses: &[Witness { name: "both tool uses were cached", reached: |t| t.steps().count() >= 8 }],
            ..Variant::DEFAULTS
        },
    ],
};
