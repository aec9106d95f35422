//! Canaries: the farm fuzzes healthy revm against builds of revm with one planted bug each
//! (see `schism_revm::Mutant`) and reports, per mutant, whether it found the difference, how
//! long it took and after how many executions. Farm operators run this to know their farm can
//! find bugs at all.

use super::FuzzError;
use super::farm::{ClientFactory, FarmOptions, fuzz};
use crate::registry::{Canary, canaries, canary_clients};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// What a self-test runs.
#[derive(Clone, Debug)]
pub struct SelftestOptions {
    /// Time allowed per mutant.
    pub budget: Duration,
    /// Only these mutants (default: all).
    pub mutants: Vec<String>,
    /// Where each mutant's findings are filed: `<crashes>/<mutant>/`.
    pub crashes: PathBuf,
    /// Fuzzing jobs per mutant.
    pub jobs: usize,
    /// Seed of the farm (the same for every mutant).
    pub seed: Option<u64>,
    /// Show the farm's live status line.
    pub status: bool,
}

/// The result for one mutant.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CanaryResult {
    /// The mutant's name.
    pub mutant: String,
    /// What it breaks.
    pub description: String,
    /// Whether the farm found a divergence within the budget.
    pub found: bool,
    /// Seconds until the first divergence (when found), else the time fuzzed.
    pub seconds: f64,
    /// Executions until the first divergence (when found), else all executions.
    pub executions: u64,
    /// The signature of the first finding, filed under the crashes folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Seconds from the divergent input to its filed folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_seconds: Option<f64>,
    /// Instructions of the case as found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions_before: Option<usize>,
    /// Instructions after minimisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions_after: Option<usize>,
    /// The filed folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
}

/// Runs the farm once per mutant, each from an empty corpus, stopping at the first divergence.
pub fn selftest(options: &SelftestOptions, mut progress: impl FnMut(&CanaryResult)) -> Result<Vec<CanaryResult>, FuzzError> {
    let all = canaries();
    let chosen: Vec<Canary> = if options.mutants.is_empty() {
        all
    } else {
        options
            .mutants
            .iter()
            .map(|name| {
                all.iter().find(|c| c.name == name).copied().ok_or_else(|| {
                    FuzzError::Engine(format!(
                        "unknown mutant `{name}` (known: {})",
                        all.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut results = Vec::with_capacity(chosen.len());
    for canary in chosen {
        let corpus = tempfile::Builder::new()
            .prefix("schism-selftest-")
            .tempdir()
            .map_err(|source| FuzzError::Io { path: std::env::temp_dir(), source })?;
        let crashes = options.crashes.join(canary.name);
        let name = canary.name;
        let farm = FarmOptions {
            clients: ClientFactory::new(move || canary_clients(name)),
            jobs: options.jobs,
            duration: Some(options.budget),
            corpus: corpus.path().to_path_buf(),
            crashes: crashes.clone(),
            fork: None,
            seed: options.seed,
            stats: None,
            status: options.status,
            stop_on_divergence: true,
            minimise: Some(crate::triage::Budget::default()),
            slow: None,
            // A single-transaction mutant is looked for in single transactions, where its
            // finding is blamed on its instruction; the block-level one in sequences only.
            sequences: if canary.block_level { 1.0 } else { 0.0 },
        };
        let summary = fuzz(&farm)?;
        let stats = &summary.stats;
        let first = stats.first_finding.as_ref();
        let result = CanaryResult {
            mutant: canary.name.to_owned(),
            description: canary.description.to_owned(),
            found: first.is_some(),
            seconds: first.map_or(stats.elapsed_s, |f| f.seconds),
            executions: first.map_or(stats.executions, |f| f.executions),
            signature: first.map(|f| f.signature.clone()),
            filed_seconds: first.and_then(|f| f.filed_seconds),
            instructions_before: first.and_then(|f| f.instructions_before),
            instructions_after: first.and_then(|f| f.instructions_after),
            folder: first.and_then(|f| f.folder.clone()),
        };
        progress(&result);
        results.push(result);
    }
    Ok(results)
}
