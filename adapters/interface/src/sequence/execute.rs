//! Executing a block one transaction at a time on any client: the block-level rules (gas and
//! blob-gas allowance, rewards, withdrawals, system calls in their order) around the client's
//! own transaction execution, each transaction over the state the previous one left.

use super::{
    BEACON_ROOTS_ADDRESS, BlockInput, BlockOutcome, CONSOLIDATION_REQUEST_ADDRESS, DEPOSIT_CONTRACT_ADDRESS, HISTORY_STORAGE_ADDRESS,
    Rejection, SystemCall, TxReceipt, WITHDRAWAL_REQUEST_ADDRESS,
};
use crate::case::Case;
use crate::client::{Client, ClientError};
use crate::fixture::Accounts;
use crate::fork::Fork;
use crate::outcome::{ErrorClass, InvalidTxKind};
use crate::trace::TraceMode;
use alloy_primitives::{Address, Bytes, Log, U256};
use std::sync::Arc;

/// Blob gas per blob (EIP-4844).
pub const GAS_PER_BLOB: u64 = 1 << 17;

const GWEI: u64 = 1_000_000_000;

/// Executes `block` on `client` transaction by transaction with [`Client::execute`], and the
/// system calls with [`Client::system_call`].
pub fn by_transactions<C: Client + ?Sized>(client: &C, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
    let fork = block.fork;
    let env = &block.env;
    let mut state = (*block.pre).clone();
    if env.current_number > 0 {
        if fork >= Fork::Prague
            && let Some(parent) = env.previous_hash
        {
            state =
                client.system_call(&SystemCall { block, state: &state, contract: HISTORY_STORAGE_ADDRESS, data: parent.as_slice() })?.post;
        }
        if fork >= Fork::Cancun
            && let Some(root) = env.parent_beacon_block_root
        {
            state = client.system_call(&SystemCall { block, state: &state, contract: BEACON_ROOTS_ADDRESS, data: root.as_slice() })?.post;
        }
    }
    let max_blob_gas = block.blob_params.map_or(0, |p| p.max * GAS_PER_BLOB);
    let mut receipts = Vec::new();
    let mut rejected = Vec::new();
    let mut gas_used = 0u64;
    let mut blob_gas_used = 0u64;
    let mut all_logs: Vec<Log> = Vec::new();
    for (index, stx) in block.txs.iter().enumerate() {
        let tx = &stx.tx;
        let blob_gas = tx.blob_versioned_hashes.len() as u64 * GAS_PER_BLOB;
        let block_rule = if tx.gas_limit > env.current_gas_limit.saturating_sub(gas_used) {
            Some(InvalidTxKind::GasAllowanceExceeded)
        } else if fork >= Fork::Cancun && blob_gas_used + blob_gas > max_blob_gas && blob_gas <= max_blob_gas {
            Some(InvalidTxKind::Type3MaxBlobGasAllowanceExceeded)
        } else {
            None
        };
        if let Some(kind) = block_rule {
            rejected.push(Rejection { index, kind, detail: None });
            continue;
        }
        let case = Case {
            file: Arc::from("sequence"),
            test: Arc::from(format!("tx{index}")),
            fork,
            index: Default::default(),
            env: env.clone(),
            pre: Arc::new(state),
            tx: tx.clone(),
            chain_id: block.chain_id,
            blob_params: block.blob_params,
            expected: None,
            block_hashes: Some(block.block_hashes.clone()),
        };
        let outcome = client.execute(&case, mode)?;
        if let Some(ErrorClass::InvalidTransaction(kind)) = outcome.error {
            rejected.push(Rejection { index, kind, detail: None });
            state = Arc::unwrap_or_clone(case.pre);
            continue;
        }
        state = outcome.post_state.ok_or_else(|| ClientError::Unrepresentable {
            client: client.id().to_owned(),
            what: "a post-state after a transaction of a block",
        })?;
        gas_used += outcome.gas_used.unwrap_or_default();
        blob_gas_used += blob_gas;
        all_logs.extend(outcome.logs.iter().cloned());
        receipts.push(TxReceipt {
            index,
            kind: tx.kind,
            success: (fork >= Fork::Byzantium).then_some(outcome.error.is_none()),
            post_state: (fork < Fork::Byzantium).then_some(outcome.state_root),
            cumulative_gas_used: gas_used,
            logs: Some(outcome.logs),
            error: outcome.error,
            trace: outcome.trace,
        });
    }
    reward(&mut state, block);
    if fork >= Fork::Shanghai {
        for w in block.withdrawals.iter().flatten() {
            credit(&mut state, w.address, U256::from(w.amount) * U256::from(GWEI), fork);
        }
    }
    let requests = if fork >= Fork::Prague {
        let mut requests = Vec::new();
        let deposits = deposit_requests(&all_logs);
        if !deposits.is_empty() {
            requests.push(prefixed(0, &deposits));
        }
        for (kind, contract) in [(1u8, WITHDRAWAL_REQUEST_ADDRESS), (2, CONSOLIDATION_REQUEST_ADDRESS)] {
            let out = client.system_call(&SystemCall { block, state: &state, contract, data: &[] })?;
            state = out.post;
            if !out.output.is_empty() {
                requests.push(prefixed(kind, &out.output));
            }
        }
        Some(requests)
    } else {
        None
    };
    crate::state::drop_zero_slots(&mut state);
    Ok(BlockOutcome {
        state_root: crate::state::state_root(&state),
        post: state,
        receipts,
        rejected,
        gas_used,
        blob_gas_used,
        logs_hash: Some(crate::state::logs_hash(&all_logs)),
        receipts_root: None,
        logs_bloom: None,
        requests,
    })
}

/// Block and uncle rewards before the Merge.
pub fn reward(state: &mut Accounts, block: &BlockInput) {
    let fork = block.fork;
    if fork >= Fork::Paris {
        return;
    }
    let base = U256::from(match fork {
        f if f >= Fork::ConstantinopleFix => 2u64,
        f if f >= Fork::Byzantium => 3,
        _ => 5,
    }) * U256::from(10u64).pow(U256::from(18));
    let mut miner = base;
    for ommer in &block.ommers {
        miner += base >> 5;
        let share = base * U256::from(8u64.saturating_sub(ommer.distance)) / U256::from(8u64);
        credit(state, ommer.beneficiary, share, fork);
    }
    credit(state, block.env.current_coinbase, miner, fork);
}

/// Adds `amount` to an account, creating it unless that would leave an empty account after
/// EIP-161 (a zero credit to an absent account touches it, and touched empties are deleted).
pub fn credit(state: &mut Accounts, address: Address, amount: U256, fork: Fork) {
    if amount.is_zero() && fork.clears_empty_accounts() {
        if state.get(&address).is_some_and(|a| a.is_empty()) {
            state.remove(&address);
        }
        return;
    }
    let account = state.entry(address).or_default();
    account.balance = account.balance.saturating_add(amount);
}

/// EIP-7685: a request list with its type byte in front.
fn prefixed(kind: u8, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(kind);
    out.extend_from_slice(data);
    out.into()
}

/// EIP-6110: deposit requests from the deposit contract's `DepositEvent` logs, each the
/// concatenation of pubkey (48), withdrawal credentials (32), amount (8), signature (96) and
/// index (8) taken from the ABI-encoded log data.
pub fn deposit_requests(logs: &[Log]) -> Vec<u8> {
    const DEPOSIT_EVENT: [u8; 32] = alloy_primitives::hex!("649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5");
    let mut out = Vec::new();
    for log in logs.iter().filter(|l| l.address == DEPOSIT_CONTRACT_ADDRESS) {
        if log.data.topics().first().map(|t| t.0) != Some(DEPOSIT_EVENT) {
            continue;
        }
        let data = &log.data.data;
        // Five dynamic `bytes` fields: offsets at 0..160, each field a length word then data.
        let field = |i: usize, len: usize| -> Option<&[u8]> {
            let offset: usize = U256::from_be_slice(data.get(i * 32..i * 32 + 32)?).try_into().ok()?;
            let start = offset.checked_add(32)?;
            data.get(start..start.checked_add(len)?)
        };
        let parts = [field(0, 48), field(1, 32), field(2, 8), field(3, 96), field(4, 8)];
        if parts.iter().all(Option::is_some) {
            for part in parts.into_iter().flatten() {
                out.extend_from_slice(part);
            }
        }
    }
    out
}
