//! schism's subprocess clients: EVMs that live in other programs (geth's `evm`, the Python
//! execution specs, EthereumJS, evmone, besu, nethermind, erigon, nimbus), behind the same
//! [`Client`] contract as the in-process ones.
//!
//! The process handling is written once ([`process`]): a long-lived child per worker fed state
//! test files over stdin where the tool has a batch mode, several cases in flight when given a
//! batch ([`pipeline`]), one process per case where it has not; a per-case deadline that kills and restarts the child; a crash or garbage output turned
//! into a [`ClientError`] carrying the exit status, stderr tail or offending line. Each tool
//! ([`tools`]) only says how it is started and how its output reads, with the tolerant parsing
//! of [`parse`].

pub mod parse;
pub mod pipeline;
pub mod process;
pub mod reasons;
pub mod t8n;
pub mod tools;

use process::{Fault, Launch, Process};
use schism_interface::{BlockInput, BlockOutcome, Case, Client, ClientError, Fork, KnownDifference, NativeVerdict, Outcome, TraceMode};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use tools::Tool;

/// The per-case timeout when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a tool takes its cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// A long-lived child reads state-test file paths on stdin, one per line.
    Batch,
    /// One process per case, the file path as the last argument.
    PerCase,
}

/// Settings of a subprocess client.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The label in reports (`geth`, or `geth@/path` when two builds are compared).
    pub label: String,
    /// Where the tool is: its binary, or the interpreter / folder the tool says.
    pub location: PathBuf,
    /// Per-case timeout; `None` for the tool's default.
    pub timeout: Option<Duration>,
}

/// A subprocess client: a [`Tool`] at a location, with a pool of running children.
pub struct External {
    tool: &'static dyn Tool,
    label: String,
    location: PathBuf,
    version: String,
    timeout: Duration,
    idle: Mutex<Vec<(TraceMode, Process)>>,
    /// Idle children of a served transition tool ([`t8n::T8nFeed::Served`]).
    idle_blocks: Mutex<Vec<Process>>,
    dir: tempfile::TempDir,
    counter: AtomicU64,
    /// Case files whose case is over, rewritten for later cases: creating and deleting a file
    /// per case costs more than the case itself on some file systems (ext4 searches past its
    /// recently deleted inodes).
    spare: Mutex<Vec<PathBuf>>,
}

/// Why a subprocess client cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The tool is not at the location.
    #[error("{tool}: not found at {}{hint}", location.display())]
    Missing {
        /// The tool's id.
        tool: &'static str,
        /// Where it was looked for.
        location: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// The tool is there but did not say its version.
    #[error("{tool}: `{command}` does not run: {reason}")]
    Broken {
        /// The tool's id.
        tool: &'static str,
        /// The version command.
        command: String,
        /// What went wrong.
        reason: String,
    },
    /// No folder for case files.
    #[error("cannot create a temporary folder for case files: {0}")]
    TempDir(#[from] std::io::Error),
}

impl External {
    /// Sets up `tool` at `settings.location`: checks it runs and reads its version.
    pub fn new(tool: &'static dyn Tool, settings: Settings) -> Result<External, SetupError> {
        if !settings.location.exists() {
            return Err(SetupError::Missing { tool: tool.id(), location: settings.location, hint: tool.install_hint() });
        }
        let version = version_of(tool, &settings.location, settings.timeout.map_or(VERSION_DEADLINE, |t| t.min(VERSION_DEADLINE)))?;
        Ok(External {
            tool,
            label: settings.label,
            timeout: settings.timeout.unwrap_or_else(|| tool.default_timeout()),
            location: settings.location,
            version,
            idle: Mutex::new(Vec::new()),
            idle_blocks: Mutex::new(Vec::new()),
            dir: {
                remove_stale_case_folders();
                tempfile::Builder::new().prefix(&format!("{CASES_PREFIX}{}-", std::process::id())).tempdir()?
            },
            counter: AtomicU64::new(0),
            spare: Mutex::new(Vec::new()),
        })
    }

    /// Where the tool is.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// The tool.
    pub fn tool(&self) -> &'static dyn Tool {
        self.tool
    }

    /// The command that runs `case_file` with the tool itself, for reproduction notes.
    pub fn command_for(&self, case_file: &Path, mode: TraceMode) -> String {
        let launch = self.tool.launch(&self.location, mode);
        match self.tool.feed() {
            Feed::PerCase => launch.arg(case_file).display(),
            Feed::Batch => format!("echo {} | {}", case_file.display(), launch.display()),
        }
    }

    /// Writes `case` as a single-case state-test file in the tool's spelling: a spare file
    /// rewritten, or a new one. Once the case is over, the file goes to [`External::done_with`].
    fn write_case(&self, case: &Case) -> Result<PathBuf, ClientError> {
        let text = tools::single_file(self.tool, case).map_err(|e| self.error(Fault::Tool(format!("cannot serialise the case: {e}"))))?;
        self.write_text(&text)
    }

    /// Writes a case file's text to a spare file of the case folder (or a new one).
    fn write_text(&self, text: &[u8]) -> Result<PathBuf, ClientError> {
        let path = self.spare.lock().ok().and_then(|mut spare| spare.pop()).unwrap_or_else(|| {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            self.dir.path().join(format!("case-{n}.json"))
        });
        let written = overwrite(&path, text).or_else(|e| {
            // The case folder vanished (a cleaner of /tmp, a careless `rm`): made again, so that
            // one missing folder is not taken for a fault of every later case.
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(e);
            }
            std::fs::create_dir_all(self.dir.path())?;
            overwrite(&path, text)
        });
        written.map_err(|e| self.error(Fault::Tool(format!("cannot write {}: {e}", path.display()))))?;
        Ok(path)
    }

    /// Takes back the file of a case that is over (no process of the tool reads it any more).
    fn done_with(&self, path: PathBuf) {
        match self.spare.lock() {
            Ok(mut spare) => spare.push(path),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Why `case` cannot be given to the tool at all, if it cannot.
    fn admit(&self, case: &Case) -> Result<(), ClientError> {
        if !self.supports(case.fork) {
            return Err(ClientError::UnsupportedFork { client: self.label.clone(), fork: case.fork });
        }
        match self.tool.unrepresentable(case) {
            Some(what) => Err(ClientError::Unrepresentable { client: self.label.clone(), what }),
            None => Ok(()),
        }
    }

    /// Runs one case file through a fresh child of a per-case tool.
    fn run_file(&self, case: &Case, path: &Path, mode: TraceMode) -> Result<Outcome, Fault> {
        let deadline = Instant::now() + self.timeout;
        let launch = self.tool.launch(&self.location, mode).arg(path);
        let mut child = Process::spawn(&launch, self.tool.stderr_is_output())?;
        child.close_stdin();
        self.tool.read(&mut child, case, mode, deadline)
    }

    /// An idle child of a batch tool started in `mode`, if there is one.
    fn pooled(&self, mode: TraceMode) -> Option<Process> {
        let mut idle = self.idle.lock().ok()?;
        let at = idle.iter().position(|(m, _)| *m == mode)?;
        Some(idle.swap_remove(at).1)
    }

    /// Keeps a child that answered every case it was sent for the next batch. (A faulted one is
    /// dropped, which kills it, and the next case starts a fresh one.)
    fn give_back(&self, mode: TraceMode, child: Process) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((mode, child));
        }
    }

    /// Runs one block through the tool's transition tool in a folder of its own.
    fn run_block(&self, spec: &t8n::T8n, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.path().join(format!("block-{n}"));
        std::fs::create_dir_all(&dir).map_err(|e| self.error(Fault::Tool(format!("cannot create {}: {e}", dir.display()))))?;
        let result = match t8n::write_inputs(spec, block, &dir) {
            Ok(()) => {
                let command = t8n::command(spec, block, &dir, mode);
                let ran = match spec.feed {
                    // One process per block: interpreters load their modules every time.
                    t8n::T8nFeed::PerBlock => t8n::run(&command, Instant::now() + self.timeout + self.tool.startup_grace()),
                    t8n::T8nFeed::Served => self.serve_block(spec, &command),
                };
                ran.and_then(|()| t8n::read_outputs(block, &spec.dialect, &dir, mode)).map_err(|f| self.error(f))
            }
            Err(t8n::Unwritable::Unrepresentable(what)) => Err(ClientError::Unrepresentable { client: self.label.clone(), what }),
            Err(other) => Err(self.error(Fault::Tool(other.to_string()))),
        };
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// Gives one block (`command`, the flags of a [`t8n::command`]) to an idle served child, or a
    /// fresh one with the start-up grace. A child that answered, even with a fault of its own,
    /// is kept; one that did not is dropped, which kills it.
    fn serve_block(&self, spec: &t8n::T8n, command: &Launch) -> Result<(), Fault> {
        let idle = self.idle_blocks.lock().ok().and_then(|mut idle| idle.pop());
        let (mut child, grace) = match idle {
            Some(child) => (child, Duration::ZERO),
            None => (Process::spawn(&spec.launch, false)?, self.tool.startup_grace()),
        };
        let result = t8n::serve(&mut child, &t8n::served_line(spec, command), Instant::now() + self.timeout + grace);
        if matches!(result, Ok(()) | Err(Fault::Tool(_)))
            && let Ok(mut idle) = self.idle_blocks.lock()
        {
            idle.push(child);
        }
        result
    }

    /// Runs the tool's blockchain-test runner on one file and reads its verdicts. The
    /// per-case timeout applies to the whole file.
    fn run_blocktest(&self, launch: &Launch) -> Result<Vec<NativeVerdict>, Fault> {
        let deadline = Instant::now() + self.timeout + self.tool.startup_grace();
        let mut child = Process::spawn(launch, false)?;
        child.close_stdin();
        tools::read_blocktest(self.tool, &mut child, deadline)
    }

    fn error(&self, fault: Fault) -> ClientError {
        let client = self.label.clone();
        match fault {
            Fault::Timeout(_) => ClientError::Timeout { client, after: self.timeout },
            Fault::Ended { status, stderr_tail } => ClientError::Crashed { client, status, stderr_tail },
            Fault::Malformed { line, reason } => ClientError::MalformedOutput { client, line, reason },
            Fault::TooLarge { what, limit } => ClientError::OutputTooLarge { client, what, limit },
            Fault::Spawn { .. } | Fault::Tool(_) => ClientError::Execution { client, detail: fault.to_string() },
        }
    }
}

impl Client for External {
    fn id(&self) -> &str {
        &self.label
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn supports(&self, fork: Fork) -> bool {
        self.tool.supports(fork)
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        if self.tool.feed() == Feed::Batch {
            let mut result = None;
            self.pipeline(&[case], mode, &mut |_, r| result = Some(r));
            return result.unwrap_or_else(|| Err(self.error(Fault::Tool("the pipeline gave no result".to_owned()))));
        }
        self.admit(case)?;
        let path = self.write_case(case)?;
        // The child is gone when run_file returns (dropped, so killed if it was still there).
        let result = self.run_file(case, &path, mode);
        self.done_with(path);
        result.map_err(|f| self.error(f))
    }

    fn execute_batch(&self, cases: &[&Case], mode: TraceMode, done: &mut dyn FnMut(usize, Result<Outcome, ClientError>)) {
        match self.tool.feed() {
            Feed::Batch => self.pipeline(cases, mode, done),
            // One process per case: nothing to keep in flight.
            Feed::PerCase => {
                for (i, case) in cases.iter().enumerate() {
                    done(i, self.execute(case, mode));
                }
            }
        }
    }

    fn pipelines(&self) -> bool {
        self.tool.feed() == Feed::Batch
    }

    fn prepare(&self) {
        // A batch tool's child, started for the untraced cases to come (its runtime's start-up
        // then overlaps the caller's reading of the fixtures); a failure to start shows again,
        // as the fault of the first case.
        if self.tool.feed() == Feed::Batch
            && self.idle.lock().is_ok_and(|idle| idle.is_empty())
            && let Ok(child) = Process::spawn(&self.tool.launch(&self.location, TraceMode::Off), self.tool.stderr_is_output())
        {
            self.give_back(TraceMode::Off, child);
        }
    }

    fn execute_block(&self, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
        if !self.supports(block.fork) {
            return Err(ClientError::UnsupportedFork { client: self.label.clone(), fork: block.fork });
        }
        // Never the per-transaction default: it needs system calls a subprocess cannot make.
        let Some(spec) = self.tool.t8n(&self.location) else {
            return Err(ClientError::Unrepresentable { client: self.label.clone(), what: self.tool.no_t8n() });
        };
        if let Some(what) = self.tool.t8n_unrepresentable(block) {
            return Err(ClientError::Unrepresentable { client: self.label.clone(), what });
        }
        self.run_block(&spec, block, mode)
    }

    fn block_skip(&self, fork: Fork) -> Option<&'static str> {
        if self.tool.t8n(&self.location).is_none() {
            Some(self.tool.no_t8n())
        } else if !self.supports(fork) {
            Some("the tool does not implement this fork")
        } else {
            None
        }
    }

    fn run_blockchain_file(&self, path: &Path) -> Option<Result<Vec<NativeVerdict>, ClientError>> {
        let launch = self.tool.blocktest(&self.location)?.arg(path);
        Some(self.run_blocktest(&launch).map_err(|f| self.error(f)))
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        self.tool.known_differences()
    }

    fn trace_fields(&self) -> schism_interface::TraceFields {
        self.tool.trace_fields()
    }
}

/// Writes `text` over the file at `path`, created if missing. An existing file is written in
/// place and then cut to length, never truncated to nothing first: ext4 flushes a file truncated
/// to zero and rewritten when it is closed (`auto_da_alloc`), a disk write per case.
fn overwrite(path: &Path, text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)?;
    file.write_all(text)?;
    file.set_len(text.len() as u64)
}

/// The name before the process id of the temporary folder of a client's case files.
const CASES_PREFIX: &str = "schism-cases-";

/// Removes the case folders (`schism-cases-<pid>-*`) and EELS runner folders
/// (`schism-eels-runner-<pid>`) of schism processes that are gone: a run killed by a signal
/// leaves them behind.
fn remove_stale_case_folders() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(CASES_PREFIX).or_else(|| name.strip_prefix("schism-eels-runner-")) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
        let gone = matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH));
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// How long a version probe may take at most (less when the per-case timeout is shorter).
const VERSION_DEADLINE: Duration = Duration::from_secs(20);

/// Runs the tool's version command, under a deadline, and reads the version from its output
/// (standard output, then the tail of standard error).
fn version_of(tool: &'static dyn Tool, location: &Path, within: Duration) -> Result<String, SetupError> {
    let launch: Launch = tool.version_launch(location);
    let broken = |reason: String| SetupError::Broken { tool: tool.id(), command: launch.display(), reason };
    let mut child = Process::spawn(&launch, false).map_err(|e| broken(e.to_string()))?;
    let (stdout, status) = child.finish(Instant::now() + within).map_err(|e| broken(e.to_string()))?;
    // A version on standard output is read at once; waiting for the stderr pump to flush
    // (`final_stderr_tail`) cost every run a fixed 20 ms.
    if status.success()
        && let Some(version) = tool.parse_version(&stdout)
    {
        return Ok(version);
    }
    let text = format!("{stdout}{}", child.final_stderr_tail());
    if !status.success() {
        return Err(broken(format!("{}: {}", process::describe(status), process::clip(text.trim()))));
    }
    tool.parse_version(&text).ok_or_else(|| broken(format!("no version in `{}`", process::clip(text.trim()))))
}
