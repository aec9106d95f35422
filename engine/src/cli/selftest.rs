//! `schism selftest`: healthy revm fuzzed against canary mutants (builds of revm with one
//! planted bug each), to check that the farm finds bugs and how fast.

use super::{CliError, Finish, parse_duration};
use crate::fuzz::FuzzError;
use crate::fuzz::selftest::{self, SelftestOptions};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `schism selftest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time allowed per mutant.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// Only this mutant (repeatable; default: all).
    #[arg(long = "mutant", value_name = "NAME")]
    pub mutants: Vec<String>,
    /// Write the results as JSON: [{"mutant", "found", "seconds", "executions", ...}].
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where each mutant's findings are filed (one folder per mutant).
    #[arg(long, default_value = "crashes/selftest", value_name = "DIR")]
    pub crashes: PathBuf,
    /// Fuzzing jobs per mutant.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Seed of the farm.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Fuzzes each mutant, printing a line per mutant; a problem when any mutant was not found.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let options = SelftestOptions {
        budget: args.budget,
        mutants: args.mutants,
        crashes: args.crashes,
        jobs: args.jobs,
        seed: args.seed,
        status: std::io::stderr().is_terminal(),
    };
    println!("{:<20} {:>6} {:>9} {:>11} {:>8} {:>13}  folder", "mutant", "found", "seconds", "executions", "filed s", "instructions");
    let results = selftest::selftest(&options, |r| {
        let instructions = match (r.instructions_before, r.instructions_after) {
            (Some(a), Some(b)) => format!("{a} -> {b}"),
            _ => "-".to_owned(),
        };
        println!(
            "{:<20} {:>6} {:>9.1} {:>11} {:>8} {:>13}  {}",
            r.mutant,
            if r.found { "yes" } else { "NO" },
            r.seconds,
            r.executions,
            r.filed_seconds.map_or("-".to_owned(), |s| format!("{s:.1}")),
            instructions,
            r.folder.as_ref().map_or_else(|| r.description.clone(), |f| f.display().to_string())
        );
    })?;
    let found = results.iter().filter(|r| r.found).count();
    println!("{found} of {} mutants found within {} each", results.len(), humantime::format_duration(args.budget));
    if let Some(path) = args.json {
        let written = serde_json::to_string_pretty(&results)
            .map_err(std::io::Error::other)
            .and_then(|text| crate::atomic::write(&path, (text + "\n").as_bytes()));
        written.map_err(|source| FuzzError::Io { path, source })?;
    }
    Ok(Finish::found(found < results.len()))
}
