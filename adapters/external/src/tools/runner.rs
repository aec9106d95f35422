//! Clients driven through a runner schism ships (the EVM's package has no state-test runner
//! that reports enough): EELS (`runners/eels/runner.py`, over the `ethereum-execution` package);
//! EthereumJS's runners (`runners/ethereumjs*/runner.mjs`) and py-evm's (`runners/pyevm/runner.py`)
//! are declared in [`super::ethereumjs`] and [`super::pyevm`] and read through [`read`].
//!
//! The protocol, shared by the runners: file paths on stdin, one per line; per case, with
//! `--trace`, EIP-3155 step lines, then one summary line on stdout:
//! `{"name","fork","index","stateRoot","logsHash","gasUsed","status","error"}` where `status` is
//! `success`, `revert`, `halt`, `rejected` or `executed` (ended somehow; EELS without a trace), or
//! `{"fault": "…"}` when the runner could not run the case.

use super::{HistoricalBug, ReleaseError, Tool};
use crate::Feed;
use crate::parse;
use crate::process::{Fault, Launch, Process, Stream};
use crate::reasons;
use crate::t8n::T8n;
use schism_interface::{BlockInput, Case, ErrorClass, Fork, KnownDifference, Outcome, TraceFields, TraceMode};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The EELS release `schism install eels` installs (PyPI `ethereum-execution`).
pub const EELS_PINNED: &str = "2.20.0";

/// The EELS runner, embedded so an environment anywhere can be used.
pub const EELS_RUNNER: &str = include_str!("../../runners/eels/runner.py");

/// The Python execution specs, through schism's runner: the pinned release ([`EELS`]) or one
/// of [`EELS_RELEASES`]. The location is a Python interpreter of an environment with
/// `ethereum-execution` installed.
pub struct Eels {
    /// `eels`, or `eels@X.Y.Z` for a release.
    id: &'static str,
    /// The `ethereum-execution` version installed.
    version: &'static str,
    /// The newest fork the release implements.
    last_fork: Fork,
    /// Whether schism drives its t8n for blocks (checked against that release).
    t8n: bool,
    /// Which trace fields it reports.
    trace_fields: TraceFields,
    /// Whether `eels@X.Y.Z` selects releases of it (the default declaration only).
    releases: bool,
}

/// EELS at the pinned release.
pub static EELS: Eels =
    Eels { id: "eels", version: EELS_PINNED, last_fork: Fork::Osaka, t8n: true, trace_fields: TraceFields::ALL, releases: true };

/// The releases `schism install eels@X.Y.Z` installs beside the pinned one, oldest first, each
/// checked against the real package. The one runner script drives them all (it adapts to the
/// 1.x `run_test_case`, which has no fork cache). When adding one: `pip download
/// ethereum-execution==X.Y.Z --no-deps`, read which forks it has (`ethereum/<fork>/` in 1.x,
/// `ethereum/forks/<fork>/` in 2.x) and its `statetest.run_test_case`, install it and run the
/// shared fixtures of its newest fork through it.
pub static EELS_RELEASES: [Eels; 2] = [
    // Frontier to Prague (`ethereum/prague/`, no Osaka). Its trace steps carry no `returnData`
    // even with `--trace.returndata`. Its t8n is not checked against schism's t8n dialect, so
    // it runs state tests only.
    Eels {
        id: "eels@1.17.0",
        version: "1.17.0",
        last_fork: Fork::Prague,
        t8n: false,
        trace_fields: TraceFields { return_data: false, ..TraceFields::ALL },
        releases: false,
    },
    // Frontier to Osaka (`ethereum/forks/`); the first release after 1.17.0 on PyPI.
    Eels { id: "eels@2.18.0", version: "2.18.0", last_fork: Fork::Osaka, t8n: true, trace_fields: TraceFields::ALL, releases: false },
];

/// Known consensus bugs of EELS releases (targets of `schism selftest --real`).
static EELS_BUGS: [HistoricalBug; 1] = [HistoricalBug {
    name: "eels-1.17.0-delegate-warm-before-authorizations",
    buggy: "1.17.0",
    fixed: "2.18.0",
    fork: Fork::Prague,
    // Read in the 1.17.0 -> 2.18.0 diff: 1.17.0's `prepare_message` resolves the target's
    // delegation (and marks the delegate accessed) before `set_delegation` applies the
    // transaction's authorizations; 2.18.0 resolves it in `process_message_call`, after them.
    // Checked by hand (`tests/data/eels-1.17.0/`): BALANCE of the old delegate costs 100 on
    // 1.17.0, 2600 on 2.18.0, 2.20.0 and revm.
    description: "a set-code transaction to an account already delegated: the pre-state delegate is marked warm \
                  before the transaction's own authorizations re-delegate the account, so accessing the old \
                  delegate costs the warm price",
    link: "https://github.com/ethereum/execution-specs/issues/1256",
    alone: None,
    blocks: false,
}];

/// EELS refuses a proof-of-stake pre-state holding an empty account.
pub const EMPTY_ACCOUNT: KnownDifference = KnownDifference {
    id: "eels-empty-account-pre-state",
    reason: "EELS (1.17.0 to 2.20.0) refuses a pre-state that holds an empty account (no nonce, balance or code) \
             on a proof-of-stake fork, with StateWithEmptyAccount: EIP-7523 says none can exist after the \
             Merge; revm and the other clients execute the case",
    link: "https://eips.ethereum.org/EIPS/eip-7523",
    applies: empty_account_after_merge,
    executed: None,
};

/// True from Paris when an account of the pre-state has no nonce, no balance and no code
/// (storage or not: EELS compares the account without its storage).
fn empty_account_after_merge(case: &Case) -> bool {
    case.fork >= Fork::Paris && case.pre.values().any(|a| a.nonce == 0 && a.balance.is_zero() && a.code.is_empty())
}

/// Where an embedded runner script (`name` is its folder's name, `text` the script) is written
/// for the interpreter to run: a folder of this process in the temporary folder.
pub(crate) fn script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schism-{name}-runner-{}", std::process::id()));
    let path = dir.join("runner.py");
    if std::fs::read_to_string(&path).map_or(true, |t| t != text) {
        // Written to a temporary file and renamed, so a concurrent start never runs half a
        // script. (The engine's `atomic` module does the same; this crate cannot use it.)
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(mut file) = tempfile::NamedTempFile::new_in(&dir)
            && std::io::Write::write_all(&mut file, text.as_bytes()).is_ok()
        {
            let _ = file.persist(&path);
        }
    }
    path
}

/// The EELS runner script, written out.
fn eels_script() -> PathBuf {
    script("eels", EELS_RUNNER)
}

/// A PyPI version number (`1.17.0`).
fn is_pypi_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Tool for Eels {
    fn id(&self) -> &'static str {
        self.id
    }

    fn supports(&self, fork: Fork) -> bool {
        // ethereum-execution implements Frontier up to its newest fork, except Constantinople
        // (only ConstantinopleFix); its statetest tool refuses `Constantinople`.
        fork != Fork::Constantinople && fork <= self.last_fork
    }

    fn feed(&self) -> Feed {
        Feed::Batch
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        let launch = Launch::new(location, [eels_script()]);
        match mode {
            TraceMode::Off => launch,
            TraceMode::Steps => launch.arg("--trace"),
        }
    }

    fn version_launch(&self, location: &Path) -> Launch {
        Launch::new(location, [eels_script()]).arg("--version")
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(child, case, mode, deadline)
    }

    fn startup_grace(&self) -> Duration {
        // Importing the fork modules takes seconds.
        Duration::from_secs(30)
    }

    fn default_timeout(&self) -> Duration {
        // The specification is written for clarity, not speed: heavy cases take tens of seconds.
        Duration::from_secs(120)
    }

    fn trace_fields(&self) -> TraceFields {
        self.trace_fields
    }

    fn unrepresentable(&self, case: &Case) -> Option<&'static str> {
        // The fixture loader raises StateWithEmptyAccount (see [`EMPTY_ACCOUNT`]): the runner
        // would report a fault for a case EELS refuses by design.
        empty_account_after_merge(case).then_some("an empty account in a proof-of-stake pre-state (EIP-7523)")
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        &[EMPTY_ACCOUNT]
    }

    fn t8n(&self, location: &Path) -> Option<T8n> {
        // `ethereum-spec-evm` is this module's console script; through the interpreter it works
        // for any environment, wherever its scripts are.
        self.t8n.then(|| T8n {
            launch: Launch::new(location, ["-m", "ethereum_spec_tools.evm_tools", "t8n"]),
            blob_params: true,
            trace: vec!["--trace".into(), "--trace.returndata".into()],
            feed: crate::t8n::T8nFeed::PerBlock,
            dialect: crate::t8n::Dialect::CURRENT,
        })
    }

    fn no_t8n(&self) -> &'static str {
        "schism drives the t8n of this EELS release for state tests only (its block dialect is not checked)"
    }

    fn t8n_unrepresentable(&self, block: &BlockInput) -> Option<&'static str> {
        // EELS 2.20's t8n pays uncle rewards from `ommer.number` and `ommer.coinbase`, fields
        // its own env reader never sets (it reads `delta` and `address`): any uncle crashes it.
        (!block.ommers.is_empty()).then_some("uncles (EELS's t8n crashes paying uncle rewards)")
    }

    fn install_hint(&self) -> String {
        format!(
            "run `schism install {}` (a virtualenv with ethereum-execution=={}) or pass --client {}=/path/to/venv/bin/python",
            self.id, self.version, self.id
        )
    }

    fn recipe(&self) -> Option<super::Recipe> {
        Some(super::Recipe::Pip { package: "ethereum-execution", version: self.version })
    }

    fn release(&self, version: &str) -> Result<&'static dyn Tool, ReleaseError> {
        if !self.releases {
            return Err(ReleaseError::NotVersioned { tool: self.id });
        }
        let installable = || EELS_RELEASES.iter().map(|r| r.version).collect::<Vec<_>>().join(", ");
        if !is_pypi_version(version) {
            return Err(ReleaseError::NotAVersion {
                tool: self.id,
                version: version.to_owned(),
                form: "MAJOR.MINOR.PATCH as PyPI spells it",
            });
        }
        match EELS_RELEASES.iter().find(|r| r.version == version) {
            Some(release) => Ok(release),
            None => Err(ReleaseError::NoRunner { tool: self.id, version: version.to_owned(), pinned: installable() }),
        }
    }

    fn historical_bugs(&self) -> &'static [HistoricalBug] {
        if self.releases { &EELS_BUGS } else { &[] }
    }
}

/// Reads step lines (in trace mode) up to the summary line of the case.
pub fn read(child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    let mut steps = parse::Steps::new(mode);
    loop {
        let line = child.line(Stream::Stdout, deadline)?;
        let Some(obj) = parse::object(&line) else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(Fault::Malformed { line, reason: "expected a JSON line".to_owned() });
        };
        if steps.take(&obj, &line)? {
            continue;
        }
        if let Some(fault) = obj.get("fault") {
            return Err(Fault::Tool(fault.as_str().map_or_else(|| fault.to_string(), str::to_owned)));
        }
        let mut outcome = summary(&obj, case).map_err(|reason| Fault::Malformed { line: line.clone(), reason })?;
        outcome.trace = steps.finish();
        return Ok(outcome);
    }
}

/// The outcome in a summary line.
pub(crate) fn summary(obj: &Map<String, Value>, case: &Case) -> Result<Outcome, String> {
    if let Some(fork) = obj.get("fork").and_then(Value::as_str)
        && fork.parse::<Fork>().ok() != Some(case.fork)
    {
        return Err(format!("the answer is for fork {fork}, the case is {}", case.fork));
    }
    let state_root = obj.get("stateRoot").and_then(parse::hash).ok_or("no stateRoot")?;
    let message = obj.get("error").and_then(Value::as_str).unwrap_or("");
    let mut outcome = Outcome::root_only(state_root, None);
    outcome.logs_hash = Some(obj.get("logsHash").and_then(parse::hash).ok_or("no logsHash")?);
    outcome.gas_used = Some(obj.get("gasUsed").and_then(parse::quantity).ok_or("no gasUsed")?);
    outcome.status_reported = true;
    outcome.error = match obj.get("status").and_then(Value::as_str).ok_or("no status")? {
        "success" => None,
        "revert" => Some(ErrorClass::Revert),
        "halt" => Some(reasons::halt_class(message)),
        "rejected" => Some(ErrorClass::InvalidTransaction(reasons::rejection_kind(message))),
        "executed" => {
            outcome.status_reported = false;
            None
        }
        other => return Err(format!("unknown status `{other}`")),
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schism_interface::{InvalidTxKind, TxStatus};

    use crate::tools::add11 as case;

    fn line(status: &str, error: &str) -> Map<String, Value> {
        let text = format!(
            r#"{{"name":"add11","fork":"Cancun","index":0,"stateRoot":"0x{}","logsHash":"0x{}","gasUsed":"0xa868","status":"{status}","error":{error}}}"#,
            "11".repeat(32),
            "22".repeat(32)
        );
        parse::object(&text).expect("json")
    }

    #[test]
    fn releases_are_declared_as_data() {
        let old = EELS.release("1.17.0").expect("declared");
        assert_eq!(old.id(), "eels@1.17.0");
        assert!(old.supports(Fork::Prague) && !old.supports(Fork::Osaka) && !old.supports(Fork::Constantinople));
        assert!(old.t8n(Path::new("python")).is_none(), "state tests only");
        assert_eq!(old.recipe(), Some(super::super::Recipe::Pip { package: "ethereum-execution", version: "1.17.0" }));
        assert!(EELS.release("2.18.0").expect("declared").supports(Fork::Osaka));
        assert!(matches!(EELS.release("v1.17.0"), Err(ReleaseError::NotAVersion { .. })));
        assert!(matches!(EELS.release("1.16.0"), Err(ReleaseError::NoRunner { .. })));
        assert!(matches!(old.release("2.18.0"), Err(ReleaseError::NotVersioned { .. })));
        for bug in EELS.historical_bugs() {
            let (buggy, fixed) = (EELS.release(bug.buggy).expect("buggy"), EELS.release(bug.fixed).expect("fixed"));
            assert!(buggy.supports(bug.fork) && fixed.supports(bug.fork), "{}", bug.name);
        }
    }

    #[test]
    fn an_empty_account_after_the_merge_is_a_known_difference() {
        let mut case = case();
        assert!(EELS.unrepresentable(&case).is_none(), "add11 has no empty account");
        let mut pre = (*case.pre).clone();
        pre.insert(alloy_primitives::Address::repeat_byte(0xee), schism_interface::Account::default());
        case.pre = std::sync::Arc::new(pre);
        assert!(EELS.unrepresentable(&case).is_some() && (EMPTY_ACCOUNT.applies)(&case));
        case.fork = Fork::London;
        assert!(EELS.unrepresentable(&case).is_none(), "before the Merge EELS takes it");
    }

    #[test]
    fn summary_lines_are_read() {
        let case = case();
        let ok = summary(&line("success", "null"), &case).expect("ok");
        assert_eq!((ok.gas_used, ok.status()), (Some(0xa868), Some(TxStatus::Success)));
        let halt = summary(&line("halt", "\"out of gas\""), &case).expect("halt");
        assert_eq!(halt.error, Some(ErrorClass::OutOfGas));
        let rejected = summary(&line("rejected", "\"nonce too low\""), &case).expect("rejected");
        assert_eq!(rejected.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceMismatchTooLow)));
        let executed = summary(&line("executed", "null"), &case).expect("executed");
        assert_eq!(executed.status(), None);
        assert!(summary(&line("weird", "null"), &case).is_err());
        let mut other_fork = line("success", "null");
        other_fork.insert("fork".into(), Value::String("Prague".into()));
        assert!(summary(&other_fork, &case).is_err());
    }
}
