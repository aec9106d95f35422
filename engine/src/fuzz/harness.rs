//! The harness: one generated input through every selected client. Shared by `schism fuzz`
//! (LibAFL), `schism selftest` and the cargo-fuzz target, so that all three find the same
//! things in the same way.

use super::FuzzError;
use super::compile::{choose_fork, compile};
use super::features::{FeatureKind, Recorder};
use super::program::Blueprint;
use super::sequence::compile_sequence;
use crate::chain::{self, ChainRun};
use crate::compare::{Verdict, compare};
use crate::panel::{Call, Entry, Excuse, Panel, guarded};
use crate::triage::{Budget, Examiner, Filed, Handled, Kind, Scope, Signature, Subject, Triage, TriageError, TriageOptions};
use schism_interface::{Case, Client, Fork, Outcome, Sequence, TraceMode};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the harness runs on and where it files findings.
#[derive(Clone)]
pub struct HarnessOptions {
    /// The clients compared. One client is compared with a second run of itself (a
    /// determinism check).
    pub clients: Vec<Arc<dyn Client>>,
    /// Only this fork; otherwise every fork at least two clients support.
    pub fork: Option<Fork>,
    /// Where findings are filed: one folder per signature.
    pub crashes: PathBuf,
    /// Minimisation budget per new signature (`None`: findings are filed as found).
    pub minimise: Option<Budget>,
    /// When a case counts as slow (`None`: timing is not judged).
    pub slow: Option<SlowRule>,
    /// The share of inputs run as block sequences (inputs with later transactions whose
    /// `sequence` byte falls below it); the corpus then keeps the sequences that reach new
    /// behaviour, so the share also follows feedback.
    pub sequences: f64,
    /// Signatures already judged to be other bugs than the one sought (the rediscovery
    /// suite's): filed again and counted as set aside, but not findings, so they neither stop
    /// a farm that stops at its first divergence nor count as its first finding.
    pub set_aside: Vec<String>,
    /// The client whose bug is sought (the rediscovery suite's buggy release, fuzzed beside
    /// releases that fixed it): a divergent run that does not set it apart, alone in its
    /// group or the only client that faulted, is another bug: counted as set aside, neither
    /// filed nor a finding.
    pub sought: Option<String>,
    /// When filing must stop (a farm's end): a finding whose minimisation is still running
    /// then stays pending, filed by the next farm on the same folders.
    pub deadline: Option<Instant>,
}

impl HarnessOptions {
    /// Options with the default minimisation budget and slow rule.
    pub fn new(clients: Vec<Arc<dyn Client>>, fork: Option<Fork>, crashes: PathBuf) -> HarnessOptions {
        HarnessOptions {
            clients,
            fork,
            crashes,
            minimise: Some(Budget::default()),
            slow: Some(SlowRule::default()),
            sequences: DEFAULT_SEQUENCE_SHARE,
            set_aside: Vec::new(),
            sought: None,
            deadline: None,
        }
    }
}

/// The default share of inputs run as block sequences.
pub const DEFAULT_SEQUENCE_SHARE: f64 = 0.3;

/// When a case is filed as slow: one client took at least `ratio` times as long as the
/// fastest, and at least `floor` (twice: the first measurement is confirmed by a second run of
/// the slow and the fastest client, so a one-off pause is not a finding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowRule {
    /// Slowest over fastest.
    pub ratio: f64,
    /// The least time the slow client must take.
    pub floor: Duration,
}

impl Default for SlowRule {
    fn default() -> SlowRule {
        SlowRule { ratio: 20.0, floor: Duration::from_millis(250) }
    }
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

impl ClientStats {
    /// Counts one case that took `took`.
    fn add(&mut self, took: Duration) {
        self.cases += 1;
        self.seconds += took.as_secs_f64();
    }
}

/// Cumulative statistics of one harness.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HarnessStats {
    /// Inputs run.
    pub executions: u64,
    /// Runs that were findings (consensus divergence or client fault).
    pub divergences: u64,
    /// Distinct findings filed (new folders).
    pub filed: u64,
    /// Slow cases found (filed once per signature, counted on its folder after).
    #[serde(default)]
    pub slow: u64,
    /// Divergent runs whose traced re-run agreed (a client that is not deterministic).
    #[serde(default)]
    pub unreproduced: u64,
    /// Divergent runs explained by a documented known difference of the odd client out,
    /// judged on the minimised case: counted, not filed, not findings.
    #[serde(default)]
    pub known: u64,
    /// Divergent runs filed under a signature set aside as another bug
    /// ([`HarnessOptions::set_aside`]): counted, not findings.
    #[serde(default)]
    pub set_aside: u64,
    /// Divergent runs whose minimisation the deadline cut short: not judged, their inputs
    /// left pending ([`PENDING_DIR`]) for the next farm on the same folders.
    #[serde(default)]
    pub deferred: u64,
    /// The divergent runs counted in `known`, per client and known difference.
    #[serde(default)]
    pub known_by: Vec<KnownTally>,
    /// Runs in which clients only named an exceptional halt differently.
    pub halt_naming: u64,
    /// Instructions executed, counted on the observed client.
    pub opcodes: u64,
    /// Runs that executed more than 10 instructions.
    pub deep_cases: u64,
    /// Runs where the transaction was rejected before execution.
    pub rejected: u64,
    /// Inputs run as block sequences.
    #[serde(default)]
    pub sequences: u64,
    /// Transactions in those sequences.
    #[serde(default)]
    pub sequence_txs: u64,
    /// Sequences checked for a cross-transaction dependency (one in [`CHECK_ONE_SEQUENCE_IN`]).
    #[serde(default)]
    pub sequences_checked: u64,
    /// Checked sequences in which a later transaction's result depends on state an earlier
    /// transaction wrote (it differs when the transaction runs without the earlier ones).
    #[serde(default)]
    pub sequences_dependent: u64,
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
    /// Seconds inside [`Harness::run`]: the clients' time (`per_client`) plus the harness's own
    /// (compilation, comparison, features, filing).
    #[serde(default)]
    pub seconds: f64,
    /// Of those, seconds compiling inputs into cases and block sequences.
    #[serde(default)]
    pub compile_seconds: f64,
    /// Of those, seconds filing findings (signature, minimisation, writing the folder).
    #[serde(default)]
    pub filing_seconds: f64,
}

impl HarnessStats {
    /// Seconds the clients spent executing, all clients together.
    pub fn client_seconds(&self) -> f64 {
        self.per_client.iter().map(|c| c.seconds).sum()
    }
}

/// The divergent runs one documented known difference of one client explained.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct KnownTally {
    /// The client (its label in the harness).
    pub client: String,
    /// The known difference's id.
    pub known: String,
    /// Divergent runs it explained.
    pub runs: u64,
    /// Of those, the first of a signature: minimised, then judged (the others are recognised
    /// by their signature).
    pub signatures: u64,
    /// Seconds spent judging them (for a new signature, mostly its minimisation).
    pub seconds: f64,
}

impl KnownTally {
    /// Adds `other`'s counts to the tally of the same client and difference in `tallies`.
    pub fn merge_into(tallies: &mut Vec<KnownTally>, other: &KnownTally) {
        match tallies.iter_mut().find(|t| t.client == other.client && t.known == other.known) {
            Some(t) => {
                t.runs += other.runs;
                t.signatures += other.signatures;
                t.seconds += other.seconds;
            }
            None => tallies.push(other.clone()),
        }
    }
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
    /// Seconds from the divergent input to its filed folder (signature, minimisation,
    /// localisation and writing).
    #[serde(default)]
    pub filed_seconds: Option<f64>,
    /// Instructions of the case as found.
    #[serde(default)]
    pub instructions_before: Option<usize>,
    /// Instructions after minimisation.
    #[serde(default)]
    pub instructions_after: Option<usize>,
    /// The folder.
    #[serde(default)]
    pub folder: Option<PathBuf>,
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

/// What the quick comparison of one run found.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// Clients disagree on consensus data, or one failed.
    Divergent,
    /// One client took far longer than the fastest.
    Slow {
        /// The case (slow findings are single transactions).
        case: Box<Case>,
        /// The slow client's label.
        client: String,
        /// Each client's time.
        timings: Vec<(String, Duration)>,
    },
}

/// Runs inputs on clients and files what they disagree on.
pub struct Harness {
    panel: Panel,
    forks: Vec<Fork>,
    observed: usize,
    triage: Triage,
    slow: Option<SlowRule>,
    stats: HarnessStats,
    opcodes_seen: [bool; 256],
    started: Instant,
    sequence_below: u16,
    /// Where the input of a finding waits while it is filed (see [`PENDING_DIR`]).
    pending: PathBuf,
    /// Signatures that are not findings ([`HarnessOptions::set_aside`]).
    set_aside: Vec<String>,
    /// The client whose bug is sought ([`HarnessOptions::sought`]).
    sought: Option<String>,
}

/// One sequence in this many is checked for a cross-transaction dependency (a statistic, by
/// sample: the check runs the observed client once more per later transaction, which at one
/// in eight was about 60% of the harness's own instructions over the bench replay).
pub const CHECK_ONE_SEQUENCE_IN: u64 = 64;

/// The folder, inside the crashes folder, where the input of a finding is kept while the
/// pipeline files it: a farm killed mid-filing finds it there when it resumes, and files it
/// then (nothing found is lost to a kill).
pub const PENDING_DIR: &str = ".pending";

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
        let panel = Panel::labelled(clients);
        let triage = Triage::new(
            // Every client runs every case it can represent; a finding whose odd one out has a
            // documented known difference covering the minimised case is counted, not filed.
            Examiner::labelled(panel.seats().to_vec()).judging_known_after(),
            TriageOptions { crashes: options.crashes.clone(), minimise: options.minimise, deadline: options.deadline },
        );
        Ok(Harness {
            panel,
            forks,
            observed,
            triage,
            slow: options.slow,
            stats: HarnessStats { per_client, ..Default::default() },
            opcodes_seen: [false; 256],
            started: Instant::now(),
            sequence_below: (options.sequences.clamp(0.0, 1.0) * 256.0) as u16,
            pending: options.crashes.join(PENDING_DIR),
            set_aside: options.set_aside,
            sought: options.sought,
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

    /// Runs one input on every client; writes features into `map` (the caller zeroes it).
    /// A finding goes through the divergence pipeline: counted on its folder when its
    /// signature is filed, otherwise minimised, localised and filed under the crashes folder.
    pub fn run(&mut self, input: &Blueprint, map: &mut [u8]) -> Run {
        let found = Instant::now();
        let run = if self.is_sequence(input) {
            let seq = self.sequence(input);
            self.stats.compile_seconds += found.elapsed().as_secs_f64();
            let run = self.run_sequence(&seq, map);
            let finding = run.divergent.then_some(Finding::Divergent);
            self.file(input, &seq, run, finding, found)
        } else {
            let case = self.case(input);
            self.stats.compile_seconds += found.elapsed().as_secs_f64();
            let (run, finding) = self.run_case(&case, map);
            self.file(input, &case, run, finding, found)
        };
        self.stats.seconds += found.elapsed().as_secs_f64();
        run
    }

    /// Files a run's finding, when it has one, keeping its input pending meanwhile.
    fn file<S: Subject>(&mut self, input: &Blueprint, subject: &S, run: Run, finding: Option<Finding>, found: Instant) -> Run {
        if finding.is_none() {
            return run;
        }
        let filing = Instant::now();
        let pending = self.keep_pending(input);
        let (run, settled) = self.settle(subject, run, finding, found);
        self.stats.filing_seconds += filing.elapsed().as_secs_f64();
        if settled {
            self.done_pending(pending);
        }
        run
    }

    /// Writes a finding's input to the pending folder before it is filed; the file's path, or
    /// `None` when it cannot be written (the finding is filed all the same, only not kept
    /// against a kill).
    fn keep_pending(&self, input: &Blueprint) -> Option<PathBuf> {
        let json = serde_json::to_vec(input).ok()?;
        let path = self.pending.join(pending_name(input));
        let written = std::fs::create_dir_all(&self.pending).and_then(|()| crate::atomic::write(&path, &json));
        match written {
            Ok(()) => Some(path),
            Err(e) => {
                eprintln!("schism fuzz: cannot keep a finding's input in {}: {e}", self.pending.display());
                None
            }
        }
    }

    /// Removes a finding's pending input once the pipeline is done with it.
    fn done_pending(&self, pending: Option<PathBuf>) {
        if let Some(path) = pending {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Sends a run's finding, when it has one, through the divergence pipeline, and counts it;
    /// false when the deadline came first and the finding was left unsettled.
    fn settle<S: Subject>(&mut self, case: &S, mut run: Run, finding: Option<Finding>, found: Instant) -> (Run, bool) {
        let began = Instant::now();
        // When the first divergence came: seconds since the start and executions so far.
        let first =
            (run.divergent && self.stats.first_finding.is_none()).then(|| (self.started.elapsed().as_secs_f64(), self.stats.executions));
        let handled = match finding {
            None => return (run, true),
            Some(Finding::Divergent) => match self.triage.handle(case, found) {
                Ok(None) => {
                    self.stats.unreproduced += 1;
                    None
                }
                Ok(Some(h)) => Some(h),
                Err(TriageError::PastDeadline { .. }) => {
                    self.stats.deferred += 1;
                    return (self.not_a_finding(run), false);
                }
                Err(e) => {
                    eprintln!("schism fuzz: cannot file a finding: {e}");
                    None
                }
            },
            Some(Finding::Slow { case, client, timings }) => {
                let others: Vec<String> = timings.iter().map(|(c, _)| c.clone()).filter(|c| *c != client).collect();
                let signature = Signature {
                    kind: Kind::Slow,
                    scope: Scope::Transaction,
                    groups: vec![vec![client], others],
                    aspects: Vec::new(),
                    faults: Vec::new(),
                    culprit: self.slow_culprit(&case),
                };
                match self.triage.handle_slow(&case, signature, timings, found) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        eprintln!("schism fuzz: cannot file a slow case: {e}");
                        None
                    }
                }
            }
        };
        if let Some(Handled { filed: Filed::Known { client, known }, minimised, .. }) = &handled {
            // Explained by a documented known difference: counted, not a finding.
            self.stats.known += 1;
            let tally = KnownTally {
                client: client.clone(),
                known: (*known).to_owned(),
                runs: 1,
                signatures: u64::from(minimised.is_some()),
                seconds: began.elapsed().as_secs_f64(),
            };
            KnownTally::merge_into(&mut self.stats.known_by, &tally);
            return (self.not_a_finding(run), true);
        }
        let id = handled.as_ref().map(|h| h.signature.id());
        if id.as_ref().is_some_and(|id| self.set_aside.contains(id)) {
            // Another bug, already judged: filed again, counted, not a finding.
            self.stats.set_aside += 1;
            run.signature = id;
            return (self.not_a_finding(run), true);
        }
        if let Some((seconds, executions)) = first {
            // A divergence the pipeline could not file is still the first finding, unnamed.
            self.stats.first_finding = Some(FirstFinding {
                signature: id.clone().unwrap_or_default(),
                seconds,
                executions,
                filed_seconds: handled.as_ref().map(|h| h.seconds),
                instructions_before: handled.as_ref().and_then(|h| h.minimised.as_ref()).map(|m| m.instructions_before),
                instructions_after: handled.as_ref().and_then(|h| h.minimised.as_ref()).map(|m| m.instructions_after),
                folder: handled.as_ref().and_then(|h| match &h.filed {
                    Filed::New(p) | Filed::Again(p, _) => Some(p.clone()),
                    Filed::Known { .. } => None,
                }),
            });
        }
        let Some(handled) = handled else { return (run, true) };
        if matches!(handled.filed, Filed::New(_)) {
            self.stats.filed += 1;
        }
        run.signature = id;
        (run, true)
    }

    /// True, and counted as set aside, when a divergent run does not set the sought client
    /// apart ([`HarnessOptions::sought`]): another bug, decided on the quick comparison's
    /// groups before any filing (neither examined nor minimised: the releases beside the
    /// sought one share its result, which is all the rediscovery suite needs to know).
    fn another_bug(&mut self, verdict: &Verdict, faults: &[crate::panel::Fault]) -> bool {
        let Some(sought) = self.sought.as_deref() else { return false };
        let groups: &[Vec<String>] = match verdict {
            Verdict::Diverge { groups, .. } => groups,
            _ => &[],
        };
        if sets_apart(groups, faults, sought) {
            return false;
        }
        self.stats.set_aside += 1;
        true
    }

    /// A divergent run that the pipeline judged not to be a finding: no longer counted as a
    /// divergence, and not divergent for the fuzzer.
    fn not_a_finding(&mut self, mut run: Run) -> Run {
        self.stats.divergences = self.stats.divergences.saturating_sub(1);
        run.divergent = false;
        run
    }

    /// The client that was slow on this case by the slow rule, confirmed by timing it and the
    /// fastest once more; with every client's first time.
    fn slow_client(&self, case: &Case, timings: &[(usize, Duration)]) -> Option<(String, Vec<(String, Duration)>)> {
        let rule = self.slow?;
        let slow = |slow: Duration, fast: Duration| slow >= rule.floor && slow.as_secs_f64() >= rule.ratio * fast.as_secs_f64();
        let (slow_i, slow_t) = *timings.iter().max_by_key(|(_, t)| *t)?;
        let (fast_i, fast_t) = *timings.iter().min_by_key(|(_, t)| *t)?;
        if !slow(slow_t, fast_t) {
            return None;
        }
        let time = |i: usize| self.panel.run_one(i, case, TraceMode::Off).map_or(Duration::ZERO, |seat| seat.took);
        let (again_slow, again_fast) = (time(slow_i), time(fast_i));
        if !slow(again_slow, again_fast) {
            return None;
        }
        let label = |i: usize| self.panel.seats()[i].0.clone();
        let labelled = timings.iter().map(|(i, t)| (label(*i), *t)).collect();
        Some((label(slow_i), labelled))
    }

    /// A slow case's culprit: the precompiles it calls, where it calls any, else `code`.
    fn slow_culprit(&self, case: &Case) -> String {
        let mut map = vec![0u8; super::MAP_SIZE];
        let mut recorder = Recorder::new(&mut map);
        let (label, client) = &self.panel.seats()[self.observed];
        let _ = guarded(label, || client.execute_observed(case, &mut recorder));
        let mut precompiles = recorder.precompiles.clone();
        precompiles.sort_unstable();
        precompiles.dedup();
        if precompiles.is_empty() {
            "code".to_owned()
        } else {
            let names: Vec<String> = precompiles.iter().map(|p| format!("p{p:x}")).collect();
            names.join("-")
        }
    }

    /// True when `input` runs as a block sequence.
    pub fn is_sequence(&self, input: &Blueprint) -> bool {
        !input.follow.is_empty() && u16::from(input.sequence) < self.sequence_below
    }

    /// The block sequence an input compiles to.
    pub fn sequence(&self, input: &Blueprint) -> Sequence {
        let fork = choose_fork(input.fork, &self.forks).unwrap_or(Fork::Cancun);
        compile_sequence(input, fork)
    }

    /// Runs an input as a block sequence on every client that can run it, block by block;
    /// features come from the observed client's traced transactions and from the blocks'
    /// results; a divergence is minimised and filed as a blockchain test.
    pub fn run_sequence(&mut self, seq: &Sequence, map: &mut [u8]) -> Run {
        let mut recorder = Recorder::new(map);
        // The observed client's run is traced; its transactions' steps and its blocks' results
        // are the features.
        let observed_id = self.panel.seats()[self.observed].0.clone();
        let mut runs: Vec<(String, ChainRun)> = Vec::new();
        let mut faults = Vec::new();
        let call = Call { observer: Some((self.observed, &mut recorder)), excuse: Excuse::After, ..Call::plain() };
        for (i, seat) in self.panel.run(seq, call).into_iter().enumerate() {
            if matches!(seat.entry, Entry::Unsupported(_) | Entry::Excused(_)) {
                continue;
            }
            self.stats.per_client[i].add(seat.took);
            match seat.entry {
                Entry::Ran(run) => runs.push((seat.label, run)),
                Entry::Fault(fault) => faults.push(fault),
                Entry::Unsupported(_) | Entry::Excused(_) => {}
            }
        }
        if let Some((_, run)) = runs.iter().find(|(id, _)| *id == observed_id) {
            for (b, block) in run.blocks.iter().enumerate() {
                recorder.hit(FeatureKind::Block, (b as u64) << 8 | u64::from(block.rejection.is_some()));
                let Some(outcome) = block.outcome.as_ref() else { continue };
                for r in &outcome.rejected {
                    recorder.hit(FeatureKind::RejectedTx, r.kind as u64);
                }
                for receipt in &outcome.receipts {
                    recorder
                        .hit(FeatureKind::Receipt, (receipt.index as u64) << 8 | receipt.error.map_or(0, |e| e.name().len() as u64 + 1));
                }
            }
        }
        let all_rejected =
            runs.first().is_some_and(|(_, r)| r.blocks.iter().all(|b| b.outcome.as_ref().is_none_or(|o| o.receipts.is_empty())));
        account(&mut self.stats, &mut self.opcodes_seen, &recorder, all_rejected);
        self.stats.sequences += 1;
        self.stats.sequence_txs += seq.tx_count() as u64;
        if self.stats.sequences % CHECK_ONE_SEQUENCE_IN == 1 && seq.tx_count() > 1 {
            self.stats.sequences_checked += 1;
            if let Some((_, run)) = runs.iter().find(|(id, _)| *id == observed_id)
                && self.depends_on_earlier(seq, run)
            {
                self.stats.sequences_dependent += 1;
            }
        }
        let labelled: Vec<(&str, &ChainRun)> = runs.iter().map(|(id, r)| (id.as_str(), r)).collect();
        let verdict = <Sequence as Subject>::compare(&labelled);
        let divergent = verdict.is_consensus_divergence() || !faults.is_empty();
        if divergent && self.another_bug(&verdict, &faults) {
            return Run { divergent: false, opcodes: recorder.steps, signature: None };
        }
        if divergent {
            self.stats.divergences += 1;
        }
        Run { divergent, opcodes: recorder.steps, signature: None }
    }

    /// True when some later transaction's receipt (status, gas, logs, rejection) differs when
    /// it runs in the same blocks without the transactions before it.
    fn depends_on_earlier(&self, seq: &Sequence, run: &ChainRun) -> bool {
        let (_, client) = &self.panel.seats()[self.observed];
        let positions: Vec<(usize, usize)> =
            seq.blocks.iter().enumerate().flat_map(|(b, blk)| (0..blk.txs.len()).map(move |t| (b, t))).skip(1).collect();
        for (b, t) in positions {
            let mut alone = seq.clone();
            for (i, block) in alone.blocks.iter_mut().enumerate() {
                let keep = if i == b { block.txs.get(t).cloned() } else { None };
                block.txs = keep.into_iter().collect();
            }
            if let Some(stx) = alone.blocks[b].txs.first_mut() {
                stx.tx.nonce = seq.pre.get(&stx.tx.sender).map_or(0, |a| a.nonce);
                stx.raw = None;
            }
            let Ok(solo) = guarded(client.id(), || chain::run(client.as_ref(), &alone, TraceMode::Off)) else { continue };
            let result = |r: &ChainRun, index: usize| {
                let o = r.blocks.get(b)?.outcome.as_ref()?;
                if o.rejected.iter().any(|x| x.index == index) {
                    return Some((false, 0, 0, None));
                }
                let i = o.receipts.iter().position(|x| x.index == index)?;
                let before = if i == 0 { 0 } else { o.receipts[i - 1].cumulative_gas_used };
                let r = &o.receipts[i];
                Some((true, r.cumulative_gas_used - before, r.logs.as_ref().map_or(0, Vec::len), r.success))
            };
            if result(run, t) != result(&solo, 0) {
                return true;
            }
        }
        false
    }

    /// Runs a case on every client and compares; the finding, when there is one.
    pub fn run_case(&mut self, case: &Case, map: &mut [u8]) -> (Run, Option<Finding>) {
        let mut recorder = Recorder::new(map);
        let call = Call { observer: Some((self.observed, &mut recorder)), excuse: Excuse::After, ..Call::plain() };
        // Roots are deferred while the clients run: agreement is decided on the post-states,
        // and a root is computed only where one is needed (see `resolve_roots`).
        let seats = schism_interface::state::with_roots_deferred(|| self.panel.run(case, call));
        let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(seats.len());
        let mut faults = Vec::new();
        let mut timings: Vec<(usize, Duration)> = Vec::with_capacity(seats.len());
        for (i, seat) in seats.into_iter().enumerate() {
            if matches!(seat.entry, Entry::Unsupported(_) | Entry::Excused(_)) {
                continue;
            }
            timings.push((i, seat.took));
            self.stats.per_client[i].add(seat.took);
            match seat.entry {
                Entry::Ran(outcome) => outcomes.push((i, outcome)),
                Entry::Fault(fault) => faults.push(fault),
                Entry::Unsupported(_) | Entry::Excused(_) => {}
            }
        }
        resolve_roots(&mut outcomes);
        let refs: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).collect();
        recorder.finish(&case.pre, &refs);
        let labelled: Vec<(&str, &Outcome)> = outcomes.iter().map(|(i, o)| (self.panel.seats()[*i].0.as_str(), o)).collect();
        let verdict = compare(&labelled);
        let steps = recorder.steps;
        let rejected = outcomes.first().is_some_and(|(_, o)| o.status() == Some(schism_interface::TxStatus::Rejected));
        account(&mut self.stats, &mut self.opcodes_seen, &recorder, rejected);
        let divergent = verdict.is_consensus_divergence() || !faults.is_empty();
        if matches!(verdict, Verdict::Diverge { .. }) && !divergent {
            self.stats.halt_naming += 1;
        }
        if divergent && self.another_bug(&verdict, &faults) {
            return (Run { divergent: false, opcodes: steps, signature: None }, None);
        }
        let finding = if divergent {
            self.stats.divergences += 1;
            Some(Finding::Divergent)
        } else {
            self.slow_client(case, &timings).map(|(client, timings)| {
                self.stats.slow += 1;
                Finding::Slow { case: Box::new(case.clone()), client, timings }
            })
        };
        let run = Run { divergent, opcodes: steps, signature: None };
        (run, finding)
    }
}

/// Computes the deferred roots of `outcomes` where they are needed. When every outcome with a
/// deferred root has the same post-state and no other outcome reports a root, they agree
/// exactly and keep the placeholder (equal placeholders compare equal); otherwise each gets its
/// real root (hashed once per distinct post-state, the thread remembering roots).
fn resolve_roots(outcomes: &mut [(usize, Outcome)]) {
    use schism_interface::state::{DEFERRED_ROOT, state_root};
    let deferred = |o: &Outcome| o.state_root == DEFERRED_ROOT && o.post_state.is_some();
    let Some(first) = outcomes.iter().position(|(_, o)| deferred(o)) else { return };
    let agree = outcomes.iter().all(|(_, o)| deferred(o) && o.post_state == outcomes[first].1.post_state);
    if agree {
        return;
    }
    for (_, outcome) in outcomes.iter_mut().filter(|(_, o)| deferred(o)) {
        if let Some(post) = &outcome.post_state {
            outcome.state_root = state_root(post);
        }
    }
}

/// A pending input's file name: its hash, so the same input found twice is kept once.
fn pending_name(input: &Blueprint) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut hasher);
    format!("{:016x}.json", hasher.finish())
}

/// The inputs a farm killed while filing left in `crashes`' pending folder, to run again
/// first when it resumes.
pub fn pending_inputs(crashes: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(crashes.join(PENDING_DIR)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// True when a finding sets `client` apart: a fault of `client` only, or (no client faulting)
/// a divergence with `client` alone in its group.
fn sets_apart(groups: &[Vec<String>], faults: &[crate::panel::Fault], client: &str) -> bool {
    if !faults.is_empty() {
        return faults.iter().all(|f| f.client == client);
    }
    groups.iter().any(|g| g.len() == 1 && g[0] == client)
}

/// Adds one run to the statistics.
fn account(stats: &mut HarnessStats, seen: &mut [bool; 256], recorder: &Recorder, rejected: bool) {
    stats.executions += 1;
    stats.opcodes += recorder.steps;
    if recorder.steps > 10 {
        stats.deep_cases += 1;
    }
    if rejected {
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
        sleep: Option<std::time::Duration>,
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
            if let Some(d) = self.sleep {
                std::thread::sleep(d);
            }
            if self.fail {
                return Err(ClientError::Crashed { client: self.id.to_owned(), status: "signal 11".into(), stderr_tail: String::new() });
            }
            let mut outcome = Outcome::executed((*case.pre).clone(), Vec::new(), 21_000, None, Some(Vec::new()));
            outcome.state_root = B256::repeat_byte(self.root);
            Ok(outcome)
        }
    }

    /// A scripted client whose documented known differences are `known` (for instance one
    /// covering cases with at most eight accounts in the pre-state: a minimised case has few, a
    /// generated one many, so the farm runs it and a finding is explained only once
    /// minimised); traced, it records `steps` STATICCALLs (one unless a test changes it).
    struct Documented {
        inner: Scripted,
        known: &'static [schism_interface::KnownDifference],
        steps: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Documented {
        fn new(inner: Scripted, known: &'static [schism_interface::KnownDifference]) -> Documented {
            Documented { inner, known, steps: Arc::new(std::sync::atomic::AtomicUsize::new(1)) }
        }
    }

    fn small_pre(case: &Case) -> bool {
        case.pre.len() <= 8
    }

    fn never(_: &Case) -> bool {
        false
    }

    static SMALL: [schism_interface::KnownDifference; 1] = [schism_interface::KnownDifference {
        id: "documented-small",
        reason: "a test difference",
        link: "none",
        applies: small_pre,
        executed: None,
    }];
    static NEVER: [schism_interface::KnownDifference; 1] = [schism_interface::KnownDifference {
        id: "documented-never",
        reason: "a test difference",
        link: "none",
        applies: never,
        executed: None,
    }];

    /// A trace holding a STATICCALL: what [`Documented`] records when traced.
    fn traced_staticcall(_: &Case, trace: &schism_interface::Trace) -> bool {
        trace.iter().any(|step| step.op == 0xfa)
    }

    static TRACED: [schism_interface::KnownDifference; 1] = [schism_interface::KnownDifference {
        id: "documented-traced",
        reason: "a test difference judged on the client's trace",
        link: "none",
        applies: never,
        executed: Some(traced_staticcall),
    }];

    impl Client for Documented {
        fn id(&self) -> &str {
            self.inner.id()
        }
        fn version(&self) -> &str {
            "scripted"
        }
        fn supports(&self, _: Fork) -> bool {
            true
        }
        fn known_differences(&self) -> &'static [schism_interface::KnownDifference] {
            self.known
        }
        fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
            let mut outcome = self.inner.execute(case, mode)?;
            if mode == TraceMode::Steps {
                // What it executed, which no look at the case shows: STATICCALLs.
                let step = schism_interface::TraceStep {
                    pc: 0,
                    op: 0xfa,
                    gas: 0,
                    gas_cost: 0,
                    mem_size: 0,
                    stack: Vec::new(),
                    depth: 1,
                    refund: 0,
                    return_data: None,
                };
                outcome.trace = Some(vec![step; self.steps.load(std::sync::atomic::Ordering::Relaxed)]);
            }
            Ok(outcome)
        }
    }

    #[test]
    fn a_finding_a_known_difference_explains_once_minimised_is_counted_not_filed() {
        let run = |known: &'static [schism_interface::KnownDifference]| {
            let dir = tempfile::tempdir().expect("tempdir");
            let odd = Scripted { id: "c", root: 2, fail: false, sleep: None };
            let clients: Vec<Arc<dyn Client>> = vec![
                Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
                Arc::new(Scripted { id: "b", root: 1, fail: false, sleep: None }),
                Arc::new(Documented::new(odd, known)),
            ];
            let mut h = harness(clients, dir.path());
            let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
            let mut input = Blueprint::from_bytes(&(0..600u32).map(|i| (i * 37 + 11) as u8).collect::<Vec<_>>());
            while input.contracts.len() < crate::fuzz::program::MAX_CONTRACTS {
                input.contracts.push(input.contracts[0].clone());
            }
            input.sequence = u8::MAX;
            // The generated pre-state has more accounts than the predicate accepts: the client
            // runs (it is not excused before running), and diverges.
            assert!(!small_pre(&h.case(&input)), "{} accounts", h.case(&input).pre.len());
            let first = h.run(&input, &mut map);
            let second = h.run(&input, &mut map);
            let folders =
                std::fs::read_dir(dir.path()).expect("dir").flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count();
            (first, second, h.stats().clone(), folders)
        };
        let (first, second, stats, folders) = run(&SMALL);
        assert!(!first.divergent && !second.divergent, "explained: not a finding");
        assert_eq!((stats.known, stats.divergences, stats.filed, folders), (2, 0, 0, 0), "counted twice, the second from the cache");
        assert!(stats.first_finding.is_none());
        let tallies: Vec<(&str, &str, u64, u64)> =
            stats.known_by.iter().map(|t| (t.client.as_str(), t.known.as_str(), t.runs, t.signatures)).collect();
        assert_eq!(tallies, vec![("c", "documented-small", 2, 1)], "two runs, one signature minimised and judged");
        let (first, _, stats, folders) = run(&NEVER);
        assert!(first.divergent, "a known difference that does not cover the minimised case explains nothing");
        assert_eq!((stats.known, stats.filed, folders), (0, 1, 1));
        // Judged on the odd client's own trace of the minimised case: explained by what it
        // executed, though no look at the case matches.
        let (first, _, stats, folders) = run(&TRACED);
        assert!(!first.divergent, "explained by the trace");
        assert_eq!((stats.known, stats.filed, folders), (2, 0, 0));
    }

    fn harness(clients: Vec<Arc<dyn Client>>, crashes: &std::path::Path) -> Harness {
        Harness::new(HarnessOptions::new(clients, Some(Fork::Cancun), crashes.to_path_buf())).expect("harness")
    }

    #[test]
    fn a_divergence_is_filed_once_as_a_folder_and_counted_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clients: Vec<Arc<dyn Client>> = vec![
            Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
            Arc::new(Scripted { id: "b", root: 1, fail: false, sleep: None }),
            Arc::new(Scripted { id: "c", root: 2, fail: false, sleep: None }),
        ];
        let mut h = harness(clients, dir.path());
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let first = h.run(&Blueprint::from_bytes(&[1, 2, 3]), &mut map);
        let second = h.run(&Blueprint::from_bytes(&[9, 9, 9, 9]), &mut map);
        assert!(first.divergent && second.divergent);
        assert_eq!(first.signature, second.signature, "same groups, same fork, same signature");
        assert_eq!(h.stats().divergences, 2);
        assert_eq!(h.stats().filed, 1);
        let found = h.stats().first_finding.clone().expect("first finding");
        assert_eq!(found.executions, 1);
        assert!(found.filed_seconds.is_some() && found.instructions_after.is_some());
        let folder = dir.path().join(first.signature.unwrap_or_default());
        assert_eq!(found.folder.as_ref(), Some(&folder));
        let report: crate::triage::Report =
            serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("report.json")).expect("a report");
        assert_eq!(report.count, 2, "the second finding is counted on the first's folder");
        assert_eq!(report.groups, vec![vec!["a".to_owned(), "b".to_owned()], vec!["c".to_owned()]]);
        assert!(folder.join("report.md").is_file() && folder.join("original.json").is_file());
        let file = folder.join("case.json");
        let FixtureFile::State(test) = read_fixture(&file).expect("filed case reads as a fixture") else { panic!("not a state test") };
        let (cases, errors) = expand_file(&file, &test);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].expected.as_ref().map(|e| e.hash), Some(B256::repeat_byte(1)), "the majority's root is the expectation");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
            .collect();
        assert!(leftovers.is_empty());
    }

    /// A signature set aside as another bug is filed and counted, but is no finding: no first
    /// finding, no divergence (so a farm that stops at its first finding goes on).
    #[test]
    fn a_signature_set_aside_is_counted_not_a_finding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clients = || -> Vec<Arc<dyn Client>> {
            vec![
                Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
                Arc::new(Scripted { id: "b", root: 2, fail: false, sleep: None }),
            ]
        };
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let mut h = harness(clients(), dir.path());
        let signature = h.run(&Blueprint::from_bytes(&[1, 2, 3]), &mut map).signature.expect("filed");
        let mut options = HarnessOptions::new(clients(), Some(Fork::Cancun), dir.path().to_path_buf());
        options.set_aside = vec![signature.clone()];
        let mut h = Harness::new(options).expect("harness");
        let run = h.run(&Blueprint::from_bytes(&[9, 9, 9, 9]), &mut map);
        assert!(!run.divergent);
        assert_eq!(run.signature.as_deref(), Some(signature.as_str()));
        let stats = h.stats();
        assert_eq!((stats.set_aside, stats.divergences, stats.filed), (1, 0, 0));
        assert!(stats.first_finding.is_none());
        let report: crate::triage::Report =
            serde_json::from_slice(&std::fs::read(dir.path().join(&signature).join("report.json")).expect("report.json"))
                .expect("a report");
        assert_eq!(report.count, 2, "counted on its folder");
    }

    /// Any trace: the difference covers every case the client runs traced.
    fn traced_any(_: &Case, _: &schism_interface::Trace) -> bool {
        true
    }

    static ANY_TRACE: [schism_interface::KnownDifference; 1] = [schism_interface::KnownDifference {
        id: "documented-any-trace",
        reason: "a test difference judged on the client's trace",
        link: "none",
        applies: never,
        executed: Some(traced_any),
    }];

    /// A new signature of a split (the same odd client out) a known difference explained before
    /// (here another culprit), which the same difference covers as found, is explained without
    /// being minimised.
    #[test]
    fn a_split_explained_before_is_not_minimised_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let odd = Documented::new(Scripted { id: "c", root: 2, fail: false, sleep: None }, &ANY_TRACE);
        let steps = odd.steps.clone();
        steps.store(0, std::sync::atomic::Ordering::Relaxed);
        let clients: Vec<Arc<dyn Client>> = vec![
            Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
            Arc::new(Scripted { id: "b", root: 1, fail: false, sleep: None }),
            Arc::new(odd),
        ];
        let mut h = harness(clients, dir.path());
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let input = Blueprint::from_bytes(&[1, 2, 3]);
        let first = h.run(&input, &mut map);
        steps.store(1, std::sync::atomic::Ordering::Relaxed);
        let second = h.run(&input, &mut map);
        assert!(!first.divergent && !second.divergent, "explained");
        assert!(!h.run(&input, &mut map).divergent);
        assert_eq!(h.triage.known_signatures(), 2, "two signatures, one split");
        let stats = h.stats();
        let tallies: Vec<(&str, u64, u64)> = stats.known_by.iter().map(|t| (t.known.as_str(), t.runs, t.signatures)).collect();
        assert_eq!(tallies, vec![("documented-any-trace", 3, 1)], "the second culprit is explained by its split");
        assert_eq!((stats.known, stats.divergences, stats.filed), (3, 0, 0));
    }

    /// With a sought client, a divergent run that does not set it apart (another client shares
    /// its result) is another bug: counted as set aside, not filed, no finding; one that does
    /// is a finding.
    #[test]
    fn a_finding_that_does_not_set_the_sought_client_apart_is_set_aside() {
        let run = |roots: [u8; 3]| {
            let dir = tempfile::tempdir().expect("tempdir");
            let clients: Vec<Arc<dyn Client>> = ["a", "b", "c"]
                .into_iter()
                .zip(roots)
                .map(|(id, root)| Arc::new(Scripted { id, root, fail: false, sleep: None }) as Arc<dyn Client>)
                .collect();
            let mut options = HarnessOptions::new(clients, Some(Fork::Cancun), dir.path().to_path_buf());
            options.sought = Some("b".to_owned());
            let mut h = Harness::new(options).expect("harness");
            let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
            let run = h.run(&Blueprint::from_bytes(&[1, 2, 3]), &mut map);
            let stats = h.stats();
            let folders =
                std::fs::read_dir(dir.path()).expect("dir").flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count();
            (run.divergent, stats.set_aside, stats.divergences, stats.first_finding.is_some(), folders)
        };
        assert_eq!(run([1, 2, 1]), (true, 0, 1, true, 1), "b alone: the sought bug, filed");
        assert_eq!(run([1, 2, 2]), (false, 1, 0, false, 0), "b and c together: another bug, not filed");
    }

    /// A finding whose minimisation the deadline cuts short is neither judged nor filed: its
    /// input stays pending for the next farm, and it is no finding of this one.
    #[test]
    fn a_finding_the_deadline_cuts_short_stays_pending() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clients: Vec<Arc<dyn Client>> = vec![
            Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
            Arc::new(Scripted { id: "b", root: 2, fail: false, sleep: None }),
        ];
        let mut options = HarnessOptions::new(clients, Some(Fork::Cancun), dir.path().to_path_buf());
        options.deadline = Some(Instant::now());
        let mut h = Harness::new(options).expect("harness");
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let input = Blueprint::from_bytes(&[1, 2, 3]);
        let run = h.run(&input, &mut map);
        assert!(!run.divergent && run.signature.is_none());
        let stats = h.stats();
        assert_eq!((stats.deferred, stats.divergences, stats.filed), (1, 0, 0));
        assert!(stats.first_finding.is_none());
        let pending = pending_inputs(dir.path());
        assert_eq!(pending.len(), 1, "the input is kept");
        let kept: Blueprint = serde_json::from_slice(&std::fs::read(&pending[0]).expect("pending input")).expect("a blueprint");
        assert_eq!(kept, input);
        // The next farm, with time, files it.
        let clients: Vec<Arc<dyn Client>> = vec![
            Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
            Arc::new(Scripted { id: "b", root: 2, fail: false, sleep: None }),
        ];
        let mut h = harness(clients, dir.path());
        assert!(h.run(&kept, &mut map).signature.is_some(), "filed");
        assert!(pending_inputs(dir.path()).is_empty());
    }

    #[test]
    fn a_slow_client_is_filed_once_as_slow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clients: Vec<Arc<dyn Client>> = vec![
            Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
            Arc::new(Scripted { id: "b", root: 1, fail: false, sleep: Some(std::time::Duration::from_millis(30)) }),
        ];
        let mut options = HarnessOptions::new(clients, Some(Fork::Cancun), dir.path().to_path_buf());
        options.slow = Some(SlowRule { ratio: 5.0, floor: std::time::Duration::from_millis(20) });
        let mut h = Harness::new(options).expect("harness");
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let run = h.run(&Blueprint::from_bytes(&[1, 2, 3]), &mut map);
        h.run(&Blueprint::from_bytes(&[4, 5, 6]), &mut map);
        assert!(!run.divergent, "slow is not a divergence");
        let id = run.signature.expect("filed as slow");
        assert!(id.starts_with("slow-"), "{id}");
        assert_eq!((h.stats().slow, h.stats().filed, h.stats().divergences), (2, 1, 0));
        let report: crate::triage::Report =
            serde_json::from_slice(&std::fs::read(dir.path().join(&id).join("report.json")).expect("report.json")).expect("a report");
        assert_eq!(report.kind, crate::triage::Kind::Slow);
        assert_eq!(report.count, 2);
        assert_eq!(report.groups[0], vec!["b".to_owned()]);
    }

    #[test]
    fn agreement_and_a_lone_client_against_itself_find_nothing_but_faults_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut map = vec![0u8; crate::fuzz::MAP_SIZE];
        let mut alone = harness(vec![Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None })], dir.path());
        assert!(!alone.run(&Blueprint::from_bytes(&[5; 64]), &mut map).divergent);
        assert_eq!(alone.stats().per_client.len(), 2, "compared with a second run of itself");
        let mut faulty = harness(
            vec![
                Arc::new(Scripted { id: "a", root: 1, fail: false, sleep: None }),
                Arc::new(Scripted { id: "b", root: 1, fail: true, sleep: None }),
            ],
            dir.path(),
        );
        let run = faulty.run(&Blueprint::from_bytes(&[5; 64]), &mut map);
        assert!(run.divergent, "a client fault is a finding");
    }
}
