//! Findings of our own, each a scenario checked with `interleave`. `worker_state` and `registry`
//! are ordinary Rust (seed 000's and seed 001's), using `std::fs`, or `interleave::fs` with the
//! `model` feature: the same source runs on a real directory and is checked under the model.

pub mod registry;
pub mod session_history;
pub mod tool_cache;
pub mod worker_state;

#[cfg(feature = "model")]
pub mod same_source;

/// Every finding of this crate, for the command line (`cargo run -- check`; with
/// `--features model` also the same-source scenarios).
pub static FINDINGS: &[&interleave::Scenario] = &[
    &session_history::SCENARIO,
    &tool_cache::SCENARIO,
    #[cfg(feature = "model")]
    &same_source::WORKER_STATE,
    #[cfg(feature = "model")]
    &same_source::REGISTRY,
];
