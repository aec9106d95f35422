//! Executing a block one transaction at a time on any client: the block-level rules (gas and
//! blob-gas allowance, rewards, withdrawals, system calls in their order, and what a system call
//! may and may not change) around the client's own execution of each transaction and system
//! call, each over the state the previous one left. The rules live here once, so that a slip in
//! them cannot pass for a difference between clients.

use super::{
    BEACON_ROOTS_ADDRESS, BlockInput, BlockOutcome, CONSOLIDATION_REQUEST_ADDRESS, DEPOSIT_CONTRACT_ADDRESS, HISTORY_STORAGE_ADDRESS,
    Rejection, SYSTEM_ADDRESS, SystemCall, SystemOutcome, TxReceipt, WITHDRAWAL_REQUEST_ADDRESS,
};
use crate::case::Case;
use crate::client::{Client, ClientError};
use crate::fixture::Accounts;
use crate::fork::Fork;
use crate::observe::StepObserver;
use crate::outcome::{ErrorClass, InvalidTxKind};
use crate::trace::TraceMode;
use alloy_primitives::{Address, Bytes, Log, U256};
use std::sync::Arc;

/// Blob gas per blob (EIP-4844).
pub const GAS_PER_BLOB: u64 = 1 << 17;

const GWEI: u64 = 1_000_000_000;

/// Executes `block` on `client` transaction by transaction with [`Client::execute`], and the
/// system calls with [`system_call`].
pub fn by_transactions<C: Client + ?Sized>(client: &C, block: &BlockInput, mode: TraceMode) -> Result<BlockOutcome, ClientError> {
    transaction_by_transaction(client, block, |case| client.execute(case, mode))
}

/// [`by_transactions`] with each transaction's steps reported to `observer` as they happen
/// ([`Client::execute_observed`]): no trace is built, and the receipts carry none.
pub fn by_transactions_observed<C: Client + ?Sized>(
    client: &C,
    block: &BlockInput,
    observer: &mut dyn StepObserver,
) -> Result<BlockOutcome, ClientError> {
    transaction_by_transaction(client, block, |case| client.execute_observed(case, observer))
}

/// Replays the step traces of a block's receipts into `observer`, taking them out of the
/// receipts.
pub fn replay_traces(outcome: &mut BlockOutcome, observer: &mut dyn StepObserver) {
    for receipt in &mut outcome.receipts {
        if let Some(trace) = receipt.trace.take() {
            crate::observe::replay(&trace, observer);
        }
    }
}

/// The block rules around `execute`, which runs one transaction of the block.
fn transaction_by_transaction<C: Client + ?Sized>(
    client: &C,
    block: &BlockInput,
    mut execute: impl FnMut(&Case) -> Result<crate::outcome::Outcome, ClientError>,
) -> Result<BlockOutcome, ClientError> {
    let fork = block.fork;
    let env = &block.env;
    let mut state = (*block.pre).clone();
    if env.current_number > 0 {
        if fork >= Fork::Prague
            && let Some(parent) = env.previous_hash
        {
            state =
                system_call(client, &SystemCall { block, state: &state, contract: HISTORY_STORAGE_ADDRESS, data: parent.as_slice() })?.post;
        }
        if fork >= Fork::Cancun
            && let Some(root) = env.parent_beacon_block_root
        {
            state = system_call(client, &SystemCall { block, state: &state, contract: BEACON_ROOTS_ADDRESS, data: root.as_slice() })?.post;
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
        // A transaction's own post-state root is part of its receipt only before Byzantium;
        // from Byzantium on the block's root is the only one needed.
        let outcome = if fork >= Fork::Byzantium { crate::state::with_roots_deferred(|| execute(&case))? } else { execute(&case)? };
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
            let out = system_call(client, &SystemCall { block, state: &state, contract, data: &[] })?;
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

/// Makes a system call on `client` under the protocol's rules, which no client applies itself:
///
/// - a system contract without code is not called, and nothing happens (EIP-4788, EIP-2935,
///   EIP-7002, EIP-7251);
/// - a failing request call (EIP-7002, EIP-7251) makes the block invalid: an
///   [`ClientError::Execution`] naming the contract;
/// - a failing beacon-root or history call (EIP-4788, EIP-2935) changes nothing and returns
///   nothing, whatever the client left behind;
/// - the system address only names the caller: it is neither charged nor given a nonce, so its
///   account is left as it was (absent, normally).
///
/// The outcome's `failure` says whether the call failed (only a beacon-root or history call can
/// fail here without making the block invalid).
pub fn system_call<C: Client + ?Sized>(client: &C, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
    let unchanged = |failure| SystemOutcome { post: call.state.clone(), output: Bytes::new(), failure };
    if call.state.get(&call.contract).is_none_or(|a| a.code.is_empty()) {
        return Ok(unchanged(None));
    }
    let mut out = client.system_call(call)?;
    if let Some(failure) = out.failure {
        if [WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS].contains(&call.contract) {
            return Err(ClientError::Execution {
                client: client.id().to_owned(),
                detail: format!("system call to {} failed ({failure}): the block is invalid", call.contract),
            });
        }
        return Ok(unchanged(Some(failure)));
    }
    match call.state.get(&SYSTEM_ADDRESS) {
        Some(account) => out.post.insert(SYSTEM_ADDRESS, account.clone()),
        None => out.post.remove(&SYSTEM_ADDRESS),
    };
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Account, Env};
    use crate::outcome::Outcome;
    use alloy_primitives::B256;
    use std::sync::Mutex;

    /// A client whose system calls give `post` (with the caller's account changed, as a careless
    /// client might leave it) and fail with `failure`, recording the contracts it is asked to call.
    struct Scripted {
        failure: Option<&'static str>,
        called: Mutex<Vec<Address>>,
    }

    impl Client for Scripted {
        fn id(&self) -> &str {
            "scripted"
        }
        fn version(&self) -> &str {
            "0"
        }
        fn supports(&self, _: Fork) -> bool {
            true
        }
        fn execute(&self, _: &Case, _: TraceMode) -> Result<Outcome, ClientError> {
            Err(ClientError::Unrepresentable { client: "scripted".into(), what: "transactions" })
        }
        fn system_call(&self, call: &SystemCall<'_>) -> Result<SystemOutcome, ClientError> {
            self.called.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(call.contract);
            let mut post = call.state.clone();
            post.entry(call.contract).or_default().storage.insert(U256::from(1), U256::from(1));
            post.entry(SYSTEM_ADDRESS).or_default().nonce += 1;
            Ok(SystemOutcome { post, output: Bytes::from_static(&[0xaa]), failure: self.failure.map(str::to_owned) })
        }
    }

    fn scripted(failure: Option<&'static str>) -> Scripted {
        Scripted { failure, called: Mutex::new(Vec::new()) }
    }

    fn code() -> Account {
        Account { code: Bytes::from_static(&[0x00]), nonce: 1, ..Default::default() }
    }

    /// A Prague block over `pre`, with a parent hash and a beacon root.
    fn prague(pre: Accounts) -> BlockInput {
        BlockInput {
            fork: Fork::Prague,
            chain_id: 1,
            blob_params: crate::case::default_blob_params(Fork::Prague),
            pre: Arc::new(pre),
            env: Arc::new(Env {
                current_coinbase: Address::repeat_byte(0xcb),
                current_difficulty: U256::ZERO,
                current_gas_limit: 30_000_000,
                current_number: 1,
                current_timestamp: 12,
                current_base_fee: Some(7),
                current_random: Some(B256::ZERO),
                current_excess_blob_gas: Some(0),
                previous_hash: Some(B256::repeat_byte(0x11)),
                parent_beacon_block_root: Some(B256::repeat_byte(0xbe)),
            }),
            block_hashes: Arc::new([(0, B256::repeat_byte(0x11))].into()),
            txs: Vec::new(),
            withdrawals: Some(Vec::new()),
            ommers: Vec::new(),
        }
    }

    fn call<'a>(block: &'a BlockInput, contract: Address) -> SystemCall<'a> {
        SystemCall { block, state: &block.pre, contract, data: &[] }
    }

    #[test]
    fn a_contract_without_code_is_not_called() {
        let client = scripted(None);
        let block = prague([(BEACON_ROOTS_ADDRESS, Account { balance: U256::from(1), ..Default::default() })].into());
        let out = system_call(&client, &call(&block, BEACON_ROOTS_ADDRESS)).expect("nothing to fail");
        assert_eq!((out.post, out.output, out.failure), ((*block.pre).clone(), Bytes::new(), None));
        let out = by_transactions(&client, &block, TraceMode::Off).expect("nothing to fail");
        assert_eq!(out.requests, Some(Vec::new()));
        assert!(client.called.lock().expect("not poisoned").is_empty());
    }

    #[test]
    fn the_system_address_is_left_as_it_was() {
        let client = scripted(None);
        let funded = Account { balance: U256::from(5), ..Default::default() };
        let block = prague([(BEACON_ROOTS_ADDRESS, code()), (SYSTEM_ADDRESS, funded.clone())].into());
        let out = system_call(&client, &call(&block, BEACON_ROOTS_ADDRESS)).expect("succeeds");
        assert_eq!(out.post.get(&SYSTEM_ADDRESS), Some(&funded));
        assert_eq!(out.post[&BEACON_ROOTS_ADDRESS].storage.len(), 1);
        let block = prague([(BEACON_ROOTS_ADDRESS, code())].into());
        let out = system_call(&client, &call(&block, BEACON_ROOTS_ADDRESS)).expect("succeeds");
        assert!(!out.post.contains_key(&SYSTEM_ADDRESS));
    }

    #[test]
    fn a_failing_beacon_root_or_history_call_changes_nothing() {
        let client = scripted(Some("reverted"));
        let block = prague([(BEACON_ROOTS_ADDRESS, code()), (HISTORY_STORAGE_ADDRESS, code())].into());
        for contract in [BEACON_ROOTS_ADDRESS, HISTORY_STORAGE_ADDRESS] {
            let out = system_call(&client, &call(&block, contract)).expect("a failure is ignored");
            assert_eq!((&out.post, out.output.is_empty()), (&*block.pre, true));
            assert_eq!(out.failure.as_deref(), Some("reverted"));
        }
        let out = by_transactions(&client, &block, TraceMode::Off).expect("a failure is ignored");
        assert_eq!(out.post, *block.pre);
    }

    #[test]
    fn a_failing_request_call_invalidates_the_block() {
        for contract in [WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS] {
            let block = prague([(contract, code())].into());
            let err = system_call(&scripted(Some("reverted")), &call(&block, contract)).expect_err("the block is invalid");
            assert!(matches!(&err, ClientError::Execution { detail, .. } if detail.contains("reverted")), "{err}");
            assert!(by_transactions(&scripted(Some("reverted")), &block, TraceMode::Off).is_err());
        }
    }

    #[test]
    fn a_request_call_output_is_a_request() {
        let client = scripted(None);
        let block = prague([(WITHDRAWAL_REQUEST_ADDRESS, code()), (CONSOLIDATION_REQUEST_ADDRESS, code())].into());
        let out = by_transactions(&client, &block, TraceMode::Off).expect("succeeds");
        assert_eq!(out.requests, Some(vec![Bytes::from_static(&[1, 0xaa]), Bytes::from_static(&[2, 0xaa])]));
        assert_eq!(*client.called.lock().expect("not poisoned"), [WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS]);
    }
}
