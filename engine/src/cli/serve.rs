//! `schism serve`: a read-only web view of a crashes folder.

use super::{CliError, Finish};
use crate::serve::{self, ServeOptions};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `schism serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The crashes folder to show (read-only; nothing outside it is served).
    #[arg(default_value = crate::fuzz::farm::DEFAULT_CRASHES, value_name = "CRASHES_DIR")]
    pub crashes: PathBuf,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = serve::DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The statistics history to chart (default: `CRASHES_DIR/.history.jsonl`, which the farm
    /// appends to).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

/// Serves the folder until Ctrl-C.
pub fn run(args: Args) -> Result<Finish, CliError> {
    serve::serve(&ServeOptions { root: args.crashes, listen: args.listen, history: args.history })?;
    Ok(Finish::Clean)
}
