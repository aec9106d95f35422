//! `schism fuzz`: a LibAFL farm fuzzing the clients against each other, filing each divergence.

use super::{CliError, Finish, parse_duration, resolve_clients};
use crate::fuzz::farm::{self, ClientFactory, FarmOptions, NodeOptions};
use crate::registry::ClientOptions;
use clap::builder::TypedValueParser as _;
use schism_interface::Fork;
use std::path::PathBuf;

/// Arguments of `schism fuzz`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A client to compare: `ID`, or `ID=PATH` for a subprocess client's binary (default: every
    /// in-process client). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Fuzzing processes, one per core (plus one broker process relaying between them).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub jobs: usize,
    /// Stop after this long (e.g. 30s, 10m, 12h; default: run until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// The corpus folder: read at start (a farm resumes where it stopped), new entries added.
    #[arg(long, default_value = farm::DEFAULT_CORPUS, value_name = "DIR")]
    pub corpus: PathBuf,
    /// Where divergences are filed.
    #[arg(long, default_value = farm::DEFAULT_CRASHES, value_name = "DIR")]
    pub crashes: PathBuf,
    /// Only generate cases of this fork.
    #[arg(long, value_name = "NAME")]
    pub fork: Option<Fork>,
    /// Seed of the random generators (default: from the clock; printed at the end).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Write the statistics here as JSON, every second and at the end.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Per-case timeout of every client (default: 300s in-process, each subprocess tool's own).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Time allowed to minimise each new finding before it is filed.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub minimize_budget: std::time::Duration,
    /// File findings as found, without minimising them.
    #[arg(long)]
    pub no_minimize: bool,
    /// A case is slow when one client takes this many times as long as the fastest ...
    #[arg(long, default_value_t = 20.0, value_name = "RATIO")]
    pub slow_ratio: f64,
    /// ... and at least this long.
    #[arg(long, default_value = "250ms", value_name = "DURATION", value_parser = parse_duration)]
    pub slow_floor: std::time::Duration,
    /// Do not judge how long clients take.
    #[arg(long)]
    pub no_slow: bool,
    /// Share of inputs run as block sequences (several blocks of dependent transactions)
    /// rather than single transactions; 0 turns sequences off, 1 runs every input with later
    /// transactions as one.
    #[arg(long, default_value_t = crate::fuzz::harness::DEFAULT_SEQUENCE_SHARE, value_name = "SHARE")]
    pub sequences: f64,
    /// Divergent inputs kept in `<crashes>/.inputs` (LibAFL's solutions), the oldest evicted
    /// first; each is filed already, so eviction loses no finding.
    #[arg(long, default_value_t = farm::DEFAULT_KEEP_INPUTS, value_name = "N")]
    pub keep_inputs: usize,
    /// Also write the crashes folder as JUnit XML here when the farm stops: one test case per
    /// filed finding, failing (a client fault: an error) when this run filed it, skipped when
    /// it was filed before.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Make this farm a node that other machines' farms join with `--parent` (e.g.
    /// `0.0.0.0:7700`): corpus entries flow both ways, their findings are filed here.
    #[arg(long, value_name = "HOST:PORT")]
    pub node_listen: Option<String>,
    /// Join the farm of another machine, started with `--node-listen` there: this farm's
    /// corpus entries and findings go to it, its corpus entries come here. A parent that is
    /// away is waited for; the farm fuzzes on meanwhile.
    #[arg(long, value_name = "HOST:PORT")]
    pub parent: Option<String>,
    /// This node's name in reports and metrics (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics (this node's and those of the
    /// nodes below it).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,
}

/// Runs the farm until its deadline (or Ctrl-C) and prints its summary.
pub fn run(args: Args) -> Result<Finish, CliError> {
    // The selection is checked here, once, for a usage error; each job makes its own clients.
    resolve_clients(&args.clients, args.timeout)?;
    super::check_output(args.stats.as_deref())?;
    super::check_output(args.junit.as_deref())?;
    // What was filed before this run is known; the rest is new.
    let known: Vec<String> = crate::triage::folder::list(&args.crashes).into_iter().map(|(_, r)| r.signature).collect();
    let options = FarmOptions {
        clients: ClientFactory::registry(args.clients, ClientOptions { timeout: args.timeout }),
        jobs: args.jobs,
        duration: args.duration,
        corpus: args.corpus,
        crashes: args.crashes.clone(),
        fork: args.fork,
        seed: args.seed,
        stats: args.stats,
        status: true,
        set_aside: Vec::new(),
        sought: None,
        stop_on_divergence: false,
        minimise: (!args.no_minimize).then_some(crate::triage::Budget { time: args.minimize_budget, ..Default::default() }),
        slow: (!args.no_slow).then_some(crate::fuzz::harness::SlowRule { ratio: args.slow_ratio, floor: args.slow_floor }),
        sequences: args.sequences,
        keep_inputs: args.keep_inputs,
        node: NodeOptions { name: args.node_name.unwrap_or_default(), listen: args.node_listen, parent: args.parent },
        metrics: args.metrics,
    };
    let summary = farm::fuzz(&options)?;
    print!("{}", summary.text());
    if let Some(path) = &args.junit {
        crate::junit::write(&crate::junit::of_findings(&args.crashes, &known), path)?;
    }
    Ok(Finish::found(summary.stats.divergences > 0 || summary.carried > 0))
}
