//! Minimal scenarios, not only minimal schedules: the smallest parameters (writers, chunks,
//! submits…) at which a variant still breaks, found the way Lincheck minimizes its scenarios.
//!
//! proptest generates instances of the variant from its [`Param`](crate::Param) ranges; the harness
//! checks each one; when an instance fails, proptest shrinks its parameters (each towards its
//! minimum) while the harness re-finds the bug at every candidate. The smallest instance that still
//! fails is then checked once more with minimization on, so its trace has the fewest preemptions
//! and steps. The search is deterministic: proptest's generator is seeded from the check's seed.

use crate::check::{check_variant, CheckOptions, VariantReport};
use crate::error::{Error, ErrorKind};
use crate::scenario::{Expect, Scenario, Variant};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::RefCell;

/// What the search for the smallest failing instance found.
#[derive(Debug)]
pub struct Smallest {
    /// The smallest failing instance, or `None` when no generated instance failed.
    pub variant: Option<&'static Variant>,
    /// Its report, with the minimized trace and replay string.
    pub report: Option<VariantReport>,
    /// Instances checked (generated and shrinking candidates).
    pub instances_checked: usize,
    /// Instances that failed among them.
    pub instances_failed: usize,
}

/// Searches the parameter space of `variant` for its smallest failing instance: `cases` generated
/// instances, then proptest's shrinking from the first that fails. `opts` checks each instance
/// (minimization off); the smallest is checked again with `opts.minimize`.
pub fn smallest_failing(
    scenario: &'static Scenario,
    variant: &'static Variant,
    opts: &CheckOptions,
    cases: u32,
) -> Result<Smallest, Error> {
    if variant.params.is_empty() {
        return Err(Error::new(
            ErrorKind::BadOption,
            format!(
                "{}/{} takes no parameters, so it has no smaller instance to search for",
                scenario.name, variant.name
            ),
        ));
    }
    let config = Config {
        cases: cases.max(1),
        failure_persistence: None,
        max_shrink_iters: 1_000,
        max_global_rejects: 0,
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&opts.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let ranges: Vec<std::ops::RangeInclusive<usize>> = variant.params.iter().map(|p| p.min..=p.max).collect();
    let search = CheckOptions { minimize: false, ..opts.clone() };
    let checked = RefCell::new((0usize, 0usize));
    let failure: RefCell<Option<Error>> = RefCell::new(None);
    let instance = |values: &[usize]| {
        let set: Vec<(&str, usize)> = variant.params.iter().map(|p| p.name).zip(values.iter().copied()).collect();
        variant.instance(&set)
    };
    let result = runner.run(&ranges, |values| {
        if failure.borrow().is_some() {
            return Ok(());
        }
        let report = instance(&values).and_then(|v| check_variant(scenario, v, &search));
        match report {
            Err(e) => {
                *failure.borrow_mut() = Some(e);
                Ok(())
            }
            Ok(r) => {
                let mut c = checked.borrow_mut();
                c.0 += 1;
                if r.outcome == Expect::Counterexample {
                    c.1 += 1;
                    Err(TestCaseError::fail(r.invariant.unwrap_or_else(|| "counterexample".into())))
                } else {
                    Ok(())
                }
            }
        }
    });
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    let (instances_checked, instances_failed) = checked.into_inner();
    let smallest = match result {
        Err(TestError::Fail(_, values)) => Some(instance(&values)?),
        Ok(()) => None,
        Err(TestError::Abort(why)) => {
            return Err(Error::new(ErrorKind::Backend, format!("the parameter search stopped: {why}")));
        }
    };
    let report = match smallest {
        Some(v) => Some(check_variant(scenario, v, opts)?),
        None => None,
    };
    Ok(Smallest { variant: smallest, report, instances_checked, instances_failed })
}
