//! `schism repro`: a filed folder or a case file replayed, with the verdict, the first
//! differing trace step and the post-state differences.

use super::{CliError, Finish, examiner_for, parse_duration};
use crate::triage::{repro, sequence};
use std::path::PathBuf;

/// Arguments of `schism repro`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A filed folder (its case.json) or a state-test file (its first case).
    pub path: PathBuf,
    /// A client to run, `ID` or `ID=PATH` (default: the folder's clients, else every
    /// in-process client). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Per-case timeout of every client (default: 300s in-process, each subprocess tool's own).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// Replays the case (a block sequence when it is one) and prints what differs; a problem while
/// the divergence reproduces.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let examiner = examiner_for(&args.clients, &args.path, args.timeout)?;
    if let Some((text, diverges)) = sequence::replay(&args.path, &examiner)? {
        print!("{text}");
        return Ok(Finish::found(diverges));
    }
    let replay = repro::replay(&args.path, &examiner)?;
    print!("{}", replay.text());
    Ok(Finish::found(replay.diverges()))
}
