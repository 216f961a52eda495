//! Each finding is one line; its counterexamples are snapshots in `tests/snapshots/`.

use user_findings::{session_history, tool_cache};

#[test]
fn session_history() {
    interleave::assert_expectations(&session_history::SCENARIO);
    interleave::assert_snapshots!(&session_history::SCENARIO);
}

#[test]
fn tool_cache() {
    interleave::assert_expectations(&tool_cache::SCENARIO);
    interleave::assert_snapshots!(&tool_cache::SCENARIO);
}
