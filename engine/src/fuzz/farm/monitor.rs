//! The farm's statistics: what each job reports, their aggregate over all jobs, and the LibAFL
//! [`Monitor`] in the broker that shows the aggregate as one live status line and writes it as
//! JSON.

use crate::fuzz::harness::{FirstFinding, HarnessStats, KnownTally};
use libafl::Error;
use libafl::monitors::Monitor;
use libafl::monitors::stats::{AggregatorOps, ClientStatsManager, UserStats, UserStatsValue};
use libafl_bolts::ClientId;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The name of the user statistic each job sends its [`JobReport`] under.
pub(crate) const REPORT_STAT: &str = "schism";

/// How often the status line and the statistics file are refreshed.
const REFRESH: Duration = Duration::from_secs(1);

/// How often a status line is printed when stderr is not a terminal (a log, not a screen).
const LOG_REFRESH: Duration = Duration::from_secs(10);

/// What one fuzzing job reports about itself, cumulatively, about once a second.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct JobReport {
    /// The harness's own counters.
    pub harness: HarnessStats,
    /// Entries in the job's corpus.
    pub corpus: u64,
    /// Non-zero entries of the job's cumulative feature map.
    pub features: u64,
    /// Inputs the job read from the corpus folder at start.
    pub loaded: u64,
    /// Inputs the job generated at start because the corpus folder had none.
    pub generated: u64,
    /// Which start of the job this is: 0, then one more each time its restarter starts it
    /// again (after a hang or a crash in a client).
    #[serde(default)]
    pub start: u64,
}

impl JobReport {
    /// The report as a LibAFL user statistic (JSON text; the monitor parses it back).
    pub(crate) fn to_user_stats(&self) -> Result<UserStats, Error> {
        let text = serde_json::to_string(self).map_err(|e| Error::serialize(e.to_string()))?;
        Ok(UserStats::new(UserStatsValue::String(Cow::Owned(text)), AggregatorOps::None))
    }
}

/// Cases and time one client spent, summed over the jobs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClientTime {
    /// Cases the client executed.
    pub cases: u64,
    /// Seconds the client spent executing them.
    pub seconds: f64,
}

/// The farm's statistics, aggregated over all jobs: the `--stats` JSON file.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FarmStats {
    /// Inputs executed (each on every client).
    pub executions: u64,
    /// Seconds since the farm started.
    pub elapsed_s: f64,
    /// `executions / elapsed_s`.
    pub execs_per_sec: f64,
    /// Corpus entries: the largest corpus of any job (jobs share their finds, so each job's
    /// corpus tends to the union).
    pub corpus: u64,
    /// Distinct EVM-level features seen: the largest count of any job, for the same reason.
    pub features: u64,
    /// Inputs on which the clients diverged (or one failed).
    pub divergences: u64,
    /// Distinct findings filed in the crashes folder (each job files a signature once).
    pub filed: u64,
    /// Divergent inputs a documented known difference of the odd client out explained (judged
    /// on the minimised case): not findings, not filed.
    #[serde(default)]
    pub known: u64,
    /// Divergent inputs filed under a signature set aside as another bug: not findings.
    #[serde(default)]
    pub set_aside: u64,
    /// Divergent inputs whose minimisation the deadline cut short: left pending in the crashes
    /// folder, filed first by the next farm on the same folders.
    #[serde(default)]
    pub deferred: u64,
    /// The divergent inputs counted in `known`, per client and known difference.
    #[serde(default)]
    pub known_by: Vec<KnownTally>,
    /// The earliest first finding of any job: seconds after that job started, and that job's
    /// executions up to it.
    #[serde(default)]
    pub first_finding: Option<FirstFinding>,
    /// Mean instructions executed per case.
    pub mean_opcodes_per_case: f64,
    /// Share of cases that executed more than 10 instructions.
    pub deep_case_share: f64,
    /// Inputs run as block sequences.
    #[serde(default)]
    pub sequences: u64,
    /// Transactions in those sequences.
    #[serde(default)]
    pub sequence_txs: u64,
    /// Sequences checked for a cross-transaction dependency.
    #[serde(default)]
    pub sequences_checked: u64,
    /// Checked sequences where a later transaction depends on an earlier one's writes.
    #[serde(default)]
    pub sequences_dependent: u64,
    /// Every opcode some case executed, ascending.
    pub opcodes_reached: Vec<u8>,
    /// Every precompile (by address) some case called, ascending.
    pub precompiles_reached: Vec<u16>,
    /// Cases and execution time per client id.
    pub per_client: BTreeMap<String, ClientTime>,
    /// Seconds the jobs spent inside the harness (clients included), summed over jobs.
    #[serde(default)]
    pub harness_seconds: f64,
    /// Seconds the clients spent executing, summed over clients and jobs.
    #[serde(default)]
    pub client_seconds: f64,
    /// Seconds the harness spent compiling inputs, summed over jobs.
    #[serde(default)]
    pub compile_seconds: f64,
    /// Seconds the harness spent filing findings, summed over jobs.
    #[serde(default)]
    pub filing_seconds: f64,
    /// The share of the jobs' wall time spent inside clients (`client_seconds` over
    /// `elapsed_s` times `jobs`): what the harness, LibAFL and the corpus leave to execution.
    #[serde(default)]
    pub client_share: f64,
    /// Fuzzing jobs.
    pub jobs: usize,
    /// Entries in the corpus folder when the farm started.
    pub resumed_from: usize,
    /// Of those, how many the jobs read back.
    pub loaded: u64,
    /// Inputs generated at start because the corpus folder was empty.
    pub generated: u64,
    /// Times a job was started again after it ended abruptly (a client past its deadline, a
    /// crash); what it had done before counts in the figures above.
    #[serde(default)]
    pub restarts: u64,
}

impl FarmStats {
    /// Aggregates the latest report of every job.
    pub(crate) fn aggregate<'a>(
        reports: impl IntoIterator<Item = &'a JobReport>,
        elapsed: Duration,
        jobs: usize,
        resumed_from: usize,
    ) -> FarmStats {
        let mut stats = FarmStats { elapsed_s: elapsed.as_secs_f64(), jobs, resumed_from, ..FarmStats::default() };
        let (mut opcodes, mut deep) = (0u64, 0u64);
        let mut opcodes_reached = BTreeSet::new();
        let mut precompiles_reached = BTreeSet::new();
        for report in reports {
            let h = &report.harness;
            stats.executions += h.executions;
            stats.divergences += h.divergences;
            stats.filed += h.filed;
            stats.known += h.known;
            stats.set_aside += h.set_aside;
            stats.deferred += h.deferred;
            for tally in &h.known_by {
                KnownTally::merge_into(&mut stats.known_by, tally);
            }
            if let Some(found) = &h.first_finding
                && stats.first_finding.as_ref().is_none_or(|earliest| found.seconds < earliest.seconds)
            {
                stats.first_finding = Some(found.clone());
            }
            opcodes += h.opcodes;
            deep += h.deep_cases;
            stats.sequences += h.sequences;
            stats.sequence_txs += h.sequence_txs;
            stats.sequences_checked += h.sequences_checked;
            stats.sequences_dependent += h.sequences_dependent;
            stats.corpus = stats.corpus.max(report.corpus);
            stats.features = stats.features.max(report.features);
            stats.loaded += report.loaded;
            stats.generated += report.generated;
            opcodes_reached.extend(h.opcodes_reached.iter().copied());
            precompiles_reached.extend(h.precompiles_reached.iter().copied());
            stats.harness_seconds += h.seconds;
            stats.client_seconds += h.client_seconds();
            stats.compile_seconds += h.compile_seconds;
            stats.filing_seconds += h.filing_seconds;
            for client in &h.per_client {
                let time = stats.per_client.entry(client.id.clone()).or_default();
                time.cases += client.cases;
                time.seconds += client.seconds;
            }
        }
        stats.opcodes_reached = opcodes_reached.into_iter().collect();
        stats.precompiles_reached = precompiles_reached.into_iter().collect();
        if stats.elapsed_s > 0.0 {
            stats.execs_per_sec = stats.executions as f64 / stats.elapsed_s;
            stats.client_share = stats.client_seconds / (stats.elapsed_s * jobs.max(1) as f64);
        }
        if stats.executions > 0 {
            stats.mean_opcodes_per_case = opcodes as f64 / stats.executions as f64;
            stats.deep_case_share = deep as f64 / stats.executions as f64;
        }
        stats
    }

    /// The one-line status: elapsed, speed, corpus, features, divergences, time per client.
    pub fn status_line(&self) -> String {
        let secs = self.elapsed_s as u64;
        let mut line = format!(
            "[{:02}:{:02}:{:02}] {:.0} exec/s | corpus {} | features {} | divergences {} | in clients {:.0}% |",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            self.execs_per_sec,
            self.corpus,
            self.features,
            self.divergences,
            self.client_share * 100.0,
        );
        for (id, time) in &self.per_client {
            line.push_str(&format!(" {id} {:.1}s", time.seconds));
        }
        if self.restarts > 0 {
            line.push_str(&format!(" | restarts {}", self.restarts));
        }
        line
    }

    /// Writes the statistics as JSON, atomically.
    pub(crate) fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::atomic::write_json(path, self)
    }
}

/// Where the status line goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusLine {
    /// Nowhere.
    Off,
    /// A terminal: one line, rewritten in place every second.
    Live,
    /// A log: a fresh line every ten seconds.
    Log,
}

/// The broker's monitor: keeps each job's latest [`JobReport`], and about once a second (and
/// when the broker shuts down) aggregates them into [`FarmStats`], shows the status line and
/// writes the statistics file.
pub(crate) struct FarmMonitor {
    started: Instant,
    jobs: usize,
    resumed_from: usize,
    stats_file: Option<PathBuf>,
    status: StatusLine,
    reports: HashMap<ClientId, JobReport>,
    /// The last reports of jobs' earlier starts (a job restarted counts from zero again).
    retired: Vec<JobReport>,
    last_refresh: Option<Instant>,
    last_line: Option<Instant>,
    line_shown: bool,
    write_failed: bool,
    /// The broker has stopped: the last refresh.
    finished: bool,
    /// Stop the farm at the first divergence, by creating this file.
    stop_at_divergence: Option<PathBuf>,
    /// The latest aggregate, for the caller once the broker has stopped.
    latest: Arc<Mutex<Option<FarmStats>>>,
    /// The statistics history and the bound on `.inputs`.
    upkeep: Option<super::upkeep::Upkeep>,
}

impl FarmMonitor {
    /// A monitor for `jobs` jobs, writing `stats_file` (if any) and keeping the latest
    /// aggregate in `latest`; the clock starts now.
    pub(crate) fn new(
        jobs: usize,
        resumed_from: usize,
        stats_file: Option<PathBuf>,
        status: StatusLine,
        latest: Arc<Mutex<Option<FarmStats>>>,
    ) -> Self {
        FarmMonitor {
            started: Instant::now(),
            jobs,
            resumed_from,
            stats_file,
            status,
            reports: HashMap::new(),
            retired: Vec::new(),
            last_refresh: None,
            last_line: None,
            line_shown: false,
            write_failed: false,
            finished: false,
            stop_at_divergence: None,
            latest,
            upkeep: None,
        }
    }

    /// Makes the first divergence any job reports stop the farm, by creating `stop_file`,
    /// which every job checks.
    pub(crate) fn stop_on_divergence(&mut self, stop_file: PathBuf) {
        self.stop_at_divergence = Some(stop_file);
    }

    /// Keeps the statistics history and the bound on `.inputs` (see [`super::upkeep`]).
    pub(crate) fn keep_up(&mut self, upkeep: super::upkeep::Upkeep) {
        self.upkeep = Some(upkeep);
    }

    fn refresh(&mut self) {
        let mut stats =
            FarmStats::aggregate(self.reports.values().chain(&self.retired), self.started.elapsed(), self.jobs, self.resumed_from);
        stats.restarts = self.retired.len() as u64;
        if let Some(path) = &self.stats_file
            && let Err(e) = stats.write(path)
            && !self.write_failed
        {
            self.write_failed = true;
            self.say(&format!("warning: cannot write statistics to {}: {e}", path.display()));
        }
        // Nothing is printed before every job has reported: the jobs are forked from the
        // process this broker runs in, and a fork taken while this thread held stderr's lock
        // would leave the job unable ever to print.
        if self.reports.len() >= self.jobs || self.finished {
            let now = Instant::now();
            match self.status {
                StatusLine::Off => {}
                StatusLine::Live => {
                    // Clear the line first: the new one may be shorter.
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{}", stats.status_line());
                    let _ = err.flush();
                    self.line_shown = true;
                }
                StatusLine::Log => {
                    if self.finished || self.last_line.is_none_or(|t| now.duration_since(t) >= LOG_REFRESH) {
                        eprintln!("{}", stats.status_line());
                        self.last_line = Some(now);
                    }
                }
            }
        }
        if let Some(warning) = self.upkeep.as_mut().and_then(|u| u.tick(&stats, self.finished)) {
            self.say(&warning);
        }
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(stats);
        }
        self.last_refresh = Some(Instant::now());
    }

    /// A message on its own line, after the status line if one is shown.
    fn say(&mut self, message: &str) {
        if self.line_shown {
            eprintln!();
            self.line_shown = false;
        }
        eprintln!("{message}");
    }
}

impl Monitor for FarmMonitor {
    fn display(&mut self, manager: &mut ClientStatsManager, _event: &str, sender: ClientId) -> Result<(), Error> {
        if let Ok(client) = manager.client_stats_for(sender)
            && let Some(stat) = client.user_stats().get(REPORT_STAT)
            && let UserStatsValue::String(text) = stat.value()
        {
            // A report that does not parse (a job of another build) is left out, not fatal.
            if let Ok(report) = serde_json::from_str::<JobReport>(text) {
                let start = report.start;
                if let Some(earlier) = self.reports.insert(sender, report)
                    && earlier.start < start
                {
                    self.retired.push(earlier);
                }
            }
        }
        if self.last_refresh.is_none_or(|t| t.elapsed() >= REFRESH) {
            self.refresh();
        }
        if let Some(stop_file) = &self.stop_at_divergence
            && self.reports.get(&sender).is_some_and(|r| r.harness.divergences > 0)
        {
            // The job that found it stops by itself; the others see the file within a second
            // and stop as at the deadline (no signal: LLMP's shutdown flag would stay set for
            // the next farm in this process).
            if let Err(e) = std::fs::write(stop_file, b"") {
                let message = format!("warning: cannot stop the farm through {}: {e}", stop_file.display());
                self.say(&message);
            }
            self.stop_at_divergence = None;
        }
        Ok(())
    }
}

impl Drop for FarmMonitor {
    /// The broker is shutting down: the final statistics.
    fn drop(&mut self) {
        self.finished = true;
        self.refresh();
        if self.line_shown {
            eprintln!();
        }
    }
}
