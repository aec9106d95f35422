//! # schism-sputnik
//!
//! schism adapter for SputnikVM (crates.io `evm` 1.x with `evm-precompile`), executed in-process.
//! The crate runs a message call; the adapter adds what it leaves to a block executor:
//! transaction validity checks, the EIP-4844 blob fee, and the post-state with its root.

#[macro_use]
mod invoker;
mod input;
mod known;
mod output;
mod tracer;

use evm::backend::OverlayedBackend;
use evm::interpreter::ExitError;
use evm::interpreter::etable::Chained;
use evm::standard::{TransactValue, TransactValueCallCreate};
use evm::uint::U256 as EvmU256;
use input::Rejection;
use invoker::{ETABLE, mainnet_etable};
pub use known::KNOWN_DIFFERENCES;
use output::ExitContext;
use schism_interface::alloy_primitives::{Address, Bytes};
use schism_interface::sequence::SYSTEM_ADDRESS;
use schism_interface::{Case, Client, ClientError, Fork, KnownDifference, Outcome, SystemCall, SystemOutcome, TraceMode};
use tracer::{StepTracer, TraceLog};

/// The `evm` crate version this adapter is built against.
const EVM_VERSION: &str = "1.1.1";
/// The id used on the command line, in the registry and in reports.
const ID: &str = "sputnik";

/// SputnikVM as a schism client.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sputnik;

impl Sputnik {
    /// A new adapter; it holds no state, every case gets a fresh backend.
    pub fn new() -> Sputnik {
        Sputnik
    }
}

impl Client for Sputnik {
    fn id(&self) -> &str {
        ID
    }

    fn version(&self) -> &str {
        EVM_VERSION
    }

    fn supports(&self, fork: Fork) -> bool {
        input::config(fork).is_some()
    }

    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        let config = input::config(case.fork).ok_or_else(|| ClientError::UnsupportedFork { client: ID.to_owned(), fork: case.fork })?;
        let checked = match input::check(case, config) {
            Ok(checked) => checked,
            Err(Rejection::Invalid(kind)) => return Ok(Outcome::rejected(&case.pre, kind)),
            Err(Rejection::Unrepresentable(what)) => {
                return Err(ClientError::Unrepresentable { client: ID.to_owned(), what });
            }
        };
        let mut backend = input::backend(case, &checked);
        let args = input::transact_args(case, &checked, config);
        let trace_log = (mode == TraceMode::Steps).then(TraceLog::new);
        // A panic inside the crate is turned into a client error by the engine's one guard.
        let mut overlay = OverlayedBackend::new(&backend, &config.runtime);
        let (result, top) = match &trace_log {
            None => transact_with!(&ETABLE, args, &mut overlay, None),
            Some(log) => {
                let etable = Chained(StepTracer { log }, mainnet_etable());
                transact_with!(&etable, args, &mut overlay, Some(&log.depth))
            }
        };
        let changes = overlay.deconstruct().1;

        let gas_limit = case.tx.gas_limit;
        let (gas_used, error) = match result {
            Ok(TransactValue { used_gas, .. }) => (used_gas, None),
            Err(error) => {
                // A precompile that charged its gas and still failed rejected its input; the
                // crate's bn128 and modexp report that as out-of-gas.
                let (intrinsic, _) = input::intrinsic_gas(case, config);
                let available = EvmU256::from(gas_limit.saturating_sub(intrinsic));
                let context = ExitContext {
                    create: case.tx.to.is_none(),
                    frame_succeeded: top.frame_succeeded,
                    precompile_target: case.tx.to.is_some_and(|to| is_precompile(&to, case.fork)),
                    precompile_charged: top.gas_left.is_some_and(|left| left < available),
                };
                let class = output::error_class(&error, context)
                    .ok_or_else(|| ClientError::Execution { client: ID.to_owned(), detail: format!("fatal exit {error:?}") })?;
                // Only a revert returns gas; every other error consumes the whole limit.
                let left = match error {
                    ExitError::Reverted => top.reverted_gas_left.unwrap_or_default(),
                    _ => EvmU256::zero(),
                };
                (EvmU256::from(gas_limit).saturating_sub(left), Some(class))
            }
        };
        if gas_used > EvmU256::from(gas_limit) {
            return Err(ClientError::Execution { client: ID.to_owned(), detail: format!("gas used {gas_used} above limit") });
        }

        let logs = output::logs(&changes);
        backend.inner.apply_overlayed(&changes);
        let post = output::accounts(&backend.inner.state)
            .ok_or_else(|| ClientError::Execution { client: ID.to_owned(), detail: "a nonce above 2^64-1 in the post-state".to_owned() })?;
        let trace = trace_log.map(|log| log.steps.into_inner());
        Ok(Outcome::executed(post, logs, gas_used.low_u64(), error, trace))
    }

    /// The crate has no system-call entry point, so the call is an ordinary transaction from
    /// the system address, priced at zero, with the intrinsic gas added to the limit so that the
    /// frame gets its [`SYSTEM_CALL_GAS`](schism_interface::sequence::SYSTEM_CALL_GAS). What
    /// such a transaction does beyond the call (the caller's nonce and the up-front fee the
    /// adapter funds, the coinbase's touch) is this emulation's, not the call's, so it is undone
    /// here; the protocol's rules around the call are the shared executor's.
    fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
        let failed = |detail: String| ClientError::Execution { client: ID.to_owned(), detail };
        let fork = call.block.fork;
        let config = input::config(fork).ok_or_else(|| ClientError::UnsupportedFork { client: ID.to_owned(), fork })?;
        let gas_limit = input::system_gas_limit(call, config);
        let mut backend = input::system_backend(call, gas_limit)
            .ok_or_else(|| ClientError::Unrepresentable { client: ID.to_owned(), what: "a blob base fee above 2^256" })?;
        let args = input::system_args(call, gas_limit, config);
        let mut overlay = OverlayedBackend::new(&backend, &config.runtime);
        let (result, _) = transact_with!(&ETABLE, args, &mut overlay, None);
        let changes = overlay.deconstruct().1;
        let (output, failure) = match result {
            Ok(TransactValue { call_create: TransactValueCallCreate::Call { retval, .. }, .. }) => (Bytes::from(retval), None),
            Ok(TransactValue { call_create: TransactValueCallCreate::Create { .. }, .. }) => {
                return Err(failed("a system call ended as a creation".to_owned()));
            }
            Err(ExitError::Fatal(fatal)) => return Err(failed(format!("fatal exit {fatal:?}"))),
            Err(error) => (Bytes::new(), Some(format!("{error:?}"))),
        };
        backend.inner.apply_overlayed(&changes);
        let mut post = output::accounts(&backend.inner.state).ok_or_else(|| failed("a nonce above 2^64-1 in the post-state".to_owned()))?;
        // The emulating transaction bumped the system address's nonce and paid from the balance
        // the backend funded: its account is put back.
        match call.state.get(&SYSTEM_ADDRESS) {
            Some(account) => post.insert(SYSTEM_ADDRESS, account.clone()),
            None => post.remove(&SYSTEM_ADDRESS),
        };
        // The crate touches the coinbase when a transaction starts, which deletes an empty one
        // (EIP-161); a system call does not touch it.
        let coinbase = call.block.env.current_coinbase;
        if let Some(account) = call.state.get(&coinbase)
            && !post.contains_key(&coinbase)
        {
            post.insert(coinbase, account.clone());
        }
        Ok(SystemOutcome { post, output, failure })
    }

    /// The crate keeps the refund counter private and names no cost before a step runs (see
    /// `tracer.rs`), and its memory length lags behind copies into memory of zero-filled
    /// bytes: those fields are not compared.
    fn trace_fields(&self) -> schism_interface::TraceFields {
        schism_interface::TraceFields { gas_cost: false, refund: false, mem_size: false, ..schism_interface::TraceFields::ALL }
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        KNOWN_DIFFERENCES
    }
}

/// True for the precompile addresses the crate implements under `fork`.
fn is_precompile(address: &Address, fork: Fork) -> bool {
    let bytes = address.as_slice();
    if bytes[..19].iter().any(|b| *b != 0) {
        return false;
    }
    let last = bytes[19];
    let highest = match fork {
        f if f >= Fork::Cancun => 10,
        f if f >= Fork::Istanbul => 9,
        f if f >= Fork::Byzantium => 8,
        _ => 4,
    };
    (1..=highest).contains(&last)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use schism_interface::load::{FixtureFile, expand_file, read_fixture};
    use std::path::Path;

    /// The cases of a fixture file, by path from the crate's folder.
    pub(crate) fn cases(path: &str) -> Vec<Case> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let FixtureFile::State(file) = read_fixture(&path).expect("fixture reads") else { panic!("not a state test: {}", path.display()) };
        let (cases, errors) = expand_file(&path, &file);
        assert!(errors.is_empty(), "{errors:?}");
        cases
    }

    fn assert_all_pass(cases: &[Case]) {
        let client = Sputnik::new();
        assert!(!cases.is_empty());
        for case in cases {
            let outcome = client.execute(case, TraceMode::Off).expect("executes");
            let expected = case.expected.as_ref().expect("filled fixture");
            let mismatches = expected.check(&outcome);
            assert!(mismatches.iter().all(|m| m.is_soft()), "{}: {mismatches:?}", case.label());
        }
    }

    #[test]
    fn identity_and_forks() {
        let client = Sputnik::new();
        assert_eq!(client.id(), "sputnik");
        assert_eq!(client.version(), EVM_VERSION);
        assert!(client.supports(Fork::Frontier));
        assert!(client.supports(Fork::Cancun));
        assert!(client.supports(Fork::Prague));
        assert!(!client.supports(Fork::Constantinople));
        assert!(!client.supports(Fork::Osaka));
    }

    #[test]
    fn executes_a_cancun_fixture_with_the_expected_root() {
        assert_all_pass(&cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json"));
    }

    #[test]
    fn rejects_what_the_fixture_rejects() {
        let cases = cases("../../../shared/fixtures/GeneralStateTests/stTransactionTest/NoSrcAccount.json");
        assert!(cases.iter().any(|c| c.expected.as_ref().is_some_and(|e| e.exception.is_some())));
        assert_all_pass(&cases);
    }

    #[test]
    fn create_with_an_init_code_length_beyond_64_bits_runs_out_of_gas() {
        // The crate alone ends this with a fatal error instead of an out-of-gas halt.
        assert_all_pass(&cases(
            "../../../shared/fixtures/GeneralStateTests/stSystemOperationsTest/createNameRegistratorOOG_MemExpansionOOV.json",
        ));
    }

    #[test]
    fn oversized_values_and_max_nonces_are_rejections() {
        use schism_interface::{ErrorClass, InvalidTxKind, TxValue};
        let mut case = cases("../../../shared/fixtures/GeneralStateTests/stExample/add11.json")[0].clone();
        case.tx.value = TxValue::Oversized(vec![1u8; 33].into());
        let out = Sputnik::new().execute(&case, TraceMode::Off).expect("executes");
        assert_eq!(out.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::RlpInvalidValue)));
        assert_eq!(out.gas_used, Some(0));
        assert_eq!(out.post_state.as_ref(), Some(&*case.pre));
        case.tx.value = TxValue::Value(Default::default());
        case.tx.nonce = u64::MAX;
        let out = Sputnik::new().execute(&case, TraceMode::Off).expect("executes");
        assert_eq!(out.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceIsMax)));
    }
}
