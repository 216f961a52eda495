//! `interleave render`: one execution again, from a replay string or a fixture file, drawn as a
//! self-contained HTML page (see [`crate::html`]); and the pages `check --html-dir` and `nightly
//! --html-dir` write, one per counterexample.

use super::bad_input;
use harness::atomic_file;
use harness::replay::ReplayString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Renders `schedule` (a replay string or a fixture's path) replayed against `all` into the page
/// `html`, written atomically. Exit status 0 when the page is written, whatever the execution
/// violated (the page says); 2 for bad input or a destination refused or not written.
pub fn run(all: &[&'static harness::Scenario], schedule: &str, html: &Path) -> ExitCode {
    // The destination first: a bad one is refused before the replay, like every writer's.
    if let Err(e) = atomic_file::check_destination(html) {
        return bad_input(format!("--html {}: {e}", html.display()));
    }
    let report = match super::replay::replay_input(all, schedule, true) {
        Ok(r) => r,
        Err(e) => return bad_input(e),
    };
    match atomic_file::write(html, page(&report).as_bytes()) {
        Ok(()) => {
            outln!("page: {}", html.display());
            ExitCode::SUCCESS
        }
        Err(e) => bad_input(format!("--html {}: {e}", html.display())),
    }
}

/// The page of a replayed execution, with the command that replays it under this command line's
/// name.
pub(crate) fn page(report: &harness::check::ReplayReport) -> String {
    let replay = ReplayString {
        scenario: report.scenario.clone(),
        variant: report.variant.clone(),
        order: report.outcome.trace.order(),
    }
    .encode();
    crate::html::render(report, &format!("{} replay {replay}", super::program()))
}

/// Checks, before a run, that `dir` can take the pages of `variants` (`--html-dir`): a directory
/// this process can write, each page's name absent or a regular file. Removes a killed writer's
/// temporary files there.
pub(crate) fn check_html_dir<'a>(
    dir: &Path,
    variants: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), harness::Error> {
    atomic_file::check_directory(dir)?;
    atomic_file::remove_stale_temps(dir);
    variants
        .into_iter()
        .try_for_each(|(s, v)| atomic_file::check_destination(&dir.join(crate::html::file_name_of(s, v))))
}

/// Replays the counterexample `replay` of `all` with descriptions and writes its page into `dir`.
/// Returns the page's path.
pub(crate) fn write_page(
    all: &[&'static harness::Scenario],
    replay: &str,
    dir: &Path,
) -> Result<PathBuf, harness::Error> {
    let report = harness::check::replay_described(all, replay)?;
    let path = dir.join(crate::html::file_name_of(&report.scenario, &report.variant));
    atomic_file::write(&path, page(&report).as_bytes())?;
    Ok(path)
}
