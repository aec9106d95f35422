//! Conversions from a schism [`Case`] into SputnikVM's types: the fork's `Config`, the in-memory
//! backend holding the pre-state and block environment, the transaction checks the crate leaves
//! to its caller, and the `TransactArgs`.

use evm::backend::{InMemoryAccount, InMemoryBackend, InMemoryEnvironment, RuntimeBaseBackend, RuntimeEnvironment};
use evm::standard::{Config, TransactArgs, TransactArgsCallCreate, TransactGasPrice};
use evm::uint::{H160, H256, U256 as EvmU256};
use schism_interface::alloy_primitives::{Address, B256, U256, keccak256};
use schism_interface::fixture::{Accounts, BlobParams, Env};
use schism_interface::sequence::{SYSTEM_ADDRESS, SYSTEM_CALL_GAS, SystemCall};
use schism_interface::{Case, Fork, InvalidTxKind, TxKind, TxValue};
use std::collections::BTreeMap;

static FRONTIER: Config = Config::frontier();
static HOMESTEAD: Config = Config::homestead();
static TANGERINE: Config = Config::tangerine_whistle();
static SPURIOUS_DRAGON: Config = Config::spurious_dragon();
static BYZANTIUM: Config = Config::byzantium();
static PETERSBURG: Config = Config::petersburg();
static ISTANBUL: Config = Config::istanbul();
static BERLIN: Config = Config::berlin();
static LONDON: Config = Config::london();
static SHANGHAI: Config = Config::shanghai();
static CANCUN: Config = Config::cancun();
static PRAGUE: Config = Config::prague();

/// Gas of one blob (EIP-4844 `GAS_PER_BLOB`).
const GAS_PER_BLOB: u64 = 1 << 17;
/// The version byte of a KZG versioned hash (EIP-4844).
const VERSIONED_HASH_VERSION_KZG: u8 = 0x01;
/// Largest init code a creation transaction may carry (EIP-3860: twice EIP-170's code limit).
const MAX_INITCODE_SIZE: usize = 2 * 0x6000;
/// EIP-7623 floor cost per calldata token.
const FLOOR_COST_PER_TOKEN: u64 = 10;

/// The crate's configuration for `fork`, `None` when it has none.
///
/// The Glacier forks only move the difficulty bomb, which a state test never sees, so they share
/// the configuration of the fork they follow. Paris is London's configuration with PREVRANDAO,
/// which the backend supplies through `block_randomness`. Constantinople (with EIP-1283) has no
/// configuration: the crate only implements its successor Petersburg.
pub(crate) fn config(fork: Fork) -> Option<&'static Config> {
    Some(match fork {
        Fork::Frontier => &FRONTIER,
        Fork::Homestead => &HOMESTEAD,
        Fork::Tangerine => &TANGERINE,
        Fork::SpuriousDragon => &SPURIOUS_DRAGON,
        Fork::Byzantium => &BYZANTIUM,
        Fork::ConstantinopleFix => &PETERSBURG,
        Fork::Istanbul | Fork::MuirGlacier => &ISTANBUL,
        Fork::Berlin => &BERLIN,
        Fork::London | Fork::ArrowGlacier | Fork::GrayGlacier | Fork::Paris => &LONDON,
        Fork::Shanghai => &SHANGHAI,
        Fork::Cancun => &CANCUN,
        Fork::Prague => &PRAGUE,
        _ => return None,
    })
}

/// An address in the crate's type.
pub(crate) fn h160(address: &Address) -> H160 {
    H160::from_slice(address.as_slice())
}

/// A 32-byte word in the crate's type.
pub(crate) fn h256(word: &B256) -> H256 {
    H256(word.0)
}

/// A 256-bit number in the crate's type.
pub(crate) fn evm_u256(value: &U256) -> EvmU256 {
    EvmU256::from_big_endian(&value.to_be_bytes::<32>())
}

/// Why a case does not reach the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The transaction is invalid: the outcome is a rejection with the pre-state unchanged.
    Invalid(InvalidTxKind),
    /// The transaction is valid but uses something the crate cannot execute.
    Unrepresentable(&'static str),
}

impl From<InvalidTxKind> for Rejection {
    fn from(kind: InvalidTxKind) -> Self {
        Rejection::Invalid(kind)
    }
}

/// A transaction that passed every check, with the amounts the adapter settles itself.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The value transferred.
    pub value: U256,
    /// The gas price in the crate's form.
    pub gas_price: TransactGasPrice,
    /// Blob gas fee, burned from the sender before execution (EIP-4844).
    pub blob_fee: U256,
    /// Blob base fee of the block, for BLOBBASEFEE (EIP-7516).
    pub blob_base_fee: U256,
}

/// Intrinsic gas and the EIP-7623 calldata floor of the transaction under `config`.
pub(crate) fn intrinsic_gas(case: &Case, config: &Config) -> (u64, u64) {
    let tx = &case.tx;
    let zeros = tx.data.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = tx.data.len() as u64 - zeros;
    let keys: u64 = tx.access_list.iter().map(|item| item.storage_keys.len() as u64).sum();
    let base = if tx.to.is_none() { config.gas_transaction_create() } else { config.gas_transaction_call() };
    let mut gas = base
        .saturating_add(zeros.saturating_mul(config.gas_transaction_zero_data()))
        .saturating_add(non_zeros.saturating_mul(config.gas_transaction_non_zero_data()))
        .saturating_add((tx.access_list.len() as u64).saturating_mul(config.gas_access_list_address()))
        .saturating_add(keys.saturating_mul(config.gas_access_list_storage_key()));
    if tx.to.is_none() && config.max_initcode_size().is_some() {
        gas = gas.saturating_add(2 * (tx.data.len() as u64).div_ceil(32));
    }
    let floor = if config.eip7623_calldata_floor {
        let tokens = zeros.saturating_add(non_zeros.saturating_mul(4));
        config.gas_transaction_call().saturating_add(tokens.saturating_mul(FLOOR_COST_PER_TOKEN))
    } else {
        0
    };
    (gas, floor)
}

/// EIP-4844 `fake_exponential(1, excess_blob_gas, update_fraction)`: the blob base fee.
/// `None` when it does not fit in 256 bits.
pub(crate) fn blob_base_fee(excess_blob_gas: u64, update_fraction: u64) -> Option<U256> {
    BlobParams { target: 0, max: 0, base_fee_update_fraction: update_fraction }.base_fee(excess_blob_gas)
}

/// Runs the transaction checks the fixtures expect and the crate does not do (it leaves them to
/// the block executor), in the order of the execution specs: intrinsic validity, then the checks
/// against the block and the sender's account.
pub(crate) fn check(case: &Case, config: &Config) -> Result<Checked, Rejection> {
    let tx = &case.tx;
    let fork = case.fork;
    let value = match &tx.value {
        TxValue::Value(v) => *v,
        TxValue::Oversized(_) => return Err(InvalidTxKind::RlpInvalidValue.into()),
    };
    match tx.kind {
        TxKind::AccessList | TxKind::Eip1559 if fork < Fork::Berlin => {
            return Err(InvalidTxKind::TypeNotSupported.into());
        }
        TxKind::Eip1559 if fork < Fork::London => {
            return Err(InvalidTxKind::TypeNotSupported.into());
        }
        TxKind::Blob if fork < Fork::Cancun => return Err(InvalidTxKind::Type3PreFork.into()),
        TxKind::SetCode if fork < Fork::Prague => return Err(InvalidTxKind::Type4PreFork.into()),
        _ => {}
    }

    // Intrinsic validity (EELS `validate_transaction`).
    let (intrinsic, floor) = intrinsic_gas(case, config);
    if tx.gas_limit < intrinsic {
        return Err(InvalidTxKind::IntrinsicGasTooLow.into());
    }
    if tx.gas_limit < floor {
        return Err(InvalidTxKind::IntrinsicGasBelowFloor.into());
    }
    if tx.nonce == u64::MAX {
        return Err(InvalidTxKind::NonceIsMax.into());
    }
    if tx.to.is_none() && config.max_initcode_size().is_some() && tx.data.len() > MAX_INITCODE_SIZE {
        return Err(InvalidTxKind::InitcodeSizeExceeded.into());
    }

    // Checks against the block (EELS `check_transaction`).
    if tx.gas_limit > case.env.current_gas_limit {
        return Err(InvalidTxKind::GasAllowanceExceeded.into());
    }
    let blob_params = case.blob_params.unwrap_or(BlobParams { target: 0, max: 0, base_fee_update_fraction: 1 });
    let blob_count = tx.blob_versioned_hashes.len() as u64;
    if tx.kind == TxKind::Blob && blob_count > blob_params.max {
        return Err(InvalidTxKind::Type3BlobCountExceeded.into());
    }
    let base_fee = U256::from(if fork >= Fork::London { case.env.current_base_fee.unwrap_or(0) } else { 0 });
    let gas_limit = U256::from(tx.gas_limit);
    let (gas_price, max_gas_fee) = match tx.kind {
        TxKind::Legacy | TxKind::AccessList => {
            let price = tx.gas_price.unwrap_or_default();
            if price < base_fee {
                return Err(InvalidTxKind::InsufficientMaxFeePerGas.into());
            }
            (TransactGasPrice::Legacy(evm_u256(&price)), gas_limit.checked_mul(price))
        }
        TxKind::Eip1559 | TxKind::Blob | TxKind::SetCode => {
            let max = tx.max_fee_per_gas.unwrap_or_default();
            let priority = tx.max_priority_fee_per_gas.unwrap_or_default();
            if max < priority {
                return Err(InvalidTxKind::PriorityGreaterThanMaxFee.into());
            }
            if max < base_fee {
                return Err(InvalidTxKind::InsufficientMaxFeePerGas.into());
            }
            let price = TransactGasPrice::FeeMarket { max_priority: evm_u256(&priority), max: evm_u256(&max) };
            (price, gas_limit.checked_mul(max))
        }
    };
    let Some(mut max_gas_fee) = max_gas_fee else {
        return Err(InvalidTxKind::GasLimitPriceProductOverflow.into());
    };
    let mut blob_fee = U256::ZERO;
    let blob_base_fee = if fork >= Fork::Cancun {
        blob_base_fee(case.env.current_excess_blob_gas.unwrap_or(0), blob_params.base_fee_update_fraction)
            .ok_or(Rejection::Unrepresentable("a blob base fee above 2^256"))?
    } else {
        U256::ZERO
    };
    if tx.kind == TxKind::Blob {
        if tx.to.is_none() {
            return Err(InvalidTxKind::Type3ContractCreation.into());
        }
        if tx.blob_versioned_hashes.is_empty() {
            return Err(InvalidTxKind::Type3ZeroBlobs.into());
        }
        if tx.blob_versioned_hashes.iter().any(|h| h[0] != VERSIONED_HASH_VERSION_KZG) {
            return Err(InvalidTxKind::Type3InvalidBlobVersionedHash.into());
        }
        let max_blob_fee = tx.max_fee_per_blob_gas.unwrap_or_default();
        if max_blob_fee < blob_base_fee {
            return Err(InvalidTxKind::InsufficientMaxFeePerBlobGas.into());
        }
        let blob_gas = U256::from(blob_count * GAS_PER_BLOB);
        let overflow = InvalidTxKind::InsufficientAccountFunds;
        max_gas_fee = blob_gas.checked_mul(max_blob_fee).and_then(|fee| max_gas_fee.checked_add(fee)).ok_or(overflow)?;
        blob_fee = blob_gas.checked_mul(blob_base_fee).ok_or(overflow)?;
    }
    if tx.kind == TxKind::SetCode {
        if tx.to.is_none() {
            return Err(InvalidTxKind::Type4ContractCreation.into());
        }
        if tx.authorization_list.is_empty() {
            return Err(InvalidTxKind::Type4EmptyAuthorizationList.into());
        }
    }

    // Checks against the sender's account.
    let sender = case.pre.get(&tx.sender);
    let nonce = sender.map_or(0, |a| a.nonce);
    if nonce > tx.nonce {
        return Err(InvalidTxKind::NonceMismatchTooLow.into());
    }
    if nonce < tx.nonce {
        return Err(InvalidTxKind::NonceMismatchTooHigh.into());
    }
    let balance = sender.map_or(U256::ZERO, |a| a.balance);
    match max_gas_fee.checked_add(value) {
        Some(needed) if needed <= balance => {}
        _ => return Err(InvalidTxKind::InsufficientAccountFunds.into()),
    }
    let code = sender.map(|a| a.code.as_ref()).unwrap_or_default();
    if !code.is_empty() {
        if fork >= Fork::Prague && is_delegation(code) {
            return Err(Rejection::Unrepresentable("an EIP-7702 delegated sender"));
        }
        return Err(InvalidTxKind::SenderNotEoa.into());
    }
    if tx.kind == TxKind::SetCode {
        return Err(Rejection::Unrepresentable("an EIP-7702 set-code transaction"));
    }
    Ok(Checked { value, gas_price, blob_fee, blob_base_fee })
}

/// True for an EIP-7702 delegation designator (`0xef0100 ++ address`).
pub(crate) fn is_delegation(code: &[u8]) -> bool {
    code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00])
}

/// The crate's in-memory backend with the state-test convention for BLOCKHASH: the crate's own
/// looks hashes up in a map and has no 256-block window.
pub(crate) struct Backend {
    /// Block environment and accounts.
    pub inner: InMemoryBackend,
}

impl RuntimeEnvironment for Backend {
    /// Within the last 256 blocks, the fixture's `previousHash` for the parent, else keccak256 of
    /// the decimal block number (what geth's runner, revm's and ethrex's use, and the other
    /// adapters of schism); zero outside the window.
    fn block_hash(&self, number: EvmU256) -> H256 {
        let current = self.inner.environment.block_number;
        if number >= current || current - number > EvmU256::from(256) {
            return H256::zero();
        }
        match self.inner.environment.block_hashes.get(&number) {
            Some(hash) => *hash,
            None => H256(keccak256(number.to_string().as_bytes()).0),
        }
    }
    fn block_number(&self) -> EvmU256 {
        self.inner.block_number()
    }
    fn block_coinbase(&self) -> H160 {
        self.inner.block_coinbase()
    }
    fn block_timestamp(&self) -> EvmU256 {
        self.inner.block_timestamp()
    }
    fn block_difficulty(&self) -> EvmU256 {
        self.inner.block_difficulty()
    }
    fn block_randomness(&self) -> Option<H256> {
        self.inner.block_randomness()
    }
    fn block_gas_limit(&self) -> EvmU256 {
        self.inner.block_gas_limit()
    }
    fn block_base_fee_per_gas(&self) -> EvmU256 {
        self.inner.block_base_fee_per_gas()
    }
    fn blob_versioned_hash(&self, index: EvmU256) -> H256 {
        self.inner.blob_versioned_hash(index)
    }
    fn blob_base_fee_per_gas(&self) -> EvmU256 {
        self.inner.blob_base_fee_per_gas()
    }
    fn chain_id(&self) -> EvmU256 {
        self.inner.chain_id()
    }
}

impl RuntimeBaseBackend for Backend {
    fn balance(&self, address: H160) -> EvmU256 {
        self.inner.balance(address)
    }
    fn code_size(&self, address: H160) -> EvmU256 {
        self.inner.code_size(address)
    }
    fn code_hash(&self, address: H160) -> H256 {
        self.inner.code_hash(address)
    }
    fn code(&self, address: H160) -> Vec<u8> {
        self.inner.code(address)
    }
    fn storage(&self, address: H160, index: H256) -> H256 {
        self.inner.storage(address, index)
    }
    fn transient_storage(&self, address: H160, index: H256) -> H256 {
        self.inner.transient_storage(address, index)
    }
    fn exists(&self, address: H160) -> bool {
        self.inner.exists(address)
    }
    fn can_create(&self, address: H160) -> bool {
        self.inner.can_create(address)
    }
    fn nonce(&self, address: H160) -> EvmU256 {
        self.inner.nonce(address)
    }
}

/// The backend: block environment and pre-state, with the blob fee already burned from the
/// sender (the crate charges only execution gas).
pub(crate) fn backend(case: &Case, checked: &Checked) -> Backend {
    let block = Block {
        env: &case.env,
        fork: case.fork,
        chain_id: case.chain_id,
        block_hashes: case.block_hashes.as_deref(),
        blob_base_fee: checked.blob_base_fee,
    };
    let mut state = state_of(&case.pre);
    if !checked.blob_fee.is_zero() {
        // `check` made sure the sender can pay it.
        let sender = state.entry(h160(&case.tx.sender)).or_default();
        sender.balance = sender.balance.saturating_sub(evm_u256(&checked.blob_fee));
    }
    Backend { inner: InMemoryBackend { environment: environment(&block, &case.tx.blob_versioned_hashes), state } }
}

/// What the backend's environment is made from.
struct Block<'a> {
    env: &'a Env,
    fork: Fork,
    chain_id: u64,
    block_hashes: Option<&'a BTreeMap<u64, B256>>,
    blob_base_fee: U256,
}

/// The crate's block environment.
fn environment(block: &Block<'_>, blob_hashes: &[B256]) -> InMemoryEnvironment {
    let env = block.env;
    let mut block_hashes = BTreeMap::new();
    if let (Some(previous), Some(parent)) = (env.previous_hash, env.current_number.checked_sub(1)) {
        block_hashes.insert(EvmU256::from(parent), h256(&previous));
    }
    for (number, hash) in block.block_hashes.into_iter().flatten() {
        block_hashes.insert(EvmU256::from(*number), h256(hash));
    }
    InMemoryEnvironment {
        block_hashes,
        block_number: EvmU256::from(env.current_number),
        block_coinbase: h160(&env.current_coinbase),
        block_timestamp: EvmU256::from(env.current_timestamp),
        block_difficulty: evm_u256(&env.current_difficulty),
        // From Paris on DIFFICULTY reads PREVRANDAO; the crate switches when this is `Some`.
        block_randomness: (block.fork >= Fork::Paris).then(|| h256(&env.current_random.unwrap_or_default())),
        block_gas_limit: EvmU256::from(env.current_gas_limit),
        block_base_fee_per_gas: EvmU256::from(env.current_base_fee.unwrap_or(0)),
        blob_base_fee_per_gas: evm_u256(&block.blob_base_fee),
        blob_versioned_hashes: blob_hashes.iter().map(h256).collect(),
        chain_id: EvmU256::from(block.chain_id),
    }
}

/// Accounts in the crate's form.
fn state_of(pre: &Accounts) -> BTreeMap<H160, InMemoryAccount> {
    pre.iter()
        .map(|(address, account)| {
            let storage = account
                .storage
                .iter()
                .filter(|(_, value)| !value.is_zero())
                .map(|(slot, value)| (H256(slot.to_be_bytes::<32>()), H256(value.to_be_bytes::<32>())))
                .collect();
            let converted = InMemoryAccount {
                balance: evm_u256(&account.balance),
                code: account.code.to_vec(),
                nonce: EvmU256::from(account.nonce),
                storage,
                transient_storage: BTreeMap::new(),
            };
            (h160(address), converted)
        })
        .collect()
}

/// The backend of a system call: the block's environment over the call's state, with the
/// system address given what the crate withdraws for the gas up front. The crate has no
/// system-call mode: it prices every transaction at least at the base fee, so the caller must
/// be able to pay; the adapter restores the system address afterwards.
pub(crate) fn system_backend(call: &SystemCall<'_>, gas_limit: u64) -> Option<Backend> {
    let block = call.block;
    let env = &block.env;
    let blob_base_fee = match block.blob_params {
        Some(params) if block.fork >= Fork::Cancun => {
            blob_base_fee(env.current_excess_blob_gas.unwrap_or(0), params.base_fee_update_fraction)?
        }
        _ => U256::ZERO,
    };
    let environment = environment(
        &Block { env, fork: block.fork, chain_id: block.chain_id, block_hashes: Some(&block.block_hashes), blob_base_fee },
        &[],
    );
    let mut state = state_of(call.state);
    let fee = environment.block_base_fee_per_gas.saturating_mul(EvmU256::from(gas_limit));
    let system = state.entry(h160(&SYSTEM_ADDRESS)).or_default();
    system.balance = system.balance.saturating_add(fee);
    Some(Backend { inner: InMemoryBackend { environment, state } })
}

/// The gas limit that leaves a system call's frame the 30,000,000 gas of EIP-4788 after the
/// crate has charged the intrinsic gas of a call with this data.
pub(crate) fn system_gas_limit(call: &SystemCall<'_>, config: &Config) -> u64 {
    let zeros = call.data.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = call.data.len() as u64 - zeros;
    SYSTEM_CALL_GAS
        .saturating_add(config.gas_transaction_call())
        .saturating_add(zeros.saturating_mul(config.gas_transaction_zero_data()))
        .saturating_add(non_zeros.saturating_mul(config.gas_transaction_non_zero_data()))
}

/// The crate's transaction arguments for a system call: no value, priced at zero.
pub(crate) fn system_args(call: &SystemCall<'_>, gas_limit: u64, config: &'static Config) -> TransactArgs<'static> {
    TransactArgs {
        call_create: TransactArgsCallCreate::Call { address: h160(&call.contract), data: call.data.to_vec() },
        caller: h160(&SYSTEM_ADDRESS),
        value: EvmU256::zero(),
        gas_limit: EvmU256::from(gas_limit),
        gas_price: TransactGasPrice::Legacy(EvmU256::zero()),
        access_list: Vec::new(),
        config,
    }
}

/// The crate's transaction arguments.
pub(crate) fn transact_args(case: &Case, checked: &Checked, config: &'static Config) -> TransactArgs<'static> {
    let tx = &case.tx;
    let call_create = match tx.to {
        Some(to) => TransactArgsCallCreate::Call { address: h160(&to), data: tx.data.to_vec() },
        None => TransactArgsCallCreate::Create { init_code: tx.data.to_vec(), salt: None },
    };
    TransactArgs {
        call_create,
        caller: h160(&tx.sender),
        value: evm_u256(&checked.value),
        gas_limit: EvmU256::from(tx.gas_limit),
        gas_price: checked.gas_price,
        access_list: tx.access_list.iter().map(|item| (h160(&item.address), item.storage_keys.iter().map(h256).collect())).collect(),
        config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_base_fee_matches_the_eip() {
        assert_eq!(blob_base_fee(0, 3_338_477), Some(U256::from(1)));
        assert_eq!(blob_base_fee(2_314_057, 3_338_477), Some(U256::from(1)));
        assert_eq!(blob_base_fee(10_000_000, 3_338_477), Some(U256::from(19)));
        assert_eq!(blob_base_fee(1, 0), None);
    }

    #[test]
    fn configs_cover_the_implemented_forks_only() {
        assert!(config(Fork::Frontier).is_some());
        assert!(config(Fork::Prague).is_some());
        assert!(config(Fork::Constantinople).is_none());
        assert!(config(Fork::Osaka).is_none());
    }

    #[test]
    fn block_hashes_follow_the_state_test_convention() {
        let mut environment = InMemoryEnvironment {
            block_hashes: BTreeMap::new(),
            block_number: EvmU256::from(300),
            block_coinbase: H160::zero(),
            block_timestamp: EvmU256::zero(),
            block_difficulty: EvmU256::zero(),
            block_randomness: None,
            block_gas_limit: EvmU256::zero(),
            block_base_fee_per_gas: EvmU256::zero(),
            blob_base_fee_per_gas: EvmU256::zero(),
            blob_versioned_hashes: Vec::new(),
            chain_id: EvmU256::one(),
        };
        environment.block_hashes.insert(EvmU256::from(299), H256::repeat_byte(7));
        let backend = Backend { inner: InMemoryBackend { environment, state: BTreeMap::new() } };
        assert_eq!(backend.block_hash(EvmU256::from(299)), H256::repeat_byte(7));
        assert_eq!(backend.block_hash(EvmU256::from(44)), H256(keccak256(b"44").0));
        assert_eq!(backend.block_hash(EvmU256::from(43)), H256::zero());
        assert_eq!(backend.block_hash(EvmU256::from(300)), H256::zero());
    }

    #[test]
    fn conversions_keep_byte_order() {
        let v = U256::from(0x0102_0304u64);
        assert_eq!(evm_u256(&v), EvmU256::from(0x0102_0304u64));
        let a = Address::repeat_byte(0xab);
        assert_eq!(h160(&a).0, [0xab; 20]);
    }
}
