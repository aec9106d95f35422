//! Compiles a [`Blueprint`] into a [`Case`]: bytecode for every contract (assembled by the
//! `asm` submodule: pushes before each instruction, results stored with SSTORE so that every
//! difference reaches the state root, jump targets resolved), a pre-state, a block environment,
//! and a transaction of a type the fork allows (built by the `transaction` submodule).

mod asm;
mod transaction;

pub(crate) use asm::{computing_index, computing_len};
pub(crate) use transaction::follow_transaction;

use super::precompile::{cheap_precompiles, precompile_address, precompiles};
use super::program::{Blueprint, Contract, Leaf, MAX_CONTRACTS, Piece, Target, Value};
use super::vectors::{self, BOUNDARIES};
use alloy_primitives::{Address, B256, Bytes, U256};
use asm::{Asm, COMPUTING};
use revm_bytecode::opcode::{BALANCE, CODECOPY, EXTCODEHASH, EXTCODESIZE, MSTORE8, PUSH1, PUSH2, RETURN, REVERT, STOP};
use schism_interface::case::default_blob_params;
use schism_interface::fixture::{Account, Accounts, Env, Indexes};
use schism_interface::{Case, Fork};
use std::sync::{Arc, LazyLock};

/// The storage slot a generated contract folds its results into (walks use slots 0..8).
pub(crate) const RESULT_SLOT: u64 = 0x100;
/// The chain id of generated cases.
const CHAIN_ID: u64 = 1;
/// The block's base fee (London on) for each `env` choice.
const BASE_FEES: [u64; 4] = [7, 7, 1, 1000];

/// What a compilation needs to know about a fork, built once per fork (it was most of a
/// small case's compilation when built per case).
struct ForkTables {
    precompiles: Vec<u16>,
    /// The fork's precompiles without the [`EXPENSIVE`](super::precompile::EXPENSIVE) ones, the favoured ones twice
    /// ([`cheap_precompiles`]).
    cheap: Vec<u16>,
    /// The fork's computing instructions: opcode and number of inputs.
    computing: Vec<(u8, usize)>,
}

impl ForkTables {
    /// The tables of `fork`.
    fn of(fork: Fork) -> &'static ForkTables {
        static TABLES: LazyLock<Vec<(Fork, ForkTables)>> = LazyLock::new(|| {
            Fork::ALL
                .iter()
                .map(|&fork| {
                    let computing = COMPUTING.iter().filter(|(_, _, f)| fork >= *f).map(|(op, inputs, _)| (*op, *inputs)).collect();
                    (fork, ForkTables { precompiles: precompiles(fork), cheap: cheap_precompiles(fork), computing })
                })
                .collect()
        });
        let i = TABLES.iter().position(|(f, _)| *f == fork).unwrap_or(TABLES.len() - 1);
        &TABLES[i].1
    }
}

/// Everything a compilation needs to know about the case being built.
struct Ctx {
    fork: Fork,
    contracts: usize,
    precompiles: &'static [u16],
    /// The fork's precompiles without the [`EXPENSIVE`](super::precompile::EXPENSIVE) ones, the favoured ones twice
    /// ([`cheap_precompiles`]).
    cheap: &'static [u16],
    /// The fork's computing instructions: opcode and number of inputs.
    computing: &'static [(u8, usize)],
    /// How many blobs the transaction carries (0 for any other kind): where BLOBHASH's
    /// indices stop being in range.
    blobs: u64,
}

impl Ctx {
    /// What compiling for `fork` with `contracts` contracts needs.
    fn new(fork: Fork, contracts: usize) -> Ctx {
        let tables = ForkTables::of(fork);
        Ctx {
            fork,
            contracts: contracts.max(1),
            precompiles: &tables.precompiles,
            cheap: &tables.cheap,
            computing: &tables.computing,
            blobs: 0,
        }
    }

    /// The precompile a generated index names: one index in eight (the multiples of 8) picks
    /// among all of the fork's precompiles, the others among the cheap ones, numbered apart
    /// from the multiples so that every cheap one is picked. (Indexing the cheap ones by `i`
    /// itself never picked those at positions divisible by 8 when there were 8 or 16 of them:
    /// ECRECOVER from Byzantium to Cancun, and G1ADD too in Prague and Osaka.)
    fn precompile(&self, i: u8) -> u16 {
        if i.is_multiple_of(8) {
            return self.precompiles[usize::from(i / 8) % self.precompiles.len()];
        }
        let j = usize::from(i) - usize::from(i / 8) - 1;
        self.cheap[j % self.cheap.len()]
    }

    /// The address a target names; `None` for one known only at run time (the executing
    /// contract itself, the last created).
    fn address(&self, target: Target) -> Option<Address> {
        Some(match target {
            Target::Contract(i) => vectors::contract_address(usize::from(i) % self.contracts),
            Target::Precompile(i) => precompile_address(self.precompile(i)),
            Target::Sender => vectors::SENDER,
            Target::Coinbase => vectors::COINBASE,
            Target::Empty(i) => vectors::empty_address(i % 4),
            Target::Authority(i) => vectors::authorities()[usize::from(i) % 3],
            Target::System(i) => vectors::SYSTEM_CONTRACTS[usize::from(i) % vectors::SYSTEM_CONTRACTS.len()],
            Target::Bare(i) => vectors::bare_address(i),
            Target::This | Target::Created => return None,
        })
    }

    /// The word a generated value names.
    fn value(&self, value: Value) -> U256 {
        match value {
            Value::Boundary(i) => BOUNDARIES[usize::from(i) % BOUNDARIES.len()],
            Value::Near(i, d) => {
                let base = BOUNDARIES[usize::from(i) % BOUNDARIES.len()];
                if d >= 0 { base.wrapping_add(U256::from(d)) } else { base.wrapping_sub(U256::from(d.unsigned_abs())) }
            }
            Value::Small(v) => U256::from(v),
            Value::Word(w) => U256::from_be_bytes(w),
            Value::Address(t) => self.address(t).map_or(U256::ZERO, |a| U256::from_be_slice(a.as_slice())),
        }
    }
}

/// Init code: the constructor's leaves, then the ending (normally returning `runtime`).
fn init_code(ctx: &Ctx, init: &[Leaf], runtime: &[Leaf], ending: u8) -> Vec<u8> {
    let mut body = Asm::new(ctx);
    body.opening();
    for leaf in runtime {
        body.leaf(leaf);
    }
    body.op(STOP);
    let runtime = body;
    let mut asm = Asm::new(ctx);
    for leaf in init {
        asm.leaf(leaf);
    }
    match ending % 6 {
        3 if ctx.fork >= Fork::Byzantium => {
            asm.push_u64(0).push_u64(0).op(REVERT);
        }
        4 => {
            // Code starting with 0xef, rejected by EIP-3541 (London on).
            asm.push_u64(0xef).push_u64(0).op(MSTORE8).push_u64(1).push_u64(0).op(RETURN);
        }
        5 => {
            // One byte over EIP-170's code size limit.
            asm.push_u64(0x6001).push_u64(0).op(RETURN);
        }
        _ => {
            // PUSH2 len PUSH2 offset PUSH1 0 CODECOPY PUSH2 len PUSH1 0 RETURN, 15 bytes.
            let offset = asm.code.len() + 15;
            let len = u16::try_from(runtime.code.len()).unwrap_or(u16::MAX).to_be_bytes();
            let off = u16::try_from(offset).unwrap_or(u16::MAX).to_be_bytes();
            asm.code.extend([PUSH2, len[0], len[1], PUSH2, off[0], off[1], PUSH1, 0, CODECOPY, PUSH2, len[0], len[1], PUSH1, 0, RETURN]);
            asm.code.extend_from_slice(&runtime.code);
        }
    }
    asm.finish()
}

/// The fork a blueprint selects among `candidates` (sorted oldest first): the newest usually.
pub fn choose_fork(choice: u8, candidates: &[Fork]) -> Option<Fork> {
    let newest = *candidates.last()?;
    Some(if choice < 128 { newest } else { candidates[usize::from(choice) % candidates.len()] })
}

/// A contract's runtime code: its opening, then its program's pieces in order.
fn contract_code(ctx: &Ctx, contract: &Contract) -> Vec<u8> {
    let mut asm = Asm::new(ctx);
    asm.opening();
    for piece in &contract.program {
        asm.piece(piece);
    }
    asm.finish()
}

/// Builds the case a blueprint describes, under `fork`.
pub fn compile(blueprint: &Blueprint, fork: Fork) -> Case {
    let mut ctx = Ctx::new(fork, blueprint.contracts.len());
    ctx.blobs = transaction::blob_count(&blueprint.tx, fork) as u64;
    let mut pre = Accounts::new();
    let sender_balance = U256::from(10u128.pow(24));
    let sender_nonce = 1u64;
    pre.insert(vectors::SENDER, Account { balance: sender_balance, nonce: sender_nonce, ..Default::default() });
    for (i, contract) in blueprint.contracts.iter().enumerate() {
        let mut storage: std::collections::BTreeMap<U256, U256> =
            contract.storage.iter().map(|(slot, value)| (U256::from(slot % 8), ctx.value(*value))).filter(|(_, v)| !v.is_zero()).collect();
        // The fold slots start non-zero: their first write costs 2,900 gas, not 20,000 (which
        // left many cases out of gas before their first result, reverting all of them).
        for slot in [RESULT_SLOT, asm::FOLD_SLOT] {
            storage.insert(U256::from(slot), U256::from(1));
        }
        let balance = ctx.value(contract.balance) % U256::from(10u128.pow(20));
        pre.insert(
            vectors::contract_address(i),
            Account { balance, code: Bytes::from(contract_code(&ctx, contract)), nonce: u64::from(contract.nonce % 4).max(1), storage },
        );
    }
    for (i, authority) in vectors::authorities().iter().enumerate() {
        let mut account = Account { balance: U256::from(10u128.pow(18)), nonce: i as u64, ..Default::default() };
        if i == 2 && fork >= Fork::Prague {
            // An authority already delegating, to exercise re-delegation and clearing.
            let mut code = vec![0xef, 0x01, 0x00];
            code.extend_from_slice(vectors::contract_address(0).as_slice());
            account.code = Bytes::from(code);
        }
        pre.insert(*authority, account);
    }
    // Accounts with only a balance, only a nonce and (in a quarter of the cases, as a client's
    // known difference may cover such a pre-state) only storage: each field's emptiness rules
    // (EIP-161, EIP-7610) apart.
    pre.insert(vectors::bare_address(0), Account { balance: U256::from(1), ..Default::default() });
    pre.insert(vectors::bare_address(1), Account { nonce: 1, ..Default::default() });
    if blueprint.env & 0b1100 == 0b1100 {
        let storage = [(U256::from(1), U256::from(1))].into_iter().collect();
        pre.insert(vectors::bare_address(2), Account { storage, ..Default::default() });
    }
    let env = environment(blueprint.env, fork);
    let tx = transaction::transaction(blueprint, &blueprint.tx, &ctx, &pre, &env);
    if let Some(i) = re_delegated_to(&tx)
        && let (Some(contract), Some(account)) = (blueprint.contracts.get(i), pre.get_mut(&vectors::contract_address(i)))
    {
        account.code = Bytes::from(contract_code(&ctx, &touching_contract_0(&ctx, contract, blueprint.tx.nonce)));
    }
    // Shared, not allocated per case.
    static FILE: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("fuzz"));
    static TEST: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("generated"));
    Case {
        file: FILE.clone(),
        test: TEST.clone(),
        fork,
        index: Indexes::default(),
        env: Arc::new(env),
        pre: Arc::new(pre),
        tx,
        chain_id: CHAIN_ID,
        blob_params: default_blob_params(fork),
        expected: None,
        block_hashes: None,
    }
}

/// The contract a set-code transaction re-delegates the account it calls to, away from
/// contract 0, the delegate the pre-state gives that authority (Prague on): the transaction
/// then runs that contract's code.
fn re_delegated_to(tx: &schism_interface::Transaction) -> Option<usize> {
    let authority = vectors::authorities()[2];
    if tx.to != Some(authority) {
        return None;
    }
    let last = tx.authorization_list.iter().rev().find(|a| a.signer == Some(authority))?;
    (1..MAX_CONTRACTS).find(|i| vectors::contract_address(*i) == last.address)
}

/// `contract` first touching contract 0 (BALANCE, EXTCODESIZE or EXTCODEHASH, by `pick`): run
/// as the new delegate of an account that delegated to contract 0, it meets the old delegate,
/// which the transaction has not accessed, so cold (ethereum-execution 1.17.0 had it warm:
/// it resolved the delegation before applying the transaction's authorizations).
fn touching_contract_0(ctx: &Ctx, contract: &Contract, pick: u8) -> Contract {
    let opcode = [BALANCE, EXTCODESIZE, EXTCODEHASH][usize::from(pick % 3)];
    // The index into the fork's own table, which `Leaf::Op` picks from.
    let op = ctx.computing.iter().position(|(o, _)| *o == opcode).and_then(|i| u8::try_from(i).ok()).unwrap_or(0);
    let touch = Leaf::Op { op, args: [Value::Address(Target::Contract(0)); 3] };
    let mut touching = contract.clone();
    touching.program.insert(0, Piece::Leaf(touch));
    touching
}

/// The block environment an `env` choice selects, with the fields `fork` has.
fn environment(choice: u8, fork: Fork) -> Env {
    Env {
        current_coinbase: vectors::COINBASE,
        current_difficulty: if fork >= Fork::Paris { U256::ZERO } else { U256::from(0x20000) },
        current_gas_limit: 36_000_000,
        current_number: 1 + u64::from(choice >> 4),
        current_timestamp: 1000,
        current_base_fee: (fork >= Fork::London).then(|| BASE_FEES[usize::from(choice % 4)]),
        current_random: (fork >= Fork::Paris).then(|| B256::with_last_byte(0x42)),
        current_excess_blob_gas: (fork >= Fork::Cancun).then_some(0),
        previous_hash: None,
        parent_beacon_block_root: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "revm")]
    use crate::fuzz::program::{CallKind, Gas, Input, Piece};

    /// Feeds everything compilation decides into a hasher: fields in a fixed order, each
    /// length-prefixed where it varies, so that two different cases never feed the same bytes.
    mod digest {
        use alloy_primitives::{Address, B256, Keccak256, U256};
        use schism_interface::fixture::{Accounts, Env};
        use schism_interface::{Transaction, TxValue};

        pub fn bytes(h: &mut Keccak256, b: &[u8]) {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }

        pub fn word(h: &mut Keccak256, v: U256) {
            h.update(v.to_be_bytes::<32>());
        }

        pub fn number(h: &mut Keccak256, v: u64) {
            h.update(v.to_be_bytes());
        }

        fn option<T: Copy>(h: &mut Keccak256, v: Option<T>, f: fn(&mut Keccak256, T)) {
            match v {
                None => h.update([0]),
                Some(v) => {
                    h.update([1]);
                    f(h, v);
                }
            }
        }

        fn address(h: &mut Keccak256, a: Address) {
            h.update(a);
        }

        fn hash(h: &mut Keccak256, b: B256) {
            h.update(b);
        }

        pub fn accounts(h: &mut Keccak256, pre: &Accounts) {
            number(h, pre.len() as u64);
            for (a, account) in pre {
                address(h, *a);
                word(h, account.balance);
                number(h, account.nonce);
                bytes(h, &account.code);
                number(h, account.storage.len() as u64);
                for (slot, value) in &account.storage {
                    word(h, *slot);
                    word(h, *value);
                }
            }
        }

        pub fn env(h: &mut Keccak256, env: &Env) {
            address(h, env.current_coinbase);
            word(h, env.current_difficulty);
            number(h, env.current_gas_limit);
            number(h, env.current_number);
            number(h, env.current_timestamp);
            option(h, env.current_base_fee, number);
            option(h, env.current_random, hash);
            option(h, env.current_excess_blob_gas, number);
            option(h, env.previous_hash, hash);
            option(h, env.parent_beacon_block_root, hash);
        }

        pub fn transaction(h: &mut Keccak256, tx: &Transaction) {
            h.update([tx.kind as u8]);
            number(h, tx.nonce);
            number(h, tx.gas_limit);
            option(h, tx.to, address);
            match &tx.value {
                TxValue::Value(v) => {
                    h.update([0]);
                    word(h, *v);
                }
                TxValue::Oversized(b) => {
                    h.update([1]);
                    bytes(h, b);
                }
            }
            bytes(h, &tx.data);
            option(h, tx.gas_price, word);
            option(h, tx.max_fee_per_gas, word);
            option(h, tx.max_priority_fee_per_gas, word);
            number(h, tx.access_list.len() as u64);
            for item in &tx.access_list {
                address(h, item.address);
                number(h, item.storage_keys.len() as u64);
                for key in &item.storage_keys {
                    hash(h, *key);
                }
            }
            option(h, tx.max_fee_per_blob_gas, word);
            number(h, tx.blob_versioned_hashes.len() as u64);
            for v in &tx.blob_versioned_hashes {
                hash(h, *v);
            }
            number(h, tx.authorization_list.len() as u64);
            for a in &tx.authorization_list {
                word(h, a.chain_id);
                address(h, a.address);
                number(h, a.nonce);
                option(h, a.v, word);
                option(h, a.y_parity, word);
                word(h, a.r);
                word(h, a.s);
                option(h, a.signer, address);
            }
            hash(h, tx.secret_key);
            address(h, tx.sender);
        }
    }

    /// xorshift64 from `state`: the same stream on every platform, with no dependency to drift.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Compiling is deterministic and stays byte-identical through refactors: a few thousand
    /// pseudo-random blueprints, each compiled under every fork (and, with later transactions,
    /// as a block sequence under the fork it selects), hash to a digest recorded once. A change
    /// that alters generated cases on purpose records the new digest here and says so.
    #[test]
    fn compiled_cases_match_the_recorded_digest() {
        use crate::fuzz::sequence::compile_sequence;
        let mut next = xorshift(0x5c15_a0f1_2345_6789u64);
        let mut h = alloy_primitives::Keccak256::new();
        let (mut cases, mut sequences) = (0u64, 0u64);
        for _ in 0..2000 {
            let len = 32 + (next() % 2048) as usize;
            let data: Vec<u8> = (0..len.div_ceil(8)).flat_map(|_| next().to_le_bytes()).take(len).collect();
            let blueprint = Blueprint::from_bytes(&data);
            for fork in Fork::ALL {
                let case = compile(&blueprint, fork);
                digest::number(&mut h, case.chain_id);
                digest::env(&mut h, &case.env);
                digest::accounts(&mut h, &case.pre);
                digest::transaction(&mut h, &case.tx);
                cases += 1;
            }
            if !blueprint.follow.is_empty() {
                let fork = choose_fork(blueprint.fork, &Fork::ALL).unwrap_or(Fork::Osaka);
                let seq = compile_sequence(&blueprint, fork);
                digest::accounts(&mut h, &seq.pre);
                for stx in seq.blocks.iter().flat_map(|b| &b.txs) {
                    digest::transaction(&mut h, &stx.tx);
                    digest::bytes(&mut h, stx.raw.as_ref().map_or(&[][..], |r| &r[..]));
                }
                sequences += 1;
            }
        }
        let digest = h.finalize();
        println!("{cases} cases, {sequences} sequences: {digest}");
        assert!(sequences > 100, "too few sequences ({sequences}) to cover later transactions");
        assert_eq!(digest, alloy_primitives::b256!("0xc38fd38f7f69780457c545a4f3c1663f04d9ae276cf165a2543601f53f8b7734"));
    }

    /// Healthy revm and the canary `mutant` disagree on the case `blueprint` compiles to under
    /// `fork`: the generator's forms reach that edge and the post-state shows it.
    #[cfg(feature = "revm")]
    fn shows(mutant: schism_revm::Mutant, blueprint: &Blueprint, fork: Fork) -> bool {
        use schism_interface::{Client, TraceMode};
        let case = compile(blueprint, fork);
        let a = schism_revm::Revm::new().execute(&case, TraceMode::Off).expect("executes");
        let b = schism_revm::MutantRevm::new(mutant).execute(&case, TraceMode::Off).expect("executes");
        a.post_state != b.post_state
    }

    /// A blueprint whose contracts run `programs` (the first is the transaction's target).
    #[cfg(feature = "revm")]
    fn with_programs(programs: Vec<Vec<Piece>>) -> Blueprint {
        let mut blueprint = Blueprint::default();
        blueprint.tx.gas = 7;
        blueprint.contracts =
            programs.into_iter().map(|program| Contract { balance: Value::Small(0), nonce: 1, storage: vec![], program }).collect();
        blueprint
    }

    /// A call of `kind` to the second generated contract, with the conventional layout.
    #[cfg(feature = "revm")]
    fn call_second(kind: CallKind) -> Piece {
        Piece::Leaf(Leaf::Call {
            kind,
            target: Target::Contract(1),
            gas: Gas::All,
            value: Value::Small(0),
            input: Input::Empty,
            memory: None,
        })
    }

    /// The transaction's own frame stops rather than run out of gas recording a result: of
    /// random programs, almost none end out of gas at a result's SLOAD or SSTORE (a fifth did
    /// before [`asm::STARVED`]), and the many that would have stop with their results stored.
    #[cfg(feature = "revm")]
    #[test]
    fn the_top_frame_stops_before_it_starves_recording_a_result() {
        use revm_bytecode::opcode::{SLOAD, SSTORE};
        use schism_interface::{Client, ErrorClass, TraceMode};
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let (mut starved, mut stopped_low, n) = (0, 0, 1000);
        for _ in 0..n {
            let len = 32 + (next() % 2048) as usize;
            let data: Vec<u8> = (0..len.div_ceil(8)).flat_map(|_| next().to_le_bytes()).take(len).collect();
            let blueprint = Blueprint::from_bytes(&data);
            let case = compile(&blueprint, choose_fork(blueprint.fork, &Fork::ALL).unwrap_or(Fork::Osaka));
            let Ok(outcome) = schism_revm::Revm::new().execute(&case, TraceMode::Steps) else { continue };
            let trace = outcome.trace.unwrap_or_default();
            let last = trace.iter().rev().find(|s| s.depth == 1);
            match (outcome.error, last) {
                (Some(ErrorClass::OutOfGas), Some(step)) if matches!(step.op, SLOAD | SSTORE) => starved += 1,
                (None, Some(step)) if step.op == STOP && step.gas < asm::STARVED => stopped_low += 1,
                _ => {}
            }
        }
        assert!(starved < n / 50, "{starved} of {n} ran out of gas recording a result");
        assert!(stopped_low > n / 10, "only {stopped_low} of {n} stopped starved");
    }

    /// Every precompile of every fork is picked by some index, each cheap one at least
    /// `224 / cheap` times.
    #[test]
    fn every_cheap_precompile_is_picked() {
        for fork in Fork::ALL {
            let ctx = Ctx::new(fork, 1);
            let mut counts = std::collections::BTreeMap::<u16, usize>::new();
            for i in 0..=255u8 {
                *counts.entry(ctx.precompile(i)).or_default() += 1;
            }
            for p in precompiles(fork) {
                let n = counts.get(&p).copied().unwrap_or(0);
                let floor = if ctx.cheap.contains(&p) { 224 / ctx.cheap.len() } else { 1 };
                assert!(n >= floor, "{fork}: precompile {p:#x} picked by {n} indices of 256");
            }
        }
    }

    /// A frame's opening records a non-zero CALLVALUE, so a DELEGATECALL that drops its
    /// caller's value shows (and a zero value records nothing).
    #[cfg(feature = "revm")]
    #[test]
    fn a_frame_records_the_value_it_was_called_with() {
        let mut blueprint = with_programs(vec![vec![call_second(CallKind::DelegateCall)], vec![]]);
        blueprint.tx.value = Value::Small(5);
        assert!(shows(schism_revm::Mutant::DelegatecallValue, &blueprint, Fork::Cancun));
        blueprint.tx.value = Value::Small(0);
        assert!(!shows(schism_revm::Mutant::DelegatecallValue, &blueprint, Fork::Cancun));
    }

    /// A transient walk reads its slots before writing them, so a slot another contract wrote
    /// shows a TLOAD keyed by slot only.
    #[cfg(feature = "revm")]
    #[test]
    fn a_transient_walk_reads_what_another_contract_left() {
        let walk = |value| Piece::Leaf(Leaf::Storage { transient: true, walk: vec![(3, Value::Small(value))] });
        let blueprint = with_programs(vec![vec![walk(7), call_second(CallKind::Call)], vec![walk(9)]]);
        assert!(shows(schism_revm::Mutant::TloadSlotOnly, &blueprint, Fork::Cancun));
    }

    /// The one-operand rows of the boundary combinations reach CLZ of zero.
    #[cfg(feature = "revm")]
    #[test]
    fn the_unary_combinations_reach_clz_of_zero() {
        use crate::fuzz::vectors::{COMBINATIONS, at};
        use revm_bytecode::opcode::CLZ;
        let (_, operands) = COMBINATIONS.iter().find(|(ops, a)| ops.contains(&CLZ) && a[0] == at::ZERO).expect("a CLZ row on zero");
        let op = asm::computing_index(CLZ).expect("CLZ computes");
        let blueprint = with_programs(vec![vec![Piece::Leaf(Leaf::Op { op, args: operands.map(Value::Boundary) })]]);
        assert!(shows(schism_revm::Mutant::ClzZero, &blueprint, Fork::Osaka));
    }

    /// A BYTE row with an index of 2^64 on a word whose top byte is set: a client that reads
    /// the index as a machine word (wrapping it to 0) gives that top byte instead of 0.
    #[cfg(feature = "revm")]
    #[test]
    fn the_index_rows_tell_a_wrapped_byte_index_apart() {
        use crate::fuzz::vectors::{COMBINATIONS, at};
        use revm_bytecode::opcode::BYTE;
        let op = asm::computing_index(BYTE).expect("BYTE computes");
        let shown = COMBINATIONS.iter().filter(|(ops, a)| ops.contains(&BYTE) && a[0] == at::P64).any(|(_, operands)| {
            shows(
                schism_revm::Mutant::ByteIndex,
                &with_programs(vec![vec![Piece::Leaf(Leaf::Op { op, args: operands.map(Value::Boundary) })]]),
                Fork::Osaka,
            )
        });
        assert!(shown, "no BYTE row at 2^64 shows the wrapped index");
    }

    /// BLOBHASH's indices are drawn around the transaction's blob count too: an odd small
    /// value names the last blob, the count or one past it, so the index equal to the count
    /// (the first out of range) is one draw in six.
    #[cfg(feature = "revm")]
    #[test]
    fn blobhash_indices_reach_the_blob_count() {
        use revm_bytecode::opcode::BLOBHASH;
        let op = asm::computing_index(BLOBHASH).expect("BLOBHASH computes");
        let blobhash = |v| Piece::Leaf(Leaf::Op { op, args: [Value::Small(v), Value::Small(0), Value::Small(0)] });
        let mut blueprint = with_programs(vec![vec![blobhash(3)]]);
        // Osaka's kinds: legacy, access list, EIP-1559, blob, set-code.
        blueprint.tx.kind = 3;
        for blobs in 1..=6u8 {
            blueprint.tx.blobs = blobs;
            assert_eq!(compile(&blueprint, Fork::Osaka).tx.blob_versioned_hashes.len(), usize::from(blobs));
            assert!(shows(schism_revm::Mutant::BlobhashIndex, &blueprint, Fork::Osaka), "{blobs} blobs");
        }
        blueprint.contracts[0].program = vec![blobhash(1)];
        assert!(!shows(schism_revm::Mutant::BlobhashIndex, &blueprint, Fork::Osaka), "the last blob's index is in range");
    }

    /// A set-code transaction that re-delegates the authority it calls from contract 0 to
    /// contract 1 runs contract 1's code, which first touches contract 0, cold on revm (the
    /// transaction never accessed it); without the re-delegation contract 1's code is as
    /// generated.
    #[cfg(feature = "revm")]
    #[test]
    fn the_new_delegate_first_touches_the_old_one() {
        use crate::fuzz::program::Auth;
        use schism_interface::{Client, TraceMode};
        let mut blueprint = with_programs(vec![vec![], vec![]]);
        blueprint.tx.kind = 4;
        blueprint.tx.create = 2;
        blueprint.tx.auths = vec![Auth { authority: 2, target: Target::Contract(1), chain: 1, nonce: 0 }];
        for (pick, opcode) in [(3u8, BALANCE), (1, EXTCODESIZE), (2, EXTCODEHASH)] {
            blueprint.tx.nonce = pick;
            let case = compile(&blueprint, Fork::Prague);
            let outcome = schism_revm::Revm::new().execute(&case, TraceMode::Steps).expect("executes");
            let trace = outcome.trace.expect("a trace");
            let touch = trace.iter().find(|s| s.op == opcode).unwrap_or_else(|| panic!("{opcode:#x} executed"));
            assert_eq!(touch.stack.last(), Some(&U256::from_be_slice(vectors::contract_address(0).as_slice())));
            assert_eq!(touch.gas_cost, 2600, "cold");
        }
        blueprint.tx.auths = vec![Auth { authority: 2, target: Target::Contract(0), chain: 1, nonce: 0 }];
        let case = compile(&blueprint, Fork::Prague);
        assert_eq!(
            case.pre[&vectors::contract_address(1)].code,
            Bytes::from(contract_code(&Ctx::new(Fork::Prague, 2), &blueprint.contracts[1]))
        );
    }

    /// The cost of compiling the single-transaction inputs of `corpus/bench-fuzz` (the part of
    /// the harness's median run that is compilation): nanoseconds per compile, over
    /// `COMPILE_N` rounds. A measurement for `perf record`, not a check.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn compile_cost() {
        let rounds: usize = std::env::var("COMPILE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/bench-fuzz");
        let inputs: Vec<Blueprint> = std::fs::read_dir(&dir)
            .expect("the bench corpus")
            .flatten()
            .filter_map(|e| serde_json::from_slice::<Blueprint>(&std::fs::read(e.path()).ok()?).ok())
            .collect();
        let started = std::time::Instant::now();
        let mut code = 0usize;
        for _ in 0..rounds {
            for b in &inputs {
                let case = compile(b, choose_fork(b.fork, &Fork::ALL).unwrap_or(Fork::Osaka));
                code += case.pre.values().map(|a| a.code.len()).sum::<usize>();
            }
        }
        let each = started.elapsed().as_nanos() as f64 / (rounds * inputs.len()).max(1) as f64;
        println!("{} inputs, {rounds} rounds: {each:.0} ns per compile ({code})", inputs.len());
    }

    /// Reach rates, a measurement for generator changes (deterministic, a minute;
    /// `REACH_FORK=Istanbul` compiles every blueprint for that fork, `REACH_MUTANT=NAME` counts
    /// one canary only):
    /// `REACH_N=3000 cargo test -p schism-engine --features revm --release --lib reach_rates -- --ignored --nocapture`.
    /// For every single-transaction canary, how many of `REACH_N` random blueprints (no
    /// feedback, no mutation) compile to a case that tells it apart from healthy revm; before
    /// that, how the healthy runs ended (by error and share of the gas limit used) and, for
    /// those out of gas, the top frame's last instruction and the gas it had left.
    #[cfg(feature = "revm")]
    #[test]
    #[ignore = "a measurement, not a check"]
    fn reach_rates() {
        use schism_interface::{Client, ErrorClass, TraceMode};
        use std::collections::BTreeMap;
        let n: usize = std::env::var("REACH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
        let forced: Option<Fork> = std::env::var("REACH_FORK").ok().map(|f| f.parse().expect("a fork name"));
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let cases: Vec<_> = (0..n)
            .map(|_| {
                let len = 32 + (next() % 2048) as usize;
                let data: Vec<u8> = (0..len.div_ceil(8)).flat_map(|_| next().to_le_bytes()).take(len).collect();
                let blueprint = Blueprint::from_bytes(&data);
                compile(&blueprint, forced.unwrap_or_else(|| choose_fork(blueprint.fork, &Fork::ALL).unwrap_or(Fork::Osaka)))
            })
            .collect();
        let started = std::time::Instant::now();
        let healthy: Vec<_> = cases.iter().map(|c| schism_revm::Revm::new().execute(c, TraceMode::Off).ok()).collect();
        let gas: u64 = healthy.iter().flatten().filter_map(|o| o.gas_used).sum();
        println!("healthy revm: {:?} for {n} cases, {} gas used per case", started.elapsed(), gas / n.max(1) as u64);
        let mut endings = BTreeMap::<String, usize>::new();
        let mut starved = BTreeMap::<&str, (usize, u64)>::new();
        for (o, c) in healthy.iter().zip(&cases) {
            let key = o.as_ref().map_or("client error".into(), |o| {
                format!("{:?}, {}0% of the gas", o.error, o.gas_used.unwrap_or(0) * 10 / c.tx.gas_limit.max(1))
            });
            *endings.entry(key).or_default() += 1;
            if o.as_ref().is_some_and(|o| o.error == Some(ErrorClass::OutOfGas)) {
                let trace = schism_revm::Revm::new().execute(c, TraceMode::Steps).ok().and_then(|o| o.trace).unwrap_or_default();
                if let Some(last) = trace.iter().rev().find(|s| s.depth == 1) {
                    let e = starved.entry(revm_bytecode::opcode::OpCode::new(last.op).map_or("?", |o| o.as_str())).or_default();
                    *e = (e.0 + 1, e.1 + last.gas);
                }
            }
        }
        println!("{endings:#?}");
        for (op, (count, gas)) in &starved {
            println!("out of gas at the top frame's {op}: {count}, {} gas left on average", gas / *count as u64);
        }
        let (mut total, mut reached) = (0, 0);
        let only = std::env::var("REACH_MUTANT").ok();
        for mutant in schism_revm::Mutant::ALL.into_iter().filter(|m| !m.block_level() && only.as_deref().is_none_or(|o| o == m.name())) {
            let client = schism_revm::MutantRevm::new(mutant);
            let hits = cases
                .iter()
                .zip(&healthy)
                .filter_map(|(case, healthy)| Some((case, healthy.as_ref()?)))
                .filter(|(case, healthy)| {
                    client.execute(case, TraceMode::Off).ok().map(|o| o.post_state) != Some(healthy.post_state.clone())
                })
                .count();
            println!("{:<28} {hits:>5} / {n}", mutant.name());
            total += hits;
            reached += usize::from(hits > 0);
        }
        println!("total {total}, {reached} canaries reached");
    }
}
