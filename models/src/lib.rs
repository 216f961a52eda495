//! Modeled OS and runtime resources: each operation is one atomic step of the execution, with the
//! semantics and error kinds of the real call, recorded in its words.
//!
//! Models never name `shuttle` or `loom`: they make steps through `harness::Ctx::step`, which
//! runs them under whichever backend explores the execution. Each model's semantics live in a
//! pure state machine (no threads, no I/O, no clock, no randomness), which the differential tests
//! in `tests/` compare against the real OS.

pub mod event_loop;
pub mod fs;
pub mod go_map;
pub mod process;
