//! Replay strings: `iv1:<scenario>/<variant>:<steps>:<checksum>` or
//! `iv2:<scenario>/<variant>:<runs>:<checksum>`.
//!
//! The first field names the format (version 1 or 2 of the harness's schedule format); both
//! encode the same thing, the step order: for each step, the thread that makes it (0 is the main
//! thread, then threads in spawn order) — the `#` column of the trace, read top to bottom.
//! `<checksum>` is the FNV-1a hash of everything before the last `:`, in 8 hex digits, so a
//! truncated or altered string is refused instead of replaying some other schedule. A step order
//! replays the same execution on either backend: the harness forces exactly that order of model
//! steps.
//!
//! - `iv1`: `<steps>` is one base-36 digit per step (`0`–`9`, `a`–`z`), so it names at most 36
//!   threads.
//! - `iv2`: `<runs>` is the step order run-length encoded, a `.`-separated list of runs, each a
//!   thread alone (one step) or `<thread>x<count>` (`count` steps in a row, `count` ≥ 2), both in
//!   decimal without leading zeros, and consecutive runs of different threads: `0x2.1.2x11.1x4.0x2`
//!   is two steps of thread 0, one of thread 1, eleven of thread 2, four of thread 1 and two of
//!   thread 0. It names any thread up to [`MAX_REPLAY_THREAD`] and stays short for long threads.
//!
//! Which one is written: `iv1` when every thread is below 36 and the schedule has at most
//! [`IV1_MAX_STEPS`] steps, `iv2` otherwise; so the replay strings of small programs (every
//! snapshot, fixture and example so far) keep their `iv1` bytes. Both are read. Either way the
//! decoded schedule has at most [`MAX_REPLAY_STEPS`] steps; a longer one is refused before
//! anything is allocated for it.

use crate::error::{Error, ErrorKind};

/// Version 1 of the replay format: one base-36 digit per step.
pub const IV1: &str = "iv1";

/// Version 2 of the replay format: runs of steps, threads and counts in decimal.
pub const IV2: &str = "iv2";

/// The longest schedule accepted, in steps (decoded: an `iv2` run of many steps counts them all).
pub const MAX_REPLAY_STEPS: usize = 100_000;

/// The longest schedule written as `iv1`; a longer one, or one naming thread 36 or above, is
/// written as `iv2`.
pub const IV1_MAX_STEPS: usize = 1_000;

/// The largest thread index an `iv2` string names (six decimal digits).
pub const MAX_REPLAY_THREAD: usize = 999_999;

/// The longest replay string accepted, in bytes: an `iv2` schedule of [`MAX_REPLAY_STEPS`] runs
/// of one step each, on threads of six digits, and the names around it.
pub const MAX_REPLAY_CHARS: usize = 7 * MAX_REPLAY_STEPS + 300;

/// What a malformed string is told it should look like.
const EXPECTED: &str = "expected iv1:<scenario>/<variant>:<steps>:<checksum> or \
                        iv2:<scenario>/<variant>:<runs>:<checksum>, as printed by `interleave check`";

/// A parsed replay string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayString {
    /// The scenario's name.
    pub scenario: String,
    /// The variant's name.
    pub variant: String,
    /// The thread of each step.
    pub order: Vec<usize>,
}

fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A variant's name, or an instance's: `name[param=value,…]`.
fn valid_variant(s: &str) -> bool {
    match s.split_once('[') {
        None => valid_name(s),
        Some((name, rest)) => {
            valid_name(name)
                && s.len() <= 200
                && rest.strip_suffix(']').is_some_and(|list| {
                    list.split(',').all(|kv| {
                        kv.split_once('=').is_some_and(|(k, v)| {
                            valid_name(k) && !v.is_empty() && v.len() <= 6 && v.bytes().all(|b| b.is_ascii_digit())
                        })
                    })
                })
        }
    }
}

impl ReplayString {
    /// Encodes the replay string: `iv1` when every thread is below 36 and there are at most
    /// [`IV1_MAX_STEPS`] steps, `iv2` otherwise (see the module's doc).
    pub fn encode(&self) -> String {
        let v1 = self.order.len() <= IV1_MAX_STEPS && self.order.iter().all(|&t| t < 36);
        let body = if v1 {
            let steps: String =
                self.order.iter().map(|&t| std::char::from_digit(t as u32, 36).unwrap_or('?')).collect();
            format!("{IV1}:{}/{}:{steps}", self.scenario, self.variant)
        } else {
            format!("{IV2}:{}/{}:{}", self.scenario, self.variant, runs(&self.order))
        };
        format!("{body}:{:08x}", fnv1a(&body))
    }

    /// Parses a replay string (`iv1` or `iv2`), refusing anything malformed, truncated or altered.
    pub fn parse(input: &str) -> Result<ReplayString, Error> {
        let input = input.trim();
        if input.len() > MAX_REPLAY_CHARS {
            return Err(bad(&format!("too long (at most {MAX_REPLAY_CHARS} bytes)")));
        }
        let parts: Vec<&str> = input.split(':').collect();
        if parts.len() != 4 {
            return Err(bad("it must have four ':'-separated fields"));
        }
        if parts[0] != IV1 && parts[0] != IV2 {
            return Err(Error::new(
                ErrorKind::MalformedReplay,
                format!(
                    "unsupported replay format '{}': this harness reads {IV1} and {IV2}",
                    parts[0].chars().take(16).collect::<String>()
                ),
            ));
        }
        let Some((scenario, variant)) = parts[1].split_once('/') else {
            return Err(bad("the second field must be <scenario>/<variant>"));
        };
        if !valid_name(scenario) || !valid_variant(variant) {
            return Err(bad(
                "scenario and variant names are lowercase letters, digits and '-', a variant optionally followed by [param=value,…]",
            ));
        }
        let body = format!("{}:{}:{}", parts[0], parts[1], parts[2]);
        let sum = parts[3];
        if sum.len() != 8 || u32::from_str_radix(sum, 16).ok() != Some(fnv1a(&body)) {
            return Err(bad("the checksum does not match (the string was truncated or altered)"));
        }
        let order = if parts[0] == IV1 { parse_steps(parts[2])? } else { parse_runs(parts[2])? };
        Ok(ReplayString { scenario: scenario.to_string(), variant: variant.to_string(), order })
    }
}

fn bad(what: &str) -> Error {
    Error::new(ErrorKind::MalformedReplay, format!("malformed replay string: {what} ({EXPECTED})"))
}

/// The `iv2` runs of `order`.
fn runs(order: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&t) = order.get(i) {
        let n = order[i..].iter().take_while(|&&u| u == t).count();
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&t.to_string());
        if n > 1 {
            out.push_str(&format!("x{n}"));
        }
        i += n;
    }
    out
}

/// An `iv1` step order: one base-36 digit per step.
fn parse_steps(steps: &str) -> Result<Vec<usize>, Error> {
    if steps.len() > MAX_REPLAY_STEPS {
        return Err(bad(&format!("the schedule is longer than {MAX_REPLAY_STEPS} steps")));
    }
    steps
        .chars()
        .map(|c| c.to_digit(36).map(|d| d as usize).ok_or_else(|| bad("iv1 steps are base-36 digits")))
        .collect()
}

/// A decimal number of at most `digits` digits, without leading zeros; `None` otherwise.
fn decimal(s: &str, digits: usize) -> Option<usize> {
    let canonical = s == "0" || (!s.starts_with('0') && !s.is_empty());
    (canonical && s.len() <= digits && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// An `iv2` step order: `.`-separated runs, each `<thread>` or `<thread>x<count>`.
fn parse_runs(field: &str) -> Result<Vec<usize>, Error> {
    let form = "iv2 runs are '.'-separated, each <thread> or <thread>x<count> in decimal";
    let mut order: Vec<usize> = Vec::new();
    for (k, run) in field.split('.').enumerate() {
        let at = |what: &str| bad(&format!("run {} ('{}'): {what}", k + 1, run.chars().take(24).collect::<String>()));
        if run.is_empty() {
            return Err(at(&format!("a run is empty ({form})")));
        }
        let (thread, count) = match run.split_once('x') {
            None => (run, None),
            Some((t, c)) => (t, Some(c)),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(thread) || !count.is_none_or(digits) {
            return Err(at(form));
        }
        let Some(thread) = decimal(thread, 6) else {
            return Err(at(&format!(
                "a thread is a decimal number without leading zeros, at most {MAX_REPLAY_THREAD}"
            )));
        };
        let left = MAX_REPLAY_STEPS - order.len();
        let count = match count {
            None => 1,
            Some(c) => match decimal(c, 6) {
                None if c.starts_with('0') => {
                    return Err(at("a count is a decimal number of at least 2, without leading zeros"))
                }
                Some(0 | 1) => return Err(at("a count is at least 2 (a run of one step is the thread alone)")),
                Some(n) if n <= left => n,
                // Too many digits, or more steps than are left: refused before anything is allocated.
                _ => return Err(at(&format!("the schedule would be longer than {MAX_REPLAY_STEPS} steps"))),
            },
        };
        if count > left {
            return Err(at(&format!("the schedule would be longer than {MAX_REPLAY_STEPS} steps")));
        }
        if order.last() == Some(&thread) {
            return Err(at("consecutive runs are of different threads (one run per stretch of a thread)"));
        }
        order.resize(order.len() + count, thread);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<Vec<usize>, &str>) {
        match (ReplayString::parse(input), expected) {
            (Ok(r), Ok(order)) => assert_eq!(r.order, order),
            (Err(e), Err(fragment)) => {
                assert_eq!(e.kind, ErrorKind::MalformedReplay, "{e}");
                assert!(e.message.contains(fragment), "{e}");
            }
            (got, want) => panic!("parse({:?}) = {got:?}, expected {want:?}", &input[..input.len().min(80)]),
        }
    }

    /// `body` with its checksum: a string that only its schedule field can make malformed.
    fn signed(body: &str) -> String {
        format!("{body}:{:08x}", fnv1a(body))
    }

    fn replay(order: Vec<usize>) -> ReplayString {
        ReplayString { scenario: "worker-state".into(), variant: "buggy".into(), order }
    }

    #[test]
    fn round_trip_and_rejections() {
        let r = replay(vec![1, 2, 2, 1, 0, 11]);
        let s = r.encode();
        assert!(s.starts_with("iv1:worker-state/buggy:12210b:"));
        check(&s, Ok(vec![1, 2, 2, 1, 0, 11]));
        check(&s[..s.len() - 1], Err("checksum"));
        check(&s.replace("12210b", "12220b"), Err("checksum"));
        check("iv3:a/b:1:00000000", Err("unsupported replay format 'iv3': this harness reads iv1 and iv2"));
        check("iv1:a:1:00000000", Err("<scenario>/<variant>"));
        check("iv1:../x/b:1:00000000", Err("lowercase"));
        check("", Err("four"));
        check(&signed("iv1:a/b:12!"), Err("iv1 steps are base-36 digits"));
    }

    #[test]
    fn iv1_is_written_while_it_can_name_every_step() {
        // Threads below 36 and at most 1,000 steps: the bytes every snapshot and fixture holds.
        let s = replay(vec![0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0]).encode();
        assert_eq!(s, "iv1:worker-state/buggy:00122222222222111100:a4e76223");
        let mut order: Vec<usize> = (0..1_000).map(|i| i % 36).collect();
        assert!(replay(order.clone()).encode().starts_with("iv1:"));
        // One step more, or thread 36, and the schedule is written as iv2.
        order.push(0);
        assert!(replay(order).encode().starts_with("iv2:"));
        assert!(replay(vec![0, 36]).encode().starts_with("iv2:"));
    }

    #[test]
    fn iv2_encodes_runs_in_decimal() {
        let order = [vec![0; 2], vec![1], vec![2; 11], vec![1; 4], vec![0; 2], vec![40]].concat();
        let s = replay(order.clone()).encode();
        assert_eq!(s, signed("iv2:worker-state/buggy:0x2.1.2x11.1x4.0x2.40"));
        assert_eq!(s, "iv2:worker-state/buggy:0x2.1.2x11.1x4.0x2.40:0b9652a7");
        check(&s, Ok(order));
        // An iv2 string of a schedule iv1 could name is read too.
        check(&signed("iv2:worker-state/buggy:0x2.1"), Ok(vec![0, 0, 1]));
    }

    #[test]
    fn iv2_round_trips_many_threads_and_long_schedules() {
        // 1,200 threads, each a run of its own, then back down.
        let order: Vec<usize> = (0..1_200).chain((0..1_200).rev()).collect();
        let s = replay(order.clone()).encode();
        assert!(s.contains(":0.1.2.3.") && s.contains(".1199x2.1198."), "{}", &s[..80]);
        check(&s, Ok(order));
        // The longest schedule accepted, at its shortest and at its longest.
        let one_run = vec![7; MAX_REPLAY_STEPS];
        let s = replay(one_run.clone()).encode();
        assert!(s.starts_with("iv2:worker-state/buggy:7x100000:"), "{s}");
        check(&s, Ok(one_run));
        let alternating: Vec<usize> = (0..MAX_REPLAY_STEPS).map(|i| MAX_REPLAY_THREAD - i % 2).collect();
        let s = replay(alternating.clone()).encode();
        assert!(s.len() <= MAX_REPLAY_CHARS, "{}", s.len());
        check(&s, Ok(alternating));
        // iv1 at its longest is read.
        check(&signed(&format!("iv1:a/b:{}", "1".repeat(MAX_REPLAY_STEPS))), Ok(vec![1; MAX_REPLAY_STEPS]));
    }

    #[test]
    fn malformed_iv2_schedules_are_refused_with_what_is_valid() {
        let cases: &[(&str, &str)] = &[
            ("", "run 1 (''): a run is empty"),
            ("0.", "run 2 (''): a run is empty"),
            ("0..1", "run 2 (''): a run is empty"),
            (".0", "run 1 (''): a run is empty"),
            ("0x0", "a count is at least 2"),
            ("0x1", "a count is at least 2 (a run of one step is the thread alone)"),
            ("0x02", "a count is a decimal number of at least 2, without leading zeros"),
            ("01x2", "a thread is a decimal number without leading zeros"),
            ("00", "a thread is a decimal number without leading zeros"),
            ("1000000", "at most 999999"),
            ("18446744073709551616", "at most 999999"),
            ("0x18446744073709551617", "longer than 100000 steps"),
            ("0x100001", "longer than 100000 steps"),
            ("0x100000.1", "run 2 ('1'): the schedule would be longer than 100000 steps"),
            ("0x50000.1x50001", "run 2 ('1x50001'): the schedule would be longer than 100000 steps"),
            ("0x", "iv2 runs are '.'-separated, each <thread> or <thread>x<count> in decimal"),
            ("x2", "each <thread> or <thread>x<count>"),
            ("0x2x3", "each <thread> or <thread>x<count>"),
            ("0,1", "each <thread> or <thread>x<count>"),
            ("-1", "each <thread> or <thread>x<count>"),
            ("+1", "each <thread> or <thread>x<count>"),
            ("1 ", "each <thread> or <thread>x<count>"),
            ("0X2", "each <thread> or <thread>x<count>"),
            ("\u{0661}", "each <thread> or <thread>x<count>"),
            ("0.0", "run 2 ('0'): consecutive runs are of different threads"),
            ("3x2.3x4", "consecutive runs are of different threads"),
        ];
        for (runs, fragment) in cases {
            let s = signed(&format!("iv2:worker-state/buggy:{runs}"));
            check(&s, Err(fragment));
            check(&s, Err("malformed replay string"));
            check(&s, Err("iv2:<scenario>/<variant>:<runs>:<checksum>"));
        }
        // Too long to be any schedule: refused before it is split.
        let huge = signed(&format!("iv2:a/b:{}", "1.0.".repeat(MAX_REPLAY_CHARS / 4)));
        check(&huge, Err("too long"));
        check(&signed(&format!("iv1:a/b:{}", "1".repeat(MAX_REPLAY_STEPS + 1))), Err("longer than 100000 steps"));
    }
}
