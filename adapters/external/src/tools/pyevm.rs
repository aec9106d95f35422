//! py-evm (PyPI `py-evm`, module `eth`), through schism's runner `runners/pyevm/runner.py`:
//! py-evm ships no state-test runner (its GeneralStateTests harness was removed in favour of
//! blockchain tests), so the runner builds each case from py-evm's own parts, the fork's `State`
//! over an `ExecutionContext`, the fork's transaction builder, `State.apply_transaction` and the
//! fork VM's `make_receipt`, and speaks the runner protocol of [`super::runner`]: root, logs hash,
//! gas used, status, rejection, and EIP-3155 steps with `--trace` (from a wrapped opcode table).

use super::runner::{read, script};
use super::{Recipe, Tool};
use crate::Feed;
use crate::process::{Fault, Launch, Process};
use alloy_primitives::U256;
use schism_interface::{Case, Fork, KnownDifference, Outcome, TraceMode};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The py-evm release `schism install pyevm` installs (a pre-release: the latest on PyPI, and
/// the first with Prague).
pub const PYEVM_PINNED: &str = "0.12.1b1";

/// The py-evm runner, embedded so an environment anywhere can be used.
pub const PYEVM_RUNNER: &str = include_str!("../../runners/pyevm/runner.py");

/// py-evm, through schism's runner. The location is a Python interpreter of an environment with
/// `py-evm` installed.
pub struct PyEvm;

/// py-evm's departures from the specification that the runner cannot make up for.
pub static KNOWN_DIFFERENCES: &[KnownDifference] =
    &[MODEXP_EMPTY_BASE, NO_EIP3607, NO_EIP7610, NO_TIP_CAP_CHECK, FEE_CAP_BALANCE, BLOB_CREATE, NO_FLOOR_CHECK];

/// EIP-7610: a CREATE onto an account that has only storage is not treated as a collision.
pub const NO_EIP7610: KnownDifference = KnownDifference {
    id: "pyevm-no-eip7610",
    reason: "py-evm 0.12.1b1 counts a creation target as taken only when it has code or a nonce, not \
             when it has storage alone (EIP-7610); py-evm's own suite lists these ethereum/tests cases \
             (RevertInCreateInInit*, create2collisionStorage*) as expected failures",
    link: "https://github.com/ethereum/py-evm/blob/main/tests/json-fixtures/blockchain/test_blockchain.py",
    applies: Case::has_storage_only_account,
    executed: None,
};

/// The balance check of fee-market transactions leaves out the value next to the fee cap.
pub const FEE_CAP_BALANCE: KnownDifference = KnownDifference {
    id: "pyevm-fee-cap-balance",
    reason: "py-evm 0.12.1b1 checks the sender's balance against gas x effective gas price + value \
             and (from Cancun) against gas x fee cap + blob fees, but never against the sum the \
             specification asks for, gas x fee cap + blob fees + value: a sender one wei short is \
             executed instead of rejected (execution-spec-tests test_insufficient_balance_blob_tx)",
    link: "https://github.com/ethereum/py-evm/blob/main/eth/vm/forks/cancun/state.py",
    applies: short_of_fee_cap_and_value,
    executed: None,
};

/// A blob transaction without a recipient is executed as a contract creation.
pub const BLOB_CREATE: KnownDifference = KnownDifference {
    id: "pyevm-blob-create",
    reason: "py-evm 0.12.1b1 executes a blob transaction without a recipient as a contract creation \
             instead of rejecting it (EIP-4844: `to` must not be nil; ethereum/tests createBlobhashTx)",
    link: "https://github.com/ethereum/py-evm/blob/main/eth/vm/forks/cancun/transactions.py",
    applies: blob_creates,
    executed: None,
};

/// True from London when the sender's pre-state balance is below gas limit x fee cap, plus the
/// blob gas at its fee cap, plus the value.
fn short_of_fee_cap_and_value(case: &Case) -> bool {
    let (Some(cap), schism_interface::fixture::TxValue::Value(value)) = (case.tx.max_fee_per_gas, &case.tx.value) else {
        return false;
    };
    let blob_gas = U256::from(131_072u64) * U256::from(case.tx.blob_versioned_hashes.len());
    let blob_fee = case.tx.max_fee_per_blob_gas.unwrap_or_default().saturating_mul(blob_gas);
    let needed = U256::from(case.tx.gas_limit).saturating_mul(cap).saturating_add(blob_fee).saturating_add(*value);
    let balance = case.pre.get(&case.tx.sender).map(|a| a.balance).unwrap_or_default();
    case.fork >= Fork::London && balance < needed
}

/// True from Cancun for a blob transaction without a recipient.
fn blob_creates(case: &Case) -> bool {
    case.fork >= Fork::Cancun && !case.tx.blob_versioned_hashes.is_empty() && case.tx.to.is_none()
}

/// MODEXP with an empty base answers 0 where 0^0 mod m is 1.
pub const MODEXP_EMPTY_BASE: KnownDifference = KnownDifference {
    id: "pyevm-modexp-empty-base",
    reason: "py-evm's MODEXP (`eth/precompiles/modexp.py`, `_modexp`) returns 0 whenever the base \
             length is 0, but with a zero exponent the result is 0^0 mod m = 1 for a modulus above 1; \
             py-evm's own test suite skips these ethereum/tests cases (\"New modexp tests that fail \
             since v13.1\"). Recognised when the transaction's data is such a MODEXP input.",
    link: "https://github.com/ethereum/py-evm/blob/main/tests/json-fixtures/blockchain/test_blockchain.py",
    applies: modexp_empty_base_zero_exponent,
    executed: None,
};

/// Transactions from a sender with code are executed.
pub const NO_EIP3607: KnownDifference = KnownDifference {
    id: "pyevm-no-eip3607",
    reason: "py-evm 0.12.1b1 has no EIP-3607: its transaction validation (`validate_frontier_transaction`, \
             `validate_homestead_transaction`, London's and Cancun's additions) never looks at the \
             sender's code, so a transaction from an account with deployed code is executed instead \
             of rejected (ethereum/tests stEIP3607)",
    link: "https://github.com/ethereum/py-evm/blob/main/eth/vm/forks/frontier/validation.py",
    applies: sender_has_code,
    executed: None,
};

/// True when the sender has code in the pre-state other than an EIP-7702 delegation (which
/// leaves an account an EOA from Prague on).
fn sender_has_code(case: &Case) -> bool {
    let delegation = |code: &[u8]| case.fork >= Fork::Prague && code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00]);
    case.pre.get(&case.tx.sender).is_some_and(|a| !a.code.is_empty() && !delegation(&a.code))
}

/// Fee-market transactions whose priority fee exceeds their fee cap are executed.
pub const NO_TIP_CAP_CHECK: KnownDifference = KnownDifference {
    id: "pyevm-no-tip-cap-check",
    reason: "py-evm 0.12.1b1 never checks EIP-1559's max_priority_fee_per_gas <= max_fee_per_gas \
             (`validate_dynamic_fee_tx` checks field widths, `validate_london_normalized_transaction` \
             only the fee cap against the base fee): such a transaction is executed at the fee cap \
             instead of rejected (ethereum/tests stEIP1559/tipTooHigh). Found by schism on a hand-written case.",
    link: "https://github.com/ethereum/py-evm/blob/main/eth/vm/forks/london/validation.py",
    applies: tip_above_fee_cap,
    executed: None,
};

/// True from London when the transaction's priority fee is above its fee cap.
fn tip_above_fee_cap(case: &Case) -> bool {
    let (tip, cap) = (case.tx.max_priority_fee_per_gas, case.tx.max_fee_per_gas);
    case.fork >= Fork::London && tip.zip(cap).is_some_and(|(tip, cap)| tip > cap)
}

/// Prague transactions whose gas limit is below EIP-7623's calldata floor are executed.
pub const NO_FLOOR_CHECK: KnownDifference = KnownDifference {
    id: "pyevm-no-eip7623-floor-check",
    reason: "py-evm 0.12.1b1's Prague charges EIP-7623's calldata floor after execution \
             (`PragueTransactionExecutor.calc_data_floor_gas`) but never checks it when validating \
             the transaction: a gas limit below 21000 + 10 per calldata token is executed, with a \
             gas used above the limit, instead of being rejected. Found by schism on a hand-written case.",
    link: "https://github.com/ethereum/py-evm/blob/main/eth/vm/forks/prague/state.py",
    applies: below_calldata_floor,
    executed: None,
};

/// True from Prague when the gas limit is below EIP-7623's floor: 21000 plus 10 per token,
/// a zero byte being one token and any other byte four.
fn below_calldata_floor(case: &Case) -> bool {
    let tokens: u64 = case.tx.data.iter().map(|b| if *b == 0 { 1 } else { 4 }).sum();
    case.fork >= Fork::Prague && case.tx.gas_limit < 21_000 + 10 * tokens
}

/// True when the transaction's data, read as a MODEXP input (three 32-byte lengths, then base,
/// exponent and modulus, zero-padded on the right), has an empty base, a zero exponent and a
/// modulus above 1: what the fixtures send to a contract that forwards its call data to 0x05 (or
/// to 0x05 itself). An input built in memory by contract code is not recognised.
fn modexp_empty_base_zero_exponent(case: &Case) -> bool {
    let data = case.tx.data.as_ref();
    let word = |at: usize| {
        let mut bytes = [0u8; 32];
        let end = data.len().min(at + 32);
        if at < end {
            bytes[..end - at].copy_from_slice(&data[at..end]);
        }
        U256::from_be_bytes(bytes)
    };
    // Lengths beyond this are not what the bug needs and would only make the reads long.
    let small = |n: U256| usize::try_from(n).ok().filter(|n| *n <= 1024);
    let (Some(0), Some(exponent_len), Some(modulus_len)) = (small(word(0)), small(word(32)), small(word(64))) else {
        return false;
    };
    // A field cut short by the end of the data is zero-padded on the right.
    let field = |at: usize, len: usize| data.get(at.min(data.len())..(at + len).min(data.len())).unwrap_or_default();
    let exponent = field(96, exponent_len);
    let modulus = field(96 + exponent_len, modulus_len);
    let exponent_is_zero = exponent.iter().all(|b| *b == 0);
    let modulus_is_zero = modulus.iter().all(|b| *b == 0);
    let modulus_is_one =
        modulus.len() == modulus_len && modulus.split_last().is_some_and(|(last, rest)| *last == 1 && rest.iter().all(|b| *b == 0));
    modulus_len > 0 && exponent_is_zero && !modulus_is_zero && !modulus_is_one
}

impl Tool for PyEvm {
    fn id(&self) -> &'static str {
        "pyevm"
    }

    fn supports(&self, fork: Fork) -> bool {
        // py-evm 0.12 has a VM for every fork from Frontier to Prague (`eth/vm/forks/`,
        // glacier forks included), none for Osaka.
        fork <= Fork::Prague
    }

    fn feed(&self) -> Feed {
        Feed::Batch
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        let launch = Launch::new(location, [pyevm_script()]);
        match mode {
            TraceMode::Off => launch,
            TraceMode::Steps => launch.arg("--trace"),
        }
    }

    fn version_launch(&self, location: &Path) -> Launch {
        Launch::new(location, [pyevm_script()]).arg("--version")
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(child, case, mode, deadline)
    }

    fn startup_grace(&self) -> Duration {
        // Importing every fork's modules takes a few seconds.
        Duration::from_secs(30)
    }

    fn default_timeout(&self) -> Duration {
        // Pure Python: the heavy ethereum/tests cases take tens of seconds.
        Duration::from_secs(120)
    }

    fn no_t8n(&self) -> &'static str {
        "py-evm ships no transition tool and schism's runner has no block mode yet"
    }

    fn install_hint(&self) -> String {
        format!("run `schism install pyevm` (a virtualenv with py-evm=={PYEVM_PINNED}) or pass --client pyevm=/path/to/venv/bin/python")
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        KNOWN_DIFFERENCES
    }

    fn recipe(&self) -> Option<Recipe> {
        Some(Recipe::Pip { package: "py-evm", version: PYEVM_PINNED })
    }
}

/// The py-evm runner script, written out.
fn pyevm_script() -> PathBuf {
    script("pyevm", PYEVM_RUNNER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::add11 as case;
    use alloy_primitives::Bytes;
    use schism_interface::{ErrorClass, InvalidTxKind, TxStatus};

    fn with_data(hex: &str) -> Case {
        let mut case = case();
        case.tx.data = Bytes::from(alloy_primitives::hex::decode(hex).expect("hex"));
        case
    }

    fn words(base: u8, exponent: u8, modulus: u8, rest: &str) -> String {
        format!("{:064x}{:064x}{:064x}{rest}", base, exponent, modulus)
    }

    #[test]
    fn modexp_empty_base_is_recognised() {
        // ethereum/tests modexp: base and exponent empty, modulus 0x02 / 0x0002.
        assert!(modexp_empty_base_zero_exponent(&with_data(&words(0, 0, 1, "02"))));
        assert!(modexp_empty_base_zero_exponent(&with_data(&words(0, 0, 2, "0002"))));
        // EIP-7883's geth-fail-length vector: a 34-byte zero exponent, the modulus cut short.
        assert!(modexp_empty_base_zero_exponent(&with_data(&words(0, 34, 33, &format!("{}02", "00".repeat(34))))));
        // A modulus of one, a non-zero exponent, a base or no modulus at all: py-evm is right.
        assert!(!modexp_empty_base_zero_exponent(&with_data(&words(0, 0, 1, "01"))));
        assert!(!modexp_empty_base_zero_exponent(&with_data(&words(0, 1, 1, "0102"))));
        assert!(!modexp_empty_base_zero_exponent(&with_data(&words(1, 0, 1, "0302"))));
        assert!(!modexp_empty_base_zero_exponent(&with_data(&words(0, 0, 0, ""))));
        assert!(!modexp_empty_base_zero_exponent(&case()));
        // A one padded on the right is 0x0100: above one.
        assert!(modexp_empty_base_zero_exponent(&with_data(&words(0, 0, 2, "01"))));
    }

    #[test]
    fn sender_with_code_is_recognised() {
        let mut case = case();
        assert!(!sender_has_code(&case));
        let sender = case.tx.sender;
        let account = std::sync::Arc::make_mut(&mut case.pre).get_mut(&sender).expect("the sender is in add11's pre-state");
        account.code = Bytes::from_static(&[0x00]);
        assert!(sender_has_code(&case));
        let mut delegated = [0u8; 23];
        delegated[..3].copy_from_slice(&[0xef, 0x01, 0x00]);
        std::sync::Arc::make_mut(&mut case.pre).get_mut(&sender).expect("sender").code = Bytes::copy_from_slice(&delegated);
        assert!(sender_has_code(&case));
        case.fork = Fork::Prague;
        assert!(!sender_has_code(&case));
    }

    #[test]
    fn tip_above_fee_cap_is_recognised() {
        let mut case = case();
        assert!(!tip_above_fee_cap(&case));
        case.tx.max_fee_per_gas = Some(U256::from(10));
        case.tx.max_priority_fee_per_gas = Some(U256::from(20));
        assert!(tip_above_fee_cap(&case));
        case.tx.max_priority_fee_per_gas = Some(U256::from(10));
        assert!(!tip_above_fee_cap(&case));
    }

    #[test]
    fn blob_rules_are_recognised() {
        let mut case = case();
        case.fork = Fork::Cancun;
        assert!(!blob_creates(&case) && !short_of_fee_cap_and_value(&case));
        case.tx.blob_versioned_hashes = vec![alloy_primitives::B256::ZERO];
        case.tx.to = None;
        assert!(blob_creates(&case));
        // add11's sender holds 1 ether: a fee cap of 1 ether per gas is far beyond it.
        case.tx.max_fee_per_gas = Some(U256::from(10u128.pow(18)));
        assert!(short_of_fee_cap_and_value(&case));
        case.tx.max_fee_per_gas = Some(U256::from(1));
        case.tx.max_fee_per_blob_gas = Some(U256::from(1));
        assert!(!short_of_fee_cap_and_value(&case));
    }

    #[test]
    fn calldata_floor_is_recognised() {
        // 100 non-zero bytes: intrinsic gas 22600, floor 25000.
        let mut case = with_data(&"ff".repeat(100));
        case.fork = Fork::Prague;
        case.tx.gas_limit = 23_000;
        assert!(below_calldata_floor(&case));
        case.tx.gas_limit = 25_000;
        assert!(!below_calldata_floor(&case));
        case.tx.gas_limit = 23_000;
        case.fork = Fork::Cancun;
        assert!(!below_calldata_floor(&case));
    }

    #[test]
    fn forks_recipe_and_summary() {
        assert!(PyEvm.supports(Fork::Frontier) && PyEvm.supports(Fork::Constantinople) && PyEvm.supports(Fork::Prague));
        assert!(!PyEvm.supports(Fork::Osaka));
        assert_eq!(PyEvm.recipe(), Some(Recipe::Pip { package: "py-evm", version: PYEVM_PINNED }));
        assert_eq!(
            Recipe::Pip { package: "py-evm", version: PYEVM_PINNED }.location(Path::new("t"), "pyevm"),
            Path::new("t/pyevm/venv/bin/python")
        );
        assert!(PYEVM_RUNNER.contains("def main()"));
        // Summary lines as the runner prints them (captured from py-evm 0.12.1b1).
        let lines = [
            (
                r#"{"name": "add11", "fork": "Cancun", "index": 0, "stateRoot": "0xe8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530", "logsHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347", "gasUsed": "0xa868", "status": "success", "error": null}"#,
                None,
            ),
            (
                r#"{"name": "add11", "fork": "Cancun", "index": 0, "stateRoot": "0xe8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530", "logsHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347", "gasUsed": "0x0", "status": "rejected", "error": "nonce too high: Invalid transaction nonce: Expected 0, but got 1"}"#,
                Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceMismatchTooHigh)),
            ),
            (
                r#"{"name": "add11", "fork": "Cancun", "index": 0, "stateRoot": "0xe8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530", "logsHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347", "gasUsed": "0x0", "status": "rejected", "error": "max initcode size exceeded: OutOfGas: Contract code size exceeds EIP-3860 limit of 49152. Got code of size: 49153"}"#,
                Some(ErrorClass::InvalidTransaction(InvalidTxKind::InitcodeSizeExceeded)),
            ),
            (
                r#"{"name": "add11", "fork": "Cancun", "index": 0, "stateRoot": "0xe8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530", "logsHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347", "gasUsed": "0x5208", "status": "halt", "error": "stack underflow: Wanted 1 stack item, had none"}"#,
                Some(ErrorClass::StackUnderflow),
            ),
            (
                r#"{"name": "add11", "fork": "Cancun", "index": 0, "stateRoot": "0xe8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530", "logsHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347", "gasUsed": "0x5208", "status": "revert", "error": "execution reverted"}"#,
                Some(ErrorClass::Revert),
            ),
        ];
        for (line, error) in lines {
            let outcome = super::super::runner::summary(&crate::parse::object(line).expect("json"), &case()).expect(line);
            assert_eq!(outcome.error, error, "{line}");
            assert_eq!(outcome.status() == Some(TxStatus::Success), error.is_none());
        }
    }
}
