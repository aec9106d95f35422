//! One fuzzing job: a process of its own, owning a harness (and so its clients), a corpus kept
//! in memory and mirrored to the corpus folder, and LibAFL's fuzzer; it runs until the deadline
//! and reports its statistics to the broker about once a second.
//!
//! In-process clients run on the job's own thread, watched by a [`Watchdog`] (see
//! [`crate::deadline`]): a run past its client's deadline cannot be stopped, so the watchdog
//! writes the input to the hung folder ([`HUNG_DIR`]) and aborts the job. Its restarter starts
//! it again (LibAFL's OOM-safe restarts: no state carried, the corpus read again from its folder),
//! and the new job first runs what its predecessor hung on with a deadline on every run, which
//! files it as a `timeout` fault of its client, as `schism run` would.

use super::monitor::{JobReport, REPORT_STAT};
use super::mutators::{blueprint_mutator, entropy};
use super::{FarmOptions, SOLUTIONS_DIR};
use crate::deadline::{Hang, Watchdog};
use crate::fuzz::FuzzError;
use crate::fuzz::features::MAP_SIZE;
use crate::fuzz::harness::{Harness, HarnessOptions};
use crate::fuzz::program::Blueprint;
use libafl::corpus::{Corpus, CorpusId, InMemoryOnDiskCorpus, OnDiskCorpus};
use libafl::events::{
    AwaitRestartSafe as _, ClientDescription, Event, EventFirer as _, EventWithStats, LlmpRestartingEventManager, ProgressReporter as _,
    SendExiting as _,
};
use libafl::executors::{Executor, ExitKind, HasObservers};
use libafl::feedbacks::{CrashFeedback, MapFeedbackMetadata, MaxMapFeedback};
use libafl::generators::Generator;
use libafl::inputs::Input;
use libafl::observers::{CanTrack as _, ExplicitTracking, OwnedMapObserver};
use libafl::schedulers::{IndexesLenTimeMinimizerScheduler, QueueScheduler};
use libafl::stages::StdMutationalStage;
use libafl::state::{HasCorpus as _, HasExecutions, HasMaxSize as _, HasRand, StdState};
use libafl::{Error, Fuzzer as _, HasNamedMetadata as _, feedback_and_fast, feedback_or};
use libafl_bolts::rands::StdRand;
use libafl_bolts::shmem::{StdShMem, StdShMemProvider};
use libafl_bolts::tuples::{RefIndexable, tuple_list, tuple_list_type};
use libafl_bolts::{HasLen, Named as _};
use std::borrow::Cow;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The folder, inside the crashes folder, where a job's watchdog leaves the input a client hung
/// on (`<job>-<hash>.json`), for the job's next start to file.
pub const HUNG_DIR: &str = ".hung";

/// The feature map observer's name (and so the name of its history in the state).
const FEATURES: &str = "features";

/// Bytes of randomness behind one generated input.
const SEED_ENTROPY: usize = 4096;

/// Inputs generated when the corpus folder is empty.
const INITIAL_INPUTS: usize = 64;

/// Mutated inputs per scheduled corpus entry, at most. Fewer than LibAFL's 128: one of our
/// executions runs several EVMs, and the job checks its deadline between entries.
const MUTATIONS_PER_ENTRY: NonZeroUsize = NonZeroUsize::new(32).expect("non-zero");

/// Largest byte field (calldata, raw code) byte havoc may grow: the EIP-170 code size limit.
const MAX_BYTES: usize = 24_576;

/// How often a job sends its report and LibAFL's own progress to the broker.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// A job's LibAFL state: corpus in memory and on disk, solutions on disk.
pub(crate) type FarmState = StdState<InMemoryOnDiskCorpus<Blueprint>, Blueprint, StdRand, OnDiskCorpus<Blueprint>>;

/// A job's connection to the broker (and to the process that restarts it).
pub(crate) type FarmManager = LlmpRestartingEventManager<(), Blueprint, FarmState, StdShMem, StdShMemProvider>;

/// The feature map observer, with index tracking for the minimising scheduler.
type FeatureObserver = ExplicitTracking<OwnedMapObserver<u8>, true, false>;

impl Input for Blueprint {
    /// Corpus entries are JSON, so a person can read them (`jq . entry.json`); compact, since a
    /// farm writes hundreds a second at first (pretty-printed, one byte per line, they were
    /// five times larger).
    fn to_file<P: AsRef<Path>>(&self, path: P) -> Result<(), Error> {
        let path = path.as_ref();
        let json = serde_json::to_vec(self).map_err(|e| Error::serialize(e.to_string()))?;
        // Written atomically, like every file schism writes; the temporary name is unique, so a
        // job killed mid-write never blocks another (LibAFL's own helper would). Entries of the
        // corpus folder go through the job's writer thread (see `writer`).
        super::writer::write(path, json)?;
        Ok(())
    }

    fn from_file<P: AsRef<Path>>(path: P) -> Result<Self, Error> {
        // An entry just added may still be on its way to the disk.
        let json = super::writer::read(path.as_ref())?;
        serde_json::from_slice(&json).map_err(|e| Error::serialize(e.to_string()))
    }

    fn generate_name(&self, _id: Option<CorpusId>) -> String {
        format!("{:016x}.json", libafl_bolts::generic_hash_std(self))
    }
}

impl HasLen for Blueprint {
    /// The size the scheduler weighs entries by: pieces of program.
    fn len(&self) -> usize {
        self.pieces()
    }
}

/// Random blueprints: random bytes decoded by [`Blueprint::from_bytes`].
struct RandomBlueprints;

impl<S: HasRand> Generator<Blueprint, S> for RandomBlueprints {
    fn generate(&mut self, state: &mut S) -> Result<Blueprint, Error> {
        Ok(Blueprint::from_bytes(&entropy(state.rand_mut(), SEED_ENTROPY)))
    }
}

/// Runs inputs on the harness; owns the feature map the harness writes (no static map, no
/// `unsafe`).
struct HarnessExecutor {
    harness: Harness,
    observers: tuple_list_type!(FeatureObserver),
    /// The input being run, for the watchdog to keep should a client hang on it.
    current: Arc<Mutex<Option<Blueprint>>>,
}

impl<EM, S: HasExecutions, Z> Executor<EM, Blueprint, S, Z> for HarnessExecutor {
    fn run_target(&mut self, _fuzzer: &mut Z, state: &mut S, _mgr: &mut EM, input: &Blueprint) -> Result<ExitKind, Error> {
        *state.executions_mut() += 1;
        if let Ok(mut current) = self.current.lock() {
            match current.as_mut() {
                Some(kept) => kept.clone_from(input),
                None => *current = Some(input.clone()),
            }
        }
        // The observer's pre_exec has zeroed the map.
        let map: &mut OwnedMapObserver<u8> = self.observers.0.as_mut();
        let run = self.harness.run(input, map);
        // A divergence is the objective; LibAFL's name for "the target misbehaved" is Crash.
        Ok(if run.divergent { ExitKind::Crash } else { ExitKind::Ok })
    }
}

impl HasObservers for HarnessExecutor {
    type Observers = tuple_list_type!(FeatureObserver);

    fn observers(&self) -> RefIndexable<&Self::Observers, Self::Observers> {
        RefIndexable::from(&self.observers)
    }

    fn observers_mut(&mut self) -> RefIndexable<&mut Self::Observers, Self::Observers> {
        RefIndexable::from(&mut self.observers)
    }
}

/// What every job shares, prepared before the launch.
pub(crate) struct Job<'a> {
    /// The farm's options.
    pub options: &'a FarmOptions,
    /// The corpus folder's entries at start; job `i` of `n` loads every `n`-th from the `i`-th.
    pub files: &'a [PathBuf],
    /// Inputs of findings an earlier farm was killed while filing; the first job runs them
    /// before its share of the corpus, and so files them.
    pub pending: &'a [PathBuf],
    /// When to stop.
    pub deadline: Option<Instant>,
    /// The farm's seed; job `i` seeds its generator with `seed + i`.
    pub seed: u64,
    /// When this file exists, the job stops (checked about once a second).
    pub stop_file: &'a Path,
    /// Where each job counts its starts (one file per job), so a restarted job seeds its
    /// generator afresh instead of running into the same hang again.
    pub starts: &'a Path,
    /// The farm's own process: a job outlives it by at most a second.
    pub origin: u32,
}

/// The Launcher's `run_client`: runs the job, then tells the broker it has left on purpose, so
/// the broker stops waiting for it and its restarter does not start it again. A job that fails
/// or panics says why on stderr and leaves; the others go on.
pub(crate) fn run_client(job: &Job<'_>, state: Option<FarmState>, mut mgr: FarmManager, client: ClientDescription) -> Result<(), Error> {
    die_with_the_farm(job.origin);
    let outcome = catch_unwind(AssertUnwindSafe(|| fuzz(job, state, &mut mgr, &client)));
    if !super::writer::flush(Duration::from_secs(60)) {
        eprintln!("\nwarning: fuzzing job {}: some corpus entries were not written within a minute", client.id());
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("\nerror: fuzzing job {}: {e}", client.id()),
        Err(panic) => {
            let what = panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str));
            eprintln!("\nerror: fuzzing job {} panicked: {}", client.id(), what.unwrap_or("(no message)"));
        }
    }
    mgr.send_exiting()?;
    mgr.await_restart_safe();
    Ok(())
}

/// Ties this job to the farm's life, however the farm ends (even `kill -9`): the job gets
/// SIGKILL when its parent (the restarter) dies, and a thread watches the farm's process and,
/// once it is gone, kills the restarter (so it starts no new job) and this job.
fn die_with_the_farm(origin: u32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::getppid;
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let Ok(origin) = i32::try_from(origin) else { return };
    std::thread::spawn(move || {
        loop {
            if !crate::triage::folder::process_alive(origin) {
                let parent = getppid();
                if parent.as_raw() != origin && parent.as_raw() > 1 {
                    let _ = kill(parent, Signal::SIGKILL);
                }
                std::process::exit(1);
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    });
}

fn farm_error(e: FuzzError) -> Error {
    Error::illegal_state(e.to_string())
}

/// The job proper: set up, load or generate the corpus, fuzz until the deadline.
fn fuzz(job: &Job<'_>, state: Option<FarmState>, mgr: &mut FarmManager, client: &ClientDescription) -> Result<(), Error> {
    let options = job.options;
    // Clients are made here, in the job's process: subprocess clients' pipes and in-process
    // clients' state belong to one process.
    let start = count_start(job.starts, client.id());
    super::writer::write_behind(&options.corpus);
    let clients = options.clients.make().map_err(|e| farm_error(e.into()))?;
    let hung = options.crashes.join(HUNG_DIR);
    // What this job hung on before its restart, run with a worker and a deadline per run (no
    // watchdog yet): filed as its client's timeout.
    file_hung(&hung, client.id(), &clients, options)?;
    let harness = Harness::new(harness_options(options, clients, job.deadline)).map_err(farm_error)?;

    let observer = OwnedMapObserver::new(FEATURES, vec![0u8; MAP_SIZE]).track_indices();
    let mut feedback = feedback_or!(MaxMapFeedback::new(&observer), super::scheduler::CacheLength);
    // A divergence is kept as a solution only when it also shows features no earlier
    // divergence showed: the harness files every one, this keeps the inputs few.
    let mut objective = feedback_and_fast!(CrashFeedback::new(), MaxMapFeedback::with_name("divergence_features", &observer));
    let mut state = match state {
        Some(state) => state,
        None => StdState::new(
            // Each start of a job its own seed, the first the farm's seed plus the job's number.
            StdRand::with_seed(job.seed.wrapping_add(client.id() as u64).wrapping_add(start.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
            // No lock file per entry (LibAFL's default makes one, `.NAME`, beside each entry, so
            // that two jobs never write one name twice): an atomic write of the same content
            // twice is harmless, and a second file per entry doubled the file creations.
            InMemoryOnDiskCorpus::with_meta_format_and_prefix(&options.corpus, None, None, false)?,
            OnDiskCorpus::no_meta(options.crashes.join(SOLUTIONS_DIR))?,
            &mut feedback,
            &mut objective,
        )?,
    };
    state.set_max_size(MAX_BYTES);
    let scheduler = super::scheduler::CullOnChange::new(IndexesLenTimeMinimizerScheduler::new(&observer, QueueScheduler::new()));
    let mut fuzzer = libafl::StdFuzzer::new(scheduler, feedback, objective);
    let current = Arc::new(Mutex::new(None));
    let mut executor = HarnessExecutor { harness, observers: tuple_list!(observer), current: current.clone() };
    let job_id = client.id();
    let _watchdog = Watchdog::start(move |hang| keep_hung_and_abort(&hung, job_id, &current, &hang));

    let mut report = JobReport { start, ..JobReport::default() };
    // A first event at once: with LibAFL's OOM-safe restarts, each event keeps what a restart
    // needs, so a job aborted by its watchdog (even while it loads its corpus) is started again.
    send_report(&mut state, mgr, &executor, &mut report)?;
    if state.must_load_initial_inputs() {
        // Each job reads its share of the folder; the broker passes what is new to the others.
        // With fewer entries than jobs, every job reads them all: none starts empty-handed.
        let jobs = options.jobs.max(1);
        let index = (client.id().max(1) - 1) % jobs;
        // Read again here: a job restarted after a hang starts from what the farm has found
        // since it began, not from the folder as it was then.
        let listed = super::corpus_entries(&options.corpus).ok();
        let files = listed.as_deref().unwrap_or(job.files);
        let mut share: Vec<PathBuf> = if index == 0 { job.pending.to_vec() } else { Vec::new() };
        if files.len() < jobs {
            share.extend_from_slice(files);
        } else {
            share.extend(files.iter().skip(index).step_by(jobs).cloned());
        }
        state.load_initial_inputs_by_filenames(&mut fuzzer, &mut executor, mgr, &share)?;
        report.loaded = state.corpus().count_all() as u64;
        if state.corpus().count() == 0 {
            state.generate_initial_inputs(&mut fuzzer, &mut executor, &mut RandomBlueprints, mgr, INITIAL_INPUTS)?;
            report.generated = INITIAL_INPUTS as u64;
        }
        if state.corpus().count() == 0 {
            // Nothing generated was new: the scheduler needs one entry to start from.
            state.generate_initial_inputs_forced(&mut fuzzer, &mut executor, &mut RandomBlueprints, mgr, 1)?;
            report.generated += 1;
        }
    }

    let mut stages = tuple_list!(StdMutationalStage::with_max_iterations(blueprint_mutator(), MUTATIONS_PER_ENTRY));
    let mut last_report = Instant::now();
    send_report(&mut state, mgr, &executor, &mut report)?;
    let found = |executor: &HarnessExecutor| options.stop_on_divergence && executor.harness.stats().divergences > 0;
    while job.deadline.is_none_or(|d| Instant::now() < d) && !found(&executor) {
        fuzzer.fuzz_one(&mut stages, &mut executor, &mut state, mgr)?;
        if last_report.elapsed() >= REPORT_EVERY {
            send_report(&mut state, mgr, &executor, &mut report)?;
            last_report = Instant::now();
            if job.stop_file.exists() {
                break;
            }
        }
    }
    send_report(&mut state, mgr, &executor, &mut report)
}

/// The harness a job runs: the farm's options over `clients`.
fn harness_options(
    options: &FarmOptions,
    clients: Vec<std::sync::Arc<dyn schism_interface::Client>>,
    deadline: Option<Instant>,
) -> HarnessOptions {
    HarnessOptions {
        clients,
        fork: options.fork,
        crashes: options.crashes.clone(),
        minimise: options.minimise,
        slow: options.slow,
        sequences: options.sequences,
        set_aside: options.set_aside.clone(),
        sought: options.sought.clone(),
        deadline,
    }
}

/// Which start of job `job` this is (0 the first), counted in a file of `dir`.
fn count_start(dir: &Path, job: usize) -> u64 {
    let path = dir.join(job.to_string());
    let start = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u64>().ok()).map_or(0, |n| n + 1);
    let _ = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, start.to_string()));
    start
}

/// The watchdog's answer to a hang: the input goes to the hung folder as `<job>-<hash>.json`,
/// and the job aborts (its restarter starts it again, and the new job files the input).
fn keep_hung_and_abort(hung: &Path, job: usize, current: &Mutex<Option<Blueprint>>, hang: &Hang) -> ! {
    // The corpus entries still queued reach the disk first (the writer is not stuck).
    super::writer::flush(Duration::from_secs(5));
    let input = current.lock().ok().and_then(|c| c.clone());
    let kept = input.map(|input| {
        let path = hung.join(format!("{job}-{}", input.generate_name(None)));
        let json = serde_json::to_vec(&input).map_err(std::io::Error::other);
        json.and_then(|json| crate::atomic::write(&path, &json)).map(|()| path)
    });
    let what = match kept {
        Some(Ok(path)) => format!("its input is kept in {} and is filed when the job restarts", path.display()),
        Some(Err(e)) => format!("its input could not be kept in {}: {e}", hung.display()),
        None => "no input was running".to_owned(),
    };
    eprintln!(
        "\nschism fuzz: job {job}: {} ran one input for {:.1}s, past its deadline of {:.1}s; {what}; the job restarts",
        hang.client,
        hang.elapsed.as_secs_f64(),
        hang.timeout.as_secs_f64()
    );
    // Not `exit`: a thread is stuck in the client, and exit handlers could wait on it. No core
    // file either: the input is kept, and a core of a whole job is large.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    std::process::abort()
}

/// Runs the inputs an earlier start of job `job` hung on, each client with a deadline per run
/// (on a worker thread; no watchdog lives yet), so each is filed like any fault; then removes
/// them. A run abandoned doing so goes on on its worker thread until its client returns.
fn file_hung(
    hung: &Path,
    job: usize,
    clients: &[std::sync::Arc<dyn schism_interface::Client>],
    options: &FarmOptions,
) -> Result<(), Error> {
    let prefix = format!("{job}-");
    let Ok(entries) = std::fs::read_dir(hung) else { return Ok(()) };
    let mut inputs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)) && p.extension().is_some_and(|x| x == "json"))
        .collect();
    if inputs.is_empty() {
        return Ok(());
    }
    inputs.sort();
    let mut harness =
        Harness::new(HarnessOptions { slow: None, ..harness_options(options, clients.to_vec(), None) }).map_err(farm_error)?;
    let mut map = vec![0u8; MAP_SIZE];
    for path in inputs {
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|json| serde_json::from_slice::<Blueprint>(&json).map_err(|e| e.to_string()))
        {
            Ok(input) => {
                let run = harness.run(&input, &mut map);
                let filed = run.signature.map_or_else(|| "not reproduced".to_owned(), |s| format!("filed as {s}"));
                eprintln!("\nschism fuzz: job {job}: the input kept in {} after a hang: {filed}", path.display());
            }
            Err(e) => eprintln!("\nschism fuzz: job {job}: cannot read {}: {e}; removed", path.display()),
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

/// Sends the job's report, and LibAFL's executions and heartbeat, to the broker.
fn send_report(state: &mut FarmState, mgr: &mut FarmManager, executor: &HarnessExecutor, report: &mut JobReport) -> Result<(), Error> {
    report.harness = executor.harness.stats().clone();
    report.corpus = state.corpus().count() as u64;
    let observer_name = executor.observers.0.name().clone();
    report.features = state.named_metadata::<MapFeedbackMetadata<u8>>(&observer_name).map_or(0, |m| m.num_covered_map_indexes as u64);
    let event = Event::UpdateUserStats { name: Cow::Borrowed(REPORT_STAT), value: report.to_user_stats()?, phantom: PhantomData };
    let executions = *state.executions();
    mgr.fire(state, EventWithStats::with_current_time(event, executions))?;
    mgr.report_progress(state)
}
