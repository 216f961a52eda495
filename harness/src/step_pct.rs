//! `step-pct`: probabilistic concurrency testing over the harness's steps.
//!
//! From "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", Burckhardt, Kothari,
//! Musuvathi and Nagarakatte, ASPLOS 2010: every thread gets a random distinct priority (all above
//! `depth`); `depth - 1` change points are drawn uniformly among the execution's `k` steps; the
//! enabled thread with the highest priority runs, and when the execution reaches the `i`-th change
//! point, the thread about to run has its priority lowered to `i` (below every initial one). A bug
//! of depth `d` (`d - 1` ordering constraints besides the first) is found with probability at least
//! `1 / (n k^(d-1))`.
//!
//! How it deviates:
//! - `k` counts only *interesting* steps (on objects more than one thread touches, see
//!   [`crate::sampler::Profile`]) and change points sit only there: a priority change before a
//!   thread-local step changes nothing that a change before that thread's next interesting step
//!   would not. On long threads with few shared steps this makes `k` the number of steps that can
//!   race, not the length of the execution, which is what the bound's `k^(d-1)` pays for.
//! - The change lowers the thread *before* its interesting step (which then waits), where the paper
//!   lowers the thread that executes step `k_i`; the same preemption, one step earlier.
//! - `k` is estimated from the executions before (the most interesting steps seen in one), as
//!   shuttle's `PctScheduler` estimates the execution's length; the first execution, with nothing
//!   known, counts every step and guesses 50.
//! - A thread spawned during the execution gets a random priority among the initial ones when it is
//!   first enabled. Threads held back for fairness after a yield are not chosen while another
//!   thread is enabled.

use crate::sampler::{choosable, Profile, Rng, Sampler};
use crate::world::Controller;

/// The `step-pct` sampler with bug depth `depth`.
#[derive(Clone, Copy, Debug)]
pub struct StepPctSampler {
    /// The bug depth it targets (at least 1).
    pub depth: usize,
}

impl Sampler for StepPctSampler {
    fn label(&self) -> String {
        format!("step-pct(depth {})", self.depth)
    }

    fn controller(&mut self, seed: u64, profile: &Profile) -> Box<dyn Controller> {
        Box::new(StepPct::new(seed, self.depth, profile.clone()))
    }
}

/// One execution's step-level PCT controller.
#[derive(Clone, Debug)]
pub struct StepPct {
    rng: Rng,
    profile: Profile,
    /// Priority by thread index (`None`: not drawn yet). Initial ones have the top bit set, so they
    /// are above every lowered one (`1 ..= depth - 1`).
    priorities: Vec<Option<u64>>,
    /// The interesting steps (counted from 1) before which the thread about to run is lowered, in
    /// increasing order.
    change_points: Vec<usize>,
    /// Change points used so far.
    used: usize,
    /// Interesting steps made so far.
    made: usize,
}

impl StepPct {
    /// A controller seeded with `seed`, targeting bug depth `depth`, with `k` from `profile`.
    pub fn new(seed: u64, depth: usize, profile: Profile) -> StepPct {
        let mut rng = Rng::new(seed);
        let k = if profile.executions == 0 { 50 } else { profile.total() };
        let mut change_points: Vec<usize> = (1..depth.max(1)).map(|_| 1 + rng.below(k)).collect();
        change_points.sort_unstable();
        StepPct { rng, profile, priorities: Vec::new(), change_points, used: 0, made: 0 }
    }

    /// The change points drawn (for tests).
    pub fn change_points(&self) -> &[usize] {
        &self.change_points
    }

    fn priority(&mut self, t: usize) -> u64 {
        if self.priorities.len() <= t {
            self.priorities.resize(t + 1, None);
        }
        match self.priorities[t] {
            Some(p) => p,
            None => {
                let p = self.rng.next_u64() | (1 << 63);
                self.priorities[t] = Some(p);
                p
            }
        }
    }
}

crate::sampler::informed_controller!(StepPct);

impl StepPct {
    /// The next thread: see the module documentation.
    fn pick(&mut self, enabled: &[usize], held_back: &[usize], pending: &[&str]) -> Result<usize, String> {
        let fair = choosable(enabled, held_back);
        loop {
            let mut best: Option<(u64, usize)> = None;
            for &i in &fair {
                let p = self.priority(enabled[i]);
                if best.is_none_or(|(b, _)| p > b) {
                    best = Some((p, i));
                }
            }
            let Some((_, i)) = best else { return Err("no thread is enabled".into()) };
            let interesting = self.profile.interesting(pending[i]);
            if interesting && self.change_points.get(self.used) == Some(&(self.made + 1)) {
                // A change point: this interesting step waits; its thread drops below the others.
                self.used += 1;
                self.priorities[enabled[i]] = Some(self.used as u64);
                continue;
            }
            if interesting {
                self.made += 1;
            }
            return Ok(enabled[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StepPct;
    use crate::sampler::Profile;
    use crate::world::Controller;

    #[test]
    fn without_change_points_the_highest_priority_thread_runs_to_the_end() {
        let mut c = StepPct::new(1, 1, Profile::default());
        assert!(c.change_points().is_empty());
        let first = c.choose_informed(&[0, 1, 2], None, &[], &["x", "x", "x"]).unwrap();
        for _ in 0..30 {
            assert_eq!(c.choose_informed(&[0, 1, 2], Some(first), &[], &["x", "x", "x"]).unwrap(), first);
        }
    }

    #[test]
    fn a_change_point_preempts_before_that_interesting_step() {
        // Depth 2: one change point, at interesting step c (1 ..= 50 with no profile).
        for seed in 0..20 {
            let mut c = StepPct::new(seed, 2, Profile::default());
            let at = c.change_points()[0];
            let mut last = None;
            for step in 1..=at + 2 {
                let t = c.choose_informed(&[0, 1], last, &[], &["x", "x"]).unwrap();
                if let Some(p) = last {
                    // The only switch is at the change point.
                    assert_eq!(t != p, step == at, "seed {seed}: switch at step {step}, change point {at}");
                }
                last = Some(t);
            }
        }
    }

    #[test]
    fn same_seed_same_choices() {
        let run = |seed| {
            let mut c = StepPct::new(seed, 3, Profile::default());
            (0..60).map(|_| c.choose_informed(&[0, 1, 2], None, &[], &["x", "y", "x"]).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(4), run(4));
    }
}
