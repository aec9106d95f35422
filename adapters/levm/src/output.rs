//! Conversions from levm's results back to a schism [`Outcome`]: the post-state (with the
//! EIP-161 clearing levm leaves out), logs, the shared error classes, and the step trace.

use crate::input::h160;
use ethrex_common::tracing::{CallTraceFrame, CallType, OpcodeStep};
use ethrex_common::types::Log as LevmLog;
use ethrex_common::{H160, U256 as LU256};
use ethrex_levm::account::AccountStatus;
use ethrex_levm::db::gen_db::GeneralizedDatabase;
use ethrex_levm::errors::{ExceptionalHalt, PrecompileError, TxResult, TxValidationError, VMError};
use schism_interface::alloy_primitives::{Address, B256, Bytes, Log, LogData, U256, keccak256};
use schism_interface::fixture::{Account, Accounts};
use schism_interface::state::{clear_touched_empty, drop_zero_slots};
use schism_interface::{Case, ErrorClass, Fork, InvalidTxKind, Outcome, TraceStep};
use std::collections::HashSet;

/// The RIPEMD-160 precompile, which stays touched when a call to it fails (the consensus
/// quirk of mainnet block 2675119, which the specification keeps from Spurious Dragon on).
const RIPEMD160: H160 = H160([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);

/// A levm `U256` as an alloy `U256`.
fn au256(value: &LU256) -> U256 {
    U256::from_be_bytes(value.to_big_endian())
}

/// A levm `H160` as an alloy `Address`.
fn address(a: &H160) -> Address {
    Address::from(a.0)
}

/// Assembles the outcome of an executed transaction.
pub fn executed(result: &TxResult, gas_used: u64, logs: &[LevmLog], post_state: Accounts, trace: Option<Vec<TraceStep>>) -> Outcome {
    let error = match result {
        TxResult::Success => None,
        TxResult::Revert(err) => Some(error_class(err)),
    };
    Outcome::executed(post_state, logs.iter().map(log).collect(), gas_used, error, trace)
}

/// One levm log as an alloy log.
fn log(l: &LevmLog) -> Log {
    Log {
        address: address(&l.address),
        data: LogData::new_unchecked(l.topics.iter().map(|t| B256::from(t.0)).collect(), Bytes(l.data.clone())),
    }
}

/// The accounts the transaction touched in the EIP-161 sense, read from levm's call tracer:
/// the targets of every CALL, STATICCALL, CREATE and SELFDESTRUCT whose frame and all its
/// ancestors succeeded, and RIPEMD-160 when a call to it failed under succeeding ancestors
/// (EELS `incorporate_child_on_error`). (levm itself never deletes touched empty accounts: as a post-Merge
/// client it assumes none exist, but state test pre-states hold them.)
pub fn touched(top: Option<&CallTraceFrame>) -> HashSet<H160> {
    fn walk(frame: &CallTraceFrame, out: &mut HashSet<H160>) {
        if touches(&frame.call_type)
            && let Some(to) = frame.to
        {
            out.insert(to);
        }
        for child in &frame.calls {
            if child.error.is_none() {
                walk(child, out);
            } else if touches(&child.call_type) && child.to == Some(RIPEMD160) {
                out.insert(RIPEMD160);
            }
        }
    }
    fn touches(kind: &CallType) -> bool {
        matches!(kind, CallType::CALL | CallType::STATICCALL | CallType::CREATE | CallType::CREATE2 | CallType::SELFDESTRUCT)
    }
    let mut out = HashSet::new();
    if let Some(top) = top.filter(|t| t.error.is_none()) {
        walk(top, &mut out);
    }
    out
}

/// The full post-state of a transaction: [`overlay`] with the coinbase and the sender touched.
pub fn post_state(case: &Case, db: &GeneralizedDatabase, mut touched: HashSet<H160>) -> Result<Accounts, String> {
    // The coinbase is always touched by the fee payment, even a zero one; so is the sender.
    touched.insert(h160(&case.env.current_coinbase));
    touched.insert(h160(&case.tx.sender));
    overlay(&case.pre, case.fork, db, touched)
}

/// The pre-state overlaid with every account levm wrote, selfdestructed accounts removed, then
/// EIP-161 applied to the touched accounts and zero slots dropped.
pub fn overlay(pre_state: &Accounts, fork: Fork, db: &GeneralizedDatabase, mut touched: HashSet<H160>) -> Result<Accounts, String> {
    let mut post = pre_state.clone();
    for (addr, account) in &db.current_accounts_state {
        let alloy_addr = address(addr);
        let pre = pre_state.get(&alloy_addr);
        match account.status {
            AccountStatus::Unmodified => continue,
            AccountStatus::Destroyed => {
                post.remove(&alloy_addr);
                continue;
            }
            AccountStatus::Modified | AccountStatus::DestroyedModified => {}
        }
        let code_hash = account.info.code_hash;
        let code = match pre {
            Some(p) if schism_interface::state::code_hash(&p.code).0 == code_hash.0 => p.code.clone(),
            _ if code_hash.0 == keccak256([]).0 => Bytes::new(),
            _ => db
                .codes
                .get(&code_hash)
                .map(|c| Bytes(c.code_bytes()))
                .ok_or_else(|| format!("levm lost the code {code_hash:#x} of {addr:#x}"))?,
        };
        let mut storage = match (pre, account.status == AccountStatus::DestroyedModified) {
            (Some(p), false) => p.storage.clone(),
            _ => Default::default(),
        };
        for (key, value) in &account.storage {
            storage.insert(U256::from_be_bytes(key.0), au256(value));
        }
        let new = Account { balance: au256(&account.info.balance), code, nonce: account.info.nonce, storage };
        if pre.is_none_or(|p| *p != new) {
            touched.insert(*addr);
        }
        post.insert(alloy_addr, new);
    }
    // An account absent from the pre-state can only be empty afterwards if it was touched (and
    // is then deleted) or created and reverted (and then never existed).
    clear_touched_empty(&mut post, fork, |a| !pre_state.contains_key(a) || touched.contains(&h160(a)));
    drop_zero_slots(&mut post);
    Ok(post)
}

/// The shared class of a top-level failure.
pub fn error_class(err: &VMError) -> ErrorClass {
    match err {
        VMError::RevertOpcode => ErrorClass::Revert,
        VMError::ExceptionalHalt(halt) => match halt {
            ExceptionalHalt::StackUnderflow => ErrorClass::StackUnderflow,
            ExceptionalHalt::StackOverflow => ErrorClass::StackOverflow,
            ExceptionalHalt::InvalidJump => ErrorClass::InvalidJump,
            ExceptionalHalt::OpcodeNotAllowedInStaticContext => ErrorClass::StaticStateChange,
            ExceptionalHalt::InvalidContractPrefix => ErrorClass::InvalidCodePrefix,
            // levm's name for offsets and sizes too large to ever pay for: out of gas.
            ExceptionalHalt::VeryLargeNumber | ExceptionalHalt::OutOfGas => ErrorClass::OutOfGas,
            ExceptionalHalt::InvalidOpcode => ErrorClass::InvalidOpcode,
            ExceptionalHalt::AddressAlreadyOccupied => ErrorClass::CreateCollision,
            ExceptionalHalt::ContractOutputTooBig => ErrorClass::CodeSizeLimit,
            ExceptionalHalt::OutOfBounds => ErrorClass::ReturnDataOutOfBounds,
            ExceptionalHalt::Precompile(PrecompileError::NotEnoughGas) => ErrorClass::OutOfGas,
            ExceptionalHalt::Precompile(_) => ErrorClass::PrecompileFailure,
        },
        VMError::TxValidation(_) | VMError::Internal(_) => ErrorClass::OtherHalt,
    }
}

/// The shared kind of a transaction rejection.
pub fn invalid_kind(case: &Case, err: &TxValidationError) -> InvalidTxKind {
    use TxValidationError as E;
    match err {
        // levm folds the block's blob limit and Osaka's per-transaction one (EIP-7594) into
        // one error. From Osaka on the specification checks the block's first, under its own
        // name; before, the block's limit was the only one and is named the blob count.
        E::Type3TxBlobCountExceeded { .. }
            if case.fork >= Fork::Osaka
                && case.blob_params.is_some_and(|p| u64::try_from(case.tx.blob_versioned_hashes.len()).is_ok_and(|n| n > p.max)) =>
        {
            InvalidTxKind::Type3MaxBlobGasAllowanceExceeded
        }
        E::SenderNotEOA(_) => InvalidTxKind::SenderNotEoa,
        E::InsufficientAccountFunds => InvalidTxKind::InsufficientAccountFunds,
        E::NonceIsMax => InvalidTxKind::NonceIsMax,
        E::NonceMismatch { expected, actual } if actual < expected => InvalidTxKind::NonceMismatchTooLow,
        E::NonceMismatch { .. } => InvalidTxKind::NonceMismatchTooHigh,
        E::InitcodeSizeExceeded { .. } => InvalidTxKind::InitcodeSizeExceeded,
        E::PriorityGreaterThanMaxFeePerGas { .. } => InvalidTxKind::PriorityGreaterThanMaxFee,
        E::IntrinsicGasTooLow => InvalidTxKind::IntrinsicGasTooLow,
        E::IntrinsicGasBelowFloorGasCost => InvalidTxKind::IntrinsicGasBelowFloor,
        E::GasAllowanceExceeded { .. } => InvalidTxKind::GasAllowanceExceeded,
        E::InsufficientMaxFeePerGas => InvalidTxKind::InsufficientMaxFeePerGas,
        E::InsufficientMaxFeePerBlobGas { .. } => InvalidTxKind::InsufficientMaxFeePerBlobGas,
        E::Type1TxPreFork | E::Type2TxPreFork | E::FrameTxPreFork => InvalidTxKind::TypeNotSupported,
        E::Type3TxPreFork => InvalidTxKind::Type3PreFork,
        E::Type3TxZeroBlobs => InvalidTxKind::Type3ZeroBlobs,
        E::Type3TxInvalidBlobVersionedHash => InvalidTxKind::Type3InvalidBlobVersionedHash,
        E::Type3TxBlobCountExceeded { .. } => InvalidTxKind::Type3BlobCountExceeded,
        E::Type3TxContractCreation => InvalidTxKind::Type3ContractCreation,
        E::Type4TxPreFork => InvalidTxKind::Type4PreFork,
        E::Type4TxAuthorizationListIsEmpty => InvalidTxKind::Type4EmptyAuthorizationList,
        E::Type4TxContractCreation => InvalidTxKind::Type4ContractCreation,
        E::GasLimitPriceProductOverflow => InvalidTxKind::GasLimitPriceProductOverflow,
        E::TxMaxGasLimitExceeded { .. } => InvalidTxKind::GasLimitExceedsMaximum,
        // L2 and frame-transaction rules; no state test can reach them.
        E::L1GasReservationTooLow | E::InvalidFrameTransaction => InvalidTxKind::Unknown,
    }
}

/// levm's EIP-3155 steps as schism trace steps, without the steps levm records for frames
/// that have no code (see [`runs_no_code`]).
pub fn trace(steps: &[OpcodeStep], case: &Case, post: &Accounts) -> Vec<TraceStep> {
    let steps: Vec<TraceStep> = steps
        .iter()
        .map(|s| TraceStep {
            pc: s.pc,
            op: s.op,
            gas: s.gas,
            gas_cost: s.gas_cost,
            mem_size: s.mem_size,
            stack: s.stack.as_deref().unwrap_or_default().iter().map(au256).collect(),
            depth: s.depth,
            refund: s.refund,
            return_data: None,
        })
        .collect();
    let keep: Vec<bool> = (0..steps.len()).map(|i| !runs_no_code(&steps, i, case, post)).collect();
    steps.into_iter().zip(keep).filter_map(|(step, keep)| keep.then_some(step)).collect()
}

/// True when step `i` is the STOP levm executes for a frame without code. levm pads code with
/// STOPs and runs it even when it is empty; geth (the EIP-3155 reference) and revm run no
/// instruction there. Such a step is a STOP at pc 0 that opens a frame and is its only step;
/// whether the frame's code is empty (rather than starting with STOP) is read from the call
/// that opened it: the callee's code (through an EIP-7702 delegation) or the init code size.
fn runs_no_code(steps: &[TraceStep], i: usize, case: &Case, post: &Accounts) -> bool {
    let Some(step) = steps.get(i) else { return false };
    if step.op != 0x00 || step.pc != 0 {
        return false;
    }
    let code_of = |address: Address| -> Bytes {
        let code = post.get(&address).or_else(|| case.pre.get(&address)).map(|a| a.code.clone()).unwrap_or_default();
        match code.strip_prefix(&[0xef, 0x01, 0x00][..]) {
            Some(target) if target.len() == 20 => {
                let target = Address::from_slice(target);
                post.get(&target).or_else(|| case.pre.get(&target)).map(|a| a.code.clone()).unwrap_or_default()
            }
            _ => code,
        }
    };
    let Some(opener) = i.checked_sub(1).and_then(|p| steps.get(p)) else {
        // The transaction's own frame.
        return step.depth == 1 && if let Some(to) = case.tx.to { code_of(to).is_empty() } else { case.tx.data.is_empty() };
    };
    let returns_at_once = steps.get(i + 1).is_none_or(|next| next.depth <= opener.depth);
    if step.depth != opener.depth + 1 || !returns_at_once {
        return false;
    }
    let arg = |from_top: usize| opener.stack.len().checked_sub(from_top).and_then(|k| opener.stack.get(k)).copied();
    match opener.op {
        // CALL, CALLCODE, DELEGATECALL, STATICCALL: the address is the second argument.
        0xf1 | 0xf2 | 0xf4 | 0xfa => arg(2).is_some_and(|a| code_of(Address::from_word(B256::from(a))).is_empty()),
        // CREATE, CREATE2: the init code size is the third argument.
        0xf0 | 0xf5 => arg(3).is_some_and(|size| size.is_zero()),
        _ => false,
    }
}
