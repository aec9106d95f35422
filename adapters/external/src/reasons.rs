//! The words tools use for rejections and halts, mapped onto schism's shared vocabulary. One
//! table for every tool: the messages are matched case-insensitively by fragment, first match
//! wins, and an unknown message keeps its class (rejected / halted) with an unknown kind.

use schism_interface::{ErrorClass, InvalidTxKind};

/// Message fragments of transaction rejections (geth's `core/error.go`, EELS's exceptions,
/// EthereumJS's, besu's and nethermind's validation messages), most specific first.
const REJECTIONS: &[(&str, InvalidTxKind)] = &[
    ("nonce has max value", InvalidTxKind::NonceIsMax),
    ("nonce overflow", InvalidTxKind::NonceIsMax),
    ("nonce too low", InvalidTxKind::NonceMismatchTooLow),
    ("nonce too high", InvalidTxKind::NonceMismatchTooHigh),
    ("nonce_mismatch_too_low", InvalidTxKind::NonceMismatchTooLow),
    ("nonce_mismatch_too_high", InvalidTxKind::NonceMismatchTooHigh),
    ("floor data gas", InvalidTxKind::IntrinsicGasBelowFloor),
    ("below_floor", InvalidTxKind::IntrinsicGasBelowFloor),
    ("intrinsic gas", InvalidTxKind::IntrinsicGasTooLow),
    ("intrinsic_gas", InvalidTxKind::IntrinsicGasTooLow),
    ("blob gas fee", InvalidTxKind::InsufficientMaxFeePerBlobGas),
    ("fee per blob gas", InvalidTxKind::InsufficientMaxFeePerBlobGas),
    ("max_fee_per_blob_gas", InvalidTxKind::InsufficientMaxFeePerBlobGas),
    ("priority fee per gas higher than max fee", InvalidTxKind::PriorityGreaterThanMaxFee),
    ("priority_greater_than_max_fee", InvalidTxKind::PriorityGreaterThanMaxFee),
    ("less than block base fee", InvalidTxKind::InsufficientMaxFeePerGas),
    ("max_fee_per_gas", InvalidTxKind::InsufficientMaxFeePerGas),
    ("insufficient funds", InvalidTxKind::InsufficientAccountFunds),
    ("insufficient_account_funds", InvalidTxKind::InsufficientAccountFunds),
    ("insufficient balance", InvalidTxKind::InsufficientAccountFunds),
    ("insufficientbalance", InvalidTxKind::InsufficientAccountFunds),
    ("gas limit too high", InvalidTxKind::GasLimitExceedsMaximum),
    ("gas_limit_exceeds_maximum", InvalidTxKind::GasLimitExceedsMaximum),
    ("gas limit reached", InvalidTxKind::GasAllowanceExceeded),
    ("gas_allowance_exceeded", InvalidTxKind::GasAllowanceExceeded),
    ("block gas limit", InvalidTxKind::GasAllowanceExceeded),
    ("sender not an eoa", InvalidTxKind::SenderNotEoa),
    ("sender_not_eoa", InvalidTxKind::SenderNotEoa),
    ("max initcode size", InvalidTxKind::InitcodeSizeExceeded),
    ("initcode_size", InvalidTxKind::InitcodeSizeExceeded),
    ("too many blobs", InvalidTxKind::Type3BlobCountExceeded),
    ("blob_count_exceeded", InvalidTxKind::Type3BlobCountExceeded),
    ("missing blob hashes", InvalidTxKind::Type3ZeroBlobs),
    ("zero_blobs", InvalidTxKind::Type3ZeroBlobs),
    ("blob transaction of type create", InvalidTxKind::Type3ContractCreation),
    ("empty auth list", InvalidTxKind::Type4EmptyAuthorizationList),
    ("cannot be used to create", InvalidTxKind::Type4ContractCreation),
    ("chain id", InvalidTxKind::ChainIdMismatch),
    ("gas uint64 overflow", InvalidTxKind::GasLimitPriceProductOverflow),
    ("transaction type not supported", InvalidTxKind::TypeNotSupported),
];

/// The kind of a rejection from the tool's message.
pub fn rejection_kind(message: &str) -> InvalidTxKind {
    let lower = message.to_ascii_lowercase();
    REJECTIONS.iter().find(|(fragment, _)| lower.contains(fragment)).map_or(InvalidTxKind::Unknown, |(_, k)| *k)
}

/// Message fragments of exceptional halts (geth's `core/vm/errors.go` and the EIP-3155 summary
/// lines of other tools), most specific first.
const HALTS: &[(&str, ErrorClass)] = &[
    ("execution reverted", ErrorClass::Revert),
    ("revert", ErrorClass::Revert),
    ("out of gas", ErrorClass::OutOfGas),
    ("outofgas", ErrorClass::OutOfGas),
    ("gas uint64 overflow", ErrorClass::OutOfGas),
    ("invalid opcode", ErrorClass::InvalidOpcode),
    ("invalidopcode", ErrorClass::InvalidOpcode),
    ("undefined instruction", ErrorClass::InvalidOpcode),
    ("stack underflow", ErrorClass::StackUnderflow),
    ("stackunderflow", ErrorClass::StackUnderflow),
    ("stack limit reached", ErrorClass::StackOverflow),
    ("stack overflow", ErrorClass::StackOverflow),
    ("stackoverflow", ErrorClass::StackOverflow),
    ("invalid jump", ErrorClass::InvalidJump),
    ("badjump", ErrorClass::InvalidJump),
    ("write protection", ErrorClass::StaticStateChange),
    ("static", ErrorClass::StaticStateChange),
    ("return data out of bounds", ErrorClass::ReturnDataOutOfBounds),
    ("returndata", ErrorClass::ReturnDataOutOfBounds),
    ("address collision", ErrorClass::CreateCollision),
    ("max code size exceeded", ErrorClass::CodeSizeLimit),
    ("max initcode size exceeded", ErrorClass::CodeSizeLimit),
    ("code size", ErrorClass::CodeSizeLimit),
    ("must not begin with 0xef", ErrorClass::InvalidCodePrefix),
    ("invalid code", ErrorClass::InvalidCodePrefix),
    ("nonce uint64 overflow", ErrorClass::NonceOverflow),
    ("precompile", ErrorClass::PrecompileFailure),
];

/// The class of an exceptional halt from the tool's message.
pub fn halt_class(message: &str) -> ErrorClass {
    let lower = message.to_ascii_lowercase();
    HALTS.iter().find(|(fragment, _)| lower.contains(fragment)).map_or(ErrorClass::OtherHalt, |(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geth_messages() {
        assert_eq!(rejection_kind("nonce too high: address 0xa94f, tx: 1 state: 0"), InvalidTxKind::NonceMismatchTooHigh);
        assert_eq!(
            rejection_kind("insufficient funds for gas * price + value: address 0x, have 0 want 1"),
            InvalidTxKind::InsufficientAccountFunds
        );
        assert_eq!(rejection_kind("max fee per gas less than block base fee"), InvalidTxKind::InsufficientMaxFeePerGas);
        assert_eq!(rejection_kind("something new"), InvalidTxKind::Unknown);
        assert_eq!(halt_class("execution reverted"), ErrorClass::Revert);
        assert_eq!(halt_class("stack underflow (0 <=> 2)"), ErrorClass::StackUnderflow);
        assert_eq!(halt_class("invalid opcode: opcode 0xef not defined"), ErrorClass::InvalidOpcode);
        assert_eq!(halt_class("???"), ErrorClass::OtherHalt);
    }

    #[test]
    fn eels_exception_names() {
        assert_eq!(rejection_kind("InsufficientBalanceError"), InvalidTxKind::InsufficientAccountFunds);
        assert_eq!(rejection_kind("TransactionException.INTRINSIC_GAS_TOO_LOW"), InvalidTxKind::IntrinsicGasTooLow);
    }
}
