//! Outcomes: what a client reports after executing a case, and the shared classification of
//! errors and transaction rejections that makes outcomes of different clients comparable.

use crate::fixture::Accounts;
use crate::trace::Trace;
use alloy_primitives::{B256, Log};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The result of executing one case on one client.
///
/// In-process clients report everything. A subprocess client reports what its tool prints: the
/// state root always, the other aspects where the tool gives them; what is not reported is
/// `None` (or `status_reported: false`) and is left out of every comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Post-state root (the pre-state root when the transaction was rejected).
    pub state_root: B256,
    /// keccak256 of the RLP list of logs, when the client reports it.
    pub logs_hash: Option<B256>,
    /// Gas used by the transaction (0 when rejected), when the client reports it.
    pub gas_used: Option<u64>,
    /// Why execution did not succeed, if it did not. A rejection is always reported; how an
    /// executed transaction ended only when `status_reported`.
    pub error: Option<ErrorClass>,
    /// False when the client tells whether a transaction was rejected but not how an executed
    /// one ended (success, revert or halt).
    #[serde(default = "reported")]
    pub status_reported: bool,
    /// The logs emitted (empty when the client does not report them; see `logs_hash`).
    pub logs: Vec<Log>,
    /// The full post-state, where the client provides it (in-process clients always do).
    pub post_state: Option<Accounts>,
    /// The EIP-3155 style trace, when one was requested and the client supports it.
    pub trace: Option<Trace>,
}

impl Outcome {
    /// The outcome of an executed transaction from its full post-state: zero-valued slots are
    /// dropped and both hashes come from the shared implementation in [`crate::state`].
    pub fn executed(mut post: Accounts, logs: Vec<Log>, gas_used: u64, error: Option<ErrorClass>, trace: Option<Trace>) -> Outcome {
        crate::state::drop_zero_slots(&mut post);
        Outcome {
            state_root: crate::state::state_root(&post),
            logs_hash: Some(crate::state::logs_hash(&logs)),
            gas_used: Some(gas_used),
            error,
            status_reported: true,
            logs,
            post_state: Some(post),
            trace,
        }
    }

    /// The outcome of a transaction that was not executed: the pre-state unchanged, no gas used.
    pub fn rejected(pre: &Accounts, kind: InvalidTxKind) -> Outcome {
        Outcome::executed(pre.clone(), Vec::new(), 0, Some(ErrorClass::InvalidTransaction(kind)), None)
    }

    /// The outcome of a client that reports only the state root and whether the transaction was
    /// rejected (`rejection`).
    pub fn root_only(state_root: B256, rejection: Option<InvalidTxKind>) -> Outcome {
        Outcome {
            state_root,
            logs_hash: None,
            gas_used: None,
            error: rejection.map(ErrorClass::InvalidTransaction),
            status_reported: false,
            logs: Vec::new(),
            post_state: None,
            trace: None,
        }
    }

    /// The transaction status derived from the error class; `None` when the client did not say
    /// how an executed transaction ended.
    pub fn status(&self) -> Option<TxStatus> {
        match self.error {
            Some(ErrorClass::InvalidTransaction(_)) => Some(TxStatus::Rejected),
            _ if !self.status_reported => None,
            None => Some(TxStatus::Success),
            Some(ErrorClass::Revert) => Some(TxStatus::Reverted),
            Some(_) => Some(TxStatus::Halted),
        }
    }
}

fn reported() -> bool {
    true
}

/// What happened to the transaction, coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// Executed and succeeded.
    Success,
    /// Executed and reverted (REVERT).
    Reverted,
    /// Executed and halted exceptionally (all gas consumed).
    Halted,
    /// Not executed: the transaction is invalid.
    Rejected,
}

/// Why a transaction did not succeed: one shared vocabulary for every client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// Ran out of gas (including memory expansion and precompile gas).
    OutOfGas,
    /// An undefined or not-yet-activated opcode, or INVALID (0xFE).
    InvalidOpcode,
    /// An instruction needed more stack items than there were.
    StackUnderflow,
    /// The stack grew beyond 1024 items.
    StackOverflow,
    /// JUMP/JUMPI to a destination that is not a JUMPDEST.
    InvalidJump,
    /// REVERT at the top level.
    Revert,
    /// A state change inside a static context.
    StaticStateChange,
    /// RETURNDATACOPY or similar read beyond the return data.
    ReturnDataOutOfBounds,
    /// CREATE/CREATE2 onto an address that has code or nonce.
    CreateCollision,
    /// Created code larger than the EIP-170 limit, or init code above EIP-3860's.
    CodeSizeLimit,
    /// Created code starting with 0xEF (EIP-3541).
    InvalidCodePrefix,
    /// A precompile rejected its input.
    PrecompileFailure,
    /// A nonce would overflow.
    NonceOverflow,
    /// Any other exceptional halt a client reports.
    OtherHalt,
    /// The transaction was rejected before execution.
    InvalidTransaction(InvalidTxKind),
}

impl ErrorClass {
    /// A short snake_case name, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::OutOfGas => "out_of_gas",
            ErrorClass::InvalidOpcode => "invalid_opcode",
            ErrorClass::StackUnderflow => "stack_underflow",
            ErrorClass::StackOverflow => "stack_overflow",
            ErrorClass::InvalidJump => "invalid_jump",
            ErrorClass::Revert => "revert",
            ErrorClass::StaticStateChange => "static_state_change",
            ErrorClass::ReturnDataOutOfBounds => "return_data_out_of_bounds",
            ErrorClass::CreateCollision => "create_collision",
            ErrorClass::CodeSizeLimit => "code_size_limit",
            ErrorClass::InvalidCodePrefix => "invalid_code_prefix",
            ErrorClass::PrecompileFailure => "precompile_failure",
            ErrorClass::NonceOverflow => "nonce_overflow",
            ErrorClass::OtherHalt => "other_halt",
            ErrorClass::InvalidTransaction(_) => "invalid_transaction",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorClass::InvalidTransaction(kind) => write!(f, "invalid_transaction({kind})"),
            other => f.write_str(other.name()),
        }
    }
}

macro_rules! invalid_tx_kinds {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why a transaction is invalid, named after execution-spec-tests' `TransactionException`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum InvalidTxKind {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)*
            /// A reason schism has no name for.
            #[serde(rename = "UNKNOWN")]
            Unknown,
        }

        impl InvalidTxKind {
            /// The `TransactionException` name without its prefix.
            pub fn name(self) -> &'static str {
                match self {
                    $(InvalidTxKind::$variant => $name,)*
                    InvalidTxKind::Unknown => "UNKNOWN",
                }
            }

            /// Parses `TransactionException.NAME` or `NAME`.
            pub fn from_name(name: &str) -> InvalidTxKind {
                let name = name.trim();
                let name = name.strip_prefix("TransactionException.").unwrap_or(name);
                match name {
                    $($name => InvalidTxKind::$variant,)*
                    _ => InvalidTxKind::Unknown,
                }
            }
        }
    };
}

invalid_tx_kinds! {
    IntrinsicGasTooLow => "INTRINSIC_GAS_TOO_LOW", "Gas limit below the intrinsic cost.";
    IntrinsicGasBelowFloor => "INTRINSIC_GAS_BELOW_FLOOR_GAS_COST", "Gas limit below the EIP-7623 calldata floor.";
    InsufficientAccountFunds => "INSUFFICIENT_ACCOUNT_FUNDS", "Balance below gas limit x price + value.";
    InsufficientMaxFeePerGas => "INSUFFICIENT_MAX_FEE_PER_GAS", "Fee cap below the block base fee.";
    InsufficientMaxFeePerBlobGas => "INSUFFICIENT_MAX_FEE_PER_BLOB_GAS", "Blob fee cap below the blob base fee.";
    PriorityGreaterThanMaxFee => "PRIORITY_GREATER_THAN_MAX_FEE_PER_GAS", "Tip cap above fee cap.";
    GasLimitPriceProductOverflow => "GASLIMIT_PRICE_PRODUCT_OVERFLOW", "gas limit x price overflows 256 bits.";
    GasAllowanceExceeded => "GAS_ALLOWANCE_EXCEEDED", "Gas limit above the block's gas limit.";
    GasLimitExceedsMaximum => "GAS_LIMIT_EXCEEDS_MAXIMUM", "Gas limit above the EIP-7825 transaction cap.";
    NonceIsMax => "NONCE_IS_MAX", "Sender nonce is 2^64-1 (EIP-2681).";
    NonceMismatchTooLow => "NONCE_MISMATCH_TOO_LOW", "Transaction nonce below the sender's.";
    NonceMismatchTooHigh => "NONCE_MISMATCH_TOO_HIGH", "Transaction nonce above the sender's.";
    SenderNotEoa => "SENDER_NOT_EOA", "Sender has code that is not a delegation (EIP-3607).";
    InitcodeSizeExceeded => "INITCODE_SIZE_EXCEEDED", "Init code above the EIP-3860 limit.";
    RlpInvalidValue => "RLP_INVALID_VALUE", "A field cannot be encoded (e.g. value above 2^256).";
    TypeNotSupported => "TYPE_NOT_SUPPORTED", "Transaction type not active in this fork.";
    ChainIdMismatch => "INVALID_CHAINID", "Chain id differs from the chain's.";
    Type3PreFork => "TYPE_3_TX_PRE_FORK", "Blob transaction before Cancun.";
    Type3ZeroBlobs => "TYPE_3_TX_ZERO_BLOBS", "Blob transaction without blobs.";
    Type3InvalidBlobVersionedHash => "TYPE_3_TX_INVALID_BLOB_VERSIONED_HASH", "Versioned hash with a wrong version byte.";
    Type3BlobCountExceeded => "TYPE_3_TX_BLOB_COUNT_EXCEEDED", "More blobs than a transaction may carry.";
    Type3MaxBlobGasAllowanceExceeded => "TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED", "More blob gas than a block allows.";
    Type3ContractCreation => "TYPE_3_TX_CONTRACT_CREATION", "Blob transaction without a recipient.";
    Type4PreFork => "TYPE_4_TX_PRE_FORK", "Set-code transaction before Prague.";
    Type4EmptyAuthorizationList => "TYPE_4_EMPTY_AUTHORIZATION_LIST", "Set-code transaction without authorizations.";
    Type4ContractCreation => "TYPE_4_TX_CONTRACT_CREATION", "Set-code transaction without a recipient.";
}

impl fmt::Display for InvalidTxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rejection a fixture expects: one of several acceptable kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedException {
    /// The text as written in the fixture.
    pub raw: String,
    /// The kinds it names (`A|B` lists alternatives).
    pub kinds: Vec<InvalidTxKind>,
}

impl ExpectedException {
    /// Parses an `expectException` value.
    pub fn parse(raw: &str) -> ExpectedException {
        ExpectedException { raw: raw.to_owned(), kinds: raw.split('|').map(InvalidTxKind::from_name).collect() }
    }

    /// True when `kind` is one of the acceptable kinds.
    pub fn accepts(&self, kind: InvalidTxKind) -> bool {
        self.kinds.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_names_parse() {
        let e = ExpectedException::parse("TransactionException.INSUFFICIENT_ACCOUNT_FUNDS|TransactionException.INTRINSIC_GAS_TOO_LOW");
        assert_eq!(e.kinds, vec![InvalidTxKind::InsufficientAccountFunds, InvalidTxKind::IntrinsicGasTooLow]);
        assert!(e.accepts(InvalidTxKind::IntrinsicGasTooLow));
        assert!(!e.accepts(InvalidTxKind::NonceIsMax));
        assert_eq!(InvalidTxKind::from_name("SOMETHING_NEW"), InvalidTxKind::Unknown);
    }

    #[test]
    fn a_rejection_keeps_the_pre_state() {
        use crate::fixture::{Account, Accounts};
        use alloy_primitives::{Address, U256};
        let pre = Accounts::from([(Address::repeat_byte(1), Account { balance: U256::from(5), ..Default::default() })]);
        let out = Outcome::rejected(&pre, InvalidTxKind::NonceIsMax);
        assert_eq!(out.state_root, crate::state::state_root(&pre));
        assert_eq!(out.gas_used, Some(0));
        assert_eq!(out.post_state.as_ref(), Some(&pre));
    }

    #[test]
    fn status_follows_error() {
        let mut o = Outcome {
            state_root: B256::ZERO,
            logs_hash: None,
            gas_used: None,
            error: None,
            status_reported: true,
            logs: vec![],
            post_state: None,
            trace: None,
        };
        assert_eq!(o.status(), Some(TxStatus::Success));
        o.error = Some(ErrorClass::Revert);
        assert_eq!(o.status(), Some(TxStatus::Reverted));
        o.error = Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceIsMax));
        assert_eq!(o.status(), Some(TxStatus::Rejected));
        o.error = Some(ErrorClass::OutOfGas);
        assert_eq!(o.status(), Some(TxStatus::Halted));
        let root_only = Outcome::root_only(B256::ZERO, None);
        assert_eq!(root_only.status(), None);
        let rejected = Outcome::root_only(B256::ZERO, Some(InvalidTxKind::NonceIsMax));
        assert_eq!(rejected.status(), Some(TxStatus::Rejected));
        assert_eq!(ErrorClass::OutOfGas.to_string(), "out_of_gas");
    }
}
