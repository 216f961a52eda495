//! The interleave engine: backends, worlds and steps, strategies, minimization, traces, replay
//! strings and reports.
//!
//! Layers point one way: this crate ← `models` (files, locks, processes) ← `scenarios` (the
//! catalog) ← the `interleave` command. This crate is the only one that names `shuttle` or `loom`,
//! and it knows nothing of files, locks or processes: models describe their steps to it through
//! [`Ctx::step`].

pub mod atomic_file;
mod backend;
pub mod bounded;
pub mod check;
mod current;
pub mod error;
pub mod explore;
pub mod fixture;
pub mod local_min;
#[cfg(feature = "loom")]
pub mod loom_run;
pub mod portfolio;
pub mod pos;
mod race;
pub mod replay;
pub mod sampler;
pub mod scenario;
pub mod shrink;
pub mod step_pct;
pub mod strategy;
pub mod surw;
pub mod sync;
pub mod thread;
pub mod trace;
pub mod world;

pub use backend::Backend;
pub use check::{check_variant, replay, select, CheckOptions, VariantReport};
pub use error::{Error, ErrorKind};
pub use scenario::{Body, Ctx, Expect, Invariant, JoinHandle, Param, Racy, Scenario, Source, Variant, Witness};
pub use strategy::Strategy;
pub use trace::{Effect, Row, Step, Trace};
pub use world::Cancelled;

/// The environment variable that makes a test binary a loom child: `<scenario>/<variant>|<bound
/// or unbounded>|<fingerprint>` (see the `loom_run` module, built with the `loom` feature).
pub const LOOM_CHILD_ENV: &str = "INTERLEAVE_LOOM_CHILD";

/// Backends compiled into this build, in the order checks use them.
pub fn backends() -> Vec<Backend> {
    vec![
        Backend::Shuttle,
        #[cfg(feature = "loom")]
        Backend::Loom,
    ]
}
