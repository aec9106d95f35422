//! The chain: runs a block sequence through one client, block by block, the way a node imports
//! blocks. Each block's environment comes from its parent (number, base fee, excess blob gas,
//! block hashes); the client executes it ([`Client::execute_block`]); the chain builds the
//! header from what the client computed, or checks a fixture's claimed header against it, and
//! accepts or rejects the block. Side chains and reorganisations of pre-Merge fixtures follow
//! the heaviest chain.

pub mod compare;
pub mod header;

use alloy_primitives::{B256, U256};
use schism_interface::fixture::{Accounts, Env};
use schism_interface::sequence::{BlockInput, BlockOutcome, Header, Ommer, SeqBlock, Sequence};
use schism_interface::{Case, Client, ClientError, Fork, InvalidTxKind, StepObserver, TraceMode};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Why a block was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum BlockRejection {
    /// Its RLP does not decode.
    Undecodable {
        /// The decoder's words.
        detail: String,
    },
    /// Its header breaks a rule against its parent or its fork (the name follows
    /// execution-spec-tests' `BlockException`).
    Header {
        /// `INVALID_GASLIMIT`, `UNKNOWN_PARENT`, ...
        rule: &'static str,
        /// What was found.
        detail: String,
    },
    /// A transaction is invalid.
    Transaction {
        /// Its position in the block.
        index: usize,
        /// Why.
        kind: InvalidTxKind,
    },
    /// A header field differs from what the client computed.
    Claim {
        /// The `BlockException` name of the field (`INVALID_STATE_ROOT`, ...).
        rule: &'static str,
        /// The header's value.
        claimed: String,
        /// The client's value.
        computed: String,
    },
}

impl BlockRejection {
    /// The rule's name, in the vocabulary of `expectException`.
    pub fn name(&self) -> String {
        match self {
            BlockRejection::Undecodable { .. } => "RLP_STRUCTURES_ENCODING".to_owned(),
            BlockRejection::Header { rule, .. } | BlockRejection::Claim { rule, .. } => (*rule).to_owned(),
            BlockRejection::Transaction { kind, .. } => kind.name().to_owned(),
        }
    }
}

impl std::fmt::Display for BlockRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockRejection::Undecodable { detail } => write!(f, "undecodable: {detail}"),
            BlockRejection::Header { rule, detail } => write!(f, "{rule}: {detail}"),
            BlockRejection::Transaction { index, kind } => write!(f, "transaction {index}: {kind}"),
            BlockRejection::Claim { rule, claimed, computed } => write!(f, "{rule}: header {claimed}, computed {computed}"),
        }
    }
}

/// What one client did with one block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockResult {
    /// The block's position in the sequence.
    pub position: usize,
    /// The fork it was executed under (absent when it was rejected before execution).
    pub fork: Option<Fork>,
    /// The header: built from the client's results, or the fixture's as claimed.
    pub header: Option<Header>,
    /// The block hash, when accepted.
    pub hash: Option<B256>,
    /// Why it was rejected, if it was.
    pub rejection: Option<BlockRejection>,
    /// What the client reported, when it executed the block.
    pub outcome: Option<BlockOutcome>,
    /// The environment it was executed in, when it was.
    pub env: Option<Arc<Env>>,
}

/// A sequence's run on one client.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainRun {
    /// Every block, in sequence order.
    pub blocks: Vec<BlockResult>,
    /// The state at the head of the chain.
    pub state: Arc<Accounts>,
    /// Its root.
    pub state_root: B256,
    /// The head's hash.
    pub head: B256,
}

/// An accepted block: what its children need.
#[derive(Clone)]
struct Node {
    header: Header,
    state: Arc<Accounts>,
    td: U256,
    hashes: Arc<BTreeMap<u64, B256>>,
}

/// How a chain run executes its blocks.
enum Execution<'o> {
    /// With [`Client::execute_block`], traced as asked.
    Traced(TraceMode),
    /// With [`Client::execute_block_observed`], each step reported to the observer.
    Observed(&'o mut dyn StepObserver),
}

/// Runs `seq` on `client`. A block the chain rejects is recorded with its reason and leaves the
/// chain as it was; an error is the client failing to produce an outcome.
pub fn run(client: &dyn Client, seq: &Sequence, mode: TraceMode) -> Result<ChainRun, ClientError> {
    run_with(client, seq, Execution::Traced(mode))
}

/// [`run`] with each executed transaction's steps reported to `observer` as the client takes
/// them (no trace is built: the receipts carry none).
pub fn run_observed(client: &dyn Client, seq: &Sequence, observer: &mut dyn StepObserver) -> Result<ChainRun, ClientError> {
    run_with(client, seq, Execution::Observed(observer))
}

fn run_with(client: &dyn Client, seq: &Sequence, mut execution: Execution<'_>) -> Result<ChainRun, ClientError> {
    let genesis_hash = seq.genesis.hash_slow();
    let mut state = (*seq.pre).clone();
    schism_interface::state::drop_zero_slots(&mut state);
    let genesis =
        Node { header: seq.genesis.clone(), state: Arc::new(state), td: seq.genesis.difficulty, hashes: Arc::new(BTreeMap::new()) };
    let mut nodes: HashMap<B256, Node> = HashMap::from([(genesis_hash, genesis)]);
    let mut included_ommers: Vec<B256> = Vec::new();
    let mut head = genesis_hash;
    let mut results = Vec::with_capacity(seq.blocks.len());
    for (position, block) in seq.blocks.iter().enumerate() {
        let parent_hash = if block.claimed { block.header.parent_hash } else { head };
        let result = match (&block.undecodable, nodes.get(&parent_hash)) {
            (Some(detail), _) => rejected(position, None, BlockRejection::Undecodable { detail: detail.clone() }),
            (None, None) => {
                rejected(position, None, BlockRejection::Header { rule: "UNKNOWN_PARENT", detail: format!("no block {parent_hash}") })
            }
            (None, Some(parent)) => {
                let parent = parent.clone();
                let (result, node) = import(client, seq, position, block, parent_hash, &parent, &nodes, &included_ommers, &mut execution)?;
                if let (Some(node), Some(hash)) = (node, result.hash) {
                    included_ommers.extend(block.ommers.iter().map(Header::hash_slow));
                    let heavier = node.td > nodes[&head].td;
                    let post_merge = node.header.difficulty.is_zero();
                    nodes.insert(hash, node);
                    // Before the Merge the heaviest chain wins; after it the newest block does.
                    if heavier || post_merge {
                        head = hash;
                    }
                }
                result
            }
        };
        results.push(result);
    }
    let node = &nodes[&head];
    Ok(ChainRun { blocks: results, state_root: schism_interface::state::state_root(&node.state), state: node.state.clone(), head })
}

fn rejected(position: usize, fork: Option<Fork>, why: BlockRejection) -> BlockResult {
    BlockResult { position, fork, header: None, hash: None, rejection: Some(why), outcome: None, env: None }
}

/// Validates, executes and seals one block on `parent`.
#[allow(clippy::too_many_arguments)]
fn import(
    client: &dyn Client,
    seq: &Sequence,
    position: usize,
    block: &SeqBlock,
    parent_hash: B256,
    parent: &Node,
    nodes: &HashMap<B256, Node>,
    included_ommers: &[B256],
    execution: &mut Execution<'_>,
) -> Result<(BlockResult, Option<Node>), ClientError> {
    let number = parent.header.number + 1;
    let fork = seq.schedule.fork_at(number, block.header.timestamp, parent.td);
    let parent_fork = seq.schedule.fork_at(parent.header.number, parent.header.timestamp, parent.td - parent.header.difficulty);
    let blob_params = seq.blob_params(fork);
    let rules = header::Rules { fork, parent_fork, blob_params };
    let expected = header::expected_fields(&rules, &parent.header, block.header.timestamp);
    if block.claimed
        && let Err(why) = header::validate(&rules, &block.header, &parent.header, &expected)
            .and_then(|()| header::validate_ommers(&rules, &seq.schedule, block, number, nodes, parent_hash, included_ommers))
            .and_then(|()| {
                // A body carries a withdrawals list exactly from Shanghai on.
                if block.withdrawals.is_some() == (fork >= Fork::Shanghai) {
                    Ok(())
                } else {
                    Err(BlockRejection::Header { rule: "RLP_WITHDRAWALS_NOT_READ", detail: format!("withdrawals list in a {fork} body") })
                }
            })
    {
        return Ok((rejected(position, Some(fork), why), None));
    }
    let mut hashes = (*parent.hashes).clone();
    hashes.insert(parent.header.number, parent_hash);
    let hashes = Arc::new(hashes);
    let h = &block.header;
    let env = Env {
        current_coinbase: h.beneficiary,
        current_difficulty: if fork >= Fork::Paris {
            U256::ZERO
        } else if block.claimed {
            h.difficulty
        } else {
            expected.difficulty
        },
        current_gas_limit: h.gas_limit,
        current_number: number,
        current_timestamp: h.timestamp,
        current_base_fee: expected.base_fee,
        current_random: (fork >= Fork::Paris).then_some(h.mix_hash),
        current_excess_blob_gas: expected.excess_blob_gas,
        previous_hash: Some(parent_hash),
        parent_beacon_block_root: if fork >= Fork::Cancun { Some(h.parent_beacon_block_root.unwrap_or_default()) } else { None },
    };
    let input = BlockInput {
        fork,
        chain_id: seq.chain_id,
        blob_params,
        pre: parent.state.clone(),
        env: Arc::new(env),
        block_hashes: hashes.clone(),
        txs: block.txs.clone(),
        withdrawals: if fork >= Fork::Shanghai { Some(block.withdrawals.clone().unwrap_or_default()) } else { None },
        ommers: block.ommers.iter().map(|o| Ommer { distance: number.saturating_sub(o.number), beneficiary: o.beneficiary }).collect(),
    };
    if let Some(reason) = client.block_skip(fork) {
        return Err(ClientError::Unrepresentable { client: client.id().to_owned(), what: reason });
    }
    let outcome = match execution {
        Execution::Traced(mode) => client.execute_block(&input, *mode)?,
        Execution::Observed(observer) => client.execute_block_observed(&input, &mut **observer)?,
    };
    let built = header::build(&rules, &input, block, &outcome, parent_hash, &expected)
        .map_err(|e| ClientError::Unrepresentable { client: client.id().to_owned(), what: e })?;
    let mut result =
        BlockResult { position, fork: Some(fork), header: None, hash: None, rejection: None, outcome: None, env: Some(input.env.clone()) };
    if block.claimed {
        if let Some(first) = outcome.rejected.first() {
            result.rejection = Some(BlockRejection::Transaction { index: first.index, kind: first.kind });
        } else if let Err(why) = header::check_claims(&block.header, &built) {
            result.rejection = Some(why);
        }
    }
    let header = if block.claimed { block.header.clone() } else { built };
    result.outcome = Some(outcome);
    if result.rejection.is_some() {
        return Ok((result, None));
    }
    let hash = header.hash_slow();
    result.hash = Some(hash);
    result.header = Some(header.clone());
    let state = result.outcome.as_ref().map(|o| Arc::new(o.post.clone())).unwrap_or_default();
    let node = Node { td: parent.td + header.difficulty, header, state, hashes };
    Ok((result, Some(node)))
}

/// Transaction `tx` of block `block` of a generated sequence as a state test: the state before
/// it is what `client` leaves after the earlier blocks and the block's earlier transactions
/// (with that block's withdrawals and closing system calls applied, which a state test has no
/// place for), its environment that of its block, BLOCKHASH as in any state test. `None` when the block carries a claimed
/// header (a fixture's, which its shortened body would not match) or `client` does not reach
/// the transaction. Whether the case still shows a finding is for the caller to check.
pub fn transaction_case(client: &dyn Client, seq: &Sequence, block: usize, tx: usize) -> Result<Option<Case>, ClientError> {
    let Some(target) = seq.blocks.get(block) else { return Ok(None) };
    let Some(stx) = target.txs.get(tx) else { return Ok(None) };
    if target.claimed {
        return Ok(None);
    }
    let mut prefix = seq.clone();
    prefix.blocks.truncate(block + 1);
    prefix.blocks[block].txs.truncate(tx);
    let run = run(client, &prefix, TraceMode::Off)?;
    let Some(result) = run.blocks.get(block) else { return Ok(None) };
    let (Some(fork), Some(outcome), Some(env)) = (result.fork, &result.outcome, &result.env) else {
        return Ok(None);
    };
    Ok(Some(Case {
        file: seq.file.clone(),
        test: Arc::from(format!("{}-block{block}-tx{tx}", seq.test)),
        fork,
        index: Default::default(),
        env: env.clone(),
        pre: Arc::new(outcome.post.clone()),
        tx: stx.tx.clone(),
        chain_id: seq.chain_id,
        blob_params: seq.blob_params(fork),
        expected: None,
        // A state test's BLOCKHASH follows the state-test convention, as in its filed fixture.
        block_hashes: None,
    }))
}

/// The transactions a generated block includes: those the client did not reject.
pub fn included(block: &SeqBlock, outcome: &BlockOutcome) -> Vec<schism_interface::SeqTx> {
    block.txs.iter().enumerate().filter(|(i, _)| !outcome.rejected.iter().any(|r| r.index == *i)).map(|(_, t)| t.clone()).collect()
}

/// How a chain run differs from what its fixture expects.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum ChainMismatch {
    /// A block the fixture marks invalid was accepted.
    MissingRejection {
        /// The block's position.
        block: usize,
        /// The `expectException` text.
        expected: String,
    },
    /// A block the fixture expects to import was rejected.
    UnexpectedRejection {
        /// The block's position.
        block: usize,
        /// Why the client's chain rejected it.
        got: String,
    },
    /// The state at the head differs.
    StateRoot {
        /// The fixture's root.
        expected: B256,
        /// The client's.
        got: B256,
    },
    /// The client's own runner failed the test.
    Native {
        /// The runner's words.
        detail: String,
    },
    /// The head differs.
    LastBlockHash {
        /// The fixture's.
        expected: B256,
        /// The client's.
        got: B256,
    },
}

/// Every way `run` differs from the fixture's expectations (empty for a pass).
pub fn check(seq: &Sequence, run: &ChainRun) -> Vec<ChainMismatch> {
    let mut out = Vec::new();
    for (block, result) in seq.blocks.iter().zip(&run.blocks) {
        match (&block.expect_exception, &result.rejection) {
            (Some(expected), None) => out.push(ChainMismatch::MissingRejection { block: result.position, expected: expected.clone() }),
            (None, Some(got)) => out.push(ChainMismatch::UnexpectedRejection { block: result.position, got: got.to_string() }),
            _ => {}
        }
    }
    if let Some(expected) = &seq.expected {
        if run.state_root != expected.post_state_root {
            out.push(ChainMismatch::StateRoot { expected: expected.post_state_root, got: run.state_root });
        }
        if run.head != expected.last_block_hash {
            out.push(ChainMismatch::LastBlockHash { expected: expected.last_block_hash, got: run.head });
        }
    }
    out
}
