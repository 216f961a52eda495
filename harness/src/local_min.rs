//! The local minimizer: fewer preemptions by editing the failing schedule itself.
//!
//! The exhaustive minimizer ([`crate::bounded::minimize`]) enumerates every schedule at preemption
//! bound 0, then 1, …; on many threads bound 0 alone has about `n!` schedules, so its budget runs
//! out long before it reaches the bound the bug needs, and the schedule found is shown as it is.
//! This search starts from the failing schedule instead and removes preemptions from it one at a
//! time, keeping each edit that still fails: preemption removal, as in the trace simplification
//! of Jalbert and Sen ("A trace simplification technique for effective debugging of concurrent
//! programs", FSE 2010), which, like CHESS's trace simplification, merges the blocks of a thread
//! that a context switch split, as long as the replayed execution still fails.
//!
//! A schedule is a step order (see [`crate::replay::ReplayString`]), seen as *blocks*: maximal
//! runs of steps of one thread. At every preemption (a block of thread `p` ends while `p` could
//! have continued), the search tries, one execution each:
//! - **pull**: `p`'s next block moved up to right after the block the preemption ended (the two
//!   merge);
//! - **delay**: the block the preemption ended moved down to right before `p`'s next block (the
//!   two merge, later);
//! - **push**: the preempting block moved down to right after `p`'s next block (to the end, when
//!   `p` has none);
//! - **earlier**: the preempting block moved up to right after its own thread's previous block
//!   (the two merge);
//! - **sink**: the preempting block moved down to right before its own thread's next block (the
//!   two merge);
//! - **later**: the preemption one step later (the first step of `p`'s next block moved up).
//!
//! A candidate is an order to follow *leniently* ([`Follow`]): at each decision the first
//! remaining entry whose thread can step, so an edit that breaks a blocking dependency still runs
//! to an execution. A candidate is kept when its execution violates what the minimizer targets
//! (the rule of [`crate::bounded::Target::Shortest`]) and has fewer preemptions, or as many and
//! fewer steps, counted from its own decisions; the kept execution's actual order is the new
//! schedule. The search stops at a local minimum (a round of every move with no improvement) or
//! when its executions are spent.
//!
//! How it differs from the paper: Jalbert and Sen move one step at a time over a dependence
//! graph; here the moves are whole blocks (and one step), and the oracle is simply replaying,
//! which the harness does exactly. The result is a local minimum, never a proof: the exhaustive
//! minimizer, run after it with the rest of the budget, proves what it can.

use crate::explore::{run_controlled, Driver};
use crate::scenario::Variant;
use crate::world::{Controller, Decision, ExecOutcome, SCHEDULE_DOES_NOT_FIT};
use std::collections::{BTreeSet, VecDeque};

/// What the local search found.
#[derive(Clone, Debug, Default)]
pub struct LocalMin {
    /// The best execution: fewest preemptions, then fewest steps (the start when nothing better
    /// was found); `None` when the start does not violate what is targeted.
    pub outcome: Option<ExecOutcome>,
    /// Its preemptions, counted from its decisions.
    pub preemptions: usize,
    /// Executions spent (the start is not run again).
    pub executions: usize,
    /// Whether the search reached a local minimum: no move improves `outcome`. `false` when its
    /// executions ran out first.
    pub local_minimum: bool,
}

/// Follows an order leniently: at each decision, the first remaining entry whose thread is
/// enabled (taken off the order); once none is left for an enabled thread, the previous thread if
/// it can continue, else the next thread in turn after it (the lowest, when it did not yield).
pub struct Follow {
    /// Per thread, the positions of its remaining entries in the order.
    queues: Vec<VecDeque<usize>>,
}

impl Follow {
    /// A controller following `order`.
    pub fn new(order: &[usize]) -> Follow {
        let mut queues: Vec<VecDeque<usize>> = Vec::new();
        for (i, &t) in order.iter().enumerate() {
            if queues.len() <= t {
                queues.resize_with(t + 1, VecDeque::new);
            }
            queues[t].push_back(i);
        }
        Follow { queues }
    }
}

impl Controller for Follow {
    fn choose(&mut self, enabled: &[usize], prev: Option<usize>) -> Result<usize, String> {
        self.choose_fair(enabled, prev, &[])
    }

    fn choose_fair(&mut self, enabled: &[usize], prev: Option<usize>, held_back: &[usize]) -> Result<usize, String> {
        let first = enabled.iter().copied().filter_map(|t| Some((*self.queues.get(t)?.front()?, t))).min();
        if let Some((_, t)) = first {
            self.queues[t].pop_front();
            return Ok(t);
        }
        let d = Decision { enabled: enabled.to_vec(), prev, chosen: 0, held_back: held_back.to_vec() };
        let choosable = d.choosable();
        Ok(match prev {
            Some(p) if choosable.contains(&p) => p,
            // After a yield, the next thread in turn, so that a spinning loop lets others progress.
            _ => {
                let after = prev.filter(|p| held_back.contains(p)).map_or(0, |p| p + 1);
                choosable.iter().copied().find(|&t| t >= after).unwrap_or(choosable[0])
            }
        })
    }
}

/// A maximal run of steps of one thread in an order.
#[derive(Clone, Copy, Debug)]
struct Block {
    thread: usize,
    start: usize,
    len: usize,
}

fn blocks(order: &[usize]) -> Vec<Block> {
    let mut v: Vec<Block> = Vec::new();
    for (i, &t) in order.iter().enumerate() {
        match v.last_mut() {
            Some(b) if b.thread == t => b.len += 1,
            _ => v.push(Block { thread: t, start: i, len: 1 }),
        }
    }
    v
}

/// The kinds of move, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Pull,
    Delay,
    Push,
    Earlier,
    Sink,
    Later,
}

const KINDS: [Kind; 6] = [Kind::Pull, Kind::Delay, Kind::Push, Kind::Earlier, Kind::Sink, Kind::Later];

/// The order `kind` makes of `order` at the preemption that ends block `i` (`None` when the move
/// does not apply).
fn apply(order: &[usize], bs: &[Block], i: usize, kind: Kind) -> Option<Vec<usize>> {
    let span = |a: usize, b: usize| -> &[usize] {
        // Blocks a..b (exclusive), as one slice of the order.
        if a >= b {
            return &[];
        }
        &order[bs[a].start..bs[b - 1].start + bs[b - 1].len]
    };
    let n = bs.len();
    let p = bs[i].thread;
    let q = bs.get(i + 1)?.thread;
    let next_p = (i + 2..n).find(|&j| bs[j].thread == p);
    let out = match (kind, next_p) {
        (Kind::Pull, Some(j)) => [span(0, i + 1), span(j, j + 1), span(i + 1, j), span(j + 1, n)].concat(),
        (Kind::Delay, Some(j)) => [span(0, i), span(i + 1, j), span(i, i + 1), span(j, n)].concat(),
        (Kind::Push, Some(j)) => [span(0, i + 1), span(i + 2, j + 1), span(i + 1, i + 2), span(j + 1, n)].concat(),
        (Kind::Push, None) => [span(0, i + 1), span(i + 2, n), span(i + 1, i + 2)].concat(),
        (Kind::Later, Some(j)) if bs[j].len > 1 => {
            let s = bs[j].start;
            [span(0, i + 1), &order[s..s + 1], span(i + 1, j), &order[s + 1..]].concat()
        }
        (Kind::Earlier, _) => {
            let h = (0..i).rev().find(|&h| bs[h].thread == q)?;
            [span(0, h + 1), span(i + 1, i + 2), span(h + 1, i + 1), span(i + 2, n)].concat()
        }
        (Kind::Sink, _) => {
            let k = (i + 2..n).find(|&k| bs[k].thread == q)?;
            [span(0, i + 1), span(i + 2, k), span(i + 1, i + 2), span(k, n)].concat()
        }
        _ => return None,
    };
    Some(out)
}

/// FNV-1a over an order, so tried candidates are remembered in 8 bytes each.
fn fingerprint(order: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &t in order {
        for b in (t as u64).to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

struct Best {
    outcome: ExecOutcome,
    order: Vec<usize>,
    preemptions: usize,
    steps: usize,
    /// Per preemption, the index of the block it ends.
    ends: Vec<usize>,
    blocks: Vec<Block>,
}

impl Best {
    fn new(outcome: ExecOutcome, decisions: &[Decision]) -> Best {
        let order = outcome.trace.order();
        let bs = blocks(&order);
        // Decision k chose the thread of step k; a preemption at k ends the block before it.
        let mut ends = Vec::new();
        for (b, block) in bs.iter().enumerate().skip(1) {
            if decisions.get(block.start).is_some_and(Decision::is_preemption) {
                ends.push(b - 1);
            }
        }
        let preemptions = decisions.iter().filter(|d| d.is_preemption()).count();
        let steps = outcome.trace.step_count();
        Best { outcome, order, preemptions, steps, ends, blocks: bs }
    }

    /// Moves: every kind at every preemption, kind by kind.
    fn moves(&self) -> usize {
        KINDS.len() * self.ends.len()
    }

    fn candidate(&self, m: usize) -> Option<Vec<usize>> {
        let (kind, at) = (KINDS[m / self.ends.len()], self.ends[m % self.ends.len()]);
        apply(&self.order, &self.blocks, at, kind)
    }
}

struct Search {
    name: Option<String>,
    budget: usize,
    executions: usize,
    best: Best,
    /// The next move to try, and how many have failed since the last improvement.
    next: usize,
    failed: usize,
    tried: BTreeSet<u64>,
    local_minimum: bool,
}

impl Search {
    fn targeted(&self, out: &ExecOutcome) -> bool {
        targeted(self.name.as_deref(), out)
    }
}

fn targeted(name: Option<&str>, out: &ExecOutcome) -> bool {
    // A schedule the code did not follow is no counterexample, whatever it is named.
    if out.violations.iter().any(|v| v.name == SCHEDULE_DOES_NOT_FIT) {
        return false;
    }
    match name {
        None => out.decisive(),
        Some(n) => out.violations.iter().any(|v| v.name == n),
    }
}

impl Driver for Search {
    fn next(&mut self, last: Option<(ExecOutcome, Vec<Decision>)>) -> Option<Box<dyn Controller>> {
        if let Some((out, decisions)) = last {
            self.executions += 1;
            if self.targeted(&out) {
                let cand = Best::new(out, &decisions);
                if (cand.preemptions, cand.steps) < (self.best.preemptions, self.best.steps) {
                    self.best = cand;
                    // Go on from the same move of the new schedule.
                    self.failed = 0;
                    self.next = self.next.saturating_sub(1);
                }
            }
        }
        loop {
            let moves = self.best.moves();
            if self.failed >= moves {
                self.local_minimum = true;
                return None;
            }
            if self.executions >= self.budget {
                return None;
            }
            let m = self.next % moves;
            self.next = m + 1;
            self.failed += 1;
            let Some(order) = self.best.candidate(m) else { continue };
            if !self.tried.insert(fingerprint(&order)) {
                continue;
            }
            return Some(Box::new(Follow::new(&order)));
        }
    }
}

/// Searches from `start` (an execution and its decisions) for an execution that violates the
/// invariant `name` (any decisive violation with `None`) with fewer preemptions, then fewer steps,
/// within `budget` executions.
pub fn minimize(
    variant: &'static Variant,
    name: Option<&str>,
    start: &ExecOutcome,
    decisions: &[Decision],
    budget: usize,
) -> LocalMin {
    if !targeted(name, start) {
        return LocalMin::default();
    }
    let best = Best::new(start.clone(), decisions);
    let mut tried = BTreeSet::new();
    tried.insert(fingerprint(&best.order));
    let search = Search {
        name: name.map(String::from),
        budget,
        executions: 0,
        best,
        next: 0,
        failed: 0,
        tried,
        local_minimum: false,
    };
    // `run_controlled` asks the driver first with `None`; a driver with nothing to try stops there.
    let s = run_controlled(variant, search);
    LocalMin {
        preemptions: s.best.preemptions,
        outcome: Some(s.best.outcome),
        executions: s.executions,
        local_minimum: s.local_minimum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(order: &[usize], i: usize, kind: Kind) -> Option<Vec<usize>> {
        apply(order, &blocks(order), i, kind)
    }

    #[test]
    fn a_schedule_that_does_not_fit_is_never_a_target() {
        use crate::world::{Violation, ViolationKind};
        let mut out = ExecOutcome::default();
        out.violations.push(Violation {
            kind: ViolationKind::Panic,
            name: SCHEDULE_DOES_NOT_FIT.into(),
            detail: "step 1 of the schedule is thread 2".into(),
            at_step: 0,
        });
        assert!(out.decisive(), "it is decisive as a violation, so the rule must exclude it by name");
        assert!(!targeted(None, &out));
        assert!(!targeted(Some(SCHEDULE_DOES_NOT_FIT), &out));
        out.violations[0] =
            Violation { name: "deadlock".into(), kind: ViolationKind::Deadlock, ..out.violations[0].clone() };
        assert!(targeted(None, &out));
    }

    #[test]
    fn moves_rearrange_blocks() {
        // Blocks: 0 0 | 1 | 0 | 2 2 | 0 0 | 1.
        let order = [0, 0, 1, 0, 2, 2, 0, 0, 1];
        // At the preemption that ends block 0 (thread 0, preempted by thread 1):
        assert_eq!(moved(&order, 0, Kind::Pull), Some(vec![0, 0, 0, 1, 2, 2, 0, 0, 1]));
        assert_eq!(moved(&order, 0, Kind::Push), Some(vec![0, 0, 0, 1, 2, 2, 0, 0, 1]));
        assert_eq!(moved(&order, 0, Kind::Delay), Some(vec![1, 0, 0, 0, 2, 2, 0, 0, 1]));
        assert_eq!(moved(&order, 0, Kind::Sink), Some(vec![0, 0, 0, 2, 2, 0, 0, 1, 1]));
        // At the one that ends block 2 (thread 0, preempted by thread 2):
        assert_eq!(moved(&order, 2, Kind::Pull), Some(vec![0, 0, 1, 0, 0, 0, 2, 2, 1]));
        assert_eq!(moved(&order, 2, Kind::Push), Some(vec![0, 0, 1, 0, 0, 0, 2, 2, 1]));
        assert_eq!(moved(&order, 2, Kind::Later), Some(vec![0, 0, 1, 0, 0, 2, 2, 0, 1]));
        assert_eq!(moved(&order, 2, Kind::Delay), Some(vec![0, 0, 1, 2, 2, 0, 0, 0, 1]));
        assert_eq!(moved(&order, 2, Kind::Earlier), None, "thread 2 has no earlier block");
        assert_eq!(moved(&order, 2, Kind::Sink), None, "thread 2 has no later block");
        // At the one that ends block 4 (thread 0's last): thread 1's last block joins its first.
        assert_eq!(moved(&order, 4, Kind::Earlier), Some(vec![0, 0, 1, 1, 0, 2, 2, 0, 0]));
        assert_eq!(moved(&order, 4, Kind::Push), Some(order.to_vec()), "thread 1's block is already last");
        assert_eq!(moved(&order, 5, Kind::Push), None, "no block follows the last");
    }

    #[test]
    fn follow_takes_the_first_entry_it_can() {
        let mut f = Follow::new(&[2, 1, 1, 0]);
        // Thread 2 cannot step: thread 1's first entry is the first that can.
        assert_eq!(f.choose(&[0, 1], None), Ok(1));
        assert_eq!(f.choose(&[0, 1, 2], Some(1)), Ok(2));
        assert_eq!(f.choose(&[0, 1, 2], Some(2)), Ok(1));
        assert_eq!(f.choose(&[0, 1, 2], Some(1)), Ok(0));
        // The order is used up: the previous thread continues, else the lowest.
        assert_eq!(f.choose(&[0, 1, 2], Some(0)), Ok(0));
        assert_eq!(f.choose(&[1, 2], Some(0)), Ok(1));
        // After a yield, the next in turn.
        assert_eq!(f.choose_fair(&[0, 1, 2], Some(1), &[1]), Ok(2));
    }
}
