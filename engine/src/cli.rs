//! The command line: parses arguments into validated options, calls the library, and maps the
//! result to an exit code (0 pass/agree, 1 failure/divergence found, 2 usage or input error).

use crate::bench::{self, BenchOptions};
use crate::fuzz::farm::{self, ClientFactory, FarmOptions};
use crate::fuzz::selftest::{self, SelftestOptions};
use crate::install::{self, Installed};
use crate::registry::{self, CLIENTS, ClientOptions, supported_forks};
use crate::runner::{self, RunOptions};
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use schism_interface::Fork;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    Run(RunArgs),
    /// List every known client: availability, kind, path, version and forks.
    Clients,
    /// Measure clients on the benchmark workloads: Mgas/s and cases/s per client and workload.
    Bench(BenchArgs),
    /// Install subprocess clients (geth, eels, ethereumjs or all) into the project's tools
    /// folder, at pinned versions.
    Install(InstallArgs),
    /// Fuzz the clients against each other: a LibAFL farm of `--jobs` processes, a corpus that
    /// persists between runs, each divergence filed in the crashes folder.
    Fuzz(FuzzArgs),
    /// Check that the farm finds bugs: fuzz healthy revm against builds of revm with one
    /// planted bug each (canary mutants), and report which were found and how fast.
    Selftest(SelftestArgs),
    /// Shrink a divergent case to the smallest that still shows the same divergence (same
    /// signature) and write it beside the input as `<name>.min.json`.
    Minimize(MinimizeArgs),
    /// Replay a filed folder or a case file: print the verdict, the first differing trace step
    /// and the post-state differences. Exit 1 while the divergence reproduces, 0 when all agree.
    Repro(ReproArgs),
    /// Turn a filed finding into a filled regression fixture in corpus/regressions/, replayed
    /// by `cargo test` through every in-process client.
    Promote(PromoteArgs),
}

/// Arguments of `schism minimize`.
#[derive(Debug, clap::Args)]
pub struct MinimizeArgs {
    /// A state-test file (its first case) or a filed folder.
    pub case: PathBuf,
    /// A client to compare, `ID` or `ID=PATH` (default: the folder's clients, else every
    /// in-process client). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Time allowed.
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// Where to write the minimised case (default: beside the input, `<name>.min.json`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Per-case timeout of subprocess clients.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// Arguments of `schism repro`.
#[derive(Debug, clap::Args)]
pub struct ReproArgs {
    /// A filed folder (its case.json) or a state-test file (its first case).
    pub path: PathBuf,
    /// A client to run, `ID` or `ID=PATH` (default: the folder's clients, else every
    /// in-process client). Repeatable.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Per-case timeout of subprocess clients.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// Arguments of `schism promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// A filed folder.
    pub dir: PathBuf,
    /// Whose result the fixture expects: a client id, or `majority` (the largest group).
    #[arg(long, default_value = "majority", value_name = "CLIENT|majority")]
    pub expect: crate::triage::promote::Expect,
    /// The folder of regression fixtures.
    #[arg(long, default_value = crate::triage::promote::REGRESSIONS, value_name = "DIR")]
    pub to: PathBuf,
}

/// Arguments of `schism selftest`.
#[derive(Debug, clap::Args)]
pub struct SelftestArgs {
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

/// Arguments of `schism fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
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
    /// Per-case timeout of subprocess clients (default: each tool's).
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
}

/// Arguments of `schism install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Which clients: geth, eels, ethereumjs, all.
    #[arg(required = true, value_name = "CLIENT")]
    pub clients: Vec<String>,
}

/// Parses a duration: `10s`, `500ms`, `2m`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    if let Ok(secs) = text.parse::<f64>() {
        return std::time::Duration::try_from_secs_f64(secs).map_err(|e| e.to_string());
    }
    humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e} (e.g. 10s, 500ms, 2m)"))
}

/// Arguments of `schism run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Fixture files or folders (searched recursively for .json).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// A client to run: `ID`, or `ID=PATH` for a subprocess client's binary (default: every
    /// in-process client). Repeatable; one id with two paths compares two builds.
    #[arg(long = "client", value_name = "ID[=PATH]")]
    pub clients: Vec<String>,
    /// Per-case timeout of subprocess clients (default: 10s; eels 120s, ethereumjs 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Only cases of this fork. Repeatable.
    #[arg(long = "fork", value_name = "NAME")]
    pub forks: Vec<Fork>,
    /// Write the full JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// How many failures, disagreements and errors to print (all are in the report).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub show: usize,
}

/// Arguments of `schism bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
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
}

/// Runs the parsed command line and returns the process exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Clients => clients(),
        Command::Install(args) => install(args),
        Command::Bench(args) => bench(args),
        Command::Fuzz(args) => fuzz(args),
        Command::Selftest(args) => selftest(args),
        Command::Minimize(args) => minimize(args),
        Command::Repro(args) => repro(args),
        Command::Promote(args) => promote(args),
    }
}

/// The examiner for `--client` values, defaulting to a folder's own clients; a `X#again`
/// label (a client compared with itself) runs `X` a second time.
fn examiner_for(values: &[String], path: &Path, timeout: Option<std::time::Duration>) -> Result<crate::triage::Examiner, ExitCode> {
    let values = if values.is_empty() { crate::triage::repro::filed_clients(path) } else { values.to_vec() };
    let (again, plain): (Vec<String>, Vec<String>) = values.into_iter().partition(|v| v.ends_with("#again"));
    let clients = resolve_clients(&plain, timeout)?;
    let mut labelled: Vec<(String, std::sync::Arc<dyn schism_interface::Client>)> =
        clients.into_iter().map(|c| (c.id().to_owned(), c)).collect();
    for label in again {
        let base = label.trim_end_matches("#again");
        match labelled.iter().find(|(l, _)| l == base).map(|(_, c)| c.clone()) {
            Some(client) => labelled.push((label, client)),
            None => {
                eprintln!("error: `{label}` compares `{base}` with itself, but `{base}` is not selected");
                return Err(ExitCode::from(2));
            }
        }
    }
    if labelled.len() == 1 {
        let (id, client) = labelled[0].clone();
        labelled.push((format!("{id}#again"), client));
    }
    Ok(crate::triage::Examiner::labelled(labelled))
}

fn minimize(args: MinimizeArgs) -> ExitCode {
    use crate::triage::{folder, minimise};
    let examiner = match examiner_for(&args.clients, &args.case, args.timeout) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let (case, _) = match folder::read(&args.case) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let exam = examiner.examine(&case, true);
    let Some(signature) = exam.signature() else {
        eprintln!("{}: the clients agree on this case; nothing to minimise", args.case.display());
        return ExitCode::from(1);
    };
    println!("signature {} ({} instructions)", signature.id(), minimise::instructions(&case));
    let budget = crate::triage::Budget { time: args.budget, ..Default::default() };
    let (small, m) = minimise::minimise(&case, budget, &mut |c| examiner.reproduces(c, &signature));
    let mut small = small;
    let small_exam = examiner.examine(&small, false);
    small.expected = small_exam.majority().map(crate::triage::expectation_of);
    let out = args.out.unwrap_or_else(|| {
        let base = if args.case.is_dir() { args.case.join("case") } else { args.case.with_extension("") };
        base.with_extension("min.json")
    });
    let info = serde_json::json!({ "comment": format!("minimised by schism from {}", args.case.display()), "schism": { "signature": signature.id() } });
    let written = folder::state_test_json(&small, &format!("{}-min", signature.id()), info)
        .and_then(|text| folder::write_atomic(&out, text.as_bytes()));
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    println!("minimised {}: {}", m.summary(), out.display());
    ExitCode::SUCCESS
}

fn repro(args: ReproArgs) -> ExitCode {
    let examiner = match examiner_for(&args.clients, &args.path, args.timeout) {
        Ok(e) => e,
        Err(code) => return code,
    };
    match crate::triage::sequence::replay(&args.path, &examiner) {
        Ok(Some((text, diverges))) => {
            print!("{text}");
            return if diverges { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    match crate::triage::repro::replay(&args.path, &examiner) {
        Ok(replay) => {
            print!("{}", replay.text());
            if replay.diverges() { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn promote(args: PromoteArgs) -> ExitCode {
    let examiner = match examiner_for(&[], &args.dir, None) {
        Ok(e) => e,
        Err(code) => return code,
    };
    match crate::triage::promote::promote(&args.dir, &args.expect, &args.to, &examiner) {
        Ok(path) => {
            println!("promoted to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn selftest(args: SelftestArgs) -> ExitCode {
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
    });
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let found = results.iter().filter(|r| r.found).count();
    println!("{found} of {} mutants found within {} each", results.len(), humantime::format_duration(args.budget));
    if let Some(path) = &args.json {
        let written =
            serde_json::to_string_pretty(&results).map_err(std::io::Error::other).and_then(|text| std::fs::write(path, text + "\n"));
        if let Err(e) = written {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if found == results.len() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn fuzz(args: FuzzArgs) -> ExitCode {
    // The selection is checked here, once, for a usage error; each job makes its own clients.
    if let Err(code) = resolve_clients(&args.clients, args.timeout) {
        return code;
    }
    let options = FarmOptions {
        clients: ClientFactory::registry(args.clients, ClientOptions { timeout: args.timeout }),
        jobs: args.jobs,
        duration: args.duration,
        corpus: args.corpus,
        crashes: args.crashes,
        fork: args.fork,
        seed: args.seed,
        stats: args.stats,
        status: true,
        stop_on_divergence: false,
        minimise: (!args.no_minimize).then_some(crate::triage::Budget { time: args.minimize_budget, ..Default::default() }),
        slow: (!args.no_slow).then_some(crate::fuzz::harness::SlowRule { ratio: args.slow_ratio, floor: args.slow_floor }),
        sequences: args.sequences,
    };
    match farm::fuzz(&options) {
        Ok(summary) => {
            print!("{}", summary.text());
            if summary.stats.divergences > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    let clients = match resolve_clients(&args.clients, args.timeout) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let options = RunOptions { paths: args.paths, forks: args.forks, jobs: args.jobs, progress: std::io::stderr().is_terminal() };
    let report = match runner::run(&options, &clients) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.highlights(args.show));
    print!("{}", report.summary());
    if let Some(path) = &args.report
        && let Err(e) = write_json(path, &report)
    {
        eprintln!("error: cannot write report {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if report.found_problems() {
        ExitCode::from(1)
    } else if !report.input_errors.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The selected clients, or the usage-error exit code after saying why there are none.
fn resolve_clients(
    values: &[String],
    timeout: Option<std::time::Duration>,
) -> Result<Vec<std::sync::Arc<dyn schism_interface::Client>>, ExitCode> {
    match registry::resolve(values, &ClientOptions { timeout }) {
        Ok(c) if c.is_empty() => {
            eprintln!("error: no client selected and this build has no in-process client");
            Err(ExitCode::from(2))
        }
        Ok(c) => Ok(c),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn bench(args: BenchArgs) -> ExitCode {
    let clients = match resolve_clients(&args.clients, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The plot's format is checked before minutes of measuring, not after.
    if let Some(path) = &args.plot
        && !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        eprintln!("error: {}", bench::BenchError::PlotFormat { path: path.clone() });
        return ExitCode::from(2);
    }
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
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.table());
    if let Some(path) = &args.json
        && let Err(e) = write_json(path, &report.rows)
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if let Some(path) = &args.plot
        && let Err(e) = bench::write_plot(path, &report.rows)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if report.found_problems() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn clients() -> ExitCode {
    println!("{:<11} {:<10} {:<11} {:<16} {:<26} path", "client", "available", "kind", "version", "forks");
    for entry in CLIENTS {
        let kind = match entry.kind() {
            registry::ClientKind::InProcess => "in-process",
            registry::ClientKind::Subprocess => "subprocess",
        };
        let location = entry.default_location();
        let path = location.as_ref().map_or_else(|| "-".to_owned(), |p| p.display().to_string());
        match entry.instantiate(None, entry.id, &ClientOptions::default()) {
            Ok(client) => {
                let forks = supported_forks(client.as_ref());
                let range = match (forks.first(), forks.last()) {
                    (Some(a), Some(b)) => format!("{a}..{b} ({})", forks.len()),
                    _ => "none".to_owned(),
                };
                println!("{:<11} {:<10} {:<11} {:<16} {range:<26} {path}", entry.id, "yes", kind, client.version());
            }
            Err(e) => {
                println!("{:<11} {:<10} {:<11} {:<16} {:<26} {path}", entry.id, "no", kind, "-", "-");
                println!("{:<11} ↳ {e}", "");
            }
        }
    }
    ExitCode::SUCCESS
}

fn install(args: InstallArgs) -> ExitCode {
    let wanted: Vec<&str> =
        if args.clients.iter().any(|c| c == "all") { install::installable() } else { args.clients.iter().map(String::as_str).collect() };
    let tools = registry::tools_dir();
    let mut failed = false;
    for client in wanted {
        match install::install(client, &tools) {
            Ok(Installed::Fresh) => println!("{client}: installed in {}", tools.display()),
            Ok(Installed::AlreadyThere) => println!("{client}: already installed in {}", tools.display()),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

/// Writes JSON beside the target and renames it into place, so no half-written file remains.
fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
