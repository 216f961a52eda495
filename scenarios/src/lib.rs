//! The catalog: one module per audited finding, each an [`interleave::Scenario`] with its
//! variants side by side. Adding a scenario touches its file and one line of [`CATALOG`].
//!
//! The catalog is a user of the `interleave` library like any other and uses nothing a user
//! cannot. The `interleave` executable compiles these sources in as a module (see its
//! `src/main.rs`), so no file here names `crate::`.

pub mod broadcast_close;
pub mod claim_toctou;
pub mod cron_drain;
pub mod doc_cycle;
pub mod drain_starvation;
pub mod file_semaphore;
pub mod fork_multiplexer;
pub mod lazy_parallel;
pub mod load_save_footgun;
pub mod nested_flock;
pub mod permission_state;
pub mod phase2_owner;
pub mod process_kill;
pub mod ref_watcher;
pub mod registry;
pub mod registry_rmw;
pub mod save_durability;
pub mod session_history;
pub mod snapshot_submit;
pub mod stale_lock;
pub mod terminal_gate;
pub mod tool_cache;
pub mod watch_window;
pub mod worker_state;

use interleave::Scenario;

/// Every scenario, in the order `interleave list` shows them.
pub static CATALOG: &[&Scenario] = &[
    &worker_state::SCENARIO,
    &snapshot_submit::SCENARIO,
    &process_kill::SCENARIO,
    &drain_starvation::SCENARIO,
    &stale_lock::SCENARIO,
    &save_durability::SCENARIO,
    &registry_rmw::SCENARIO,
    &nested_flock::SCENARIO,
    &load_save_footgun::SCENARIO,
    &claim_toctou::SCENARIO,
    &watch_window::SCENARIO,
    &lazy_parallel::SCENARIO,
    &session_history::SCENARIO,
    &permission_state::SCENARIO,
    &tool_cache::SCENARIO,
    &broadcast_close::SCENARIO,
    &phase2_owner::SCENARIO,
    &ref_watcher::SCENARIO,
    &file_semaphore::SCENARIO,
    &fork_multiplexer::SCENARIO,
    &terminal_gate::SCENARIO,
    &cron_drain::SCENARIO,
];
