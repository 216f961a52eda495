//! The same source, checked under the model: `worker_state` and `registry` are ordinary Rust
//! whose `fs` is `interleave::fs` with the `model` feature. These scenarios run that code, in
//! modeled processes, and state what must hold.
use crate::registry;
use crate::worker_state::{read_all, write_state, write_state_fixed, State};
use interleave::fs::Fs;
use interleave::process::Builder;
use interleave::{Ctx, Expect, Invariant, Scenario, Source, Variant, Witness};
use std::path::Path;

static SURVIVES: Invariant = Invariant { name: "state file survives read_all" };
static BOTH_KEPT: Invariant = Invariant { name: "every registered pane is kept" };

fn worker_state(ctx: &Ctx, fixed: bool) {
    let fs = Fs::current();
    fs.setup_dir("/state");
    fs.setup_file("/state/w.json", &State { id: "w".into(), v: 1 }.to_json());
    let new = State { id: "w".into(), v: 2 };
    let mut writer = Builder::new("writer")
        .spawn(move || {
            let dir = Path::new("/state");
            let _ = if fixed { write_state_fixed(dir, &new, "1") } else { write_state(dir, &new) };
        })
        .unwrap();
    let mut reader = Builder::new("reader").spawn(|| drop(read_all(Path::new("/state")))).unwrap();
    writer.wait().unwrap();
    reader.wait().unwrap();
    let left = fs.inspect(|st| st.contents("/state/w.json"));
    ctx.check(&SURVIVES, left.as_deref().is_some_and(|d| State::parse(d).is_ok()), || format!("w.json is {left:?}"));
}

fn registry(ctx: &Ctx, locked: bool) {
    Fs::current().setup_dir("/reg");
    let panes = ["%1", "%2"].map(|pane| {
        Builder::new(format!("agent-doc {pane}"))
            .spawn(move || {
                let unique = pane.trim_start_matches('%');
                registry::register(Path::new("/reg"), pane, unique, locked).unwrap();
            })
            .unwrap()
    });
    for mut p in panes {
        p.wait().unwrap();
    }
    let kept = Fs::current().inspect(|st| st.contents("/reg/sessions.json")).unwrap_or_default();
    let kept = String::from_utf8_lossy(&kept).into_owned();
    ctx.check(&BOTH_KEPT, kept.lines().count() == 2, || format!("sessions.json is {kept:?}"));
}

pub static WORKER_STATE: Scenario = Scenario {
    name: "worker-state-code",
    summary: "seed 000's write_state and read_all, as ordinary Rust",
    source: Source { seed: "000_22be9e3ee358d176.txt", section: "Non-atomic worker state writes" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            body: &|c| worker_state(c, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            body: &|c| worker_state(c, true),
            witnesses: &[Witness {
                name: "read_all ran while write_state did",
                reached: |t| t.interleaved("writer", "reader"),
            }],
            ..Variant::DEFAULTS
        },
    ],
};

pub static REGISTRY: Scenario = Scenario {
    name: "registry-code",
    summary: "seed 001's RegistryLock around register_full, as ordinary Rust",
    source: Source { seed: "001_afe368d8d8e6a342.txt", section: "Registry read-modify-write" },
    variants: &[
        Variant {
            name: "unlocked",
            expect: Expect::Counterexample,
            body: &|c| registry(c, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "locked",
            expect: Expect::Holds,
            body: &|c| registry(c, true),
            witnesses: &[Witness {
                name: "the two registrations overlapped",
                reached: |t| t.interleaved("agent-doc %1", "agent-doc %2"),
            }],
            ..Variant::DEFAULTS
        },
    ],
};
