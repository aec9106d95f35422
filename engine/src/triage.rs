//! The divergence pipeline: a finding gets a signature ([`examine`]), is counted on its folder
//! when that signature is filed already, and otherwise is minimised ([`minimise`]), localised
//! by traces ([`localise`]) and filed as a folder ([`folder`], [`report`]); filed folders are
//! replayed ([`repro`]) and promoted to regression fixtures ([`promote`]).

pub mod code;
pub mod examine;
pub mod folder;
pub mod localise;
pub mod minimise;
pub mod promote;
pub mod report;
pub mod repro;
pub mod sequence;
pub mod subject;

pub use examine::{Examination, Examiner, Fault, Kind, Scope, Signature};
pub use folder::Filed;
pub use minimise::{Budget, Minimise, Minimised};
pub use report::Report;
pub use subject::Subject;

use report::{ClientInfo, Command, Seen};
use schism_interface::{Case, ErrorClass, Expectation, ExpectedException, FixtureError, Outcome};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why the pipeline could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriageError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A case file is not a usable fixture.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// A filed folder is not as schism writes them.
    #[error("{path}: {reason}")]
    Folder {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Something could not be encoded as JSON.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// A choice names no client of the finding.
    #[error("{what}")]
    Usage {
        /// What is wrong.
        what: String,
    },
    /// The deadline ([`TriageOptions::deadline`]) came while the finding was minimised: it is
    /// neither judged nor filed.
    #[error("the deadline came while {signature} was minimised; it is not filed")]
    PastDeadline {
        /// The finding's signature.
        signature: String,
    },
}

/// How findings are handled.
#[derive(Clone, Debug)]
pub struct TriageOptions {
    /// Where folders are filed.
    pub crashes: PathBuf,
    /// Minimisation budget per new signature (`None`: file the case as found).
    pub minimise: Option<Budget>,
    /// When minimisation must stop (a farm's end): a finding whose minimisation it cuts short
    /// is not judged on a half-minimised case but left unfiled ([`TriageError::PastDeadline`]).
    pub deadline: Option<Instant>,
}

/// What handling one finding did.
#[derive(Clone, Debug)]
pub struct Handled {
    /// Its signature.
    pub signature: Signature,
    /// The folder, new or counted again.
    pub filed: Filed,
    /// What minimisation did (new folders only).
    pub minimised: Option<Minimised>,
    /// Seconds from the finding to its folder.
    pub seconds: f64,
}

/// The pipeline over a set of clients.
pub struct Triage {
    examiner: Examiner,
    options: TriageOptions,
    /// Signatures this process filed or counted, so a repeat is counted without re-checking
    /// the disk for the folder.
    seen: std::collections::HashSet<String>,
    /// Signatures a known difference explained, with the client and the difference, so a
    /// repeat is recognised without minimising it again.
    known: std::collections::HashMap<String, (String, &'static str)>,
    /// The same for splits (a signature's kind, scope, groups and faults), filled when a
    /// minimised case is explained: a finding of that split which the same difference covers
    /// as found is explained without minimising it ([`Triage::explained_as_before`]).
    known_splits: std::collections::HashMap<String, Vec<(String, &'static str)>>,
}

/// An outcome as a fixture expectation.
pub fn expectation_of(outcome: &Outcome) -> Expectation {
    let exception = match outcome.error {
        Some(ErrorClass::InvalidTransaction(kind)) => Some(ExpectedException::parse(&format!("TransactionException.{}", kind.name()))),
        _ => None,
    };
    Expectation {
        hash: outcome.state_root,
        logs: outcome.logs_hash.unwrap_or_else(|| schism_interface::state::logs_hash(&[])),
        exception,
        state: None,
        txbytes: None,
    }
}

impl Triage {
    /// A pipeline on these clients.
    pub fn new(examiner: Examiner, options: TriageOptions) -> Triage {
        Triage { examiner, options, seen: Default::default(), known: Default::default(), known_splits: Default::default() }
    }

    /// Handles a case (a state test or a block sequence) the quick comparison found divergent,
    /// `found` being when: re-runs it with traces for its signature, then counts it on its
    /// folder or files a new one. `None` when the traced re-run does not diverge (a client
    /// that is not deterministic).
    pub fn handle<S: Subject>(&mut self, case: &S, found: Instant) -> Result<Option<Handled>, TriageError> {
        let exam = self.examiner.examine(case, true);
        let Some(signature) = exam.signature() else { return Ok(None) };
        // A sequence finding that its divergent transaction shows on its own, between the same
        // clients, is the bug a single case shows: it is filed as that smaller state test, in
        // the folder of the same bug's single-transaction findings.
        if let Some(single) = case.single_transaction(&exam, self.examiner.panel()) {
            let single_exam = self.examiner.examine(&single, true);
            if let Some(single_signature) = single_exam.signature()
                && single_signature.kind == signature.kind
                && single_signature.groups == signature.groups
            {
                return self.handle_examined(&single, &single_exam, single_signature, found).map(Some);
            }
        }
        self.handle_examined(case, &exam, signature, found).map(Some)
    }

    /// Signatures explained by known differences so far.
    pub fn known_signatures(&self) -> usize {
        self.known.len()
    }

    /// The clients with their versions.
    fn client_infos(&self) -> Vec<ClientInfo> {
        self.examiner.clients().iter().map(|(id, c)| ClientInfo { id: id.clone(), version: c.version().to_owned() }).collect()
    }

    /// Counts a finding on its folder when its signature is filed already.
    fn counted_again(&mut self, signature: &Signature, fork: String, found: Instant) -> Result<Option<Handled>, TriageError> {
        let id = signature.id();
        if !self.seen.contains(&id) && !folder::is_filed(&self.options.crashes, &id) {
            return Ok(None);
        }
        let seen = Seen { fork, clients: self.client_infos(), count: 1 };
        let count = folder::record_again(&self.options.crashes, &id, &seen)?.unwrap_or(1);
        let filed = Filed::Again(self.options.crashes.join(&id), count);
        self.seen.insert(id);
        Ok(Some(Handled { signature: signature.clone(), filed, minimised: None, seconds: found.elapsed().as_secs_f64() }))
    }

    /// Handles a finding whose signature is known.
    fn handle_examined<S: Subject>(
        &mut self,
        case: &S,
        exam: &Examination<S::Output>,
        signature: Signature,
        found: Instant,
    ) -> Result<Handled, TriageError> {
        let id = signature.id();
        if let Some((client, known)) = self.known.get(&id) {
            let filed = Filed::Known { client: client.clone(), known };
            return Ok(Handled { signature, filed, minimised: None, seconds: found.elapsed().as_secs_f64() });
        }
        if let Some(again) = self.counted_again(&signature, exam.fork.clone(), found)? {
            return Ok(again);
        }
        if let Some((client, known)) = self.explained_as_before(case, exam, &signature) {
            self.known.insert(id, (client.clone(), known));
            let filed = Filed::Known { client, known };
            return Ok(Handled { signature, filed, minimised: None, seconds: found.elapsed().as_secs_f64() });
        }
        let (small, minimised) = match (self.options.minimise, signature.kind) {
            (Some(budget), Kind::Divergence | Kind::Fault) => {
                let examiner = &self.examiner;
                let deadline = self.options.deadline;
                let (small, minimised) = case.minimise(budget.until(deadline), &mut |c| examiner.reproduces(c, &signature));
                if !minimised.complete && deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(TriageError::PastDeadline { signature: id });
                }
                (small, minimised)
            }
            _ => (case.clone(), case.unminimised()),
        };
        // The minimised case is examined again for its report and traces; should it not show
        // the finding (a flaky client), the case as found is filed.
        let small_exam = if small == *case { exam.clone() } else { self.examiner.examine(&small, true) };
        let (small, small_exam) =
            if small_exam.signature().as_ref() == Some(&signature) { (small, small_exam) } else { (case.clone(), exam.clone()) };
        if let Some((client, known)) = self.explained(&small, &small_exam, &signature) {
            self.known.insert(id, (client.clone(), known.id));
            let established = self.known_splits.entry(signature.split_id()).or_default();
            if !established.iter().any(|(c, k)| *c == client && *k == known.id) {
                established.push((client.clone(), known.id));
            }
            let filed = Filed::Known { client, known: known.id };
            return Ok(Handled { signature, filed, minimised: Some(minimised), seconds: found.elapsed().as_secs_f64() });
        }
        let filed = self.file(case, exam, &small, &small_exam, &signature, minimised.clone(), found, Vec::new())?;
        self.seen.insert(id);
        Ok(Handled { signature, filed, minimised: Some(minimised), seconds: found.elapsed().as_secs_f64() })
    }

    /// The odd client out of a finding and its documented known difference that covers the
    /// minimised case (judged on the case and on that client's traced run of it, `exam`), when
    /// the examiner judges known differences afterwards: a divergence whose clients split in
    /// two with that client alone on one side, or a fault of that client only.
    fn explained<S: Subject>(
        &self,
        small: &S,
        exam: &Examination<S::Output>,
        signature: &Signature,
    ) -> Option<(String, &'static schism_interface::KnownDifference)> {
        if !self.examiner.judges_known_after() {
            return None;
        }
        let lone: Vec<&str> = match signature.kind {
            Kind::Divergence if signature.groups.len() == 2 => {
                signature.groups.iter().filter(|g| g.len() == 1).flat_map(|g| g.iter().map(String::as_str)).collect()
            }
            Kind::Fault => {
                let mut clients: Vec<&str> = signature.faults.iter().map(|(c, _)| c.as_str()).collect();
                clients.dedup();
                if clients.len() == 1 { clients } else { Vec::new() }
            }
            _ => Vec::new(),
        };
        lone.into_iter().find_map(|label| {
            let client = self.examiner.client(label)?;
            crate::panel::judged(|| small.known_difference(client.as_ref(), exam.outcome(label))).map(|k| (label.to_owned(), k))
        })
    }

    /// A finding whose split (kind, scope, groups, faults: the same odd client out) a known
    /// difference of that client explained before on a minimised case, when that same
    /// difference covers this case as found (on the case and the client's traced run of it):
    /// the client and the difference. Once a difference has explained a minimised finding,
    /// a new signature it covers is not minimised again to be judged: the culprit and what
    /// differs (where the difference first shows, and how far it spreads) vary with the case
    /// around it, and each new signature's minimisation cost up to its whole budget.
    fn explained_as_before<S: Subject>(
        &self,
        case: &S,
        exam: &Examination<S::Output>,
        signature: &Signature,
    ) -> Option<(String, &'static str)> {
        self.known_splits.get(&signature.split_id())?.iter().find_map(|(label, known)| {
            let client = self.examiner.client(label)?;
            let covering = crate::panel::judged(|| case.known_difference(client.as_ref(), exam.outcome(label)))?;
            (covering.id == *known).then(|| (label.clone(), covering.id))
        })
    }

    /// Files a slow case: `slow` took `timings` against the others'.
    pub fn handle_slow(
        &mut self,
        case: &Case,
        signature: Signature,
        timings: Vec<(String, Duration)>,
        found: Instant,
    ) -> Result<Handled, TriageError> {
        if let Some(again) = self.counted_again(&signature, case.fork.name().to_owned(), found)? {
            return Ok(again);
        }
        let id = signature.id();
        let exam = self.examiner.examine(case, false);
        let minimised = Minimised::unminimised(case);
        let timings = timings.into_iter().map(|(c, d)| (c, d.as_secs_f64())).collect();
        let filed = self.file(case, &exam, case, &exam, &signature, minimised, found, timings)?;
        self.seen.insert(id);
        Ok(Handled { signature, filed, minimised: None, seconds: found.elapsed().as_secs_f64() })
    }

    #[allow(clippy::too_many_arguments)]
    fn file<S: Subject>(
        &self,
        original: &S,
        original_exam: &Examination<S::Output>,
        case: &S,
        exam: &Examination<S::Output>,
        signature: &Signature,
        minimised: Minimised,
        found: Instant,
        timings: Vec<(String, f64)>,
    ) -> Result<Filed, TriageError> {
        let mut report = Report::new(signature, exam, self.client_infos(), minimised);
        report.timings = timings;
        report.reproduce = reproduce_commands(&report);
        let info = serde_json::json!({
            "comment": format!("schism finding {}: {}", report.signature, folder::describe(&report)),
            "schism": {
                "signature": report.signature,
                "groups": report.groups,
                "aspects": report.aspects,
                "culprit": report.key.culprit,
                "locus": report.locus,
            },
        });
        let panel = self.examiner.panel();
        let case_json = case.fixture(&report.signature, info.clone(), exam, panel)?;
        let original_json = original.fixture(&format!("{}-original", report.signature), info, original_exam, panel)?;
        let locus = exam.locus();
        let traces: Vec<(String, &schism_interface::Trace)> =
            exam.outcomes.iter().filter_map(|(c, o)| S::trace_at(o, &locus).map(|t| (c.clone(), t))).collect();
        report.filing_seconds = found.elapsed().as_secs_f64();
        let markdown = report.markdown(case);
        folder::file(&self.options.crashes, &folder::Folder { report: &report, markdown, case: case_json, original: original_json, traces })
    }
}

/// The commands that replay a folder's `case.json`: schism itself, then each client's own tool.
fn reproduce_commands(report: &Report) -> Vec<Command> {
    let ids = report.client_ids();
    let flags: String = ids.iter().filter(|c| !c.contains('#')).map(|c| format!(" --client {c}")).collect();
    let mut out = vec![Command { tool: "schism".into(), command: format!("schism repro .{flags}") }];
    for id in ids {
        if let Some(command) = crate::registry::own_tool_command(&id, report.scope) {
            out.push(Command { tool: id, command: command.replace("{case}", "case.json") });
        }
    }
    out.dedup_by(|a, b| a.command == b.command);
    out
}
