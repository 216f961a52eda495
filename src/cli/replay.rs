//! `interleave replay`: one execution again, from a replay string or a fixture file.

use super::bad_input;
use std::process::ExitCode;

/// Replays `schedule` (a replay string or a fixture's path) against `all`.
pub fn run(all: &[&'static harness::Scenario], schedule: &str) -> ExitCode {
    match replay_input(all, schedule, false) {
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

/// Replays a replay string, or the fixture file at `input` (anything ending in `.json` or naming a
/// file); with `describe`, recording every model object's state after each step (for `render`).
pub(super) fn replay_input(
    all: &[&'static harness::Scenario],
    input: &str,
    describe: bool,
) -> Result<harness::check::ReplayReport, harness::Error> {
    let replay = |s: &str| {
        if describe {
            harness::check::replay_described(all, s)
        } else {
            harness::replay(all, s)
        }
    };
    let path = std::path::Path::new(input);
    if input.ends_with(".json") || (!input.starts_with("iv") && path.is_file()) {
        let fixture = harness::fixture::Fixture::read(path)?;
        let r = replay(&fixture.replay)?;
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
    replay(input)
}
