//! The harness's own scenarios, which are not audited findings: known programs for checking the
//! harness itself ([`selftest`]) and the benchmark's scalable bug family ([`family`]). Every command
//! line reaches them by name (`interleave check selftest/deadlock`) beside the user's scenarios;
//! `list` and a bare `check` leave them out.

pub mod family;
pub mod selftest;

use harness::Scenario;

/// The internal scenarios.
pub static INTERNAL: &[&Scenario] = &[&selftest::SELFTEST, &family::FAMILY];
