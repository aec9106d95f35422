//! Canaries: the farm fuzzes healthy revm against builds of revm with one planted bug each
//! (see `schism_revm::Mutant`) and reports, per mutant and seed, whether it found the difference,
//! how long it took and after how many executions. Over several seeds this gives the farm's
//! mutation score: the share of mutants found under every seed, and how fast. Farm operators run
//! this to know their farm can find bugs at all.

use super::FuzzError;
use super::farm::{ClientFactory, FarmOptions, fuzz};
use crate::registry::{Canary, canaries, canary_clients};
use serde::Serialize;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

/// What a self-test runs.
#[derive(Clone, Debug)]
pub struct SelftestOptions {
    /// Time allowed per mutant and seed.
    pub budget: Duration,
    /// Only these mutants (default: all).
    pub mutants: Vec<String>,
    /// Where findings are filed: `<crashes>/<mutant>/`, or `<crashes>/<mutant>/seed-<s>/` when
    /// there are several seeds.
    pub crashes: PathBuf,
    /// Fuzzing jobs per run.
    pub jobs: usize,
    /// The first seed: each mutant runs under `seed`, `seed + 1`, … (`seeds` of them).
    pub seed: u64,
    /// How many seeds each mutant runs under, each run from an empty corpus.
    pub seeds: NonZeroUsize,
    /// Show the farm's live status line.
    pub status: bool,
}

impl SelftestOptions {
    /// The seeds every mutant runs under: `seed`, `seed + 1`, … (wrapping at `u64::MAX`).
    pub fn seed_list(&self) -> Vec<u64> {
        (0..self.seeds.get() as u64).map(|i| self.seed.wrapping_add(i)).collect()
    }

    /// Where the run of `mutant` under `seed` files its findings: one folder per mutant with one
    /// seed (the layout CI globs), one per mutant and seed with several.
    pub fn crashes_for(&self, mutant: &str, seed: u64) -> PathBuf {
        let folder = self.crashes.join(mutant);
        if self.seeds.get() == 1 { folder } else { folder.join(format!("seed-{seed}")) }
    }
}

/// One run: one mutant fuzzed from an empty corpus under one seed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SeedRun {
    /// The farm's seed.
    pub seed: u64,
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

/// The result for one mutant over all its seeds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CanaryResult {
    /// The mutant's name.
    pub mutant: String,
    /// What it breaks.
    pub description: String,
    /// Whether the farm found it under every seed (a kill).
    pub found: bool,
    /// Under how many seeds the farm found it.
    pub found_in: usize,
    /// How many seeds it ran under.
    pub seeds: usize,
    /// Median seconds to the first divergence over the seeds that found it (`None`: none did).
    pub median_seconds: Option<f64>,
    /// Median executions to the first divergence over the seeds that found it (`None`: none did).
    pub median_executions: Option<f64>,
    /// Each seed's run, in seed order.
    pub runs: Vec<SeedRun>,
}

impl CanaryResult {
    /// Aggregates a mutant's runs: found under how many seeds, and the medians over those seeds.
    pub fn from_runs(mutant: &str, description: &str, runs: Vec<SeedRun>) -> CanaryResult {
        let hits: Vec<&SeedRun> = runs.iter().filter(|r| r.found).collect();
        let seconds: Vec<f64> = hits.iter().map(|r| r.seconds).collect();
        let executions: Vec<f64> = hits.iter().map(|r| r.executions as f64).collect();
        CanaryResult {
            mutant: mutant.to_owned(),
            description: description.to_owned(),
            found: !runs.is_empty() && hits.len() == runs.len(),
            found_in: hits.len(),
            seeds: runs.len(),
            median_seconds: median(&seconds),
            median_executions: median(&executions),
            runs,
        }
    }
}

/// The mutation score of a self-test.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Seeds each mutant ran under.
    pub seeds: usize,
    /// The first of them (the others follow it: a run is repeated with `--seed` this).
    pub first_seed: u64,
    /// Time allowed per mutant and seed, in seconds.
    pub budget_s: f64,
    /// Mutants found under every seed (the kill rate's numerator).
    pub killed: usize,
    /// Mutants run (the kill rate's denominator).
    pub mutants: usize,
    /// Mutants found under at least one seed.
    pub found_in_some: usize,
    /// Median, over the killed mutants, of their median seconds to be found (`None`: no kill).
    pub median_seconds_to_kill: Option<f64>,
}

impl Summary {
    /// Scores `results`, which ran under `seeds` seeds from `first_seed` with `budget` each.
    pub fn of(results: &[CanaryResult], seeds: usize, first_seed: u64, budget: Duration) -> Summary {
        let killed: Vec<f64> = results.iter().filter(|r| r.found).filter_map(|r| r.median_seconds).collect();
        Summary {
            seeds,
            first_seed,
            budget_s: budget.as_secs_f64(),
            killed: results.iter().filter(|r| r.found).count(),
            mutants: results.len(),
            found_in_some: results.iter().filter(|r| r.found_in > 0).count(),
            median_seconds_to_kill: median(&killed),
        }
    }

    /// Whether every mutant was found under every seed.
    pub fn all_killed(&self) -> bool {
        self.killed == self.mutants
    }
}

/// What a self-test found: the score, then each mutant with its runs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SelftestReport {
    /// The mutation score.
    pub summary: Summary,
    /// Each mutant's aggregate and runs, in the order run.
    pub mutants: Vec<CanaryResult>,
    /// The run a signal stopped (Ctrl-C, SIGTERM), when one did: the suite ended there, and
    /// that mutant is left out of the results (a cut run is neither a find nor a miss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
}

/// Where a signal stopped a suite.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Interrupted {
    /// The mutant (or target) being fuzzed.
    pub mutant: String,
    /// Its seed.
    pub seed: u64,
    /// Seconds it had fuzzed.
    pub seconds: f64,
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[mid]),
        _ => Some((sorted[mid - 1] + sorted[mid]) / 2.0),
    }
}

/// The canaries named in `names` (all when empty), in that order.
fn choose(names: &[String]) -> Result<Vec<Canary>, FuzzError> {
    let all = canaries();
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|c| c.name == name)
                .copied()
                .ok_or_else(|| FuzzError::UnknownMutant { name: name.clone(), known: all.iter().map(|c| c.name.to_owned()).collect() })
        })
        .collect()
}

/// Runs the farm once per mutant and seed, each from an empty corpus, stopping at the first
/// divergence; `progress` sees each mutant once all its seeds have run.
pub fn selftest(options: &SelftestOptions, mut progress: impl FnMut(&CanaryResult)) -> Result<SelftestReport, FuzzError> {
    let chosen = choose(&options.mutants)?;
    let seeds = options.seed_list();
    let mut results = Vec::with_capacity(chosen.len());
    let mut interrupted = None;
    'canaries: for canary in chosen {
        let mut runs = Vec::with_capacity(seeds.len());
        for &seed in &seeds {
            let (run, signalled) = run_once(options, canary, seed)?;
            if signalled && !run.found {
                interrupted = Some(Interrupted { mutant: canary.name.to_owned(), seed, seconds: run.seconds });
                break 'canaries;
            }
            runs.push(run);
        }
        let result = CanaryResult::from_runs(canary.name, canary.description, runs);
        progress(&result);
        results.push(result);
    }
    Ok(SelftestReport { summary: Summary::of(&results, seeds.len(), options.seed, options.budget), mutants: results, interrupted })
}

/// Fuzzes one mutant under one seed from a fresh, temporary corpus; true beside the run when a
/// signal stopped the farm.
fn run_once(options: &SelftestOptions, canary: Canary, seed: u64) -> Result<(SeedRun, bool), FuzzError> {
    let corpus = tempfile::Builder::new()
        .prefix("schism-selftest-")
        .tempdir()
        .map_err(|source| FuzzError::Io { path: std::env::temp_dir(), source })?;
    let name = canary.name;
    let farm = FarmOptions {
        clients: ClientFactory::new(move || canary_clients(name)),
        jobs: options.jobs,
        duration: Some(options.budget),
        corpus: corpus.path().to_path_buf(),
        crashes: options.crashes_for(name, seed),
        fork: None,
        seed: Some(seed),
        stats: None,
        status: options.status,
        set_aside: Vec::new(),
        sought: None,
        stop_on_divergence: true,
        minimise: Some(crate::triage::Budget::default()),
        slow: None,
        // A single-transaction mutant is looked for in single transactions, where its
        // finding is blamed on its instruction; the block-level one in sequences only.
        sequences: if canary.block_level { 1.0 } else { 0.0 },
        keep_inputs: super::farm::DEFAULT_KEEP_INPUTS,
        node: Default::default(),
        metrics: None,
    };
    let summary = fuzz(&farm)?;
    let stats = &summary.stats;
    let first = stats.first_finding.as_ref();
    let run = SeedRun {
        seed,
        found: first.is_some(),
        seconds: first.map_or(stats.elapsed_s, |f| f.seconds),
        executions: first.map_or(stats.executions, |f| f.executions),
        signature: first.map(|f| f.signature.clone()),
        filed_seconds: first.and_then(|f| f.filed_seconds),
        instructions_before: first.and_then(|f| f.instructions_before),
        instructions_after: first.and_then(|f| f.instructions_after),
        folder: first.and_then(|f| f.folder.clone()),
    };
    Ok((run, summary.signalled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, found: bool, seconds: f64, executions: u64) -> SeedRun {
        SeedRun {
            seed,
            found,
            seconds,
            executions,
            signature: None,
            filed_seconds: None,
            instructions_before: None,
            instructions_after: None,
            folder: None,
        }
    }

    #[test]
    fn the_median_takes_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0]), Some(4.0));
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0), "odd count, unsorted");
        assert_eq!(median(&[8.0, 2.0, 4.0, 1.0]), Some(3.0), "even count: mean of 2 and 4");
        assert_eq!(median(&[1.0, 1.0]), Some(1.0));
    }

    #[test]
    fn a_mutant_is_killed_only_when_every_seed_finds_it_and_its_medians_count_only_finds() {
        let all = CanaryResult::from_runs("m", "d", vec![run(7, true, 1.0, 100), run(8, true, 3.0, 301)]);
        assert!(all.found);
        assert_eq!((all.found_in, all.seeds), (2, 2));
        assert_eq!((all.median_seconds, all.median_executions), (Some(2.0), Some(200.5)));

        // The miss's 60 s (its whole budget) is no time to find it.
        let some = CanaryResult::from_runs("m", "d", vec![run(7, true, 1.0, 100), run(8, false, 60.0, 90_000), run(9, true, 5.0, 500)]);
        assert!(!some.found);
        assert_eq!((some.found_in, some.seeds), (2, 3));
        assert_eq!((some.median_seconds, some.median_executions), (Some(3.0), Some(300.0)));
        assert_eq!(some.runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [7, 8, 9]);

        let none = CanaryResult::from_runs("m", "d", vec![run(7, false, 60.0, 90_000)]);
        assert!(!none.found);
        assert_eq!((none.found_in, none.median_seconds, none.median_executions), (0, None, None));
        assert!(!CanaryResult::from_runs("m", "d", Vec::new()).found, "no run finds nothing");
    }

    #[test]
    fn the_summary_counts_kills_and_takes_the_median_over_killed_mutants_only() {
        let results = [
            CanaryResult::from_runs("a", "", vec![run(1, true, 1.0, 10), run(2, true, 3.0, 30)]),
            CanaryResult::from_runs("b", "", vec![run(1, true, 10.0, 10), run(2, true, 10.0, 30)]),
            CanaryResult::from_runs("c", "", vec![run(1, true, 0.5, 10), run(2, false, 60.0, 30)]),
            CanaryResult::from_runs("d", "", vec![run(1, false, 60.0, 10), run(2, false, 60.0, 30)]),
        ];
        let summary = Summary::of(&results, 2, 1, Duration::from_secs(60));
        assert_eq!((summary.killed, summary.mutants, summary.found_in_some), (2, 4, 3));
        assert_eq!(summary.median_seconds_to_kill, Some(6.0), "median of a's 2 s and b's 10 s; c is no kill");
        assert_eq!((summary.seeds, summary.first_seed, summary.budget_s), (2, 1, 60.0));
        assert!(!summary.all_killed());

        let empty = Summary::of(&[], 1, 0, Duration::from_secs(1));
        assert_eq!((empty.killed, empty.mutants, empty.median_seconds_to_kill), (0, 0, None));
        assert!(empty.all_killed(), "nothing planted, nothing missed");
    }

    #[test]
    fn seeds_follow_the_first_and_one_seed_keeps_one_folder_per_mutant() {
        let mut options = SelftestOptions {
            budget: Duration::from_secs(1),
            mutants: Vec::new(),
            crashes: PathBuf::from("c"),
            jobs: 1,
            seed: u64::MAX,
            seeds: NonZeroUsize::MIN,
            status: false,
        };
        assert_eq!(options.seed_list(), [u64::MAX]);
        assert_eq!(options.crashes_for("m", u64::MAX), PathBuf::from("c/m"));
        options.seeds = NonZeroUsize::new(3).expect("3");
        assert_eq!(options.seed_list(), [u64::MAX, 0, 1], "wraps");
        assert_eq!(options.crashes_for("m", 0), PathBuf::from("c/m/seed-0"));
    }

    #[test]
    fn an_unknown_mutant_is_named_with_the_known_ones() {
        let Err(error) = choose(&["no-such-mutant".to_owned()]) else { panic!("accepted an unknown mutant") };
        assert!(error.to_string().starts_with("unknown mutant `no-such-mutant`"), "{error}");
    }
}
