//! Transaction building: the envelope types each fork allows, and the transaction a blueprint
//! describes (fees, access list, blobs, EIP-7702 authorizations signed by the generator's
//! authorities), for a case's single transaction and for the later transactions of a sequence.

use super::{CHAIN_ID, Ctx, init_code};
use crate::fuzz::program::{Auth, Blueprint, Leaf, Piece, Target, Tx, Value};
use crate::fuzz::vectors;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use schism_interface::fixture::{AccessListItem, Accounts, Authorization, Env};
use schism_interface::{Fork, Transaction, TxKind, TxValue};
use std::cell::RefCell;
use std::collections::HashMap;

/// Transaction gas limits, by `Tx::gas` (all within EIP-7825's cap). Mostly moderate: gas
/// bounds the work of a case, and coverage guidance otherwise drifts towards inputs that burn
/// millions of gas in loops. Measured with the ignored `reach_rates` test in `compile.rs`
/// (3,000 random inputs): limits up to 8,000,000 told the canaries apart 1.35 times as often as
/// these for 3.5 times the gas per case, which the farm pays in executions per second.
const GAS_LIMITS: [u64; 8] = [50_000, 100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000];

/// The transaction types `fork` allows, oldest first.
fn tx_kinds(fork: Fork) -> &'static [TxKind] {
    // Each kind comes with a fork, in this order: the kinds of a fork are a prefix.
    const KINDS: [TxKind; 5] = [TxKind::Legacy, TxKind::AccessList, TxKind::Eip1559, TxKind::Blob, TxKind::SetCode];
    let newer = [Fork::Berlin, Fork::London, Fork::Cancun, Fork::Prague].iter().filter(|f| fork >= **f).count();
    &KINDS[..=newer]
}

/// How many blobs `spec` carries under `fork`: 1 to 6 for a blob transaction, 0 for any other.
pub(super) fn blob_count(spec: &Tx, fork: Fork) -> usize {
    let kinds = tx_kinds(fork);
    if kinds[usize::from(spec.kind) % kinds.len()] == TxKind::Blob { usize::from(spec.blobs % 7).max(1) } else { 0 }
}

/// The transaction a later transaction of a sequence compiles to: the blueprint's own rules
/// (type, fees, access list, blobs, signed authorizations) applied to `tx`.
pub(crate) fn follow_transaction(blueprint: &Blueprint, tx: &Tx, fork: Fork, pre: &Accounts, env: &Env) -> Transaction {
    let ctx = Ctx::new(fork, blueprint.contracts.len());
    // Never a creation: `create` is 1, not a multiple of 16 (the blueprint itself is not
    // cloned: its programs are most of a sequence's allocations).
    let spec = Tx { create: 1, ..tx.clone() };
    transaction(blueprint, &spec, &ctx, pre, env)
}

/// The transaction `spec` describes (the blueprint's `tx` or a follower's, over its contracts), for
/// the pre-state and block `env` built.
pub(super) fn transaction(blueprint: &Blueprint, spec: &Tx, ctx: &Ctx, pre: &Accounts, env: &Env) -> Transaction {
    let kinds = tx_kinds(ctx.fork);
    let kind = kinds[usize::from(spec.kind) % kinds.len()];
    let create = spec.create.is_multiple_of(16) && matches!(kind, TxKind::Legacy | TxKind::AccessList | TxKind::Eip1559);
    let base_fee = U256::from(env.current_base_fee.unwrap_or(0));
    let tip = U256::from([0u64, 1, 2, 10][usize::from(spec.tip % 4)]);
    let (gas_price, max_fee, max_priority) = match kind {
        TxKind::Legacy | TxKind::AccessList => (Some(base_fee + tip + U256::from(1)), None, None),
        _ => (None, Some(base_fee * U256::from(2) + tip), Some(tip)),
    };
    let data = if create {
        let first = &blueprint.contracts[0];
        let leaves: Vec<Leaf> = first.program.iter().filter_map(|p| if let Piece::Leaf(l) = p { Some(l.clone()) } else { None }).collect();
        let runtime = blueprint
            .contracts
            .get(1)
            .map(|c| c.program.iter().filter_map(|p| if let Piece::Leaf(l) = p { Some(l.clone()) } else { None }).collect::<Vec<Leaf>>());
        Bytes::from(init_code(ctx, &leaves, &runtime.unwrap_or_default(), 0))
    } else {
        Bytes::from(spec.calldata.clone())
    };
    let access_list = spec
        .access
        .iter()
        .filter(|_| kind != TxKind::Legacy)
        .map(|(target, slots)| AccessListItem {
            address: ctx.address(*target).unwrap_or(vectors::contract_address(0)),
            storage_keys: slots.iter().map(|s| B256::with_last_byte(s % 8)).collect(),
        })
        .collect();
    let blob_versioned_hashes = if kind == TxKind::Blob {
        (0..blob_count(spec, ctx.fork)).map(|i| if i == 0 { vectors::KZG_VERSIONED_HASH } else { versioned_hash(i as u8) }).collect()
    } else {
        Vec::new()
    };
    let nonce = if spec.nonce.is_multiple_of(32) { 2 } else { 1 };
    let authorization_list = if kind == TxKind::SetCode {
        // A transaction to the authority that already delegates: its first authorization is
        // that authority's half of the time (otherwise one in four), and with none drawn it
        // delegates that authority to contract 1, so that it re-delegates (or clears) the
        // account the transaction executes.
        let to_delegating = !create && recipient(spec, kind, ctx.fork) == vectors::authorities()[2];
        let auths: Vec<Auth> = match spec.auths.is_empty() {
            true if to_delegating => vec![Auth { authority: 2, target: Target::Contract(1), chain: 1, nonce: 0 }],
            true => vec![Auth { authority: 0, target: Target::Contract(0), chain: 1, nonce: 0 }],
            false => spec.auths.clone(),
        };
        auths
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Auth { authority, .. } if i == 0 && to_delegating && authority % 2 == 0 => {
                    authorization(ctx, pre, &Auth { authority: 2, ..*a }, nonce)
                }
                _ => authorization(ctx, pre, a, nonce),
            })
            .collect()
    } else {
        Vec::new()
    };
    let value = ctx.value(spec.value);
    // Affordable values, except now and then a value at a boundary (beyond any balance).
    let value = if matches!(spec.value, Value::Near(_, 0)) { value } else { value % U256::from(10u128.pow(21)) };
    Transaction {
        kind,
        nonce,
        gas_limit: GAS_LIMITS[usize::from(spec.gas % 8)],
        to: (!create).then(|| recipient(spec, kind, ctx.fork)),
        value: TxValue::Value(value),
        data,
        gas_price,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_priority,
        access_list,
        max_fee_per_blob_gas: (kind == TxKind::Blob).then(|| U256::from(10)),
        blob_versioned_hashes,
        authorization_list,
        secret_key: vectors::SENDER_KEY,
        sender: vectors::SENDER,
    }
}

/// The recipient of a transaction that does not create: contract 0, or, for a set-code
/// transaction whose `create` (which only creating envelopes read) is 2 modulo 4, the authority
/// that already delegates in the pre-state (Prague on), so that the transaction's own
/// authorizations can re-delegate or clear the delegation of the account it calls; the
/// executed code is then the old or the new delegate's. (EELS 1.17.0 left the old delegate
/// warm when its authorizations re-delegated the recipient.)
fn recipient(spec: &Tx, kind: TxKind, fork: Fork) -> Address {
    if kind == TxKind::SetCode && fork >= Fork::Prague && spec.create % 4 == 2 {
        vectors::authorities()[2]
    } else {
        vectors::contract_address(0)
    }
}

/// A made-up EIP-4844 versioned hash (version byte 1), distinct for each `i`.
fn versioned_hash(i: u8) -> B256 {
    let mut hash = keccak256([i]);
    hash.0[0] = 0x01;
    hash
}

/// What an EIP-7702 authority signs (after the magic byte 0x05).
#[derive(alloy_rlp::RlpEncodable)]
struct AuthTuple {
    chain_id: U256,
    address: Address,
    nonce: u64,
}

/// An authorization's signer, chain id, delegate and nonce.
type AuthKey = (usize, U256, Address, u64);

thread_local! {
    /// Signatures already made (parity, r, s): a lookup skips encoding, hashing and signing
    /// the authorization's message, which the same few tuples need case after case.
    static SIGNATURES: RefCell<HashMap<AuthKey, (u8, U256, U256)>> = RefCell::new(HashMap::new());
}

/// A signed authorization as `auth` describes it, with a nonce that is right unless `auth`
/// asks otherwise.
fn authorization(ctx: &Ctx, pre: &Accounts, auth: &Auth, tx_nonce: u64) -> Authorization {
    let (key, authority) = match auth.authority % 4 {
        3 => (vectors::SENDER_KEY, vectors::SENDER),
        i => (vectors::AUTHORITY_KEYS[usize::from(i)], vectors::authorities()[usize::from(i)]),
    };
    let chain_id = U256::from(match auth.chain % 4 {
        0 => 0,
        3 => 2,
        _ => CHAIN_ID,
    });
    let address = ctx.address(auth.target).unwrap_or(Address::ZERO);
    let current = pre.get(&authority).map_or(0, |a| a.nonce);
    // The sender's own authorization is checked after its nonce was bumped by the transaction.
    let right = if authority == vectors::SENDER { tx_nonce + 1 } else { current };
    let nonce = if auth.nonce % 4 == 3 { right + 1 } else { right };
    let index = usize::from(auth.authority % 4);
    let (parity, r, s) = SIGNATURES.with(|cache| {
        *cache.borrow_mut().entry((index, chain_id, address, nonce)).or_insert_with(|| sign_authorization(&key, chain_id, address, nonce))
    });
    Authorization {
        chain_id,
        address,
        nonce,
        // Both spellings, as execution-spec-tests writes them: geth's reader requires `v`.
        v: Some(U256::from(parity)),
        y_parity: Some(U256::from(parity)),
        r,
        s,
        signer: Some(authority),
    }
}

/// Signs an EIP-7702 authorization: parity, r and s (zero when `key` is not a valid key).
fn sign_authorization(key: &B256, chain_id: U256, address: Address, nonce: u64) -> (u8, U256, U256) {
    let mut message = vec![0x05];
    alloy_rlp::Encodable::encode(&AuthTuple { chain_id, address, nonce }, &mut message);
    let hash = keccak256(&message);
    match schism_interface::keys::sign_prehash(key, &hash) {
        Some((signature, recovery)) => {
            let bytes = signature.to_bytes();
            (recovery.to_byte(), U256::from_be_slice(&bytes[..32]), U256::from_be_slice(&bytes[32..]))
        }
        None => (0, U256::ZERO, U256::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::compile::compile;

    #[test]
    fn set_code_authorizations_recover_to_their_authority() {
        let mut blueprint = Blueprint::default();
        blueprint.tx.kind = 4;
        blueprint.tx.auths = vec![Auth { authority: 1, target: Target::Contract(0), chain: 1, nonce: 0 }];
        let case = compile(&blueprint, Fork::Prague);
        assert_eq!(case.tx.kind, TxKind::SetCode);
        let auth = &case.tx.authorization_list[0];
        let mut message = vec![0x05];
        alloy_rlp::Encodable::encode(&AuthTuple { chain_id: auth.chain_id, address: auth.address, nonce: auth.nonce }, &mut message);
        let signature = alloy_primitives::Signature::new(auth.r, auth.s, auth.y_parity == Some(U256::from(1)));
        let recovered = signature.recover_address_from_prehash(&keccak256(&message)).expect("recovers");
        assert_eq!(recovered, vectors::authorities()[1]);
        assert_eq!(auth.nonce, 1);
    }

    /// A set-code transaction whose `create` is 2 modulo 4 calls the authority that already
    /// delegates, whose authorization (its nonce is 2) re-delegates it; other transactions, and
    /// the same one before Prague's set-code envelope exists, call contract 0.
    #[test]
    fn a_set_code_transaction_can_call_the_account_it_re_delegates() {
        let mut blueprint = Blueprint::default();
        blueprint.contracts.push(blueprint.contracts[0].clone());
        blueprint.tx.kind = 4;
        blueprint.tx.create = 2;
        blueprint.tx.auths = vec![Auth { authority: 2, target: Target::Contract(1), chain: 1, nonce: 0 }];
        let case = compile(&blueprint, Fork::Prague);
        let authority = vectors::authorities()[2];
        assert_eq!(case.tx.to, Some(authority));
        assert_eq!(case.pre[&authority].code[..3], [0xef, 0x01, 0x00], "delegating already");
        let auth = &case.tx.authorization_list[0];
        assert_eq!((auth.signer, auth.address, auth.nonce), (Some(authority), vectors::contract_address(1), 2));
        blueprint.tx.create = 1;
        assert_eq!(compile(&blueprint, Fork::Prague).tx.to, Some(vectors::contract_address(0)));
        blueprint.tx.create = 2;
        blueprint.tx.kind = 2;
        assert_eq!(compile(&blueprint, Fork::Prague).tx.to, Some(vectors::contract_address(0)));
    }

    /// Of the random set-code transactions to the authority that already delegates, more than
    /// a third carry a valid authorization of that authority to another address (it
    /// re-delegates the account the transaction executes); one in ten did when the first
    /// authorization named any authority evenly.
    #[test]
    fn set_code_transactions_to_the_delegating_authority_often_re_delegate_it() {
        let authority = vectors::authorities()[2];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let (mut to_authority, mut re_delegating) = (0, 0);
        for _ in 0..20_000 {
            let data: Vec<u8> = (0..96)
                .flat_map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()
                })
                .collect();
            let case = compile(&Blueprint::from_bytes(&data), Fork::Prague);
            if case.tx.to != Some(authority) {
                continue;
            }
            to_authority += 1;
            let valid = |a: &Authorization| {
                a.signer == Some(authority)
                    && a.address != vectors::contract_address(0)
                    && a.nonce == 2
                    && (a.chain_id.is_zero() || a.chain_id == U256::from(CHAIN_ID))
            };
            re_delegating += usize::from(case.tx.authorization_list.first().is_some_and(valid));
        }
        println!("{re_delegating} of {to_authority} re-delegate");
        assert!(to_authority > 300, "{to_authority} transactions to the authority");
        assert!(re_delegating * 3 > to_authority, "{re_delegating} of {to_authority} re-delegate");
    }
}
