//! The catalog: one module per audited finding, each a [`harness::Scenario`] with its variants
//! side by side. Adding a scenario touches its file and one line of [`CATALOG`].

pub mod drain_starvation;
pub mod family;
pub mod process_kill;
pub mod save_durability;
pub mod selftest;
pub mod snapshot_submit;
pub mod stale_lock;
pub mod worker_state;

use harness::Scenario;

/// Every scenario, in the order `interleave list` shows them.
pub static CATALOG: &[&Scenario] = &[
    &worker_state::SCENARIO,
    &snapshot_submit::SCENARIO,
    &process_kill::SCENARIO,
    &drain_starvation::SCENARIO,
    &stale_lock::SCENARIO,
    &save_durability::SCENARIO,
];

/// Scenarios for checking the harness itself, reachable by name from tests and the loom child
/// process but not listed or checked by default.
pub static INTERNAL: &[&Scenario] = &[&selftest::SELFTEST, &family::FAMILY];

/// Every scenario, listed or not: what a replay string or the loom child may name.
pub fn all() -> Vec<&'static Scenario> {
    CATALOG.iter().chain(INTERNAL.iter()).copied().collect()
}
