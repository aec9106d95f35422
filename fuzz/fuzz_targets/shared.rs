//! What the output readers' targets share: one case to read an answer to, and the split of an
//! input into what a process printed.

use schism_interface::load::{FixtureFile, expand_file, parse_fixture};
use schism_interface::{Case, TraceMode};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The case the answers are read for: the first case of the value-transfer workload.
pub fn case() -> &'static Case {
    static CASE: OnceLock<Case> = OnceLock::new();
    CASE.get_or_init(|| {
        let path = Path::new("value-transfer.json");
        let bytes = include_bytes!("../../engine/src/bench/value-transfer.json");
        let Ok(FixtureFile::State(file)) = parse_fixture(path, bytes) else { panic!("the workload is a state test") };
        expand_file(path, &file).0.into_iter().next().expect("the workload has a case")
    })
}

/// An input as a process's output: the first byte chooses (its low bit the trace mode, the
/// next bits what the target uses them for); standard output runs to the first NUL byte and
/// standard error is the rest.
pub struct Printed {
    /// The first byte without its low bit.
    pub choice: u8,
    /// The trace mode the reader expects.
    pub mode: TraceMode,
    /// What went to standard output.
    pub stdout: Vec<u8>,
    /// What went to standard error.
    pub stderr: Vec<u8>,
}

impl Printed {
    /// The split of `data`, if it has a first byte.
    pub fn of(data: &[u8]) -> Option<Printed> {
        let (&head, rest) = data.split_first()?;
        let mode = if head & 1 == 0 { TraceMode::Off } else { TraceMode::Steps };
        let (stdout, stderr) = match rest.iter().position(|b| *b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        Some(Printed { choice: head >> 1, mode, stdout: stdout.to_vec(), stderr: stderr.to_vec() })
    }
}

/// The deadline of one read: the output is all there, so a read that reaches it is a hang.
pub fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(5)
}
