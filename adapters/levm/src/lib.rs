//! # schism-levm
//!
//! The levm adapter: executes schism cases in-process with crates.io `ethrex-levm`, lambdaclass's
//! EVM, for the post-Merge forks it implements (Paris to Osaka).

mod input;
mod output;

use ethrex_common::tracing::{CallTraceFrame, OpcodeStep};
use ethrex_common::types::Transaction as LevmTx;
use ethrex_levm::Environment;
use ethrex_levm::db::gen_db::GeneralizedDatabase;
use ethrex_levm::errors::TxResult;
use ethrex_levm::errors::{ExecutionReport, VMError};
use ethrex_levm::tracing::{LevmCallTracer, LevmOpcodeTracer, OpcodeTracerConfig};
use ethrex_levm::vm::{VM, VMType};
use input::Refusal;
use schism_interface::alloy_primitives::Bytes;
use schism_interface::{Case, Client, ClientError, Fork, KnownDifference, Outcome, SystemCall, SystemOutcome, TraceMode};
use std::sync::Arc;

/// The ethrex-levm crate version this adapter is built against.
pub const LEVM_VERSION: &str = "31.0.0";

/// The levm client.
#[derive(Debug, Default, Clone, Copy)]
pub struct Levm;

impl Levm {
    /// A levm client.
    pub fn new() -> Levm {
        Levm
    }
}

/// What one levm run hands back: the report (or the VM's error), the call tree (for the
/// EIP-161 touched set) and the EIP-3155 steps when tracing.
struct Run {
    report: Result<ExecutionReport, VMError>,
    calls: Option<CallTraceFrame>,
    steps: Option<Vec<OpcodeStep>>,
}

/// Builds the VM over `db` and executes the transaction. `track_touches` turns on levm's call
/// tracer, from which the adapter learns which accounts the transaction touched (EIP-161).
fn run(db: &mut GeneralizedDatabase, env: Environment, tx: &LevmTx, mode: TraceMode, track_touches: bool) -> Run {
    let tracer = if track_touches { LevmCallTracer::new(false, false, 0) } else { LevmCallTracer::disabled() };
    let mut vm = match VM::new(env, db, tx, tracer, VMType::L1, &input::CRYPTO, None) {
        Ok(vm) => vm,
        Err(err) => {
            return Run { report: Err(err), calls: None, steps: None };
        }
    };
    if mode == TraceMode::Steps {
        vm.opcode_tracer = LevmOpcodeTracer::new(OpcodeTracerConfig { disable_storage: true, ..Default::default() });
    }
    let report = vm.execute();
    let calls = vm.tracer.callframes.pop();
    let steps = (mode == TraceMode::Steps).then(|| std::mem::take(&mut vm.opcode_tracer.logs));
    Run { report, calls, steps }
}

impl Client for Levm {
    fn id(&self) -> &str {
        "levm"
    }

    fn version(&self) -> &str {
        LEVM_VERSION
    }

    fn supports(&self, fork: Fork) -> bool {
        input::fork_of(fork).is_some()
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        let client = || self.id().to_owned();
        let fork = input::fork_of(case.fork).ok_or_else(|| ClientError::UnsupportedFork { client: client(), fork: case.fork })?;
        let prepared = input::transaction(case).and_then(|tx| Ok((tx, input::environment(case, fork)?)));
        let (tx, env) = match prepared {
            Ok(prepared) => prepared,
            Err(Refusal::Reject(kind)) => return Ok(Outcome::rejected(&case.pre, kind)),
            Err(Refusal::Unrepresentable(what)) => return Err(ClientError::Unrepresentable { client: client(), what }),
            Err(Refusal::Failed(detail)) => {
                return Err(ClientError::Execution { client: client(), detail });
            }
        };
        let mut db = GeneralizedDatabase::new(Arc::new(input::PreState::new(&case.pre, case.block_hashes.clone())));
        // Touches only matter for accounts that are empty before the transaction; the call
        // tracer that finds them costs a copy per call, so it runs only when there are some.
        let track_touches = case.pre.values().any(|a| a.is_empty());
        // A panic inside levm is turned into a client error by the engine's one guard.
        let Run { report, calls, steps } = run(&mut db, env, &tx, mode, track_touches);
        match report {
            Ok(report) => {
                let touched = output::touched(calls.as_ref());
                let post = output::post_state(case, &db, touched).map_err(|detail| ClientError::Execution { client: client(), detail })?;
                let trace = steps.as_deref().map(|steps| output::trace(steps, case, &post));
                Ok(output::executed(&report.result, report.gas_used, &report.logs, post, trace))
            }
            Err(VMError::TxValidation(err)) => Ok(Outcome::rejected(&case.pre, output::invalid_kind(case, &err))),
            Err(err) => Err(ClientError::Execution { client: client(), detail: err.to_string() }),
        }
    }

    /// Runs the call in levm's own system-call mode (see `input::system_environment`), as
    /// ethrex's block executor does, and reads the post-state back as for a transaction.
    fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        let failed = |detail: String| ClientError::Execution { client: self.id().to_owned(), detail };
        let fork = input::fork_of(call.block.fork)
            .ok_or_else(|| ClientError::UnsupportedFork { client: self.id().to_owned(), fork: call.block.fork })?;
        let env = input::system_environment(call, fork).map_err(failed)?;
        let tx = input::system_transaction(call);
        let store = input::PreState::new(call.state, Some(call.block.block_hashes.clone()));
        let mut db = GeneralizedDatabase::new(Arc::new(store));
        let track_touches = call.state.values().any(|a| a.is_empty());
        let Run { report, calls, .. } = run(&mut db, env, &tx, TraceMode::Off, track_touches);
        let report = report.map_err(|err| failed(err.to_string()))?;
        let (output, failure) = match &report.result {
            TxResult::Success => (Bytes(report.output.clone()), None),
            TxResult::Revert(err) => (Bytes::new(), Some(err.to_string())),
        };
        let touched = output::touched(calls.as_ref());
        let post = output::overlay(call.state, call.block.fork, &db, touched).map_err(failed)?;
        Ok(SystemOutcome { post, output, failure })
    }

    /// levm's trace keeps refunds granted inside a frame that later reverts (the final refund
    /// is right; the per-step counter is not), so `refund` is not compared.
    fn trace_fields(&self) -> schism_interface::TraceFields {
        schism_interface::TraceFields { refund: false, ..schism_interface::TraceFields::ALL }
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        KNOWN_DIFFERENCES
    }
}

/// levm's documented departures from the specification. None shows in the shared fixtures;
/// both make levm fail to produce an outcome (a client error) where the specification has one.
pub static KNOWN_DIFFERENCES: &[KnownDifference] = &[
    KnownDifference {
        id: "levm-gas-limit-i64",
        reason: "levm keeps a frame's remaining gas in an i64 and converts the transaction gas limit \
                 with `as`: a limit above 2^63-1 starts with negative gas (or, just above 2^63, wraps to \
                 about 2^63 gas and runs until memory is exhausted). Before Osaka (whose EIP-7825 cap \
                 rejects such limits) the adapter refuses these cases as unrepresentable.",
        link: "https://github.com/lambdaclass/ethrex/blob/main/crates/vm/levm/src/call_frame.rs",
        applies: input::gas_limit_unrepresentable,
        executed: None,
    },
    KnownDifference {
        id: "levm-blob-base-fee-overflow",
        reason: "ethrex computes the blob base fee with a 256-bit fake_exponential whose intermediate \
                 product overflows from an excess blob gas of about 4.9e8 (Cancun fraction; 7.3e8 under \
                 Prague's) while the fee itself still fits, and it errors on a zero update fraction; the \
                 node then cannot execute the block, so the adapter reports an execution failure.",
        link: "https://github.com/lambdaclass/ethrex/blob/main/crates/common/types/block.rs",
        applies: blob_base_fee_fails,
        executed: None,
    },
];

/// True when ethrex cannot compute the case's blob base fee (see the known difference).
fn blob_base_fee_fails(case: &Case) -> bool {
    input::fork_of(case.fork).is_some_and(|fork| input::base_blob_fee(case, &input::config(case, fork)).is_err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schism_interface::alloy_primitives::{Address, address};
    use schism_interface::load::{FixtureFile, expand_file, parse_fixture, read_fixture};
    use schism_interface::{ErrorClass, InvalidTxKind, TxValue};
    use std::path::Path;

    fn fixture_cases(rel: &str) -> Vec<Case> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures").join(rel);
        let Ok(FixtureFile::State(file)) = read_fixture(&path) else { panic!("cannot read {}", path.display()) };
        let (cases, errors) = expand_file(&path, &file);
        assert!(errors.is_empty(), "{errors:?}");
        cases.into_iter().filter(|c| Levm::new().supports(c.fork)).collect()
    }

    /// Runs every supported case of one fixture file; returns (cases run, mismatch reports).
    fn run_file(rel: &str) -> (usize, Vec<String>) {
        let cases = fixture_cases(rel);
        let mut failures = Vec::new();
        for case in &cases {
            let outcome = Levm::new().execute(case, TraceMode::Off).expect("executes");
            let mismatches = case.expected.as_ref().expect("filled").check(&outcome);
            if !mismatches.is_empty() {
                failures.push(format!("{}: {mismatches:?}", case.label()));
            }
        }
        (cases.len(), failures)
    }

    #[test]
    fn a_general_state_test_matches_its_hashes() {
        let (run, failures) = run_file("GeneralStateTests/VMTests/vmArithmeticTest/addmod.json");
        assert!(run > 0);
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn invalid_transactions_are_rejected_with_the_expected_kind() {
        let (run, failures) = run_file("GeneralStateTests/stEIP1559/valCausesOOF.json");
        assert!(run > 0);
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn osaka_post_state_equals_the_fixture_state() {
        let cases = fixture_cases("osaka/eip7825_transaction_gas_limit_cap/tx_gas_limit/transaction_gas_limit_cap.json");
        assert!(cases.iter().any(|c| c.fork == Fork::Osaka));
        for case in &cases {
            let outcome = Levm::new().execute(case, TraceMode::Off).expect("executes");
            let expected = case.expected.as_ref().expect("filled");
            assert!(expected.check(&outcome).is_empty(), "{}", case.label());
            let mut want = expected.state.as_deref().cloned().expect("full post-state");
            schism_interface::state::drop_zero_slots(&mut want);
            assert_eq!(outcome.post_state.as_ref(), Some(&want), "{}", case.label());
        }
    }

    const EMPTY: Address = address!("00000000000000000000000000000000000e3e3e");
    const CONTRACT: Address = address!("000000000000000000000000000000000000c0de");
    const COINBASE: Address = address!("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba");

    /// A Cancun case: the usual sender calls `CONTRACT` running `code`; `EMPTY` and
    /// `extra` (JSON object members) are in the pre-state; the gas price equals the base fee.
    fn synthetic(code: &str, extra: &str) -> Case {
        let json = format!(
            r#"{{"t": {{
              "env": {{"currentCoinbase": "{COINBASE}", "currentDifficulty": "0x0", "currentGasLimit": "0x1c9c380",
                       "currentNumber": "0x01", "currentTimestamp": "0x03e8", "currentBaseFee": "0x0a",
                       "currentRandom": "0x0000000000000000000000000000000000000000000000000000000000000000",
                       "currentExcessBlobGas": "0x00"}},
              "pre": {{
                "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b": {{"balance": "0x0de0b6b3a7640000", "code": "0x", "nonce": "0x00", "storage": {{}}}},
                "{CONTRACT}": {{"balance": "0x00", "code": "{code}", "nonce": "0x01", "storage": {{}}}},
                "{EMPTY}": {{"balance": "0x00", "code": "0x", "nonce": "0x00", "storage": {{}}}}{extra}
              }},
              "transaction": {{"data": ["0x"], "gasLimit": ["0x0186a0"], "gasPrice": "0x0a", "nonce": "0x00",
                "secretKey": "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8",
                "to": "{CONTRACT}", "value": ["0x00"]}},
              "post": {{"Cancun": [{{"hash": "0x0000000000000000000000000000000000000000000000000000000000000000",
                "logs": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
                "indexes": {{"data": 0, "gas": 0, "value": 0}}}}]}}
            }}}}"#
        );
        let Ok(FixtureFile::State(file)) = parse_fixture(Path::new("synthetic.json"), json.as_bytes()) else {
            panic!("synthetic fixture does not parse")
        };
        let (mut cases, errors) = expand_file(Path::new("synthetic.json"), &file);
        assert!(errors.is_empty(), "{errors:?}");
        cases.pop().expect("one case")
    }

    /// `CALL(0xffff, EMPTY, 0, 0, 0, 0, 0)`, followed by `tail`.
    fn call_empty_then(tail: &str) -> String {
        format!("0x600060006000600060007300000000000000000000000000000000000e3e3e61fffff1{tail}")
    }

    fn post_of(case: &Case) -> schism_interface::Accounts {
        let outcome = Levm::new().execute(case, TraceMode::Off).expect("executes");
        outcome.post_state.expect("in-process clients give the post-state")
    }

    #[test]
    fn a_zero_value_call_deletes_the_empty_account_it_touches() {
        let post = post_of(&synthetic(&call_empty_then("00"), ""));
        assert!(!post.contains_key(&EMPTY));
    }

    #[test]
    fn a_touch_in_a_reverted_frame_does_not_count() {
        let case = synthetic(&call_empty_then("60006000fd"), "");
        let outcome = Levm::new().execute(&case, TraceMode::Off).expect("executes");
        assert_eq!(outcome.error, Some(ErrorClass::Revert));
        assert!(outcome.post_state.expect("post-state").contains_key(&EMPTY));
    }

    #[test]
    fn reading_an_empty_account_is_not_a_touch() {
        // BALANCE(EMPTY) does not touch.
        let post = post_of(&synthetic("0x7300000000000000000000000000000000000e3e3e3100", ""));
        assert!(post.contains_key(&EMPTY));
    }

    #[test]
    fn an_empty_coinbase_paid_nothing_is_deleted() {
        let coinbase = format!(r#", "{COINBASE}": {{"balance": "0x00", "code": "0x", "nonce": "0x00", "storage": {{}}}}"#);
        let post = post_of(&synthetic("0x00", &coinbase));
        assert!(!post.contains_key(&COINBASE));
        assert!(post.contains_key(&EMPTY));
    }

    #[test]
    fn an_oversized_value_is_an_rlp_rejection_that_leaves_the_pre_state() {
        let mut case = synthetic("0x00", "");
        case.tx.value = TxValue::Oversized(vec![1; 33].into());
        let outcome = Levm::new().execute(&case, TraceMode::Off).expect("executes");
        assert_eq!(outcome.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::RlpInvalidValue)));
        assert_eq!(outcome.gas_used, Some(0));
        assert_eq!(outcome.state_root, schism_interface::state::state_root(&case.pre));
    }

    #[test]
    fn blob_limits_are_named_as_the_fork_names_them() {
        for rel in [
            "osaka/eip7594_peerdas/max_blob_per_tx/invalid_max_blobs_per_tx.json",
            "GeneralStateTests/Cancun/stEIP4844-blobtransactions/blobhashListBounds7.json",
        ] {
            let (run, failures) = run_file(rel);
            assert!(run > 0);
            assert!(failures.is_empty(), "{failures:#?}");
        }
    }

    #[test]
    fn a_gas_limit_above_i64_is_refused_or_rejected_never_run() {
        let mut case = synthetic("0x00", "");
        case.tx.gas_limit = (1 << 63) + 1;
        Arc::make_mut(&mut case.env).current_gas_limit = u64::MAX;
        assert!(matches!(Levm::new().execute(&case, TraceMode::Off), Err(ClientError::Unrepresentable { .. })));
        assert!(KNOWN_DIFFERENCES.iter().any(|k| (k.applies)(&case)));
        Arc::make_mut(&mut case.env).current_gas_limit = 30_000_000;
        let outcome = Levm::new().execute(&case, TraceMode::Off).expect("executes");
        assert_eq!(outcome.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::GasAllowanceExceeded)));
        assert!(!KNOWN_DIFFERENCES.iter().any(|k| (k.applies)(&case)));
    }

    #[test]
    fn an_uncomputable_blob_base_fee_is_an_execution_failure() {
        let mut case = synthetic("0x00", "");
        assert!(!KNOWN_DIFFERENCES.iter().any(|k| (k.applies)(&case)));
        Arc::make_mut(&mut case.env).current_excess_blob_gas = Some(500_000_000);
        assert!(matches!(Levm::new().execute(&case, TraceMode::Off), Err(ClientError::Execution { .. })));
        assert!(KNOWN_DIFFERENCES.iter().any(|k| (k.applies)(&case)));
    }

    #[test]
    fn pre_merge_forks_are_refused() {
        let mut case = synthetic("0x00", "");
        case.fork = Fork::London;
        assert!(!Levm::new().supports(Fork::London));
        assert!(matches!(Levm::new().execute(&case, TraceMode::Off), Err(ClientError::UnsupportedFork { .. })));
    }
}
