//! The state test fixture format, as written by retesteth (ethereum/tests) and by
//! execution-spec-tests: serde types that read both flavours and write the standard layout back.

use crate::fork::Fork;
use crate::quantity;
use alloy_primitives::{Address, B256, Bytes, U256, U512};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// One fixture file: test name to state test.
pub type StateTestFile = BTreeMap<String, StateTest>;

/// Accounts by address, as in `pre` and `post.<fork>[].state`.
pub type Accounts = BTreeMap<Address, Account>;

/// A filled state test: one pre-state, one transaction template, expected results per fork.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateTest {
    /// Filler metadata (`_info`), kept as written.
    #[serde(rename = "_info", default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// The block environment.
    pub env: Env,
    /// The pre-state.
    pub pre: Accounts,
    /// The transaction with its `data`/`gasLimit`/`value` alternatives.
    pub transaction: TransactionTemplate,
    /// Expected results per fork, one entry per (data, gas, value) combination filled.
    pub post: BTreeMap<Fork, Vec<PostEntry>>,
    /// Chain configuration of execution-spec-tests fixtures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
}

/// The block environment of a state test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Env {
    /// Beneficiary of the block.
    pub current_coinbase: Address,
    /// Difficulty (pre-Merge); ignored from Paris on.
    pub current_difficulty: U256,
    /// Block gas limit.
    #[serde(with = "quantity")]
    pub current_gas_limit: u64,
    /// Block number.
    #[serde(with = "quantity")]
    pub current_number: u64,
    /// Block timestamp.
    #[serde(with = "quantity")]
    pub current_timestamp: u64,
    /// EIP-1559 base fee (London on).
    #[serde(default, with = "quantity::opt", skip_serializing_if = "Option::is_none")]
    pub current_base_fee: Option<u64>,
    /// PREVRANDAO (Paris on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_random: Option<B256>,
    /// EIP-4844 excess blob gas (Cancun on).
    #[serde(default, with = "quantity::opt", skip_serializing_if = "Option::is_none")]
    pub current_excess_blob_gas: Option<u64>,
    /// Hash of the parent block, where a filler gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<B256>,
    /// EIP-4788 parent beacon block root, where a filler gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_beacon_block_root: Option<B256>,
}

/// An account in `pre` or in an expected post-state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Balance in wei.
    pub balance: U256,
    /// Runtime code (or an EIP-7702 delegation designator).
    #[serde(default)]
    pub code: Bytes,
    /// Nonce.
    #[serde(with = "quantity")]
    pub nonce: u64,
    /// Storage slots; zero values are allowed in fixtures and mean "absent".
    #[serde(default, serialize_with = "storage_words")]
    pub storage: BTreeMap<U256, U256>,
}

/// Writes storage keys and values as full 32-byte hex words: geth's state-test reader takes
/// only even-length hex (`0x02`, not `0x2`), and every tool takes the full width.
fn storage_words<S: serde::Serializer>(storage: &BTreeMap<U256, U256>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(storage.len()))?;
    for (k, v) in storage {
        map.serialize_entry(&B256::from(*k), &B256::from(*v))?;
    }
    map.end()
}

impl Account {
    /// Empty under EIP-161: no code, zero nonce, zero balance.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty() && self.nonce == 0 && self.balance.is_zero()
    }
}

/// The transaction of a state test with its indexed alternatives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionTemplate {
    /// Call data (or init code) alternatives, selected by `indexes.data`.
    pub data: Vec<Bytes>,
    /// Gas limit alternatives, selected by `indexes.gas`.
    #[serde(with = "quantity::vec")]
    pub gas_limit: Vec<u64>,
    /// Value alternatives, selected by `indexes.value`.
    pub value: Vec<TxValue>,
    /// Sender nonce.
    #[serde(with = "quantity")]
    pub nonce: u64,
    /// Recipient; empty (`""`) for contract creation.
    #[serde(with = "to_field")]
    pub to: Option<Address>,
    /// Legacy and EIP-2930 gas price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_price: Option<U256>,
    /// EIP-1559 fee cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_gas: Option<U256>,
    /// EIP-1559 tip cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority_fee_per_gas: Option<U256>,
    /// EIP-2930 access lists, one per data alternative (`null` entries mean none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_lists: Option<Vec<Option<AccessList>>>,
    /// EIP-4844 blob fee cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_blob_gas: Option<U256>,
    /// EIP-4844 versioned hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_versioned_hashes: Option<Vec<B256>>,
    /// EIP-7702 authorizations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_list: Option<Vec<Authorization>>,
    /// Sender as filled; schism derives it from `secret_key` and checks the two agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Address>,
    /// The sender's private key.
    pub secret_key: B256,
}

/// An EIP-2930 access list.
pub type AccessList = Vec<AccessListItem>;

/// One address of an access list with its storage keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessListItem {
    /// Warmed address.
    pub address: Address,
    /// Warmed slots of that address.
    pub storage_keys: Vec<B256>,
}

/// A signed EIP-7702 authorization tuple.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// Chain id the authorization is valid on (0 = any).
    pub chain_id: U256,
    /// Address whose code the authority delegates to.
    pub address: Address,
    /// Authority nonce.
    #[serde(with = "quantity")]
    pub nonce: u64,
    /// Signature `v` (execution-spec-tests writes both `v` and `yParity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<U256>,
    /// Signature parity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_parity: Option<U256>,
    /// Signature `r`.
    pub r: U256,
    /// Signature `s`.
    pub s: U256,
    /// Recovered authority as filled (informative; clients recover it themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Address>,
}

impl Authorization {
    /// The signature parity: `yParity`, else `v` (0/1, or 27/28).
    pub fn parity(&self) -> U256 {
        match (self.y_parity, self.v) {
            (Some(y), _) => y,
            (None, Some(v)) if v >= U256::from(27) => v - U256::from(27),
            (None, Some(v)) => v,
            (None, None) => U256::ZERO,
        }
    }
}

/// A transaction value: a 256-bit number, or a deliberately oversized one (`0x:bigint 0x…`)
/// that retesteth uses to test RLP decoding of values above 2^256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxValue {
    /// A value that fits.
    Value(U256),
    /// A value that does not fit in 256 bits, big-endian bytes.
    Oversized(Bytes),
}

const BIGINT_PREFIX: &str = "0x:bigint ";

impl Serialize for TxValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TxValue::Value(v) => v.serialize(s),
            TxValue::Oversized(b) => s.serialize_str(&format!("{BIGINT_PREFIX}{b}")),
        }
    }
}

impl<'de> Deserialize<'de> for TxValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Some(big) = s.strip_prefix(BIGINT_PREFIX) {
            // retesteth writes these with an odd number of digits; pad to whole bytes.
            let digits = big.trim_start_matches("0x");
            let padded = if digits.len() % 2 == 1 { format!("0{digits}") } else { digits.to_owned() };
            return padded.parse::<Bytes>().map(TxValue::Oversized).map_err(serde::de::Error::custom);
        }
        s.parse::<U256>().map(TxValue::Value).map_err(|e| serde::de::Error::custom(format!("`{s}` is not a 256-bit value: {e}")))
    }
}

/// The expected result of one (data, gas, value) combination under one fork.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostEntry {
    /// Expected post-state root.
    pub hash: B256,
    /// Expected logs hash: keccak256 of the RLP list of logs.
    pub logs: B256,
    /// Which alternatives of the template this entry is for.
    pub indexes: Indexes,
    /// The signed transaction as filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txbytes: Option<Bytes>,
    /// The expected rejection, e.g. `TransactionException.INTRINSIC_GAS_TOO_LOW`, alternatives
    /// separated by `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_exception: Option<String>,
    /// The full expected post-state (execution-spec-tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Accounts>,
}

/// Indexes into the template's `data`, `gasLimit` and `value` lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Indexes {
    /// Index into `data` (and `accessLists`).
    pub data: usize,
    /// Index into `gasLimit`.
    pub gas: usize,
    /// Index into `value`.
    pub value: usize,
}

/// Chain configuration carried by execution-spec-tests fixtures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Blob parameters per fork name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_schedule: Option<BTreeMap<String, BlobParams>>,
    /// Chain id (1 when absent).
    #[serde(default, with = "quantity::opt", skip_serializing_if = "Option::is_none")]
    pub chainid: Option<u64>,
}

/// EIP-7840 blob parameters of one fork.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobParams {
    /// Target blobs per block.
    #[serde(with = "quantity")]
    pub target: u64,
    /// Maximum blobs per block.
    #[serde(with = "quantity")]
    pub max: u64,
    /// Blob base fee update fraction.
    #[serde(with = "quantity")]
    pub base_fee_update_fraction: u64,
}

impl BlobParams {
    /// The blob base fee at `excess_blob_gas`: EIP-4844's `fake_exponential(1, excess,
    /// update_fraction)`, `None` when it does not fit in 256 bits (or the fraction is zero).
    /// Intermediate products are 512-bit, so a fee that fits is always computed (a 256-bit
    /// accumulator overflows from about 4.9e8 under Cancun's fraction, below the 5.9e8 where
    /// the fee itself stops fitting). The loop ends within a few hundred rounds for any input:
    /// the sum passes 2^256 or the accumulator shrinks to zero.
    pub fn base_fee(&self, excess_blob_gas: u64) -> Option<U256> {
        if self.base_fee_update_fraction == 0 {
            return None;
        }
        let numerator = U512::from(excess_blob_gas);
        let denominator = U512::from(self.base_fee_update_fraction);
        let limit = U512::from(U256::MAX) * denominator;
        let mut output = U512::ZERO;
        let mut accumulator = denominator;
        let mut i = 1u64;
        while !accumulator.is_zero() {
            output += accumulator;
            if output > limit {
                return None;
            }
            // Both factors are below 2^320 and 2^64: the product fits.
            accumulator = accumulator * numerator / (denominator * U512::from(i));
            i += 1;
        }
        // At most the limit over the denominator: the upper limbs are zero.
        let [a, b, c, d, ..] = (output / denominator).into_limbs();
        Some(U256::from_limbs([a, b, c, d]))
    }

    /// Why no chain can have a block with `excess_blob_gas` under these parameters, if none
    /// can: its blob base fee does not fit in 256 bits, and the excess only grows by a block
    /// that carries blobs, whose parent's fee (within one block's blob gas of it) no account
    /// could pay. Some clients compute such a fee for hours (revm 43 loops while its 128-bit
    /// accumulator saturates), so these inputs are refused before any client runs.
    pub fn unreachable_excess(&self, excess_blob_gas: u64) -> Option<String> {
        if self.base_fee_update_fraction == 0 {
            return Some("a blob base fee update fraction of zero (no chain divides by it)".to_owned());
        }
        self.base_fee(excess_blob_gas).is_none().then(|| {
            format!(
                "an excess blob gas of {excess_blob_gas}, whose blob base fee (update fraction {}) is above 2^256 wei: no header can carry it",
                self.base_fee_update_fraction
            )
        })
    }
}

/// `to` is an address, or `""` for contract creation.
mod to_field {
    use super::*;

    pub fn serialize<S: Serializer>(to: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
        match to {
            Some(a) => a.serialize(s),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        if s.is_empty() || s == "0x" {
            return Ok(None);
        }
        s.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANCUN: BlobParams = BlobParams { target: 3, max: 6, base_fee_update_fraction: 3_338_477 };

    #[test]
    fn the_blob_base_fee_matches_the_eip_and_ends_for_any_excess() {
        assert_eq!(CANCUN.base_fee(0), Some(U256::from(1)));
        assert_eq!(CANCUN.base_fee(2_314_057), Some(U256::from(1)));
        assert_eq!(CANCUN.base_fee(10_000_000), Some(U256::from(19)));
        // Where a 256-bit accumulator overflows, the fee still fits and is computed.
        let fee = CANCUN.base_fee(500_000_000).expect("fits");
        assert!(fee > U256::from(1) << 200 && fee < U256::MAX);
        // Beyond about 5.9e8 it does not fit: no header can carry such an excess.
        assert_eq!(CANCUN.base_fee(600_000_000), None);
        assert_eq!(CANCUN.base_fee(u64::MAX), None);
        assert_eq!(BlobParams { base_fee_update_fraction: 0, ..CANCUN }.base_fee(1), None);
        assert_eq!(BlobParams { base_fee_update_fraction: 1, ..CANCUN }.base_fee(u64::MAX), None);
        assert_eq!(BlobParams { base_fee_update_fraction: u64::MAX, ..CANCUN }.base_fee(u64::MAX), Some(U256::from(2)));
    }

    #[test]
    fn an_excess_whose_fee_does_not_fit_is_unreachable_with_the_reason() {
        assert_eq!(CANCUN.unreachable_excess(500_000_000), None);
        let why = CANCUN.unreachable_excess(u64::MAX).expect("unreachable");
        assert!(why.contains("18446744073709551615") && why.contains("2^256"), "{why}");
        assert!(BlobParams { base_fee_update_fraction: 0, ..CANCUN }.unreachable_excess(0).is_some());
    }
}
