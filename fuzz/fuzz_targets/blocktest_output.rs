//! `cargo fuzz run blocktest_output`: the reader of a blockchain-test runner's output (geth's
//! `evm blocktest`: noise and block headers, then an array of verdicts, or `null`).
#![no_main]

#[path = "shared.rs"]
mod shared;

use libfuzzer_sys::fuzz_target;
use schism_external::process::Process;
use schism_external::tools::{geth::GETH, read_blocktest};

fuzz_target!(|data: &[u8]| {
    let Some(printed) = shared::Printed::of(data) else { return };
    let mut child = Process::replay(printed.stdout, printed.stderr, false);
    let _ = read_blocktest(&GETH, &mut child, shared::deadline());
});
