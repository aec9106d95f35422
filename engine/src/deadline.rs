//! Deadlines for in-process clients: a client linked into schism cannot be killed like a
//! process, so each of its runs goes to a worker thread and the caller waits no longer than the
//! per-case timeout. A run past it is a `timeout` fault for that case and its thread is
//! abandoned (it ends when the client returns; the process does not wait for it at exit).
//! Abandoned threads are counted; a client with [`MAX_STUCK`] of them still running gets no
//! more work, so a hostile case repeated cannot take every core. The registry wraps every
//! in-process client in a [`Bounded`] (subprocess clients have their own deadline, with the
//! process killed).
//!
//! The hand-off to a worker costs the fuzzing path dearly (a thread switch per client per case,
//! and every result allocated on one thread and freed on another: measured, the observed
//! client's median run went from 157 µs to about 280 µs). So a process that can restart itself,
//! a farm's job, starts a [`Watchdog`] instead: while one lives, every [`Bounded`] client runs on
//! its caller's thread, each run's start noted, and the watchdog's thread calls its `on_hang`
//! once a run has gone past its client's deadline (the job files the input as a timeout when it
//! comes back, and ends; its restarter starts it again).

use crate::panel::guarded;
use schism_interface::alloy_primitives::U256;
use schism_interface::{
    BlockInput, BlockOutcome, Case, Client, ClientError, Fork, KnownDifference, NativeVerdict, Outcome, StepObserver, StepView, SystemCall,
    SystemOutcome, TraceFields, TraceMode,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The per-case timeout of in-process clients when `--timeout` is not given. Generous: the
/// heaviest conformance case (`CALLBlake2f_MaxRounds`) took levm more than 30 s in a full run
/// on a busy 2-core machine, which a deadline must not turn into a fault; a hang is still
/// bounded, and `--timeout` sets a tighter one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How many abandoned runs of one client may still be running before it gets no more work.
pub const MAX_STUCK: usize = 4;

/// Runs abandoned past their deadline that are still running, over every client.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// How many runs abandoned past their deadline are still running in this process.
pub fn stuck() -> usize {
    STUCK.load(Ordering::Relaxed)
}

/// Whether [`Bounded`] clients run on their caller's thread: exactly while a [`Watchdog`] lives.
static DIRECT: AtomicBool = AtomicBool::new(false);

/// The runs under way on callers' threads while a [`Watchdog`] lives, one per thread.
static RUNNING: Mutex<Vec<Running>> = Mutex::new(Vec::new());

/// One run on its caller's thread, as the watchdog sees it.
struct Running {
    thread: std::thread::ThreadId,
    client: Arc<str>,
    since: Instant,
    timeout: Duration,
}

/// A run the [`Watchdog`] found past its client's deadline.
#[derive(Clone, Debug)]
pub struct Hang {
    /// The client's id.
    pub client: Arc<str>,
    /// The client's deadline.
    pub timeout: Duration,
    /// How long the run had taken when the watchdog looked.
    pub elapsed: Duration,
}

/// Notes a run on the caller's thread for the watchdog; the note goes when this is dropped
/// (also when the client panics).
struct Clock;

impl Clock {
    fn start(client: &Arc<str>, timeout: Duration) -> Clock {
        if let Ok(mut running) = RUNNING.lock() {
            let thread = std::thread::current().id();
            running.retain(|r| r.thread != thread);
            running.push(Running { thread, client: client.clone(), since: Instant::now(), timeout });
        }
        Clock
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if let Ok(mut running) = RUNNING.lock() {
            let thread = std::thread::current().id();
            running.retain(|r| r.thread != thread);
        }
    }
}

/// How often the watchdog looks at the runs under way.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Watches in-process runs on their callers' threads: while it lives, [`Bounded`] clients hand
/// no run to a worker, and a run past its client's deadline is reported to `on_hang` (once, on
/// the watchdog's own thread; the stuck thread cannot be stopped, so `on_hang` should keep what
/// it needs and end the process). One at a time per process.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching; `None` when a watchdog already lives or its thread cannot start.
    pub fn start(on_hang: impl FnOnce(Hang) + Send + 'static) -> Option<Watchdog> {
        if DIRECT.swap(true, Ordering::SeqCst) {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("schism-watchdog".to_owned()).spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(WATCH_EVERY);
                let now = Instant::now();
                let hang = RUNNING.lock().ok().and_then(|running| {
                    running.iter().find(|r| now.duration_since(r.since) > r.timeout).map(|r| Hang {
                        client: r.client.clone(),
                        timeout: r.timeout,
                        elapsed: now.duration_since(r.since),
                    })
                });
                if let Some(hang) = hang {
                    on_hang(hang);
                    return;
                }
            }
        });
        match thread {
            Ok(thread) => Some(Watchdog { stop, thread: Some(thread) }),
            Err(_) => {
                DIRECT.store(false, Ordering::SeqCst);
                None
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        DIRECT.store(false, Ordering::SeqCst);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One run handed to a worker.
type Job = Box<dyn FnOnce() + Send>;

/// A worker thread waiting for runs.
struct Worker {
    jobs: Sender<Job>,
}

impl Worker {
    fn spawn() -> Option<Worker> {
        let (jobs, rx): (Sender<Job>, Receiver<Job>) = channel();
        std::thread::Builder::new()
            .name("schism-client".to_owned())
            .spawn(move || {
                // Ends when its handle is dropped: after a run it was abandoned in, or with the
                // client.
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .ok()?;
        Some(Worker { jobs })
    }
}

/// Where a run's result meets its caller.
enum Slot<T> {
    /// Not finished, the caller waiting.
    Waiting,
    /// Finished in time.
    Done(T),
    /// The caller gave up on it.
    Abandoned,
}

/// An in-process client whose every run has a deadline.
pub struct Bounded {
    inner: Arc<dyn Client>,
    /// The client's id, shared with the watchdog's notes.
    id: Arc<str>,
    timeout: Duration,
    idle: Mutex<Vec<Worker>>,
    /// This client's abandoned runs still running.
    stuck: Arc<AtomicUsize>,
}

impl Bounded {
    /// `inner` with runs bounded by `timeout`.
    pub fn new(inner: Arc<dyn Client>, timeout: Duration) -> Bounded {
        let id = Arc::from(inner.id());
        Bounded { inner, id, timeout, idle: Mutex::new(Vec::new()), stuck: Arc::new(AtomicUsize::new(0)) }
    }

    /// Runs `work` on the caller's thread when a [`Watchdog`] watches (`None` otherwise): no
    /// copy of the input, no hand-off.
    fn direct<T>(&self, work: impl FnOnce(&dyn Client) -> Result<T, ClientError>) -> Option<Result<T, ClientError>> {
        if !DIRECT.load(Ordering::Relaxed) {
            return None;
        }
        let _clock = Clock::start(&self.id, self.timeout);
        Some(guarded(&self.id, || work(self.inner.as_ref())))
    }

    /// An observed call of the client on `input`: directly, the steps going to `observer` as
    /// they happen, or on a worker thread that records them, replayed into `observer` after.
    fn observed<I: Clone + Send + 'static, T: Send + 'static>(
        &self,
        input: &I,
        observer: &mut dyn StepObserver,
        call: fn(&dyn Client, &I, &mut dyn StepObserver) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        if let Some(result) = self.direct(|client| call(client, input, &mut *observer)) {
            return result;
        }
        let input = input.clone();
        let (output, recording) = self.run(move |client| {
            let mut recording = Recording::default();
            call(client, &input, &mut recording).map(|output| (output, recording))
        })?;
        recording.replay(observer);
        Ok(output)
    }

    /// Runs `work` on the client on a worker thread, waiting at most the timeout.
    fn run<T: Send + 'static>(&self, work: impl FnOnce(&dyn Client) -> Result<T, ClientError> + Send + 'static) -> Result<T, ClientError> {
        let id = self.inner.id().to_owned();
        let stuck = self.stuck.load(Ordering::Relaxed);
        if stuck >= MAX_STUCK {
            return Err(ClientError::Execution {
                client: id,
                detail: format!("{stuck} earlier runs are still running past their deadline of {:?}; no more are started", self.timeout),
            });
        }
        let worker = self.idle.lock().ok().and_then(|mut idle| idle.pop()).or_else(Worker::spawn);
        let Some(worker) = worker else {
            return Err(ClientError::Execution { client: id, detail: "cannot start a worker thread".to_owned() });
        };
        let slot = Arc::new((Mutex::new(Slot::Waiting), Condvar::new()));
        let job: Job = {
            let (slot, inner, stuck, id) = (slot.clone(), self.inner.clone(), self.stuck.clone(), id.clone());
            // The run treats state roots as its caller does (deferred, remembered: see
            // `schism_interface::state`), though on another thread.
            let roots = schism_interface::state::roots_here();
            Box::new(move || {
                let result = schism_interface::state::with_roots_as(roots, || guarded(&id, || work(inner.as_ref())));
                let (lock, ready) = &*slot;
                let Ok(mut state) = lock.lock() else { return };
                if matches!(*state, Slot::Abandoned) {
                    stuck.fetch_sub(1, Ordering::Relaxed);
                    STUCK.fetch_sub(1, Ordering::Relaxed);
                } else {
                    *state = Slot::Done(result);
                    ready.notify_one();
                }
            })
        };
        if worker.jobs.send(job).is_err() {
            return Err(ClientError::Execution { client: id, detail: "the worker thread is gone".to_owned() });
        }
        let deadline = Instant::now() + self.timeout;
        let (lock, ready) = &*slot;
        let Ok(mut state) = lock.lock() else {
            return Err(ClientError::Execution { client: id, detail: "a run's result was lost".to_owned() });
        };
        loop {
            // Only the worker moves the slot on from Waiting while the caller waits.
            if let Slot::Done(result) = std::mem::replace(&mut *state, Slot::Waiting) {
                drop(state);
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(worker);
                }
                return result;
            }
            let now = Instant::now();
            if now >= deadline {
                // Under the lock: the worker either finished before (Done, above) or will see
                // the abandonment and uncount it.
                *state = Slot::Abandoned;
                self.stuck.fetch_add(1, Ordering::Relaxed);
                STUCK.fetch_add(1, Ordering::Relaxed);
                return Err(ClientError::Timeout { client: id, after: self.timeout });
            }
            state = match ready.wait_timeout(state, deadline - now) {
                Ok((s, _)) => s,
                Err(_) => return Err(ClientError::Execution { client: id, detail: "a run's result was lost".to_owned() }),
            };
        }
    }
}

/// Steps recorded on a worker thread, replayed to the caller's observer afterwards (the
/// observer belongs to the caller's thread).
#[derive(Default)]
struct Recording {
    steps: Vec<(u64, u8, u32, u64, u64, usize)>,
    stacks: Vec<U256>,
}

impl StepObserver for Recording {
    fn step(&mut self, step: StepView<'_>) {
        self.stacks.extend_from_slice(step.stack);
        self.steps.push((step.pc, step.op, step.depth, step.gas, step.refund, self.stacks.len()));
    }
}

impl Recording {
    fn replay(&self, observer: &mut dyn StepObserver) {
        let mut start = 0;
        for &(pc, op, depth, gas, refund, end) in &self.steps {
            observer.step(StepView { pc, op, depth, gas, refund, stack: self.stacks.get(start..end).unwrap_or_default() });
            start = end;
        }
    }
}

impl Client for Bounded {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn version(&self) -> &str {
        self.inner.version()
    }

    fn supports(&self, fork: Fork) -> bool {
        self.inner.supports(fork)
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        if let Some(result) = self.direct(|client| client.execute(case, mode)) {
            return result;
        }
        let case = case.clone();
        self.run(move |client| client.execute(&case, mode))
    }

    fn execute_observed(&self, case: &Case, observer: &mut dyn StepObserver) -> Result<Outcome, ClientError> {
        self.observed(case, observer, |client, case, observer| client.execute_observed(case, observer))
    }

    fn observes_cheaply(&self) -> bool {
        self.inner.observes_cheaply()
    }

    fn trace_fields(&self) -> TraceFields {
        self.inner.trace_fields()
    }

    fn execute_block(&self, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
        if let Some(result) = self.direct(|client| client.execute_block(block, mode)) {
            return result;
        }
        let block = block.clone();
        self.run(move |client| client.execute_block(&block, mode))
    }

    fn execute_block_observed(&self, block: &BlockInput, observer: &mut dyn StepObserver) -> Result<BlockOutcome, ClientError> {
        self.observed(block, observer, |client, block, observer| client.execute_block_observed(block, observer))
    }

    fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        if let Some(result) = self.direct(|client| client.system_call(call)) {
            return result;
        }
        let (block, state, contract, data) = (call.block.clone(), call.state.clone(), call.contract, call.data.to_vec());
        self.run(move |client| client.system_call(&SystemCall { block: &block, state: &state, contract, data: &data }))
    }

    fn block_skip(&self, fork: Fork) -> Option<&'static str> {
        self.inner.block_skip(fork)
    }

    fn run_blockchain_file(&self, path: &std::path::Path) -> Option<Result<Vec<NativeVerdict>, ClientError>> {
        self.inner.run_blockchain_file(path)
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        self.inner.known_differences()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A client that sleeps for the case's gas limit in milliseconds, or panics on gas 13.
    struct Sleepy;

    impl Client for Sleepy {
        fn id(&self) -> &str {
            "sleepy"
        }
        fn version(&self) -> &str {
            "0"
        }
        fn supports(&self, _: Fork) -> bool {
            true
        }
        fn execute(&self, case: &Case, _: TraceMode) -> Result<Outcome, ClientError> {
            assert_ne!(case.tx.gas_limit, 13, "unlucky");
            std::thread::sleep(Duration::from_millis(case.tx.gas_limit));
            Ok(Outcome::root_only(Default::default(), None))
        }
    }

    fn case(gas: u64) -> Case {
        let path = std::path::Path::new("value-transfer.json");
        let bytes = include_bytes!("bench/value-transfer.json");
        let Ok(schism_interface::load::FixtureFile::State(file)) = schism_interface::load::parse_fixture(path, bytes) else {
            panic!("a state test")
        };
        let mut case = schism_interface::load::expand_file(path, &file).0.remove(0);
        case.tx.gas_limit = gas;
        case
    }

    /// The tests here switch the process between worker and direct runs: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A client that answers with the thread it ran on, in its post-state root's first bytes.
    struct WhereAmI;

    impl Client for WhereAmI {
        fn id(&self) -> &str {
            "where-am-i"
        }
        fn version(&self) -> &str {
            "0"
        }
        fn supports(&self, _: Fork) -> bool {
            true
        }
        fn execute(&self, _: &Case, _: TraceMode) -> Result<Outcome, ClientError> {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::thread::current().id().hash(&mut hasher);
            let mut root = [0u8; 32];
            root[..8].copy_from_slice(&hasher.finish().to_be_bytes());
            Ok(Outcome::root_only(root.into(), None))
        }
    }

    #[test]
    fn with_a_watchdog_runs_stay_on_the_callers_thread_and_a_hang_is_reported() {
        let _serial = serial();
        let here = Bounded::new(Arc::new(WhereAmI), Duration::from_secs(1));
        let root = |c: &Bounded| c.execute(&case(1), TraceMode::Off).expect("runs").state_root;
        let on_worker = root(&here);
        let (tx, rx) = channel();
        let watchdog = Watchdog::start(move |hang| {
            let _ = tx.send(hang);
        })
        .expect("starts");
        assert!(Watchdog::start(|_| {}).is_none(), "one watchdog per process");
        let on_caller = root(&here);
        assert_ne!(on_worker, on_caller, "no hand-off while the watchdog lives");
        assert_eq!(on_caller, root(&here), "always the caller's thread");
        // A run past its deadline is reported while it runs; it is not stopped, and returns.
        let slow = Bounded::new(Arc::new(Sleepy), Duration::from_millis(200));
        let started = Instant::now();
        assert!(slow.execute(&case(900), TraceMode::Off).is_ok(), "the run itself goes on");
        let hang = rx.recv_timeout(Duration::from_secs(5)).expect("reported");
        assert_eq!(&*hang.client, "sleepy");
        assert!(hang.elapsed > Duration::from_millis(200) && hang.elapsed < started.elapsed(), "{hang:?}");
        // A panic on the caller's thread is a fault, as on a worker.
        assert!(matches!(slow.execute(&case(13), TraceMode::Off), Err(ClientError::Panicked { .. })));
        assert_eq!(slow.stuck.load(Ordering::Relaxed), 0, "nothing abandoned");
        drop(watchdog);
        assert_eq!(root(&here), on_worker, "back to the worker once the watchdog is gone");
    }

    #[test]
    fn a_run_past_the_deadline_is_a_timeout_and_the_next_runs_go_on() {
        let _serial = serial();
        let client = Bounded::new(Arc::new(Sleepy), Duration::from_secs(1));
        let started = Instant::now();
        let r = client.execute(&case(5_000), TraceMode::Off);
        assert!(matches!(r, Err(ClientError::Timeout { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(client.stuck.load(Ordering::Relaxed), 1);
        assert!(client.execute(&case(1), TraceMode::Off).is_ok(), "a later case runs");
        let r = client.execute(&case(13), TraceMode::Off);
        assert!(matches!(r, Err(ClientError::Panicked { .. })), "{r:?}");
        assert!(client.execute(&case(1), TraceMode::Off).is_ok(), "and after a panic too");
    }

    #[test]
    fn too_many_stuck_runs_stop_the_client() {
        let _serial = serial();
        let client = Bounded::new(Arc::new(Sleepy), Duration::from_millis(20));
        for _ in 0..MAX_STUCK {
            assert!(matches!(client.execute(&case(3_000), TraceMode::Off), Err(ClientError::Timeout { .. })));
        }
        let r = client.execute(&case(1), TraceMode::Off);
        assert!(matches!(&r, Err(ClientError::Execution { detail, .. }) if detail.contains("still running")), "{r:?}");
    }

    #[test]
    fn observed_steps_reach_the_callers_observer() {
        struct Count(usize, usize);
        impl StepObserver for Count {
            fn step(&mut self, step: StepView<'_>) {
                self.0 += 1;
                self.1 += step.stack.len();
            }
        }
        let mut recording = Recording::default();
        recording.step(StepView { pc: 0, op: 0x60, depth: 1, gas: 10, refund: 0, stack: &[] });
        recording.step(StepView { pc: 2, op: 0x60, depth: 1, gas: 7, refund: 0, stack: &[U256::from(1)] });
        recording.step(StepView { pc: 4, op: 0x01, depth: 1, gas: 4, refund: 0, stack: &[U256::from(1), U256::from(2)] });
        let mut count = Count(0, 0);
        recording.replay(&mut count);
        assert_eq!((count.0, count.1), (3, 3));
    }
}
