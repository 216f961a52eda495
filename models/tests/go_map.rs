//! The Go map model reports what Go's runtime reports: "concurrent map writes" when two writes
//! overlap, "concurrent map read and map write" when a read overlaps a write, and nothing when a
//! mutex orders the accesses. Checked exhaustively at step granularity.

use harness::sync::{Arc, Mutex};
use harness::{check_variant, CheckOptions, Ctx, Expect, Scenario, Source, Strategy, Trace, Variant, Witness};
use interleave_models::go_map::GoMap;

fn writers(ctx: &Ctx, locked: bool, reader: bool) {
    let m: GoMap<&'static str, u32> = GoMap::new("toolUseCache");
    let mu = Arc::new(Mutex::named("cacheMutex", ()));
    let mut hs = Vec::new();
    for (name, key) in [("g1", "t1"), ("g2", "t2")] {
        let (m, mu) = (m.clone(), Arc::clone(&mu));
        hs.push(ctx.spawn(name, move || {
            let _g = locked.then(|| mu.lock().unwrap());
            if reader && name == "g2" {
                let _ = m.get(&"t1");
            } else {
                m.insert(key, 1);
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
}

fn both_wrote(t: &Trace) -> bool {
    t.steps().filter(|s| s.call.ends_with("(end)")).count() == 2
}

static SCENARIO: Scenario = Scenario {
    name: "go-map",
    summary: "Go map accessed by two goroutines",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "4. Tool Use Cache Corruption" },
    variants: &[
        Variant {
            name: "writes",
            expect: Expect::Counterexample,
            summary: "",
            body: &|c| writers(c, false, false),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "read-write",
            expect: Expect::Counterexample,
            summary: "",
            body: &|c| writers(c, false, true),
            witnesses: &[],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "locked",
            expect: Expect::Holds,
            summary: "",
            body: &|c| writers(c, true, false),
            witnesses: &[Witness { name: "both goroutines wrote", reached: both_wrote }],
            ..Variant::DEFAULTS
        },
    ],
};

#[test]
fn the_go_runtime_detection_is_modeled() {
    let opts = CheckOptions { strategy: Strategy::DEFAULT, ..CheckOptions::default() };
    for (variant, detail) in
        [("writes", "fatal error: concurrent map writes"), ("read-write", "concurrent map read and map write")]
    {
        let r = check_variant(&SCENARIO, SCENARIO.variant(variant).unwrap(), &opts).unwrap();
        assert!(r.ok, "{variant}: {r:#?}");
        assert_eq!(r.invariant.as_deref(), Some("no concurrent map writes"));
        assert!(r.trace.as_deref().unwrap().contains(detail), "{}", r.trace.unwrap());
        assert_eq!(r.preemptions, Some(1));
    }
    let r = check_variant(&SCENARIO, SCENARIO.variant("locked").unwrap(), &opts).unwrap();
    assert!(r.ok && r.exhaustive, "{r:#?}");
}
