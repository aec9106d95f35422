//! The blockchain test fixture format (ethereum/tests BlockchainTests, execution-spec-tests
//! `blockchain_test`): serde types that read it and write it back, and reading a test into a
//! [`Sequence`] by decoding each block's RLP, the form every client's own runner imports.

use super::{ChainExpectation, Header, Schedule, SeqBlock, Sequence, Trigger, encode};
use crate::error::{FixtureError, InvalidFixture, escape_pointer};
use crate::fixture::{Accounts, Config};
use crate::fork::Fork;
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{B256, Bytes, U256};
use alloy_rlp::Decodable;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One blockchain fixture file: test name to test.
pub type BlockchainTestFile = BTreeMap<String, BlockchainTest>;

/// A filled blockchain test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockchainTest {
    /// Filler metadata (`_info`), kept as written.
    #[serde(rename = "_info", default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// The fork schedule's name (`Cancun`, `BerlinToLondonAt5`, ...).
    pub network: String,
    /// The genesis block's RLP.
    #[serde(rename = "genesisRLP", default, skip_serializing_if = "Option::is_none")]
    pub genesis_rlp: Option<Bytes>,
    /// The genesis header as JSON (written for readers; schism reads `genesisRLP`).
    pub genesis_block_header: serde_json::Value,
    /// The blocks in import order.
    pub blocks: Vec<BlockJson>,
    /// The genesis state.
    pub pre: Accounts,
    /// The expected state after the last valid block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_state: Option<Accounts>,
    /// The expected state root, where the full state is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_state_hash: Option<B256>,
    /// Hash of the last block accepted.
    pub lastblockhash: B256,
    /// Chain configuration (chain id, blob schedule) of execution-spec-tests fixtures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    /// `NoProof` in every fixture schism reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_engine: Option<String>,
}

/// One block of a blockchain test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockJson {
    /// The block's RLP: what clients import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlp: Option<String>,
    /// The rejection the block must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_exception: Option<String>,
    /// The header as JSON (valid blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_header: Option<serde_json::Value>,
    /// The transactions as JSON (valid blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<serde_json::Value>,
    /// The uncle headers as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncle_headers: Option<serde_json::Value>,
    /// The withdrawals as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawals: Option<serde_json::Value>,
    /// The block number as a decimal string (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocknumber: Option<String>,
}

/// Parses a network name into a schedule, or says why schism cannot run it.
pub fn parse_network(network: &str) -> Result<Schedule, InvalidFixture> {
    let unknown = || InvalidFixture::UnknownNetwork { network: network.to_owned() };
    let Some((first, rest)) = network.split_once("To") else {
        return network.parse().map(Schedule::single).map_err(|_| unknown());
    };
    let first: Fork = first.parse().map_err(|_| unknown())?;
    let (then, at) = rest.split_once("At").ok_or_else(unknown)?;
    let then: Fork = then.parse().map_err(|_| unknown())?;
    let trigger = if let Some(time) = at.strip_prefix("Time") {
        let (digits, scale) = match time.strip_suffix('k') {
            Some(d) => (d, 1000),
            None => (time, 1),
        };
        // `AtTime20000000000000000k` must not wrap around to an early transition.
        Trigger::Time(digits.parse::<u64>().ok().and_then(|t| t.checked_mul(scale)).ok_or_else(unknown)?)
    } else if let Some(diff) = at.strip_prefix("Diff") {
        Trigger::TotalDifficulty(U256::from_str_radix(diff, 16).map_err(|_| unknown())?)
    } else {
        Trigger::Block(at.parse().map_err(|_| unknown())?)
    };
    Ok(Schedule { first, then: Some((trigger, then)) })
}

/// A decoded block: header, transactions, uncles, withdrawals and its RLP.
pub type DecodedBlock = (Header, Vec<super::SeqTx>, Vec<Header>, Option<Vec<super::Withdrawal>>, Bytes);

/// Decodes one block's RLP: header, transactions (senders recovered), uncles, withdrawals.
pub fn decode_block(rlp: &str) -> Result<DecodedBlock, String> {
    let bytes: Bytes = rlp.parse().map_err(|e| format!("not hex: {e}"))?;
    let mut slice = bytes.as_ref();
    let block = Block::<TxEnvelope>::decode(&mut slice).map_err(|e| format!("rlp: {e}"))?;
    if !slice.is_empty() {
        return Err(format!("rlp: {} bytes after the block", slice.len()));
    }
    let txs = block.body.transactions.iter().map(encode::decoded).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    Ok((block.header, txs, block.body.ommers, block.body.withdrawals.map(|w| w.0), bytes))
}

/// Reads one blockchain test into a sequence. A block whose RLP does not decode stays in the
/// sequence as undecodable (it must be rejected); a test that cannot be read at all is an error
/// naming the file and the value.
pub fn sequence_of(file: &Path, name: &str, test: &BlockchainTest) -> Result<Sequence, FixtureError> {
    let base = format!("/{}", escape_pointer(name));
    let invalid = |pointer: String, reason| FixtureError::Invalid { path: file.to_path_buf(), pointer, reason };
    let mut unsupported = None;
    let schedule = match parse_network(&test.network) {
        Ok(s) => s,
        Err(_) if test.network.contains("Dao") => {
            unsupported = Some("the DAO fork's irregular state change is not modelled");
            Schedule::single(Fork::Homestead)
        }
        Err(reason) => return Err(invalid(format!("{base}/network"), reason)),
    };
    let genesis_rlp =
        test.genesis_rlp.as_ref().ok_or_else(|| invalid(format!("{base}/genesisRLP"), InvalidFixture::Missing { field: "genesisRLP" }))?;
    let (genesis, ..) = decode_block(&genesis_rlp.to_string())
        .map_err(|reason| invalid(format!("{base}/genesisRLP"), InvalidFixture::BadRlp { reason }))?;
    let blocks = test
        .blocks
        .iter()
        .map(|b| {
            let decoded = b.rlp.as_deref().ok_or_else(|| "no rlp".to_owned()).and_then(decode_block);
            match decoded {
                Ok((header, txs, ommers, withdrawals, rlp)) => SeqBlock {
                    header,
                    claimed: true,
                    txs,
                    withdrawals,
                    ommers,
                    rlp: Some(rlp),
                    undecodable: None,
                    expect_exception: b.expect_exception.clone(),
                },
                Err(reason) => SeqBlock {
                    header: Header::default(),
                    claimed: true,
                    txs: Vec::new(),
                    withdrawals: None,
                    ommers: Vec::new(),
                    rlp: None,
                    undecodable: Some(reason),
                    expect_exception: b.expect_exception.clone(),
                },
            }
        })
        .collect();
    let post_state_root = match (&test.post_state_hash, &test.post_state) {
        (Some(hash), _) => *hash,
        (None, Some(state)) => {
            let mut state = state.clone();
            crate::state::drop_zero_slots(&mut state);
            crate::state::state_root(&state)
        }
        (None, None) => {
            return Err(invalid(format!("{base}/postState"), InvalidFixture::Missing { field: "postState or postStateHash" }));
        }
    };
    let blob_schedule = test
        .config
        .as_ref()
        .and_then(|c| c.blob_schedule.as_ref())
        .map(|s| s.iter().filter_map(|(k, v)| Some((k.parse().ok()?, *v))).collect())
        .unwrap_or_default();
    Ok(Sequence {
        file: Arc::from(file.display().to_string()),
        test: Arc::from(name),
        schedule,
        chain_id: test.config.as_ref().and_then(|c| c.chainid).unwrap_or(1),
        blob_schedule,
        pre: Arc::new(test.pre.clone()),
        genesis,
        blocks,
        expected: Some(ChainExpectation {
            post_state: test.post_state.clone().map(Arc::new),
            post_state_root,
            last_block_hash: test.lastblockhash,
        }),
        unsupported,
    })
}

/// Every sequence of a blockchain test file, with the errors of tests that cannot be read.
pub fn sequences_of_file(path: &Path, file: &BlockchainTestFile) -> (Vec<Sequence>, Vec<FixtureError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, test) in file {
        match sequence_of(path, name, test) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

/// A block as written into a filled fixture.
#[derive(Clone, Debug)]
pub struct FilledBlock {
    /// Its header.
    pub header: Header,
    /// The transactions it includes.
    pub txs: Vec<super::SeqTx>,
    /// Its withdrawals (Shanghai on).
    pub withdrawals: Option<Vec<super::Withdrawal>>,
}

fn quantity(v: impl Into<u128>) -> serde_json::Value {
    serde_json::Value::String(format!("{:#x}", v.into()))
}

/// A header in the fixtures' JSON layout.
pub fn header_json(h: &Header) -> serde_json::Value {
    let mut out = serde_json::json!({
        "parentHash": h.parent_hash,
        "uncleHash": h.ommers_hash,
        "coinbase": h.beneficiary,
        "stateRoot": h.state_root,
        "transactionsTrie": h.transactions_root,
        "receiptTrie": h.receipts_root,
        "bloom": h.logs_bloom,
        "difficulty": format!("{:#x}", h.difficulty),
        "number": quantity(h.number),
        "gasLimit": quantity(h.gas_limit),
        "gasUsed": quantity(h.gas_used),
        "timestamp": quantity(h.timestamp),
        "extraData": h.extra_data,
        "mixHash": h.mix_hash,
        "nonce": h.nonce,
        "hash": h.hash_slow(),
    });
    let put = |out: &mut serde_json::Value, key: &str, v: Option<serde_json::Value>| {
        if let (Some(v), Some(map)) = (v, out.as_object_mut()) {
            map.insert(key.to_owned(), v);
        }
    };
    put(&mut out, "baseFeePerGas", h.base_fee_per_gas.map(quantity));
    put(&mut out, "withdrawalsRoot", h.withdrawals_root.map(|r| serde_json::json!(r)));
    put(&mut out, "blobGasUsed", h.blob_gas_used.map(quantity));
    put(&mut out, "excessBlobGas", h.excess_blob_gas.map(quantity));
    put(&mut out, "parentBeaconBlockRoot", h.parent_beacon_block_root.map(|r| serde_json::json!(r)));
    put(&mut out, "requestsHash", h.requests_hash.map(|r| serde_json::json!(r)));
    out
}

/// A signed transaction in the fixtures' JSON layout (what revme's and the fillers' readers take).
fn transaction_json(stx: &super::SeqTx, chain_id: u64) -> Result<serde_json::Value, encode::EncodeError> {
    use alloy_consensus::Transaction as _;
    use alloy_consensus::transaction::SignerRecoverable;
    let envelope = encode::envelope(stx, chain_id)?;
    let sig = envelope.signature();
    let t = &stx.tx;
    let v = match &envelope {
        TxEnvelope::Legacy(s) => match s.tx().chain_id {
            Some(id) => u128::from(sig.v()) + 35 + 2 * u128::from(id),
            None => u128::from(sig.v()) + 27,
        },
        _ => u128::from(sig.v()),
    };
    let mut out = serde_json::json!({
        "type": quantity(t.kind.type_byte()),
        "nonce": quantity(t.nonce),
        "gasLimit": quantity(t.gas_limit),
        "to": t.to.map_or_else(|| serde_json::json!(""), |a| serde_json::json!(a)),
        "value": format!("{:#x}", envelope.value()),
        "data": t.data,
        "v": quantity(v),
        "r": format!("{:#x}", sig.r()),
        "s": format!("{:#x}", sig.s()),
        "sender": envelope.recover_signer().ok(),
    });
    let Some(map) = out.as_object_mut() else { return Ok(out) };
    if let Some(id) = envelope.chain_id() {
        map.insert("chainId".into(), quantity(id));
    }
    if let Some(p) = t.gas_price {
        map.insert("gasPrice".into(), format!("{p:#x}").into());
    }
    if let Some(p) = t.max_fee_per_gas {
        map.insert("maxFeePerGas".into(), format!("{p:#x}").into());
    }
    if let Some(p) = t.max_priority_fee_per_gas {
        map.insert("maxPriorityFeePerGas".into(), format!("{p:#x}").into());
    }
    if t.kind != crate::case::TxKind::Legacy {
        map.insert("accessList".into(), serde_json::to_value(&t.access_list).unwrap_or_default());
    }
    if let Some(p) = t.max_fee_per_blob_gas {
        map.insert("maxFeePerBlobGas".into(), format!("{p:#x}").into());
        map.insert("blobVersionedHashes".into(), serde_json::to_value(&t.blob_versioned_hashes).unwrap_or_default());
    }
    if t.kind == crate::case::TxKind::SetCode {
        map.insert("authorizationList".into(), serde_json::to_value(&t.authorization_list).unwrap_or_default());
    }
    Ok(out)
}

/// A blockchain test filled from one client's run of a sequence: the genesis, each accepted
/// block with its header, transactions, withdrawals and RLP, the client's post-state and head.
pub fn fill(
    seq: &Sequence,
    blocks: &[FilledBlock],
    post: &Accounts,
    info: serde_json::Value,
) -> Result<BlockchainTest, encode::EncodeError> {
    let rlp_of = |header: &Header, txs: &[super::SeqTx], withdrawals: &Option<Vec<super::Withdrawal>>| {
        let transactions = txs.iter().map(|t| encode::envelope(t, seq.chain_id)).collect::<Result<Vec<_>, _>>()?;
        let block = Block::<TxEnvelope> {
            header: header.clone(),
            body: alloy_consensus::BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: withdrawals.clone().map(alloy_eips::eip4895::Withdrawals::new),
            },
        };
        Ok::<Bytes, encode::EncodeError>(alloy_rlp::encode(&block).into())
    };
    let genesis_withdrawals = seq.genesis.withdrawals_root.map(|_| Vec::new());
    let genesis_rlp = rlp_of(&seq.genesis, &[], &genesis_withdrawals)?;
    let mut out = Vec::new();
    for b in blocks {
        let txs = b.txs.iter().map(|t| transaction_json(t, seq.chain_id)).collect::<Result<Vec<_>, _>>()?;
        out.push(BlockJson {
            rlp: Some(rlp_of(&b.header, &b.txs, &b.withdrawals)?.to_string()),
            expect_exception: None,
            block_header: Some(header_json(&b.header)),
            transactions: Some(serde_json::Value::Array(txs)),
            uncle_headers: Some(serde_json::json!([])),
            withdrawals: b.withdrawals.as_ref().map(|ws| {
                serde_json::Value::Array(
                    ws.iter()
                        .map(|w| {
                            serde_json::json!({
                                "index": quantity(w.index),
                                "validatorIndex": quantity(w.validator_index),
                                "address": w.address,
                                "amount": quantity(w.amount),
                            })
                        })
                        .collect(),
                )
            }),
            blocknumber: Some(b.header.number.to_string()),
        });
    }
    let last = blocks.last().map_or_else(|| seq.genesis.hash_slow(), |b| b.header.hash_slow());
    Ok(BlockchainTest {
        info: Some(info),
        network: seq.schedule.network(),
        genesis_rlp: Some(genesis_rlp),
        genesis_block_header: header_json(&seq.genesis),
        blocks: out,
        pre: (*seq.pre).clone(),
        post_state: Some(post.clone()),
        post_state_hash: None,
        lastblockhash: last,
        config: Some(Config {
            blob_schedule: (!seq.blob_schedule.is_empty())
                .then(|| seq.blob_schedule.iter().map(|(f, p)| (f.name().to_owned(), *p)).collect()),
            chainid: Some(seq.chain_id),
        }),
        seal_engine: Some("NoProof".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse() {
        assert_eq!(parse_network("Cancun"), Ok(Schedule::single(Fork::Cancun)));
        assert_eq!(parse_network("BerlinToLondonAt5"), Ok(Schedule { first: Fork::Berlin, then: Some((Trigger::Block(5), Fork::London)) }));
        assert_eq!(
            parse_network("ParisToShanghaiAtTime15k"),
            Ok(Schedule { first: Fork::Paris, then: Some((Trigger::Time(15_000), Fork::Shanghai)) })
        );
        let merge = parse_network("ArrowGlacierToParisAtDiffC0000").expect("parses");
        assert_eq!(merge.then, Some((Trigger::TotalDifficulty(U256::from(0xC0000)), Fork::Paris)));
        assert_eq!(merge.network(), "ArrowGlacierToParisAtDiffC0000");
        assert_eq!(parse_network("ByzantiumToConstantinopleFixAt5").map(|s| s.network()).as_deref(), Ok("ByzantiumToConstantinopleFixAt5"));
        assert!(parse_network("Nonsense").is_err());
        assert!(parse_network("ParisToShanghaiAtTime18446744073709552k").is_err(), "a transition time past u64 is refused, not wrapped");
    }

    #[test]
    fn a_fixture_reads_into_a_sequence() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/BlockchainTests/ValidBlocks/bcExample/optionsTest.json");
        let bytes = std::fs::read(&path).expect("the shared fixtures are beside the repository");
        let file: BlockchainTestFile = serde_json::from_slice(&bytes).expect("parses");
        let (seqs, errors) = sequences_of_file(&path, &file);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!seqs.is_empty());
        for s in &seqs {
            assert!(s.blocks.iter().all(|b| b.undecodable.is_none()));
            assert_eq!(s.genesis.number, 0);
        }
    }

    #[test]
    fn a_header_with_an_excess_no_chain_reaches_makes_the_sequence_unreachable() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/BlockchainTests/ValidBlocks/bcExample/mergeExample.json");
        let bytes = std::fs::read(&path).expect("the shared fixtures are beside the repository");
        let file: BlockchainTestFile = serde_json::from_slice(&bytes).expect("parses");
        let (mut seqs, _) = sequences_of_file(&path, &file);
        let seq = seqs.iter_mut().find(|s| s.schedule.last() >= crate::Fork::Cancun).expect("a Cancun sequence");
        assert_eq!(seq.unreachable(), None);
        seq.genesis.excess_blob_gas = Some(u64::MAX);
        let why = seq.unreachable().expect("unreachable");
        assert!(why.starts_with("block 0: an excess blob gas of 18446744073709551615"), "{why}");
    }
}
