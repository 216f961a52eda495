//! The step-level systematic search: iterative preemption bounding (as in CHESS), over the steps
//! of the models rather than the backend's internal scheduling points.
//!
//! An execution is a sequence of decisions "which enabled thread makes the next step". Within a
//! preemption bound `k`, the search enumerates every sequence with at most `k` preemptions
//! (switches away from a thread that could have continued) by depth-first backtracking over the
//! decisions of previous executions. Bound 0 first, then 1, then 2: so the first counterexample
//! found has the fewest preemptions any counterexample has. The same search, restricted to one
//! invariant and looking for the fewest steps at the lowest bound, is the minimizer.

use crate::explore::{run_controlled, Driver, PrefixController};
use crate::scenario::Variant;
use crate::world::{Controller, Decision, ExecOutcome};
use std::collections::BTreeSet;

struct Node {
    enabled: Vec<usize>,
    prev: Option<usize>,
    chosen: usize,
    tried: Vec<usize>,
}

impl Node {
    fn preempts(&self, choice: usize) -> bool {
        matches!(self.prev, Some(p) if p != choice && self.enabled.contains(&p))
    }
}

/// What a bounded search found.
#[derive(Clone, Debug, Default)]
pub struct BoundedResult {
    /// Executions run.
    pub executions: usize,
    /// The counterexample kept: the first found, or with `target`, the one with fewest steps.
    pub counterexample: Option<ExecOutcome>,
    /// Witnesses reached by any execution.
    pub witnesses: BTreeSet<String>,
    /// Whether every schedule within the bound was explored.
    pub complete: bool,
    /// Executions whose decisions did not repeat on replay (a nondeterministic scenario).
    pub nondeterministic: usize,
    /// Whether the bound kept the search from some schedule (so a larger bound explores more).
    pub bound_refused: bool,
    /// Signatures of the executions (see [`crate::Trace::signature`]).
    pub signatures: BTreeSet<u64>,
}

/// Depth-first search over step orders with at most `bound` preemptions.
struct Dfs {
    bound: usize,
    budget: usize,
    /// Only count violations of this name; keep the shortest. `None`: stop at the first violation.
    target: Option<String>,
    stack: Vec<Node>,
    result: BoundedResult,
}

impl Dfs {
    fn absorb(&mut self, out: ExecOutcome, decisions: Vec<Decision>) {
        self.result.executions += 1;
        self.result.signatures.insert(out.trace.signature());
        self.result.witnesses.extend(out.witnesses.iter().cloned());
        for (i, d) in decisions.into_iter().enumerate() {
            if i < self.stack.len() {
                if self.stack[i].enabled != d.enabled || self.stack[i].chosen != d.chosen {
                    // Replaying the same prefix gave different choices: the scenario does something
                    // the scheduler does not control. Drop the rest of this branch.
                    self.result.nondeterministic += 1;
                    self.stack.truncate(i + 1);
                    break;
                }
                continue;
            }
            self.stack.push(Node { enabled: d.enabled, prev: d.prev, chosen: d.chosen, tried: vec![d.chosen] });
        }
        if let Some(v) = out.violation() {
            match &self.target {
                None => {
                    if self.result.counterexample.is_none() {
                        self.result.counterexample = Some(out);
                    }
                }
                Some(name) if &v.name == name => {
                    let better = match &self.result.counterexample {
                        None => true,
                        Some(best) => out.trace.step_count() < best.trace.step_count(),
                    };
                    if better {
                        self.result.counterexample = Some(out);
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// Moves to the next unexplored schedule; `false` when there is none.
    fn backtrack(&mut self) -> bool {
        while let Some(i) = self.stack.len().checked_sub(1) {
            let used: usize = self.stack[..i].iter().filter(|n| n.preempts(n.chosen)).count();
            let node = &self.stack[i];
            let untried = || node.enabled.iter().copied().filter(|c| !node.tried.contains(c));
            let alt = untried().find(|c| used + usize::from(node.preempts(*c)) <= self.bound);
            if alt.is_none() && untried().next().is_some() {
                self.result.bound_refused = true;
            }
            match alt {
                Some(c) => {
                    let node = &mut self.stack[i];
                    node.chosen = c;
                    node.tried.push(c);
                    return true;
                }
                None => {
                    self.stack.pop();
                }
            }
        }
        false
    }
}

impl Driver for Dfs {
    fn next(&mut self, last: Option<(ExecOutcome, Vec<Decision>)>) -> Option<Box<dyn Controller>> {
        if let Some((out, decisions)) = last {
            self.absorb(out, decisions);
            if self.target.is_none() && self.result.counterexample.is_some() {
                return None;
            }
            if !self.backtrack() {
                self.result.complete = true;
                return None;
            }
        }
        if self.result.executions >= self.budget {
            return None;
        }
        let prefix = self.stack.iter().map(|n| n.chosen).collect();
        Some(Box::new(PrefixController::new(prefix, false)))
    }
}

/// Explores every schedule of `variant` with at most `bound` preemptions (up to `budget`
/// executions). Without `target`, stops at the first violation; with it, keeps the violation of
/// that invariant with the fewest steps.
pub fn search(variant: &'static Variant, bound: usize, budget: usize, target: Option<String>) -> BoundedResult {
    let dfs = Dfs { bound, budget, target, stack: Vec::new(), result: BoundedResult::default() };
    run_controlled(variant, dfs).result
}

/// The preemption bounds tried one by one before an unlimited search covers what is left.
pub const STEPPED_BOUNDS: usize = 3;

/// Iterative preemption bounding: bound 0, 1, … up to `max_bound`, within `budget` executions
/// overall. Without a `max_bound`, bounds 0 to [`STEPPED_BOUNDS`] are tried in turn (so shallow
/// bugs are found with their fewest preemptions, cheaply), then one unlimited search covers the
/// whole space. Returns the result and the last bound searched (`usize::MAX` for unlimited).
/// `complete` means the whole space of schedules was covered, not just the last bound's.
pub fn iterative(variant: &'static Variant, max_bound: Option<usize>, budget: usize) -> (BoundedResult, usize) {
    let mut total = BoundedResult::default();
    let mut bound = 0;
    loop {
        let r = search(variant, bound, budget.saturating_sub(total.executions), None);
        total.executions += r.executions;
        total.witnesses.extend(r.witnesses);
        total.nondeterministic += r.nondeterministic;
        total.bound_refused = r.bound_refused;
        total.signatures.extend(r.signatures);
        if r.counterexample.is_some() {
            total.counterexample = r.counterexample;
            return (total, bound);
        }
        // A complete search that never had a preemption to refuse has covered every schedule.
        let covered_all = r.complete && !r.bound_refused;
        let at_max = max_bound.is_some_and(|m| bound >= m);
        if covered_all || at_max || !r.complete || total.executions >= budget {
            total.complete = covered_all;
            return (total, bound);
        }
        bound = match max_bound {
            None if bound >= STEPPED_BOUNDS => usize::MAX,
            _ => bound + 1,
        };
    }
}

/// Minimizes a counterexample of invariant `name` known to need at most `max_preemptions`: the
/// violation of that invariant with the fewest preemptions, then the fewest steps.
pub fn minimize(
    variant: &'static Variant,
    name: &str,
    max_preemptions: usize,
    budget: usize,
) -> (Option<ExecOutcome>, usize) {
    let mut executions = 0;
    for bound in 0..=max_preemptions {
        let r = search(variant, bound, budget.saturating_sub(executions), Some(name.to_string()));
        executions += r.executions;
        if r.counterexample.is_some() {
            return (r.counterexample, executions);
        }
        if executions >= budget {
            break;
        }
    }
    (None, executions)
}
