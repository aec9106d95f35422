//! nethermind: `nethtest` (Nethermind.Test.Runner) with `--stateTest --stdin`, file names over
//! stdin (batch mode: it reads paths until an empty line or end of input).
//!
//! The format comes from Nethermind's `src/Nethermind/Nethermind.Test.Runner/Program.cs` (flags,
//! stdin loop), `StateTestRunner.cs` (what goes to which stream), `StateTestTxTracer.cs` and
//! `StateTestTxTraceResult.cs` (trace lines) and `Ethereum.Test.Base/GeneralStateTestBase.cs`
//! (the result). Per file it writes on stdout a pretty-printed array of results
//! (`name`, `pass`, `fork`, `stateRoot`, `error`) with `Console.Out.Write`, so without a final
//! newline; and, when tracing, on stderr one line per step
//! (`{"pc","op","gas","gasCost","stack","depth","memSize","error"?}`, no refund or return data),
//! then `{"output":"0x…","gasUsed":…,"time":…,"error":"…"}` for the transaction and
//! `{"stateRoot":"0x…"}`. Newer builds add a `PROGRESS [n/m]` or `FAIL …` line on stderr.
//!
//! The tool always runs with `--trace` (memory off): the stderr lines are newline-terminated
//! and end every case on every version, where the stdout array's closing bracket only arrives
//! with the next case's output. The trace's transaction line says how it ended: its `error`
//! (`OutOfGas`, `BadInstruction`, …, or the revert) for a failed one; no `output` at all when
//! the transaction was rejected before execution (the tracer was never told; the reason is not
//! printed). Its `gasUsed` leaves out intrinsic gas, so gas used is not reported, nor the logs.
//!
//! Reported: root, rejection (without its reason), how an executed transaction ended, trace.

use super::Tool;
use crate::Feed;
use crate::parse;
use crate::process::{Fault, Launch, Process, Stream};
use crate::reasons;
use schism_interface::{Case, ErrorClass, Fork, InvalidTxKind, Outcome, TraceMode};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Nethermind's `nethtest`.
pub struct Nethermind;

impl Tool for Nethermind {
    fn id(&self) -> &'static str {
        "nethermind"
    }

    fn supports(&self, _fork: Fork) -> bool {
        // JsonToEthereumTest.ParseSpec knows Frontier..Osaka; MuirGlacier is renamed, see
        // `fork_name`.
        true
    }

    fn feed(&self) -> Feed {
        Feed::Batch
    }

    fn launch(&self, location: &Path, _mode: TraceMode) -> Launch {
        // Long option names: `-s` meant `--stateTest` in older builds and `--stack` (exclude the
        // stack) in newer ones. `--memory` excludes memory from the trace.
        Launch::new(location, ["--stateTest", "--stdin", "--trace", "--memory"])
    }

    fn stderr_is_output(&self) -> bool {
        true
    }

    fn fork_name(&self, fork: Fork) -> &'static str {
        // ParseSpec has no MuirGlacier, which only moves the difficulty bomb.
        match fork {
            Fork::MuirGlacier => Fork::Istanbul.name(),
            other => other.name(),
        }
    }

    fn read(&self, child: &mut Process, _case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(child, mode, deadline)
    }

    fn default_timeout(&self) -> Duration {
        // .NET: the first cases run before the JIT has optimised the interpreter.
        Duration::from_secs(20)
    }

    fn startup_grace(&self) -> Duration {
        // .NET starts and initialises KZG before the first case.
        Duration::from_secs(30)
    }

    fn install_hint(&self) -> String {
        "no registry ships nethtest: build it from github.com/NethermindEth/nethermind with \
         `dotnet publish src/Nethermind/Nethermind.Test.Runner -c Release -o out` and pass --client nethermind=/path/to/out/nethtest"
            .to_owned()
    }

    fn locate(&self, _tools: &Path) -> Option<std::path::PathBuf> {
        // No registry ships it: found on PATH, or given as --client nethermind=/path.
        super::on_path("nethtest")
    }

    fn own_commands(&self) -> super::OwnCommands {
        super::OwnCommands { program: "nethtest", statetest: Some("{tool} --input {case}"), blocktest: None }
    }
}

/// Reads the case's stderr up to its root line (trace steps and the transaction line before
/// it), then its result array on stdout.
fn read(child: &mut Process, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    let mut steps = parse::Steps::new(mode);
    let mut ending = None;
    let state_root = loop {
        let line = child.line(Stream::Stderr, deadline)?;
        // PROGRESS / FAIL lines and log output are noise.
        let Some(obj) = parse::object(&line) else { continue };
        if steps.take(&obj, &line)? {
            continue;
        }
        if let Some(root) = parse::state_root_line(&line) {
            break root;
        } else if obj.contains_key("gasUsed") {
            ending = Some(obj);
        }
    };
    let result = result_array(child, deadline)?;
    if let Some(failure) = result.get("loadFailure").and_then(Value::as_str) {
        return Err(Fault::Tool(format!("nethermind: {failure}")));
    }
    // The result's `fork` is not checked: it is the runner's name for the spec, which need not
    // be the file's spelling.
    if let Some(root) = result.get("stateRoot").and_then(parse::hash)
        && root != state_root
    {
        return Err(Fault::Malformed { line: Value::Object(result).to_string(), reason: "stdout root differs from stderr's".to_owned() });
    }
    let mut outcome = Outcome::root_only(state_root, None);
    if let Some(ending) = &ending {
        ended(&mut outcome, ending);
    }
    outcome.trace = steps.finish();
    Ok(outcome)
}

/// How the transaction line says the transaction ended.
fn ended(outcome: &mut Outcome, line: &Map<String, Value>) {
    let error = line.get("error").and_then(Value::as_str).filter(|e| !e.is_empty());
    outcome.status_reported = true;
    outcome.error = match (line.contains_key("output"), error) {
        // The tracer was never told about the transaction: validation rejected it.
        (false, _) => Some(ErrorClass::InvalidTransaction(InvalidTxKind::Unknown)),
        (true, None) => None,
        (true, Some(error)) => Some(ended_with(error)),
    };
    if matches!(outcome.error, Some(ErrorClass::InvalidTransaction(_))) {
        outcome.gas_used = Some(0);
    }
}

/// The class of the error a failed transaction line carries: a rejection in builds whose
/// validation still reported to the tracer (`QuickFail`), else the halt of the last step.
fn ended_with(error: &str) -> ErrorClass {
    let lower = error.to_ascii_lowercase();
    if let Some((_, kind)) = REJECTIONS.iter().find(|(fragment, _)| lower.contains(fragment)) {
        return ErrorClass::InvalidTransaction(*kind);
    }
    HALTS.iter().find(|(word, _)| lower.contains(word)).map_or_else(|| reasons::halt_class(error), |(_, c)| *c)
}

/// `QuickFail` messages of older builds (TransactionProcessor.cs before validation stopped
/// reporting to the tracer).
const REJECTIONS: &[(&str, InvalidTxKind)] = &[
    ("sender not specified", InvalidTxKind::Unknown),
    ("miner premium is negative", InvalidTxKind::InsufficientMaxFeePerGas),
    ("insufficient sender balance", InvalidTxKind::InsufficientAccountFunds),
    ("gas limit below intrinsic gas", InvalidTxKind::IntrinsicGasTooLow),
    ("block gas limit exceeded", InvalidTxKind::GasAllowanceExceeded),
    ("wrong transaction nonce", InvalidTxKind::Unknown),
    ("sender has deployed code", InvalidTxKind::SenderNotEoa),
];

/// StateTestTxTracer's error words (`GetErrorDescription`) the shared table does not know.
const HALTS: &[(&str, ErrorClass)] = &[
    ("badinstruction", ErrorClass::InvalidOpcode),
    ("badjumpdestination", ErrorClass::InvalidJump),
    // RETURNDATACOPY beyond the return data.
    ("accessviolation", ErrorClass::ReturnDataOutOfBounds),
    ("staticcallviolation", ErrorClass::StaticStateChange),
];

/// The one result of the stdout array. nethtest writes the array without a final newline, so
/// its closing bracket arrives at the head of the next case's output (`][`): a leading `]` is
/// dropped, and the array is taken as complete once its object is.
fn result_array(child: &mut Process, deadline: Instant) -> Result<Map<String, Value>, Fault> {
    let mut text = String::new();
    loop {
        let line = child.line(Stream::Stdout, deadline)?;
        let line = if text.is_empty() { line.trim_start().trim_start_matches(']').to_owned() } else { line };
        if text.is_empty() && !line.trim_start().starts_with('[') {
            continue; // the previous array's bracket on a line of its own, or log output
        }
        text.push_str(&line);
        text.push('\n');
        // Closed by the bracket that is still to come, the text must hold the result (not `[]`).
        let closed = || serde_json::from_str::<Value>(&format!("{text}]")).ok().filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
        let parsed = serde_json::from_str::<Value>(&text).ok().or_else(closed);
        match parsed {
            Some(Value::Array(items)) => {
                return match <[Value; 1]>::try_from(items) {
                    Ok([Value::Object(one)]) => Ok(one),
                    _ => Err(Fault::Malformed {
                        line: crate::process::clip(&text),
                        reason: "expected one result for a single-case file".to_owned(),
                    }),
                };
            }
            Some(_) => return Err(Fault::Malformed { line: crate::process::clip(&text), reason: "expected an array".to_owned() }),
            None => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    #[test]
    fn transaction_lines_are_read() {
        let mut outcome = Outcome::root_only(B256::ZERO, None);
        ended(&mut outcome, &parse::object(r#"{"output":"0x","gasUsed":"0x5","time":1.5}"#).expect("json"));
        assert_eq!((outcome.error, outcome.status_reported), (None, true));
        ended(&mut outcome, &parse::object(r#"{"output":"0x","gasUsed":"0x5","time":1.5,"error":"BadJumpDestination"}"#).expect("json"));
        assert_eq!(outcome.error, Some(ErrorClass::InvalidJump));
        ended(&mut outcome, &parse::object(r#"{"output":"0x","gasUsed":"0x5","error":"OutOfGas"}"#).expect("json"));
        assert_eq!(outcome.error, Some(ErrorClass::OutOfGas));
        ended(&mut outcome, &parse::object(r#"{"gasUsed":-21000,"time":0.1}"#).expect("json"));
        assert_eq!((outcome.error, outcome.gas_used), (Some(ErrorClass::InvalidTransaction(InvalidTxKind::Unknown)), Some(0)));
        assert_eq!(ended_with("insufficient sender balance"), ErrorClass::InvalidTransaction(InvalidTxKind::InsufficientAccountFunds));
    }
}
