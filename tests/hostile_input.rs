//! Replay strings and fixtures arrive from bug reports: malformed, truncated, altered, from other
//! versions, with path tricks and huge numbers. Every one gets an error value, never a panic, and
//! the command line exits 2.

mod common;

use interleave::fixture::{Fixture, FIXTURE_FORMAT};
use interleave::replay::ReplayString;
use proptest::prelude::*;
use std::process::Command;

fn valid() -> String {
    ReplayString { scenario: "worker-state".into(), variant: "buggy".into(), order: vec![1, 2, 2, 2, 2, 2, 1, 1, 1] }
        .encode()
}

/// An `iv2` string: a schedule naming thread 40, which `iv1` cannot.
fn valid_iv2() -> String {
    ReplayString { scenario: "family".into(), variant: "bug".into(), order: vec![0, 0, 40, 40, 40, 7, 0] }.encode()
}

proptest! {
    #[test]
    fn replay_strings_never_panic(s in ".{0,200}") {
        let _ = ReplayString::parse(&s);
        let _ = interleave::replay(&common::all(), &s);
    }

    #[test]
    fn altered_replay_strings_are_refused_or_identical(pos in 0usize..40, byte in any::<u8>()) {
        let v = valid();
        let mut bytes = v.clone().into_bytes();
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            match ReplayString::parse(&s) {
                Ok(r) => prop_assert_eq!(r.encode(), v),
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
        }
    }

    #[test]
    fn truncated_replay_strings_are_refused(cut in 0usize..40) {
        let v = valid();
        let cut = cut % v.len();
        prop_assert!(ReplayString::parse(&v[..cut]).is_err());
    }

    #[test]
    fn altered_or_truncated_iv2_strings_are_refused_or_identical(pos in 0usize..40, byte in any::<u8>(), cut in 0usize..40) {
        let v = valid_iv2();
        prop_assert!(v.starts_with("iv2:family/bug:0x2.40x3.7.0:"), "{}", v);
        let mut bytes = v.clone().into_bytes();
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            match ReplayString::parse(&s) {
                Ok(r) => prop_assert_eq!(r.encode(), v.clone()),
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
        }
        prop_assert!(ReplayString::parse(&v[..cut % v.len()]).is_err());
    }

    #[test]
    fn fixture_json_never_panics(s in ".{0,300}") {
        if let Ok(f) = serde_json::from_str::<Fixture>(&s) {
            let _ = f.validate();
        }
    }
}

#[test]
fn hostile_fixtures_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = Fixture {
        format: FIXTURE_FORMAT.into(),
        harness_version: "0.1.0".into(),
        replay: valid(),
        scenario: "worker-state".into(),
        variant: "buggy".into(),
        strategy: "bounded".into(),
        seed: 0,
        invariant: "x".into(),
        trace: String::new(),
    };
    let json = serde_json::to_string(&good).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("not-json.json", "{{{".into(), "not a valid fixture"),
        ("wrong-version.json", json.replace(FIXTURE_FORMAT, "interleave-fixture/9"), "unsupported fixture format"),
        (
            "mismatch.json",
            json.replace("\"scenario\":\"worker-state\"", "\"scenario\":\"stale-lock\""),
            "replay string names",
        ),
        ("traversal.json", json.replace("\"variant\":\"buggy\"", "\"variant\":\"../../etc\""), "replay string names"),
        ("huge-seed.json", json.replace("\"seed\":0", "\"seed\":184467440737095516150"), "not a valid fixture"),
        ("unknown-field.json", json.replace("{", "{\"extra\":1,"), "unknown field"),
        ("altered.json", json.replace(&valid(), &valid().replace("122222111", "122222112")), "checksum"),
    ];
    for (name, content, fragment) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let o = Command::new(common::exe()).arg("replay").arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(fragment), "{name}: {err}");
    }
    let o = Command::new(common::exe()).args(["replay", "/no/such/fixture.json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn fixture_file_names_cannot_escape_the_directory() {
    // Names come from the replay string, whose grammar has no '/' or '.'.
    let f = Fixture {
        format: FIXTURE_FORMAT.into(),
        harness_version: "0.1.0".into(),
        replay: "iv1:../x/y:1:00000000".into(),
        scenario: "../x".into(),
        variant: "y".into(),
        strategy: "bounded".into(),
        seed: 0,
        invariant: "x".into(),
        trace: String::new(),
    };
    assert!(f.file_name().is_err());
    assert!(f.write_atomic(std::path::Path::new("/tmp/interleave-never-written")).is_err());
    assert!(!std::path::Path::new("/tmp/interleave-never-written").exists());
}

#[test]
fn only_a_regular_file_is_read_as_a_fixture_and_never_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // A FIFO would block the reader forever; a link to one is no better.
    let fifo = dir.path().join("fifo.json");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for path in [&fifo, &link] {
        let o = Command::new(common::exe()).arg("replay").arg(path).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert!(err.contains("is not a regular file"), "{}: {err}", path.display());
    }
    let e = Fixture::read(&fifo).unwrap_err();
    assert!(e.message.contains("is not a regular file"), "{e}");
    // One byte over the limit: refused by what was read, not by what the file's size claims.
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; interleave::fixture::MAX_FIXTURE_BYTES as usize + 1]).unwrap();
    let e = Fixture::read(&big).unwrap_err();
    assert!(e.message.contains("larger than 4194304 bytes"), "{e}");
}
