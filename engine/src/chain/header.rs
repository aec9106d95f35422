//! Block headers: what a block's header must hold given its parent and fork (number, gas limit
//! bounds, base fee, excess blob gas, difficulty before the Merge, uncles), building the header
//! of a generated block from a client's results, and checking a fixture's claimed header.

use super::{BlockRejection, Node};
use alloy_primitives::{B256, U256};
use schism_interface::Fork;
use schism_interface::fixture::BlobParams;
use schism_interface::sequence::{BlockInput, BlockOutcome, Header, SeqBlock, encode};
use std::collections::HashMap;

/// The fork rules a header is judged by.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// The block's fork.
    pub fork: Fork,
    /// The parent's fork (transitions change gas limit and base fee rules).
    pub parent_fork: Fork,
    /// Blob parameters of the block's fork.
    pub blob_params: Option<BlobParams>,
}

/// The header fields that follow from the parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// EIP-1559 base fee (London on).
    pub base_fee: Option<u64>,
    /// EIP-4844 excess blob gas (Cancun on).
    pub excess_blob_gas: Option<u64>,
    /// Difficulty before the Merge, for the block's timestamp.
    pub difficulty: U256,
}

/// EIP-1559's base fee of the first London block.
const INITIAL_BASE_FEE: u64 = 1_000_000_000;
const GAS_PER_BLOB: u64 = 1 << 17;
const MIN_DIFFICULTY: u64 = 131_072;

/// The fields the block's header must hold, given its parent and its own timestamp.
pub fn expected_fields(rules: &Rules, parent: &Header, timestamp: u64) -> Expected {
    let fork = rules.fork;
    let base_fee = (fork >= Fork::London).then(|| {
        if rules.parent_fork < Fork::London {
            INITIAL_BASE_FEE
        } else {
            alloy_eips::eip1559::calc_next_block_base_fee(
                parent.gas_used,
                parent.gas_limit,
                parent.base_fee_per_gas.unwrap_or_default(),
                alloy_eips::eip1559::BaseFeeParams::ethereum(),
            )
        }
    });
    let excess_blob_gas = (fork >= Fork::Cancun).then(|| {
        let Some(p) = rules.blob_params else { return 0 };
        let params = alloy_eips::eip7840::BlobParams {
            target_blob_count: p.target,
            max_blob_count: p.max,
            update_fraction: u128::from(p.base_fee_update_fraction),
            ..if fork >= Fork::Osaka { alloy_eips::eip7840::BlobParams::osaka() } else { alloy_eips::eip7840::BlobParams::cancun() }
        };
        let parent_excess = parent.excess_blob_gas.unwrap_or_default();
        let parent_used = parent.blob_gas_used.unwrap_or_default();
        if fork >= Fork::Osaka {
            params.next_block_excess_blob_gas_osaka(parent_excess, parent_used, parent.base_fee_per_gas.unwrap_or_default())
        } else {
            (parent_excess + parent_used).saturating_sub(p.target * GAS_PER_BLOB)
        }
    });
    Expected { base_fee, excess_blob_gas, difficulty: difficulty(fork, parent, parent.number + 1, timestamp) }
}

/// Pre-Merge difficulty (Frontier, EIP-2, EIP-100, and the bomb with each fork's delay).
pub fn difficulty(fork: Fork, parent: &Header, number: u64, timestamp: u64) -> U256 {
    if fork >= Fork::Paris {
        return U256::ZERO;
    }
    let pd = parent.difficulty;
    let step = pd / U256::from(2048);
    let elapsed = timestamp.saturating_sub(parent.timestamp);
    let factor: i64 = if fork >= Fork::Byzantium {
        let uncles = if parent.ommers_hash == alloy_consensus_empty_ommers() { 1 } else { 2 };
        (uncles - (elapsed / 9) as i64).max(-99)
    } else if fork >= Fork::Homestead {
        (1 - (elapsed / 10) as i64).max(-99)
    } else if elapsed < 13 {
        1
    } else {
        -1
    };
    let mut d = if factor >= 0 { pd + step * U256::from(factor) } else { pd.saturating_sub(step * U256::from(-factor)) };
    d = d.max(U256::from(MIN_DIFFICULTY));
    let delay: u64 = match fork {
        Fork::GrayGlacier => 11_400_000,
        Fork::ArrowGlacier => 10_700_000,
        Fork::London => 9_700_000,
        Fork::MuirGlacier | Fork::Berlin => 9_000_000,
        Fork::Constantinople | Fork::ConstantinopleFix | Fork::Istanbul => 5_000_000,
        Fork::Byzantium => 3_000_000,
        _ => 0,
    };
    let period = number.saturating_sub(delay) / 100_000;
    if period >= 2 {
        d += U256::from(1) << (period - 2) as usize;
    }
    d
}

fn alloy_consensus_empty_ommers() -> B256 {
    encode::ommers_hash(&[])
}

fn header_rule(rule: &'static str, detail: String) -> BlockRejection {
    BlockRejection::Header { rule, detail }
}

/// Checks a claimed header against its parent and fork.
pub fn validate(rules: &Rules, h: &Header, parent: &Header, expected: &Expected) -> Result<(), BlockRejection> {
    let fork = rules.fork;
    if h.number != parent.number + 1 {
        return Err(header_rule("INVALID_BLOCK_NUMBER", format!("{} after {}", h.number, parent.number)));
    }
    if h.timestamp <= parent.timestamp {
        return Err(header_rule("INVALID_BLOCK_TIMESTAMP_OLDER_THAN_PARENT", format!("{} after {}", h.timestamp, parent.timestamp)));
    }
    if h.extra_data.len() > 32 {
        return Err(header_rule("EXTRA_DATA_TOO_BIG", format!("{} bytes", h.extra_data.len())));
    }
    gas_limit_ok(rules, h.gas_limit, parent.gas_limit)?;
    if h.gas_used > h.gas_limit {
        return Err(header_rule("GAS_USED_OVERFLOW", format!("{} > {}", h.gas_used, h.gas_limit)));
    }
    if h.base_fee_per_gas != expected.base_fee {
        return Err(header_rule("INVALID_BASEFEE_PER_GAS", format!("{:?}, expected {:?}", h.base_fee_per_gas, expected.base_fee)));
    }
    if fork >= Fork::Paris {
        if !h.difficulty.is_zero() {
            return Err(header_rule("IMPORT_IMPOSSIBLE_DIFFICULTY_OVER_PARIS", h.difficulty.to_string()));
        }
        if !h.nonce.is_zero() {
            return Err(header_rule("IMPORT_IMPOSSIBLE_NONCE_OVER_PARIS", h.nonce.to_string()));
        }
    } else if h.difficulty != expected.difficulty {
        return Err(header_rule("INVALID_DIFFICULTY", format!("{}, expected {}", h.difficulty, expected.difficulty)));
    }
    let present = |name: &'static str, has: bool, should: bool| {
        if has == should {
            Ok(())
        } else {
            Err(header_rule("INCORRECT_BLOCK_FORMAT", format!("{name} {} in {fork}", if has { "present" } else { "absent" })))
        }
    };
    present("withdrawalsRoot", h.withdrawals_root.is_some(), fork >= Fork::Shanghai)?;
    present("blobGasUsed", h.blob_gas_used.is_some(), fork >= Fork::Cancun)?;
    present("parentBeaconBlockRoot", h.parent_beacon_block_root.is_some(), fork >= Fork::Cancun)?;
    present("requestsHash", h.requests_hash.is_some(), fork >= Fork::Prague)?;
    if h.excess_blob_gas != expected.excess_blob_gas {
        return Err(header_rule("INCORRECT_EXCESS_BLOB_GAS", format!("{:?}, expected {:?}", h.excess_blob_gas, expected.excess_blob_gas)));
    }
    Ok(())
}

/// The gas limit may move by less than 1/1024 of the parent's and stays at 5000 or more; the
/// first London block measures against twice the parent's (EIP-1559's elasticity).
fn gas_limit_ok(rules: &Rules, limit: u64, parent_limit: u64) -> Result<(), BlockRejection> {
    let parent_limit = if rules.fork >= Fork::London && rules.parent_fork < Fork::London { parent_limit * 2 } else { parent_limit };
    if limit < 5000 || limit.abs_diff(parent_limit) >= parent_limit / 1024 || limit > i64::MAX as u64 {
        return Err(header_rule("INVALID_GASLIMIT", format!("{limit} after {parent_limit}")));
    }
    Ok(())
}

/// Checks a claimed block's uncles: none after the Merge; before it at most two, each a valid
/// header whose parent is a recent ancestor, neither an ancestor nor included before.
pub(super) fn validate_ommers(
    rules: &Rules,
    schedule: &schism_interface::Schedule,
    block: &SeqBlock,
    number: u64,
    nodes: &HashMap<B256, Node>,
    parent_hash: B256,
    included: &[B256],
) -> Result<(), BlockRejection> {
    if block.header.ommers_hash != encode::ommers_hash(&block.ommers) {
        return Err(header_rule("INVALID_UNCLES_HASH", block.header.ommers_hash.to_string()));
    }
    if block.ommers.is_empty() {
        return Ok(());
    }
    if rules.fork >= Fork::Paris {
        return Err(header_rule("IMPORT_IMPOSSIBLE_UNCLES_OVER_PARIS", format!("{} uncles", block.ommers.len())));
    }
    if block.ommers.len() > 2 {
        return Err(header_rule("TOO_MANY_UNCLES", format!("{} uncles", block.ommers.len())));
    }
    // The last seven ancestors, nearest first.
    let mut ancestors = Vec::new();
    let mut at = parent_hash;
    while let Some(node) = nodes.get(&at) {
        ancestors.push(at);
        if ancestors.len() == 7 || node.header.number == 0 {
            break;
        }
        at = node.header.parent_hash;
    }
    let mut seen = Vec::new();
    for uncle in &block.ommers {
        let hash = uncle.hash_slow();
        if seen.contains(&hash) {
            return Err(header_rule("UNCLE_IS_DUPLICATE", hash.to_string()));
        }
        seen.push(hash);
        if included.contains(&hash) {
            return Err(header_rule("UNCLE_IN_CHAIN", hash.to_string()));
        }
        if ancestors.contains(&hash) {
            return Err(header_rule("UNCLE_IS_ANCESTOR", hash.to_string()));
        }
        let distance = number.saturating_sub(uncle.number);
        // An uncle's parent is an ancestor of the including block other than its parent.
        let parent = ancestors.iter().skip(1).find(|a| **a == uncle.parent_hash).and_then(|a| nodes.get(a));
        let Some(parent) = parent else {
            return Err(header_rule("UNCLE_PARENT_INCORRECT", format!("uncle {hash} of parent {}", uncle.parent_hash)));
        };
        if !(1..=6).contains(&distance) {
            return Err(header_rule("UNCLE_PARENT_INCORRECT", format!("uncle at distance {distance}")));
        }
        let uncle_rules = Rules {
            fork: schedule.fork_at(uncle.number, uncle.timestamp, parent.td),
            parent_fork: schedule.fork_at(parent.header.number, parent.header.timestamp, parent.td - parent.header.difficulty),
            blob_params: None,
        };
        let expected = expected_fields(&uncle_rules, &parent.header, uncle.timestamp);
        validate(&uncle_rules, uncle, &parent.header, &expected).map_err(|why| match why {
            BlockRejection::Header { rule, detail } => header_rule(rule, format!("uncle {hash}: {detail}")),
            other => other,
        })?;
    }
    Ok(())
}

/// Builds the header of a block from a client's results: everything computed, the builder's
/// choices kept. A claimed block is rebuilt the same way, so its claims can be compared.
pub fn build(
    rules: &Rules,
    input: &BlockInput,
    block: &SeqBlock,
    outcome: &BlockOutcome,
    parent_hash: B256,
    expected: &Expected,
) -> Result<Header, &'static str> {
    let fork = rules.fork;
    let h = &block.header;
    let txs = if block.claimed { block.txs.clone() } else { super::included(block, outcome) };
    let transactions_root = encode::transactions_root(&txs, input.chain_id).map_err(|_| "a transaction without a consensus encoding")?;
    let (receipts_root, bloom) = encode::receipts_root_and_bloom(&outcome.receipts);
    Ok(Header {
        parent_hash,
        ommers_hash: encode::ommers_hash(&block.ommers),
        beneficiary: h.beneficiary,
        state_root: outcome.state_root,
        transactions_root,
        receipts_root: outcome.receipts_root.unwrap_or(receipts_root),
        logs_bloom: outcome.logs_bloom.unwrap_or(bloom),
        difficulty: input.env.current_difficulty,
        number: input.env.current_number,
        gas_limit: h.gas_limit,
        gas_used: outcome.gas_used,
        timestamp: h.timestamp,
        extra_data: h.extra_data.clone(),
        mix_hash: h.mix_hash,
        nonce: h.nonce,
        base_fee_per_gas: expected.base_fee,
        withdrawals_root: input.withdrawals.as_deref().map(encode::withdrawals_root),
        blob_gas_used: (fork >= Fork::Cancun).then_some(outcome.blob_gas_used),
        excess_blob_gas: expected.excess_blob_gas,
        parent_beacon_block_root: input.env.parent_beacon_block_root,
        requests_hash: (fork >= Fork::Prague).then(|| encode::requests_hash(outcome.requests.as_deref().unwrap_or_default())),
        ..Header::default()
    })
}

/// Checks the claims of a fixture's header against the header rebuilt from the client's results.
pub fn check_claims(claimed: &Header, built: &Header) -> Result<(), BlockRejection> {
    let claim = |rule: &'static str, a: String, b: String| {
        if a == b { Ok(()) } else { Err(BlockRejection::Claim { rule, claimed: a, computed: b }) }
    };
    claim("INVALID_GAS_USED", claimed.gas_used.to_string(), built.gas_used.to_string())?;
    claim("INVALID_TRANSACTIONS_ROOT", claimed.transactions_root.to_string(), built.transactions_root.to_string())?;
    claim("INVALID_WITHDRAWALS_ROOT", format!("{:?}", claimed.withdrawals_root), format!("{:?}", built.withdrawals_root))?;
    claim("INVALID_BLOB_GAS_USED", format!("{:?}", claimed.blob_gas_used), format!("{:?}", built.blob_gas_used))?;
    claim("INVALID_STATE_ROOT", claimed.state_root.to_string(), built.state_root.to_string())?;
    claim("INVALID_RECEIPTS_ROOT", claimed.receipts_root.to_string(), built.receipts_root.to_string())?;
    claim("INVALID_LOG_BLOOM", claimed.logs_bloom.to_string(), built.logs_bloom.to_string())?;
    claim("INVALID_REQUESTS", format!("{:?}", claimed.requests_hash), format!("{:?}", built.requests_hash))?;
    Ok(())
}
