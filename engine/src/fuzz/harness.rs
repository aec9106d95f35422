//! The harness: one generated input through every selected client. Shared by `schism fuzz`
//! (LibAFL), `schism selftest` and the cargo-fuzz target, so that all three find the same
//! things in the same way.

use super::compile::{choose_fork, compile};
use super::features::Recorder;
use super::program::Blueprint;
use super::FuzzError;
use crate::compare::{Verdict, compare};
use crate::runner::guarded;
use alloy_primitives::keccak256;
use schism_interface::{
    Case, Client, ErrorClass, Expectation, ExpectedException, Fork, Outcome, TraceMode,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What the harness runs on and where it files findings.
#[derive(Clone)]
pub struct HarnessOptions {
    /// The clients compared. One client is compared with a second run of itself (a
    /// determinism check).
    pub clients: Vec<Arc<dyn Client>>,
    /// Only this fork; otherwise every fork at least two clients support.
    pub fork: Option<Fork>,
    /// Where divergences are written (state-test JSON, one file per signature).
    pub crashes: PathBuf,
}

/// Time spent in one client.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientStats {
    /// Client id.
    pub id: String,
    /// Cases it executed.
    pub cases: u64,
    /// Seconds it spent executing them.
    pub seconds: f64,
}

/// Cumulative statistics of one harness.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HarnessStats {
    /// Inputs run.
    pub executions: u64,
    /// Runs that were findings (consensus divergence or client fault).
    pub divergences: u64,
    /// Distinct findings filed.
    pub filed: u64,
    /// Runs in which clients only named an exceptional halt differently.
    pub halt_naming: u64,
    /// Instructions executed, counted on the observed client.
    pub opcodes: u64,
    /// Runs that executed more than 10 instructions.
    pub deep_cases: u64,
    /// Runs where the transaction was rejected before execution.
    pub rejected: u64,
    /// Per client, in selection order.
    pub per_client: Vec<ClientStats>,
    /// Opcodes executed at least once.
    pub opcodes_reached: Vec<u8>,
    /// Precompiles called successfully at least once.
    pub precompiles_reached: Vec<u16>,
    /// When the first finding came: seconds after the harness started, and its execution
    /// number.
    #[serde(default)]
    pub first_finding: Option<FirstFinding>,
}

/// The moment of a harness's first finding.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FirstFinding {
    /// Its signature (the name it is filed under).
    pub signature: String,
    /// Seconds since the harness started.
    pub seconds: f64,
    /// Executions up to and including the finding.
    pub executions: u64,
}

/// What one run found.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// True for a finding: clients disagree on consensus data, or one failed.
    pub divergent: bool,
    /// Instructions executed on the observed client.
    pub opcodes: u64,
    /// The finding's signature, when there is one.
    pub signature: Option<String>,
}

/// A finding as filed: the verdict and who took part.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Stable short hash of fork, groups and aspects (or faulting client and kind).
    pub signature: String,
    /// The fork.
    pub fork: Fork,
    /// The comparison.
    pub verdict: Verdict,
    /// Clients that failed to produce an outcome: id, fault kind, message.
    pub faults: Vec<(String, String, String)>,
    /// Clients left out because a documented known difference covers the case.
    pub excused: Vec<(String, String)>,
    /// What the largest group computed, written as the fixture's expectation so that every
    /// client's own runner replays the case and reports the minority as a failure.
    #[serde(skip)]
    pub expected: Option<Expectation>,
}

/// Runs inputs on clients and files what they disagree on.
pub struct Harness {
    clients: Vec<(String, Arc<dyn Client>)>,
    forks: Vec<Fork>,
    observed: usize,
    crashes: PathBuf,
    stats: HarnessStats,
    opcodes_seen: [bool; 256],
    filed: std::collections::HashSet<String>,
    started: Instant,
}

impl Harness {
    /// A harness over the given clients.
    pub fn new(options: HarnessOptions) -> Result<Harness, FuzzError> {
        if options.clients.is_empty() {
            return Err(FuzzError::NoClients);
        }
        let mut clients: Vec<(String, Arc<dyn Client>)> = options.clients.iter().map(|c| (c.id().to_owned(), c.clone())).collect();
        if clients.len() == 1 {
            let (id, client) = clients[0].clone();
            clients.push((format!("{id}#again"), client));
        }
        let supporters = |fork: Fork| clients.iter().filter(|(_, c)| c.supports(fork)).count();
        let forks: Vec<Fork> = match options.fork {
            Some(fork) if supporters(fork) >= 2 => vec![fork],
            Some(fork) => return Err(FuzzError::Fork { fork, supported_by: supporters(fork) }),
            None => Fork::ALL.into_iter().filter(|f| supporters(*f) >= 2).collect(),
        };
        if forks.is_empty() {
            return Err(FuzzError::NoCommonFork);
        }
        let observed = clients.iter().position(|(_, c)| c.observes_cheaply()).unwrap_or(0);
        // The clients run one after the other on this thread: when they agree, the post-state
        // root is hashed once.
        schism_interface::state::remember_roots_on_this_thread();
        let per_client = clients.iter().map(|(id, _)| ClientStats { id: id.clone(), ..Default::default() }).collect();
        Ok(Harness {
            clients,
            forks,
            observed,
            crashes: options.crashes,
            stats: HarnessStats { per_client, ..Default::default() },
            opcodes_seen: [false; 256],
            filed: Default::default(),
            started: Instant::now(),
        })
    }

    /// Cumulative statistics.
    pub fn stats(&self) -> &HarnessStats {
        &self.stats
    }

    /// The case an input compiles to.
    pub fn case(&self, input: &Blueprint) -> Case {
        let fork = choose_fork(input.fork, &self.forks).unwrap_or(Fork::Cancun);
        compile(input, fork)
    }

    /// Runs one input on every client; writes features into `map` (the caller zeroes it) and
    /// files a divergence under the crashes directory.
    pub fn run(&mut self, input: &Blueprint, map: &mut [u8]) -> Run {
        let case = self.case(input);
        let (run, finding) = self.run_case(&case, map);
        if let Some(finding) = finding
            && self.filed.insert(finding.signature.clone())
        {
            match file(&self.crashes, &case, &finding) {
                Ok(true) => self.stats.filed += 1,
                Ok(false) => {}
                Err(e) => eprintln!("schism fuzz: cannot file finding {}: {e}", finding.signature),
            }
        }
        run
    }

    /// Runs a case on every client and compares; the finding, when there is one.
    pub fn run_case(&mut self, case: &Case, map: &mut [u8]) -> (Run, Option<Finding>) {
        let mut recorder = Recorder::new(map);
        let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(self.clients.len());
        let mut faults = Vec::new();
        let mut excused = Vec::new();
        for (i, (id, client)) in self.clients.iter().enumerate() {
            if !client.supports(case.fork) {
                continue;
            }
            if let Some(known) = client.known_differences().iter().find(|k| (k.applies)(case)) {
                excused.push((id.clone(), known.id.to_owned()));
                continue;
            }
            let started = Instant::now();
            let result = if i == self.observed {
                guarded(id, || client.execute_observed(case, &mut recorder))
            } else {
                guarded(id, || client.execute(case, TraceMode::Off))
            };
            let stats = &mut self.stats.per_client[i];
            stats.cases += 1;
            stats.seconds += started.elapsed().as_secs_f64();
            match result {
                Ok(outcome) => outcomes.push((i, outcome)),
                Err(e) => faults.push((id.clone(), e.kind().to_owned(), e.to_string())),
            }
        }
        let refs: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).collect();
        recorder.finish(&case.pre, &refs);
        let labelled: Vec<(&str, &Outcome)> = outcomes.iter().map(|(i, o)| (self.clients[*i].0.as_str(), o)).collect();
        let verdict = compare(&labelled);
        let steps = recorder.steps;
        account(&mut self.stats, &mut self.opcodes_seen, &recorder, &outcomes);
        let divergent = verdict.is_consensus_divergence() || !faults.is_empty();
        if matches!(verdict, Verdict::Diverge { .. }) && !divergent {
            self.stats.halt_naming += 1;
        }
        let finding = divergent.then(|| {
            self.stats.divergences += 1;
            let signature = signature(case.fork, &verdict, &faults);
            if self.stats.first_finding.is_none() {
                self.stats.first_finding = Some(FirstFinding {
                    signature: signature.clone(),
                    seconds: self.started.elapsed().as_secs_f64(),
                    executions: self.stats.executions,
                });
            }
            let reference = match &verdict {
                Verdict::Diverge { groups, .. } => groups
                    .first()
                    .and_then(|g| g.first())
                    .and_then(|id| labelled.iter().find(|(l, _)| l == id))
                    .map(|(_, o)| *o),
                _ => labelled.first().map(|(_, o)| *o),
            };
            let expected = reference.map(expectation_of);
            Finding { signature, fork: case.fork, verdict, faults, excused, expected }
        });
        let run = Run { divergent, opcodes: steps, signature: finding.as_ref().map(|f| f.signature.clone()) };
        (run, finding)
    }

}

/// Adds one run to the statistics.
fn account(stats: &mut HarnessStats, seen: &mut [bool; 256], recorder: &Recorder, outcomes: &[(usize, Outcome)]) {
    stats.executions += 1;
    stats.opcodes += recorder.steps;
    if recorder.steps > 10 {
        stats.deep_cases += 1;
    }
    if outcomes.first().is_some_and(|(_, o)| o.status() == Some(schism_interface::TxStatus::Rejected)) {
        stats.rejected += 1;
    }
    for (op, now) in recorder.opcodes.iter().enumerate() {
        if *now && !seen[op] {
            seen[op] = true;
            stats.opcodes_reached.push(op as u8);
        }
    }
    for p in &recorder.precompiles {
        if !stats.precompiles_reached.contains(p) {
            stats.precompiles_reached.push(*p);
        }
    }
}

/// An outcome as a fixture expectation.
fn expectation_of(outcome: &Outcome) -> Expectation {
    let exception = match outcome.error {
        Some(ErrorClass::InvalidTransaction(kind)) => {
            Some(ExpectedException::parse(&format!("TransactionException.{}", kind.name())))
        }
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


/// A stable short name for what a finding is: the same bug found twice gets the same name.
fn signature(fork: Fork, verdict: &Verdict, faults: &[(String, String, String)]) -> String {
    let mut key = format!("{fork}");
    if let Verdict::Diverge { groups, aspects, .. } = verdict {
        key.push_str(&format!("|{groups:?}|{aspects:?}"));
    }
    for (client, kind, _) in faults {
        key.push_str(&format!("|{client}:{kind}"));
    }
    let hash = keccak256(key.as_bytes());
    format!("{}-{}", fork.name().to_lowercase(), alloy_primitives::hex::encode(&hash[..6]))
}

/// Writes a finding as a state test `<crashes>/<signature>.json` (atomically). False when a
/// file of that signature exists already.
fn file(crashes: &Path, case: &Case, finding: &Finding) -> std::io::Result<bool> {
    std::fs::create_dir_all(crashes)?;
    let path = crashes.join(format!("{}.json", finding.signature));
    if path.exists() {
        return Ok(false);
    }
    let mut case = case.clone();
    case.expected = finding.expected.clone();
    let mut test = case.to_state_test();
    test.info = Some(serde_json::json!({ "comment": "found by schism fuzz", "schism": finding }));
    let name = format!("schism/{}", finding.signature);
    let file = std::collections::BTreeMap::from([(name, test)]);
    let text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
    let tmp = crashes.join(format!(".{}.json.tmp", finding.signature));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;
    use schism_interface::ClientError;
    use schism_interface::load::{FixtureFile, expand_file, read_fixture};

    /// A scripted client: the same outcome for every case, with a root of its own.
    struct Scripted {
        id: &'static str,
        root: u8,
        fail: bool,
    }

    impl Client for Scripted {
        fn id(&self) -> &str {
            self.id
        }
        fn version(&self) -> &str {
            "scripted"
        }
        fn supports(&self, _: Fork) -> bool {
            true
        }
        fn execute(&self, case: &Case, _: TraceMode) -> Result<Outcome, ClientError> {
            if self.fail {
                return Err(ClientError::Crashed { client: self.id.to_owned(), status: "signal 11".into(), stderr_tail: String::new() });
            }
            let mut outcome = Outcome::executed((*case.pre).clone(), Vec::new(), 21_000, None, Some(Vec::new()));
            outcome.state_root = B256::repeat_byte(self.root);
            Ok(outcome)
        }
    }

    fn harness(clients: Vec<Arc<dyn Client>>, crashes: &Path) -> Harness {
        Harness::new(HarnessOptions { clients, fork: Some(Fork::Cancun), crashes: crashes.to_path_buf() }).expect("harness")
    }

    #[test]
    fn a_divergence_is_filed_once_as_a_replayable_state_test() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clients: Vec<Arc<dyn Client>> = vec![
            Arc::new(Scripted { id: "a", root: 1, fail: false }),
            Arc::new(Scripted { id: "b", root: 1, fail: false }),
            Arc::new(Scripted { id: "c", root: 2, fail: false }),
        ];
        let mut h = harness(clients, dir.path());
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let first = h.run(&Blueprint::from_bytes(&[1, 2, 3]), &mut map);
        let second = h.run(&Blueprint::from_bytes(&[9, 9, 9, 9]), &mut map);
        assert!(first.divergent && second.divergent);
        assert_eq!(first.signature, second.signature, "same groups, same fork, same signature");
        assert_eq!(h.stats().divergences, 2);
        assert_eq!(h.stats().filed, 1);
        assert!(h.stats().first_finding.as_ref().is_some_and(|f| f.executions == 1));
        let file = dir.path().join(format!("{}.json", first.signature.unwrap_or_default()));
        let FixtureFile::State(test) = read_fixture(&file).expect("filed file reads as a fixture") else { panic!("not a state test") };
        let (cases, errors) = expand_file(&file, &test);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].expected.as_ref().map(|e| e.hash), Some(B256::repeat_byte(1)), "the majority's root is the expectation");
    }

    #[test]
    fn agreement_and_a_lone_client_against_itself_find_nothing_but_faults_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let mut alone = harness(vec![Arc::new(Scripted { id: "a", root: 1, fail: false })], dir.path());
        assert!(!alone.run(&Blueprint::from_bytes(&[5; 64]), &mut map).divergent);
        assert_eq!(alone.stats().per_client.len(), 2, "compared with a second run of itself");
        let mut faulty = harness(
            vec![Arc::new(Scripted { id: "a", root: 1, fail: false }), Arc::new(Scripted { id: "b", root: 1, fail: true })],
            dir.path(),
        );
        let run = faulty.run(&Blueprint::from_bytes(&[5; 64]), &mut map);
        assert!(run.divergent, "a client fault is a finding");
    }
}
