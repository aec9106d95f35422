//! `cargo fuzz run t8n_output`: the reader of a transition tool's output files (`result.json`,
//! `alloc.json` and transaction 0's trace): the input's standard output is the result, its
//! standard error the allocation and then, after a second NUL byte, the trace. The block
//! holds one to four copies of the workload's transaction (the first byte's next bits). Each
//! input is read in today's dialect and in geth 1.9's.
#![no_main]

#[path = "shared.rs"]
mod shared;

use libfuzzer_sys::fuzz_target;
use schism_external::t8n::{ALLOC_OUT, Dialect, RESULT_OUT, read_outputs};
use schism_external::tools::geth::GETH_1_9_16_T8N;
use schism_interface::{BlockInput, SeqTx};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// One folder for the whole run, its files rewritten for every input.
fn folder() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
}

fuzz_target!(|data: &[u8]| {
    let Some(printed) = shared::Printed::of(data) else { return };
    let (alloc, trace) = match printed.stderr.iter().position(|b| *b == 0) {
        Some(i) => (&printed.stderr[..i], &printed.stderr[i + 1..]),
        None => (&printed.stderr[..], &[][..]),
    };
    let dir = folder().path();
    for (name, bytes) in [(RESULT_OUT, &printed.stdout[..]), (ALLOC_OUT, alloc), ("trace-0-0x00.jsonl", trace)] {
        std::fs::write(dir.join(name), bytes).expect("write an output file");
    }
    let case = shared::case();
    let block = BlockInput {
        fork: case.fork,
        chain_id: case.chain_id,
        blob_params: case.blob_params,
        pre: case.pre.clone(),
        env: case.env.clone(),
        block_hashes: Arc::new(BTreeMap::new()),
        txs: vec![SeqTx { tx: case.tx.clone(), raw: None }; 1 + usize::from(printed.choice & 3)],
        withdrawals: None,
        ommers: Vec::new(),
    };
    // Today's dialect and geth 1.9's (bare rejected indexes, no `gasUsed`, `receiptRoot`).
    for dialect in [Dialect::CURRENT, GETH_1_9_16_T8N.dialect] {
        let _ = read_outputs(&block, &dialect, dir, printed.mode);
    }
});
