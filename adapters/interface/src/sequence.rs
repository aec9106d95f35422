//! Block sequences: the unit of a blockchain test. A [`Sequence`] is a pre-state, a fork
//! schedule and several blocks of transactions; each client executes it one [`BlockInput`] at a
//! time (the transition-tool convention: the post-state of one block is the pre-state of the
//! next) and reports a [`BlockOutcome`] per block.

pub mod blockchain;
pub mod encode;
pub mod execute;

use crate::case::Transaction;
use crate::fixture::{Accounts, BlobParams, Env};
use crate::fork::Fork;
use crate::outcome::{ErrorClass, InvalidTxKind};
use crate::trace::Trace;
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, U256, address};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use alloy_consensus::Header;
pub use alloy_eips::eip4895::Withdrawal;

/// EIP-4788's beacon roots contract.
pub const BEACON_ROOTS_ADDRESS: Address = address!("0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02");
/// EIP-2935's block hash history contract.
pub const HISTORY_STORAGE_ADDRESS: Address = address!("0x0000F90827F1C53a10cb7A02335B175320002935");
/// EIP-7002's withdrawal request contract.
pub const WITHDRAWAL_REQUEST_ADDRESS: Address = address!("0x00000961Ef480Eb55e80D19ad83579A64c007002");
/// EIP-7251's consolidation request contract.
pub const CONSOLIDATION_REQUEST_ADDRESS: Address = address!("0x0000BBdDc7CE488642fb579F8B00f3a590007251");
/// EIP-6110's deposit contract on mainnet (the one the fixtures' chains use).
pub const DEPOSIT_CONTRACT_ADDRESS: Address = address!("0x00000000219ab540356cBB839Cbe05303d7705Fa");
/// The caller of system calls (EIP-4788).
pub const SYSTEM_ADDRESS: Address = address!("0xfffffffffffffffffffffffffffffffffffffffe");
/// The gas a system call's frame is given (EIP-4788, and the system calls after it).
pub const SYSTEM_CALL_GAS: u64 = 30_000_000;

/// When a scheduled fork begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// At this block number (pre-Merge transitions, `...At5`).
    Block(u64),
    /// At this timestamp (post-Merge transitions, `...AtTime15k`).
    Time(u64),
    /// When the chain's total difficulty reaches this value (the Merge, `...AtDiffC0000`).
    TotalDifficulty(U256),
}

/// Which fork rules apply to which block: a first fork and at most one transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The fork at genesis.
    pub first: Fork,
    /// The later fork and when it begins.
    pub then: Option<(Trigger, Fork)>,
}

impl Schedule {
    /// A single fork for the whole sequence.
    pub fn single(fork: Fork) -> Schedule {
        Schedule { first: fork, then: None }
    }

    /// The fork of a block with this number and timestamp, whose parent's total difficulty is
    /// `parent_td`.
    pub fn fork_at(&self, number: u64, timestamp: u64, parent_td: U256) -> Fork {
        match self.then {
            Some((Trigger::Block(at), fork)) if number >= at => fork,
            Some((Trigger::Time(at), fork)) if timestamp >= at => fork,
            Some((Trigger::TotalDifficulty(at), fork)) if parent_td >= at => fork,
            _ => self.first,
        }
    }

    /// Every fork the schedule uses.
    pub fn forks(&self) -> Vec<Fork> {
        let mut out = vec![self.first];
        out.extend(self.then.map(|(_, f)| f));
        out
    }

    /// The last fork of the schedule.
    pub fn last(&self) -> Fork {
        self.then.map_or(self.first, |(_, f)| f)
    }

    /// The network name the fixtures use: `Cancun`, `BerlinToLondonAt5`,
    /// `ShanghaiToCancunAtTime15k`, `ArrowGlacierToParisAtDiffC0000`.
    pub fn network(&self) -> String {
        match self.then {
            None => self.first.name().to_owned(),
            Some((trigger, fork)) => {
                let at = match trigger {
                    Trigger::Block(n) => format!("At{n}"),
                    Trigger::Time(t) if t % 1000 == 0 => format!("AtTime{}k", t / 1000),
                    Trigger::Time(t) => format!("AtTime{t}"),
                    Trigger::TotalDifficulty(td) => format!("AtDiff{td:X}"),
                };
                format!("{}To{}{at}", self.first.name(), fork.name())
            }
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.network())
    }
}

/// A transaction of a block: the typed fields every client reads, and the signed encoding when
/// it came signed (fixtures); generated transactions are signed from their secret key.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqTx {
    /// The transaction.
    pub tx: Transaction,
    /// The EIP-2718 encoding as given, when the transaction was decoded rather than generated.
    pub raw: Option<Bytes>,
}

/// One block of a sequence.
///
/// Generated blocks choose only what a block builder chooses (beneficiary, timestamp, gas
/// limit, randomness, extra data, beacon root) in `header`; everything else is computed. Blocks
/// read from a fixture carry the whole header as `claimed`: every field is a claim the chain
/// checks against what the client computed, and a block whose claims fail is rejected.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqBlock {
    /// The header: the builder's choices, or the whole header as claimed.
    pub header: Header,
    /// True when `header` is a fixture's claim to check rather than a builder's choices.
    pub claimed: bool,
    /// The transactions in order.
    pub txs: Vec<SeqTx>,
    /// EIP-4895 withdrawals (Shanghai on; `None` before).
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// Uncle headers (pre-Merge).
    pub ommers: Vec<Header>,
    /// The block's RLP when it came from a fixture.
    pub rlp: Option<Bytes>,
    /// Why the fixture's RLP does not decode, if it does not (the block is then rejected).
    pub undecodable: Option<String>,
    /// The fixture's `expectException`: the block must be rejected.
    pub expect_exception: Option<String>,
}

/// What a blockchain fixture expects at the end of its sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainExpectation {
    /// The full post-state (`postState`), when given.
    pub post_state: Option<Arc<Accounts>>,
    /// The post-state root (`postStateHash`, or the root of `postState`).
    pub post_state_root: B256,
    /// The hash of the last block accepted (`lastblockhash`).
    pub last_block_hash: B256,
}

/// A block sequence: one pre-state, a fork schedule and blocks executed in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// The file it came from (or a generator's label).
    pub file: Arc<str>,
    /// The test name inside the file.
    pub test: Arc<str>,
    /// Which fork applies to which block.
    pub schedule: Schedule,
    /// The chain id.
    pub chain_id: u64,
    /// Blob parameters given by the fixture's config, by fork; forks absent use their defaults.
    pub blob_schedule: BTreeMap<Fork, BlobParams>,
    /// The genesis state.
    pub pre: Arc<Accounts>,
    /// The genesis header.
    pub genesis: Header,
    /// The blocks after genesis.
    pub blocks: Vec<SeqBlock>,
    /// What a fixture expects, when the sequence comes from one.
    pub expected: Option<ChainExpectation>,
    /// Why schism cannot run this sequence at all, when it cannot (read from the fixture).
    pub unsupported: Option<&'static str>,
}

impl Sequence {
    /// A readable, unique label: `file::test[network]`.
    pub fn label(&self) -> String {
        format!("{}::{}[{}]", self.file, self.test, self.schedule)
    }

    /// The blob parameters of a fork: the fixture's, else the fork's defaults.
    pub fn blob_params(&self, fork: Fork) -> Option<BlobParams> {
        self.blob_schedule.get(&fork).copied().or_else(|| crate::case::default_blob_params(fork))
    }

    /// Why no chain can reach this sequence, if none can: a header (genesis or a block) of a
    /// fork with blobs whose excess blob gas has a fee beyond 256 bits (see
    /// [`BlobParams::unreachable_excess`]).
    pub fn unreachable(&self) -> Option<String> {
        std::iter::once(&self.genesis).chain(self.blocks.iter().map(|b| &b.header)).find_map(|h| {
            let excess = h.excess_blob_gas?;
            let fork = self.schedule.fork_at(h.number, h.timestamp, U256::MAX);
            if fork < Fork::Cancun {
                return None;
            }
            self.blob_params(fork)?.unreachable_excess(excess).map(|why| format!("block {}: {why}", h.number))
        })
    }

    /// Number of transactions over all blocks.
    pub fn tx_count(&self) -> usize {
        self.blocks.iter().map(|b| b.txs.len()).sum()
    }
}

/// An uncle of a block, as block rewards need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ommer {
    /// How many blocks older than the including block the uncle is (1..=6).
    pub distance: u64,
    /// The uncle's beneficiary.
    pub beneficiary: Address,
}

/// One block as a client executes it: the transition-tool input (pre-state, block environment,
/// transactions, withdrawals) with the block's number, base fee and excess blob gas resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockInput {
    /// The fork of this block.
    pub fork: Fork,
    /// The chain id.
    pub chain_id: u64,
    /// Blob parameters of the fork.
    pub blob_params: Option<BlobParams>,
    /// The state before the block.
    pub pre: Arc<Accounts>,
    /// The block environment (`previous_hash` is the parent's hash).
    pub env: Arc<Env>,
    /// Hashes of earlier blocks by number, genesis included (what BLOCKHASH answers).
    pub block_hashes: Arc<BTreeMap<u64, B256>>,
    /// The transactions in order.
    pub txs: Vec<SeqTx>,
    /// EIP-4895 withdrawals, from Shanghai on.
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// Uncles, for block rewards before the Merge.
    pub ommers: Vec<Ommer>,
}

/// The receipt of one executed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxReceipt {
    /// The transaction's position in the block.
    pub index: usize,
    /// Its envelope type.
    pub kind: crate::case::TxKind,
    /// Success (Byzantium on), when the client reports it.
    pub success: Option<bool>,
    /// The state root after the transaction (receipts before Byzantium), when reported.
    pub post_state: Option<B256>,
    /// Gas used by the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// The logs, when the client reports them.
    pub logs: Option<Vec<Log>>,
    /// How the transaction ended, when the client reports it.
    pub error: Option<ErrorClass>,
    /// The transaction's trace, when one was requested.
    pub trace: Option<Trace>,
}

/// A transaction the block could not include.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The transaction's position in the block.
    pub index: usize,
    /// Why, in the shared vocabulary.
    pub kind: InvalidTxKind,
    /// The client's own words, where it gives them.
    pub detail: Option<String>,
}

/// What a client reports for one block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockOutcome {
    /// The state root after the block.
    pub state_root: B256,
    /// The full post-state (the next block's pre-state); subprocess tools print it too.
    pub post: Accounts,
    /// Receipts of the included transactions, in order.
    pub receipts: Vec<TxReceipt>,
    /// Transactions that were not included.
    pub rejected: Vec<Rejection>,
    /// Gas used by the block.
    pub gas_used: u64,
    /// EIP-4844 blob gas used by the block.
    pub blob_gas_used: u64,
    /// keccak256 of the RLP of every log of the block, when reported.
    pub logs_hash: Option<B256>,
    /// The receipts root as the client computed it, when it reports one.
    pub receipts_root: Option<B256>,
    /// The logs bloom as the client computed it, when it reports one.
    pub logs_bloom: Option<Bloom>,
    /// EIP-7685 requests (type byte first, empty ones left out), Prague on.
    pub requests: Option<Vec<Bytes>>,
}

/// A system call (EIP-4788, EIP-2935, EIP-7002, EIP-7251): a call from [`SYSTEM_ADDRESS`] with
/// [`SYSTEM_CALL_GAS`], no fee and no nonce change, made before or after a block's transactions.
/// The protocol's rules around it are [`execute::system_call`]'s; a client only executes it.
#[derive(Clone, Copy, Debug)]
pub struct SystemCall<'a> {
    /// The block being executed.
    pub block: &'a BlockInput,
    /// The state to call on.
    pub state: &'a Accounts,
    /// The system contract (it has code: [`execute::system_call`] makes no call to one without).
    pub contract: Address,
    /// The call data.
    pub data: &'a [u8],
}

/// What a system call did: as a client reports it from [`Client::system_call`](crate::Client::system_call),
/// or, from [`execute::system_call`], with the protocol's rules applied.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemOutcome {
    /// The state after the call (meaningless when it failed: a failed call changes nothing).
    pub post: Accounts,
    /// The call's return data (the requests of EIP-7002/7251).
    pub output: Bytes,
    /// How the call failed (a revert or a halt), in the client's words; `None` when it succeeded.
    pub failure: Option<String>,
}
