//! `interleave list`: every scenario, grouped by the audit it comes from (its seed file), with
//! its source section and each variant's expectation, so that the verdicts a finding's variants
//! must reach read at a glance; `--json` gives the same as data.

use std::process::ExitCode;

/// The audits in the order their first scenario appears in the catalog, each with its scenarios.
fn by_audit<'a>(catalog: &[&'a harness::Scenario]) -> Vec<(&'static str, Vec<&'a harness::Scenario>)> {
    let mut groups: Vec<(&'static str, Vec<&harness::Scenario>)> = Vec::new();
    for s in catalog {
        match groups.iter_mut().find(|(seed, _)| *seed == s.source.seed) {
            Some((_, list)) => list.push(s),
            None => groups.push((s.source.seed, vec![s])),
        }
    }
    groups
}

/// Prints the catalog: a heading per audit, then each of its scenarios with its section, a
/// one-line summary of its variants' expectations, and a row per variant (with its parameters).
pub fn run(catalog: &[&'static harness::Scenario], json: bool) -> ExitCode {
    if json {
        let list: Vec<serde_json::Value> = catalog
            .iter()
            .map(|s| {
                let variants: Vec<serde_json::Value> = s
                    .variants
                    .iter()
                    .map(|v| serde_json::json!({ "name": v.name, "expect": v.expect.to_string() }))
                    .collect();
                serde_json::json!({
                    "scenario": s.name,
                    "source": { "seed": s.source.seed, "section": s.source.section },
                    "summary": s.summary,
                    "variants": variants,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(list));
        return ExitCode::SUCCESS;
    }
    for (i, (seed, scenarios)) in by_audit(catalog).into_iter().enumerate() {
        if i > 0 {
            outln!();
        }
        outln!("audit {seed} ({} scenario{})", scenarios.len(), if scenarios.len() == 1 { "" } else { "s" });
        for s in scenarios {
            outln!("  {} — {}", s.name, s.summary);
            outln!("    section: \"{}\"", s.source.section);
            let glance: Vec<String> = s.variants.iter().map(|v| format!("{} {}", v.name, glyph(v.expect))).collect();
            outln!("    verdicts: {}", glance.join("  "));
            for v in s.variants {
                outln!("    {:<24} {:<15} {}", v.name, v.expect.to_string(), v.summary);
                for p in v.params {
                    outln!("    {:<24} {:<15} [{}={}] {}..={}: {}", "", "", p.name, p.default, p.min, p.max, p.summary);
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// A verdict at a glance: `✗` a counterexample must be found, `✓` the variant must hold.
fn glyph(e: harness::Expect) -> &'static str {
    match e {
        harness::Expect::Counterexample => "✗",
        harness::Expect::Holds => "✓",
    }
}
