//! Fixture errors: every one names the file and the JSON pointer of the bad value.

use alloy_primitives::Address;
use std::path::PathBuf;

/// A fixture file that cannot be read, parsed or expanded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// The file cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not JSON, or a value does not have the shape the format requires.
    #[error("{}: at `{pointer}`: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// JSON pointer (RFC 6901) of the bad value; empty for the whole document.
        pointer: String,
        /// The parser's error (with line and column for syntax errors).
        source: serde_json::Error,
    },
    /// Values that parse but do not fit together.
    #[error("{}: at `{pointer}`: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// JSON pointer of the bad value.
        pointer: String,
        /// What is wrong.
        reason: InvalidFixture,
    },
}

/// Why a well-formed fixture still cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidFixture {
    /// A post entry points past the end of a template list.
    #[error("index {index} is out of range for `{field}` of length {len}")]
    IndexOutOfRange {
        /// The template field.
        field: &'static str,
        /// The index given.
        index: usize,
        /// The list's length.
        len: usize,
    },
    /// `secretKey` is not a valid secp256k1 key.
    #[error("secretKey is not a valid secp256k1 private key")]
    BadSecretKey,
    /// `sender` does not match the key.
    #[error("sender {given} does not match the address {derived} of secretKey")]
    SenderMismatch {
        /// The fixture's sender.
        given: Address,
        /// The address derived from the key.
        derived: Address,
    },
    /// The document is neither a state test nor a blockchain test.
    #[error("not a test fixture: expected an object of named tests with `env`/`pre`/`transaction`/`post`")]
    NotAFixture,
    /// A blockchain test's `network` names no fork schedule schism knows.
    #[error("unknown network `{network}`")]
    UnknownNetwork {
        /// The name as given.
        network: String,
    },
    /// A required field is absent.
    #[error("`{field}` is missing")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// RLP that must decode does not.
    #[error("does not decode: {reason}")]
    BadRlp {
        /// The decoder's words.
        reason: String,
    },
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
