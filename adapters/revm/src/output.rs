//! Conversions from revm's results back to a schism Outcome.

use revm::context::result::{ExecutionResult, HaltReason, InvalidTransaction};
use revm::state::EvmState;
use schism_interface::fixture::Accounts;
use schism_interface::state::clear_touched_empty;
use schism_interface::{Case, ErrorClass, Fork, InvalidTxKind, Outcome, Trace};
use std::collections::HashSet;

/// The outcome of a transaction revm executed: the pre-state with revm's changes applied.
pub(crate) fn executed(case: &Case, result: ExecutionResult, changes: EvmState, trace: Option<Trace>) -> Outcome {
    let post = applied(&case.pre, changes, case.fork);
    let (gas_used, error, logs) = match result {
        ExecutionResult::Success { gas, logs, .. } => (gas.tx_gas_used(), None, logs),
        ExecutionResult::Revert { gas, logs, .. } => (gas.tx_gas_used(), Some(ErrorClass::Revert), logs),
        ExecutionResult::Halt { reason, gas, logs } => (gas.tx_gas_used(), Some(halt_class(&reason)), logs),
    };
    Outcome::executed(post, logs, gas_used, error, trace)
}

/// `pre` with revm's changes applied, touched empty accounts cleared as `fork` says.
pub(crate) fn applied(pre: &Accounts, changes: EvmState, fork: Fork) -> Accounts {
    let mut post = pre.clone();
    let mut touched = HashSet::new();
    for (address, account) in changes {
        if !account.is_touched() {
            continue;
        }
        touched.insert(address);
        if account.is_selfdestructed() {
            post.remove(&address);
            continue;
        }
        let entry = post.entry(address).or_default();
        if account.is_created() {
            entry.storage.clear();
        }
        entry.balance = account.info.balance;
        entry.nonce = account.info.nonce;
        if let Some(code) = &account.info.code {
            entry.code = code.original_bytes();
        }
        for (slot, value) in account.storage {
            entry.storage.insert(slot, value.present_value());
        }
    }
    clear_touched_empty(&mut post, fork, |a| touched.contains(a));
    post
}

/// The shared name of revm's validation error.
pub(crate) fn invalid_kind(invalid: &InvalidTransaction) -> InvalidTxKind {
    use InvalidTransaction as I;
    use InvalidTxKind as K;
    match invalid {
        I::PriorityFeeGreaterThanMaxFee => K::PriorityGreaterThanMaxFee,
        I::GasPriceLessThanBasefee => K::InsufficientMaxFeePerGas,
        I::CallerGasLimitMoreThanBlock => K::GasAllowanceExceeded,
        I::CallGasCostMoreThanGasLimit { .. } => K::IntrinsicGasTooLow,
        I::GasFloorMoreThanGasLimit { .. } => K::IntrinsicGasBelowFloor,
        I::RejectCallerWithCode => K::SenderNotEoa,
        I::LackOfFundForMaxFee { .. } => K::InsufficientAccountFunds,
        I::OverflowPaymentInTransaction => K::GasLimitPriceProductOverflow,
        I::NonceOverflowInTransaction => K::NonceIsMax,
        I::NonceTooHigh { .. } => K::NonceMismatchTooHigh,
        I::NonceTooLow { .. } => K::NonceMismatchTooLow,
        I::CreateInitCodeSizeLimit => K::InitcodeSizeExceeded,
        I::InvalidChainId | I::MissingChainId => K::ChainIdMismatch,
        I::TxGasLimitGreaterThanCap { .. } => K::GasLimitExceedsMaximum,
        I::AccessListNotSupported | I::Eip2930NotSupported | I::Eip1559NotSupported => K::TypeNotSupported,
        I::MaxFeePerBlobGasNotSupported | I::BlobVersionedHashesNotSupported | I::Eip4844NotSupported => K::Type3PreFork,
        I::BlobGasPriceGreaterThanMax { .. } => K::InsufficientMaxFeePerBlobGas,
        I::EmptyBlobs => K::Type3ZeroBlobs,
        I::BlobCreateTransaction => K::Type3ContractCreation,
        I::TooManyBlobs { .. } => K::Type3BlobCountExceeded,
        I::BlobVersionNotSupported => K::Type3InvalidBlobVersionedHash,
        I::AuthorizationListNotSupported | I::Eip7702NotSupported => K::Type4PreFork,
        I::EmptyAuthorizationList => K::Type4EmptyAuthorizationList,
        _ => K::Unknown,
    }
}

/// The shared class of revm's halt reason.
fn halt_class(reason: &HaltReason) -> ErrorClass {
    use HaltReason as H;
    match reason {
        H::OutOfGas(_) => ErrorClass::OutOfGas,
        H::OpcodeNotFound | H::InvalidFEOpcode | H::NotActivated => ErrorClass::InvalidOpcode,
        H::InvalidJump => ErrorClass::InvalidJump,
        H::StackUnderflow => ErrorClass::StackUnderflow,
        H::StackOverflow => ErrorClass::StackOverflow,
        H::OutOfOffset => ErrorClass::ReturnDataOutOfBounds,
        H::CreateCollision => ErrorClass::CreateCollision,
        H::PrecompileError | H::PrecompileErrorWithContext(_) => ErrorClass::PrecompileFailure,
        H::NonceOverflow => ErrorClass::NonceOverflow,
        H::CreateContractSizeLimit | H::CreateInitCodeSizeLimit => ErrorClass::CodeSizeLimit,
        H::CreateContractStartingWithEF => ErrorClass::InvalidCodePrefix,
        H::StateChangeDuringStaticCall | H::CallNotAllowedInsideStatic => ErrorClass::StaticStateChange,
        _ => ErrorClass::OtherHalt,
    }
}
