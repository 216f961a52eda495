//! # interleave
//!
//! Deterministic concurrency model checking for audited findings: write the scenario of a
//! finding once, against primitives shaped like `std`'s (threads, mutexes, files, processes), and
//! the harness interleaves its steps under shuttle's schedulers, its own step-level searches and
//! loom's exhaustive checker, checks the scenario's invariants, and when one breaks shows the
//! shortest readable interleaving with a replay string that reproduces it bit for bit.
//!
//! This crate is the one dependency a user needs. It re-exports the engine (`interleave-harness`:
//! scenarios, variants, strategies, reports, replay strings, fixtures), the primitives
//! ([`thread`], [`sync`]), the models of OS resources ([`fs`], [`process`], [`event_loop`],
//! [`go_map`]), and adds the test entry points ([`assert_expectations`], [`assert_snapshots!`]) and
//! the command line ([`cli::main`]).
//!
//! # Model your own finding
//!
//! **1. Add the dependency** (a path or git dependency), with a `loom` feature of your own that
//! forwards to ours:
//!
//! ```toml
//! [dev-dependencies]   # or [dependencies], for a crate of findings with its own command line
//! interleave = { git = "https://github.com/interleave-rs/interleave" }
//!
//! [features]
//! loom = ["interleave/loom"]
//! ```
//!
//! **2. Write the finding as a scenario.** One file: the finding in prose with its source, the
//! shared setup, the variants side by side (the code as audited, the fix), the invariants in the
//! audit's words, and a witness for every `holds` (a predicate over the trace showing that the racy
//! window was reached, so that a `holds` is not vacuous). Here is the whole of seed 004's first
//! finding, a Go slice appended outside its mutex, with the audit's `RWMutex` fix:
//!
//! ```rust
//! //! Seed 004, "1. Session History Corruption": `claudeSessionHistory` is read under
//! //! `processMutex`, then appended to after the mutex is released; two handlers can lose an ID.
//! use interleave::sync::{Arc, Mutex, RwLock, Shared};
//! use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Variant, Witness};
//!
//! static KEPT: Invariant = Invariant { name: "every session ID appended is kept" };
//!
//! struct Client {
//!     process_mutex: Mutex<()>,
//!     session_mutex: RwLock<()>, // the audit's fix: a RWMutex for the history alone
//!     history: Shared<Vec<&'static str>>,
//! }
//!
//! /// A websocket handler: read the sessions to try, later append the new session's ID.
//! fn handle(c: &Client, id: &'static str, fixed: bool) {
//!     let locked = (!fixed).then(|| c.process_mutex.lock().unwrap());
//!     let read_locked = fixed.then(|| c.session_mutex.read().unwrap()); // GetSessionHistory
//!     let _to_try = c.history.get();
//!     drop((locked, read_locked));
//!     let _w = fixed.then(|| c.session_mutex.write().unwrap()); // AddSessionToHistory
//!     let mut h = c.history.get(); // append(history, id): read the slice …
//!     h.push(id);
//!     c.history.set(h); // … and write it back: the audit's "RACE!"
//! }
//!
//! fn run(ctx: &Ctx, fixed: bool) {
//!     let c = Arc::new(Client {
//!         process_mutex: Mutex::named("processMutex", ()),
//!         session_mutex: RwLock::named("sessionMutex", ()),
//!         history: Shared::named("claudeSessionHistory", vec!["s1"]),
//!     });
//!     let spawn = |id| {
//!         let c = Arc::clone(&c);
//!         thread::Builder::new().name(format!("handler {id}")).spawn(move || handle(&c, id, fixed)).unwrap()
//!     };
//!     let (a, b) = (spawn("s2"), spawn("s3"));
//!     a.join().unwrap();
//!     b.join().unwrap();
//!     let h = c.history.inspect(|h| h.clone());
//!     ctx.check(&KEPT, h.len() == 3, || format!("history is {h:?}: an appended ID was lost"));
//! }
//!
//! pub static SCENARIO: Scenario = Scenario {
//!     name: "session-history",
//!     summary: "claudeSessionHistory appended outside processMutex",
//!     source: Source { seed: "004_d81902ba399f928a.txt", section: "1. Session History Corruption" },
//!     variants: &[
//!         Variant { name: "buggy", expect: Expect::Counterexample, body: &|c| run(c, false), ..Variant::DEFAULTS },
//!         Variant {
//!             name: "fixed",
//!             expect: Expect::Holds,
//!             body: &|c| run(c, true),
//!             witnesses: &[Witness {
//!                 name: "the handlers overlapped",
//!                 reached: |t| t.interleaved("handler s2", "handler s3"),
//!             }],
//!             ..Variant::DEFAULTS
//!         },
//!     ],
//! };
//!
//! fn main() {
//!     interleave::assert_expectations(&SCENARIO);
//! }
//! ```
//!
//! Shared state lives in the primitives: [`sync::Mutex`], [`sync::RwLock`], [`sync::Condvar`],
//! [`sync::atomic`], and [`sync::Shared`] for a plain variable (a Go struct field, a JavaScript
//! module variable); threads come from [`thread::spawn`] or [`thread::Builder`]. Each primitive finds
//! the execution from the thread, so no context is threaded through; each operation is one step,
//! named in the trace after the object (`Mutex::named("processMutex", …)`, or its creation site).
//!
//! **3. A test is one line.** In `tests/findings.rs`:
//!
//! ```rust,no_run
//! # mod session_history {
//! #     pub static SCENARIO: interleave::Scenario = interleave::Scenario {
//! #         name: "session-history", summary: "", source: interleave::Source { seed: "", section: "" }, variants: &[] };
//! # }
//! #[test]
//! fn session_history() {
//!     interleave::assert_expectations(&session_history::SCENARIO);
//!     interleave::assert_snapshots!(&session_history::SCENARIO);
//! }
//! ```
//!
//! `cargo test` checks every variant with the default strategy; `cargo test --features loom` also
//! runs loom's exhaustive exploration (in a child process that is your test binary). A variant that
//! misses its expectation fails the test with its minimized trace, its replay string and the command
//! that reproduces it. [`assert_snapshots!`] keeps every minimized counterexample as an insta snapshot
//! in your crate, `tests/snapshots/<scenario>__<variant>@<backend>.snap`; review changes with
//! `cargo insta review`, and with `CI=true` a changed snapshot fails.
//!
//! **4. Replay** a failure from a nightly, or from a bug report, bit for bit:
//!
//! ```sh
//! INTERLEAVE_REPLAY='iv1:session-history/buggy:1111222221:f9e2c1d2' cargo test session_history -- --nocapture
//! ```
//!
//! **5. Your own command line**: a binary (`src/main.rs`, or a `[[test]]` with `harness = false`) that
//! is `interleave::cli::main(&[&session_history::SCENARIO, …])` gives `cargo run -- list`, `check`,
//! `replay`, `render` (a counterexample as a self-contained HTML page, [`html`]), `nightly` (the
//! randomized run for CI, with fixtures and JUnit) and `bench` over your scenarios.
//!
//! # The step contract
//!
//! The harness interleaves *steps*: the operations of the primitives and models. What a thread does
//! between two steps runs without interruption. So:
//!
//! - **Share state only through primitives and models.** Two threads that share a plain `std` value
//!   make no steps on it, and the harness cannot interleave what it cannot see. A spawned thread that
//!   makes no step in any execution is reported (`stepless_threads`, and a `holds` is then not ok).
//! - **Read shared model state inside steps**, or in end checks after joining every other thread
//!   (`inspect`-style reads), or in `always` invariants. A read outside a step while other threads
//!   run happens at a moment no schedule controls: the execution stops with a *scenario error* that
//!   names the thread, the object and the last step, never with a verdict.
//! - **A step's `ready` and `act` make no steps themselves** (a scenario error too).
//! - **Threads need not be joined**: an execution ends when every thread has finished, as under
//!   shuttle and loom, and what a late thread does is in the trace and checked.
//! - **Data races are findings**: two accesses to a [`sync::Shared`] variable from different threads,
//!   at least one a write, not ordered by happens-before (locks, channels, joins, atomics), are a
//!   violation `data race on <name>` in the first execution where they occur. A variant declares an
//!   intended race with [`Racy`].
//!

extern crate self as interleave;

pub use harness::*;
pub use models::{event_loop, fs, go_map, process};

pub mod cli;
pub mod html;
pub mod internal;
pub mod testing;

pub use testing::{assert_expectations, snapshots, Snapshot};

/// What the exported macros use; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use insta;
}
