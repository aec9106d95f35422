//! Transactions and receipts in their consensus encodings (alloy-consensus): signing generated
//! transactions, decoding signed ones, and the roots and bloom a block header commits to.

use super::{SeqTx, TxReceipt};
use crate::case::{Transaction, TxKind};
use crate::fixture::{AccessListItem, Authorization, TxValue};
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEip7702, TxEnvelope,
    TxLegacy,
};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_eips::eip2930::{AccessList as AlloyAccessList, AccessListItem as AlloyItem};
use alloy_eips::eip7702::{Authorization as AlloyAuthorization, SignedAuthorization};
use alloy_primitives::{B256, Bloom, Bytes, Signature, TxKind as To, U256};

/// Why a transaction has no consensus encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field does not fit the encoding (a fee above 2^128, a value above 2^256).
    #[error("field `{field}` does not fit its encoding")]
    Overflow {
        /// The field.
        field: &'static str,
    },
    /// The secret key cannot sign.
    #[error("the secret key is not a valid secp256k1 key")]
    BadKey,
    /// The given encoding does not decode.
    #[error("the signed transaction does not decode: {reason}")]
    Undecodable {
        /// The decoder's words.
        reason: String,
    },
    /// A blob or set-code transaction has no recipient.
    #[error("a {kind:?} transaction needs a recipient")]
    NoRecipient {
        /// The envelope type.
        kind: TxKind,
    },
}

fn fee(value: Option<U256>, field: &'static str) -> Result<u128, EncodeError> {
    value.unwrap_or_default().try_into().map_err(|_| EncodeError::Overflow { field })
}

fn access_list(list: &[AccessListItem]) -> AlloyAccessList {
    AlloyAccessList(list.iter().map(|i| AlloyItem { address: i.address, storage_keys: i.storage_keys.clone() }).collect())
}

fn authorization(a: &Authorization) -> SignedAuthorization {
    let parity: u8 = a.parity().try_into().unwrap_or(u8::MAX);
    SignedAuthorization::new_unchecked(AlloyAuthorization { chain_id: a.chain_id, address: a.address, nonce: a.nonce }, parity, a.r, a.s)
}

/// The signed envelope of a block transaction: its given encoding, or the transaction signed
/// with its secret key (legacy transactions without EIP-155 replay protection, as state tests
/// sign them; typed ones for `chain_id`).
pub fn envelope(stx: &SeqTx, chain_id: u64) -> Result<TxEnvelope, EncodeError> {
    if let Some(raw) = &stx.raw {
        return TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|e| EncodeError::Undecodable { reason: e.to_string() });
    }
    let t = &stx.tx;
    let value = match &t.value {
        TxValue::Value(v) => *v,
        TxValue::Oversized(_) => return Err(EncodeError::Overflow { field: "value" }),
    };
    let to = t.to.map_or(To::Create, To::Call);
    let sign = |hash: B256| -> Result<Signature, EncodeError> {
        let (sig, recid) = crate::keys::sign_prehash(&t.secret_key, &hash).ok_or(EncodeError::BadKey)?;
        Ok(Signature::from((sig, recid)))
    };
    let envelope = match t.kind {
        TxKind::Legacy => {
            let tx = TxLegacy {
                chain_id: None,
                nonce: t.nonce,
                gas_price: fee(t.gas_price, "gasPrice")?,
                gas_limit: t.gas_limit,
                to,
                value,
                input: t.data.clone(),
            };
            let sig = sign(tx.signature_hash())?;
            TxEnvelope::Legacy(tx.into_signed(sig))
        }
        TxKind::AccessList => {
            let tx = TxEip2930 {
                chain_id,
                nonce: t.nonce,
                gas_price: fee(t.gas_price, "gasPrice")?,
                gas_limit: t.gas_limit,
                to,
                value,
                access_list: access_list(&t.access_list),
                input: t.data.clone(),
            };
            let sig = sign(tx.signature_hash())?;
            TxEnvelope::Eip2930(tx.into_signed(sig))
        }
        TxKind::Eip1559 => {
            let tx = TxEip1559 {
                chain_id,
                nonce: t.nonce,
                gas_limit: t.gas_limit,
                max_fee_per_gas: fee(t.max_fee_per_gas, "maxFeePerGas")?,
                max_priority_fee_per_gas: fee(t.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
                to,
                value,
                access_list: access_list(&t.access_list),
                input: t.data.clone(),
            };
            let sig = sign(tx.signature_hash())?;
            TxEnvelope::Eip1559(tx.into_signed(sig))
        }
        TxKind::Blob => {
            let tx = TxEip4844 {
                chain_id,
                nonce: t.nonce,
                gas_limit: t.gas_limit,
                max_fee_per_gas: fee(t.max_fee_per_gas, "maxFeePerGas")?,
                max_priority_fee_per_gas: fee(t.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
                to: t.to.ok_or(EncodeError::NoRecipient { kind: t.kind })?,
                value,
                access_list: access_list(&t.access_list),
                blob_versioned_hashes: t.blob_versioned_hashes.clone(),
                max_fee_per_blob_gas: fee(t.max_fee_per_blob_gas, "maxFeePerBlobGas")?,
                input: t.data.clone(),
            };
            let sig = sign(tx.signature_hash())?;
            TxEnvelope::Eip4844(tx.into_signed(sig).map(TxEip4844Variant::TxEip4844))
        }
        TxKind::SetCode => {
            let tx = TxEip7702 {
                chain_id,
                nonce: t.nonce,
                gas_limit: t.gas_limit,
                max_fee_per_gas: fee(t.max_fee_per_gas, "maxFeePerGas")?,
                max_priority_fee_per_gas: fee(t.max_priority_fee_per_gas, "maxPriorityFeePerGas")?,
                to: t.to.ok_or(EncodeError::NoRecipient { kind: t.kind })?,
                value,
                access_list: access_list(&t.access_list),
                authorization_list: t.authorization_list.iter().map(authorization).collect(),
                input: t.data.clone(),
            };
            let sig = sign(tx.signature_hash())?;
            TxEnvelope::Eip7702(tx.into_signed(sig))
        }
    };
    Ok(envelope)
}

/// The EIP-2718 encoding of an envelope.
pub fn raw(envelope: &TxEnvelope) -> Bytes {
    envelope.encoded_2718().into()
}

/// A decoded, signed transaction as schism's [`Transaction`], its sender recovered. The secret
/// key is unknown and left zero; the signed encoding is kept in the [`SeqTx`].
pub fn decoded(envelope: &TxEnvelope) -> Result<SeqTx, EncodeError> {
    let sender = envelope.recover_signer().map_err(|e| EncodeError::Undecodable { reason: format!("signature: {e}") })?;
    let items = |list: &AlloyAccessList| -> Vec<AccessListItem> {
        list.0.iter().map(|i| AccessListItem { address: i.address, storage_keys: i.storage_keys.clone() }).collect()
    };
    let base = |kind, nonce, gas_limit, to: To, value, data: &Bytes| Transaction {
        kind,
        nonce,
        gas_limit,
        to: to.to().copied(),
        value: TxValue::Value(value),
        data: data.clone(),
        gas_price: None,
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        access_list: Vec::new(),
        max_fee_per_blob_gas: None,
        blob_versioned_hashes: Vec::new(),
        authorization_list: Vec::new(),
        secret_key: B256::ZERO,
        sender,
    };
    let tx = match envelope {
        TxEnvelope::Legacy(s) => {
            let t = s.tx();
            Transaction { gas_price: Some(U256::from(t.gas_price)), ..base(TxKind::Legacy, t.nonce, t.gas_limit, t.to, t.value, &t.input) }
        }
        TxEnvelope::Eip2930(s) => {
            let t = s.tx();
            Transaction {
                gas_price: Some(U256::from(t.gas_price)),
                access_list: items(&t.access_list),
                ..base(TxKind::AccessList, t.nonce, t.gas_limit, t.to, t.value, &t.input)
            }
        }
        TxEnvelope::Eip1559(s) => {
            let t = s.tx();
            Transaction {
                max_fee_per_gas: Some(U256::from(t.max_fee_per_gas)),
                max_priority_fee_per_gas: Some(U256::from(t.max_priority_fee_per_gas)),
                access_list: items(&t.access_list),
                ..base(TxKind::Eip1559, t.nonce, t.gas_limit, t.to, t.value, &t.input)
            }
        }
        TxEnvelope::Eip4844(s) => {
            let t = s.tx().tx();
            Transaction {
                max_fee_per_gas: Some(U256::from(t.max_fee_per_gas)),
                max_priority_fee_per_gas: Some(U256::from(t.max_priority_fee_per_gas)),
                access_list: items(&t.access_list),
                max_fee_per_blob_gas: Some(U256::from(t.max_fee_per_blob_gas)),
                blob_versioned_hashes: t.blob_versioned_hashes.clone(),
                ..base(TxKind::Blob, t.nonce, t.gas_limit, To::Call(t.to), t.value, &t.input)
            }
        }
        TxEnvelope::Eip7702(s) => {
            let t = s.tx();
            Transaction {
                max_fee_per_gas: Some(U256::from(t.max_fee_per_gas)),
                max_priority_fee_per_gas: Some(U256::from(t.max_priority_fee_per_gas)),
                access_list: items(&t.access_list),
                authorization_list: t
                    .authorization_list
                    .iter()
                    .map(|a| Authorization {
                        chain_id: a.chain_id,
                        address: a.address,
                        nonce: a.nonce,
                        v: Some(U256::from(a.y_parity())),
                        y_parity: Some(U256::from(a.y_parity())),
                        r: a.r(),
                        s: a.s(),
                        signer: None,
                    })
                    .collect(),
                ..base(TxKind::SetCode, t.nonce, t.gas_limit, To::Call(t.to), t.value, &t.input)
            }
        }
    };
    Ok(SeqTx { tx, raw: Some(raw(envelope)) })
}

/// The transactions root of a block's transactions signed for `chain_id`.
pub fn transactions_root(txs: &[SeqTx], chain_id: u64) -> Result<B256, EncodeError> {
    let envelopes = txs.iter().map(|t| envelope(t, chain_id)).collect::<Result<Vec<_>, _>>()?;
    Ok(alloy_consensus::proofs::calculate_transaction_root(&envelopes))
}

/// The withdrawals root (EIP-4895).
pub fn withdrawals_root(withdrawals: &[super::Withdrawal]) -> B256 {
    alloy_consensus::proofs::calculate_withdrawals_root(withdrawals)
}

/// The ommers hash of a block's uncles.
pub fn ommers_hash(ommers: &[super::Header]) -> B256 {
    alloy_consensus::proofs::calculate_ommers_root(ommers)
}

/// The EIP-7685 requests hash: sha256 over the sha256 of each non-empty request list.
pub fn requests_hash(requests: &[Bytes]) -> B256 {
    alloy_eips::eip7685::Requests::new(requests.to_vec()).requests_hash()
}

/// The consensus receipts of a block's executed transactions (logs taken as reported; a
/// client that reports none gets empty logs).
pub fn receipt_envelopes(receipts: &[TxReceipt]) -> Vec<ReceiptEnvelope> {
    receipts
        .iter()
        .map(|r| {
            let status = match (r.post_state, r.success) {
                (Some(root), _) => Eip658Value::PostState(root),
                (None, success) => Eip658Value::Eip658(success.unwrap_or(false)),
            };
            let receipt =
                Receipt { status, cumulative_gas_used: r.cumulative_gas_used, logs: r.logs.clone().unwrap_or_default() }.with_bloom();
            match r.kind {
                TxKind::Legacy => ReceiptEnvelope::Legacy(receipt),
                TxKind::AccessList => ReceiptEnvelope::Eip2930(receipt),
                TxKind::Eip1559 => ReceiptEnvelope::Eip1559(receipt),
                TxKind::Blob => ReceiptEnvelope::Eip4844(receipt),
                TxKind::SetCode => ReceiptEnvelope::Eip7702(receipt),
            }
        })
        .collect()
}

/// The receipts root and logs bloom of a block's receipts.
pub fn receipts_root_and_bloom(receipts: &[TxReceipt]) -> (B256, Bloom) {
    let envelopes = receipt_envelopes(receipts);
    let mut bloom = Bloom::ZERO;
    for e in &envelopes {
        bloom.accrue_bloom(e.logs_bloom());
    }
    (alloy_consensus::proofs::calculate_receipt_root(&envelopes), bloom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, b256};

    fn generated(kind: TxKind) -> SeqTx {
        let secret_key = b256!("0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
        let tx = Transaction {
            kind,
            nonce: 3,
            gas_limit: 100_000,
            to: Some(Address::repeat_byte(0x11)),
            value: TxValue::Value(U256::from(7)),
            data: Bytes::from_static(&[1, 2, 3]),
            gas_price: (kind <= TxKind::AccessList).then(|| U256::from(10)),
            max_fee_per_gas: (kind > TxKind::AccessList).then(|| U256::from(10)),
            max_priority_fee_per_gas: (kind > TxKind::AccessList).then(|| U256::from(1)),
            access_list: Vec::new(),
            max_fee_per_blob_gas: (kind == TxKind::Blob).then(|| U256::from(1)),
            blob_versioned_hashes: if kind == TxKind::Blob { vec![B256::repeat_byte(1)] } else { Vec::new() },
            authorization_list: Vec::new(),
            secret_key,
            sender: crate::case::address_of_key(&secret_key).expect("valid key"),
        };
        SeqTx { tx, raw: None }
    }

    #[test]
    fn signed_transactions_decode_back_to_themselves() {
        for kind in [TxKind::Legacy, TxKind::AccessList, TxKind::Eip1559, TxKind::Blob] {
            let stx = generated(kind);
            let env = envelope(&stx, 1).expect("signs");
            let back = decoded(&env).expect("decodes");
            assert_eq!(back.tx.sender, stx.tx.sender, "{kind:?}");
            assert_eq!(back.tx.kind, kind);
            assert_eq!(back.tx.data, stx.tx.data);
            let again = envelope(&back, 1).expect("re-decodes");
            assert_eq!(raw(&again), raw(&env));
        }
    }

    #[test]
    fn empty_receipts_have_the_empty_root() {
        let (root, bloom) = receipts_root_and_bloom(&[]);
        assert_eq!(root, alloy_trie::EMPTY_ROOT_HASH);
        assert_eq!(bloom, Bloom::ZERO);
    }
}
