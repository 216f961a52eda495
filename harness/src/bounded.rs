//! The step-level systematic search: iterative preemption bounding (as in CHESS), over the steps
//! of the models rather than the backend's internal scheduling points.
//!
//! An execution is a sequence of decisions "which enabled thread makes the next step". Within a
//! preemption bound `k`, the search enumerates every sequence with at most `k` preemptions
//! (switches away from a thread that could have continued) by depth-first backtracking over the
//! decisions of previous executions. Bound 0 first, then 1, then 2: so the first counterexample
//! found has the fewest preemptions any counterexample has. The same search, restricted to one
//! invariant and looking for the fewest steps at the lowest bound, is the minimizer.
//!
//! **Sleep sets** (Godefroid's partial-order reduction) keep the search from running executions
//! that only reorder independent steps (steps that share no model object, see
//! [`crate::trace::independent`]): once the subtree of thread `t` at a decision is explored, `t`
//! sleeps in the subtrees of its siblings until a step dependent on `t`'s pending step runs, and a
//! sleeping thread is never chosen. Without a bound, every class of executions up to reordering of
//! independent steps is still explored, at least once, so a verdict is as complete as without the
//! reduction. Within a preemption bound, an execution may be pruned whose explored equivalent needed
//! more preemptions than the bound allows; such a bug is found at a higher bound or in the final
//! unbounded search instead. The minimizer does not prune, so the fewest-preemption counterexample
//! it reports is exact. What this relies on: a step reads and changes only the objects it names,
//! and an `always` invariant reads one object (equivalent executions pass through the same states
//! of every object, not through the same combined states).

use crate::explore::{run_controlled, Driver};
use crate::scenario::Variant;
use crate::trace::independent;
use crate::world::{Controller, Decision, ExecOutcome};
use std::collections::BTreeSet;

/// Threads asleep at a decision, each with the object(s) of its pending step.
type Sleep = Vec<(usize, String)>;

/// Wakes the sleepers a step of `thread` on `object` is dependent with.
fn after_step(sleep: &mut Sleep, thread: usize, object: &str) {
    sleep.retain(|(t, o)| *t != thread && independent(o, object));
}

struct Node {
    enabled: Vec<usize>,
    /// Enabled threads held back for fairness (see `Decision::held_back`): never alternatives.
    held_back: Vec<usize>,
    prev: Option<usize>,
    chosen: usize,
    tried: Vec<usize>,
    /// Asleep when the search arrived here (empty without the reduction).
    sleep: Sleep,
    /// Children whose subtree is explored, with the object of the step that led there.
    done: Sleep,
    /// The object of the current child's step, once an execution has run it.
    object: Option<String>,
}

impl Node {
    fn preempts(&self, choice: usize) -> bool {
        matches!(self.prev, Some(p) if p != choice && self.enabled.contains(&p) && !self.held_back.contains(&p))
    }

    /// The threads the search may choose here.
    fn choosable(&self) -> Vec<usize> {
        let fair: Vec<usize> = self.enabled.iter().copied().filter(|t| !self.held_back.contains(t)).collect();
        if fair.is_empty() {
            self.enabled.clone()
        } else {
            fair
        }
    }

    fn asleep(&self, t: usize) -> bool {
        self.sleep.iter().chain(&self.done).any(|(s, _)| *s == t)
    }
}

/// Follows a prefix of decisions, then continues without preempting where it can, never choosing a
/// sleeping thread while another is possible (and never exceeding the bound).
struct SleepController {
    prefix: Vec<usize>,
    pos: usize,
    /// Asleep after the prefix's last decision, before its step ran.
    sleep: Sleep,
    bound: usize,
    preemptions: usize,
}

impl Controller for SleepController {
    fn choose(&mut self, enabled: &[usize], prev: Option<usize>) -> Result<usize, String> {
        self.choose_fair(enabled, prev, &[])
    }

    fn choose_fair(&mut self, enabled: &[usize], prev: Option<usize>, held_back: &[usize]) -> Result<usize, String> {
        let d = Decision { enabled: enabled.to_vec(), prev, chosen: 0, held_back: held_back.to_vec() };
        let choosable = d.choosable();
        let pick = if let Some(&t) = self.prefix.get(self.pos) {
            t
        } else {
            let awake = |t: &usize| !self.sleep.iter().any(|(s, _)| s == t);
            let prev_enabled = prev.filter(|p| choosable.contains(p));
            match prev_enabled {
                Some(p) if awake(&p) => p,
                // Switching away from an enabled thread is a preemption: only within the bound.
                Some(p) if self.preemptions >= self.bound => p,
                // After a yield, the next thread in turn (round robin), so spinning loops progress;
                // otherwise the lowest thread awake.
                _ => {
                    let after = prev.filter(|p| held_back.contains(p)).map_or(0, |p| p + 1);
                    let mut order: Vec<usize> = choosable.iter().copied().filter(|t| *t >= after).collect();
                    order.extend(choosable.iter().copied().filter(|t| *t < after));
                    order.iter().copied().find(awake).unwrap_or(order[0])
                }
            }
        };
        if (Decision { chosen: pick, ..d }).is_preemption() {
            self.preemptions += 1;
        }
        self.pos += 1;
        Ok(pick)
    }

    fn stepped(&mut self, thread: usize, object: &str) {
        if self.pos >= self.prefix.len() {
            after_step(&mut self.sleep, thread, object);
        }
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
    /// Executions cut short by the sleep sets: they reached a point where every thread they could
    /// take only reordered independent steps of an explored execution (counted in `executions`).
    pub sleep_blocked: usize,
    /// Spawned threads that made no step in any execution (`None` before the first).
    pub stepless: Option<BTreeSet<String>>,
}

/// Which counterexample a search keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The first found; the search stops there.
    First,
    /// The one with the fewest steps, of the invariant named (of any, with `None`); the search
    /// covers its whole bound.
    Shortest(Option<String>),
}

/// Depth-first search over step orders with at most `bound` preemptions.
struct Dfs {
    bound: usize,
    budget: usize,
    /// Whether to prune with sleep sets.
    por: bool,
    /// Which counterexample to keep.
    target: Target,
    stack: Vec<Node>,
    result: BoundedResult,
}

impl Dfs {
    fn absorb(&mut self, out: ExecOutcome, decisions: Vec<Decision>) {
        self.result.executions += 1;
        crate::explore::narrow_stepless(&mut self.result.stepless, &out);
        self.result.signatures.insert(out.trace.signature());
        self.result.witnesses.extend(out.witnesses.iter().cloned());
        // Decision i chose the thread that made step i.
        let objects: Vec<String> = out.trace.steps().map(|s| s.object.clone()).collect();
        let known = self.stack.len();
        for (i, d) in decisions.into_iter().enumerate() {
            if i < known {
                if self.stack[i].enabled != d.enabled || self.stack[i].chosen != d.chosen {
                    // Replaying the same prefix gave different choices: the scenario does something
                    // the scheduler does not control. Drop the rest of this branch.
                    self.result.nondeterministic += 1;
                    self.stack.truncate(i + 1);
                    break;
                }
                if i + 1 == known {
                    self.stack[i].object = objects.get(i).cloned();
                }
                continue;
            }
            let sleep = match self.stack.last() {
                Some(parent) if self.por => {
                    let mut s: Sleep = parent.sleep.iter().chain(&parent.done).cloned().collect();
                    if let Some(o) = &parent.object {
                        after_step(&mut s, parent.chosen, o);
                    }
                    s
                }
                _ => Vec::new(),
            };
            if sleep.iter().any(|(t, _)| *t == d.chosen) {
                // Every thread the execution could take here was asleep: what follows only
                // reorders independent steps of executions already explored.
                self.result.sleep_blocked += 1;
                break;
            }
            self.stack.push(Node {
                enabled: d.enabled,
                held_back: d.held_back,
                prev: d.prev,
                chosen: d.chosen,
                tried: vec![d.chosen],
                sleep,
                done: Vec::new(),
                object: objects.get(i).cloned(),
            });
        }
        if out.violation().is_some() {
            match &self.target {
                Target::First => {
                    // The first decisive execution; until there is one, the first that raced.
                    let kept_decisive = self.result.counterexample.as_ref().is_some_and(ExecOutcome::decisive);
                    if !kept_decisive && (self.result.counterexample.is_none() || out.decisive()) {
                        self.result.counterexample = Some(out);
                    }
                }
                Target::Shortest(name)
                    if match name {
                        None => out.decisive(),
                        Some(n) => out.violations.iter().any(|x| &x.name == n),
                    } =>
                {
                    let better = match &self.result.counterexample {
                        None => true,
                        Some(best) => out.trace.step_count() < best.trace.step_count(),
                    };
                    if better {
                        self.result.counterexample = Some(out);
                    }
                }
                Target::Shortest(_) => {}
            }
        }
    }

    /// Moves to the next unexplored schedule; `false` when there is none.
    fn backtrack(&mut self) -> bool {
        while let Some(i) = self.stack.len().checked_sub(1) {
            let used: usize = self.stack[..i].iter().filter(|n| n.preempts(n.chosen)).count();
            let por = self.por;
            let node = &mut self.stack[i];
            // The current child's subtree is explored: its thread sleeps in its siblings' subtrees.
            if por {
                if let Some(o) = node.object.take() {
                    node.done.push((node.chosen, o));
                }
            }
            let node = &self.stack[i];
            let choosable = node.choosable();
            let untried = || choosable.iter().copied().filter(|c| !node.tried.contains(c) && !node.asleep(*c));
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
            if self.target == Target::First && self.result.counterexample.as_ref().is_some_and(ExecOutcome::decisive) {
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
        let sleep = match self.stack.last() {
            Some(n) if self.por => n.sleep.iter().chain(&n.done).cloned().collect(),
            _ => Vec::new(),
        };
        Some(Box::new(SleepController { prefix, pos: 0, sleep, bound: self.bound, preemptions: 0 }))
    }
}

/// Explores every schedule of `variant` with at most `bound` preemptions (up to `budget`
/// executions), pruned by sleep sets when `por`, keeping the counterexample `target` says.
pub fn search(variant: &'static Variant, bound: usize, budget: usize, target: Target, por: bool) -> BoundedResult {
    let dfs = Dfs { bound, budget, por, target, stack: Vec::new(), result: BoundedResult::default() };
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
    let mut search = Resumable::new(variant, max_bound);
    search.run(budget);
    search.finish()
}

/// An iterative preemption-bounding search that runs in slices: the portfolio runs it a few
/// executions at a time between its other members, and it picks up where it stopped.
pub struct Resumable {
    variant: &'static Variant,
    max_bound: Option<usize>,
    bound: usize,
    /// The search of the current bound, between slices.
    dfs: Option<Dfs>,
    /// What the finished bounds found.
    total: BoundedResult,
    ended: bool,
}

impl Resumable {
    /// A search that has not run yet.
    pub fn new(variant: &'static Variant, max_bound: Option<usize>) -> Resumable {
        Resumable { variant, max_bound, bound: 0, dfs: None, total: BoundedResult::default(), ended: false }
    }

    /// Whether the search has ended: it found a counterexample, covered every schedule, or
    /// covered its largest bound.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Executions run so far.
    pub fn executions(&self) -> usize {
        self.total.executions + self.dfs.as_ref().map_or(0, |d| d.result.executions)
    }

    /// Whether a decisive counterexample was found (see [`ExecOutcome::decisive`]).
    pub fn found(&self) -> bool {
        self.total.counterexample.as_ref().is_some_and(ExecOutcome::decisive)
    }

    /// Runs at most `executions` more executions.
    pub fn run(&mut self, executions: usize) {
        let mut left = executions;
        while left > 0 && !self.ended {
            let mut dfs = self.dfs.take().unwrap_or_else(|| Dfs {
                bound: self.bound,
                budget: 0,
                por: true,
                target: Target::First,
                stack: Vec::new(),
                result: BoundedResult::default(),
            });
            let before = dfs.result.executions;
            dfs.budget = before + left;
            let mut dfs = run_controlled(self.variant, dfs);
            let spent = dfs.result.executions - before;
            left = left.saturating_sub(spent);
            let found = dfs.result.counterexample.as_ref().is_some_and(ExecOutcome::decisive);
            let raced = !found && dfs.result.counterexample.is_some();
            if !found && !dfs.result.complete {
                // Out of this slice's executions, in the middle of the bound.
                if spent > 0 {
                    self.dfs = Some(dfs);
                    continue;
                }
                self.dfs = Some(dfs);
                return;
            }
            let r = std::mem::take(&mut dfs.result);
            let counterexample = self.absorb(r);
            if found {
                self.total.counterexample = counterexample;
                self.ended = true;
                return;
            }
            if raced && self.total.counterexample.is_none() {
                // Only a data race so far: keep it, and go on looking for what it breaks.
                self.total.counterexample = counterexample;
            }
            // A complete search that never had a preemption to refuse has covered every schedule.
            let covered_all = !self.total.bound_refused;
            let at_max = self.max_bound.is_some_and(|m| self.bound >= m);
            if covered_all || at_max {
                self.total.complete = covered_all;
                self.ended = true;
                return;
            }
            self.bound = match self.max_bound {
                None if self.bound >= STEPPED_BOUNDS => usize::MAX,
                _ => self.bound + 1,
            };
        }
    }

    /// Adds a finished (or abandoned) bound's result to the total; returns its counterexample.
    fn absorb(&mut self, r: BoundedResult) -> Option<ExecOutcome> {
        self.total.executions += r.executions;
        self.total.witnesses.extend(r.witnesses);
        self.total.nondeterministic += r.nondeterministic;
        self.total.sleep_blocked += r.sleep_blocked;
        self.total.bound_refused = r.bound_refused;
        self.total.signatures.extend(r.signatures);
        if let Some(s) = r.stepless {
            self.total.stepless = Some(match self.total.stepless.take() {
                None => s,
                Some(before) => before.intersection(&s).cloned().collect(),
            });
        }
        r.counterexample
    }

    /// The result so far and the bound it reached (`usize::MAX` for unlimited).
    pub fn finish(mut self) -> (BoundedResult, usize) {
        if let Some(mut d) = self.dfs.take() {
            let r = std::mem::take(&mut d.result);
            self.absorb(r);
        }
        (self.total, self.bound)
    }
}

/// What the minimizer found.
#[derive(Clone, Debug, Default)]
pub struct Minimized {
    /// The violation with the fewest preemptions, then the fewest steps; `None` when the budget
    /// ran out before any was found.
    pub outcome: Option<ExecOutcome>,
    /// Executions spent.
    pub executions: usize,
    /// Whether `outcome` is known minimal: every bound below its own was explored completely and
    /// found nothing, and its own bound was explored completely. `false` when the budget ran out.
    pub minimal: bool,
    /// The bounds explored completely without a violation: `b` when no schedule with fewer than
    /// `b` preemptions violates what is targeted (0 when the budget ran out within bound 0).
    pub empty_below: usize,
}

/// Minimizes a counterexample known to need at most `max_preemptions`: the violation (of the
/// invariant `name`, or of any with `None`) with the fewest preemptions, then the fewest steps.
pub fn minimize(variant: &'static Variant, name: Option<&str>, max_preemptions: usize, budget: usize) -> Minimized {
    let mut executions = 0;
    for bound in 0..=max_preemptions {
        let r =
            search(variant, bound, budget.saturating_sub(executions), Target::Shortest(name.map(String::from)), false);
        executions += r.executions;
        if r.counterexample.is_some() {
            return Minimized { outcome: r.counterexample, executions, minimal: r.complete, empty_below: bound };
        }
        if !r.complete {
            return Minimized { outcome: None, executions, minimal: false, empty_below: bound };
        }
        if executions >= budget {
            return Minimized { outcome: None, executions, minimal: false, empty_below: bound + 1 };
        }
    }
    Minimized { outcome: None, executions, minimal: false, empty_below: max_preemptions + 1 }
}
