//! Reports: the JSON written by `--report` and the summary table printed at the end of a run.

use crate::compare::{Aspect, Verdict};
use crate::registry::supported_forks;
use crate::runner::{CaseRef, CaseResult, ClientResult};
use alloy_primitives::B256;
use schism_interface::case::Mismatch;
use schism_interface::{Client, FixtureError, Fork};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Per client, by id.
    pub clients: BTreeMap<String, ClientReport>,
    /// Cases on which clients computed different results.
    pub disagreements: Vec<Disagreement>,
    /// Files or entries that could not be read.
    pub input_errors: Vec<InputError>,
    /// Fixture files read.
    pub files: usize,
    /// Cases expanded.
    pub cases: usize,
    /// Wall time of the whole run.
    pub elapsed_s: f64,
    /// Blockchain tests: per client, by id (empty when the run had none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sequences: BTreeMap<String, SequenceClientReport>,
    /// Blockchain tests on which clients computed different blocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sequence_disagreements: Vec<SequenceDisagreement>,
    /// Blockchain tests run.
    pub sequence_count: usize,
}

/// One client's results on blockchain tests.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SequenceClientReport {
    /// Counts, per fork schedule.
    #[serde(flatten)]
    pub counts: Counts<String>,
    /// Every failing test.
    pub failures: Vec<SequenceFailure>,
    /// Every test on which the client produced no outcome.
    pub client_errors: Vec<SequenceFailure>,
}

/// A blockchain test a client failed or faulted on.
#[derive(Clone, Debug, Serialize)]
pub struct SequenceFailure {
    /// File.
    pub file: Arc<str>,
    /// Test name.
    pub test: Arc<str>,
    /// Fork schedule.
    pub network: String,
    /// What happened.
    pub result: crate::runner::sequences::ChainResult,
}

/// A blockchain test on which clients part ways.
#[derive(Clone, Debug, Serialize)]
pub struct SequenceDisagreement {
    /// File.
    pub file: Arc<str>,
    /// Test name.
    pub test: Arc<str>,
    /// Fork schedule.
    pub network: String,
    /// Client ids grouped by identical results, largest group first.
    pub groups: Vec<Vec<String>>,
    /// What differs.
    pub aspects: Vec<Aspect>,
    /// Where: the first divergent block and transaction.
    pub locus: crate::compare::Locus,
}

/// One client's results on state tests.
#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    /// Crate or binary version.
    pub version: String,
    /// Forks it supports.
    pub forks: Vec<Fork>,
    /// Counts, per fork.
    #[serde(flatten)]
    pub counts: Counts<Fork>,
    /// Passing cases whose rejection reason differs from the fixture's.
    pub rejection_kind_mismatches: usize,
    /// Every failing case.
    pub failures: Vec<Failure>,
    /// Known differences with how many cases each explained.
    pub known_differences: Vec<KnownCount>,
    /// Every case on which the client failed to produce an outcome.
    pub client_errors: Vec<ClientFault>,
}

/// One client's counts on one kind of case, in all and per fork (state tests) or fork schedule
/// (blockchain tests): the one count structure of both parts of a report.
#[derive(Clone, Debug, Serialize)]
pub struct Counts<K: Ord> {
    /// Cases as the fixture expects.
    pub pass: usize,
    /// Cases not as the fixture expects.
    pub fail: usize,
    /// Cases differing in a documented known way.
    pub known: usize,
    /// Cases not executed.
    pub skip: usize,
    /// Cases on which the client produced no outcome.
    pub errors: usize,
    /// Time spent inside the client, summed over threads.
    pub elapsed_s: f64,
    /// Counts per fork or fork schedule.
    pub per_fork: BTreeMap<K, ForkCounts>,
    /// Skips grouped by reason.
    pub skips: Vec<Count>,
    /// Client errors by kind of fault.
    pub faults: BTreeMap<String, usize>,
}

impl<K: Ord> Default for Counts<K> {
    fn default() -> Counts<K> {
        Counts {
            pass: 0,
            fail: 0,
            known: 0,
            skip: 0,
            errors: 0,
            elapsed_s: 0.0,
            per_fork: BTreeMap::new(),
            skips: Vec::new(),
            faults: BTreeMap::new(),
        }
    }
}

/// What one client made of one case, as counted.
#[derive(Clone, Copy, Debug)]
pub enum Tally<'a> {
    /// As the fixture expects.
    Pass,
    /// Not as the fixture expects.
    Fail,
    /// Explained by a known difference.
    Known,
    /// Not executed, for this reason.
    Skip(&'a str),
    /// No outcome, with this kind of fault.
    Error(&'a str),
}

impl<K: Ord> Counts<K> {
    /// Counts one case of fork `key` that took `took`.
    pub fn add(&mut self, key: K, tally: Tally<'_>, took: Duration) {
        self.elapsed_s += took.as_secs_f64();
        let fork = self.per_fork.entry(key).or_default();
        match tally {
            Tally::Pass => {
                self.pass += 1;
                fork.pass += 1;
            }
            Tally::Fail => {
                self.fail += 1;
                fork.fail += 1;
            }
            Tally::Known => {
                self.known += 1;
                fork.known += 1;
            }
            Tally::Skip(reason) => {
                self.skip += 1;
                fork.skip += 1;
                match self.skips.iter_mut().find(|c| c.reason == reason) {
                    Some(c) => c.count += 1,
                    None => self.skips.push(Count { reason: reason.to_owned(), count: 1 }),
                }
            }
            Tally::Error(kind) => {
                self.errors += 1;
                fork.errors += 1;
                *self.faults.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }

    /// Cases the client ran (everything but skips).
    pub fn ran(&self) -> usize {
        self.pass + self.fail + self.known + self.errors
    }

    /// Passes among the cases it ran, in percent.
    pub fn pass_percent(&self) -> f64 {
        let ran = self.ran();
        if ran == 0 { 0.0 } else { 100.0 * self.pass as f64 / ran as f64 }
    }
}

/// Pass/fail/known/skip/error counts of one client on one fork.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ForkCounts {
    /// Matching.
    pub pass: usize,
    /// Differing.
    pub fail: usize,
    /// Known differences.
    pub known: usize,
    /// Not executed.
    pub skip: usize,
    /// No outcome.
    pub errors: usize,
}

/// A case a client failed.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// Fixture file.
    pub file: Arc<str>,
    /// Test name.
    pub test: Arc<str>,
    /// Fork.
    pub fork: Fork,
    /// Indexes.
    pub index: schism_interface::fixture::Indexes,
    /// What the fixture expects.
    pub expected: Hashes,
    /// What the client computed.
    pub got: Got,
    /// Each way the two differ.
    pub mismatches: Vec<Mismatch>,
}

/// Root and logs hash.
#[derive(Clone, Debug, Serialize)]
pub struct Hashes {
    /// State root.
    pub hash: B256,
    /// Logs hash.
    pub logs: B256,
}

/// What a client computed.
#[derive(Clone, Debug, Serialize)]
pub struct Got {
    /// State root.
    pub hash: B256,
    /// Logs hash, when the client reports it.
    pub logs: Option<B256>,
    /// Error class, if the transaction did not succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A reason with how often it occurred.
#[derive(Clone, Debug, Serialize)]
pub struct Count {
    /// The reason.
    pub reason: String,
    /// Occurrences.
    pub count: usize,
}

/// A known difference and the cases it explained.
#[derive(Clone, Debug, Serialize)]
pub struct KnownCount {
    /// Its id.
    pub id: &'static str,
    /// What differs and why.
    pub reason: &'static str,
    /// Where it is documented.
    pub link: &'static str,
    /// Cases it explained.
    pub count: usize,
}

/// A case on which a client produced no outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ClientFault {
    /// The case.
    #[serde(flatten)]
    pub case: CaseRef,
    /// The kind of fault (`crashed`, `timeout`, `malformed_output`, ...).
    pub kind: String,
    /// The client's failure.
    pub error: String,
}

/// A case on which clients disagree.
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    /// The case.
    #[serde(flatten)]
    pub case: CaseRef,
    /// Clients grouped by identical results, largest first.
    pub groups: Vec<Vec<String>>,
    /// What differs.
    pub aspects: Vec<Aspect>,
    /// What each group computed, in the order of `groups`.
    pub results: Vec<crate::compare::Comparable>,
    /// Known differences that explain it, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<&'static str>,
    /// False when clients agree on root, logs, status and gas and only name the halt
    /// differently.
    pub consensus: bool,
}

impl Disagreement {
    /// A disagreement that counts as a finding: visible to consensus and not explained.
    pub fn counts(&self) -> bool {
        self.consensus && self.known.is_empty()
    }
}

/// A file or entry that could not be used.
#[derive(Clone, Debug, Serialize)]
pub struct InputError {
    /// The file.
    pub file: PathBuf,
    /// JSON pointer of the bad value.
    pub pointer: String,
    /// The whole message.
    pub message: String,
}

impl Report {
    /// Aggregates per-case results.
    pub fn build(
        clients: &[Arc<dyn Client>],
        results: &[CaseResult],
        input_errors: &[FixtureError],
        files: usize,
        elapsed: Duration,
    ) -> Report {
        let mut reports: Vec<ClientReport> = clients
            .iter()
            .map(|c| ClientReport {
                version: c.version().to_owned(),
                forks: supported_forks(c.as_ref()),
                counts: Counts::default(),
                rejection_kind_mismatches: 0,
                failures: Vec::new(),
                known_differences: c
                    .known_differences()
                    .iter()
                    .map(|k| KnownCount { id: k.id, reason: k.reason, link: k.link, count: 0 })
                    .collect(),
                client_errors: Vec::new(),
            })
            .collect();
        let mut disagreements = Vec::new();
        for result in results {
            for (report, (outcome, took)) in reports.iter_mut().zip(&result.clients) {
                let tally = match outcome {
                    ClientResult::Pass { soft } => {
                        report.rejection_kind_mismatches += usize::from(!soft.is_empty());
                        Tally::Pass
                    }
                    ClientResult::Fail { mismatches, hash, logs, error } => {
                        let (eh, el) = result.expected.unwrap_or_default();
                        report.failures.push(Failure {
                            file: result.case.file.clone(),
                            test: result.case.test.clone(),
                            fork: result.case.fork,
                            index: result.case.index,
                            expected: Hashes { hash: eh, logs: el },
                            got: Got { hash: *hash, logs: *logs, error: error.clone() },
                            mismatches: mismatches.clone(),
                        });
                        Tally::Fail
                    }
                    ClientResult::Known { id } => {
                        if let Some(k) = report.known_differences.iter_mut().find(|k| k.id == *id) {
                            k.count += 1;
                        }
                        Tally::Known
                    }
                    ClientResult::Skip { reason } => Tally::Skip(reason),
                    ClientResult::Error { kind, message } => {
                        report.client_errors.push(ClientFault { case: result.case.clone(), kind: kind.clone(), error: message.clone() });
                        Tally::Error(kind)
                    }
                };
                report.counts.add(result.case.fork, tally, *took);
            }
            if let Verdict::Diverge { groups, aspects, results, .. } = &result.verdict {
                disagreements.push(Disagreement {
                    case: result.case.clone(),
                    groups: groups.clone(),
                    aspects: aspects.clone(),
                    results: results.clone(),
                    known: result.known_divergence.clone(),
                    consensus: result.verdict.is_consensus_divergence(),
                });
            }
        }
        Report {
            clients: clients.iter().map(|c| c.id().to_owned()).zip(reports).collect(),
            disagreements,
            input_errors: input_errors.iter().map(input_error).collect(),
            files,
            cases: results.len(),
            elapsed_s: elapsed.as_secs_f64(),
            sequences: BTreeMap::new(),
            sequence_disagreements: Vec::new(),
            sequence_count: 0,
        }
    }

    /// Adds the results of blockchain tests.
    pub fn add_sequences(&mut self, clients: &[Arc<dyn Client>], results: &[crate::runner::sequences::SequenceResult]) {
        use crate::runner::sequences::ChainResult;
        if results.is_empty() {
            return;
        }
        let mut reports = vec![SequenceClientReport::default(); clients.len()];
        for r in results {
            for (report, (result, took)) in reports.iter_mut().zip(&r.clients) {
                let failure =
                    || SequenceFailure { file: r.file.clone(), test: r.test.clone(), network: r.network.clone(), result: result.clone() };
                let tally = match result {
                    ChainResult::Pass => Tally::Pass,
                    ChainResult::Fail { .. } => {
                        report.failures.push(failure());
                        Tally::Fail
                    }
                    ChainResult::Skip { reason } => Tally::Skip(reason),
                    ChainResult::Error { kind, .. } => {
                        report.client_errors.push(failure());
                        Tally::Error(kind)
                    }
                };
                report.counts.add(r.network.clone(), tally, *took);
            }
            if let Verdict::Diverge { groups, aspects, locus, .. } = &r.verdict {
                self.sequence_disagreements.push(SequenceDisagreement {
                    file: r.file.clone(),
                    test: r.test.clone(),
                    network: r.network.clone(),
                    groups: groups.clone(),
                    aspects: aspects.clone(),
                    locus: locus.clone(),
                });
            }
        }
        self.sequences = clients.iter().map(|c| c.id().to_owned()).zip(reports).collect();
        self.sequence_count = results.len();
    }

    /// True when some client failed, faulted, or clients disagreed beyond known differences.
    pub fn found_problems(&self) -> bool {
        self.clients.values().any(|c| c.counts.fail > 0 || c.counts.errors > 0)
            || self.disagreements.iter().any(Disagreement::counts)
            || self.sequences.values().any(|c| c.counts.fail > 0 || c.counts.errors > 0)
            || !self.sequence_disagreements.is_empty()
    }

    /// The summary table printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let iw = self.clients.keys().map(String::len).chain([10]).max().unwrap_or(10);
        let vw = self.clients.values().map(|c| c.version.len()).chain([10]).max().unwrap_or(10);
        let _ = writeln!(
            out,
            "{:<iw$} {:<vw$} {:>7} {:>6} {:>6} {:>6} {:>6} {:>8} {:>9}",
            "client", "version", "pass", "fail", "known", "skip", "error", "pass%", "time"
        );
        for (id, c) in &self.clients {
            let (n, version) = (&c.counts, &c.version);
            let _ = writeln!(
                out,
                "{:<iw$} {version:<vw$} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7.2}% {:>8.1}s",
                id,
                n.pass,
                n.fail,
                n.known,
                n.skip,
                n.errors,
                n.pass_percent(),
                n.elapsed_s
            );
        }
        let forks: std::collections::BTreeSet<Fork> = self.clients.values().flat_map(|c| c.counts.per_fork.keys().copied()).collect();
        if forks.len() > 1 {
            let _ = write!(out, "\n{:<18}", "fork (pass/ran)");
            for id in self.clients.keys() {
                let _ = write!(out, " {id:>16}");
            }
            out.push('\n');
            for fork in forks {
                let _ = write!(out, "{:<18}", fork.name());
                for c in self.clients.values() {
                    let cell = match c.counts.per_fork.get(&fork) {
                        Some(f) if f.pass + f.fail + f.known + f.errors > 0 => {
                            format!("{}/{}", f.pass, f.pass + f.fail + f.known + f.errors)
                        }
                        _ => "skip".to_owned(),
                    };
                    let _ = write!(out, " {cell:>16}");
                }
                out.push('\n');
            }
        }
        if !self.sequences.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<iw$} {:>7} {:>6} {:>6} {:>6} {:>8} {:>9}   (blockchain tests)",
                "client", "pass", "fail", "skip", "error", "pass%", "time"
            );
            for (id, c) in &self.sequences {
                let n = &c.counts;
                let _ = writeln!(
                    out,
                    "{:<iw$} {:>7} {:>6} {:>6} {:>6} {:>7.2}% {:>8.1}s",
                    id,
                    n.pass,
                    n.fail,
                    n.skip,
                    n.errors,
                    n.pass_percent(),
                    n.elapsed_s
                );
            }
            for (id, c) in &self.sequences {
                for s in &c.counts.skips {
                    let _ = writeln!(out, "  {id} skipped {} tests: {}", s.count, s.reason);
                }
            }
            let _ = writeln!(
                out,
                "{} blockchain tests; {} on which clients computed different blocks",
                self.sequence_count,
                self.sequence_disagreements.len()
            );
        }
        let known = self.disagreements.iter().filter(|d| d.consensus && !d.known.is_empty()).count();
        let naming = self.disagreements.iter().filter(|d| !d.consensus).count();
        let _ = writeln!(
            out,
            "\n{} cases from {} files in {:.1}s; {} disagreements ({} more explained by known differences, {} only in the halt's error class); {} input errors",
            self.cases,
            self.files,
            self.elapsed_s,
            self.disagreements.iter().filter(|d| d.counts()).count(),
            known,
            naming,
            self.input_errors.len()
        );
        out
    }

    /// A few lines on the first failures, disagreements and input errors.
    pub fn highlights(&self, limit: usize) -> String {
        let mut out = String::new();
        for e in self.input_errors.iter().take(limit) {
            let _ = writeln!(out, "input error: {}", e.message);
        }
        for (id, c) in &self.clients {
            for f in c.failures.iter().take(limit) {
                let what: Vec<String> = f.mismatches.iter().map(describe).collect();
                let _ = writeln!(
                    out,
                    "{id} FAIL {}::{}[{} d{}/g{}/v{}]: {}",
                    f.file,
                    f.test,
                    f.fork,
                    f.index.data,
                    f.index.gas,
                    f.index.value,
                    what.join("; ")
                );
            }
            for e in c.client_errors.iter().take(limit) {
                let _ = writeln!(out, "{id} ERROR ({}) {}::{}[{}]: {}", e.kind, e.case.file, e.case.test, e.case.fork, e.error);
            }
        }
        for (id, c) in &self.sequences {
            for f in c.failures.iter().chain(&c.client_errors).take(limit) {
                let _ = writeln!(out, "{id} FAIL {}::{}[{}]: {}", f.file, f.test, f.network, describe_chain(&f.result));
            }
        }
        for d in self.sequence_disagreements.iter().take(limit) {
            let groups: Vec<String> = d.groups.iter().map(|g| g.join("+")).collect();
            let _ = writeln!(
                out,
                "DISAGREE {}::{}[{}] at {} on {:?}: {}",
                d.file,
                d.test,
                d.network,
                d.locus.describe(),
                d.aspects,
                groups.join(" | ")
            );
        }
        for d in self.disagreements.iter().filter(|d| d.counts()).take(limit) {
            let detail: Vec<String> = d
                .groups
                .iter()
                .zip(&d.results)
                .map(|(g, r)| {
                    let error = r.halt.map(|h| format!(" {h}")).unwrap_or_default();
                    let status = r.status.map_or_else(|| "executed".to_owned(), |s| format!("{s:?}"));
                    let gas = r.gas_used.map_or_else(|| "?".to_owned(), |g| g.to_string());
                    format!("{} -> {status}{error} gas {gas} root {:.10}", g.join("+"), r.state_root)
                })
                .collect();
            let _ = writeln!(
                out,
                "DISAGREE {}::{}[{} d{}/g{}/v{}] on {:?}: {}",
                d.case.file,
                d.case.test,
                d.case.fork,
                d.case.index.data,
                d.case.index.gas,
                d.case.index.value,
                d.aspects,
                detail.join(" | ")
            );
        }
        out
    }
}

fn describe(m: &Mismatch) -> String {
    match m {
        Mismatch::StateRoot { expected, got } => format!("state root {got} != {expected}"),
        Mismatch::Logs { expected, got } => format!("logs {got} != {expected}"),
        Mismatch::MissingRejection { expected } => format!("executed, fixture expects {expected}"),
        Mismatch::UnexpectedRejection { got } => format!("rejected ({got}), fixture expects execution"),
        Mismatch::RejectionKind { expected, got } => format!("rejected as {got}, fixture says {expected}"),
    }
}

fn describe_chain(result: &crate::runner::sequences::ChainResult) -> String {
    use crate::chain::ChainMismatch as M;
    use crate::runner::sequences::ChainResult as R;
    match result {
        R::Fail { mismatches } => mismatches
            .iter()
            .map(|m| match m {
                M::MissingRejection { block, expected } => format!("block {block} accepted, fixture expects {expected}"),
                M::UnexpectedRejection { block, got } => format!("block {block} rejected ({got})"),
                M::StateRoot { expected, got } => format!("head state root {got} != {expected}"),
                M::LastBlockHash { expected, got } => format!("head {got} != {expected}"),
                M::Native { detail } => format!("own runner: {detail}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        R::Error { kind, message } => format!("{kind}: {message}"),
        R::Skip { reason } => format!("skipped: {reason}"),
        R::Pass => "pass".to_owned(),
    }
}

fn input_error(e: &FixtureError) -> InputError {
    let (file, pointer) = match e {
        FixtureError::Io { path, .. } => (path.clone(), String::new()),
        FixtureError::Json { path, pointer, .. } | FixtureError::Invalid { path, pointer, .. } => (path.clone(), pointer.clone()),
        _ => (PathBuf::new(), String::new()),
    };
    InputError { file, pointer, message: e.to_string() }
}
