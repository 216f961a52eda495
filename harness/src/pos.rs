//! `pos`: partial order sampling over the harness's steps.
//!
//! From "Partial Order Aware Concurrency Sampling", Yuan, Yang and Gu, CAV 2018 (as in Fray's
//! `POSScheduler` and shuttle's `PosScheduler`): every pending step has a random priority; the
//! enabled step with the highest priority runs; then the thread that ran gets a fresh priority for
//! its next step, and so does every thread whose pending step *races* with the step just taken.
//! Every other thread keeps its priority. Re-drawing only the racing ones is what makes POS sample
//! partial orders (classes of interleavings up to reordering of independent steps) close to
//! uniformly, where a uniform random walk favours the classes with many linearizations.
//!
//! How it deviates:
//! - Two steps race when their objects overlap (see [`crate::trace::independent`]), read or
//!   write: a pending step's declared object is all the world knows before it runs (the step may
//!   touch only part of it), and the harness treats every pair of steps on one object as dependent
//!   elsewhere too (sleep sets, signatures).
//! - No priority decay (shuttle adds one so that a low priority does not starve a thread for
//!   ten thousand steps; the paper has none, and executions here are at most a few thousand steps).
//! - Threads held back for fairness after a yield (see `Decision::held_back`) are not chosen while
//!   another thread is enabled, so spinning loops progress.

use crate::sampler::{choosable, Profile, Rng, Sampler};
use crate::trace::independent;
use crate::world::Controller;

/// The `pos` sampler.
#[derive(Clone, Copy, Debug, Default)]
pub struct PosSampler;

impl Sampler for PosSampler {
    fn label(&self) -> String {
        "pos".into()
    }

    fn controller(&mut self, seed: u64, _profile: &Profile) -> Box<dyn Controller> {
        Box::new(Pos::new(seed))
    }
}

/// One execution's POS controller.
#[derive(Clone, Debug)]
pub struct Pos {
    rng: Rng,
    /// Priority of each thread's pending step, by thread index (`None`: not drawn yet).
    priorities: Vec<Option<u64>>,
}

impl Pos {
    /// A controller seeded with `seed`.
    pub fn new(seed: u64) -> Pos {
        Pos { rng: Rng::new(seed), priorities: Vec::new() }
    }

    /// The priority of thread `t`'s pending step, drawing it if it has none yet.
    fn priority(&mut self, t: usize) -> u64 {
        if self.priorities.len() <= t {
            self.priorities.resize(t + 1, None);
        }
        match self.priorities[t] {
            Some(p) => p,
            None => {
                let p = self.rng.next_u64();
                self.priorities[t] = Some(p);
                p
            }
        }
    }

    /// The priorities drawn so far, by thread (for tests).
    pub fn priorities(&self) -> &[Option<u64>] {
        &self.priorities
    }
}

crate::sampler::informed_controller!(Pos);

impl Pos {
    /// The next thread: see the module documentation.
    fn pick(&mut self, enabled: &[usize], held_back: &[usize], pending: &[&str]) -> Result<usize, String> {
        let mut best: Option<(u64, usize)> = None;
        for i in choosable(enabled, held_back) {
            let p = self.priority(enabled[i]);
            if best.is_none_or(|(b, _)| p > b) {
                best = Some((p, i));
            }
        }
        let Some((_, i)) = best else { return Err("no thread is enabled".into()) };
        let (chosen, object) = (enabled[i], pending[i]);
        // The chosen thread's next step is a new event; the threads whose pending step races with
        // the chosen one get new priorities too. Independent ones keep theirs.
        for (j, &t) in enabled.iter().enumerate() {
            if t == chosen || !independent(pending[j], object) {
                if let Some(slot) = self.priorities.get_mut(t) {
                    *slot = None;
                }
            }
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::Pos;
    use crate::world::Controller;

    #[test]
    fn redraws_exactly_the_chosen_and_the_racing_threads() {
        let mut pos = Pos::new(7);
        let enabled = [0, 1, 2, 3];
        let pending = ["a", "a+c", "b", "c"];
        let chosen = pos.choose_informed(&enabled, None, &[], &pending).unwrap();
        let before = pos.priorities().to_vec();
        // Every enabled thread was drawn; the chosen one had the highest priority.
        let chosen_at = enabled.iter().position(|&t| t == chosen).unwrap();
        let object = pending[chosen_at];
        for (j, &t) in enabled.iter().enumerate() {
            let races = t == chosen || !crate::trace::independent(pending[j], object);
            assert_eq!(before[t].is_none(), races, "thread {t} on {} after a step on {object}", pending[j]);
        }
        // The kept priorities are kept: the next decision draws only the re-drawn ones.
        let mut again = pos.clone();
        again.choose_informed(&enabled, Some(chosen), &[], &pending).unwrap();
        for t in enabled {
            if let Some(p) = before[t] {
                let races_now = again.priorities()[t].is_none();
                assert!(races_now || again.priorities()[t] == Some(p), "thread {t}'s priority changed without a race");
            }
        }
    }

    #[test]
    fn highest_priority_runs_and_held_back_threads_wait() {
        let mut pos = Pos::new(3);
        let enabled = [1, 2, 3];
        let pending = ["x", "y", "z"];
        // Independent steps: nobody but the chosen one is re-drawn, so the order is by priority.
        let first = pos.choose_informed(&enabled, None, &[], &pending).unwrap();
        let p = pos.priorities().to_vec();
        let best = enabled.iter().copied().filter(|&t| t != first).max_by_key(|&t| p[t]).unwrap();
        let held = [best];
        let next = pos.choose_informed(&enabled, Some(first), &held, &pending).unwrap();
        assert_ne!(next, best, "a held-back thread was chosen while another was enabled");
    }

    #[test]
    fn same_seed_same_choices() {
        let run = |seed| {
            let mut pos = Pos::new(seed);
            (0..50)
                .map(|i| {
                    pos.choose_informed(&[0, 1, 2], None, &[], &["a", if i % 2 == 0 { "a" } else { "b" }, "c"]).unwrap()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }
}
