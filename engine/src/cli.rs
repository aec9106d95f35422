//! The command line: parses arguments into validated options, calls the library, and maps the
//! result to an exit code (0 pass/agree, 1 failure/divergence found, 2 usage or input error).
//!
//! Each subcommand is a module of its own with its `Args` and a `run` that returns a [`Finish`]
//! or a [`CliError`]; [`main_with`] is the one place either becomes an exit code and an error
//! is printed.

pub mod bench;
pub mod clients;
pub mod corpus;
pub mod fuzz;
pub mod install;
pub mod minimize;
pub mod promote;
pub mod repro;
pub mod run;
pub mod selftest;
pub mod serve;

use crate::registry::{self, ClientOptions};
use clap::{Parser, Subcommand};
use schism_interface::Client;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// schism: differential fuzzer and cross-client comparison engine for EVMs.
#[derive(Debug, Parser)]
#[command(name = "schism", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run fixture files on clients: check each client against the fixtures and the clients
    /// against each other.
    Run(run::Args),
    /// List every known client: availability, kind, path, version and forks.
    Clients,
    /// Measure clients on the benchmark workloads: Mgas/s and cases/s per client and workload.
    Bench(bench::Args),
    /// Install subprocess clients (geth, eels, ethereumjs, pyevm or all) into the project's tools
    /// folder, at pinned versions.
    Install(install::Args),
    /// Fuzz the clients against each other: a LibAFL farm of `--jobs` processes, a corpus that
    /// persists between runs, each divergence filed in the crashes folder.
    Fuzz(fuzz::Args),
    /// Check that the farm finds bugs: fuzz healthy revm against builds of revm with one
    /// planted bug each (canary mutants), or with `--real` against client releases that
    /// shipped known bugs, and report which were found and how fast.
    Selftest(selftest::Args),
    /// Shrink a divergent case to the smallest that still shows the same divergence (same
    /// signature) and write it beside the input as `<name>.min.json`.
    Minimize(minimize::Args),
    /// Replay a filed folder or a case file: print the verdict, the first differing trace step
    /// and the post-state differences. Exit 1 while the divergence reproduces, 0 when all agree.
    Repro(repro::Args),
    /// Turn a filed finding into a filled regression fixture in corpus/regressions/, replayed
    /// by `cargo test` through every in-process client.
    Promote(promote::Args),
    /// Serve a read-only web view of a crashes folder: findings, each finding's traces,
    /// post-state differences and reproduce commands, and the farm's statistics over time.
    Serve(serve::Args),
    /// Upkeep of a farm's corpus folder: `schism corpus minimize` keeps the smallest set of
    /// entries covering the same features.
    Corpus(corpus::Args),
}

/// How a command that ran to its end came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Everything passed or agreed (exit 0).
    Clean,
    /// A failure, divergence or fault was found and reported (exit 1).
    Problems,
    /// Some inputs could not be read; the output already lists them (exit 2, nothing more said).
    InputErrors,
    /// A signal (Ctrl-C, SIGTERM) stopped a suite before it finished; what finished is
    /// reported (exit 130, as a shell reports Ctrl-C).
    Interrupted,
}

impl Finish {
    /// `Problems` when `found`, else `Clean`.
    pub fn found(found: bool) -> Finish {
        if found { Finish::Problems } else { Finish::Clean }
    }
}

/// A usage or input error: the command could not do what it was asked (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// No `--client` was given and this build has no in-process client to default to.
    #[error("no client selected and this build has no in-process client")]
    NoClient,
    /// A `--client` value cannot be honoured.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// `ID#again` (a client compared with itself) was asked for without `ID`.
    #[error("`{label}` compares `{base}` with itself, but `{base}` is not selected")]
    AgainWithoutBase {
        /// The label given.
        label: String,
        /// The client it repeats.
        base: String,
    },
    /// A fixture run could not start.
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
    /// A benchmark could not run or its plot could not be drawn.
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    /// Fuzzing (or the self-test) could not start or go on.
    #[error(transparent)]
    Fuzz(#[from] crate::fuzz::FuzzError),
    /// The rediscovery suite (`schism selftest --real`) could not start or go on.
    #[error(transparent)]
    Rediscover(#[from] crate::fuzz::rediscover::RealError),
    /// A case or filed folder could not be read, replayed, minimised or promoted.
    #[error(transparent)]
    Triage(#[from] crate::triage::TriageError),
    /// Clients could not be installed; each failure is reported on a line of its own.
    #[error("{}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Install {
        /// Why each client that failed could not be installed.
        failures: Vec<crate::install::InstallError>,
    },
    /// The `--report` file could not be written.
    #[error("cannot write report {}: {source}", path.display())]
    Report {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JUnit file could not be written.
    #[error(transparent)]
    Junit(#[from] crate::junit::JunitError),
    /// The web view could not start or stopped with an error.
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// An output file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Runs the parsed command line and returns the process exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Clients => clients::run(),
        Command::Install(args) => install::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Selftest(args) => selftest::run(args),
        Command::Minimize(args) => minimize::run(args),
        Command::Repro(args) => repro::run(args),
        Command::Promote(args) => promote::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Corpus(args) => corpus::run(args),
    };
    exit_code(result)
}

/// The one place a result becomes an exit code: 0 clean, 1 problems found, 2 input errors or
/// a [`CliError`], which is printed here and only here.
fn exit_code(result: Result<Finish, CliError>) -> ExitCode {
    match result {
        Ok(Finish::Clean) => ExitCode::SUCCESS,
        Ok(Finish::Problems) => ExitCode::from(1),
        Ok(Finish::InputErrors) => ExitCode::from(2),
        Ok(Finish::Interrupted) => ExitCode::from(130),
        Err(CliError::Install { failures }) => {
            for failure in failures {
                eprintln!("error: {failure}");
            }
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Parses a duration: `10s`, `500ms`, `2m`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())?,
        Err(_) => humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e} (e.g. 10s, 500ms, 2m)"))?,
    };
    // Deadlines are the clock plus a duration: one too large to add would overflow it.
    if duration > MAX_DURATION {
        return Err(format!("`{text}` is more than {}", humantime::format_duration(MAX_DURATION)));
    }
    Ok(duration)
}

/// The longest duration a deadline may be set to (ten years: a farm that runs longer is given
/// no deadline).
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Checks, before any work, that an output file the command was asked for can be written (see
/// [`crate::atomic::check_writable`]): a bad path fails at once, not after minutes of work.
fn check_output(path: Option<&Path>) -> Result<(), CliError> {
    match path {
        Some(path) => crate::atomic::check_writable(path).map_err(|source| CliError::Write { path: path.to_path_buf(), source }),
        None => Ok(()),
    }
}

/// The clients selected by `--client` values (default: every in-process client); an error when
/// a value cannot be honoured or there is no client at all.
fn resolve_clients(values: &[String], timeout: Option<Duration>) -> Result<Vec<Arc<dyn Client>>, CliError> {
    let clients = registry::resolve(values, &ClientOptions { timeout })?;
    if clients.is_empty() {
        return Err(CliError::NoClient);
    }
    Ok(clients)
}

/// The examiner for `--client` values, defaulting to a folder's own clients; a `X#again`
/// label (a client compared with itself) runs `X` a second time.
fn examiner_for(values: &[String], path: &Path, timeout: Option<Duration>) -> Result<crate::triage::Examiner, CliError> {
    // A folder's labels only select among the registry's clients; nothing it names is run.
    let values = if values.is_empty() { filed_values(path)? } else { values.to_vec() };
    let (again, plain): (Vec<String>, Vec<String>) = values.into_iter().partition(|v| v.ends_with("#again"));
    let clients = resolve_clients(&plain, timeout)?;
    let mut labelled: Vec<(String, Arc<dyn Client>)> = clients.into_iter().map(|c| (c.id().to_owned(), c)).collect();
    for label in again {
        let base = label.trim_end_matches("#again").to_owned();
        match labelled.iter().find(|(l, _)| *l == base).map(|(_, c)| c.clone()) {
            Some(client) => labelled.push((label, client)),
            None => return Err(CliError::AgainWithoutBase { label, base }),
        }
    }
    if labelled.len() == 1 {
        let (id, client) = labelled[0].clone();
        labelled.push((format!("{id}#again"), client));
    }
    Ok(crate::triage::Examiner::labelled(labelled))
}

/// The `--client` values of a folder's labels. When some name programs (two builds of one
/// client, `geth@/a` and `geth@/b`), none is run: the error gives the whole command line of
/// `--client` values that replays the folder, the registry's clients included.
fn filed_values(path: &Path) -> Result<Vec<String>, CliError> {
    let mut values = Vec::new();
    let mut programs: Vec<(String, String)> = Vec::new();
    for label in crate::triage::repro::filed_clients(path) {
        match registry::filed_label(&label) {
            Ok(value) => values.push(value),
            Err(registry::RegistryError::FiledProgram { label, flag }) => programs.push((label, flag)),
            Err(other) => return Err(other.into()),
        }
    }
    if programs.is_empty() {
        return Ok(values);
    }
    let labels = programs.iter().map(|(l, _)| format!("`{l}`")).collect::<Vec<_>>().join(", ");
    let flags = values
        .iter()
        .filter(|v| !v.ends_with("#again"))
        .map(|v| format!("--client {v}"))
        .chain(programs.into_iter().map(|(_, f)| f))
        .collect::<Vec<_>>()
        .join(" ");
    Err(registry::RegistryError::FiledPrograms { labels, flags }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err_and(|e| e.contains("e.g. 10s")));
        assert!(parse_duration("1e30").is_err() && parse_duration("500000000y").is_err(), "too large to add to a clock");
    }

    #[test]
    fn every_outcome_has_its_exit_code() {
        let code = |r| format!("{:?}", exit_code(r));
        assert_eq!(code(Ok(Finish::Clean)), format!("{:?}", ExitCode::SUCCESS));
        assert_eq!(code(Ok(Finish::Problems)), format!("{:?}", ExitCode::from(1)));
        assert_eq!(code(Ok(Finish::InputErrors)), format!("{:?}", ExitCode::from(2)));
        assert_eq!(code(Ok(Finish::Interrupted)), format!("{:?}", ExitCode::from(130)));
        assert_eq!(code(Err(CliError::NoClient)), format!("{:?}", ExitCode::from(2)));
    }

    #[test]
    #[cfg(all(feature = "revm", feature = "levm"))]
    fn again_without_its_client_is_a_usage_error() {
        let Err(error) = examiner_for(&["revm#again".to_owned(), "levm".to_owned()], Path::new("/nonexistent"), None) else {
            panic!("accepted `revm#again` without `revm`");
        };
        assert_eq!(error.to_string(), "`revm#again` compares `revm` with itself, but `revm` is not selected");
    }

    #[test]
    fn a_folder_of_two_builds_names_the_command_that_replays_it() {
        let dir = tempfile::tempdir().expect("temp");
        let report = serde_json::json!({"clients": ["revm", "geth@/a/evm", "geth@/b/evm"]});
        std::fs::write(dir.path().join("report.json"), report.to_string()).expect("write");
        let Err(error) = filed_values(dir.path()) else { panic!("programs named by a folder were accepted") };
        let text = error.to_string();
        assert!(text.contains("`--client revm --client geth=/a/evm --client geth=/b/evm`"), "{text}");
        std::fs::write(dir.path().join("report.json"), serde_json::json!({"clients": ["revm", "levm"]}).to_string()).expect("write");
        assert_eq!(filed_values(dir.path()).expect("registry clients"), ["revm", "levm"]);
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
