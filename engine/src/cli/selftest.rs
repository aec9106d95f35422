//! `schism selftest`: healthy revm fuzzed against canary mutants (builds of revm with one
//! planted bug each), under one or more seeds, to check that the farm finds bugs and how fast;
//! with `--real`, client releases with known bugs beside healthy revm (the rediscovery suite).

use super::{CliError, Finish, parse_duration};
use crate::fuzz::FuzzError;
use crate::fuzz::rediscover::{RealOptions, RealResult, rediscover};
use crate::fuzz::selftest::{self, CanaryResult, SelftestOptions, Summary};
use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// Arguments of `schism selftest`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 when every mutant was found under every seed (with --real: every target found and \
                        its folder reproducing on the buggy release only), 1 when the farm missed one, 2 on a usage or input error, \
                        130 when a signal (Ctrl-C, SIGTERM) stopped it (what finished before is reported).")]
pub struct Args {
    /// Time allowed per mutant and seed (default 60s), or per target with --real (default 15m).
    #[arg(long, value_parser = parse_duration)]
    pub budget: Option<std::time::Duration>,
    /// Only this mutant (repeatable; default: all).
    #[arg(long = "mutant", value_name = "NAME", conflicts_with = "real")]
    pub mutants: Vec<String>,
    /// The rediscovery suite: fuzz client releases that shipped known consensus bugs beside
    /// healthy revm, each from an empty corpus, installing the releases when missing; report
    /// whether each bug was found and whether its folder reproduces on the buggy release only.
    #[arg(long)]
    pub real: bool,
    /// Only this target of --real (repeatable; default: all).
    #[arg(long = "target", value_name = "NAME", requires = "real")]
    pub targets: Vec<String>,
    /// Write the results as JSON: {"summary": {...}, "mutants": [{"mutant", "found", "found_in",
    /// "median_seconds", "median_executions", "runs": [{"seed", "found", "seconds", "executions", ...}]}]}.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where findings are filed: DIR/MUTANT/, or DIR/MUTANT/seed-S/ with several seeds (DIR/TARGET/
    /// with --real).
    #[arg(long, default_value = "crashes/selftest", value_name = "DIR")]
    pub crashes: PathBuf,
    /// Fuzzing jobs per run.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// The first seed (default: from the clock, and printed); the others follow it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run every mutant under this many seeds (S, S+1, ...), each from an empty corpus. A mutant
    /// is killed when every seed finds it; its medians are over the seeds that found it.
    #[arg(long, default_value = "1", value_name = "N")]
    pub seeds: NonZeroUsize,
}

/// Fuzzes each mutant under each seed, printing a row per mutant and its runs, then the kill
/// rate; a problem when some mutant was missed under some seed.
pub fn run(args: Args) -> Result<Finish, CliError> {
    super::check_output(args.json.as_deref())?;
    if args.real {
        return run_real(args);
    }
    let options = SelftestOptions {
        budget: args.budget.unwrap_or(std::time::Duration::from_secs(60)),
        mutants: args.mutants,
        crashes: args.crashes,
        jobs: args.jobs,
        seed: args.seed.unwrap_or_else(crate::fuzz::farm::clock_seed),
        seeds: args.seeds,
        status: std::io::stderr().is_terminal(),
    };
    let seeds = options.seed_list();
    match seeds.as_slice() {
        [one] => println!("seed {one} (repeat with --seed {one})"),
        [first, .., last] => println!("seeds {first}..={last} (repeat with --seed {first} --seeds {})", seeds.len()),
        [] => {}
    }
    println!("{:<20} {:>6} {:>9} {:>13}  description", "mutant", "found", "median s", "median execs");
    let report = selftest::selftest(&options, print_mutant)?;
    if let Some(cut) = &report.interrupted {
        println!(
            "{:<20} interrupted by a signal under seed {} after {:.1} s: the suite stops here; the tally covers the mutants above",
            cut.mutant, cut.seed, cut.seconds
        );
    }
    println!("{}", summary_line(&report.summary));
    if let Some(path) = args.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|text| crate::atomic::write(&path, (text + "\n").as_bytes()));
        written.map_err(|source| FuzzError::Io { path, source })?;
    }
    if report.interrupted.is_some() {
        return Ok(Finish::Interrupted);
    }
    Ok(Finish::found(!report.summary.all_killed()))
}

/// The rediscovery suite: a row per target, then the tally.
fn run_real(args: Args) -> Result<Finish, CliError> {
    let seed = args.seed.unwrap_or_else(crate::fuzz::farm::clock_seed);
    let schism = std::env::current_exe().map_err(|source| FuzzError::Io { path: PathBuf::from("schism"), source })?;
    let options = RealOptions {
        budget: args.budget.unwrap_or(std::time::Duration::from_secs(15 * 60)),
        targets: args.targets,
        crashes: args.crashes,
        jobs: args.jobs,
        seed,
        status: std::io::stderr().is_terminal(),
        schism,
        install: true,
    };
    println!("seed {seed} (repeat with --seed {seed}); budget {} per target", humantime::format_duration(options.budget));
    println!(
        "{:<22} {:<14} {:<9} {:<10} {:>6} {:>8} {:>10}  {:>5} {:>5}  folder",
        "target", "buggy", "fixed", "fork", "found", "seconds", "execs", "buggy", "fixed"
    );
    let results = rediscover(&options, print_target)?;
    let interrupted = results.iter().any(|r| r.interrupted);
    let results: Vec<RealResult> = results.into_iter().filter(|r| !r.interrupted).collect();
    let confirmed = results.iter().filter(|r| r.confirmed()).count();
    println!(
        "{confirmed}/{} targets found and confirmed (schism repro exits 1 on the buggy release and 0 on the fixed one)",
        results.len()
    );
    if let Some(path) = args.json {
        let written = serde_json::to_string_pretty(
            &serde_json::json!({ "seed": seed, "budget_s": options.budget.as_secs_f64(), "targets": results }),
        )
        .map_err(std::io::Error::other)
        .and_then(|text| crate::atomic::write(&path, (text + "\n").as_bytes()));
        written.map_err(|source| FuzzError::Io { path, source })?;
    }
    if interrupted {
        return Ok(Finish::Interrupted);
    }
    Ok(Finish::found(confirmed < results.len()))
}

/// A target's row: the repro columns are `schism repro`'s exit codes with each release.
fn print_target(r: &RealResult) {
    let code = |c: Option<i32>| c.map_or("-".to_owned(), |c| c.to_string());
    println!(
        "{:<22} {:<14} {:<9} {:<10} {:>6} {:>8.1} {:>10}  {:>5} {:>5}  {}",
        r.target,
        format!("{}@{}", r.client, r.version),
        r.fixed,
        r.fork,
        if r.found {
            "yes"
        } else if r.interrupted {
            "cut"
        } else {
            "NO"
        },
        r.seconds,
        r.executions,
        code(r.repro_buggy),
        code(r.repro_fixed),
        r.folder.as_ref().map_or("-".to_owned(), |f| f.display().to_string())
    );
    if r.interrupted {
        println!("  interrupted by a signal after {:.1} s: the suite stops here; this target is left out of the tally", r.seconds);
    }
    if let Some(alone) = r.repro_alone {
        println!("  with this bug's fix alone (backported to the buggy release): repro exit {alone}");
    }
    if r.set_aside_runs > 0 {
        println!("  {} divergent runs set aside as other bugs (the releases beside the buggy one shared its result)", r.set_aside_runs);
    }
    for other in &r.other_bugs {
        println!("  set aside (reproduces on the fixed release too, or with this bug's fix alone): {}", other.display());
    }
    if r.install_seconds > 0.0 {
        println!("  (installing the releases took {:.0} s)", r.install_seconds);
    }
}

/// A mutant's row, then one indented line per seed.
fn print_mutant(r: &CanaryResult) {
    let or_dash = |v: Option<f64>, precision: usize| v.map_or("-".to_owned(), |v| format!("{v:.precision$}"));
    println!(
        "{:<20} {:>6} {:>9} {:>13}  {}",
        r.mutant,
        format!("{}/{}", r.found_in, r.seeds),
        or_dash(r.median_seconds, 1),
        or_dash(r.median_executions, 0),
        r.description
    );
    for run in &r.runs {
        let instructions = match (run.instructions_before, run.instructions_after) {
            (Some(a), Some(b)) => format!(", {a} -> {b} instructions"),
            _ => String::new(),
        };
        let filed = match (&run.folder, run.filed_seconds) {
            (Some(folder), Some(s)) => format!(", filed after {s:.2} s in {}", folder.display()),
            (Some(folder), None) => format!(", filed in {}", folder.display()),
            _ => String::new(),
        };
        println!(
            "  seed {}: {} after {:.1} s, {} executions{instructions}{filed}",
            run.seed,
            if run.found { "found" } else { "NOT found" },
            run.seconds,
            run.executions
        );
    }
}

/// The mutation score in one line.
fn summary_line(s: &Summary) -> String {
    let to_kill = s.median_seconds_to_kill.map_or_else(|| "no mutant killed".to_owned(), |t| format!("median time to kill {t:.1} s"));
    format!(
        "kill rate {}/{} (found under every one of {} seed{}), {}/{} found under at least one; {to_kill} (medians over the seeds \
         that found each mutant); budget {} per run",
        s.killed,
        s.mutants,
        s.seeds,
        if s.seeds == 1 { "" } else { "s" },
        s.found_in_some,
        s.mutants,
        humantime::format_duration(std::time::Duration::from_secs_f64(s.budget_s))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_says_kill_rate_and_median_time_to_kill() {
        let s = Summary {
            seeds: 3,
            first_seed: 7,
            budget_s: 30.0,
            killed: 2,
            mutants: 3,
            found_in_some: 3,
            median_seconds_to_kill: Some(1.25),
        };
        let line = summary_line(&s);
        assert!(line.starts_with("kill rate 2/3 (found under every one of 3 seeds), 3/3 found under at least one;"), "{line}");
        assert!(line.contains("median time to kill 1.2 s") || line.contains("median time to kill 1.3 s"), "{line}");
        assert!(line.ends_with("budget 30s per run"), "{line}");
        let none = summary_line(&Summary { killed: 0, median_seconds_to_kill: None, ..s });
        assert!(none.contains("no mutant killed"), "{none}");
    }
}
