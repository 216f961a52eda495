//! Findings of our own, each a scenario checked with `interleave`.

pub mod session_history;
pub mod tool_cache;

/// Every finding of this crate, for the command line (`cargo run -- check`).
pub static FINDINGS: &[&interleave::Scenario] = &[&session_history::SCENARIO, &tool_cache::SCENARIO];
