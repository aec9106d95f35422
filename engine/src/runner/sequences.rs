//! Blockchain tests in `schism run`: every sequence of every blockchain_test file on every
//! client, judged against the fixture (each invalid block rejected, the head's state and hash
//! as expected) and compared block by block across clients. Clients with their own
//! blockchain-test runner (geth's `evm blocktest`) are judged by it, once per file.

use crate::chain::compare::{ChainDivergence, compare};
use crate::chain::{self, ChainMismatch, ChainRun};
use rayon::prelude::*;
use schism_interface::{Client, ClientError, Fork, NativeVerdict, Sequence, TraceMode};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        kind: &'static str,
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
    /// Where the clients that ran it block by block part ways.
    pub divergence: Option<ChainDivergence>,
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
                .map(|c| {
                    c.run_blockchain_file(&file.path)
                        .map(|r| r.map(|v| v.into_iter().map(|n| (n.test.clone(), n)).collect()))
                })
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
    let per_client: Vec<((ChainResult, Duration), Option<ChainRun>)> = clients
        .par_iter()
        .enumerate()
        .map(|(i, client)| run_one(client.as_ref(), seq, native.get(i).and_then(Option::as_ref)))
        .collect();
    let mut results = Vec::new();
    let mut runs = Vec::new();
    for (client, (result, run)) in clients.iter().zip(per_client) {
        results.push(result);
        if let Some(run) = run {
            runs.push((client.id().to_owned(), run));
        }
    }
    let refs: Vec<(String, &ChainRun)> = runs.iter().map(|(id, r)| (id.clone(), r)).collect();
    SequenceResult {
        file: seq.file.clone(),
        test: seq.test.clone(),
        network: seq.schedule.network(),
        clients: results,
        divergence: if refs.len() > 1 { compare(&refs) } else { None },
    }
}

/// Why `client` cannot run `seq`, if it cannot.
pub fn skip_reason(client: &dyn Client, seq: &Sequence) -> Option<String> {
    if let Some(reason) = seq.unsupported {
        return Some(reason.to_owned());
    }
    for fork in seq.schedule.forks() {
        if !client.supports(fork) {
            return Some(format!("fork {fork} not supported"));
        }
        if let Some(reason) = client.block_skip(fork) {
            return Some(reason.to_owned());
        }
    }
    None
}

fn run_one(
    client: &dyn Client,
    seq: &Sequence,
    native: Option<&Result<HashMap<String, NativeVerdict>, ClientError>>,
) -> ((ChainResult, Duration), Option<ChainRun>) {
    if let Some(native) = native {
        let result = match native {
            Ok(verdicts) => match verdicts.get(&*seq.test) {
                Some(v) if v.pass => ChainResult::Pass,
                Some(v) => ChainResult::Fail {
                    mismatches: vec![ChainMismatch::Native { detail: v.detail.clone().unwrap_or_default() }],
                },
                None => ChainResult::Error { kind: "malformed_output", message: format!("no verdict on {}", seq.test) },
            },
            Err(e) => ChainResult::Error { kind: e.kind(), message: e.to_string() },
        };
        return ((result, Duration::ZERO), None);
    }
    if let Some(reason) = skip_reason(client, seq) {
        return ((ChainResult::Skip { reason }, Duration::ZERO), None);
    }
    let start = Instant::now();
    let run = super::guarded(client.id(), || chain::run(client, seq, TraceMode::Off));
    let took = start.elapsed();
    match run {
        Ok(run) => {
            let mismatches = chain::check(seq, &run);
            let result = if mismatches.is_empty() { ChainResult::Pass } else { ChainResult::Fail { mismatches } };
            ((result, took), Some(run))
        }
        Err(e) => ((ChainResult::Error { kind: e.kind(), message: e.to_string() }, took), None),
    }
}
