//! The panel: one case, a state test or a block sequence, on a set of labelled clients. Each
//! seat of the panel comes back with what its client made of the case: an outcome, a fault,
//! unsupported (with the reason) or excused by a documented known difference, and the time it
//! took. The runner, the fuzz harness and triage all run cases through it, so that a client
//! is skipped, excused, guarded against panics and timed in one way everywhere.

use crate::chain::{self, ChainRun};
use schism_interface::{Case, Client, ClientError, KnownDifference, Outcome, Sequence, StepObserver, TraceMode};
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A client that failed to produce an outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Client label.
    pub client: String,
    /// Kind of fault ([`ClientError::kind`]: `panicked`, `timeout`, `crashed`, ...).
    pub kind: String,
    /// Its message.
    pub message: String,
}

impl Fault {
    /// The fault of client `label`.
    pub fn of(label: &str, error: &ClientError) -> Fault {
        Fault { client: label.to_owned(), kind: error.kind().to_owned(), message: error.to_string() }
    }
}

/// What one client made of a case.
#[derive(Clone, Debug)]
pub enum Entry<O> {
    /// It produced this.
    Ran(O),
    /// It failed to produce anything.
    Fault(Fault),
    /// It cannot run the case (a fork it does not implement, a block it cannot execute).
    Unsupported(String),
    /// A documented known difference of the client covers the case.
    Excused(&'static KnownDifference),
}

/// One seat of a panel after a case: the client's label, what it made of the case, the time.
#[derive(Clone, Debug)]
pub struct Seat<O> {
    /// The client's label (its id, or `id#again` for a client compared with itself).
    pub label: String,
    /// What it made of the case.
    pub entry: Entry<O>,
    /// Time spent in the client (zero when it did not run).
    pub took: Duration,
}

impl<O> Seat<O> {
    /// The output, when the client produced one.
    pub fn output(&self) -> Option<&O> {
        match &self.entry {
            Entry::Ran(o) => Some(o),
            _ => None,
        }
    }

    /// The fault, when the client failed.
    pub fn fault(&self) -> Option<&Fault> {
        match &self.entry {
            Entry::Fault(f) => Some(f),
            _ => None,
        }
    }
}

/// When a documented known difference keeps a client out of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Excuse {
    /// Before it runs: a client is not asked about what it is known to get wrong (fuzzing and
    /// triage, where an explained difference is noise).
    Before,
    /// Only when it cannot represent the case: the client runs, and its outcome is judged
    /// afterwards (conformance, where a known difference classifies a failure).
    Unrepresentable,
    /// As [`Excuse::Unrepresentable`] while running; a finding is then judged on its minimised
    /// case and on the odd client's trace of it, where a known difference's look at the code is
    /// precise and what the client executed shows what the code hides (the farm: a client runs
    /// every case it can represent, so its documented bugs cost no reach).
    After,
}

/// How the clients of a panel run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// One after the other on this thread (the post-state root is then hashed once when the
    /// clients agree; an observer can watch one of them).
    InTurn,
    /// In parallel, so that one slow client does not hold a worker for the sum of all clients'
    /// times.
    Parallel,
}

/// How a panel runs one case.
pub struct Call<'o> {
    /// Traces recorded by every client that runs.
    pub trace: TraceMode,
    /// When known differences keep a client out.
    pub excuse: Excuse,
    /// In turn or in parallel.
    pub order: Order,
    /// The seat whose every executed instruction is reported to the observer (in turn only).
    pub observer: Option<(usize, &'o mut dyn StepObserver)>,
}

impl Call<'_> {
    /// A plain run: no traces, known differences excused before running, in turn.
    pub fn plain() -> Call<'static> {
        Call { trace: TraceMode::Off, excuse: Excuse::Before, order: Order::InTurn, observer: None }
    }

    /// A traced run, otherwise plain.
    pub fn traced() -> Call<'static> {
        Call { trace: TraceMode::Steps, ..Call::plain() }
    }
}

/// A kind of case a panel runs: a state test ([`Case`]) or a block sequence ([`Sequence`]).
pub trait Runnable: Sync {
    /// What a client makes of it.
    type Output: Send;

    /// Why no chain can reach it, if none can: then no client is asked.
    fn unreachable(&self) -> Option<String>;

    /// Why `client` cannot run it, if it cannot.
    fn unsupported(&self, client: &dyn Client) -> Option<String>;

    /// The documented known difference of `client` that covers it, if any.
    fn excused(&self, client: &dyn Client) -> Option<&'static KnownDifference>;

    /// The documented known difference of `client` that covers it, judged after it ran: what
    /// explains a client that could not represent it, or a finding whose odd one out is
    /// `client` (see [`Excuse::After`]). `output` is what `client` made of it, when it made
    /// something: a difference may judge on what the client executed (its trace, when the run
    /// recorded one) as well as on the case.
    fn known_difference(&self, client: &dyn Client, output: Option<&Self::Output>) -> Option<&'static KnownDifference> {
        let _ = output;
        self.excused(client)
    }

    /// Runs it on `client`.
    fn run_on(&self, client: &dyn Client, trace: TraceMode) -> Result<Self::Output, ClientError>;

    /// Runs it on `client`, reporting every executed instruction to `observer`.
    fn run_observed(&self, client: &dyn Client, observer: &mut dyn StepObserver) -> Result<Self::Output, ClientError>;
}

impl Runnable for Case {
    type Output = Outcome;

    fn unreachable(&self) -> Option<String> {
        Case::unreachable(self)
    }

    fn unsupported(&self, client: &dyn Client) -> Option<String> {
        (!client.supports(self.fork)).then(|| format!("fork {} not supported", self.fork))
    }

    fn excused(&self, client: &dyn Client) -> Option<&'static KnownDifference> {
        client.known_differences().iter().find(|k| (k.applies)(self))
    }

    fn known_difference(&self, client: &dyn Client, output: Option<&Outcome>) -> Option<&'static KnownDifference> {
        let trace = output.and_then(|o| o.trace.as_ref());
        client.known_differences().iter().find(|k| k.explains(self, trace))
    }

    fn run_on(&self, client: &dyn Client, trace: TraceMode) -> Result<Outcome, ClientError> {
        client.execute(self, trace)
    }

    fn run_observed(&self, client: &dyn Client, observer: &mut dyn StepObserver) -> Result<Outcome, ClientError> {
        client.execute_observed(self, observer)
    }
}

impl Runnable for Sequence {
    type Output = ChainRun;

    fn unreachable(&self) -> Option<String> {
        Sequence::unreachable(self)
    }

    fn unsupported(&self, client: &dyn Client) -> Option<String> {
        if let Some(reason) = self.unsupported {
            return Some(reason.to_owned());
        }
        self.schedule.forks().into_iter().find_map(|fork| {
            if !client.supports(fork) {
                return Some(format!("fork {fork} not supported"));
            }
            client.block_skip(fork).map(str::to_owned)
        })
    }

    fn excused(&self, _client: &dyn Client) -> Option<&'static KnownDifference> {
        // Known differences are written against single cases; none covers a whole sequence
        // before it runs.
        None
    }

    fn known_difference(&self, client: &dyn Client, output: Option<&ChainRun>) -> Option<&'static KnownDifference> {
        // A sequence is covered by a known difference that covers one of its transactions, each seen as a state test on the genesis state under
        // each fork of the schedule (a missing feature such as EIP-7702 shows there), judged
        // on the look at it and on the client's trace of that transaction in the run.
        let known = client.known_differences();
        if known.is_empty() {
            return None;
        }
        let forks = self.schedule.forks();
        for (position, block) in self.blocks.iter().enumerate() {
            let h = &block.header;
            let env = Arc::new(schism_interface::fixture::Env {
                current_coinbase: h.beneficiary,
                current_difficulty: h.difficulty,
                current_gas_limit: h.gas_limit,
                current_number: h.number,
                current_timestamp: h.timestamp,
                current_base_fee: h.base_fee_per_gas,
                current_random: Some(h.mix_hash),
                current_excess_blob_gas: h.excess_blob_gas,
                previous_hash: None,
                parent_beacon_block_root: h.parent_beacon_block_root,
            });
            for (index, stx) in block.txs.iter().enumerate() {
                let trace = output
                    .and_then(|run| run.blocks.iter().find(|b| b.position == position))
                    .and_then(|b| b.outcome.as_ref())
                    .and_then(|o| o.receipts.iter().find(|r| r.index == index))
                    .and_then(|r| r.trace.as_ref());
                for fork in &forks {
                    let case = Case {
                        file: self.file.clone(),
                        test: self.test.clone(),
                        fork: *fork,
                        index: Default::default(),
                        env: env.clone(),
                        pre: self.pre.clone(),
                        tx: stx.tx.clone(),
                        chain_id: self.chain_id,
                        blob_params: self.blob_params(*fork),
                        expected: None,
                        block_hashes: None,
                    };
                    if let Some(k) = known.iter().find(|k| k.explains(&case, trace)) {
                        return Some(k);
                    }
                }
            }
        }
        None
    }

    fn run_on(&self, client: &dyn Client, trace: TraceMode) -> Result<ChainRun, ClientError> {
        chain::run(client, self, trace)
    }

    /// Runs the sequence with each executed transaction's steps reported to the observer
    /// ([`Client::execute_block_observed`]); the run keeps no traces.
    fn run_observed(&self, client: &dyn Client, observer: &mut dyn StepObserver) -> Result<ChainRun, ClientError> {
        chain::run_observed(client, self, observer)
    }
}

/// Labelled clients that cases are run on.
#[derive(Clone)]
pub struct Panel {
    seats: Vec<(String, Arc<dyn Client>)>,
}

impl Panel {
    /// A panel of these clients, each under its own id.
    pub fn new(clients: &[Arc<dyn Client>]) -> Panel {
        Panel { seats: clients.iter().map(|c| (c.id().to_owned(), c.clone())).collect() }
    }

    /// A panel of clients under the given labels (a client compared with itself sits twice,
    /// under two labels).
    pub fn labelled(seats: Vec<(String, Arc<dyn Client>)>) -> Panel {
        Panel { seats }
    }

    /// The labelled clients.
    pub fn seats(&self) -> &[(String, Arc<dyn Client>)] {
        &self.seats
    }

    /// The client of a label.
    pub fn client(&self, label: &str) -> Option<&Arc<dyn Client>> {
        self.seats.iter().find(|(l, _)| l == label).map(|(_, c)| c)
    }

    /// Runs `work` on every client of the panel; one seat per client, in panel order.
    pub fn run<W: Runnable>(&self, work: &W, call: Call<'_>) -> Vec<Seat<W::Output>> {
        let Call { trace, excuse, order, mut observer } = call;
        match order {
            Order::Parallel => {
                use rayon::prelude::*;
                self.seats.par_iter().map(|(label, client)| sit(label, client.as_ref(), work, trace, excuse, None)).collect()
            }
            Order::InTurn => {
                let mut seats = Vec::with_capacity(self.seats.len());
                for (i, (label, client)) in self.seats.iter().enumerate() {
                    let watch: Option<&mut dyn StepObserver> = match observer.as_mut() {
                        Some((seat, observer)) if *seat == i => Some(&mut **observer),
                        _ => None,
                    };
                    seats.push(sit(label, client.as_ref(), work, trace, excuse, watch));
                }
                seats
            }
        }
    }

    /// Runs `work` on one client of the panel, by position.
    pub fn run_one<W: Runnable>(&self, seat: usize, work: &W, trace: TraceMode) -> Option<Seat<W::Output>> {
        let (label, client) = self.seats.get(seat)?;
        Some(sit(label, client.as_ref(), work, trace, Excuse::Before, None))
    }
}

/// One client on one case.
pub(crate) fn sit<W: Runnable>(
    label: &str,
    client: &dyn Client,
    work: &W,
    trace: TraceMode,
    excuse: Excuse,
    observer: Option<&mut dyn StepObserver>,
) -> Seat<W::Output> {
    let seat = |entry, took| Seat { label: label.to_owned(), entry, took };
    if let Some(entry) = kept_out(client, work, excuse) {
        return seat(entry, Duration::ZERO);
    }
    let started = Instant::now();
    let result = guarded(label, || match observer {
        Some(observer) => work.run_observed(client, observer),
        None => work.run_on(client, trace),
    });
    let took = started.elapsed();
    seat(entry(label, client, work, result), took)
}

/// What keeps `client` from running `work` at all, if anything: an unreachable input, a fork
/// or block it cannot run, or (with [`Excuse::Before`]) a known difference covering it.
pub(crate) fn kept_out<W: Runnable>(client: &dyn Client, work: &W, excuse: Excuse) -> Option<Entry<W::Output>> {
    if let Some(reason) = work.unreachable() {
        return Some(Entry::Unsupported(format!("unreachable input: {reason}")));
    }
    if let Some(reason) = work.unsupported(client) {
        return Some(Entry::Unsupported(reason));
    }
    if excuse == Excuse::Before
        && let Some(known) = judged(|| work.excused(client))
    {
        return Some(Entry::Excused(known));
    }
    None
}

/// The entry of what `client` made of `work`.
pub(crate) fn entry<W: Runnable>(label: &str, client: &dyn Client, work: &W, result: Result<W::Output, ClientError>) -> Entry<W::Output> {
    match result {
        Ok(output) => Entry::Ran(output),
        // A case the client cannot even represent is explained when one of its documented
        // known differences (a missing feature) covers the case; any other fault stays a
        // finding of its own kind.
        Err(e @ ClientError::Unrepresentable { .. }) => match judged(|| work.known_difference(client, None)) {
            Some(known) => Entry::Excused(known),
            None => Entry::Fault(Fault::of(label, &e)),
        },
        Err(e) => Entry::Fault(Fault::of(label, &e)),
    }
}

/// A known difference's verdict, a panic in its predicate taken as "does not apply": the
/// predicate is the adapter's code, and a farm must outlive its bugs.
pub fn judged(f: impl FnOnce() -> Option<&'static KnownDifference>) -> Option<&'static KnownDifference> {
    catch_unwind(AssertUnwindSafe(f)).ok().flatten()
}

/// Runs one call into client `id`, turning a panic into [`ClientError::Panicked`].
pub fn guarded<T>(id: &str, f: impl FnOnce() -> Result<T, ClientError>) -> Result<T, ClientError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic payload".to_owned());
        Err(ClientError::Panicked { client: id.to_owned(), message })
    })
}
#[cfg(all(test, feature = "sputnik"))]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_is_judged_on_the_client_s_trace_of_each_transaction() {
        // The farm's finding (a 2-minute run at seed 7): before EIP-161,
        // init code assembled from PUSH32 data calls the coinbase, absent from the state, and
        // SputnikVM charges no new-account gas. The look at the code cannot see the call; the
        // client's trace of the transaction shows it.
        let client = schism_sputnik::Sputnik::new();
        let seq = known_sequence("sputnik-coinbase-from-init-code.json");
        assert_eq!(seq.known_difference(&client, None).map(|k| k.id), None, "the static look misses it");
        let run = seq.run_on(&client, TraceMode::Steps).expect("runs");
        assert_eq!(seq.known_difference(&client, Some(&run)).map(|k| k.id), Some("sputnik-coinbase-exists-pre-eip161"));
        let untraced = seq.run_on(&client, TraceMode::Off).expect("runs");
        assert_eq!(seq.known_difference(&client, Some(&untraced)).map(|k| k.id), None, "no trace, no judgement");
        // The farm's other such finding (seed 11): MSIZE after a CODECOPY in init code built
        // from PUSH32 data.
        let seq = known_sequence("sputnik-msize-after-codecopy-from-init-code.json");
        assert_eq!(seq.known_difference(&client, None).map(|k| k.id), None, "the static look misses it");
        let run = seq.run_on(&client, TraceMode::Steps).expect("runs");
        assert_eq!(seq.known_difference(&client, Some(&run)).map(|k| k.id), Some("sputnik-msize-after-codecopy"));
    }

    /// The one sequence of `corpus/known/<name>`.
    fn known_sequence(name: &str) -> Sequence {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/known").join(name);
        let Ok(schism_interface::load::FixtureFile::Blockchain(file)) = schism_interface::load::read_fixture(&path) else {
            panic!("a blockchain test at {}", path.display())
        };
        let (mut sequences, errors) = schism_interface::sequence::blockchain::sequences_of_file(&path, &file);
        assert!(errors.is_empty() && sequences.len() == 1, "{errors:?}");
        sequences.remove(0)
    }
}

#[cfg(all(test, feature = "revm"))]
mod observed_tests {
    use super::*;
    use crate::fuzz::MAP_SIZE;
    use crate::fuzz::features::Recorder;

    /// What the observer saw of a sequence: the feature map and the steps.
    fn seen(run: impl FnOnce(&mut Recorder<'_>) -> ChainRun) -> (Vec<u8>, u64, ChainRun) {
        let mut map = vec![0u8; MAP_SIZE];
        let mut recorder = Recorder::new(&mut map);
        let run = run(&mut recorder);
        let steps = recorder.steps;
        (map, steps, run)
    }

    #[test]
    fn an_observed_sequence_streams_the_steps_its_traces_hold() {
        // revm executes a block's transactions observed, building no trace; what the observer
        // sees must be what replaying the traced run's steps shows, and the chain the same.
        let client = schism_revm::Revm::new();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/bench-fuzz");
        let mut compared = 0;
        let mut stepped = 0;
        for entry in std::fs::read_dir(&dir).expect("the bench corpus").flatten() {
            let blueprint: crate::fuzz::Blueprint =
                serde_json::from_slice(&std::fs::read(entry.path()).expect("read")).expect("a blueprint");
            if blueprint.follow.is_empty() {
                continue;
            }
            let seq = crate::fuzz::sequence::compile_sequence(&blueprint, schism_interface::Fork::Prague);
            let (streamed_map, streamed_steps, streamed) = seen(|r| seq.run_observed(&client, r).expect("runs observed"));
            let (replayed_map, replayed_steps, replayed) = seen(|r| {
                let mut run = chain::run(&client, &seq, TraceMode::Steps).expect("runs traced");
                for block in &mut run.blocks {
                    if let Some(outcome) = block.outcome.as_mut() {
                        schism_interface::sequence::execute::replay_traces(outcome, r);
                    }
                }
                run
            });
            let name = entry.path().display().to_string();
            assert_eq!((streamed.state_root, streamed.head), (replayed.state_root, replayed.head), "{name}");
            assert_eq!(streamed_steps, replayed_steps, "{name}");
            assert!(streamed_map == replayed_map, "{name}: the feature maps differ");
            assert!(
                streamed.blocks.iter().flat_map(|b| b.outcome.iter()).flat_map(|o| o.receipts.iter()).all(|r| r.trace.is_none()),
                "{name}: no trace kept"
            );
            compared += 1;
            stepped += usize::from(streamed_steps > 0);
        }
        assert!(compared >= 20 && stepped >= 20, "{compared} sequences compared, {stepped} with steps");
    }
}
