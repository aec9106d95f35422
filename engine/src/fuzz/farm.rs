//! The fuzzing farm: LibAFL's [`Launcher`] starts one LLMP broker and `jobs` fuzzing jobs, each
//! a process bound to a core with its own harness and clients. The jobs share new corpus
//! entries through the broker, keep the corpus in a folder so a farm resumes where it stopped,
//! and report statistics that a monitor in the broker shows live and writes as JSON.
//!
//! Processes: the caller of [`fuzz`] runs the broker on a thread and forks the jobs (LibAFL's
//! `fork` launch, no re-execution of the binary); each job runs under a restarter process of
//! its own. Only the caller returns from [`fuzz`]: every forked process exits when its part
//! ends. The broker installs LLMP's SIGINT handler in the caller's process, where it stays:
//! Ctrl-C stops the farm, not the program.
//!
//! Across machines ([`NodeOptions`]), each machine runs such a farm, a node, and the nodes form
//! a tree on LibAFL's multi-machine layer: its hooks in each node's broker exchange corpus
//! entries with the parent and the children (`farm/node.rs` says what else a node carries and why,
//! `farm/link.rs` how the links survive dead machines and networks). `--metrics` serves the
//! statistics of a node and of the nodes below it to Prometheus (`farm/metrics.rs`).

mod job;
mod link;
mod metrics;
mod monitor;
mod mutators;
mod node;
mod scheduler;
pub mod upkeep;
mod writer;

pub use monitor::{ClientTime, FarmStats};
pub use mutators::{EditMutator, SpliceMutator, blueprint_mutator};
pub use node::NodeOptions;
pub use upkeep::{DEFAULT_KEEP_INPUTS, HISTORY_FILE, HistoryPoint};

use super::FuzzError;
use super::harness::{Harness, HarnessOptions};
use super::program::Blueprint;
use crate::registry::{self, ClientOptions, RegistryError};
use job::{FarmManager, FarmState, Job};
use libafl::events::{ClientDescription, EventConfig, Launcher, ShouldSaveState, StdLlmpEventHook};
use libafl::monitors::NopMonitor;
use libafl_bolts::core_affinity::{Cores, get_core_ids};
use libafl_bolts::llmp::{Broker as _, LlmpBroker, LlmpHookTuple};
use libafl_bolts::shmem::{ShMemProvider as _, StdShMem, StdShMemProvider};
use libafl_bolts::tuples::tuple_list;
use monitor::{FarmMonitor, StatusLine};
use node::{Announcer, Forward, Intake, Tree};
use schism_interface::{Client, Fork};
use std::fmt;
use std::io::IsTerminal as _;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the corpus lives unless told otherwise (relative to the working directory).
pub const DEFAULT_CORPUS: &str = "corpus/fuzz";

/// Where divergences are filed unless told otherwise.
pub const DEFAULT_CRASHES: &str = "crashes";

/// The folder, inside the crashes folder, where the inputs of divergences are kept (the
/// harness files the state-test JSON itself, beside it).
pub const SOLUTIONS_DIR: &str = ".inputs";

/// How long after the deadline a job that has not stopped is interrupted (a case stuck in a
/// client, a job that died without saying goodbye to the broker).
const GRACE: Duration = Duration::from_secs(30);

/// How often the broker runs its timeout hooks when idle.
const BROKER_TIMEOUT: Duration = Duration::from_secs(30);

/// The broker's pause between polls of the jobs' pages: keeps it from spinning a core.
const BROKER_NAP: Duration = Duration::from_millis(5);

/// The LLMP configuration name: jobs of one farm run the same harness, so an input a job found
/// interesting need not be sent with its observations re-run elsewhere to be trusted.
const CONFIGURATION: &str = "schism";

/// How each job makes its clients. Called inside each job's process: clients (and
/// subprocess clients' pipes) are never carried across a fork.
pub struct ClientFactory(Box<MakeClients>);

/// What a [`ClientFactory`] calls.
type MakeClients = dyn Fn() -> Result<Vec<Arc<dyn Client>>, RegistryError>;

impl ClientFactory {
    /// Clients from `--client` values, through the registry (empty: every in-process client).
    pub fn registry(values: Vec<String>, options: ClientOptions) -> ClientFactory {
        ClientFactory(Box::new(move || registry::resolve(&values, &options)))
    }

    /// Clients made by `make` (scripted clients in tests, a self-test's selection).
    pub fn new(make: impl Fn() -> Result<Vec<Arc<dyn Client>>, RegistryError> + 'static) -> ClientFactory {
        ClientFactory(Box::new(make))
    }

    /// A fresh set of clients.
    pub fn make(&self) -> Result<Vec<Arc<dyn Client>>, RegistryError> {
        (self.0)()
    }
}

impl fmt::Debug for ClientFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientFactory(..)")
    }
}

/// What a farm runs and for how long.
#[derive(Debug)]
pub struct FarmOptions {
    /// The clients every job compares.
    pub clients: ClientFactory,
    /// Fuzzing jobs, one per core (0 counts as 1).
    pub jobs: usize,
    /// When to stop; `None` runs until Ctrl-C.
    pub duration: Option<Duration>,
    /// The corpus folder: read at start, every new entry written to it.
    pub corpus: PathBuf,
    /// Where divergences are filed.
    pub crashes: PathBuf,
    /// Only this fork (default: the generator chooses).
    pub fork: Option<Fork>,
    /// Seed of the random generators (job `i` uses `seed + i`); `None`: from the clock.
    pub seed: Option<u64>,
    /// Also write the statistics here (JSON, rewritten every second and at the end).
    pub stats: Option<PathBuf>,
    /// Show the live status line on stderr.
    pub status: bool,
    /// Stop the farm at the first divergence (a self-test's canary found) instead of at the
    /// deadline.
    pub stop_on_divergence: bool,
    /// Signatures set aside as other bugs than the one sought: filed again and counted, not
    /// findings (see [`HarnessOptions::set_aside`](super::harness::HarnessOptions::set_aside)).
    pub set_aside: Vec<String>,
    /// The client whose bug is sought: divergent runs that do not set it apart are set aside (see
    /// [`HarnessOptions::sought`](super::harness::HarnessOptions::sought)).
    pub sought: Option<String>,
    /// Minimisation budget per new signature (`None`: findings are filed as found).
    pub minimise: Option<crate::triage::Budget>,
    /// When a case is filed as slow (`None`: not judged).
    pub slow: Option<super::harness::SlowRule>,
    /// The share of inputs run as block sequences.
    pub sequences: f64,
    /// Divergent inputs kept in `<crashes>/.inputs`, the oldest evicted first (every one is
    /// filed already: see [`upkeep`]).
    pub keep_inputs: usize,
    /// Where the farm stands among machines (default: alone).
    pub node: NodeOptions,
    /// Serve Prometheus metrics here (`HOST:PORT`).
    pub metrics: Option<String>,
}

/// A seed from the clock (nanoseconds since the epoch), for a farm given none.
pub fn clock_seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// What a farm did, once it has stopped.
#[derive(Clone, Debug)]
pub struct FarmSummary {
    /// The final statistics, aggregated over the jobs.
    pub stats: FarmStats,
    /// The seed the farm ran with.
    pub seed: u64,
    /// The corpus folder.
    pub corpus: PathBuf,
    /// The crashes folder.
    pub crashes: PathBuf,
    /// Some job had not stopped a grace period after the deadline and was interrupted.
    pub interrupted: bool,
    /// The farm was stopped from outside (Ctrl-C, SIGTERM, SIGQUIT) before its duration or
    /// first divergence: what it reports is what it did until then.
    pub signalled: bool,
    /// The node's name.
    pub node: String,
    /// Findings of other nodes filed in this node's crashes folder.
    pub carried: u64,
}

impl FarmSummary {
    /// A few lines for a person: speed, corpus, features, divergences, time per client.
    pub fn text(&self) -> String {
        let s = &self.stats;
        let mut out = format!(
            "fuzzed {:.1}s with {} job{} (seed {}): {} executions, {:.0}/s\n",
            s.elapsed_s,
            s.jobs,
            if s.jobs == 1 { "" } else { "s" },
            self.seed,
            s.executions,
            s.execs_per_sec,
        );
        out += &format!(
            "corpus {} entries in {} (resumed from {}), {} features\n",
            s.corpus,
            self.corpus.display(),
            s.resumed_from,
            s.features
        );
        out += &format!(
            "{:.1} instructions per case, {:.0}% of cases deep; {} opcodes and {} precompiles reached\n",
            s.mean_opcodes_per_case,
            s.deep_case_share * 100.0,
            s.opcodes_reached.len(),
            s.precompiles_reached.len()
        );
        if s.sequences > 0 {
            out += &format!(
                "{} block sequences ({:.0}/s), {} transactions ({:.0}/s); a later transaction depends on an earlier one's writes in {} of {} checked ({:.0}%)\n",
                s.sequences,
                s.sequences as f64 / s.elapsed_s.max(1e-9),
                s.sequence_txs,
                s.sequence_txs as f64 / s.elapsed_s.max(1e-9),
                s.sequences_dependent,
                s.sequences_checked,
                100.0 * s.sequences_dependent as f64 / s.sequences_checked.max(1) as f64
            );
        }
        if !s.per_client.is_empty() {
            let times: Vec<String> = s.per_client.iter().map(|(id, t)| format!("{id} {:.1}s", t.seconds)).collect();
            out += &format!("time per client: {}\n", times.join(", "));
        }
        if s.set_aside > 0 {
            out += &format!("{} divergent input{} set aside as other bugs\n", s.set_aside, if s.set_aside == 1 { "" } else { "s" });
        }
        if s.known > 0 {
            out += &format!(
                "{} divergent input{} explained by documented known differences (not filed)\n",
                s.known,
                if s.known == 1 { "" } else { "s" }
            );
            let mut tallies = s.known_by.clone();
            tallies.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.known.cmp(&b.known)));
            for t in &tallies {
                out += &format!(
                    "  {} {}: {} input{}, {} signature{} judged, {:.1}s\n",
                    t.client,
                    t.known,
                    t.runs,
                    if t.runs == 1 { "" } else { "s" },
                    t.signatures,
                    if t.signatures == 1 { "" } else { "s" },
                    t.seconds
                );
            }
        }
        if s.deferred > 0 {
            out += &format!(
                "{} divergent input{} not filed: the deadline came while {} minimised; kept in {}, filed first by the next farm on these folders\n",
                s.deferred,
                if s.deferred == 1 { "" } else { "s" },
                if s.deferred == 1 { "it was" } else { "they were" },
                self.crashes.join(crate::fuzz::harness::PENDING_DIR).display()
            );
        }
        out += &match s.divergences {
            0 => "no divergence\n".to_owned(),
            n => format!(
                "{n} divergent input{}, {} finding{} filed in {}\n",
                if n == 1 { "" } else { "s" },
                s.filed,
                if s.filed == 1 { "" } else { "s" },
                self.crashes.display()
            ),
        };
        if self.carried > 0 {
            out += &format!(
                "{} finding{} of other nodes filed in {}\n",
                self.carried,
                if self.carried == 1 { "" } else { "s" },
                self.crashes.display()
            );
        }
        if self.interrupted {
            out += &format!("warning: some job had not stopped {}s after the deadline and was interrupted\n", GRACE.as_secs());
        }
        if self.signalled {
            out += &format!("stopped by a signal after {:.1} s\n", self.stats.elapsed_s);
        }
        out
    }
}

/// Runs a farm until `options.duration` has passed (or Ctrl-C) and returns its summary.
///
/// The clients and folders are checked before anything is forked; a job that fails later says
/// why on stderr and stops, and the others go on.
pub fn fuzz(options: &FarmOptions) -> Result<FarmSummary, FuzzError> {
    let jobs = options.jobs.max(1);
    let clients = options.clients.make()?;
    if clients.is_empty() {
        return Err(FuzzError::NoClients);
    }
    // One harness up front, dropped before the fork: a client or folder problem is one error
    // here rather than one per job.
    drop(Harness::new(HarnessOptions::new(clients, options.fork, options.crashes.clone()))?);

    let available = get_core_ids().map_err(engine)?;
    if available.len() < jobs {
        return Err(FuzzError::Jobs { jobs, cores: available.len() });
    }
    let cores = Cores::from(available.iter().take(jobs).map(|c| c.0).collect::<Vec<_>>());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FuzzError::Io { path, source }
    };
    let solutions = options.crashes.join(SOLUTIONS_DIR);
    std::fs::create_dir_all(&options.corpus).map_err(io(&options.corpus))?;
    std::fs::create_dir_all(&solutions).map_err(io(&solutions))?;
    remove_lock_files(&options.corpus);
    let files = corpus_entries(&options.corpus).map_err(io(&options.corpus))?;
    // Findings an earlier farm was killed while filing: the first job runs them first.
    let pending = super::harness::pending_inputs(&options.crashes);

    let seed = options.seed.unwrap_or_else(clock_seed);
    let deadline = options.duration.map(|d| Instant::now() + d);
    let status = match (options.status, std::io::stderr().is_terminal()) {
        (false, _) => StatusLine::Off,
        (true, true) => StatusLine::Live,
        (true, false) => StatusLine::Log,
    };
    let latest = Arc::new(Mutex::new(None));
    let origin = std::process::id();
    let tree = Arc::new(Tree::start(&options.node)?);
    let endpoint = match &options.metrics {
        Some(listen) => {
            let view = metrics::View { tree: tree.clone(), latest: latest.clone(), crashes: options.crashes.clone() };
            let endpoint = metrics::Endpoint::start(listen, view).map_err(|source| FuzzError::Listen {
                what: "--metrics",
                addr: listen.clone(),
                source,
            })?;
            eprintln!("metrics at http://{}/metrics", endpoint.addr());
            Some(endpoint)
        }
        None => None,
    };
    // Jobs stop early when this file appears (the first divergence, with stop_on_divergence).
    static FARMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = FARMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stop_file = std::env::temp_dir().join(format!("schism-farm-{origin}-{serial}.stop"));
    let _ = std::fs::remove_file(&stop_file);
    let starts = std::env::temp_dir().join(format!("schism-farm-{origin}-{serial}.starts"));
    let _ = std::fs::remove_dir_all(&starts);
    let make_monitor = || {
        let mut monitor = FarmMonitor::new(jobs, files.len(), options.stats.clone(), status, latest.clone());
        if options.stop_on_divergence {
            monitor.stop_on_divergence(stop_file.clone());
        }
        monitor.keep_up(upkeep::Upkeep::new(&options.crashes, options.keep_inputs));
        monitor
    };
    let (broker, port) = Broker::start_on_free_port(make_monitor, jobs, &tree, &options.crashes)?;
    let announcer = Announcer::start(tree.clone(), options.crashes.clone(), latest.clone());

    let watchdog = deadline.map(|d| Watchdog::start(origin, d + GRACE));
    let job = Job { options, files: &files, pending: &pending, deadline, seed, stop_file: &stop_file, starts: &starts, origin };
    let launched = catch_unwind(AssertUnwindSafe(|| {
        Launcher::builder()
            .shmem_provider(StdShMemProvider::new()?)
            .configuration(EventConfig::from_name(CONFIGURATION))
            // The broker runs in this process (see `Broker`); the Launcher only forks jobs.
            .spawn_broker(false)
            // A job's events keep what its restarter needs (and no fuzzing state): a job that
            // ends abruptly (its watchdog's abort after a hang, a crash in a client) is started
            // again, and reads the corpus folder afresh.
            .serialize_state(ShouldSaveState::OOMSafeNever)
            .monitor(NopMonitor::new())
            .run_client(|state: Option<FarmState>, mgr: FarmManager, client: ClientDescription| job::run_client(&job, state, mgr, client))
            .cores(&cores)
            .broker_port(port)
            .build()
            .launch()
    }));
    if std::process::id() != origin {
        // A job or its restarter whose part is over: returning would run the caller's code a
        // second time in this process.
        let clean = matches!(launched, Ok(Ok(()) | Err(libafl::Error::ShuttingDown)));
        std::process::exit(if clean { 0 } else { 1 });
    }
    let launch_error = match launched {
        Ok(Ok(()) | Err(libafl::Error::ShuttingDown)) => None,
        Ok(Err(e)) => Some(engine(e)),
        Err(_) => Some(FuzzError::Engine("launching the jobs panicked".to_owned())),
    };
    if launch_error.is_some() {
        // Jobs that never started would keep the broker waiting for them.
        interrupt(std::iter::once(origin as i32));
    }
    let broker_result = broker.join();
    let interrupted = watchdog.is_some_and(Watchdog::stop);
    // The watchdog stops a farm with the same signal as Ctrl-C.
    let signalled = matches!(broker_result, Ok(true)) && !interrupted;
    if let Some(announcer) = announcer {
        // What the jobs filed last goes to the parent before the farm returns.
        announcer.stop(&tree, Duration::from_secs(5));
    }
    if let Some(endpoint) = endpoint {
        endpoint.stop();
    }
    let _ = std::fs::remove_file(&stop_file);
    let _ = std::fs::remove_dir_all(&starts);
    if let Some(e) = launch_error {
        return Err(e);
    }
    broker_result?;
    let stats =
        latest.lock().ok().and_then(|mut l| l.take()).unwrap_or(FarmStats { jobs, resumed_from: files.len(), ..FarmStats::default() });
    Ok(FarmSummary {
        stats,
        seed,
        corpus: options.corpus.clone(),
        crashes: options.crashes.clone(),
        interrupted,
        signalled,
        node: tree.name.clone(),
        carried: tree.carried.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// The LLMP broker, on a thread of the caller's process: it relays the jobs' events and feeds
/// the monitor. It stops when every job has come and gone, or on SIGINT, SIGTERM or SIGQUIT
/// (Ctrl-C, a supervisor, the watchdog), which LLMP's handler turns into a shutdown; then it
/// interrupts every process left below it.
///
/// Not LibAFL's broker process: that one's restarter, the caller, would keep LibAFL's
/// restart variable in its environment, and a second farm in the same process would take
/// itself for a restarted one.
struct Broker {
    /// Says whether the broker was told to stop by a signal.
    thread: std::thread::JoinHandle<bool>,
}

impl Broker {
    /// Starts the broker on a port the system says is free; when another farm takes that port
    /// between the asking and the binding, tries another.
    fn start_on_free_port(
        make_monitor: impl Fn() -> FarmMonitor,
        jobs: usize,
        tree: &Arc<Tree>,
        crashes: &Path,
    ) -> Result<(Broker, u16), FuzzError> {
        const ATTEMPTS: usize = 8;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port().map_err(|source| FuzzError::Io { path: PathBuf::from("127.0.0.1"), source })?;
            match Broker::start(make_monitor(), port, jobs, tree.clone(), crashes.to_path_buf()) {
                Ok(broker) => return Ok((broker, port)),
                Err(libafl::Error::OsError(e, ..)) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < ATTEMPTS => {}
                Err(e) => return Err(engine(e)),
            }
        }
    }

    /// Binds `port` and starts brokering for `jobs` jobs; on a node of a farm across machines,
    /// with LibAFL's multi-machine hooks and the [`Intake`] of what the children carry.
    fn start(monitor: FarmMonitor, port: u16, jobs: usize, tree: Arc<Tree>, crashes: PathBuf) -> Result<Broker, libafl::Error> {
        let (ready, bound) = mpsc::channel::<Result<(), libafl::Error>>();
        let thread = std::thread::Builder::new()
            .name("schism-broker".to_owned())
            .spawn(move || {
                let hook = match StdLlmpEventHook::<Blueprint, FarmMonitor>::new(monitor) {
                    Ok(hook) => hook,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return false;
                    }
                };
                if !tree.networked() {
                    return serve(tuple_list!(hook), port, jobs, &ready);
                }
                // Built here: LibAFL's hooks run a Tokio runtime that must live in the thread
                // and process of the broker.
                match node::multi_machine_receiver(&tree) {
                    // The receiver first (what other machines sent joins this node's messages),
                    // the intake next (takes out what the farm carries itself), then the
                    // monitor, and the sender last: it sees only what the monitor forwards,
                    // the jobs' new corpus entries.
                    Ok(receiver) => {
                        let forward = Forward { fanout: tree.fanout.clone(), tree: tree.clone() };
                        serve(tuple_list!(receiver, Intake { crashes, tree }, hook, forward), port, jobs, &ready)
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        false
                    }
                }
            })
            .map_err(|e| libafl::Error::os_error(e, "cannot start the broker's thread"))?;
        match bound.recv() {
            Ok(Ok(())) => Ok(Broker { thread }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(libafl::Error::illegal_state("the broker stopped before it started")),
        }
    }

    /// Waits for the broker to stop; whether a signal stopped it.
    fn join(self) -> Result<bool, FuzzError> {
        self.thread.join().map_err(|_| FuzzError::Engine("the broker panicked".to_owned()))
    }
}

/// Runs the broker with `hooks` on `port` until every job has come and gone, or it is told to
/// stop (see [`Broker`]); says on `ready` whether it started. True when a signal stopped it.
fn serve<HT: LlmpHookTuple<StdShMem, StdShMemProvider>>(
    hooks: HT,
    port: u16,
    jobs: usize,
    ready: &mpsc::Sender<Result<(), libafl::Error>>,
) -> bool {
    let created = StdShMemProvider::new().and_then(|provider| LlmpBroker::create_attach_to_tcp(provider, hooks, port));
    let mut broker = match created {
        Ok(broker) => broker,
        Err(e) => {
            let _ = ready.send(Err(e));
            return false;
        }
    };
    if broker.is_shutting_down() {
        // LLMP's shutdown flag is process-wide and never cleared: a farm in this process was
        // interrupted (Ctrl-C, the watchdog), and this one would stop at once.
        let _ = ready.send(Err(libafl::Error::illegal_state("an earlier farm in this process was interrupted; start a new process")));
        return false;
    }
    if let Some(jobs) = NonZeroUsize::new(jobs) {
        broker.set_exit_after(jobs);
    }
    let _ = ready.send(Ok(()));
    broker.loop_with_timeouts(BROKER_TIMEOUT, Some(BROKER_NAP));
    // Told to stop (Ctrl-C, SIGTERM to this process alone, the watchdog) rather than left by
    // every job: whatever still runs below this process stops too. After a clean end the jobs
    // are left to exit by themselves, freeing their pages.
    if broker.has_clients() || broker.num_clients_seen().saturating_sub(broker.nb_listeners()) < jobs {
        interrupt(descendants(std::process::id()));
    }
    broker.is_shutting_down()
}

fn engine(e: libafl::Error) -> FuzzError {
    FuzzError::Engine(e.to_string())
}

/// The corpus folder's entries, sorted: files that are not hidden (LibAFL's lock and
/// half-written files are) and not empty.
pub(crate) fn corpus_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let meta = entry.metadata()?;
        if !hidden && meta.is_file() && meta.len() > 0 {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Removes the lock files earlier farms left beside their corpus entries (LibAFL's `.NAME`
/// beside `NAME`, a counter of a few bytes; farms no longer make them): only dot files whose
/// name without the dot is an entry's (`<16 hex digits>.json`) and that are that small.
fn remove_lock_files(corpus: &Path) {
    let Ok(entries) = std::fs::read_dir(corpus) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(entry_name) = name.strip_prefix('.') else { continue };
        let is_entry_name =
            entry_name.len() == 21 && entry_name.ends_with(".json") && entry_name[..16].bytes().all(|b| b.is_ascii_hexdigit());
        if is_entry_name && entry.metadata().is_ok_and(|m| m.is_file() && m.len() <= 20) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A local TCP port free right now, for the broker (so farms and tests can run side by side);
/// another process may take it before it is bound, so binders retry.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Interrupts every process of the farm if it is still running at a given time.
struct Watchdog {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    /// Starts watching the descendants of process `root` until `at`.
    fn start(root: u32, at: Instant) -> Watchdog {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let wait = at.saturating_duration_since(Instant::now());
            match stopped.recv_timeout(wait) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // SIGINT is the farm's own way to stop: jobs exit, restarters follow their
                    // jobs, the broker (in this process) shuts down.
                    interrupt(descendants(root).into_iter().chain([root as i32]));
                    true
                }
                _ => false,
            }
        });
        Watchdog { stop, thread }
    }

    /// Stops watching; whether it had to interrupt the farm.
    fn stop(self) -> bool {
        drop(self.stop);
        self.thread.join().unwrap_or(false)
    }
}

/// Sends SIGINT to each process.
fn interrupt(pids: impl IntoIterator<Item = i32>) {
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGINT);
    }
}

/// Every process below `root`, from `/proc` (empty where there is none).
fn descendants(root: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut parents: Vec<(i32, i32)> = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so read after the
        // last ')'.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)).and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found: Vec<i32> = Vec::new();
    let mut frontier = vec![root as i32];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_lock_files_go_and_entries_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        put("0123456789abcdef.json", "{\"pieces\":[]}");
        put(".0123456789abcdef.json", "1");
        put(".fedcba9876543210.json", "2");
        put(".notes.json", "a person's file");
        put(".0123456789abcdef.json.big", "1");
        remove_lock_files(dir.path());
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, [".0123456789abcdef.json.big", ".notes.json", "0123456789abcdef.json"]);
    }

    #[test]
    fn the_corpus_listing_skips_hidden_and_empty_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("b.json"), "{}").expect("write");
        std::fs::write(dir.path().join("a.json"), "{}").expect("write");
        std::fs::write(dir.path().join(".a.json"), "1").expect("write");
        std::fs::write(dir.path().join("empty"), "").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let names: Vec<_> = corpus_entries(dir.path()).expect("list").iter().map(|p| p.file_name().map(|n| n.to_owned())).collect();
        assert_eq!(names, vec![Some("a.json".into()), Some("b.json".into())]);
    }

    #[test]
    fn a_process_is_not_its_own_descendant() {
        let me = std::process::id();
        assert!(!descendants(me).contains(&(me as i32)));
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("spawn sleep");
        assert!(descendants(me).contains(&(child.id() as i32)));
        let _ = child.kill();
        let _ = child.wait();
    }
}
