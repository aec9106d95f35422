//! besu: Hyperledger Besu's `evmtool state-test`, file names over stdin (batch mode: with no file
//! argument it reads one path per line until end of input).
//!
//! The format comes from besu's `ethereum/evmtool/.../StateTestSubCommand.java` (summary line),
//! `EvmToolCommand.java` (flags) and `evm/.../tracing/StreamingOperationTracer.java` (trace lines).
//! Per case it prints one JSON line on stdout:
//! `{"output":"…","gasUsed":"0x…","time":…,"Mgps":"…","test":"…","fork":"…","d":0,"g":0,"v":0,
//! "stateRoot":"0x…","postLogsHash":"0x…","pass":…}` plus `validationError`/`error` when the
//! transaction is invalid. `gasUsed` is the gas charged to the sender (after refunds and the
//! EIP-7623 floor; a number in older builds, hex with EIP-3155 strictness, the default now).
//! With `--json`, EIP-3155 step lines precede it on stdout (besu prints no per-transaction end
//! line). Unreadable files print `File not found: …` or `File content error: …` on stdout.
//!
//! Reported: root, logs hash, gas used, rejection with its reason. How an executed transaction
//! ended (success, revert, halt) is not reported.
//!
//! Quirk: besu skips, silently and without output, a transaction whose gas limit exceeds the
//! block's; such cases are refused as unrepresentable instead of timing out.

use super::Tool;
use crate::Feed;
use crate::parse;
use crate::process::{Fault, Launch, Process, Stream};
use crate::reasons;
use schism_interface::{Case, ErrorClass, Fork, InvalidTxKind, Outcome, TraceMode};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Hyperledger Besu's `evmtool`.
pub struct Besu;

impl Tool for Besu {
    fn id(&self) -> &'static str {
        "besu"
    }

    fn supports(&self, _fork: Fork) -> bool {
        // ReferenceTestProtocolSchedules knows every fixture fork name, Frontier..Osaka.
        true
    }

    fn feed(&self) -> Feed {
        Feed::Batch
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        // The trace options are inherited by the subcommand but, as goevmlab does, given before
        // it; memory stays off (the default), return data on.
        match mode {
            TraceMode::Off => Launch::new(location, ["state-test"]),
            TraceMode::Steps => Launch::new(location, ["--json", "--trace.returndata", "state-test"]),
        }
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(child, case, mode, deadline)
    }

    fn unrepresentable(&self, case: &Case) -> Option<&'static str> {
        (case.tx.gas_limit > case.env.current_gas_limit)
            .then_some("a transaction gas limit above the block's (evmtool state-test skips such cases without output)")
    }

    fn default_timeout(&self) -> Duration {
        // A JVM: the first cases run interpreted.
        Duration::from_secs(20)
    }

    fn startup_grace(&self) -> Duration {
        // The JVM starts and loads the protocol schedules before the first case.
        Duration::from_secs(30)
    }

    fn install_hint(&self) -> String {
        "no registry ships besu's evmtool: build it from github.com/hyperledger/besu with \
         `./gradlew :ethereum:evmtool:installDist` and pass --client besu=/path/to/ethereum/evmtool/build/install/evmtool/bin/evmtool"
            .to_owned()
    }

    fn locate(&self, _tools: &Path) -> Option<std::path::PathBuf> {
        // No registry ships it: found on PATH, or given as --client besu=/path.
        super::on_path("evmtool")
    }

    fn own_commands(&self) -> super::OwnCommands {
        super::OwnCommands { program: "evmtool", statetest: Some("{tool} state-test {case}"), blocktest: None }
    }
}

/// Reads trace lines (in trace mode) up to the case's summary line.
fn read(child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    let mut steps = parse::Steps::new(mode);
    loop {
        let line = child.line(Stream::Stdout, deadline)?;
        let Some(obj) = parse::object(&line) else {
            if line.starts_with("File not found") || line.starts_with("File content error") {
                return Err(Fault::Tool(format!("besu: {line}")));
            }
            if line.trim().is_empty() {
                continue;
            }
            return Err(Fault::Malformed { line, reason: "expected a JSON line".to_owned() });
        };
        if steps.take(&obj, &line)? {
            continue;
        }
        // The summary names the test; `{"error":"Transaction was invalid, trace and alloc
        // unavailable."}` (trace mode, a transaction besu cannot build) precedes one.
        if !obj.contains_key("test") {
            continue;
        }
        let mut outcome = summary(&obj, case).map_err(|fault| match fault {
            Summary::Tool(reason) => Fault::Tool(reason),
            Summary::Malformed(reason) => Fault::Malformed { line: line.clone(), reason },
        })?;
        outcome.trace = steps.finish();
        return Ok(outcome);
    }
}

/// Why a summary line gives no outcome.
#[derive(Debug)]
enum Summary {
    /// besu could not run the case.
    Tool(String),
    /// The line is not what StateTestSubCommand prints.
    Malformed(String),
}

/// The outcome in a summary line.
fn summary(obj: &Map<String, Value>, case: &Case) -> Result<Outcome, Summary> {
    let text = |key: &str| obj.get(key).and_then(Value::as_str);
    if let Some(fork) = text("fork")
        && fork != case.fork.name()
    {
        return Err(Summary::Malformed(format!("the answer is for fork {fork}, the case is {}", case.fork)));
    }
    let Some(state_root) = obj.get("stateRoot").and_then(parse::hash) else {
        // Without a root: the transaction could not be built from the file.
        return Err(match text("validationError") {
            Some(reason) => Summary::Tool(format!("besu: {reason}")),
            None => Summary::Malformed("no stateRoot".to_owned()),
        });
    };
    let mut outcome = Outcome::root_only(state_root, None);
    outcome.logs_hash = Some(obj.get("postLogsHash").and_then(parse::hash).ok_or(Summary::Malformed("no postLogsHash".to_owned()))?);
    match text("error") {
        Some(internal) if internal.starts_with("Internal Error") => return Err(Summary::Tool(format!("besu: {internal}"))),
        Some(reason) => {
            outcome.error = Some(ErrorClass::InvalidTransaction(rejection_kind(reason)));
            outcome.gas_used = Some(0);
        }
        None => outcome.gas_used = Some(obj.get("gasUsed").and_then(parse::quantity).ok_or(Summary::Malformed("no gasUsed".to_owned()))?),
    }
    Ok(outcome)
}

/// besu's validation messages (`MainnetTransactionValidator.java`) the shared table does not
/// name, most specific first.
const REJECTIONS: &[(&str, InvalidTxKind)] = &[
    ("nonce must be less than 2^64-1", InvalidTxKind::NonceIsMax),
    ("below sender account nonce", InvalidTxKind::NonceMismatchTooLow),
    ("does not match sender account nonce", InvalidTxKind::NonceMismatchTooHigh),
    ("transaction gas limit must be at most", InvalidTxKind::GasLimitExceedsMaximum),
    ("initcode size of", InvalidTxKind::InitcodeSizeExceeded),
    ("non-empty code delegation list", InvalidTxKind::Type4EmptyAuthorizationList),
    ("code delegation transactions must have a to address", InvalidTxKind::Type4ContractCreation),
    ("blob transactions must have a to address", InvalidTxKind::Type3ContractCreation),
    ("must specify one or more versioned hashes", InvalidTxKind::Type3ZeroBlobs),
    ("commitment version is not supported", InvalidTxKind::Type3InvalidBlobVersionedHash),
    ("exceeds max blob gas per block", InvalidTxKind::Type3MaxBlobGasAllowanceExceeded),
    ("less than block blob gas fee", InvalidTxKind::InsufficientMaxFeePerBlobGas),
    ("gasprice is less than the current basefee", InvalidTxKind::InsufficientMaxFeePerGas),
    ("transaction price must be greater than base fee", InvalidTxKind::InsufficientMaxFeePerGas),
    ("max priority fee per gas cannot be greater than max fee per gas", InvalidTxKind::PriorityGreaterThanMaxFee),
    ("upfront gas cost cannot exceed 2^256", InvalidTxKind::GasLimitPriceProductOverflow),
    ("exceeds transaction sender account balance", InvalidTxKind::InsufficientAccountFunds),
    ("has deployed code and so is not authorized", InvalidTxKind::SenderNotEoa),
    ("is invalid, accepted transaction types are", InvalidTxKind::TypeNotSupported),
];

/// The kind of a besu validation message.
fn rejection_kind(message: &str) -> InvalidTxKind {
    let lower = message.to_ascii_lowercase();
    REJECTIONS.iter().find(|(fragment, _)| lower.contains(fragment)).map_or_else(|| reasons::rejection_kind(message), |(_, k)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tools::add11 as case;

    fn line(extra: &str) -> Map<String, Value> {
        let text = format!(
            r#"{{"output":"","gasUsed":"0xa868","time":1,"Mgps":"1.0","test":"add11","fork":"Cancun","d":0,"g":0,"v":0,"stateRoot":"0x{}","postLogsHash":"0x{}","pass":false{extra}}}"#,
            "11".repeat(32),
            "22".repeat(32)
        );
        parse::object(&text).expect("json")
    }

    #[test]
    fn summary_lines_are_read() {
        let case = case();
        let ok = summary(&line(""), &case).expect("ok");
        assert_eq!((ok.gas_used, ok.status(), ok.logs_hash.is_some()), (Some(0xa868), None, true));
        let rejected = summary(
            &line(r#","validationError":"transaction nonce 1 does not match sender account nonce 0 for sender 0xa9","error":"transaction nonce 1 does not match sender account nonce 0 for sender 0xa9""#),
            &case,
        )
        .expect("rejected");
        assert_eq!(rejected.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceMismatchTooHigh)));
        assert_eq!(rejected.gas_used, Some(0));
        assert!(matches!(summary(&line(r#","error":"Internal Error in Besu - boom""#), &case), Err(Summary::Tool(_))));
        let unbuildable = parse::object(
            r#"{"test":"add11","fork":"Cancun","d":0,"g":0,"v":0,"pass":false,"validationError":"Transaction had out-of-bounds parameters"}"#,
        )
        .expect("json");
        assert!(matches!(summary(&unbuildable, &case), Err(Summary::Tool(_))));
        let mut other_fork = line("");
        other_fork.insert("fork".into(), Value::String("Prague".into()));
        assert!(matches!(summary(&other_fork, &case), Err(Summary::Malformed(_))));
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            rejection_kind("transaction up-front cost 0x1 exceeds transaction sender account balance 0x0 for sender 0xa9"),
            InvalidTxKind::InsufficientAccountFunds
        );
        assert_eq!(rejection_kind("intrinsic gas cost 21000 exceeds gas limit 20000"), InvalidTxKind::IntrinsicGasTooLow);
        assert_eq!(rejection_kind("transaction was meant for chain id 2 and not this chain id 1"), InvalidTxKind::ChainIdMismatch);
    }
}
