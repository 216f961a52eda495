//! The guide's example is one program in three places: the user crate that CI tests
//! (`tests/user-crate/src/session_history.rs`), the crate documentation's doc-test, and the
//! README. They must not drift apart.

fn user_crate() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/user-crate/src/session_history.rs")).unwrap()
}

#[test]
fn the_crate_docs_run_the_user_crates_example() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let docs: String = docs
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(docs.contains(user_crate().trim_end()), "the crate docs' example is not tests/user-crate's");
}

#[test]
fn the_readme_shows_the_user_crates_example_within_sixty_lines() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let readme: String = readme.lines().map(|l| l.strip_prefix("   ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
    let example = user_crate();
    assert!(readme.contains(example.trim_end()), "the README's example is not tests/user-crate's");
    assert!(example.lines().count() <= 60, "the guide's example is {} lines", example.lines().count());
}
