//! This crate's own `interleave` command line: `cargo run -- list`, `check`, `replay`, `nightly`,
//! `bench`, over this crate's findings.

fn main() -> std::process::ExitCode {
    interleave::cli::main(user_findings::FINDINGS)
}
