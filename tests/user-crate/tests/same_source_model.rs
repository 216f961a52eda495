//! The same source as `tests/same_source_real.rs`, checked under the model: seed 000's
//! `write_state` loses the state file, the fixed one holds; seed 001's registry loses a pane
//! without `RegistryLock` and keeps both with it.
#![cfg(feature = "model")]

use user_findings::same_source::{REGISTRY, WORKER_STATE};

#[test]
fn worker_state_code() {
    interleave::assert_expectations(&WORKER_STATE);
    interleave::assert_snapshots!(&WORKER_STATE);
}

#[test]
fn registry_code() {
    interleave::assert_expectations(&REGISTRY);
    interleave::assert_snapshots!(&REGISTRY);
}
