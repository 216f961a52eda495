//! The harness's error type: misuse and bad input (unknown scenario, malformed replay string),
//! never a finding. The command line maps every error to exit status 2.

use std::fmt;

/// What kind of bad input an [`Error`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A scenario or variant name that the catalog does not have.
    UnknownScenario,
    /// A replay string that does not parse, or whose checksum does not match.
    MalformedReplay,
    /// A replay string for a scenario whose code no longer takes that schedule.
    ScheduleMismatch,
    /// An unknown strategy name or an option out of range.
    BadOption,
    /// The requested backend is not compiled in or could not be run.
    Backend,
    /// The backend cannot run this variant (loom past its five threads).
    Unsupported,
}

/// Bad input, with a lowercase message that says what was wrong and what is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The kind of error.
    pub kind: ErrorKind,
    /// What was wrong and what is valid.
    pub message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
