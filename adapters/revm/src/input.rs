//! Conversions from a schism Case into revm's environment, transaction and database.

use revm::bytecode::Bytecode;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::transaction::{AccessList, AccessListItem, Authorization, SignedAuthorization};
use revm::database_interface::DatabaseRef;
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, B256, KECCAK_EMPTY, StorageKey, StorageValue, TxKind, U256};
use revm::state::AccountInfo;
use schism_interface::fixture::{Accounts, BlobParams, Env};
use schism_interface::{Case, Fork, InvalidTxKind, TxValue};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

/// revm's spec for a fork, `None` where revm has no implementation of it.
pub(crate) fn spec_of(fork: Fork) -> Option<SpecId> {
    Some(match fork {
        Fork::Frontier => SpecId::FRONTIER,
        Fork::Homestead => SpecId::HOMESTEAD,
        Fork::Tangerine => SpecId::TANGERINE,
        Fork::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
        Fork::Byzantium => SpecId::BYZANTIUM,
        // revm implements Constantinople only as Petersburg: EIP-1283 net gas metering, removed
        // again by Petersburg, is not in revm, so original Constantinople is not claimed.
        Fork::Constantinople => return None,
        Fork::ConstantinopleFix => SpecId::PETERSBURG,
        // The glacier forks only move the difficulty bomb: same EVM rules as their predecessor.
        Fork::Istanbul | Fork::MuirGlacier => SpecId::ISTANBUL,
        Fork::Berlin => SpecId::BERLIN,
        Fork::London | Fork::ArrowGlacier | Fork::GrayGlacier => SpecId::LONDON,
        Fork::Paris => SpecId::MERGE,
        Fork::Shanghai => SpecId::SHANGHAI,
        Fork::Cancun => SpecId::CANCUN,
        Fork::Prague => SpecId::PRAGUE,
        Fork::Osaka => SpecId::OSAKA,
        _ => return None,
    })
}

/// The chain configuration of a case.
pub(crate) fn cfg_env(case: &Case, spec: SpecId) -> CfgEnv {
    cfg_for(case.fork, case.chain_id, case.blob_params, spec)
}

/// The chain configuration of a fork, chain id and blob parameters.
pub(crate) fn cfg_for(fork: Fork, chain_id: u64, blob_params: Option<BlobParams>, spec: SpecId) -> CfgEnv {
    let mut cfg = CfgEnv::default();
    cfg.set_spec_and_mainnet_gas_params(spec);
    cfg.chain_id = chain_id;
    if let Some(blobs) = blob_params {
        // EIP-7594 caps a transaction at 6 blobs from Osaka on; before that only the block
        // maximum limits it.
        let per_tx = if fork >= Fork::Osaka { blobs.max.min(6) } else { blobs.max };
        cfg.set_max_blobs_per_tx(per_tx);
        cfg.blob_base_fee_update_fraction = Some(blobs.base_fee_update_fraction);
    }
    cfg
}

/// The block environment of a case.
pub(crate) fn block_env(case: &Case) -> BlockEnv {
    block_for(&case.env, case.fork, case.blob_params)
}

/// The block environment of a fork's block.
pub(crate) fn block_for(env: &Env, fork: Fork, blob_params: Option<BlobParams>) -> BlockEnv {
    let mut block = BlockEnv {
        number: U256::from(env.current_number),
        beneficiary: env.current_coinbase,
        timestamp: U256::from(env.current_timestamp),
        gas_limit: env.current_gas_limit,
        basefee: env.current_base_fee.unwrap_or_default(),
        difficulty: env.current_difficulty,
        prevrandao: env.current_random.or((fork >= Fork::Paris).then_some(B256::ZERO)),
        ..BlockEnv::default()
    };
    if let (Some(excess), Some(blobs)) = (env.current_excess_blob_gas, blob_params) {
        block.set_blob_excess_gas_and_price(excess, blobs.base_fee_update_fraction);
    }
    block
}

/// The transaction of a case, or the rejection a value revm cannot hold implies.
pub(crate) fn tx_env(case: &Case) -> Result<TxEnv, InvalidTxKind> {
    let tx = &case.tx;
    if let Some(rejection) = tx.envelope_violation() {
        return Err(rejection);
    }
    let TxValue::Value(value) = tx.value else {
        return Err(InvalidTxKind::RlpInvalidValue);
    };
    // Fee fields above u128 saturate: revm then rejects for lack of funds, which is what
    // every client concludes for such prices.
    let saturate = |v: U256| u128::try_from(v).unwrap_or(u128::MAX);
    Ok(TxEnv {
        tx_type: tx.kind.type_byte(),
        caller: tx.sender,
        gas_limit: tx.gas_limit,
        gas_price: saturate(tx.fee_cap()),
        gas_priority_fee: tx.max_priority_fee_per_gas.map(saturate),
        kind: tx.to.map_or(TxKind::Create, TxKind::Call),
        value,
        data: tx.data.clone(),
        nonce: tx.nonce,
        chain_id: Some(case.chain_id),
        access_list: AccessList(
            tx.access_list.iter().map(|item| AccessListItem { address: item.address, storage_keys: item.storage_keys.clone() }).collect(),
        ),
        blob_hashes: tx.blob_versioned_hashes.clone(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas.map(saturate).unwrap_or_default(),
        authorization_list: tx
            .authorization_list
            .iter()
            .map(|auth| {
                let inner = Authorization { chain_id: auth.chain_id, address: auth.address, nonce: auth.nonce };
                // A parity that does not fit a byte is invalid; revm skips such authorizations.
                let parity = u8::try_from(auth.parity()).unwrap_or(u8::MAX);
                revm::context::either::Either::Left(SignedAuthorization::new_unchecked(inner, parity, auth.r, auth.s))
            })
            .collect(),
    })
}

/// A read-only view of a case's pre-state in revm's database shape.
pub(crate) struct PreDb<'a> {
    pre: &'a Accounts,
    infos: HashMap<Address, AccountInfo>,
    hashes: Option<&'a BTreeMap<u64, B256>>,
}

impl<'a> PreDb<'a> {
    /// Indexes `pre` (hashing each account's code once); BLOCKHASH answers from a sequence's
    /// `hashes`, or by the state-test convention without them.
    pub(crate) fn new(pre: &'a Accounts, hashes: Option<&'a BTreeMap<u64, B256>>) -> PreDb<'a> {
        let infos = pre
            .iter()
            .map(|(address, account)| {
                let (code_hash, code) = if account.code.is_empty() {
                    (KECCAK_EMPTY, None)
                } else {
                    let code =
                        Bytecode::new_raw_checked(account.code.clone()).unwrap_or_else(|_| Bytecode::new_legacy(account.code.clone()));
                    (schism_interface::state::code_hash(&account.code), Some(code))
                };
                let info = AccountInfo { balance: account.balance, nonce: account.nonce, code_hash, code, ..Default::default() };
                (*address, info)
            })
            .collect();
        PreDb { pre, infos, hashes }
    }
}

impl DatabaseRef for PreDb<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        Ok(self.infos.get(&address).cloned())
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Infallible> {
        // Every account's code travels with its AccountInfo, so revm only asks for code it
        // was already given; answer from the index all the same.
        Ok(self.infos.values().find(|info| info.code_hash == code_hash).and_then(|info| info.code.clone()).unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: StorageKey) -> Result<StorageValue, Infallible> {
        Ok(self.pre.get(&address).and_then(|a| a.storage.get(&index).copied()).unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Infallible> {
        Ok(match self.hashes {
            Some(hashes) => hashes.get(&number).copied().unwrap_or_default(),
            None => revm::primitives::keccak256(number.to_string().as_bytes()),
        })
    }
}
