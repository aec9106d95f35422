//! Block sequences from blueprints: the blueprint's pre-state and first transaction, then its
//! later transactions spread over up to four blocks, each built to depend on what came before
//! (write then read, create then call, selfdestruct then resurrect, 7702 delegation then call,
//! repeat a call), with withdrawals and the fork's system contracts in place.

use super::compile::{compile, follow_transaction};
use super::program::Blueprint;
use super::vectors;
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use schism_interface::fixture::{Account, Accounts};
use schism_interface::sequence::{Header, Schedule, SeqBlock, SeqTx, Sequence, Withdrawal, encode};
use schism_interface::{Fork, TxKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How many dependency strategies there are.
pub const STRATEGIES: u8 = 5;
/// Most blocks a sequence has.
pub const MAX_BLOCKS: usize = 4;
/// Seconds between generated blocks.
const BLOCK_TIME: u64 = 12;

/// A factory deploying its call data as init code with CREATE2 (salt 0) and storing the new
/// address in slot 0: `CALLDATACOPY(0, 0, CALLDATASIZE); SSTORE(0, CREATE2(0, 0, CALLDATASIZE, 0))`.
pub const FACTORY: Address = address!("0x00000000000000000000000000000000000fac70");
const FACTORY_CODE: &[u8] = &[0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00, 0xf5, 0x60, 0x00, 0x55, 0x00];
/// The least gas a transaction to the factory gets (enough for its CREATE2 of the child).
const FACTORY_GAS: u64 = 100_000;
/// Init code of the factory's child, whose runtime is `CALLER SELFDESTRUCT`.
const CHILD_INIT: &[u8] = &[0x61, 0x33, 0xff, 0x60, 0x00, 0x52, 0x60, 0x02, 0x60, 0x1e, 0xf3];

/// The factory's child address.
pub fn child() -> Address {
    FACTORY.create2(B256::ZERO, keccak256(CHILD_INIT))
}

/// Init code that deploys `code` as is: `CODECOPY` of the tail, `RETURN`. From Cancun it first
/// writes `slot + 1` to transient slots 0 to 7, the slots a transient walk reads before it
/// writes: they must be gone when the creating transaction ends, so a later transaction that
/// calls the new contract reads zeros (@ethereumjs/evm 3.1.0 kept them).
fn deployer(code: &[u8], fork: Fork) -> Bytes {
    let len = code.len().min(0xffff) as u16;
    let [hi, lo] = len.to_be_bytes();
    let mut out = Vec::new();
    if fork >= Fork::Cancun {
        for slot in 0..8u8 {
            // PUSH1 slot + 1, PUSH1 slot, TSTORE.
            out.extend_from_slice(&[0x60, slot + 1, 0x60, slot, 0x5d]);
        }
    }
    let start = out.len() + 14;
    // PUSH2 len, DUP1, PUSH1 start, PUSH1 0, CODECOPY, PUSH1 0, RETURN, then the code.
    out.extend_from_slice(&[0x61, hi, lo, 0x80, 0x60, start as u8, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3]);
    while out.len() < start {
        out.push(0x5b);
    }
    out.extend_from_slice(&code[..usize::from(len)]);
    out.into()
}

/// The system contracts a fork's blocks call, so that system calls run real code.
fn system_contracts(pre: &mut Accounts, fork: Fork) {
    let mut put = |address: Address, code: &Bytes| {
        pre.insert(address, Account { code: code.clone(), nonce: 1, ..Default::default() });
    };
    if fork >= Fork::Cancun {
        put(alloy_eips::eip4788::BEACON_ROOTS_ADDRESS, &alloy_eips::eip4788::BEACON_ROOTS_CODE);
    }
    if fork >= Fork::Prague {
        put(alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS, &alloy_eips::eip2935::HISTORY_STORAGE_CODE);
        put(alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, &alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE);
        put(alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, &alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE);
    }
}

/// The genesis header of a generated sequence on `fork`.
fn genesis(fork: Fork, gas_limit: u64, base_fee: Option<u64>, timestamp: u64) -> Header {
    Header {
        number: 0,
        gas_limit,
        timestamp,
        difficulty: if fork >= Fork::Paris { U256::ZERO } else { U256::from(0x20000) },
        base_fee_per_gas: base_fee,
        withdrawals_root: (fork >= Fork::Shanghai).then(|| encode::withdrawals_root(&[])),
        blob_gas_used: (fork >= Fork::Cancun).then_some(0),
        excess_blob_gas: (fork >= Fork::Cancun).then_some(0),
        parent_beacon_block_root: (fork >= Fork::Cancun).then_some(B256::ZERO),
        requests_hash: (fork >= Fork::Prague).then_some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH),
        ..Header::default()
    }
}

/// A generated block's builder choices.
fn block(fork: Fork, number: u64, parent: &Header, coinbase: Address, contracts: usize) -> SeqBlock {
    SeqBlock {
        header: Header {
            beneficiary: coinbase,
            timestamp: parent.timestamp + BLOCK_TIME * number,
            gas_limit: parent.gas_limit,
            difficulty: parent.difficulty,
            mix_hash: B256::with_last_byte(0x40 + number as u8),
            parent_beacon_block_root: (fork >= Fork::Cancun).then(|| keccak256(number.to_be_bytes())),
            ..Header::default()
        },
        claimed: false,
        txs: Vec::new(),
        withdrawals: (fork >= Fork::Shanghai).then(|| {
            vec![Withdrawal {
                index: number,
                validator_index: number,
                address: vectors::contract_address(number as usize % contracts.max(1)),
                amount: number * 1000,
            }]
        }),
        ommers: Vec::new(),
        rlp: None,
        undecodable: None,
        expect_exception: None,
    }
}

/// The block sequence a blueprint compiles to under `fork`.
pub fn compile_sequence(blueprint: &Blueprint, fork: Fork) -> Sequence {
    let mut case = compile(blueprint, fork);
    // The case's pre-state is its own (nothing else holds it yet): taken, not cloned.
    let mut pre = std::mem::take(Arc::make_mut(&mut case.pre));
    let env = &case.env;
    system_contracts(&mut pre, fork);
    pre.insert(FACTORY, Account { code: Bytes::from_static(FACTORY_CODE), nonce: 1, ..Default::default() });
    let genesis = genesis(fork, env.current_gas_limit, env.current_base_fee, env.current_timestamp - BLOCK_TIME);
    let contracts = blueprint.contracts.len();
    let mut blocks = vec![block(fork, 1, &genesis, env.current_coinbase, contracts)];
    let mut nonce = case.tx.nonce;
    blocks[0].txs.push(SeqTx { tx: case.tx.clone(), raw: None });
    // A first transaction that creates runs a generated program as init code (transient walks
    // included): a "create then call" follower calls what it created, so that a later
    // transaction meets what the creation left (EIP-1153 transient storage must not outlive it:
    // @ethereumjs/evm 3.1.0 kept it). Otherwise the first such follower deploys a copy.
    let mut created: Option<Address> = case.tx.to.is_none().then(|| case.tx.sender.create(case.tx.nonce));
    let mut child_alive = false;
    for follow in &blueprint.follow {
        if follow.new_block && blocks.len() < MAX_BLOCKS {
            let number = blocks.len() as u64 + 1;
            blocks.push(block(fork, number, &genesis, env.current_coinbase, contracts));
        }
        nonce += 1;
        let mut tx = follow_transaction(blueprint, &follow.tx, fork, &pre, env);
        tx.nonce = if follow.tx.nonce.is_multiple_of(32) { nonce + 1 } else { nonce };
        let target = vectors::contract_address(usize::from(follow.target) % contracts.max(1));
        let plain = |tx: &mut schism_interface::Transaction| {
            // Blob and set-code envelopes cannot create; as plain EIP-1559 (or legacy) they can.
            if matches!(tx.kind, TxKind::Blob | TxKind::SetCode) {
                tx.kind = TxKind::Eip1559;
                tx.blob_versioned_hashes.clear();
                tx.max_fee_per_blob_gas = None;
                tx.authorization_list.clear();
            }
        };
        let mut cycle = false;
        match follow.strategy % STRATEGIES {
            // Write then read: the same contracts again, whose storage walks read what the
            // earlier transactions wrote.
            0 => tx.to = Some(target),
            // Create then call: deploy a contract's code (unless the first transaction created
            // one), later call the new address.
            1 => match created {
                Some(address) => tx.to = Some(address),
                None => {
                    plain(&mut tx);
                    tx.to = None;
                    tx.data = deployer(&pre.get(&target).map(|a| a.code.clone()).unwrap_or_default(), fork);
                    created = Some(vectors::SENDER.create(tx.nonce));
                }
            },
            // Selfdestruct then resurrect: the factory creates its child; a later call makes
            // the child selfdestruct; the factory then tries to create it again (with a target
            // that is a multiple of 4, all three at once, below). With an even
            // target the child mines the block it selfdestructs in, so the fees reach it after
            // its SELFDESTRUCT: destroyed with a balance, which a re-creation later in the block
            // must not inherit (geth v1.9.19 carried it over: CVE-2020-26265).
            2 => {
                if child_alive {
                    tx.to = Some(child());
                    tx.data = Bytes::new();
                    child_alive = false;
                    if follow.target.is_multiple_of(2)
                        && let Some(last) = blocks.last_mut()
                    {
                        last.header.beneficiary = child();
                    }
                } else {
                    tx.to = Some(FACTORY);
                    tx.data = Bytes::from_static(CHILD_INIT);
                    // The CREATE2 takes some 74,000 gas: the smallest limit (50,000) always
                    // failed it, and then nothing is resurrected.
                    tx.gas_limit = tx.gas_limit.max(FACTORY_GAS);
                    child_alive = true;
                    cycle = follow.target.is_multiple_of(4);
                }
            }
            // Delegation then call: call an authority an earlier set-code transaction may have
            // delegated (this one keeps its own authorizations when it has them).
            3 => {
                let authority = vectors::authorities()[usize::from(follow.target) % 3];
                if tx.kind != TxKind::SetCode {
                    tx.to = Some(authority);
                }
            }
            // Repeat: the first transaction's target and data again (warm/cold, refunds and
            // counters across transactions).
            _ => {
                tx.to = case.tx.to.or(Some(target));
                tx.data = case.tx.data.clone();
            }
        }
        if let Some(last) = blocks.last_mut() {
            last.txs.push(SeqTx { tx, raw: None });
            // The whole cycle from one follow: the child, just created, selfdestructs as the
            // block's miner and the factory re-creates it, all in this block (as three follows
            // this is a rare coincidence).
            if cycle && let Some(create) = last.txs.last().map(|t| t.tx.clone()) {
                let destroy =
                    schism_interface::Transaction { nonce: create.nonce + 1, to: Some(child()), data: Bytes::new(), ..create.clone() };
                let again = schism_interface::Transaction { nonce: create.nonce + 2, ..create };
                last.header.beneficiary = child();
                last.txs.extend([SeqTx { tx: destroy, raw: None }, SeqTx { tx: again, raw: None }]);
                nonce += 2;
            }
        }
    }
    // Signed once here: every client's chain run needs the transactions root, and signing is
    // the costly part of it.
    for stx in blocks.iter_mut().flat_map(|b| b.txs.iter_mut()) {
        stx.raw = encode::envelope(stx, case.chain_id).ok().map(|e| encode::raw(&e));
    }
    Sequence {
        file: case.file.clone(),
        test: case.test.clone(),
        schedule: Schedule::single(fork),
        chain_id: case.chain_id,
        blob_schedule: BTreeMap::new(),
        pre: Arc::new(pre),
        genesis,
        blocks,
        expected: None,
        unsupported: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::program::Follow;

    #[test]
    fn a_blueprint_with_followers_compiles_to_blocks() {
        let mut blueprint = Blueprint::default();
        let tx = blueprint.tx.clone();
        blueprint.follow = (0..6u8).map(|i| Follow { new_block: i % 2 == 1, strategy: i, target: 1, tx: tx.clone() }).collect();
        let seq = compile_sequence(&blueprint, Fork::Prague);
        assert_eq!(seq.tx_count(), 7);
        assert_eq!(seq.blocks.len(), 4);
        let nonces: Vec<u64> = seq.blocks.iter().flat_map(|b| b.txs.iter().map(|t| t.tx.nonce)).collect();
        assert!(nonces.windows(2).all(|w| w[1] > w[0]), "{nonces:?}");
        assert!(seq.pre.contains_key(&alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS));
        assert!(seq.blocks.iter().flat_map(|b| &b.txs).any(|t| t.tx.to.is_none()), "a creation");
        assert!(seq.blocks.iter().flat_map(|b| &b.txs).any(|t| t.tx.to == Some(FACTORY)));
    }

    #[test]
    fn a_follower_calls_what_a_creating_first_transaction_created() {
        let mut blueprint = Blueprint::default();
        blueprint.tx.create = 0;
        blueprint.tx.kind = 0;
        let tx = blueprint.tx.clone();
        blueprint.follow = vec![Follow { new_block: false, strategy: 1, target: 0, tx }];
        let seq = compile_sequence(&blueprint, Fork::Cancun);
        let txs: Vec<_> = seq.blocks.iter().flat_map(|b| &b.txs).collect();
        assert_eq!(txs.len(), 2);
        assert_eq!(txs[0].tx.to, None, "the first transaction creates");
        assert_eq!(txs[1].tx.to, Some(txs[0].tx.sender.create(txs[0].tx.nonce)), "the follower calls the creation, in the same block");
    }

    #[test]
    fn a_selfdestructing_child_may_mine_its_block() {
        let mut blueprint = Blueprint::default();
        let tx = blueprint.tx.clone();
        // Create, selfdestruct (even target), re-create, all in the first block.
        blueprint.follow = [1u8, 0, 1].iter().map(|&t| Follow { new_block: false, strategy: 2, target: t, tx: tx.clone() }).collect();
        let seq = compile_sequence(&blueprint, Fork::Istanbul);
        assert_eq!(seq.blocks.len(), 1);
        assert_eq!(seq.blocks[0].header.beneficiary, child());
        let txs = &seq.blocks[0].txs[1..];
        assert_eq!(txs.iter().map(|t| t.tx.to).collect::<Vec<_>>(), [Some(FACTORY), Some(child()), Some(FACTORY)]);
        assert!(txs[0].tx.gas_limit >= FACTORY_GAS && txs[2].tx.gas_limit >= FACTORY_GAS, "room for the CREATE2");
        blueprint.follow[1].target = 1;
        assert_ne!(compile_sequence(&blueprint, Fork::Istanbul).blocks[0].header.beneficiary, child(), "an odd target leaves the miner");
        // One follow with a target that is a multiple of 4: the whole cycle, nonces in a row.
        blueprint.follow.truncate(1);
        blueprint.follow[0].target = 4;
        let seq = compile_sequence(&blueprint, Fork::Istanbul);
        assert_eq!(seq.blocks[0].header.beneficiary, child());
        let txs = &seq.blocks[0].txs[1..];
        assert_eq!(txs.iter().map(|t| t.tx.to).collect::<Vec<_>>(), [Some(FACTORY), Some(child()), Some(FACTORY)]);
        assert!(txs.windows(2).all(|w| w[1].tx.nonce == w[0].tx.nonce + 1));
    }

    #[test]
    fn the_deployer_returns_the_code() {
        let code = [0x60, 0x01, 0x60, 0x00, 0x55];
        assert_eq!(&deployer(&code, Fork::Shanghai)[14..], &code);
        assert_eq!(&deployer(&code, Fork::Cancun)[54..], &code);
    }

    /// Run on revm, the deployer creates a contract with the code, before Cancun and from it
    /// (where it writes transient slots first, which the transaction's end clears).
    #[cfg(feature = "revm")]
    #[test]
    fn the_deployer_deploys_the_code_on_revm() {
        use schism_interface::{Client, TraceMode};
        let code = [0x5f, 0x5c, 0x5f, 0x55, 0x00];
        for fork in [Fork::Shanghai, Fork::Cancun, Fork::Prague] {
            let mut blueprint = Blueprint::default();
            blueprint.tx.gas = 7;
            let mut case = compile(&blueprint, fork);
            case.tx.to = None;
            case.tx.data = deployer(&code, fork);
            let created = case.tx.sender.create(case.tx.nonce);
            let outcome = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
            let post = outcome.post_state.expect("a post-state");
            assert_eq!(post.get(&created).map(|a| a.code.as_ref()), Some(&code[..]), "{fork:?}: {:?}", outcome.error);
        }
    }
}
