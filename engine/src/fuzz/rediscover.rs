//! Rediscovery: the farm fuzzes a client release that shipped a known consensus bug beside a
//! healthy client (revm) and the release that fixed it, from an empty corpus, and reports
//! whether and how fast it finds the bug, and whether the filed folder reproduces on the buggy
//! release and not on the fixed one.
//! Where planted mutants say what the farm could find, this says what it does find.
//!
//! The targets are the clients' declarations of their historical bugs
//! ([`crate::registry::real_targets`]); the releases are installed when missing.

use super::FuzzError;
use super::farm::{ClientFactory, FarmOptions, fuzz};
use crate::install::{self, InstallError, Installed};
use crate::registry::{self, ClientOptions, RealTarget};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The healthy client every buggy release is fuzzed beside.
const HEALTHY: &str = "revm";

/// What a rediscovery run runs.
#[derive(Clone, Debug)]
pub struct RealOptions {
    /// Time allowed per target.
    pub budget: Duration,
    /// Only these targets (default: all).
    pub targets: Vec<String>,
    /// Where findings are filed: `<crashes>/<target>/`.
    pub crashes: PathBuf,
    /// Fuzzing jobs per run.
    pub jobs: usize,
    /// The farm's seed.
    pub seed: u64,
    /// Show the farm's live status line.
    pub status: bool,
    /// The `schism` program that replays filed folders (`schism repro`), for the exit codes.
    pub schism: PathBuf,
    /// Install missing releases (else a missing release is an error naming the install command).
    pub install: bool,
}

/// One target's result.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RealResult {
    /// The target's name.
    pub target: String,
    /// The client (`geth`).
    pub client: String,
    /// The buggy release (`v1.9.16`).
    pub version: String,
    /// The first release without the bug.
    pub fixed: String,
    /// The fork fuzzed.
    pub fork: String,
    /// Whether the farm found, within the budget, a difference that is not also the fixed
    /// release's (see [`RealResult::other_bugs`]).
    pub found: bool,
    /// Seconds to the finding (when found; summed over the farm's restarts after other bugs),
    /// else the time fuzzed.
    pub seconds: f64,
    /// Executions to the first finding (when found), else all executions.
    pub executions: u64,
    /// The first finding's signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The filed folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
    /// `schism repro` exit code on the folder with the healthy client and the buggy release
    /// (1: it reproduces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repro_buggy: Option<i32>,
    /// `schism repro` exit code with the healthy client and the fixed release (0: they agree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repro_fixed: Option<i32>,
    /// `schism repro` exit code with the healthy client and the buggy release with this bug's
    /// fix alone (0: the finding is this bug), for targets that declare one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repro_alone: Option<i32>,
    /// Findings set aside on the way: folders that reproduce on the fixed release too (other
    /// bugs of the buggy release, or differences of the healthy client).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_bugs: Vec<PathBuf>,
    /// Divergent runs the farm set aside as other bugs without filing them: the releases
    /// beside the buggy one shared its result.
    #[serde(default)]
    pub set_aside_runs: u64,
    /// A signal (Ctrl-C, SIGTERM) stopped the farm before it found the target: neither a find
    /// nor a miss, and the suite ended there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Seconds spent installing the releases this run lacked (0 when both were there).
    pub install_seconds: f64,
}

impl RealResult {
    /// Found, reproduced on the buggy release, and not on the fixed one.
    pub fn confirmed(&self) -> bool {
        self.found && self.repro_buggy == Some(1) && self.repro_fixed == Some(0)
    }
}

/// Why a rediscovery run cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RealError {
    /// No target has that name.
    #[error("unknown target `{name}` (known: {})", known.join(", "))]
    UnknownTarget {
        /// The name asked for.
        name: String,
        /// The targets known.
        known: Vec<String>,
    },
    /// A release is not installed and installing was not asked for.
    #[error("{client} is not installed: run `schism install {client}`")]
    NotInstalled {
        /// The release (`geth@v1.9.16`).
        client: String,
    },
    /// A release could not be installed.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// `schism repro` could not be run.
    #[error("cannot run `{command}`: {source}")]
    Repro {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The farm failed.
    #[error(transparent)]
    Fuzz(#[from] FuzzError),
}

/// The targets named in `names` (all when empty), in that order.
fn choose(names: &[String]) -> Result<Vec<RealTarget>, RealError> {
    let all = registry::real_targets();
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|t| t.bug.name == name)
                .copied()
                .ok_or_else(|| RealError::UnknownTarget { name: name.clone(), known: all.iter().map(|t| t.bug.name.to_owned()).collect() })
        })
        .collect()
}

/// Runs each target in turn; `progress` sees each result as it is known.
pub fn rediscover(options: &RealOptions, mut progress: impl FnMut(&RealResult)) -> Result<Vec<RealResult>, RealError> {
    let chosen = choose(&options.targets)?;
    let mut results = Vec::with_capacity(chosen.len());
    for target in chosen {
        let result = run_target(options, target)?;
        progress(&result);
        let interrupted = result.interrupted;
        results.push(result);
        if interrupted {
            break;
        }
    }
    Ok(results)
}

/// Makes sure `client` (a release) is installed, installing it when asked; the seconds spent.
fn ensure_installed(client: &str, options: &RealOptions) -> Result<f64, RealError> {
    let tools = registry::tools_dir();
    if registry::resolve(&[client.to_owned()], &ClientOptions::default()).is_ok() {
        return Ok(0.0);
    }
    if !options.install {
        return Err(RealError::NotInstalled { client: client.to_owned() });
    }
    let started = Instant::now();
    match install::install(client, &tools)? {
        Installed::Fresh | Installed::AlreadyThere => Ok(started.elapsed().as_secs_f64()),
    }
}

/// How many times a target's farm is restarted after findings that are other bugs, at most.
const MAX_ROUNDS: u64 = 64;

/// Fuzzes one target from a fresh corpus and replays what it files. A finding that reproduces
/// on the fixed release too is another bug of the release (geth v1.9.16 also has v1.9.17's
/// MULMOD crash), not the target, and so is one that still reproduces with the target's fix
/// alone (the four @ethereumjs/evm 2.1.0 bugs share their fixed release): it is set aside and
/// the farm goes on from its corpus, with the rest of the budget, until a finding is the target.
/// A signature set aside is no finding for the later rounds: found again, it is counted and
/// the farm goes on (without, each re-find of a frequent other bug cost a restart, and each
/// restart a replay of the whole corpus on the slow release).
fn run_target(options: &RealOptions, target: RealTarget) -> Result<RealResult, RealError> {
    let (buggy, fixed) = (target.buggy(), target.fixed());
    let install_seconds = ensure_installed(&buggy, options)? + ensure_installed(&fixed, options)?;
    let corpus = tempfile::Builder::new()
        .prefix("schism-rediscover-")
        .tempdir()
        .map_err(|source| FuzzError::Io { path: std::env::temp_dir(), source })?;
    let mut result = RealResult {
        target: target.bug.name.to_owned(),
        client: target.client.to_owned(),
        version: target.bug.buggy.to_owned(),
        fixed: target.bug.fixed.to_owned(),
        fork: target.bug.fork.name().to_owned(),
        found: false,
        seconds: 0.0,
        executions: 0,
        signature: None,
        folder: None,
        repro_buggy: None,
        repro_fixed: None,
        repro_alone: None,
        other_bugs: Vec::new(),
        set_aside_runs: 0,
        interrupted: false,
        install_seconds,
    };
    let mut set_aside: Vec<String> = Vec::new();
    let clients = farm_clients(&target);
    for round in 0..MAX_ROUNDS {
        let left = options.budget.saturating_sub(Duration::from_secs_f64(result.seconds));
        if left < Duration::from_secs(1) {
            break;
        }
        let farm = FarmOptions {
            clients: ClientFactory::registry(clients.clone(), ClientOptions::default()),
            jobs: options.jobs,
            duration: Some(left),
            corpus: corpus.path().to_path_buf(),
            crashes: options.crashes.join(target.bug.name),
            fork: Some(target.bug.fork),
            seed: Some(options.seed.wrapping_add(round)),
            stats: None,
            status: options.status,
            set_aside: set_aside.clone(),
            // The releases beside the buggy one decide in the farm: a divergence they share is
            // another bug, set aside there, neither filed nor a reason to stop the farm.
            sought: Some(buggy.clone()),
            stop_on_divergence: true,
            minimise: Some(crate::triage::Budget::default()),
            slow: None,
            // Single-transaction bugs are fuzzed as single transactions (most old releases run
            // no blocks); a bug that needs a block of several transactions (declared on the
            // target) as block sequences only.
            sequences: if target.bug.blocks { 1.0 } else { 0.0 },
            keep_inputs: super::farm::DEFAULT_KEEP_INPUTS,
            node: Default::default(),
            metrics: None,
        };
        let summary = fuzz(&farm)?;
        let stats = &summary.stats;
        result.set_aside_runs += stats.set_aside;
        let Some(first) = stats.first_finding.as_ref() else {
            result.seconds += stats.elapsed_s;
            result.executions += stats.executions;
            result.interrupted = summary.signalled;
            break;
        };
        result.seconds += first.seconds;
        result.executions += first.executions;
        let Some(dir) = first.folder.clone() else { continue };
        let on_buggy = repro(&options.schism, &dir, &buggy)?;
        let on_fixed = repro(&options.schism, &dir, &fixed)?;
        // The fixed release fixed several bugs of the buggy one: the finding is this target
        // only if this bug's fix alone makes it go away.
        let on_alone = match target.alone() {
            Some(alone) if on_fixed == 0 && on_buggy == 1 => Some(repro(&options.schism, &dir, &alone)?),
            _ => None,
        };
        if on_alone.is_none_or(|code| code == 0) && (on_fixed == 0 || on_buggy != 1) {
            result.repro_alone = on_alone;
            result.found = true;
            result.signature = Some(first.signature.clone());
            result.folder = Some(dir);
            result.repro_buggy = Some(on_buggy);
            result.repro_fixed = Some(on_fixed);
            break;
        }
        if !set_aside.contains(&first.signature) {
            set_aside.push(first.signature.clone());
        }
        if !result.other_bugs.contains(&dir) {
            result.other_bugs.push(dir);
        }
    }
    Ok(result)
}

/// The clients a target's farm runs: revm, the buggy release, the fixed one and, where the
/// target declares it, the buggy release with the target's fix alone.
///
/// The fixed release fuzzes too: the target's findings split it from the buggy one ({revm,
/// fixed} against {buggy}), other bugs of the release do not ({revm} against {buggy,
/// fixed}), so minimisation, which keeps a finding's groups, cannot turn the target's
/// finding into a smaller case of another bug both releases share (with revm and the buggy
/// release alone, CVE-2020-26241's finding once minimised into CVE-2021-39137's overlap,
/// which v1.9.17 still has, and was set aside). So does the buggy release with the
/// target's fix alone, where there is one: the fixed release fixed several bugs, whose
/// findings would otherwise share their groups and often their signature (the STATICCALL
/// to MODEXP of two @ethereumjs/evm 2.1.0 bugs), and a signature set aside for one bug
/// then hid the other's findings; with it, the target's findings split the buggy release
/// alone off, the other bugs' findings split it off with its fix.
fn farm_clients(target: &RealTarget) -> Vec<String> {
    let mut clients = vec![HEALTHY.to_owned(), target.buggy(), target.fixed()];
    clients.extend(target.alone());
    clients
}

/// `schism repro DIR --client revm --client RELEASE`: its exit code (-1 when killed by a signal).
fn repro(schism: &Path, dir: &Path, release: &str) -> Result<i32, RealError> {
    let mut command = Command::new(schism);
    command.arg("repro").arg(dir).args(["--client", HEALTHY, "--client", release]);
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let line = format!("{} repro {} --client {HEALTHY} --client {release}", schism.display(), dir.display());
    let status = command.status().map_err(|source| RealError::Repro { command: line, source })?;
    Ok(status.code().unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_farm_runs_the_fix_alone_beside_the_releases_where_a_target_has_one() {
        let clients = |name: &str| farm_clients(&choose(&[name.to_owned()]).expect("known")[0]);
        assert_eq!(clients("geth-cve-2020-26242"), ["revm", "geth@v1.9.17", "geth@v1.9.18"]);
        assert_eq!(
            clients("ethereumjs-7.1.0-modexp-short-input"),
            ["revm", "ethereumjs@7.1.0", "ethereumjs@7.2.0", "ethereumjs@7.1.0+modexp-short-input"]
        );
    }

    #[test]
    fn targets_are_chosen_by_name_and_unknown_ones_are_named() {
        let chosen = choose(&["geth-cve-2020-26242".to_owned()]).expect("known");
        assert_eq!(chosen.len(), 1);
        assert_eq!((chosen[0].buggy(), chosen[0].fixed()), ("geth@v1.9.17".to_owned(), "geth@v1.9.18".to_owned()));
        let Err(error) = choose(&["nope".to_owned()]) else { panic!("accepted an unknown target") };
        assert!(error.to_string().starts_with("unknown target `nope` (known: geth-cve-2020-26241"), "{error}");
    }

    #[test]
    fn a_result_is_confirmed_only_when_it_reproduces_on_the_buggy_release_alone() {
        let result = RealResult {
            target: "t".into(),
            client: "geth".into(),
            version: "v1.9.16".into(),
            fixed: "v1.9.17".into(),
            fork: "Istanbul".into(),
            found: true,
            seconds: 1.0,
            executions: 10,
            signature: None,
            folder: None,
            repro_buggy: Some(1),
            repro_fixed: Some(0),
            repro_alone: None,
            other_bugs: Vec::new(),
            set_aside_runs: 0,
            interrupted: false,
            install_seconds: 0.0,
        };
        assert!(result.confirmed());
        assert!(!RealResult { repro_fixed: Some(1), ..result.clone() }.confirmed(), "the fixed release diverges too");
        assert!(!RealResult { found: false, ..result }.confirmed());
    }
}
