//! The runner: expands fixture files into cases and executes every case on every selected
//! client in parallel, checking each client against the fixture and the clients against each
//! other.

use crate::compare::{Verdict, compare};
pub use crate::panel::guarded;
use crate::panel::{Call, Entry, Excuse, Order, Panel, Seat};
use crate::report::Report;
use alloy_primitives::B256;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use schism_interface::case::Mismatch;
use schism_interface::fixture::Indexes;
use schism_interface::load::{FixtureFile, collect_fixture_files, expand_file, read_fixture};
use schism_interface::{Case, Client, ClientError, FixtureError, Fork, KnownDifference, Outcome, TraceMode};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod batch;
pub mod sequences;

/// What `schism run` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Fixture files and folders.
    pub paths: Vec<PathBuf>,
    /// Only cases of these forks; empty for all.
    pub forks: Vec<Fork>,
    /// Worker threads; `None` for one per core.
    pub jobs: Option<usize>,
    /// Show a progress bar (drawn only on a terminal).
    pub progress: bool,
    /// A run that finds no case is fine (otherwise it is [`RunError::Empty`]: a mistyped path
    /// must not pass).
    pub allow_empty: bool,
}

/// A run that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A path given does not exist or cannot be listed.
    #[error(transparent)]
    Input(#[from] FixtureError),
    /// The paths hold no case (and `allow_empty` was not given).
    #[error("no test case found in {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Empty {
        /// The paths searched.
        searched: Vec<PathBuf>,
    },
    /// The worker pool cannot be built.
    #[error("cannot start {jobs} worker threads: {source}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// The cause.
        source: rayon::ThreadPoolBuildError,
    },
}

/// Where a case comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseRef {
    /// Fixture file.
    pub file: Arc<str>,
    /// Test name.
    pub test: Arc<str>,
    /// Fork.
    pub fork: Fork,
    /// Data/gas/value indexes.
    pub index: Indexes,
}

impl CaseRef {
    /// The reference of a case.
    pub fn of(case: &Case) -> CaseRef {
        CaseRef { file: case.file.clone(), test: case.test.clone(), fork: case.fork, index: case.index }
    }
}

/// What one client made of one case.
#[derive(Clone, Debug)]
pub enum ClientResult {
    /// Matches the fixture (soft differences, like another rejection reason, listed).
    Pass {
        /// Differences that do not fail the case.
        soft: Vec<Mismatch>,
    },
    /// Differs from the fixture.
    Fail {
        /// How.
        mismatches: Vec<Mismatch>,
        /// The client's root.
        hash: B256,
        /// The client's logs hash.
        logs: Option<B256>,
        /// The client's error class, if any.
        error: Option<String>,
    },
    /// Differs from the fixture in a way a documented known difference explains.
    Known {
        /// The known difference's id.
        id: &'static str,
    },
    /// Not executed.
    Skip {
        /// Why.
        reason: String,
    },
    /// The client failed to produce an outcome: a finding of its own kind, never agreement.
    Error {
        /// The kind of fault ([`ClientError::kind`]).
        kind: String,
        /// The failure.
        message: String,
    },
}

/// Everything learnt about one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case.
    pub case: CaseRef,
    /// The fixture's expected root and logs hash.
    pub expected: Option<(B256, B256)>,
    /// One entry per selected client, in selection order, with the time it took.
    pub clients: Vec<(ClientResult, Duration)>,
    /// Cross-client comparison.
    pub verdict: Verdict,
    /// Known differences of the clients involved that explain a divergence.
    pub known_divergence: Vec<&'static str>,
}

/// Runs every case found under the given paths on the given clients.
pub fn run(options: &RunOptions, clients: &[Arc<dyn Client>]) -> Result<Report, RunError> {
    run_all(options, clients).map(|all| all.report)
}

/// A run's report with the result of every case and sequence behind it (what `--junit`
/// lists one by one).
#[derive(Clone, Debug)]
pub struct RunResults {
    /// The report.
    pub report: Report,
    /// Every state-test case, in the order of the files.
    pub cases: Vec<CaseResult>,
    /// Every block sequence.
    pub sequences: Vec<sequences::SequenceResult>,
}

/// Runs every case found under the given paths on the given clients, and keeps each case's
/// result beside the report.
pub fn run_all(options: &RunOptions, clients: &[Arc<dyn Client>]) -> Result<RunResults, RunError> {
    let started = Instant::now();
    for client in clients {
        client.prepare();
    }
    // A path that cannot be read is an input error for that path; the others still run.
    let (files, mut path_errors) = collect_fixture_files(&options.paths);
    if files.is_empty() && !path_errors.is_empty() {
        // Nothing at all to run: the first unusable path is the error.
        return Err(RunError::Input(path_errors.remove(0)));
    }
    let jobs = options.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|source| RunError::Pool { jobs, source })?;
    pool.install(|| {
        let loaded: Vec<Loaded> = files.par_iter().map(|path| load(path, &options.forks)).collect();
        let mut cases = Vec::new();
        let mut input_errors = path_errors;
        let mut chains = Vec::new();
        for item in loaded {
            match item {
                Loaded::Cases(c, e) => {
                    cases.extend(c);
                    input_errors.extend(e);
                }
                Loaded::Sequences(s, e) => {
                    chains.push(s);
                    input_errors.extend(e);
                }
                Loaded::Failed(e) => input_errors.push(e),
            }
        }
        let sequences = chains
            .iter()
            .flat_map(|f| &f.sequences)
            .filter(|s| options.forks.is_empty() || s.schedule.forks().iter().all(|f| options.forks.contains(f)))
            .count();
        if cases.is_empty() && sequences == 0 && input_errors.is_empty() && !options.allow_empty {
            return Err(RunError::Empty { searched: options.paths.clone() });
        }
        let sequence_results = sequences::run_files(&chains, clients, &options.forks, options.progress);
        let bar = progress_bar(options.progress, cases.len());
        // Longest first: the gas a case may burn bounds its work (a transaction above the
        // block's gas limit is rejected at once), and starting the few heavy cases early keeps
        // one of them from running alone at the end of the run.
        let mut order: Vec<usize> = (0..cases.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(cases[i].tx.gas_limit.min(cases[i].env.current_gas_limit)));
        let mut indexed: Vec<(usize, CaseResult)> = if clients.iter().any(|c| c.pipelines()) {
            // A client that keeps several cases in flight gets them in batches.
            let panel = Panel::new(clients);
            // The cases of one test stay in one batch, so that a tool that runs a file of
            // several may get them in one (see `Tool::merges_cases` in schism-external).
            batch::grouped_batches(&order, rayon::current_num_threads(), |i| (cases[i].file.as_ref(), cases[i].test.as_ref()))
                .par_iter()
                .with_max_len(1)
                .flat_map_iter(|positions| {
                    let batch: Vec<&Case> = positions.iter().map(|&i| &cases[i]).collect();
                    let rows = batch::run(&batch, &panel);
                    bar.inc(positions.len() as u64);
                    positions.iter().zip(rows).map(|(&i, seats)| (i, judge_seats(&cases[i], &panel, &seats))).collect::<Vec<_>>()
                })
                .collect()
        } else {
            order
                .par_iter()
                .with_max_len(1)
                .map(|&i| {
                    let result = run_case(&cases[i], clients);
                    bar.inc(1);
                    (i, result)
                })
                .collect()
        };
        indexed.sort_unstable_by_key(|(i, _)| *i);
        let results: Vec<CaseResult> = indexed.into_iter().map(|(_, r)| r).collect();
        bar.finish_and_clear();
        let mut report = Report::build(clients, &results, &input_errors, files.len(), started.elapsed());
        report.add_sequences(clients, &sequence_results);
        Ok(RunResults { report, cases: results, sequences: sequence_results })
    })
}

enum Loaded {
    Cases(Vec<Case>, Vec<FixtureError>),
    Sequences(sequences::SequenceFile, Vec<FixtureError>),
    Failed(FixtureError),
}

fn load(path: &Path, forks: &[Fork]) -> Loaded {
    match read_fixture(path) {
        Ok(FixtureFile::State(file)) => {
            let (mut cases, errors) = expand_file(path, &file);
            if !forks.is_empty() {
                cases.retain(|c| forks.contains(&c.fork));
            }
            Loaded::Cases(cases, errors)
        }
        Ok(FixtureFile::Blockchain(file)) => {
            let (seqs, errors) = schism_interface::sequence::blockchain::sequences_of_file(path, &file);
            Loaded::Sequences(sequences::SequenceFile { path: path.to_path_buf(), sequences: seqs }, errors)
        }
        Err(e) => Loaded::Failed(e),
    }
}

pub(crate) fn progress_bar(enabled: bool, len: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} cases {per_sec} eta {eta}") {
        bar.set_style(style);
    }
    bar
}

/// Executes one case on every client that supports its fork, checks each against the fixture
/// and compares them.
pub fn run_case(case: &Case, clients: &[Arc<dyn Client>]) -> CaseResult {
    run_on_panel(case, &Panel::new(clients))
}

/// [`run_case`] on a panel built once.
pub fn run_on_panel(case: &Case, panel: &Panel) -> CaseResult {
    // Clients run in parallel within a case too, so one slow client on one heavy case does
    // not hold a worker for the sum of all clients' times. Known differences classify a
    // failure after the client ran (a client they cover may still pass).
    let call = Call { trace: TraceMode::Off, excuse: Excuse::Unrepresentable, order: Order::Parallel, observer: None };
    judge_seats(case, panel, &panel.run(case, call))
}

/// The result of a case from its panel's seats: each client judged against the fixture, the
/// clients compared.
fn judge_seats(case: &Case, panel: &Panel, seats: &[Seat<Outcome>]) -> CaseResult {
    let mut results = Vec::with_capacity(seats.len());
    for ((_, client), seat) in panel.seats().iter().zip(seats) {
        let result = match &seat.entry {
            Entry::Ran(outcome) => judge(client.as_ref(), case, outcome),
            Entry::Fault(fault) => ClientResult::Error { kind: fault.kind.clone(), message: fault.message.clone() },
            Entry::Unsupported(reason) => ClientResult::Skip { reason: reason.clone() },
            Entry::Excused(known) => ClientResult::Known { id: known.id },
        };
        results.push((result, seat.took));
    }
    let refs: Vec<(&str, &Outcome)> = seats.iter().filter_map(|s| s.output().map(|o| (s.label.as_str(), o))).collect();
    let verdict = compare(&refs);
    let known_divergence = match verdict {
        Verdict::Diverge { .. } => {
            panel.seats().iter().flat_map(|(_, c)| c.known_differences().iter()).filter(|k| (k.applies)(case)).map(|k| k.id).collect()
        }
        _ => Vec::new(),
    };
    CaseResult {
        case: CaseRef::of(case),
        expected: case.expected.as_ref().map(|e| (e.hash, e.logs)),
        clients: results,
        verdict,
        known_divergence,
    }
}

/// Executes a case, turning a panic inside the client into a client error.
pub fn execute_guarded(client: &dyn Client, case: &Case) -> Result<Outcome, ClientError> {
    guarded(client.id(), || client.execute(case, TraceMode::Off))
}

/// The first documented known difference of `client` that covers `case`.
fn known_for(client: &dyn Client, case: &Case) -> Option<&'static KnownDifference> {
    client.known_differences().iter().find(|k| (k.applies)(case))
}

/// Judges an outcome against the case's fixture, classifying failures a known difference explains.
pub(crate) fn judge(client: &dyn Client, case: &Case, outcome: &Outcome) -> ClientResult {
    let Some(expected) = &case.expected else {
        return ClientResult::Pass { soft: Vec::new() };
    };
    let (soft, hard): (Vec<Mismatch>, Vec<Mismatch>) = expected.check(outcome).into_iter().partition(Mismatch::is_soft);
    if hard.is_empty() {
        return ClientResult::Pass { soft };
    }
    if let Some(known) = known_for(client, case) {
        return ClientResult::Known { id: known.id };
    }
    ClientResult::Fail { mismatches: hard, hash: outcome.state_root, logs: outcome.logs_hash, error: outcome.error.map(|e| e.to_string()) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use schism_interface::ErrorClass;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scripted client: answers with a fixed root, or fails, or panics.
    pub(crate) struct Scripted {
        pub id: &'static str,
        pub behaviour: Behaviour,
        pub calls: AtomicUsize,
        pub known: &'static [KnownDifference],
    }

    #[derive(Clone, Copy)]
    pub(crate) enum Behaviour {
        /// Answers with the fixture's expected root and logs.
        Correct,
        /// Answers with this root.
        Root(u8),
        /// Fails to produce an outcome.
        Crash,
        /// Panics.
        Panic,
        /// Supports no fork.
        Unsupported,
        /// Cannot represent the case.
        Unrepresentable,
    }

    impl Scripted {
        pub(crate) fn client(id: &'static str, behaviour: Behaviour) -> Arc<dyn Client> {
            Arc::new(Scripted { id, behaviour, calls: AtomicUsize::new(0), known: &[] })
        }
    }

    impl Client for Scripted {
        fn id(&self) -> &str {
            self.id
        }
        fn version(&self) -> &str {
            "0.0.0-test"
        }
        fn supports(&self, _: Fork) -> bool {
            !matches!(self.behaviour, Behaviour::Unsupported)
        }
        fn execute(&self, case: &Case, _: TraceMode) -> Result<Outcome, ClientError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let expected = case.expected.as_ref().map(|e| (e.hash, e.logs)).unwrap_or_default();
            let state_root = match self.behaviour {
                Behaviour::Correct | Behaviour::Unsupported => expected.0,
                Behaviour::Root(b) => B256::repeat_byte(b),
                Behaviour::Crash => {
                    return Err(ClientError::Crashed {
                        client: self.id.to_owned(),
                        status: "signal 9".to_owned(),
                        stderr_tail: "boom".to_owned(),
                    });
                }
                Behaviour::Panic => panic!("scripted panic"),
                Behaviour::Unrepresentable => {
                    return Err(ClientError::Unrepresentable { client: self.id.to_owned(), what: "a scripted feature" });
                }
            };
            Ok(Outcome {
                state_root,
                logs_hash: Some(expected.1),
                gas_used: Some(21000),
                error: None::<ErrorClass>,
                status_reported: true,
                logs: vec![],
                post_state: None,
                trace: None,
            })
        }
        fn known_differences(&self) -> &'static [KnownDifference] {
            self.known
        }
    }

    pub(crate) fn sample_case() -> Case {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/GeneralStateTests/stExample/mergeTest.json");
        let Ok(FixtureFile::State(file)) = read_fixture(&path) else { panic!("fixture reads") };
        expand_file(&path, &file).0.remove(0)
    }

    #[test]
    fn correct_clients_pass_and_agree() {
        let clients = [Scripted::client("a", Behaviour::Correct), Scripted::client("b", Behaviour::Correct)];
        let r = run_case(&sample_case(), &clients);
        assert!(r.clients.iter().all(|(c, _)| matches!(c, ClientResult::Pass { .. })));
        assert_eq!(r.verdict, Verdict::Agree);
    }

    #[test]
    fn a_wrong_client_fails_and_diverges() {
        let clients = [
            Scripted::client("a", Behaviour::Correct),
            Scripted::client("b", Behaviour::Root(7)),
            Scripted::client("c", Behaviour::Correct),
        ];
        let r = run_case(&sample_case(), &clients);
        assert!(matches!(r.clients[1].0, ClientResult::Fail { .. }));
        match &r.verdict {
            Verdict::Diverge { groups, .. } => assert_eq!(groups, &vec![vec!["a".to_owned(), "c".to_owned()], vec!["b".to_owned()]]),
            other => panic!("expected divergence, got {other:?}"),
        }
    }

    #[test]
    fn crashes_and_panics_are_errors_not_agreement() {
        let clients =
            [Scripted::client("a", Behaviour::Correct), Scripted::client("b", Behaviour::Crash), Scripted::client("c", Behaviour::Panic)];
        let r = run_case(&sample_case(), &clients);
        assert!(matches!(&r.clients[1].0, ClientResult::Error { message, .. } if message.contains("signal 9")));
        assert!(matches!(&r.clients[2].0, ClientResult::Error { message, .. } if message.contains("scripted panic")));
        assert!(matches!(r.verdict, Verdict::Skipped { .. }));
    }

    #[test]
    fn unsupported_forks_are_skipped_without_executing() {
        let unsupported = Arc::new(Scripted { id: "u", behaviour: Behaviour::Unsupported, calls: AtomicUsize::new(0), known: &[] });
        let clients: [Arc<dyn Client>; 1] = [unsupported.clone()];
        let r = run_case(&sample_case(), &clients);
        assert!(matches!(&r.clients[0].0, ClientResult::Skip { reason } if reason.contains("not supported")));
        assert_eq!(unsupported.calls.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_known_difference_classifies_instead_of_failing() {
        static KNOWN: [KnownDifference; 1] =
            [KnownDifference { id: "test-quirk", reason: "scripted", link: "none", applies: |_| true, executed: None }];
        let quirky: Arc<dyn Client> =
            Arc::new(Scripted { id: "q", behaviour: Behaviour::Root(9), calls: AtomicUsize::new(0), known: &KNOWN });
        let clients = [Scripted::client("a", Behaviour::Correct), quirky];
        let r = run_case(&sample_case(), &clients);
        assert!(matches!(r.clients[1].0, ClientResult::Known { id: "test-quirk" }));
        assert_eq!(r.known_divergence, vec!["test-quirk"]);
    }

    #[test]
    fn an_unrepresentable_case_is_known_only_when_documented() {
        static MISSING: [KnownDifference; 1] =
            [KnownDifference { id: "no-feature", reason: "scripted", link: "none", applies: |_| true, executed: None }];
        let documented: Arc<dyn Client> =
            Arc::new(Scripted { id: "d", behaviour: Behaviour::Unrepresentable, calls: AtomicUsize::new(0), known: &MISSING });
        let undocumented = Scripted::client("u", Behaviour::Unrepresentable);
        let r = run_case(&sample_case(), &[documented, undocumented]);
        assert!(matches!(r.clients[0].0, ClientResult::Known { id: "no-feature" }));
        assert!(matches!(&r.clients[1].0, ClientResult::Error { message, .. } if message.contains("a scripted feature")));
    }
}
