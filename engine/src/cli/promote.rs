//! `schism promote`: a filed finding turned into a filled regression fixture (a state test, or a
//! blockchain test for a block-sequence finding).

use super::{CliError, Finish, examiner_for};
use crate::triage::promote::{self, Expect};
use std::path::PathBuf;

/// Arguments of `schism promote`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A filed folder: a single-transaction finding (promoted to a state test) or a
    /// block-sequence finding (promoted to a blockchain test filled by the expected client).
    pub dir: PathBuf,
    /// Whose result the fixture expects: a client id, or `majority` (the largest group).
    #[arg(long, default_value = "majority", value_name = "CLIENT|majority")]
    pub expect: Expect,
    /// The folder of regression fixtures.
    #[arg(long, default_value = promote::REGRESSIONS, value_name = "DIR")]
    pub to: PathBuf,
    /// A client to replay the case with, from the registry (default: the folder's clients);
    /// for example the fixed release beside the buggy one a finding was filed with. Repeatable.
    #[arg(long = "client", value_name = "ID")]
    pub clients: Vec<String>,
}

/// Writes the fixture, with the chosen clients (default: the folder's own) replaying the case.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let examiner = examiner_for(&args.clients, &args.dir, None)?;
    let path = promote::promote(&args.dir, &args.expect, &args.to, &examiner)?;
    println!("promoted to {}", path.display());
    Ok(Finish::Clean)
}
