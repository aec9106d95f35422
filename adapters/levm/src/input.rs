//! Conversions from a schism [`Case`] into levm's types: the fork, the pre-state database, the
//! block and transaction environment, and the transaction itself.

use ethrex_common::types::{
    AccountState, ChainConfig, Code, CodeMetadata, EIP1559Transaction, EIP2930Transaction, EIP4844Transaction, EIP7702Transaction,
    Fork as LevmFork, ForkBlobSchedule, LegacyTransaction, Transaction as LevmTx, TxKind as LevmTxKind, tx_fields::AuthorizationTuple,
};
use ethrex_common::{H160, H256, U256 as LU256};
use ethrex_crypto::NativeCrypto;
use ethrex_levm::constants::SYS_CALL_GAS_LIMIT;
use ethrex_levm::db::Database;
use ethrex_levm::errors::DatabaseError;
use ethrex_levm::{EVMConfig, Environment};
use schism_interface::alloy_primitives::{Address, B256, U256, keccak256};
use schism_interface::fixture::{Accounts, BlobParams, Env, TxValue};
use schism_interface::sequence::{SYSTEM_ADDRESS, SystemCall};
use schism_interface::state::storage_root;
use schism_interface::{Case, Fork, InvalidTxKind, TxKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Why a case is not handed to levm: the transaction is invalid in a way levm cannot even
/// represent (a rejection), the case holds something levm cannot express, or ethrex itself
/// fails on the block before any transaction runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The transaction is invalid; reported as a rejection.
    Reject(InvalidTxKind),
    /// levm's API cannot hold this value.
    Unrepresentable(&'static str),
    /// ethrex fails before executing, as the node would.
    Failed(String),
}

/// levm's fork for a schism fork; `None` for forks levm does not implement (pre-Merge).
pub fn fork_of(fork: Fork) -> Option<LevmFork> {
    match fork {
        Fork::Paris => Some(LevmFork::Paris),
        Fork::Shanghai => Some(LevmFork::Shanghai),
        Fork::Cancun => Some(LevmFork::Cancun),
        Fork::Prague => Some(LevmFork::Prague),
        Fork::Osaka => Some(LevmFork::Osaka),
        _ => None,
    }
}

/// An alloy address as levm's `H160`.
pub fn h160(address: &Address) -> H160 {
    H160(address.0.0)
}

/// An alloy `B256` as levm's `H256`.
pub fn h256(word: &B256) -> H256 {
    H256(word.0)
}

/// An alloy `U256` as levm's `U256`.
pub fn lu256(value: &U256) -> LU256 {
    LU256::from_big_endian(&value.to_be_bytes::<32>())
}

/// The pre-state of a case as levm's backing store. levm caches every account and slot it
/// reads, so this is only consulted on first access.
pub struct PreState {
    accounts: HashMap<H160, AccountState>,
    storage: HashMap<(H160, H256), LU256>,
    codes: HashMap<H256, Code>,
    block_hashes: Option<Arc<BTreeMap<u64, B256>>>,
}

impl PreState {
    /// Builds the store from `pre`, with the block hashes of a sequence's case when it has them.
    pub fn new(pre: &Accounts, block_hashes: Option<Arc<BTreeMap<u64, B256>>>) -> PreState {
        let mut accounts = HashMap::with_capacity(pre.len());
        let mut storage = HashMap::new();
        let mut codes = HashMap::new();
        for (address, account) in pre {
            let address = h160(address);
            let code_hash = H256(schism_interface::state::code_hash(&account.code).0);
            codes.entry(code_hash).or_insert_with(|| Code::from_bytecode_unchecked(account.code.0.clone(), code_hash));
            for (slot, value) in account.storage.iter().filter(|(_, v)| !v.is_zero()) {
                storage.insert((address, H256(slot.to_be_bytes::<32>())), lu256(value));
            }
            accounts.insert(
                address,
                AccountState {
                    nonce: account.nonce,
                    balance: lu256(&account.balance),
                    storage_root: H256(storage_root(account).0),
                    code_hash,
                },
            );
        }
        PreState { accounts, storage, codes, block_hashes }
    }
}

impl Database for PreState {
    fn get_account_state(&self, address: H160) -> Result<AccountState, DatabaseError> {
        Ok(self.accounts.get(&address).copied().unwrap_or_default())
    }

    fn get_storage_value(&self, address: H160, key: H256) -> Result<LU256, DatabaseError> {
        Ok(self.storage.get(&(address, key)).copied().unwrap_or_default())
    }

    /// A sequence's hash of the block; in a state test, which has no chain, keccak256 of the
    /// decimal number, the convention geth's and ethrex's state-test runners share with the
    /// fillers.
    fn get_block_hash(&self, block_number: u64) -> Result<H256, DatabaseError> {
        Ok(H256(match &self.block_hashes {
            Some(hashes) => hashes.get(&block_number).copied().unwrap_or_default().0,
            None => keccak256(block_number.to_string().as_bytes()).0,
        }))
    }

    fn get_chain_config(&self) -> Result<ChainConfig, DatabaseError> {
        Ok(ChainConfig::default())
    }

    fn get_account_code(&self, code_hash: H256) -> Result<Code, DatabaseError> {
        match self.codes.get(&code_hash) {
            Some(code) => Ok(code.clone()),
            None if code_hash == H256(keccak256([]).0) => Ok(Code::default()),
            None => Err(DatabaseError::Custom(format!("code {code_hash:#x} is not in the pre-state"))),
        }
    }

    fn get_code_metadata(&self, code_hash: H256) -> Result<CodeMetadata, DatabaseError> {
        let length = self.codes.get(&code_hash).map_or(0, |code| code.len());
        Ok(CodeMetadata { length: u64::try_from(length).unwrap_or(u64::MAX) })
    }
}

/// The transaction value, or a rejection for the oversized values retesteth uses to test RLP
/// decoding (levm takes a decoded transaction and cannot hold them).
fn value_of(case: &Case) -> Result<LU256, Refusal> {
    match &case.tx.value {
        TxValue::Value(v) => Ok(lu256(v)),
        TxValue::Oversized(_) => Err(Refusal::Reject(InvalidTxKind::RlpInvalidValue)),
    }
}

/// A fee field of a typed transaction struct, which levm declares `u64`. levm reads fees from
/// the [`Environment`] (256-bit), so the struct's copy only feeds the transaction hash in an
/// error message; saturating is harmless.
fn fee_u64(value: Option<U256>) -> u64 {
    value.map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
}

/// The case's transaction as levm's transaction type.
pub fn transaction(case: &Case) -> Result<LevmTx, Refusal> {
    let tx = &case.tx;
    let value = value_of(case)?;
    let data = tx.data.0.clone();
    let to_kind = match tx.to {
        Some(to) => LevmTxKind::Call(h160(&to)),
        None => LevmTxKind::Create,
    };
    let chain_id = case.chain_id;
    let access_list =
        tx.access_list.iter().map(|item| (h160(&item.address), item.storage_keys.iter().map(h256).collect())).collect::<Vec<_>>();
    Ok(match tx.kind {
        TxKind::Legacy => LevmTx::LegacyTransaction(LegacyTransaction {
            nonce: tx.nonce,
            gas_price: lu256(&tx.gas_price.unwrap_or_default()),
            gas: tx.gas_limit,
            to: to_kind,
            value,
            data,
            ..Default::default()
        }),
        TxKind::AccessList => LevmTx::EIP2930Transaction(EIP2930Transaction {
            chain_id,
            nonce: tx.nonce,
            gas_price: lu256(&tx.gas_price.unwrap_or_default()),
            gas_limit: tx.gas_limit,
            to: to_kind,
            value,
            data,
            access_list,
            ..Default::default()
        }),
        TxKind::Eip1559 => LevmTx::EIP1559Transaction(EIP1559Transaction {
            chain_id,
            nonce: tx.nonce,
            max_priority_fee_per_gas: fee_u64(tx.max_priority_fee_per_gas),
            max_fee_per_gas: fee_u64(tx.max_fee_per_gas),
            gas_limit: tx.gas_limit,
            to: to_kind,
            value,
            data,
            access_list,
            ..Default::default()
        }),
        TxKind::Blob => {
            // levm's blob transaction has no create form (it cannot be decoded).
            let to = tx.to.ok_or(Refusal::Reject(InvalidTxKind::Type3ContractCreation))?;
            LevmTx::EIP4844Transaction(EIP4844Transaction {
                chain_id,
                nonce: tx.nonce,
                max_priority_fee_per_gas: fee_u64(tx.max_priority_fee_per_gas),
                max_fee_per_gas: fee_u64(tx.max_fee_per_gas),
                gas: tx.gas_limit,
                to: h160(&to),
                value,
                data,
                access_list,
                max_fee_per_blob_gas: lu256(&tx.max_fee_per_blob_gas.unwrap_or_default()),
                blob_versioned_hashes: tx.blob_versioned_hashes.iter().map(h256).collect(),
                ..Default::default()
            })
        }
        TxKind::SetCode => {
            // Likewise, a set-code transaction cannot create.
            let to = tx.to.ok_or(Refusal::Reject(InvalidTxKind::Type4ContractCreation))?;
            let authorization_list = tx
                .authorization_list
                .iter()
                .map(|auth| AuthorizationTuple {
                    chain_id: lu256(&auth.chain_id),
                    address: h160(&auth.address),
                    nonce: auth.nonce,
                    y_parity: lu256(&auth.parity()),
                    r_signature: lu256(&auth.r),
                    s_signature: lu256(&auth.s),
                })
                .collect();
            LevmTx::EIP7702Transaction(EIP7702Transaction {
                chain_id,
                nonce: tx.nonce,
                max_priority_fee_per_gas: fee_u64(tx.max_priority_fee_per_gas),
                max_fee_per_gas: fee_u64(tx.max_fee_per_gas),
                gas_limit: tx.gas_limit,
                to: h160(&to),
                value,
                data,
                access_list,
                authorization_list,
                ..Default::default()
            })
        }
    })
}

/// The blob schedule: the given one (fixture config or fork default), else levm's canonical one.
/// levm holds the blob counts in `u32`; a larger count is as unreachable as `u32::MAX`, so it
/// saturates.
fn blob_schedule(params: Option<BlobParams>, fork: LevmFork) -> ForkBlobSchedule {
    let Some(params) = params else {
        return EVMConfig::canonical_values(fork);
    };
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    ForkBlobSchedule { base_fee_update_fraction: params.base_fee_update_fraction, max: narrow(params.max), target: narrow(params.target) }
}

/// True for a gas limit levm cannot hold while the specification would go on to execute:
/// levm keeps a frame's remaining gas in an `i64` and converts the limit with `as`, so above
/// `i64::MAX` the transaction starts with negative gas (and just above `2^63` the intrinsic
/// charge wraps it to about `2^63` gas, which runs until memory is exhausted). Osaka's EIP-7825
/// cap rejects such limits first, and a limit above the block's is rejected anyway.
pub fn gas_limit_unrepresentable(case: &Case) -> bool {
    let gas = case.tx.gas_limit;
    gas > i64::MAX as u64 && case.fork < Fork::Osaka && gas <= case.env.current_gas_limit
}

/// Refuses the gas limits levm cannot hold (see [`gas_limit_unrepresentable`]), rejecting
/// those above the block's gas limit here, as the specification does, since levm would not.
fn check_gas_limit(case: &Case) -> Result<(), Refusal> {
    let gas = case.tx.gas_limit;
    if gas <= i64::MAX as u64 || case.fork >= Fork::Osaka {
        return Ok(());
    }
    if gas > case.env.current_gas_limit {
        return Err(Refusal::Reject(InvalidTxKind::GasAllowanceExceeded));
    }
    Err(Refusal::Unrepresentable("a transaction gas limit above 2^63-1 (levm keeps gas in an i64)"))
}

/// The blob base fee, computed as an ethrex node computes it for every block (whatever the
/// fork). ethrex's fake_exponential works in 256 bits and fails where an intermediate product
/// overflows, from an excess blob gas of about 4.9e8 under Cancun's update fraction (7.3e8
/// under Prague's) although the fee itself fits up to about 5.9e8 (8.9e8); it also fails for a
/// zero fraction. The node then cannot execute the block at all.
pub fn base_blob_fee(case: &Case, config: &EVMConfig) -> Result<LU256, String> {
    blob_fee(&case.env, config)
}

/// The blob base fee of a block environment (see [`base_blob_fee`]).
fn blob_fee(env: &Env, config: &EVMConfig) -> Result<LU256, String> {
    ethrex_levm::utils::get_base_fee_per_blob_gas(env.current_excess_blob_gas, config).map_err(|err| format!("blob base fee: {err}"))
}

/// The EVM configuration: levm's fork and the blob schedule.
pub fn config(case: &Case, fork: LevmFork) -> EVMConfig {
    EVMConfig::new(fork, blob_schedule(case.blob_params, fork))
}

/// PREVRANDAO: post-Merge fixtures carry `currentRandom`; older ones only a difficulty, which
/// is what the opcode returns then.
fn prev_randao(env: &Env) -> H256 {
    env.current_random.map(|r| h256(&r)).unwrap_or_else(|| H256(env.current_difficulty.to_be_bytes::<32>()))
}

/// The block and transaction environment levm executes in.
pub fn environment(case: &Case, fork: LevmFork) -> Result<Environment, Refusal> {
    let env = &case.env;
    let tx = &case.tx;
    check_gas_limit(case)?;
    let config = config(case, fork);
    let base_fee = LU256::from(env.current_base_fee.unwrap_or_default());
    // EIP-1559 effective gas price: min(fee cap, base fee + tip); levm takes it precomputed.
    let gas_price = match tx.gas_price {
        Some(price) => lu256(&price),
        None => {
            let cap = lu256(&tx.max_fee_per_gas.unwrap_or_default());
            let tip = lu256(&tx.max_priority_fee_per_gas.unwrap_or_default());
            cap.min(base_fee.saturating_add(tip))
        }
    };
    let typed_fees = tx.gas_price.is_none();
    let is_blob = tx.kind == TxKind::Blob;
    let base_blob_fee_per_gas = base_blob_fee(case, &config).map_err(Refusal::Failed)?;
    Ok(Environment {
        origin: h160(&tx.sender),
        gas_limit: tx.gas_limit,
        config,
        block_number: env.current_number,
        coinbase: h160(&env.current_coinbase),
        timestamp: env.current_timestamp,
        prev_randao: Some(prev_randao(env)),
        difficulty: lu256(&env.current_difficulty),
        slot_number: LU256::zero(),
        chain_id: LU256::from(case.chain_id),
        base_fee_per_gas: base_fee,
        base_blob_fee_per_gas,
        gas_price,
        block_excess_blob_gas: env.current_excess_blob_gas,
        block_blob_gas_used: None,
        tx_blob_hashes: tx.blob_versioned_hashes.iter().map(h256).collect(),
        tx_max_priority_fee_per_gas: typed_fees.then(|| lu256(&tx.max_priority_fee_per_gas.unwrap_or_default())),
        tx_max_fee_per_gas: typed_fees.then(|| lu256(&tx.max_fee_per_gas.unwrap_or_default())),
        tx_max_fee_per_blob_gas: is_blob.then(|| lu256(&tx.max_fee_per_blob_gas.unwrap_or_default())),
        tx_nonce: tx.nonce,
        block_gas_limit: env.current_gas_limit,
        ..Default::default()
    })
}

/// The crypto provider levm's precompiles and authorization recovery use.
pub static CRYPTO: NativeCrypto = NativeCrypto;

/// The environment of a system call (EIP-4788 and its successors): levm's own system-call mode,
/// in which the caller is neither validated, charged nor given a nonce, no intrinsic gas is
/// taken and the coinbase is not paid, so the frame gets the whole 30,000,000 gas. The block's
/// fields are the block's; the gas price is zero.
pub fn system_environment(call: &SystemCall<'_>, fork: LevmFork) -> Result<Environment, String> {
    let block = call.block;
    let env = &block.env;
    let config = EVMConfig::new(fork, blob_schedule(block.blob_params, fork));
    Ok(Environment {
        origin: h160(&SYSTEM_ADDRESS),
        gas_limit: SYS_CALL_GAS_LIMIT,
        config,
        block_number: env.current_number,
        coinbase: h160(&env.current_coinbase),
        timestamp: env.current_timestamp,
        prev_randao: Some(prev_randao(env)),
        difficulty: lu256(&env.current_difficulty),
        slot_number: LU256::zero(),
        chain_id: LU256::from(block.chain_id),
        base_fee_per_gas: LU256::from(env.current_base_fee.unwrap_or_default()),
        base_blob_fee_per_gas: blob_fee(env, &config)?,
        gas_price: LU256::zero(),
        block_excess_blob_gas: env.current_excess_blob_gas,
        block_gas_limit: env.current_gas_limit,
        is_system_call: true,
        ..Default::default()
    })
}

/// The system call as the transaction levm's VM executes: a call to the contract with the data,
/// no value and the system-call gas.
pub fn system_transaction(call: &SystemCall<'_>) -> LevmTx {
    LevmTx::EIP1559Transaction(EIP1559Transaction {
        chain_id: call.block.chain_id,
        gas_limit: SYS_CALL_GAS_LIMIT,
        to: LevmTxKind::Call(h160(&call.contract)),
        data: call.data.to_vec().into(),
        ..Default::default()
    })
}
