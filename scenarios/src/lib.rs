//! The catalog: one module per audited finding, each a [`harness::Scenario`] with its variants
//! side by side. Adding a scenario touches its file and one line of [`CATALOG`].

pub mod worker_state;

use harness::Scenario;

/// Every scenario, in the order `interleave list` shows them.
pub static CATALOG: &[&Scenario] = &[&worker_state::SCENARIO];
