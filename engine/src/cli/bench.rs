//! `schism bench`: clients measured on the benchmark workloads, as a table, JSON rows and an
//! SVG plot; or, with `--corpus`, the fuzzing harness's own cost per case apart from the clients'.

use super::{CliError, Finish, resolve_clients};
use crate::bench::{self, BenchError, BenchOptions};
use clap::builder::TypedValueParser as _;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `schism bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A client to measure, `ID` or `ID=PATH` (default: every in-process client). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Only this workload: a file name in the workload folder, without `.json`. Repeatable.
    #[arg(long = "workload", value_name = "NAME")]
    pub workloads: Vec<String>,
    /// Timed runs per client and workload, after one warm-up run.
    #[arg(long, default_value_t = bench::DEFAULT_REPEAT, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub repeat: usize,
    /// Write the rows (one per client and workload) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw Mgas/s per workload and client here (SVG).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// The folder of workload files.
    #[arg(long, default_value = bench::DEFAULT_DIR, value_name = "DIR")]
    pub dir: PathBuf,
    /// Instead of the workloads, replay these fuzz inputs (a `schism fuzz` corpus folder)
    /// through the fuzzing harness, `--repeat` times each, and report the harness's own cost
    /// per case apart from each client's execution.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["workloads", "plot"])]
    pub corpus: Option<PathBuf>,
}

/// Measures the clients, prints the table and writes the rows and the plot.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let clients = resolve_clients(&args.clients, None)?;
    if let Some(corpus) = args.corpus {
        let report = bench::replay::replay(&bench::replay::ReplayOptions { corpus, repeat: args.repeat }, &clients)?;
        print!("{}", report.table());
        if let Some(path) = args.json {
            crate::atomic::write_json(&path, &report).map_err(|source| CliError::Write { path, source })?;
        }
        return Ok(Finish::Clean);
    }
    // The plot's format is checked before minutes of measuring, not after.
    if let Some(path) = &args.plot
        && !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        return Err(BenchError::PlotFormat { path: path.clone() }.into());
    }
    super::check_output(args.json.as_deref())?;
    super::check_output(args.plot.as_deref())?;
    let options = BenchOptions { dir: args.dir, workloads: args.workloads, repeat: args.repeat };
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |client: &str, workload: &str| {
        if terminal {
            eprint!("\r\x1b[2Kmeasuring {client} on {workload}");
        }
    };
    let report = bench::run(&options, &clients, &mut progress);
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let report = report?;
    print!("{}", report.table());
    if let Some(path) = args.json {
        crate::atomic::write_json(&path, &report.rows).map_err(|source| CliError::Write { path, source })?;
    }
    if let Some(path) = &args.plot {
        bench::write_plot(path, &report.rows)?;
    }
    Ok(Finish::found(report.found_problems()))
}
