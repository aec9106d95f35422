//! The shared adapter tests: blocks, system calls and traces, written once and run on every
//! in-process client by [`adapter_test!`] (ripgrep's `rgtest!` runs each test with every
//! backend the same way). A test named `x` becomes `adapters::x::revm`, `adapters::x::levm` and
//! `adapters::x::sputnik`; a client this build lacks, or that does not implement the test's
//! fork, is skipped with a note.

use alloy_primitives::{Address, B256, Bytes, U256, address, b256};
use schism_engine::registry::{ClientOptions, RegistryError, resolve};
use schism_interface::sequence::{
    BEACON_ROOTS_ADDRESS, BlockInput, CONSOLIDATION_REQUEST_ADDRESS, HISTORY_STORAGE_ADDRESS, SYSTEM_ADDRESS, SeqTx,
    WITHDRAWAL_REQUEST_ADDRESS,
};
use schism_interface::{Account, Accounts, Client, ClientError, Env, Fork, TraceMode, Transaction, TxKind, TxValue};
use std::sync::Arc;

/// Defines `mod $name` with one `#[test]` per in-process client, each running `$body` with
/// `$client` bound to that client (`&dyn Client`) when it exists in this build and implements
/// `$fork`.
macro_rules! adapter_test {
    ($name:ident, $fork:expr, |$client:ident| $body:block) => {
        adapter_test!(@each $name, $fork, |$client| $body, revm, levm, sputnik);
    };
    (@each $name:ident, $fork:expr, |$client:ident| $body:block, $($id:ident),+) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $id() {
                    with_client(stringify!($id), $fork, |$client: &dyn Client| $body);
                }
            )+
        }
    };
}

/// Runs `test` on the client `id`, or says why it is skipped.
fn with_client(id: &str, fork: Fork, test: impl FnOnce(&dyn Client)) {
    let client = match resolve(&[id.to_owned()], &ClientOptions::default()) {
        Ok(mut clients) => clients.remove(0),
        Err(RegistryError::NotBuilt { .. }) => {
            eprintln!("skipped: this build lacks {id}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    if !client.supports(fork) {
        eprintln!("skipped: {id} does not implement {fork}");
        return;
    }
    if let Some(reason) = client.block_skip(fork) {
        eprintln!("skipped: {id} cannot execute {fork} blocks: {reason}");
        return;
    }
    test(client.as_ref());
}

/// EIP-4788's beacon roots contract as deployed (from the Cancun blockchain fixtures).
const BEACON_ROOTS_CODE: &str = "0x3373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff42064281555f359062001fff015500";
/// EIP-2935's history storage contract as deployed: from the system address it stores the call
/// data (the parent hash) at slot `(number - 1) % 8191`.
const HISTORY_STORAGE_CODE: &str = "0x3373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f35600143038111604257611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500";
/// Without call data it stores 7 at slot 0; with any, it stores slot 0 plus one at slot 1.
const STORE_THEN_READ: &str = "0x36600a576007600055005b60005460010160015500";
/// Stores 1 at slot 0, then reverts.
const STORE_THEN_REVERT: &str = "0x60016000555f5ffd";
/// Reverts at once.
const REVERT: &str = "0x5f5ffd";
const SECRET: B256 = b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
const CONTRACT: Address = address!("000000000000000000000000000000000000c0de");
const EMPTY: Address = address!("00000000000000000000000000000000000e3e3e");
const STOPPER: Address = address!("00000000000000000000000000000000000e3e3f");
const COINBASE: Address = address!("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba");
/// Past one turn of the beacon roots ring buffer (8191 slots).
const TIMESTAMP: u64 = 100_000;
/// Past one turn of the history ring buffer (8191 slots).
const NUMBER: u64 = 10_000;
const PARENT_HASH: B256 = B256::repeat_byte(0x11);
const BEACON_ROOT: B256 = B256::repeat_byte(0xbe);

fn account(code: &str, balance: u64) -> Account {
    Account { balance: U256::from(balance), code: code.parse().expect("hex"), nonce: u64::from(code != "0x"), storage: Default::default() }
}

fn sender() -> Address {
    schism_interface::case::address_of_key(&SECRET).expect("a valid key")
}

/// A block of `fork` over `pre`, number [`NUMBER`] at [`TIMESTAMP`], with a parent hash and a
/// parent beacon root; the base fee is 10 wei.
fn block(fork: Fork, pre: Accounts, txs: Vec<SeqTx>) -> BlockInput {
    BlockInput {
        fork,
        chain_id: 1,
        blob_params: schism_interface::case::default_blob_params(fork),
        pre: Arc::new(pre),
        env: Arc::new(Env {
            current_coinbase: COINBASE,
            current_difficulty: U256::ZERO,
            current_gas_limit: 30_000_000,
            current_number: NUMBER,
            current_timestamp: TIMESTAMP,
            current_base_fee: Some(10),
            current_random: Some(B256::ZERO),
            current_excess_blob_gas: Some(0),
            previous_hash: Some(PARENT_HASH),
            parent_beacon_block_root: Some(BEACON_ROOT),
        }),
        block_hashes: Arc::new([(NUMBER - 1, PARENT_HASH)].into()),
        txs,
        withdrawals: Some(Vec::new()),
        ommers: Vec::new(),
    }
}

/// A legacy call from the usual sender, priced at 20 wei (the base fee is 10).
fn call(nonce: u64, to: Address, data: &[u8]) -> SeqTx {
    let tx = Transaction {
        kind: TxKind::Legacy,
        nonce,
        gas_limit: 100_000,
        to: Some(to),
        value: TxValue::Value(U256::ZERO),
        data: data.to_vec().into(),
        gas_price: Some(U256::from(20)),
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        access_list: Default::default(),
        max_fee_per_blob_gas: None,
        blob_versioned_hashes: Vec::new(),
        authorization_list: Vec::new(),
        secret_key: SECRET,
        sender: sender(),
    };
    SeqTx { tx, raw: None }
}

adapter_test!(the_beacon_root_is_stored_in_its_ring_buffer, Fork::Cancun, |client| {
    let pre: Accounts = [(BEACON_ROOTS_ADDRESS, account(BEACON_ROOTS_CODE, 0))].into();
    let out = client.execute_block(&block(Fork::Cancun, pre, Vec::new()), TraceMode::Off).expect("executes");
    let storage = &out.post[&BEACON_ROOTS_ADDRESS].storage;
    let slot = U256::from(TIMESTAMP % 8191);
    assert_eq!(storage.get(&slot), Some(&U256::from(TIMESTAMP)));
    assert_eq!(storage.get(&(slot + U256::from(8191))), Some(&U256::from_be_bytes(BEACON_ROOT.0)));
    assert_eq!(storage.len(), 2);
    assert!(!out.post.contains_key(&SYSTEM_ADDRESS));
    assert!(!out.post.contains_key(&COINBASE), "a system call pays no one");
    assert_eq!(out.gas_used, 0);
    assert_eq!(out.requests, None);
});

adapter_test!(a_failing_beacon_root_call_changes_nothing, Fork::Cancun, |client| {
    let pre: Accounts = [(BEACON_ROOTS_ADDRESS, account(STORE_THEN_REVERT, 0))].into();
    let out = client.execute_block(&block(Fork::Cancun, pre.clone(), Vec::new()), TraceMode::Off).expect("a failure is ignored");
    assert_eq!(out.post, pre);
});

adapter_test!(a_system_call_leaves_the_system_address_and_an_empty_coinbase_alone, Fork::Cancun, |client| {
    let funded = Account { balance: U256::from(5), ..Default::default() };
    let pre: Accounts =
        [(BEACON_ROOTS_ADDRESS, account(BEACON_ROOTS_CODE, 0)), (SYSTEM_ADDRESS, funded.clone()), (COINBASE, Account::default())].into();
    let out = client.execute_block(&block(Fork::Cancun, pre, Vec::new()), TraceMode::Off).expect("executes");
    assert_eq!(out.post.get(&SYSTEM_ADDRESS), Some(&funded));
    assert_eq!(out.post.get(&COINBASE), Some(&Account::default()));
    assert_eq!(out.post[&BEACON_ROOTS_ADDRESS].storage.len(), 2);
});

adapter_test!(system_contracts_without_code_do_nothing, Fork::Prague, |client| {
    let contracts = [BEACON_ROOTS_ADDRESS, HISTORY_STORAGE_ADDRESS, WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS];
    let mut pre: Accounts = contracts.into_iter().map(|a| (a, account("0x", 1))).collect();
    pre.insert(CONTRACT, account("0x", 0));
    let out = client.execute_block(&block(Fork::Prague, pre.clone(), Vec::new()), TraceMode::Off).expect("executes");
    assert_eq!(out.post, pre);
    assert_eq!(out.requests, Some(Vec::new()));
    // Absent, they are not called either.
    let out = client.execute_block(&block(Fork::Prague, Accounts::new(), Vec::new()), TraceMode::Off).expect("executes");
    assert!(out.post.is_empty(), "{:?}", out.post);
});

adapter_test!(a_failing_request_call_invalidates_the_block, Fork::Prague, |client| {
    for contract in [WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS] {
        let pre: Accounts = [(contract, account(REVERT, 0))].into();
        let result = client.execute_block(&block(Fork::Prague, pre, Vec::new()), TraceMode::Off);
        assert!(matches!(&result, Err(ClientError::Execution { detail, .. }) if detail.contains("block is invalid")), "{result:?}");
    }
});

adapter_test!(a_request_call_output_is_a_request, Fork::Prague, |client| {
    // The withdrawal contract returns the word 42; the consolidation contract returns nothing.
    let pre: Accounts =
        [(WITHDRAWAL_REQUEST_ADDRESS, account("0x602a5f5260205ff3", 0)), (CONSOLIDATION_REQUEST_ADDRESS, account("0x5f5ff3", 0))].into();
    let out = client.execute_block(&block(Fork::Prague, pre, Vec::new()), TraceMode::Off).expect("executes");
    let mut withdrawals = vec![1u8];
    withdrawals.extend_from_slice(&U256::from(42).to_be_bytes::<32>());
    assert_eq!(out.requests, Some(vec![Bytes::from(withdrawals)]));
});

adapter_test!(the_history_contract_stores_the_parent_hash, Fork::Prague, |client| {
    let pre: Accounts =
        [(HISTORY_STORAGE_ADDRESS, account(HISTORY_STORAGE_CODE, 0)), (BEACON_ROOTS_ADDRESS, account(BEACON_ROOTS_CODE, 0))].into();
    let out = client.execute_block(&block(Fork::Prague, pre, Vec::new()), TraceMode::Off).expect("executes");
    let storage = &out.post[&HISTORY_STORAGE_ADDRESS].storage;
    assert_eq!(storage.get(&U256::from((NUMBER - 1) % 8191)), Some(&U256::from_be_bytes(PARENT_HASH.0)));
    assert_eq!(storage.len(), 1);
    assert_eq!(out.post[&BEACON_ROOTS_ADDRESS].storage.len(), 2);
    assert!(!out.post.contains_key(&SYSTEM_ADDRESS));
    assert_eq!(out.requests, Some(Vec::new()));
});

adapter_test!(a_second_transaction_sees_the_first_ones_storage, Fork::Cancun, |client| {
    let pre: Accounts = [
        (sender(), account("0x", 10u64.pow(18))),
        (CONTRACT, account(STORE_THEN_READ, 0)),
        (BEACON_ROOTS_ADDRESS, account(BEACON_ROOTS_CODE, 0)),
    ]
    .into();
    let txs = vec![call(0, CONTRACT, &[]), call(1, CONTRACT, &[1])];
    let out = client.execute_block(&block(Fork::Cancun, pre, txs), TraceMode::Off).expect("executes");
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.receipts.len(), 2);
    assert!(out.receipts.iter().all(|r| r.success == Some(true)));
    let storage = &out.post[&CONTRACT].storage;
    assert_eq!(storage.get(&U256::ZERO), Some(&U256::from(7)));
    assert_eq!(storage.get(&U256::from(1)), Some(&U256::from(8)));
    assert_eq!(out.post[&sender()].nonce, 2);
    // The coinbase earns the tip (20 - 10 wei) on all gas used, the sender pays 20 wei a gas.
    assert_eq!(out.post[&COINBASE].balance, U256::from(out.gas_used * 10));
    assert_eq!(out.post[&sender()].balance, U256::from(10u64.pow(18) - out.gas_used * 20));
    assert_eq!(out.post[&BEACON_ROOTS_ADDRESS].storage.len(), 2);
    assert_eq!(out.state_root, schism_interface::state::state_root(&out.post));
});

adapter_test!(a_traced_transaction_has_its_steps, Fork::Cancun, |client| {
    // CALL(0xffff, EMPTY, 0, 0, 0, 0, 0), the same to STOPPER, then STOP.
    let code = "0x600060006000600060007300000000000000000000000000000000000e3e3e61fffff1\
                600060006000600060007300000000000000000000000000000000000e3e3f61fffff100";
    let pre: Accounts = [
        (sender(), account("0x", 10u64.pow(18))),
        (CONTRACT, account(code, 0)),
        (EMPTY, account("0x", 0)),
        (STOPPER, Account { code: Bytes::from_static(&[0x00]), ..Default::default() }),
    ]
    .into();
    let input = block(Fork::Cancun, pre, vec![call(0, CONTRACT, &[])]);
    let plain = client.execute_block(&input, TraceMode::Off).expect("executes");
    let traced = client.execute_block(&input, TraceMode::Steps).expect("executes");
    assert_eq!(plain.receipts[0].trace, None);
    let trace = traced.receipts[0].trace.clone().expect("a trace");
    assert_eq!((trace[0].pc, trace[0].op, trace[0].depth), (0, 0x60, 1));
    assert_eq!(trace.last().map(|s| (s.op, s.depth)), Some((0x00, 1)));
    // The call to EMPTY runs no code: no step at depth 2 for it, as in geth. STOPPER's STOP runs.
    let deeper: Vec<_> = trace.iter().filter(|s| s.depth == 2).map(|s| s.op).collect();
    assert_eq!(deeper, [0x00], "{trace:?}");
    assert!(trace.windows(2).all(|w| w[1].gas <= w[0].gas || w[1].depth != w[0].depth));
    // Tracing changes nothing else, and EIP-161 deletes the empty account the call touched.
    let mut untraced = traced.clone();
    untraced.receipts.iter_mut().for_each(|r| r.trace = None);
    assert_eq!(untraced, plain);
    assert!(!plain.post.contains_key(&EMPTY));
});
