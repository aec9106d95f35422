//! Results back to an [`Outcome`]: the crate's change set applied to the pre-state, its logs,
//! and its exit reasons mapped to the shared [`ErrorClass`].

use evm::backend::{InMemoryAccount, OverlayedChangeSet};
use evm::interpreter::runtime::Log as EvmLog;
use evm::interpreter::{ExitError, ExitException, Opcode};
use evm::uint::{H160, U256 as EvmU256};
use schism_interface::alloy_primitives::{Address, B256, Bytes, Log, LogData, U256};
use schism_interface::fixture::Account;
use schism_interface::{Accounts, ErrorClass};
use std::collections::BTreeMap;

/// An address back in alloy's type.
pub(crate) fn address(h: &H160) -> Address {
    Address::from(h.0)
}

/// A 256-bit number back in alloy's type.
pub(crate) fn u256(v: &EvmU256) -> U256 {
    let mut bytes = [0u8; 32];
    v.to_big_endian(&mut bytes);
    U256::from_be_bytes(bytes)
}

/// The post-state: the backend's accounts, converted. `None` if a nonce does not fit 64 bits,
/// which the crate never produces (it stops at 2^64-1, EIP-2681).
pub(crate) fn accounts(state: &BTreeMap<H160, InMemoryAccount>) -> Option<Accounts> {
    let mut out = Accounts::new();
    for (h, account) in state {
        if account.nonce > EvmU256::from(u64::MAX) {
            return None;
        }
        let storage = account
            .storage
            .iter()
            .map(|(slot, value)| (U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0)))
            .filter(|(_, value)| !value.is_zero())
            .collect();
        out.insert(
            address(h),
            Account { balance: u256(&account.balance), code: Bytes::from(account.code.clone()), nonce: account.nonce.low_u64(), storage },
        );
    }
    Some(out)
}

/// The logs of a change set, in emission order.
pub(crate) fn logs(changes: &OverlayedChangeSet) -> Vec<Log> {
    changes.logs.iter().map(log).collect()
}

fn log(log: &EvmLog) -> Log {
    let topics = log.topics.iter().map(|t| B256::from(t.0)).collect();
    Log { address: address(&log.address), data: LogData::new_unchecked(topics, Bytes::from(log.data.clone())) }
}

/// Where the top-level frame ended, to tell apart errors the crate reports with one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExitContext {
    /// The transaction creates a contract.
    pub create: bool,
    /// The top frame itself succeeded, so an error arose while depositing the created code.
    pub frame_succeeded: bool,
    /// The transaction calls a precompile directly.
    pub precompile_target: bool,
    /// That precompile charged its gas before it failed.
    pub precompile_charged: bool,
}

/// The shared class of a top-level exit error; `None` for the crate's fatal errors, which are
/// failures of the VM rather than outcomes.
pub(crate) fn error_class(error: &ExitError, context: ExitContext) -> Option<ErrorClass> {
    let exception = match error {
        ExitError::Reverted => return Some(ErrorClass::Revert),
        ExitError::Fatal(_) => return None,
        ExitError::Exception(exception) => exception,
    };
    Some(match exception {
        ExitException::StackUnderflow => ErrorClass::StackUnderflow,
        ExitException::StackOverflow => ErrorClass::StackOverflow,
        ExitException::InvalidJump => ErrorClass::InvalidJump,
        // A memory range beyond the address space: every other client runs out of gas first.
        // The crate's bn128 and modexp precompiles reject malformed input as out-of-gas, after
        // charging their cost; a real shortage fails before anything is charged.
        ExitException::OutOfGas if context.precompile_target && context.precompile_charged => ErrorClass::PrecompileFailure,
        ExitException::InvalidRange | ExitException::OutOfGas => ErrorClass::OutOfGas,
        ExitException::DesignatedInvalid => ErrorClass::InvalidOpcode,
        // Deploying code that starts with 0xEF (EIP-3541) is reported as that opcode.
        ExitException::InvalidOpcode(op) if *op == Opcode::EOFMAGIC && context.create && context.frame_succeeded => {
            ErrorClass::InvalidCodePrefix
        }
        ExitException::InvalidOpcode(_) => ErrorClass::InvalidOpcode,
        ExitException::CreateCollision => ErrorClass::CreateCollision,
        ExitException::CreateContractLimit => ErrorClass::CodeSizeLimit,
        ExitException::OutOfOffset => ErrorClass::ReturnDataOutOfBounds,
        ExitException::MaxNonce => ErrorClass::NonceOverflow,
        // Precompiles report a rejected input as `Other("reason")`.
        ExitException::Other(_) if context.precompile_target => ErrorClass::PrecompileFailure,
        _ => ErrorClass::OtherHalt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        let v = U256::from(0xdead_beef_u64) << 200;
        assert_eq!(u256(&crate::input::evm_u256(&v)), v);
    }

    #[test]
    fn code_deposit_prefix_is_told_from_the_opcode() {
        let err = ExitError::Exception(ExitException::InvalidOpcode(Opcode::EOFMAGIC));
        let deploy = ExitContext { create: true, frame_succeeded: true, precompile_target: false, precompile_charged: false };
        assert_eq!(error_class(&err, deploy), Some(ErrorClass::InvalidCodePrefix));
        let running = ExitContext { frame_succeeded: false, ..deploy };
        assert_eq!(error_class(&err, running), Some(ErrorClass::InvalidOpcode));
        assert_eq!(error_class(&ExitError::Reverted, running), Some(ErrorClass::Revert));
    }
}
