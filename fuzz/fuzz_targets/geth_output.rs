//! `cargo fuzz run geth_output`: geth's `evm statetest` reader (the result array on stdout,
//! EIP-3155 steps, the summary and the root line on stderr), today's batch runner or an old
//! release's one-process-per-case runner (second bit of the first byte), plain or traced.
#![no_main]

#[path = "shared.rs"]
mod shared;

use libfuzzer_sys::fuzz_target;
use schism_external::Tool;
use schism_external::process::Process;
use schism_external::tools::geth::GETH;

fuzz_target!(|data: &[u8]| {
    let Some(printed) = shared::Printed::of(data) else { return };
    let tool: &dyn Tool = if printed.choice & 1 == 0 { &GETH } else { GETH.release("v1.9.16").expect("a declared release") };
    let mut child = Process::replay(printed.stdout, printed.stderr, tool.stderr_is_output());
    let _ = tool.read(&mut child, shared::case(), printed.mode, shared::deadline());
});
