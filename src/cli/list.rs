//! `interleave list`: every scenario and variant with its source, expectation and parameters.

use std::process::ExitCode;

/// Prints the catalog.
pub fn run(catalog: &[&'static harness::Scenario]) -> ExitCode {
    for s in catalog {
        outln!("{} — {}", s.name, s.summary);
        outln!("  source: {}, \"{}\"", s.source.seed, s.source.section);
        for v in s.variants {
            outln!("  {:<24} {:<15} {}", v.name, v.expect.to_string(), v.summary);
            for p in v.params {
                outln!("  {:<24} {:<15} [{}={}] {}..={}: {}", "", "", p.name, p.default, p.min, p.max, p.summary);
            }
        }
    }
    ExitCode::SUCCESS
}
