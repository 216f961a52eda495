//! Step-level samplers: randomized searches over the harness's own steps, in controlled mode, that
//! know what each enabled thread's pending step touches (see [`Controller::choose_informed`]).
//!
//! A [`Sampler`] hands out one [`Controller`] per execution, seeded from the run's seed and the
//! execution's index, and learns from each finished execution (a [`Profile`] of which objects more
//! than one thread touches, and how many such steps each thread makes). [`SampleRun`] runs a
//! sampler for a number of executions, resumably (the portfolio lends it slices), and keeps what
//! it found as a [`FreeResult`], like a shuttle scheduler's run. The samplers themselves, one file
//! each: [`crate::pos`], [`crate::surw`], [`crate::step_pct`].
//!
//! Determinism: an execution's controller depends on the run's seed, the execution's index and
//! what the sampler learned from the executions before it, all of which the same seed repeats; so
//! the same seed gives the same schedules, in the same order. (A counterexample is replayed from its
//! step order, not from a seed.)

use crate::explore::{run_controlled, Driver, FreeResult};
use crate::scenario::Variant;
use crate::world::{Controller, Decision, ExecOutcome};
use std::collections::BTreeMap;

/// A small deterministic generator (splitmix64): the same seed gives the same numbers everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), without modulo bias worth speaking of (n is small).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// The seed of execution `index` of a run seeded with `seed`.
pub fn execution_seed(seed: u64, index: usize) -> u64 {
    Rng::new(seed ^ (index as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)).next_u64()
}

/// Implements [`Controller`] for a sampler type with an inherent method
/// `fn pick(&mut self, enabled: &[usize], held_back: &[usize], pending: &[&str]) -> Result<usize, String>`:
/// it asks for the pending steps' objects, and a plain `choose` (no objects, nothing held back)
/// picks with empty objects.
macro_rules! informed_controller {
    ($sampler:ty) => {
        impl $crate::world::Controller for $sampler {
            fn choose(&mut self, enabled: &[usize], _prev: Option<usize>) -> Result<usize, String> {
                let pending = vec![""; enabled.len()];
                self.pick(enabled, &[], &pending)
            }

            fn wants_pending(&self) -> bool {
                true
            }

            fn choose_informed(
                &mut self,
                enabled: &[usize],
                _prev: Option<usize>,
                held_back: &[usize],
                pending: &[&str],
            ) -> Result<usize, String> {
                self.pick(enabled, held_back, pending)
            }
        }
    };
}
pub(crate) use informed_controller;

/// The threads a sampler may choose: the enabled ones not held back for fairness (all of them when
/// every enabled one is), as positions into `enabled`.
pub fn choosable(enabled: &[usize], held_back: &[usize]) -> Vec<usize> {
    let fair: Vec<usize> = (0..enabled.len()).filter(|&i| !held_back.contains(&enabled[i])).collect();
    if fair.is_empty() {
        (0..enabled.len()).collect()
    } else {
        fair
    }
}

/// The top-level names of an object (`fs/ino:7+lock` → `fs`, `lock`): what a profile counts.
fn roots(object: &str) -> impl Iterator<Item = &str> {
    object.split('+').map(|p| p.split('/').next().unwrap_or(p))
}

/// What executions so far showed about a variant: which objects more than one thread touches (the
/// *interesting* ones, whose steps can race), and how many steps on them each thread makes.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Per object (top-level name): the threads seen touching it, up to two (enough to know).
    touched: BTreeMap<String, Vec<usize>>,
    /// Per thread: the most interesting steps it made in one execution.
    counts: Vec<usize>,
    /// Executions learned from.
    pub executions: usize,
}

impl Profile {
    /// Whether a step on `object` is interesting: it touches an object more than one thread
    /// touched. Before any execution, every step is.
    pub fn interesting(&self, object: &str) -> bool {
        self.executions == 0 || roots(object).any(|r| self.touched.get(r).is_some_and(|t| t.len() > 1))
    }

    /// The interesting steps thread `t` made in the execution where it made the most.
    pub fn count(&self, t: usize) -> usize {
        self.counts.get(t).copied().unwrap_or(0)
    }

    /// The most interesting steps of all threads together, in one execution (at least 1).
    pub fn total(&self) -> usize {
        self.counts.iter().sum::<usize>().max(1)
    }

    /// Learns from a finished execution's trace.
    pub fn learn(&mut self, out: &ExecOutcome) {
        for s in out.trace.steps() {
            for r in roots(&s.object) {
                let seen = self.touched.entry(r.to_string()).or_default();
                if seen.len() < 2 && !seen.contains(&s.thread) {
                    seen.push(s.thread);
                }
            }
        }
        let mut counts = vec![0usize; out.trace.threads.len()];
        for s in out.trace.steps() {
            if self.interesting_now(&s.object) {
                if let Some(c) = counts.get_mut(s.thread) {
                    *c += 1;
                }
            }
        }
        if self.counts.len() < counts.len() {
            self.counts.resize(counts.len(), 0);
        }
        for (c, n) in self.counts.iter_mut().zip(counts) {
            *c = (*c).max(n);
        }
        self.executions += 1;
    }

    fn interesting_now(&self, object: &str) -> bool {
        roots(object).any(|r| self.touched.get(r).is_some_and(|t| t.len() > 1))
    }
}

/// A randomized step-level search: one controller per execution.
pub trait Sampler: Send + 'static {
    /// Its name in reports.
    fn label(&self) -> String;

    /// The controller of the next execution, seeded with `seed`, knowing `profile`.
    fn controller(&mut self, seed: u64, profile: &Profile) -> Box<dyn Controller>;
}

/// A sampler's run over a variant, resumable: [`SampleRun::run`] adds executions.
pub struct SampleRun {
    variant: &'static Variant,
    state: Option<State>,
}

struct State {
    sampler: Box<dyn Sampler>,
    seed: u64,
    profile: Profile,
    result: FreeResult,
}

/// Lends a run's state to `run_controlled` for `left` more executions.
struct Slice {
    state: State,
    left: usize,
    started: bool,
}

impl Driver for Slice {
    fn next(&mut self, last: Option<(ExecOutcome, Vec<Decision>)>) -> Option<Box<dyn Controller>> {
        if let Some((out, _)) = last {
            self.state.profile.learn(&out);
            if self.state.result.absorb(out) {
                return None;
            }
        } else if self.started {
            return None;
        }
        self.started = true;
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let State { sampler, seed, profile, result } = &mut self.state;
        Some(sampler.controller(execution_seed(*seed, result.executions), profile))
    }
}

impl SampleRun {
    /// A run of `sampler` over `variant` with `seed`, before its first execution.
    pub fn new(variant: &'static Variant, sampler: Box<dyn Sampler>, seed: u64) -> SampleRun {
        let state = State { sampler, seed, profile: Profile::default(), result: FreeResult::default() };
        SampleRun { variant, state: Some(state) }
    }

    /// Runs up to `executions` more executions; stops early at a decisive counterexample.
    pub fn run(&mut self, executions: usize) {
        let Some(state) = self.state.take() else { return };
        if state.result.decisive() || executions == 0 {
            self.state = Some(state);
            return;
        }
        let slice = run_controlled(self.variant, Slice { state, left: executions, started: false });
        self.state = Some(slice.state);
    }

    /// Executions run so far.
    pub fn executions(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.result.executions)
    }

    /// Whether a decisive counterexample was found.
    pub fn found(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.result.decisive())
    }

    /// The sampler's label.
    pub fn label(&self) -> String {
        self.state.as_ref().map_or_else(String::new, |s| s.sampler.label())
    }

    /// What the run found.
    pub fn finish(mut self) -> FreeResult {
        self.state.take().map(|s| s.result).unwrap_or_default()
    }
}

/// Runs `sampler` over `variant` for at most `iterations` executions, stopping at the first
/// decisive counterexample.
pub fn sample(variant: &'static Variant, sampler: Box<dyn Sampler>, seed: u64, iterations: usize) -> FreeResult {
    let mut run = SampleRun::new(variant, sampler, seed);
    run.run(iterations);
    run.finish()
}
