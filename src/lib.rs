//! # interleave
//!
//! Deterministic concurrency model checking for audited findings: write the scenario of a
//! finding once, against primitives shaped like `std`'s (threads, mutexes, files, processes), and
//! the harness interleaves its steps under shuttle's schedulers, its own step-level searches and
//! loom's exhaustive checker, checks the scenario's invariants, and when one breaks shows the
//! shortest readable interleaving with a replay string that reproduces it bit for bit.
//!
//! This crate is the one dependency a user needs. It re-exports the engine (`interleave-harness`:
//! scenarios, variants, strategies, reports, replay strings, fixtures), the models of OS resources
//! (`interleave-models`: [`fs`], [`process`], [`event_loop`], [`go_map`]), and adds the command
//! line ([`cli::main`]).

extern crate self as interleave;

pub use harness::*;
pub use models::{event_loop, fs, go_map, process};

pub mod cli;
pub mod internal;
pub mod testing;

pub use testing::{assert_expectations, snapshots, Snapshot};

/// What the exported macros use; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use insta;
}
