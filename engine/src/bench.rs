//! Benchmarks: how fast each client executes the same workloads. Per client and workload, one
//! warm-up run (which also checks the result against the workload's fixture) and then `repeat`
//! timed runs; Mgas/s and cases/s come from the median, reported with the minimum and maximum.
//! Each client's fixed cost per case, measured on a plain value transfer, is reported apart
//! from execution, so a subprocess client's process and serialisation overhead does not pass
//! for slow execution.

mod plot;
pub mod replay;

pub use plot::write_plot;

use crate::runner::{ClientResult, execute_guarded, judge};
use schism_interface::load::{FixtureFile, collect_json_files, expand_file, parse_fixture, read_fixture};
use schism_interface::{Case, Client, FixtureError};
use serde::Serialize;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the workloads live, relative to the repository root.
pub const DEFAULT_DIR: &str = "corpus/bench";

/// Timed runs per client and workload when not told otherwise.
pub const DEFAULT_REPEAT: usize = 5;

/// Timed runs of the plain value transfer that gives a client's fixed cost per case.
const OVERHEAD_SAMPLES: usize = 25;

/// The plain value transfer (21000 gas) whose time is a client's fixed cost per case: state
/// set-up, the harness, for subprocess clients the process round trip, and the state root.
pub const VALUE_TRANSFER: &str = include_str!("bench/value-transfer.json");

/// What `schism bench` is asked to do.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The folder holding the workload files.
    pub dir: PathBuf,
    /// Workload names (file names without `.json`); empty for every workload in `dir`.
    pub workloads: Vec<String>,
    /// Timed runs per client and workload, after the warm-up.
    pub repeat: usize,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions { dir: PathBuf::from(DEFAULT_DIR), workloads: Vec::new(), repeat: DEFAULT_REPEAT }
    }
}

/// A benchmark that could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A workload file cannot be read or expanded.
    #[error(transparent)]
    Input(#[from] FixtureError),
    /// A workload asked for does not exist.
    #[error("no workload `{name}` in {} (known: {known})", dir.display())]
    UnknownWorkload {
        /// The name given.
        name: String,
        /// The folder searched.
        dir: PathBuf,
        /// The workloads it holds.
        known: String,
    },
    /// The workload folder holds no state test.
    #[error("no workload in {}", dir.display())]
    NoWorkloads {
        /// The folder searched.
        dir: PathBuf,
    },
    /// A workload file is not a state test.
    #[error("{}: a workload must be a state test file", path.display())]
    NotStateTest {
        /// The file.
        path: PathBuf,
    },
    /// The corpus folder holds no entry.
    #[error("no corpus entry (*.json) in {}", dir.display())]
    EmptyCorpus {
        /// The folder searched.
        dir: PathBuf,
    },
    /// The fuzzing harness cannot be built over these clients.
    #[error("cannot build the fuzzing harness: {detail}")]
    Harness {
        /// Why.
        detail: String,
    },
    /// `repeat` is zero.
    #[error("the number of timed runs must be at least 1")]
    ZeroRepeat,
    /// The plot's file name asks for a format this build cannot write.
    #[error("cannot draw {}: the plot is written as SVG, name it *.svg", path.display())]
    PlotFormat {
        /// The file asked for.
        path: PathBuf,
    },
    /// Drawing or writing the plot failed.
    #[error("cannot draw {}: {detail}", path.display())]
    Plot {
        /// The file.
        path: PathBuf,
        /// What the drawing library reported.
        detail: String,
    },
}

/// One workload: the cases of one file, timed together.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The file name without `.json`.
    pub name: String,
    /// Its cases (the project's workloads have one each).
    pub cases: Vec<Case>,
}

/// Median, minimum and maximum of timed runs, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Median (the mean of the two middle runs for an even count).
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
}

impl Stats {
    /// The statistics of some runs; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        let mut s: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        s.sort_by(f64::total_cmp);
        let (first, last) = (*s.first()?, *s.last()?);
        let mid = s.len() / 2;
        let median_s = if s.len() % 2 == 1 { s[mid] } else { (s[mid - 1] + s[mid]) / 2.0 };
        Some(Stats { median_s, min_s: first, max_s: last })
    }
}

/// The figures of one client on one workload, as `--json` writes them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Client id.
    pub client: String,
    /// Workload name.
    pub workload: String,
    /// Millions of gas per second at the median time.
    pub mgas_per_s: f64,
    /// Cases per second at the median time.
    pub cases_per_s: f64,
    /// Median time of one run of the workload.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// The client's fixed cost for the workload's cases (its per-case overhead times cases).
    pub overhead_s: f64,
    /// The median less the overhead: time spent executing.
    pub exec_s: f64,
    /// Gas used by one run of the workload.
    pub gas: u64,
    /// Cases in the workload.
    pub cases: usize,
    /// Timed runs.
    pub repeats: usize,
    /// The client's version.
    pub version: String,
}

impl Row {
    /// A row from the timed runs and the client's fixed cost per case.
    pub fn new(client: &dyn Client, workload: &Workload, gas: u64, stats: Stats, repeats: usize, overhead_per_case: f64) -> Row {
        let cases = workload.cases.len();
        let overhead_s = overhead_per_case * cases as f64;
        let per_second = |amount: f64| if stats.median_s > 0.0 { amount / stats.median_s } else { 0.0 };
        Row {
            client: client.id().to_owned(),
            workload: workload.name.clone(),
            mgas_per_s: per_second(gas as f64 / 1e6),
            cases_per_s: per_second(cases as f64),
            median_s: stats.median_s,
            min_s: stats.min_s,
            max_s: stats.max_s,
            overhead_s,
            exec_s: (stats.median_s - overhead_s).max(0.0),
            gas,
            cases,
            repeats,
            version: client.version().to_owned(),
        }
    }
}

/// A client's fixed cost per case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overhead {
    /// Client id.
    pub client: String,
    /// Median time of the plain value transfer.
    pub overhead_s: f64,
    /// Fastest and slowest of its runs.
    pub stats: Stats,
}

/// A client and workload that were not measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skip {
    /// Client id.
    pub client: String,
    /// Workload name.
    pub workload: String,
    /// Why.
    pub reason: String,
    /// True when the reason is the client getting the workload wrong (a failure, not a gap
    /// such as an unsupported fork or a documented missing feature).
    pub failed: bool,
}

/// Everything a benchmark measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BenchReport {
    /// One row per client and measured workload, workloads in order, clients in selection order.
    pub rows: Vec<Row>,
    /// Each client's fixed cost per case.
    pub overheads: Vec<Overhead>,
    /// What was not measured and why.
    pub skips: Vec<Skip>,
}

/// Reads the workloads: every state test file in `dir`, or the ones named.
pub fn load_workloads(dir: &Path, names: &[String]) -> Result<Vec<Workload>, BenchError> {
    let files = collect_json_files(&[dir.to_path_buf()])?;
    let name_of = |path: &Path| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let chosen: Vec<&PathBuf> = if names.is_empty() {
        files.iter().collect()
    } else {
        names
            .iter()
            .map(|name| {
                files.iter().find(|f| name_of(f) == *name).ok_or_else(|| BenchError::UnknownWorkload {
                    name: name.clone(),
                    dir: dir.to_path_buf(),
                    known: files.iter().map(|f| name_of(f)).collect::<Vec<_>>().join(", "),
                })
            })
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(BenchError::NoWorkloads { dir: dir.to_path_buf() });
    }
    chosen
        .into_iter()
        .map(|path| {
            let FixtureFile::State(file) = read_fixture(path)? else {
                return Err(BenchError::NotStateTest { path: path.clone() });
            };
            let (cases, mut errors) = expand_file(path, &file);
            match errors.pop() {
                Some(e) => Err(e.into()),
                None => Ok(Workload { name: name_of(path), cases }),
            }
        })
        .collect()
}

/// The plain value transfer, one case per fork it is filled for (Cancun, Prague, Osaka).
pub fn value_transfer_cases() -> Vec<Case> {
    let path = Path::new("value-transfer.json");
    match parse_fixture(path, VALUE_TRANSFER.as_bytes()) {
        Ok(FixtureFile::State(file)) => expand_file(path, &file).0,
        // The embedded file is the project's own and a unit test reads it.
        _ => Vec::new(),
    }
}

/// Why a client was not timed on some cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmeasured {
    /// Why.
    pub reason: String,
    /// True when the client got a case wrong or failed to run it; false for a gap such as an
    /// unsupported fork or a documented missing feature.
    pub failed: bool,
}

/// What measuring one client on one workload gave.
enum Measured {
    Timed { samples: Vec<Duration>, gas: Option<u64> },
    Skipped(Unmeasured),
}

/// Measures every client on every workload. `on_start(client, workload)` is called before each
/// measurement (for progress output).
pub fn run(options: &BenchOptions, clients: &[Arc<dyn Client>], on_start: &mut dyn FnMut(&str, &str)) -> Result<BenchReport, BenchError> {
    if options.repeat == 0 {
        return Err(BenchError::ZeroRepeat);
    }
    let workloads = load_workloads(&options.dir, &options.workloads)?;
    let transfer = value_transfer_cases();
    let mut report = BenchReport::default();
    let mut per_case_overhead = Vec::with_capacity(clients.len());
    for client in clients {
        on_start(client.id(), "value-transfer (overhead)");
        let overhead = transfer.iter().find(|c| client.supports(c.fork)).and_then(|case| {
            let one = std::slice::from_ref(case);
            match measure(client.as_ref(), one, OVERHEAD_SAMPLES) {
                Measured::Timed { samples, .. } => Stats::of(&samples),
                Measured::Skipped(_) => None,
            }
        });
        per_case_overhead.push(overhead.map_or(0.0, |s| s.median_s));
        if let Some(stats) = overhead {
            report.overheads.push(Overhead { client: client.id().to_owned(), overhead_s: stats.median_s, stats });
        }
    }
    for workload in &workloads {
        let mut measured = Vec::with_capacity(clients.len());
        for client in clients {
            on_start(client.id(), &workload.name);
            measured.push(measure(client.as_ref(), &workload.cases, options.repeat));
        }
        // Every client is credited with the same gas: the first that ran the workload correctly
        // and reported gas says how much it takes (clients that agree on the state root agree
        // on the gas, which the sender's and the coinbase's balances record).
        let gas: Option<u64> = measured.iter().find_map(|m| match m {
            Measured::Timed { gas, .. } => *gas,
            Measured::Skipped(_) => None,
        });
        for ((client, m), overhead) in clients.iter().zip(measured).zip(&per_case_overhead) {
            match (m, gas) {
                (Measured::Timed { samples, .. }, Some(gas)) => {
                    if let Some(stats) = Stats::of(&samples) {
                        report.rows.push(Row::new(client.as_ref(), workload, gas, stats, samples.len(), *overhead));
                    }
                }
                (Measured::Timed { .. }, None) => report.skips.push(Skip {
                    client: client.id().to_owned(),
                    workload: workload.name.clone(),
                    reason: "no client reported the gas this workload uses".to_owned(),
                    failed: false,
                }),
                (Measured::Skipped(Unmeasured { reason, failed }), _) => {
                    report.skips.push(Skip { client: client.id().to_owned(), workload: workload.name.clone(), reason, failed })
                }
            }
        }
    }
    Ok(report)
}

/// The warm-up: runs every case once and checks it against its fixture. Returns the gas the
/// cases used together, when the client reports gas.
pub fn warm_up(client: &dyn Client, cases: &[Case]) -> Result<Option<u64>, Unmeasured> {
    if let Some(case) = cases.iter().find(|c| !client.supports(c.fork)) {
        return Err(Unmeasured { reason: format!("fork {} not supported", case.fork), failed: false });
    }
    let mut gas = Some(0u64);
    for case in cases {
        let outcome = execute_guarded(client, case).map_err(|e| Unmeasured { reason: e.to_string(), failed: true })?;
        match judge(client, case, &outcome) {
            ClientResult::Pass { .. } => gas = gas.zip(outcome.gas_used).map(|(a, b)| a.saturating_add(b)),
            ClientResult::Known { id } => {
                return Err(Unmeasured { reason: format!("known difference {id}"), failed: false });
            }
            _ => return Err(Unmeasured { reason: format!("wrong result on {}", case.label()), failed: true }),
        }
    }
    Ok(gas)
}

/// The warm-up, then `repeat` timed runs of all the cases.
fn measure(client: &dyn Client, cases: &[Case], repeat: usize) -> Measured {
    let gas = match warm_up(client, cases) {
        Ok(gas) => gas,
        Err(why) => return Measured::Skipped(why),
    };
    let mut samples = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let start = Instant::now();
        for case in cases {
            if let Err(e) = black_box(execute_guarded(client, black_box(case))) {
                return Measured::Skipped(Unmeasured { reason: e.to_string(), failed: true });
            }
        }
        samples.push(start.elapsed());
    }
    Measured::Timed { samples, gas }
}

impl BenchReport {
    /// True when a client got a workload wrong or failed to run it.
    pub fn found_problems(&self) -> bool {
        self.skips.iter().any(|s| s.failed)
    }

    /// The results as a table: one line per workload and client, then the overheads and skips.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<22} {:<9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "workload", "client", "Mgas/s", "cases/s", "median", "min", "max", "overhead", "exec"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<22} {:<9} {:>9.1} {:>9.1} {:>10} {:>10} {:>10} {:>10} {:>10}",
                r.workload,
                r.client,
                r.mgas_per_s,
                r.cases_per_s,
                seconds(r.median_s),
                seconds(r.min_s),
                seconds(r.max_s),
                seconds(r.overhead_s),
                seconds(r.exec_s)
            );
        }
        if !self.overheads.is_empty() {
            let list: Vec<String> = self.overheads.iter().map(|o| format!("{} {}", o.client, seconds(o.overhead_s))).collect();
            let _ = writeln!(out, "\noverhead per case (median of a plain value transfer): {}", list.join(", "));
        }
        for s in &self.skips {
            let _ = writeln!(out, "{} {}: {} ({})", if s.failed { "FAIL" } else { "skip" }, s.client, s.workload, s.reason);
        }
        out
    }
}

/// A duration in seconds, with a unit that keeps three or four significant digits.
fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2}s")
    } else if s >= 1e-3 {
        format!("{:.2}ms", s * 1e3)
    } else {
        format!("{:.1}µs", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::tests::{Behaviour, Scripted};

    #[test]
    fn stats_take_the_median_and_the_extremes() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        let odd = Stats::of(&ms(&[30, 10, 20])).expect("runs");
        assert_eq!((odd.median_s, odd.min_s, odd.max_s), (0.02, 0.01, 0.03));
        let even = Stats::of(&ms(&[40, 10, 20, 30])).expect("runs");
        assert!((even.median_s - 0.025).abs() < 1e-12);
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn a_row_serialises_with_the_documented_fields() {
        let client = Scripted::client("a", Behaviour::Correct);
        let workload = Workload { name: "w".to_owned(), cases: value_transfer_cases() };
        let stats = Stats { median_s: 0.5, min_s: 0.25, max_s: 1.0 };
        let row = Row::new(client.as_ref(), &workload, 3_000_000, stats, 5, 0.01);
        let json = serde_json::to_value(vec![row]).expect("serialises");
        let row = &json[0];
        for key in ["client", "workload", "mgas_per_s", "cases_per_s", "median_s", "min_s", "max_s"] {
            assert!(row.get(key).is_some(), "row lacks {key}: {row}");
        }
        assert_eq!(row["client"], "a");
        assert_eq!(row["workload"], "w");
        let close = |key: &str, want: f64| row[key].as_f64().is_some_and(|v| (v - want).abs() < 1e-9);
        assert!(close("mgas_per_s", 6.0) && close("cases_per_s", 6.0), "{row}");
        assert!(close("overhead_s", 0.03) && close("exec_s", 0.47), "{row}");
    }

    #[test]
    fn the_value_transfer_is_filled_for_three_forks() {
        let cases = value_transfer_cases();
        assert_eq!(cases.len(), 3);
        assert!(cases.iter().all(|c| c.tx.gas_limit == 21_000 && c.expected.is_some()));
    }

    #[test]
    fn a_wrong_client_is_a_failed_skip_and_a_correct_one_a_row() {
        let dir = std::env::temp_dir().join(format!("schism-bench-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("transfer.json"), VALUE_TRANSFER).expect("write");
        let clients = [Scripted::client("good", Behaviour::Correct), Scripted::client("bad", Behaviour::Root(3))];
        let options = BenchOptions { dir: dir.clone(), workloads: vec![], repeat: 3 };
        let report = run(&options, &clients, &mut |_, _| {}).expect("runs");
        assert_eq!(report.rows.len(), 1);
        assert_eq!((report.rows[0].client.as_str(), report.rows[0].cases, report.rows[0].repeats), ("good", 3, 3));
        // The scripted client reports 21000 gas for each of the three cases.
        assert_eq!(report.rows[0].gas, 63_000);
        assert!(report.skips.iter().any(|s| s.client == "bad" && s.failed));
        assert!(report.found_problems());
        let unknown = BenchOptions { workloads: vec!["nope".to_owned()], ..options };
        assert!(matches!(run(&unknown, &clients, &mut |_, _| {}), Err(BenchError::UnknownWorkload { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
