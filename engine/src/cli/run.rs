//! `schism run`: fixture files on clients, each client checked against the fixtures and the
//! clients against each other.

use super::{CliError, Finish, parse_duration, resolve_clients};
use crate::runner::{self, RunOptions};
use schism_interface::Fork;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `schism run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fixture files or folders (searched recursively for .json).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// A client to run: `ID`, or `ID=PATH` for a subprocess client's binary (default: every
    /// in-process client). Repeatable; one id with two paths compares two builds.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Per-case timeout of every client (default: 300s in-process; subprocess 10s, eels and pyevm 120s, ethereumjs 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Only cases of this fork. Repeatable.
    #[arg(long = "fork", value_name = "NAME")]
    pub forks: Vec<Fork>,
    /// Write the full JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Worker threads, 1 to 1024 (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Succeed when the paths hold no test case (by default that is an input error, so that a
    /// mistyped path fails).
    #[arg(long)]
    pub allow_empty: bool,
    /// Also write the results as JUnit XML here: one test case per case and client (failures
    /// carry the mismatch, client faults are errors) and a `cross-client` suite.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// How many failures, disagreements and errors to print (all are in the report).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub show: usize,
}

/// Runs the fixtures, prints the highlights and the summary, and writes the report.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let clients = resolve_clients(&args.clients, args.timeout)?;
    // The report's folder is checked before minutes of running, not after.
    for path in args.report.iter().chain(&args.junit) {
        crate::atomic::check_writable(path).map_err(|source| CliError::Report { path: path.clone(), source })?;
    }
    let options = RunOptions {
        paths: args.paths,
        forks: args.forks,
        jobs: args.jobs.map(usize::from),
        progress: std::io::stderr().is_terminal(),
        allow_empty: args.allow_empty,
    };
    let started = std::time::Instant::now();
    let all = runner::run_all(&options, &clients)?;
    if let Some(path) = &args.junit {
        let ids: Vec<String> = clients.iter().map(|c| c.id().to_owned()).collect();
        crate::junit::write(&crate::junit::of_run(&ids, &all.cases, &all.sequences, started.elapsed()), path)?;
    }
    let report = all.report;
    print!("{}", report.highlights(args.show));
    print!("{}", report.summary());
    if let Some(path) = args.report {
        crate::atomic::write_json(&path, &report).map_err(|source| CliError::Report { path, source })?;
    }
    if report.found_problems() {
        Ok(Finish::Problems)
    } else if !report.input_errors.is_empty() {
        Ok(Finish::InputErrors)
    } else {
        Ok(Finish::Clean)
    }
}
