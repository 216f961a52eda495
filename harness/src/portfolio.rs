//! The default strategy: a portfolio that runs several searches side by side, a slice of
//! executions each in turn, and stops as soon as one finds a counterexample or the systematic one
//! has covered every schedule.
//!
//! Why a portfolio: the benchmark shows that no single search wins on every shape of bug. The
//! step-level `surw` (see [`crate::surw`]), which weights its walk by each thread's remaining steps
//! on shared objects, finds most bugs in a few executions at any thread count and among long
//! threads; shuttle's PCT with depth 3 covers what it is slowest on (a condition-variable gate
//! among 100 threads: median 10 executions where `surw` needs hundreds and misses some seeds
//! within 2,000; broadcast-close); the step-level
//! bounded search finds every bug of a given preemption depth with certainty, and only it can prove
//! a `holds`, but it walks its space in a fixed order.
//!
//! The slices ([`Slices`]) are not the same for every member: `surw` gets 8 executions a round and
//! `pct` 4, doubling every third round, and the bounded search 1, doubling every round. Bugs are
//! found early or not at all by sampling (most of the benchmark's within a few dozen executions), so
//! the samplers get most of the first rounds: a bug that `surw` finds within 8 executions costs the
//! portfolio no more. A proof is the bounded search's whole space, and its slices soon outgrow the
//! samplers': a `holds` whose bounded search takes `N` executions costs the portfolio about 2.6 N
//! at N = 100 and 1.1 N at N = 10,000 (equal slices doubling together cost 3–4 N at any N).
//!
//! The members and the slices were chosen by simulation (`ci/portfolio_sim.py`, see the README) on
//! the per-seed results of `interleave bench --json` over the catalog and the family's 18 shapes
//! (2 to 100 threads, long threads, depth 1 to 5, one or several openers, locks and a
//! condition-variable gate): every ordered choice of the bounded search and one or two samplers,
//! each sampler's first slice 1, 2, 4 or 8 executions, doubling every one, two or three rounds.
//! Among those whose proofs cost at most 3 N at N = 100, this one had about the lowest total of
//! medians on two benchmark runs (5 seeds at budget 5,000, and 10 seeds at budget 2,000).

use crate::bounded::{BoundedResult, Resumable};
use crate::explore::{shuttle_free, FreeResult};
use crate::pos::PosSampler;
use crate::sampler::SampleRun;
use crate::scenario::Variant;
use crate::step_pct::StepPctSampler;
use crate::surw::SurwSampler;
use shuttle::scheduler::{PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId, UrwRandomScheduler};
use std::sync::{Arc, Mutex};

/// A member of the portfolio, in the order each round runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// shuttle's uniformly random scheduler.
    Random,
    /// shuttle's uniform random walk.
    Urw,
    /// shuttle's PCT with this depth.
    Pct(usize),
    /// The step-level iterative preemption bounding search.
    Bounded,
    /// The step-level partial order sampling (see [`crate::pos`]).
    Pos,
    /// The step-level selectively uniform random walk (see [`crate::surw`]).
    Surw,
    /// The step-level PCT with this depth (see [`crate::step_pct`]).
    StepPct(usize),
}

/// How many executions a member gets in each round: `first` in round 0, doubled every
/// `doubles_every` rounds (at most 2^20 times `first`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slices {
    /// The executions of its slice in round 0.
    pub first: usize,
    /// Rounds between doublings (at least 1).
    pub doubles_every: u32,
}

impl Slices {
    /// The executions of its slice in round `round`.
    pub fn size(&self, round: u32) -> usize {
        self.first.saturating_mul(1usize << (round / self.doubles_every.max(1)).min(20))
    }
}

/// The default portfolio's members, in the order each round runs them, with their slices: the
/// samplers' large and slowly growing, the bounded search's small and doubling every round (see
/// the module's documentation).
pub const MEMBERS: &[(Member, Slices)] = &[
    (Member::Surw, Slices { first: 8, doubles_every: 3 }),
    (Member::Pct(3), Slices { first: 4, doubles_every: 3 }),
    (Member::Bounded, Slices { first: 1, doubles_every: 1 }),
];

impl Member {
    /// Its label in reports.
    pub fn label(&self) -> String {
        match self {
            Member::Random => "random".into(),
            Member::Urw => "urw".into(),
            Member::Pct(d) => format!("pct(depth {d})"),
            Member::Bounded => "bounded".into(),
            Member::Pos => "pos".into(),
            Member::Surw => "surw".into(),
            Member::StepPct(d) => format!("step-pct(depth {d})"),
        }
    }
}

type Shared = Arc<Mutex<Box<dyn Scheduler + Send>>>;

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A slice of a member's executions: its scheduler, lent for `left` more executions.
struct Slice {
    inner: Shared,
    left: usize,
}

impl Scheduler for Slice {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        lock(&self.inner).new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        lock(&self.inner).next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        lock(&self.inner).next_u64()
    }
}

// One value per member and check: their sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum State {
    Shuttle { scheduler: Shared, result: FreeResult },
    Bounded(Resumable),
    Sampler(SampleRun),
}

/// What one member did.
#[allow(clippy::large_enum_variant)]
pub enum MemberResult {
    /// A shuttle member's executions.
    Shuttle(FreeResult),
    /// The bounded member's search, and the bound it reached.
    Bounded(BoundedResult, usize),
    /// A step-level sampler's executions.
    Sampler(FreeResult),
}

/// Runs the portfolio of `members` on `variant` within `budget` executions in all; each shuttle
/// member samples at most `iterations` executions. Returns each member's result, in order.
pub fn run(
    variant: &'static Variant,
    members: &[(Member, Slices)],
    seed: u64,
    budget: usize,
    iterations: usize,
) -> Vec<(Member, MemberResult)> {
    let n = iterations.max(1);
    let mut states: Vec<(Member, State, bool)> = members
        .iter()
        .map(|(m, _)| {
            let state = match *m {
                Member::Random => shuttle(Box::new(RandomScheduler::new_from_seed(seed, n))),
                Member::Urw => shuttle(Box::new(UrwRandomScheduler::new_from_seed(seed, n))),
                Member::Pct(d) => shuttle(Box::new(PctScheduler::new_from_seed(seed, d, n))),
                Member::Bounded => State::Bounded(Resumable::new(variant, None)),
                Member::Pos => State::Sampler(SampleRun::new(variant, Box::new(PosSampler), seed)),
                Member::Surw => State::Sampler(SampleRun::new(variant, Box::new(SurwSampler), seed)),
                Member::StepPct(depth) => {
                    State::Sampler(SampleRun::new(variant, Box::new(StepPctSampler { depth }), seed))
                }
            };
            (*m, state, false)
        })
        .collect();
    let mut spent = 0;
    let mut round = 0u32;
    'rounds: while spent < budget && states.iter().any(|(_, _, done)| !done) {
        let sizes: Vec<usize> = members.iter().map(|(_, slices)| slices.size(round)).collect();
        round += 1;
        // The round the budget cannot pay in full is the last: the systematic member goes first in
        // it, because only it can turn a `holds` into a proof, and the samplers have had their
        // chances in every round before.
        let mut order: Vec<usize> = (0..states.len()).filter(|&i| !states[i].2).collect();
        let asked = order.iter().fold(0usize, |sum, &i| sum.saturating_add(sizes[i]));
        if asked > budget - spent {
            order.sort_by_key(|&i| states[i].0 != Member::Bounded);
        }
        for i in order {
            let (_, state, done) = &mut states[i];
            let size = sizes[i].min(budget - spent);
            if size == 0 {
                break 'rounds;
            }
            match state {
                State::Shuttle { scheduler, result } => {
                    let r = shuttle_free(variant, Slice { inner: Arc::clone(scheduler), left: size }, size);
                    spent += r.executions;
                    // Fewer executions than lent: the scheduler has run all it may.
                    *done = r.executions < size && !r.decisive();
                    let found = r.decisive();
                    merge(result, r);
                    if found {
                        break 'rounds;
                    }
                }
                State::Sampler(run) => {
                    let before = run.executions();
                    run.run(size.min(n.saturating_sub(before)));
                    let ran = run.executions() - before;
                    spent += ran;
                    *done = ran < size && !run.found();
                    if run.found() {
                        break 'rounds;
                    }
                }
                State::Bounded(search) => {
                    let before = search.executions();
                    search.run(size);
                    spent += search.executions() - before;
                    *done = search.ended();
                    // Found a counterexample, or covered every schedule: nothing left to learn.
                    if search.ended() {
                        break 'rounds;
                    }
                }
            }
        }
    }
    states
        .into_iter()
        .map(|(m, state, _)| {
            let r = match state {
                State::Shuttle { scheduler, result } => {
                    // shuttle's random scheduler prints a "failing seed" when dropped in the middle
                    // of an execution, which is where a slice leaves it: forget it instead.
                    std::mem::forget(scheduler);
                    MemberResult::Shuttle(result)
                }
                State::Bounded(search) => {
                    let (b, bound) = search.finish();
                    MemberResult::Bounded(b, bound)
                }
                State::Sampler(run) => MemberResult::Sampler(run.finish()),
            };
            (m, r)
        })
        .collect()
}

fn shuttle(scheduler: Box<dyn Scheduler + Send>) -> State {
    State::Shuttle { scheduler: Arc::new(Mutex::new(scheduler)), result: FreeResult::default() }
}

fn merge(into: &mut FreeResult, r: FreeResult) {
    let (kept_decisive, new_decisive) = (into.decisive(), r.decisive());
    into.executions += r.executions;
    into.decisions += r.decisions;
    into.witnesses.extend(r.witnesses);
    into.signatures.extend(r.signatures);
    into.distinct = into.signatures.len();
    if let Some(s) = r.stepless {
        into.stepless = Some(match into.stepless.take() {
            None => s,
            Some(before) => before.intersection(&s).cloned().collect(),
        });
    }
    if !kept_decisive && r.counterexample.is_some() && (into.counterexample.is_none() || new_decisive) {
        into.counterexample = r.counterexample;
    }
}

#[cfg(test)]
mod tests {
    use super::Slices;

    #[test]
    fn a_slice_doubles_every_so_many_rounds_and_stops_growing_at_two_to_the_twentieth() {
        let sampler = Slices { first: 8, doubles_every: 3 };
        let sizes: Vec<usize> = (0..7).map(|r| sampler.size(r)).collect();
        assert_eq!(sizes, [8, 8, 8, 16, 16, 16, 32]);
        let bounded = Slices { first: 1, doubles_every: 1 };
        assert_eq!((0..4).map(|r| bounded.size(r)).collect::<Vec<_>>(), [1, 2, 4, 8]);
        assert_eq!(bounded.size(40), 1 << 20);
        // A zero `doubles_every` is read as 1, and a huge first slice saturates.
        assert_eq!(Slices { first: 1, doubles_every: 0 }.size(3), 8);
        assert_eq!(Slices { first: usize::MAX, doubles_every: 1 }.size(5), usize::MAX);
    }
}
