//! `cargo fuzz run runner_output`: the reader of schism's own runners' output (EIP-3155 step
//! lines, then a summary or fault line) as EELS, EthereumJS and py-evm use it (chosen by the
//! first byte), plain or traced.
#![no_main]

#[path = "shared.rs"]
mod shared;

use libfuzzer_sys::fuzz_target;
use schism_external::Tool;
use schism_external::process::Process;
use schism_external::tools::ethereumjs::ETHEREUMJS;
use schism_external::tools::pyevm::PyEvm;
use schism_external::tools::runner::EELS;

fuzz_target!(|data: &[u8]| {
    let Some(printed) = shared::Printed::of(data) else { return };
    let tool: &dyn Tool = match printed.choice % 3 {
        0 => &EELS,
        1 => &ETHEREUMJS,
        _ => &PyEvm,
    };
    let mut child = Process::replay(printed.stdout, printed.stderr, tool.stderr_is_output());
    let _ = tool.read(&mut child, shared::case(), printed.mode, shared::deadline());
});
