//! Strategies: how a check explores a variant. Names and defaults are the command line's.

use crate::error::{Error, ErrorKind};
use std::fmt;

/// An exploration strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// shuttle's uniformly random scheduler.
    Random,
    /// shuttle's probabilistic concurrency testing with bug depth `depth`.
    Pct {
        /// The bug depth PCT targets.
        depth: usize,
    },
    /// shuttle's uniform random walk.
    Urw,
    /// The harness's step-level partial order sampling (see [`crate::pos`]).
    Pos,
    /// The harness's step-level selectively uniform random walk (see [`crate::surw`]).
    Surw,
    /// The harness's step-level PCT, change points only at steps that can race (see
    /// [`crate::step_pct`]).
    StepPct {
        /// The bug depth it targets.
        depth: usize,
    },
    /// The harness's depth-first search over every step order, pruned by sleep sets (steps on
    /// different objects commute), capped by the iteration budget.
    Dfs,
    /// shuttle's own exhaustive depth-first search over its scheduling points (capped by the
    /// iteration budget): the baseline `dfs` is measured against.
    ShuttleDfs,
    /// The harness's step-level iterative preemption bounding.
    Bounded {
        /// The largest preemption bound explored; `None`: bounds 0 to 3, then the whole space.
        max_preemptions: Option<usize>,
    },
    /// loom's model checker: unbounded and with preemption bounds 1, 2 and 3, which must agree.
    Exhaustive,
    /// Several searches side by side, a growing slice of executions each in turn (see
    /// [`crate::portfolio`]): the step-level `surw` (8 a round), shuttle's PCT with depth 3 (4),
    /// both doubling every third round, and `bounded` (1, doubling every round).
    Portfolio,
}

/// Every strategy name, for messages.
pub const STRATEGY_NAMES: &str =
    "portfolio, random, pct, urw, pos, surw, step-pct, dfs, shuttle-dfs, bounded, exhaustive";

impl Strategy {
    /// The default strategy, chosen by `interleave bench` (see the README): the portfolio finds
    /// bugs of every shape the benchmark has fast, and proves a `holds` with its bounded member.
    pub const DEFAULT: Strategy = Strategy::Portfolio;

    /// Parses a strategy name; `depth` and `max_preemptions` fill in the parameters.
    pub fn parse(name: &str, depth: usize, max_preemptions: Option<usize>) -> Result<Strategy, Error> {
        Ok(match name {
            "random" => Strategy::Random,
            "pct" => Strategy::Pct { depth },
            "urw" => Strategy::Urw,
            "pos" => Strategy::Pos,
            "surw" => Strategy::Surw,
            "step-pct" => Strategy::StepPct { depth },
            "dfs" => Strategy::Dfs,
            "shuttle-dfs" => Strategy::ShuttleDfs,
            "bounded" => Strategy::Bounded { max_preemptions },
            "exhaustive" => Strategy::Exhaustive,
            "portfolio" => Strategy::Portfolio,
            other => {
                return Err(Error::new(
                    ErrorKind::BadOption,
                    format!(
                        "unknown strategy '{}': valid strategies are {STRATEGY_NAMES}",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        })
    }

    /// Whether the strategy explores the same schedules for every seed.
    pub fn is_systematic(&self) -> bool {
        matches!(self, Strategy::Dfs | Strategy::ShuttleDfs | Strategy::Bounded { .. } | Strategy::Exhaustive)
    }

    /// The strategy's name.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::Pct { .. } => "pct",
            Strategy::Urw => "urw",
            Strategy::Pos => "pos",
            Strategy::Surw => "surw",
            Strategy::StepPct { .. } => "step-pct",
            Strategy::Dfs => "dfs",
            Strategy::ShuttleDfs => "shuttle-dfs",
            Strategy::Bounded { .. } => "bounded",
            Strategy::Exhaustive => "exhaustive",
            Strategy::Portfolio => "portfolio",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
