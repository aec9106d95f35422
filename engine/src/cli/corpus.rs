//! `schism corpus`: upkeep of a farm's corpus folder.

use super::{CliError, Finish, resolve_clients};
use crate::fuzz::corpus::{self, Action, MinimizeOptions};
use schism_interface::Fork;
use std::path::PathBuf;

/// Arguments of `schism corpus`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with the corpus.
    #[command(subcommand)]
    pub command: CorpusCommand,
}

/// The corpus subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CorpusCommand {
    /// Keep the smallest set of entries that covers the same features: replay every entry
    /// through the clients, then remove the entries the others make redundant.
    Minimize(MinimizeArgs),
}

/// Arguments of `schism corpus minimize`.
#[derive(Debug, clap::Args)]
pub struct MinimizeArgs {
    /// The corpus folder.
    #[arg(long, default_value = crate::fuzz::farm::DEFAULT_CORPUS, value_name = "DIR")]
    pub corpus: PathBuf,
    /// The farm's clients, whose execution records the features (default: every in-process
    /// client, as for `schism fuzz`). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// The farm's `--fork`, if it had one.
    #[arg(long, value_name = "NAME")]
    pub fork: Option<Fork>,
    /// The farm's `--sequences` share.
    #[arg(long, default_value_t = crate::fuzz::harness::DEFAULT_SEQUENCE_SHARE, value_name = "SHARE")]
    pub sequences: f64,
    /// Copy the kept entries here instead of removing the others from the corpus folder.
    #[arg(long, value_name = "DIR", conflicts_with = "dry_run")]
    pub out: Option<PathBuf>,
    /// Only say what would be kept.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs the corpus subcommand.
pub fn run(args: Args) -> Result<Finish, CliError> {
    match args.command {
        CorpusCommand::Minimize(args) => minimize(args),
    }
}

fn minimize(args: MinimizeArgs) -> Result<Finish, CliError> {
    let clients = resolve_clients(&args.clients, None)?;
    let action = match (args.out, args.dry_run) {
        (Some(out), _) => Action::CopyTo(out),
        (None, true) => Action::Report,
        (None, false) => Action::Remove,
    };
    let options = MinimizeOptions { corpus: args.corpus, clients, fork: args.fork, sequences: args.sequences, action };
    let done = corpus::minimize(&options)?;
    println!("{}", done.summary());
    Ok(Finish::Clean)
}
