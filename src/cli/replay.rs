//! `interleave replay`: one execution again, from a replay string or a fixture file.

use super::bad_input;
use std::process::ExitCode;

/// Replays `schedule` (a replay string or a fixture's path) against `all`.
pub fn run(all: &[&'static harness::Scenario], schedule: &str) -> ExitCode {
    match replay_input(all, schedule) {
        Ok(r) => {
            out!("{}", r.rendered);
            if r.outcome.violation().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => bad_input(e),
    }
}

/// A replay string, or the path of a fixture file (anything ending in `.json` or naming a file).
fn replay_input(
    all: &[&'static harness::Scenario],
    input: &str,
) -> Result<harness::check::ReplayReport, harness::Error> {
    let path = std::path::Path::new(input);
    if input.ends_with(".json") || (!input.starts_with("iv") && path.is_file()) {
        let fixture = harness::fixture::Fixture::read(path)?;
        let r = harness::replay(all, &fixture.replay)?;
        let found = r.outcome.violation().map(|v| v.name.as_str());
        if found != Some(fixture.invariant.as_str()) {
            errln!(
                "note: the fixture recorded \"{}\"; this replay {}",
                fixture.invariant,
                match found {
                    Some(v) => format!("violates \"{v}\""),
                    None => "violates nothing".into(),
                }
            );
        }
        return Ok(r);
    }
    harness::replay(all, input)
}
