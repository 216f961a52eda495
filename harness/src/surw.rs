//! `surw`: selectively uniform random walk over the harness's steps.
//!
//! From "Selectively Uniform Concurrency Testing", Zhao, Wolff, Mathur and Roychoudhury, ASPLOS
//! 2025 (its artifact's `SURWScheduler`, and shuttle's `urw.rs`, the unselective walk). A uniform
//! random walk (pick any enabled thread, each with the same probability) favours interleavings
//! where the threads with few steps go early; URW weights each thread by its remaining steps, which
//! samples every interleaving with the same probability, given the step counts. SURW applies that
//! only to the *interesting* steps (here: steps on objects that more than one thread touches, the
//! only ones whose order can matter), so that it is uniform over the interleavings of those steps,
//! however many local steps surround them:
//!
//! - A random enabled thread is picked uniformly (among those not *blocked*, below). If its pending
//!   step is not interesting, it runs.
//! - If it is, and no thread is *intended* yet, one is drawn among the enabled threads with
//!   probability proportional to their remaining interesting steps. The picked thread runs only if
//!   it is the intended one (its count goes down, and every thread is unblocked); otherwise it is
//!   blocked, and the pick repeats. When every enabled thread is blocked, all are unblocked and the
//!   intended thread is drawn again.
//!
//! The counts come from a *profiling* run: the sampler's first execution is a plain uniform random
//! walk, and every execution after it refines the profile (see [`crate::sampler::Profile`]: which
//! objects more than one thread touched, and each thread's most interesting steps in one
//! execution).
//!
//! How it deviates: the paper (and its artifact) selects a random tenth of the shared resources as
//! interesting, to focus each run; here every object more than one thread touched is, because the
//! harness's steps already name their objects and the benchmark's bugs sit on any of them. Counts
//! are the maximum seen over executions rather than those of the one profiling run, so a thread the
//! profiling run barely ran still gets its weight. A thread whose count runs out keeps weight 1 on
//! its interesting steps. Threads held back for fairness after a yield are not picked while another
//! thread is enabled.

use crate::sampler::{choosable, Profile, Rng, Sampler};
use crate::world::Controller;

/// The `surw` sampler.
#[derive(Clone, Copy, Debug, Default)]
pub struct SurwSampler;

impl Sampler for SurwSampler {
    fn label(&self) -> String {
        "surw".into()
    }

    fn controller(&mut self, seed: u64, profile: &Profile) -> Box<dyn Controller> {
        Box::new(Surw::new(seed, profile.clone()))
    }
}

/// One execution's SURW controller.
#[derive(Clone, Debug)]
pub struct Surw {
    rng: Rng,
    profile: Profile,
    /// Remaining interesting steps per thread, by index (from the profile, counted down).
    weights: Vec<usize>,
    /// The thread drawn to make the next interesting step.
    intended: Option<usize>,
    /// Threads whose interesting step waits for the intended thread's.
    blocked: Vec<usize>,
}

impl Surw {
    /// A controller seeded with `seed`, with the counts of `profile`.
    pub fn new(seed: u64, profile: Profile) -> Surw {
        Surw { rng: Rng::new(seed), profile, weights: Vec::new(), intended: None, blocked: Vec::new() }
    }

    /// Thread `t`'s remaining interesting steps.
    pub fn weight(&mut self, t: usize) -> usize {
        while self.weights.len() <= t {
            let next = self.weights.len();
            self.weights.push(self.profile.count(next));
        }
        self.weights[t]
    }

    /// Draws the intended thread among `cands` (thread indices), by weight.
    fn draw_intended(&mut self, cands: &[usize]) -> usize {
        let weights: Vec<usize> = cands.iter().map(|&t| self.weight(t)).collect();
        let total: usize = weights.iter().sum();
        if total == 0 {
            return cands[self.rng.below(cands.len())];
        }
        let mut x = self.rng.below(total);
        for (&t, &w) in cands.iter().zip(&weights) {
            if x < w {
                return t;
            }
            x -= w;
        }
        cands[cands.len() - 1]
    }
}

crate::sampler::informed_controller!(Surw);

impl Surw {
    /// The next thread: see the module documentation.
    fn pick(&mut self, enabled: &[usize], held_back: &[usize], pending: &[&str]) -> Result<usize, String> {
        let fair = choosable(enabled, held_back);
        if fair.is_empty() {
            return Err("no thread is enabled".into());
        }
        // The candidates: the fair threads not blocked, in order. A rejected pick is taken out of
        // the list in place, which keeps the order: the same list, and so the same random draws,
        // as building it again would give.
        let mut cands: Vec<usize> = fair.iter().copied().filter(|&i| !self.blocked.contains(&enabled[i])).collect();
        loop {
            if cands.is_empty() {
                self.blocked.clear();
                self.intended = None;
                cands.clone_from(&fair);
                continue;
            }
            let k = self.rng.below(cands.len());
            let i = cands[k];
            let t = enabled[i];
            if !self.profile.interesting(pending[i]) {
                return Ok(t);
            }
            if self.weight(t) == 0 {
                self.weights[t] = 1;
            }
            let intended = match self.intended {
                Some(x) => x,
                None => {
                    let threads: Vec<usize> = cands.iter().map(|&j| enabled[j]).collect();
                    let x = self.draw_intended(&threads);
                    self.intended = Some(x);
                    x
                }
            };
            if t == intended {
                self.weights[t] -= 1;
                self.blocked.clear();
                self.intended = None;
                return Ok(t);
            }
            self.blocked.push(t);
            cands.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Surw;
    use crate::sampler::Profile;
    use crate::trace::{Row, Step, Trace};
    use crate::world::{Controller, ExecOutcome};

    /// A profile from one execution: `steps` as (thread, object).
    fn profile(threads: usize, steps: &[(usize, &str)]) -> Profile {
        let mut trace = Trace { threads: (0..threads).map(|t| format!("t{t}")).collect(), ..Trace::default() };
        for &(t, o) in steps {
            let mut s = Step::new("op", "ok");
            s.thread = t;
            s.object = o.to_string();
            trace.rows.push(Row::Step(s));
        }
        let mut p = Profile::default();
        p.learn(&ExecOutcome { trace, ..ExecOutcome::default() });
        p
    }

    #[test]
    fn the_profile_counts_only_steps_on_shared_objects() {
        let p =
            profile(3, &[(1, "x"), (1, "local1"), (1, "x"), (2, "x"), (2, "local2"), (2, "local2"), (1, "fs/ino:1")]);
        assert_eq!((p.count(0), p.count(1), p.count(2)), (0, 2, 1));
        assert!(p.interesting("x") && !p.interesting("local1") && !p.interesting("fs/ino:1"));
        assert!(p.interesting("local1+x"));
    }

    #[test]
    fn interesting_steps_are_chosen_in_proportion_to_remaining_counts() {
        // Thread 1 has 3 interesting steps left, thread 2 one: the first interesting step is
        // thread 1's with probability 3/4.
        let p = profile(3, &[(1, "x"), (1, "x"), (1, "x"), (2, "x")]);
        let trials = 4000;
        let mut ones = 0;
        for seed in 0..trials {
            let mut c = Surw::new(seed, p.clone());
            if c.choose_informed(&[1, 2], None, &[], &["x", "x"]).unwrap() == 1 {
                ones += 1;
            }
        }
        let share = ones as f64 / trials as f64;
        assert!((share - 0.75).abs() < 0.03, "thread 1 went first in {share} of the walks, not 3/4");
    }

    #[test]
    fn uninteresting_steps_do_not_spend_weight() {
        let p = profile(3, &[(1, "x"), (2, "x"), (2, "x")]);
        let mut c = Surw::new(5, p);
        for _ in 0..20 {
            c.choose_informed(&[1, 2], None, &[], &["local1", "local2"]).unwrap();
        }
        assert_eq!((c.weight(1), c.weight(2)), (1, 2));
        let t = c.choose_informed(&[1, 2], None, &[], &["x", "x"]).unwrap();
        assert_eq!(c.weight(t), if t == 1 { 0 } else { 1 });
    }

    #[test]
    fn same_seed_same_walk() {
        let p = profile(4, &[(1, "x"), (2, "x"), (3, "x"), (3, "y"), (1, "y")]);
        let walk = |seed| {
            let mut c = Surw::new(seed, p.clone());
            (0..40)
                .map(|i| {
                    c.choose_informed(&[1, 2, 3], None, &[], &["x", if i % 3 == 0 { "y" } else { "l" }, "x"]).unwrap()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(walk(9), walk(9));
        assert_ne!(walk(9), walk(10));
    }
}
