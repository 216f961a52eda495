//! Every fixture in `tests/fixtures/` is a regression test: a counterexample kept from a bug
//! report or a nightly run. Its schedule must still violate the same invariant on its variant, and
//! the same schedule, followed as far as their code allows, must pass on every `holds` variant of
//! its scenario.

mod common;

use interleave::check::replay_lenient;
use interleave::fixture::Fixture;
use interleave::replay::ReplayString;
use interleave::Expect;

#[test]
fn every_fixture_still_fails_and_its_schedule_passes_on_the_fixed_variants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    let all = common::all();
    for path in paths {
        let f = Fixture::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let r = interleave::replay(&all, &f.replay).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let found = r.outcome.violation().map(|v| v.name.clone());
        assert_eq!(found.as_deref(), Some(f.invariant.as_str()), "{}:\n{}", path.display(), r.rendered);
        assert_eq!(r.rendered, f.trace, "{}: the trace changed", path.display());
        // And in a fresh process, byte for byte.
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_interleave")).arg("replay").arg(&path).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", path.display());
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            f.trace,
            "{}: a fresh process prints other bytes",
            path.display()
        );
        let order = ReplayString::parse(&f.replay).unwrap().order;
        let scenario = all.iter().find(|s| s.name == f.scenario).unwrap();
        for v in scenario.variants.iter().filter(|v| v.expect == Expect::Holds) {
            let out = replay_lenient(v, order.clone());
            assert!(
                out.violation().is_none(),
                "{} on {}/{}: {:?}",
                path.display(),
                scenario.name,
                v.name,
                out.violations
            );
        }
    }
}
