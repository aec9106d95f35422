//! Blockchain tests in `schism run`: every sequence of every blockchain_test file on every
//! client, judged against the fixture (each invalid block rejected, the head's state and hash
//! as expected) and compared block by block across clients. Clients with their own
//! blockchain-test runner (geth's `evm blocktest`) are judged by it, once per file.

use crate::chain::compare::compare;
use crate::chain::{self, ChainMismatch, ChainRun};
use crate::compare::Verdict;
use crate::panel::{Call, Entry, Excuse, Order, Panel};
use rayon::prelude::*;
use schism_interface::{Client, ClientError, Fork, NativeVerdict, Sequence, TraceMode};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The sequences of one blockchain_test file.
#[derive(Clone, Debug)]
pub struct SequenceFile {
    /// The file.
    pub path: PathBuf,
    /// Its tests.
    pub sequences: Vec<Sequence>,
}

/// What one client made of one sequence.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ChainResult {
    /// As the fixture expects.
    Pass,
    /// Not as the fixture expects.
    Fail {
        /// How.
        mismatches: Vec<ChainMismatch>,
    },
    /// Not executed.
    Skip {
        /// Why.
        reason: String,
    },
    /// The client produced no outcome.
    Error {
        /// The kind of fault.
        kind: String,
        /// The failure.
        message: String,
    },
}

/// Everything learnt about one sequence.
#[derive(Clone, Debug)]
pub struct SequenceResult {
    /// File.
    pub file: Arc<str>,
    /// Test name.
    pub test: Arc<str>,
    /// Fork schedule name.
    pub network: String,
    /// One entry per client, in selection order.
    pub clients: Vec<(ChainResult, Duration)>,
    /// How the clients that ran it block by block compare.
    pub verdict: Verdict,
}

/// Per client, its own runner's verdicts on one file, when it has a runner.
type NativeVerdicts = Option<Result<HashMap<String, NativeVerdict>, ClientError>>;

/// Runs every sequence of `files` on `clients` (only sequences whose forks are all in `forks`,
/// when it is not empty).
pub fn run_files(files: &[SequenceFile], clients: &[Arc<dyn Client>], forks: &[Fork], progress: bool) -> Vec<SequenceResult> {
    let total = files.iter().map(|f| f.sequences.len()).sum::<usize>();
    let bar = super::progress_bar(progress && total > 0, total);
    let out = files
        .par_iter()
        .flat_map_iter(|file| {
            let native: Vec<NativeVerdicts> = clients
                .iter()
                .map(|c| c.run_blockchain_file(&file.path).map(|r| r.map(|v| v.into_iter().map(|n| (n.test.clone(), n)).collect())))
                .collect();
            let results: Vec<SequenceResult> = file
                .sequences
                .iter()
                .filter(|s| forks.is_empty() || s.schedule.forks().iter().all(|f| forks.contains(f)))
                .map(|seq| {
                    let r = run_sequence(seq, clients, &native);
                    bar.inc(1);
                    r
                })
                .collect();
            results
        })
        .collect();
    bar.finish_and_clear();
    out
}

/// Runs one sequence on every client; `native` holds, per client, its own runner's verdicts on
/// the file when it has a runner.
pub fn run_sequence(seq: &Sequence, clients: &[Arc<dyn Client>], native: &[NativeVerdicts]) -> SequenceResult {
    let own = |i: usize| native.get(i).and_then(Option::as_ref);
    // Clients with their own runner are judged by it; the others import the blocks on a panel.
    let driven: Vec<Arc<dyn Client>> = clients.iter().enumerate().filter(|(i, _)| own(*i).is_none()).map(|(_, c)| c.clone()).collect();
    let call = Call { trace: TraceMode::Off, excuse: Excuse::Before, order: Order::Parallel, observer: None };
    let mut seats = Panel::new(&driven).run(seq, call).into_iter();
    let mut results = Vec::with_capacity(clients.len());
    let mut runs = Vec::new();
    for i in 0..clients.len() {
        if let Some(native) = own(i) {
            results.push((judge_native(seq, native), Duration::ZERO));
            continue;
        }
        let Some(seat) = seats.next() else { break };
        let result = match seat.entry {
            Entry::Ran(run) => {
                let mismatches = chain::check(seq, &run);
                let result = if mismatches.is_empty() { ChainResult::Pass } else { ChainResult::Fail { mismatches } };
                runs.push((seat.label, run));
                result
            }
            Entry::Fault(f) => ChainResult::Error { kind: f.kind, message: f.message },
            Entry::Unsupported(reason) => ChainResult::Skip { reason },
            Entry::Excused(known) => ChainResult::Skip { reason: format!("known difference {}", known.id) },
        };
        results.push((result, seat.took));
    }
    let refs: Vec<(String, &ChainRun)> = runs.iter().map(|(id, r)| (id.clone(), r)).collect();
    SequenceResult {
        file: seq.file.clone(),
        test: seq.test.clone(),
        network: seq.schedule.network(),
        clients: results,
        verdict: compare(&refs),
    }
}

/// A client's own runner's verdict on one sequence of the file.
fn judge_native(seq: &Sequence, native: &Result<HashMap<String, NativeVerdict>, ClientError>) -> ChainResult {
    match native {
        Ok(verdicts) => match verdicts.get(&*seq.test) {
            Some(v) if v.pass => ChainResult::Pass,
            Some(v) => ChainResult::Fail { mismatches: vec![ChainMismatch::Native { detail: v.detail.clone().unwrap_or_default() }] },
            None => ChainResult::Error { kind: "malformed_output".to_owned(), message: format!("no verdict on {}", seq.test) },
        },
        Err(e) => ChainResult::Error { kind: e.kind().to_owned(), message: e.to_string() },
    }
}
