//! `schism promote`: a filed finding turned into a filled regression fixture.

use super::{CliError, Finish, examiner_for};
use crate::triage::promote::{self, Expect};
use std::path::PathBuf;

/// Arguments of `schism promote`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A filed folder.
    pub dir: PathBuf,
    /// Whose result the fixture expects: a client id, or `majority` (the largest group).
    #[arg(long, default_value = "majority", value_name = "CLIENT|majority")]
    pub expect: Expect,
    /// The folder of regression fixtures.
    #[arg(long, default_value = promote::REGRESSIONS, value_name = "DIR")]
    pub to: PathBuf,
}

/// Writes the fixture, with the folder's own clients replaying the case.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let examiner = examiner_for(&[], &args.dir, None)?;
    let path = promote::promote(&args.dir, &args.expect, &args.to, &examiner)?;
    println!("promoted to {}", path.display());
    Ok(Finish::Clean)
}
