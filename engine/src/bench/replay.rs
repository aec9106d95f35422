//! `schism bench --corpus DIR`: a fixed set of fuzz inputs replayed through the fuzzing
//! harness, the harness's own cost per case measured apart from each client's execution.
//!
//! Each entry runs `repeat` times through one [`Harness`] (the farm's, with the same clients,
//! feature recorder and comparison). Per run, the harness's statistics before and after give
//! the time inside the harness, inside each client and compiling; the harness's own cost is
//! the first minus the clients'. Minimisation and the slow rule are off (a finding is filed
//! as found into a temporary folder, and counted), so that the figures are the fuzzing path's.
//! Each run gets a fresh clone of its entry, made before the clock starts, as the farm's
//! mutational stage clones an entry before mutating and running it: the harness meets its
//! input in the cache, as in a farm, not as an entry last read a hundred runs ago.
//! What the replay does not see is LibAFL's part (mutation, scheduling, corpus files): the
//! farm's `client_share` statistic covers that. As in a farm's job, in-process clients run on
//! the replay's own thread under a [`crate::deadline::Watchdog`]: an entry a client hangs on
//! past its deadline ends the replay with exit code 2, naming the entry.

use super::BenchError;
use crate::fuzz::{Blueprint, Harness, HarnessOptions, HarnessStats, MAP_SIZE};
use schism_interface::{Client, FixtureError};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `schism bench --corpus` is asked to do.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The corpus folder (one JSON blueprint per file, as `schism fuzz` writes it).
    pub corpus: PathBuf,
    /// Runs of each entry.
    pub repeat: usize,
}

/// Time of one client over the replay.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClientCost {
    /// Client label.
    pub id: String,
    /// Runs in which it executed.
    pub runs: u64,
    /// Seconds over every run.
    pub total_s: f64,
    /// Median microseconds per run it executed.
    pub median_us: f64,
}

/// The harness's own cost on the runs of one kind of input: single state tests or block
/// sequences (a sequence compiles several transactions over several blocks, and the farm runs
/// both, in the mix its `--sequences` share sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindCost {
    /// `state test` or `block sequence`.
    pub kind: &'static str,
    /// Runs of this kind.
    pub runs: u64,
    /// Median microseconds of the harness's own work per run.
    pub harness_median_us: f64,
    /// Median microseconds compiling an input per run.
    pub compile_median_us: f64,
}

/// The figures of a replay.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Entries replayed.
    pub entries: usize,
    /// Runs (entries times repeat).
    pub runs: u64,
    /// Runs that were findings (filed as found, not minimised).
    pub divergent_runs: u64,
    /// Mean instructions per run on the observed client.
    pub mean_instructions: f64,
    /// Median microseconds of the harness's own work per run (everything in the harness but
    /// the clients).
    pub harness_median_us: f64,
    /// Seconds of the harness's own work over every run.
    pub harness_total_s: f64,
    /// Of those, seconds compiling inputs.
    pub compile_total_s: f64,
    /// Median microseconds compiling an input per run.
    pub compile_median_us: f64,
    /// Seconds inside the harness over every run, clients included.
    pub total_s: f64,
    /// The clients' share of the time inside the harness.
    pub client_share: f64,
    /// Per client.
    pub clients: Vec<ClientCost>,
    /// Per kind of input: state tests, then block sequences (a kind without runs left out).
    pub kinds: Vec<KindCost>,
    /// Entries that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl ReplayReport {
    /// The table a terminal shows.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} entries, {} runs ({} divergent), {:.0} instructions per run on the observed client",
            self.entries, self.runs, self.divergent_runs, self.mean_instructions
        );
        let _ = writeln!(out, "{:<22} {:>10} {:>12} {:>8}", "part", "total s", "median µs", "share");
        let share = |s: f64| if self.total_s > 0.0 { 100.0 * s / self.total_s } else { 0.0 };
        let _ = writeln!(
            out,
            "{:<22} {:>10.3} {:>12.1} {:>7.1}%",
            "harness (own work)",
            self.harness_total_s,
            self.harness_median_us,
            share(self.harness_total_s)
        );
        let _ = writeln!(
            out,
            "{:<22} {:>10.3} {:>12.1} {:>7.1}%",
            "  of which compiling",
            self.compile_total_s,
            self.compile_median_us,
            share(self.compile_total_s)
        );
        for c in &self.clients {
            let _ = writeln!(out, "{:<22} {:>10.3} {:>12.1} {:>7.1}%", c.id, c.total_s, c.median_us, share(c.total_s));
        }
        for k in &self.kinds {
            let _ = writeln!(
                out,
                "{}s: {} runs, harness median {:.1} µs, of which compiling {:.1} µs",
                k.kind, k.runs, k.harness_median_us, k.compile_median_us
            );
        }
        let _ = writeln!(out, "in clients: {:.1}% of the time inside the harness", 100.0 * self.client_share);
        for (path, reason) in &self.unreadable {
            let _ = writeln!(out, "skipped {}: {reason}", path.display());
        }
        out
    }
}

/// The corpus entries of `dir`, sorted by name (LibAFL's hidden working copies left out).
fn entries(dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    let read = std::fs::read_dir(dir).map_err(|source| FixtureError::Io { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = read
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(BenchError::EmptyCorpus { dir: dir.to_path_buf() });
    }
    Ok(files)
}

/// The median of `values` (sorted in place); zero for none.
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

/// The per-kind costs of runs whose own and compile microseconds are `own` and `compile`, and
/// which were block sequences where `sequence` says so.
fn kind_costs(own: &[f64], compile: &[f64], sequence: &[bool]) -> Vec<KindCost> {
    let mut kinds = Vec::new();
    for (kind, is_sequence) in [("state test", false), ("block sequence", true)] {
        let runs: Vec<usize> = (0..own.len()).filter(|i| sequence.get(*i) == Some(&is_sequence)).collect();
        if runs.is_empty() {
            continue;
        }
        let mut own: Vec<f64> = runs.iter().map(|i| own[*i]).collect();
        let mut compile: Vec<f64> = runs.iter().map(|i| compile[*i]).collect();
        kinds.push(KindCost {
            kind,
            runs: runs.len() as u64,
            harness_median_us: median(&mut own),
            compile_median_us: median(&mut compile),
        });
    }
    kinds
}

/// Replays the corpus through a harness over `clients`.
pub fn replay(options: &ReplayOptions, clients: &[Arc<dyn Client>]) -> Result<ReplayReport, BenchError> {
    if options.repeat == 0 {
        return Err(BenchError::ZeroRepeat);
    }
    let files = entries(&options.corpus)?;
    let mut report = ReplayReport::default();
    let mut inputs = Vec::with_capacity(files.len());
    let mut paths = Vec::with_capacity(files.len());
    for path in files {
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Blueprint>(&b).map_err(|e| e.to_string()))
        {
            Ok(input) => {
                inputs.push(input);
                paths.push(path);
            }
            Err(reason) => report.unreadable.push((path, reason)),
        }
    }
    let paths = Arc::new(paths);
    let current = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _watchdog = {
        let (paths, current) = (paths.clone(), current.clone());
        crate::deadline::Watchdog::start(move |hang| {
            let entry = paths.get(current.load(std::sync::atomic::Ordering::Relaxed));
            eprintln!(
                "error: {} ran {} for {:.1}s, past its deadline of {:.1}s; the replay stops",
                hang.client,
                entry.map_or_else(|| "an entry".to_owned(), |p| p.display().to_string()),
                hang.elapsed.as_secs_f64(),
                hang.timeout.as_secs_f64()
            );
            std::process::exit(2)
        })
    };
    report.entries = inputs.len();
    let crashes = tempfile::tempdir().map_err(|source| FixtureError::Io { path: std::env::temp_dir(), source })?;
    let mut harness_options = HarnessOptions::new(clients.to_vec(), None, crashes.path().to_path_buf());
    harness_options.minimise = None;
    harness_options.slow = None;
    let mut harness = Harness::new(harness_options).map_err(|e| BenchError::Harness { detail: e.to_string() })?;
    let mut map = vec![0u8; MAP_SIZE];
    let labels: Vec<String> = harness.stats().per_client.iter().map(|c| c.id.clone()).collect();
    let mut own_us = Vec::new();
    let mut compile_us = Vec::new();
    // Per run: a block sequence, or a state test.
    let mut sequence = Vec::new();
    let mut client_us: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    for _ in 0..options.repeat {
        for (i, input) in inputs.iter().enumerate() {
            current.store(i, std::sync::atomic::Ordering::Relaxed);
            let before: HarnessStats = harness.stats().clone();
            map.fill(0);
            sequence.push(harness.is_sequence(input));
            // The farm's mutational stage runs a fresh clone of a corpus entry (LibAFL clones it,
            // then mutates it), so its harness meets an input just written; so does this one.
            let input = input.clone();
            harness.run(&input, &mut map);
            let after = harness.stats();
            let clients = after.client_seconds() - before.client_seconds();
            own_us.push(1e6 * ((after.seconds - before.seconds) - clients).max(0.0));
            compile_us.push(1e6 * (after.compile_seconds - before.compile_seconds));
            for (i, (a, b)) in after.per_client.iter().zip(&before.per_client).enumerate() {
                if a.cases > b.cases {
                    client_us[i].push(1e6 * (a.seconds - b.seconds));
                }
            }
        }
    }
    let stats = harness.stats();
    report.runs = stats.executions;
    report.divergent_runs = stats.divergences + stats.known;
    report.mean_instructions = if stats.executions > 0 { stats.opcodes as f64 / stats.executions as f64 } else { 0.0 };
    report.total_s = stats.seconds;
    report.harness_total_s = (stats.seconds - stats.client_seconds()).max(0.0);
    report.compile_total_s = stats.compile_seconds;
    report.kinds = kind_costs(&own_us, &compile_us, &sequence);
    report.harness_median_us = median(&mut own_us);
    report.compile_median_us = median(&mut compile_us);
    report.client_share = if stats.seconds > 0.0 { stats.client_seconds() / stats.seconds } else { 0.0 };
    report.clients = labels
        .into_iter()
        .zip(stats.per_client.iter())
        .zip(client_us.iter_mut())
        .map(|((id, c), us)| ClientCost { id, runs: c.cases, total_s: c.seconds, median_us: median(us) })
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_split_into_state_tests_and_block_sequences() {
        let own = [10.0, 50.0, 12.0, 60.0, 14.0];
        let compile = [4.0, 30.0, 5.0, 40.0, 6.0];
        let kinds = kind_costs(&own, &compile, &[false, true, false, true, false]);
        assert_eq!(kinds.len(), 2);
        assert_eq!((kinds[0].kind, kinds[0].runs, kinds[0].harness_median_us, kinds[0].compile_median_us), ("state test", 3, 12.0, 5.0));
        assert_eq!(
            (kinds[1].kind, kinds[1].runs, kinds[1].harness_median_us, kinds[1].compile_median_us),
            ("block sequence", 2, 55.0, 35.0)
        );
        let only_tests = kind_costs(&own, &compile, &[false; 5]);
        assert_eq!(only_tests.len(), 1, "a kind without runs is left out");
        assert_eq!(only_tests[0].runs, 5);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    #[cfg(feature = "revm")]
    fn a_replay_splits_the_harness_from_the_clients() {
        // The replay's watchdog switches this process's in-process clients to direct runs.
        let _serial = crate::deadline::tests::serial();
        let dir = tempfile::tempdir().expect("temp");
        for i in 0..4u8 {
            let input = Blueprint::from_bytes(&[i; 64]);
            std::fs::write(dir.path().join(format!("{i}.json")), serde_json::to_vec(&input).expect("json")).expect("write");
        }
        std::fs::write(dir.path().join("broken.json"), b"{").expect("write");
        let clients = crate::registry::resolve(&["revm".to_owned()], &Default::default()).expect("revm");
        let report = replay(&ReplayOptions { corpus: dir.path().to_path_buf(), repeat: 2 }, &clients).expect("replay");
        assert_eq!((report.entries, report.runs), (4, 8));
        assert_eq!(report.unreadable.len(), 1, "the broken entry is named, the others run");
        assert_eq!(report.clients.len(), 2, "revm and its second run");
        assert!(report.clients.iter().all(|c| c.runs == 8 && c.total_s > 0.0));
        assert!(report.total_s >= report.harness_total_s + report.clients.iter().map(|c| c.total_s).sum::<f64>() - 1e-9);
        assert!(report.client_share > 0.0 && report.client_share < 1.0);
        assert!(report.table().contains("harness (own work)"));
    }

    #[test]
    fn an_empty_corpus_is_an_error_naming_the_folder() {
        let dir = tempfile::tempdir().expect("temp");
        let error = replay(&ReplayOptions { corpus: dir.path().to_path_buf(), repeat: 1 }, &[]).expect_err("empty");
        assert!(error.to_string().contains(&dir.path().display().to_string()));
    }
}
