//! evmone: `evmone-statetest`, the GoogleTest-based state-test runner of ethereum/evmone, one
//! process per case (it has no stdin mode; the file is its positional argument).
//!
//! The formats come from evmone's `test/statetest/statetest.cpp` (flags), `statetest_runner.cpp`
//! (the summary line and the checks) and `lib/evmone/tracing.cpp` (trace lines), as of v0.15.
//! The tool is always started with `--trace-summary` (or `--trace`, which implies it): per case it
//! prints on stderr `{"pass":true,"gasUsed":"0x…","stateRoot":"0x…"}` for an executed transaction
//! (`"pass":false,"error":"<evmc status>"` when it did not succeed) and `{"stateRoot":"0x…"}` alone
//! for a rejected one. On stdout GoogleTest reports the file's checks: the case is written without
//! `expectException`, so a rejection fails with `unexpected invalid transaction: <reason>`, and the
//! logs check fails with the actual hash (`Which is: 0x…`) when it differs from the file's (always
//! when the case has no expectation: the file then carries zero hashes). With `--trace`, EIP-3155
//! lines (`gasCost` is the opcode's static cost, `refund` and `returnData` present) precede the
//! summary on stderr.
//!
//! Reported: root, logs hash, gas used and how the transaction ended (rejection reason included).
//!
//! MODEXP: without GMP (`-DEVMONE_PRECOMPILES_GMP=ON`) evmone looks MODEXP results up in a table
//! of the inputs that occur in ethereum/tests (`test/state/precompiles_stubs.cpp`) and returns
//! zeros for any other input; releases up to v0.15 do so for every input, later builds only for
//! operands above 1024 bytes. [`MODEXP_STUB`] recognises transactions sent straight to the
//! precompile; a call to 0x05 from contract code is not recognised (it cannot be seen without
//! executing), so build with GMP to compare MODEXP-heavy cases.

use super::Tool;
use crate::Feed;
use crate::parse;
use crate::process::{Fault, Launch, Process, Stream};
use crate::reasons;
use alloy_primitives::{Address, B256};
use schism_interface::{Case, ErrorClass, Fork, InvalidTxKind, KnownDifference, Outcome, TraceMode};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::Instant;

/// ethereum/evmone's `evmone-statetest`.
pub struct Evmone;

/// evmone's departures from the specification in its default build.
pub static KNOWN_DIFFERENCES: &[KnownDifference] = &[MODEXP_STUB];

/// MODEXP is a lookup table unless evmone is built with GMP.
pub const MODEXP_STUB: KnownDifference = KnownDifference {
    id: "evmone-modexp-stub",
    reason: "evmone-statetest built without EVMONE_PRECOMPILES_GMP answers MODEXP from a table of the \
             inputs in ethereum/tests and returns zeros for any other input (every input up to v0.15, \
             operands above 1024 bytes after); only transactions sent straight to 0x05 are recognised",
    link: "https://github.com/ethereum/evmone/blob/master/test/state/precompiles_stubs.cpp",
    applies: calls_modexp_directly,
    executed: None,
};

/// The MODEXP precompile's address.
const MODEXP: Address = Address::new([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);

/// True when the transaction itself calls MODEXP (a call from contract code is not visible
/// without executing it).
fn calls_modexp_directly(case: &Case) -> bool {
    case.tx.to == Some(MODEXP)
}

impl Tool for Evmone {
    fn id(&self) -> &'static str {
        "evmone"
    }

    fn supports(&self, _fork: Fork) -> bool {
        // Frontier..Osaka (Osaka since master after v0.15); the glacier forks run as their
        // predecessors, see `fork_name`.
        true
    }

    fn feed(&self) -> Feed {
        Feed::PerCase
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        // `--trace` implies the summary; the two flags exclude each other.
        match mode {
            TraceMode::Off => Launch::new(location, ["--trace-summary"]),
            TraceMode::Steps => Launch::new(location, ["--trace"]),
        }
    }

    fn stderr_is_output(&self) -> bool {
        true
    }

    fn fork_name(&self, fork: Fork) -> &'static str {
        // evmone's `to_rev` (test/utils/utils.cpp) has no MuirGlacier or GrayGlacier; both only
        // move the difficulty bomb, which a state test does not see.
        match fork {
            Fork::MuirGlacier => Fork::Istanbul.name(),
            Fork::GrayGlacier => Fork::London.name(),
            other => other.name(),
        }
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(child, case, mode, deadline)
    }

    fn install_hint(&self) -> String {
        "no registry ships evmone-statetest: build it from github.com/ethereum/evmone with \
         `cmake -S . -B build -DEVMONE_TESTING=ON -DEVMONE_PRECOMPILES_GMP=ON && cmake --build build --target evmone-statetest` \
         (without GMP, MODEXP is a lookup table) and pass --client evmone=/path/to/build/bin/evmone-statetest"
            .to_owned()
    }

    fn locate(&self, _tools: &Path) -> Option<std::path::PathBuf> {
        // No registry ships it: found on PATH, or given as --client evmone=/path.
        super::on_path("evmone-statetest")
    }

    fn own_commands(&self) -> super::OwnCommands {
        super::OwnCommands { program: "evmone-statetest", statetest: Some("{tool} {case}"), blocktest: None }
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        KNOWN_DIFFERENCES
    }
}

/// What GoogleTest said about the file's checks.
#[derive(Debug, Default, PartialEq)]
struct Checks {
    /// The reason of an `unexpected invalid transaction`.
    rejection: Option<String>,
    /// The logs check failed.
    logs_failed: bool,
    /// The actual logs hash, when the logs check failed and printed it.
    logs: Option<B256>,
}

/// Reads GoogleTest's report of the one test on stdout, then the summary (and trace) on stderr.
fn read(child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    let mut report = Vec::new();
    // The test's verdict line closes its report.
    loop {
        let line = child.line(Stream::Stdout, deadline)?;
        if line.starts_with("[       OK ]") || line.starts_with("[  FAILED  ]") {
            break;
        }
        if line.starts_with("[  SKIPPED ]") {
            return Err(Fault::Tool(format!("evmone skipped the case: {line}")));
        }
        report.push(line);
    }
    let checks = checks(&report)?;
    let mut steps = parse::Steps::new(mode);
    let summary = loop {
        let line = child.line(Stream::Stderr, deadline)?;
        // Anything else on stderr is noise (e.g. `expmod: no result for …` from the MODEXP stub).
        let Some(obj) = parse::object(&line) else { continue };
        if steps.take(&obj, &line)? {
            continue;
        }
        if obj.contains_key("stateRoot") {
            break (line, obj);
        }
    };
    let (line, obj) = summary;
    let mut outcome = interpret(case, &obj, &checks).map_err(|reason| Fault::Malformed { line, reason })?;
    outcome.trace = steps.finish();
    Ok(outcome)
}

/// The checks in GoogleTest's report (the lines between `[ RUN      ]` and the verdict). A C++
/// exception (a file evmone cannot load, an unknown fork) is the tool failing on the case.
fn checks(report: &[String]) -> Result<Checks, Fault> {
    const REJECTION: &str = "unexpected invalid transaction: ";
    if let Some(exception) = report.iter().find(|l| l.contains("C++ exception")) {
        return Err(Fault::Tool(format!("evmone: {}", exception.trim())));
    }
    let rejection = report.iter().find_map(|l| l.split_once(REJECTION).map(|(_, reason)| reason.trim().to_owned()));
    // `EXPECT_EQ(logs_hash(…), expected.logs_hash)` prints the expression, then `Which is: 0x…`.
    let at = report.iter().position(|l| l.trim_start().starts_with("logs_hash("));
    let logs = at
        .and_then(|at| report.get(at + 1))
        .and_then(|l| l.trim().strip_prefix("Which is: "))
        .and_then(|h| parse::hash(&Value::String(h.to_owned())));
    Ok(Checks { rejection, logs_failed: at.is_some(), logs })
}

/// The outcome from the summary line and the checks.
fn interpret(case: &Case, summary: &Map<String, Value>, checks: &Checks) -> Result<Outcome, String> {
    let state_root = summary.get("stateRoot").and_then(parse::hash).ok_or("no stateRoot")?;
    let expected_logs = case.expected.as_ref().map(|e| e.logs);
    let mut outcome = Outcome::root_only(state_root, None);
    outcome.status_reported = true;
    match summary.get("pass") {
        // No `pass`: the transaction was not valid (the runner prints the receipt fields only for
        // a valid one).
        None => {
            let kind = checks.rejection.as_deref().map_or(InvalidTxKind::Unknown, rejection_kind);
            outcome.error = Some(ErrorClass::InvalidTransaction(kind));
            outcome.gas_used = Some(0);
            outcome.logs_hash = Some(schism_interface::state::logs_hash(&[]));
        }
        Some(pass) => {
            if let Some(reason) = &checks.rejection {
                return Err(format!("the summary says executed, the checks say rejected ({reason})"));
            }
            outcome.gas_used = Some(summary.get("gasUsed").and_then(parse::quantity).ok_or("no gasUsed")?);
            outcome.error = match pass.as_bool().ok_or("`pass` is not a boolean")? {
                true => None,
                false => Some(halt_class(summary.get("error").and_then(Value::as_str).unwrap_or(""))),
            };
            // The logs are the file's unless their check failed (then it printed the actual hash;
            // without an expectation the file's zero hash always fails the check).
            outcome.logs_hash = if checks.logs_failed { checks.logs } else { expected_logs };
        }
    }
    Ok(outcome)
}

/// evmone's rejection messages (`test/state/errors.hpp`) the shared table does not name.
const REJECTIONS: &[(&str, InvalidTxKind)] = &[
    ("max blob fee per gas less than block base fee", InvalidTxKind::InsufficientMaxFeePerBlobGas),
    ("empty blob hashes list", InvalidTxKind::Type3ZeroBlobs),
    ("invalid blob hash version", InvalidTxKind::Type3InvalidBlobVersionedHash),
    ("blob gas limit exceeded", InvalidTxKind::Type3MaxBlobGasAllowanceExceeded),
    ("blob transaction must not be a create transaction", InvalidTxKind::Type3ContractCreation),
    ("set code transaction must not be a create transaction", InvalidTxKind::Type4ContractCreation),
    ("empty authorization list", InvalidTxKind::Type4EmptyAuthorizationList),
    ("max gas limit exceeded", InvalidTxKind::GasLimitExceedsMaximum),
];

/// The kind of an evmone rejection message.
fn rejection_kind(message: &str) -> InvalidTxKind {
    let lower = message.to_ascii_lowercase();
    REJECTIONS.iter().find(|(fragment, _)| lower.contains(fragment)).map_or_else(|| reasons::rejection_kind(message), |(_, k)| *k)
}

/// evmone prints the top frame's `evmc_status_code` in words (evmc's `to_string`); the words the
/// shared table does not know.
const HALTS: &[(&str, ErrorClass)] = &[
    ("invalid instruction", ErrorClass::InvalidOpcode),
    ("bad jump destination", ErrorClass::InvalidJump),
    // RETURNDATACOPY beyond the return data.
    ("invalid memory access", ErrorClass::ReturnDataOutOfBounds),
    ("static mode violation", ErrorClass::StaticStateChange),
    // Code deposit of 0xEF-prefixed code (EIP-3541).
    ("contract validation failure", ErrorClass::InvalidCodePrefix),
];

/// The class of an evmone status word.
fn halt_class(status: &str) -> ErrorClass {
    HALTS.iter().find(|(word, _)| status.contains(word)).map_or_else(|| reasons::halt_class(status), |(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tools::add11 as case;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn googletest_reports_are_read() {
        let rejected = lines(
            "statetest_runner.cpp:62: Failure\nValue of: holds_alternative<state::TransactionReceipt>(res)\n  Actual: false\nExpected: true\nunexpected invalid transaction: nonce too high",
        );
        assert_eq!(checks(&rejected).expect("read").rejection.as_deref(), Some("nonce too high"));
        let logs = lines(&format!(
            "x.cpp:66: Failure\nExpected equality of these values:\n  logs_hash(get<state::TransactionReceipt>(res).logs)\n    Which is: 0x{}\n  expected.logs_hash\n    Which is: 0x{}",
            "ab".repeat(32),
            "00".repeat(32)
        ));
        let read = checks(&logs).expect("read");
        assert!(read.logs_failed);
        assert_eq!(read.logs, Some(B256::repeat_byte(0xab)));
        let exception = lines("unknown file: Failure\nC++ exception with description \"unknown revision: X\" thrown in the test body.");
        assert!(matches!(checks(&exception), Err(Fault::Tool(_))));
    }

    #[test]
    fn summaries_are_read() {
        let case = case();
        let expected = case.expected.clone().expect("filled");
        let ok = parse::object(&format!(r#"{{"pass":true,"gasUsed":"0xa868","stateRoot":"{}"}}"#, expected.hash)).expect("json");
        let outcome = interpret(&case, &ok, &Checks::default()).expect("ok");
        assert_eq!((outcome.gas_used, outcome.logs_hash, outcome.error), (Some(0xa868), Some(expected.logs), None));
        let halted = parse::object(r#"{"pass":false,"error":"bad jump destination","gasUsed":"0x61a80","stateRoot":"0x1111111111111111111111111111111111111111111111111111111111111111"}"#).expect("json");
        let outcome = interpret(&case, &halted, &Checks::default()).expect("halted");
        assert_eq!(outcome.error, Some(ErrorClass::InvalidJump));
        let rejected = parse::object(&format!(r#"{{"stateRoot":"{}"}}"#, expected.hash)).expect("json");
        let checks = Checks { rejection: Some("max blob fee per gas less than block base fee".into()), ..Checks::default() };
        let outcome = interpret(&case, &rejected, &checks).expect("rejected");
        assert_eq!(outcome.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::InsufficientMaxFeePerBlobGas)));
        assert!(interpret(&case, &ok, &checks).is_err(), "executed and rejected at once");
    }

    #[test]
    fn modexp_cases_are_recognised() {
        let mut case = case();
        assert!(!calls_modexp_directly(&case));
        case.tx.to = Some(MODEXP);
        assert!(calls_modexp_directly(&case));
    }
}
