//! The `interleave` executable: [`interleave::cli::main`] over the catalog of audited findings.
//!
//! The catalog (`scenarios/`) is a user of this library like any other: its package depends on
//! `interleave`. A package cannot depend on one that depends on it, so the executable compiles the
//! catalog's sources in as a module instead of depending on its package; the code is the same.

#[path = "../scenarios/src/lib.rs"]
mod catalog;

fn main() -> std::process::ExitCode {
    interleave::cli::main(catalog::CATALOG)
}
