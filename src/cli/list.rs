//! `interleave list`: every scenario and variant with its source, expectation and parameters.

use std::io::Write as _;
use std::process::ExitCode;

/// Prints the catalog.
pub fn run(catalog: &[&'static harness::Scenario]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    for s in catalog {
        let _ = writeln!(out, "{} — {}", s.name, s.summary);
        let _ = writeln!(out, "  source: {}, \"{}\"", s.source.seed, s.source.section);
        for v in s.variants {
            let _ = writeln!(out, "  {:<24} {:<15} {}", v.name, v.expect.to_string(), v.summary);
            for p in v.params {
                let _ = writeln!(
                    out,
                    "  {:<24} {:<15} [{}={}] {}..={}: {}",
                    "", "", p.name, p.default, p.min, p.max, p.summary
                );
            }
        }
    }
    ExitCode::SUCCESS
}
