//! Replay strings: `iv1:<scenario>/<variant>:<steps>:<checksum>`.
//!
//! `iv1` names the format (version 1 of the harness's schedule format). `<steps>` is the step
//! order, one base-36 digit per step naming the thread that makes it (0 is the main thread, then
//! threads in spawn order) — the `#` column of the trace, read top to bottom. `<checksum>` is the
//! FNV-1a hash of everything before it, in 8 hex digits, so a truncated or altered string is
//! refused instead of replaying some other schedule. A step order replays the same execution on
//! either backend: the harness forces exactly that order of model steps.

use crate::error::{Error, ErrorKind};

/// The replay format version this harness writes and reads.
pub const FORMAT: &str = "iv1";

/// The longest schedule accepted, in steps.
pub const MAX_REPLAY_STEPS: usize = 100_000;

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
    /// Encodes the replay string.
    pub fn encode(&self) -> String {
        let steps: String = self.order.iter().map(|&t| std::char::from_digit(t as u32, 36).unwrap_or('?')).collect();
        let body = format!("{FORMAT}:{}/{}:{steps}", self.scenario, self.variant);
        format!("{body}:{:08x}", fnv1a(&body))
    }

    /// Parses a replay string, refusing anything malformed, truncated or altered.
    pub fn parse(input: &str) -> Result<ReplayString, Error> {
        let bad = |what: &str| {
            Error::new(
                ErrorKind::MalformedReplay,
                format!("malformed replay string: {what} (expected {FORMAT}:<scenario>/<variant>:<steps>:<checksum>, as printed by `interleave check`)"),
            )
        };
        let input = input.trim();
        if input.len() > MAX_REPLAY_STEPS + 200 {
            return Err(bad("too long"));
        }
        let parts: Vec<&str> = input.split(':').collect();
        if parts.len() != 4 {
            return Err(bad("it must have four ':'-separated fields"));
        }
        if parts[0] != FORMAT {
            return Err(Error::new(
                ErrorKind::MalformedReplay,
                format!(
                    "unsupported replay format '{}': this harness reads {FORMAT}",
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
        let mut order = Vec::with_capacity(parts[2].len());
        for c in parts[2].chars() {
            match c.to_digit(36) {
                Some(d) => order.push(d as usize),
                None => return Err(bad("steps are base-36 digits")),
            }
        }
        Ok(ReplayString { scenario: scenario.to_string(), variant: variant.to_string(), order })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<Vec<usize>, &str>) {
        match (ReplayString::parse(input), expected) {
            (Ok(r), Ok(order)) => assert_eq!(r.order, order),
            (Err(e), Err(fragment)) => assert!(e.message.contains(fragment), "{e}"),
            (got, want) => panic!("parse({input:?}) = {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let r =
            ReplayString { scenario: "worker-state".into(), variant: "buggy".into(), order: vec![1, 2, 2, 1, 0, 11] };
        let s = r.encode();
        assert!(s.starts_with("iv1:worker-state/buggy:12210b:"));
        check(&s, Ok(vec![1, 2, 2, 1, 0, 11]));
        check(&s[..s.len() - 1], Err("checksum"));
        check(&s.replace("12210b", "12220b"), Err("checksum"));
        check("iv2:a/b:1:00000000", Err("unsupported replay format"));
        check("iv1:a:1:00000000", Err("<scenario>/<variant>"));
        check("iv1:../x/b:1:00000000", Err("lowercase"));
        check("", Err("four"));
    }
}
