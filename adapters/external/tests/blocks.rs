//! Blocks through the installed tools: a hand-built two-block Cancun sequence through geth's and
//! EELS's transition tools (`t8n`), which must agree with each other block by block, and geth's
//! own blockchain-test runner on the shared `bcExample` fixtures. A tool that is not installed
//! (`$SCHISM_TOOLS`, else `tools/` of the checkout) is skipped with a printed reason.

use schism_external::tools::{ethereumjs, geth, runner};
use schism_external::{External, Settings, Tool};
use schism_interface::alloy_primitives::{Address, B256, Bytes, U256, address, b256, bytes};
use schism_interface::sequence::{BlockOutcome, Ommer, SeqTx, Withdrawal};
use schism_interface::{Account, Accounts, BlockInput, Client, Env, Fork, InvalidTxKind, TraceMode, Transaction, TxKind, TxValue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const KEY: B256 = b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
const COINBASE: Address = address!("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba");
/// Adds one to slot 0 and logs the new value: `SLOAD(0) + 1`, `SSTORE(0, ·)`, `LOG0` of it.
const COUNTER: Address = address!("1000000000000000000000000000000000000000");
/// Stores `BLOCKHASH(NUMBER - 1)` in slot 0.
const PARENT_HASH: Address = address!("2000000000000000000000000000000000000000");
const GWEI: u64 = 1_000_000_000;

fn tools_dir() -> PathBuf {
    match std::env::var_os("SCHISM_TOOLS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools"),
    }
}

/// The tool at `rel` under the tools folder, or `None` with the reason printed.
fn installed(tool: &'static dyn Tool, rel: &str) -> Option<External> {
    let location = tools_dir().join(rel);
    let settings = Settings { label: tool.id().to_owned(), location, timeout: None };
    match External::new(tool, settings) {
        Ok(client) => Some(client),
        Err(e) => {
            eprintln!("skipped: {e:#}");
            None
        }
    }
}

fn geth() -> Option<External> {
    installed(&geth::GETH, "geth/bin/evm")
}

fn eels() -> Option<External> {
    installed(&runner::EELS, "eels/venv/bin/python")
}

fn sender() -> Address {
    schism_interface::case::address_of_key(&KEY).expect("a valid key")
}

fn tx(kind: TxKind, nonce: u64, to: Address) -> SeqTx {
    let legacy = kind <= TxKind::AccessList;
    let tx = Transaction {
        kind,
        nonce,
        gas_limit: 100_000,
        to: Some(to),
        value: TxValue::Value(U256::from(1)),
        data: Bytes::new(),
        gas_price: legacy.then(|| U256::from(10 * GWEI)),
        max_fee_per_gas: (!legacy).then(|| U256::from(10 * GWEI)),
        max_priority_fee_per_gas: (!legacy).then(|| U256::from(GWEI)),
        access_list: Vec::new(),
        max_fee_per_blob_gas: None,
        blob_versioned_hashes: Vec::new(),
        authorization_list: Vec::new(),
        secret_key: KEY,
        sender: sender(),
    };
    SeqTx { tx, raw: None }
}

fn pre() -> Accounts {
    let code = |code: Bytes| Account { code, nonce: 1, ..Default::default() };
    Accounts::from([
        (sender(), Account { balance: U256::from(10u64).pow(U256::from(20)), ..Default::default() }),
        // PUSH1 0 SLOAD PUSH1 1 ADD DUP1 PUSH1 0 SSTORE PUSH1 0 MSTORE PUSH1 32 PUSH1 0 LOG0 STOP
        (COUNTER, code(bytes!("6000546001018060005560005260206000a000"))),
        // PUSH1 1 NUMBER SUB BLOCKHASH PUSH1 0 SSTORE STOP
        (PARENT_HASH, code(bytes!("600143034060005500"))),
    ])
}

fn env(number: u64, parent: B256) -> Env {
    Env {
        current_coinbase: COINBASE,
        current_difficulty: U256::ZERO,
        current_gas_limit: 30_000_000,
        current_number: number,
        current_timestamp: 12 * number,
        current_base_fee: Some(7),
        current_random: Some(B256::repeat_byte(0x42)),
        current_excess_blob_gas: Some(0),
        previous_hash: Some(parent),
        parent_beacon_block_root: Some(B256::repeat_byte(0xbe)),
    }
}

/// Block 1: two increments (legacy, EIP-1559), a transaction with a nonce from the future
/// (rejected), a withdrawal. Block 2 (built on `post`): an increment and a BLOCKHASH read.
fn block(number: u64, pre: Accounts) -> BlockInput {
    let hashes: BTreeMap<u64, B256> = (0..number).map(|n| (n, B256::repeat_byte(0x10 + n as u8))).collect();
    let txs = if number == 1 {
        vec![tx(TxKind::Legacy, 0, COUNTER), tx(TxKind::Eip1559, 1, COUNTER), tx(TxKind::Eip1559, 9, COUNTER)]
    } else {
        vec![tx(TxKind::Eip1559, 2, COUNTER), tx(TxKind::AccessList, 3, PARENT_HASH)]
    };
    BlockInput {
        fork: Fork::Cancun,
        chain_id: 1,
        blob_params: schism_interface::case::default_blob_params(Fork::Cancun),
        pre: Arc::new(pre),
        env: Arc::new(env(number, hashes[&(number - 1)])),
        block_hashes: Arc::new(hashes),
        txs,
        withdrawals: Some(vec![Withdrawal {
            index: number,
            validator_index: 5,
            address: address!("3000000000000000000000000000000000000000"),
            amount: 2,
        }]),
        ommers: Vec::<Ommer>::new(),
    }
}

fn run(client: &External, block: &BlockInput) -> BlockOutcome {
    client.execute_block(block, TraceMode::Off).unwrap_or_else(|e| panic!("{}: {e}", client.id()))
}

/// What must hold of any client's outcome of the two blocks.
fn check(client: &str, number: u64, out: &BlockOutcome) {
    assert_eq!(out.receipts.len(), 2, "{client}: receipts; rejected {:?}", out.rejected);
    assert_eq!(schism_interface::state::state_root(&out.post), out.state_root, "{client}: the alloc is the reported state");
    let mut previous = 0;
    for r in &out.receipts {
        assert_eq!(r.success, Some(true), "{client}: tx {}", r.index);
        assert!(r.cumulative_gas_used > previous + 21_000, "{client}: cumulative gas grows by at least the intrinsic gas");
        previous = r.cumulative_gas_used;
    }
    assert_eq!(previous, out.gas_used, "{client}: the last cumulative gas is the block's");
    assert_eq!(out.blob_gas_used, 0);
    let counter = out.post[&COUNTER].storage[&U256::ZERO];
    assert_eq!(counter, U256::from(number + 1), "{client}: the second increment saw the first");
    // The counter's last call in the block logged the value it left.
    let last = if number == 1 { 1 } else { 0 };
    let log = out.receipts[last].logs.as_ref().and_then(|l| l.first()).expect("a log");
    assert_eq!(U256::from_be_slice(&log.data.data), counter);
    // 2 gwei withdrawn per block.
    assert_eq!(out.post[&address!("3000000000000000000000000000000000000000")].balance, U256::from(2 * GWEI * number));
    if number == 1 {
        assert_eq!(out.rejected.len(), 1, "{client}: rejected");
        assert_eq!((out.rejected[0].index, out.rejected[0].kind), (2, InvalidTxKind::NonceMismatchTooHigh), "{client}: {:?}", out.rejected);
        assert!(out.rejected[0].detail.is_some());
    } else {
        assert!(out.rejected.is_empty(), "{client}: {:?}", out.rejected);
        assert_eq!(out.post[&PARENT_HASH].storage[&U256::ZERO], U256::from_be_bytes(B256::repeat_byte(0x11).0), "{client}: BLOCKHASH(1)");
        assert_eq!(out.receipts.iter().map(|r| r.index).collect::<Vec<_>>(), vec![0, 1]);
    }
}

#[test]
fn geth_and_eels_t8n_agree_on_a_two_block_cancun_sequence() {
    let (Some(geth), Some(eels)) = (geth(), eels()) else { return };
    let mut pre = pre();
    for number in 1..=2 {
        let block = block(number, pre);
        let g = run(&geth, &block);
        let e = run(&eels, &block);
        check("geth", number, &g);
        check("eels", number, &e);
        assert_eq!(g.state_root, e.state_root, "block {number}: state roots");
        assert_eq!(g.post, e.post, "block {number}: post-states");
        assert_eq!(g.receipts, e.receipts, "block {number}: receipts");
        assert_eq!((g.gas_used, g.logs_hash, g.receipts_root, g.logs_bloom), (e.gas_used, e.logs_hash, e.receipts_root, e.logs_bloom));
        assert_eq!(g.requests, None, "no requests before Prague");
        pre = g.post;
    }
}

#[test]
fn geth_t8n_traces_each_included_transaction() {
    let Some(geth) = geth() else { return };
    let out = geth.execute_block(&block(1, pre()), TraceMode::Steps).expect("geth");
    for r in &out.receipts {
        let trace = r.trace.as_ref().expect("a trace");
        assert!(trace.iter().any(|s| s.op == 0x55), "tx {}: an SSTORE step", r.index);
    }
}

#[test]
fn eels_t8n_refuses_uncles_instead_of_crashing() {
    let Some(eels) = eels() else { return };
    let mut block = block(1, pre());
    block.fork = Fork::London;
    block.ommers = vec![Ommer { distance: 1, beneficiary: COINBASE }];
    let err = eels.execute_block(&block, TraceMode::Off).expect_err("unrepresentable");
    assert_eq!(err.kind(), "unrepresentable", "{err}");
}

#[test]
fn geth_pays_pre_merge_block_and_uncle_rewards() {
    let Some(geth) = geth() else { return };
    let mut block = block(1, pre());
    block.fork = Fork::London;
    block.blob_params = None;
    block.withdrawals = None;
    block.env = Arc::new(Env { current_random: None, current_difficulty: U256::from(0x20000), ..(*block.env).clone() });
    let uncle = address!("4000000000000000000000000000000000000000");
    block.ommers = vec![Ommer { distance: 1, beneficiary: uncle }];
    let out = run(&geth, &block);
    let ether = U256::from(10u64).pow(U256::from(18));
    assert_eq!(out.post[&uncle].balance, U256::from(2) * ether * U256::from(7) / U256::from(8));
    assert!(out.post[&COINBASE].balance > U256::from(2) * ether + ((U256::from(2) * ether) >> 5));
}

fn bc_example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/BlockchainTests/ValidBlocks/bcExample").join(name)
}

#[test]
fn geth_blocktest_passes_the_bc_example_fixtures() {
    let Some(geth) = geth() else { return };
    for name in ["mergeExample.json", "optionsTest.json", "shanghaiExample.json"] {
        let path = bc_example(name);
        let verdicts = geth.run_blockchain_file(&path).expect("geth has a runner").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!verdicts.is_empty(), "{name}: no verdicts");
        for v in &verdicts {
            assert!(v.pass, "{name}: {} failed: {:?}", v.test, v.detail);
        }
    }
}

#[test]
fn geth_blocktest_reports_failures_and_missing_files() {
    let Some(geth) = geth() else { return };
    let text = std::fs::read_to_string(bc_example("shanghaiExample.json")).expect("fixture");
    let mut file: serde_json::Value = serde_json::from_str(&text).expect("json");
    for test in file.as_object_mut().expect("tests").values_mut() {
        test["lastblockhash"] = serde_json::json!(format!("0x{}", "11".repeat(32)));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, file.to_string()).expect("write");
    let verdicts = geth.run_blockchain_file(&bad).expect("a runner").expect("verdicts");
    assert!(verdicts.iter().all(|v| !v.pass && v.detail.as_deref().is_some_and(|d| d.contains("last block hash"))), "{verdicts:?}");
    let missing = geth.run_blockchain_file(&dir.path().join("missing.json")).expect("a runner");
    assert!(matches!(missing, Err(ref e) if e.kind() == "execution"), "{missing:?}");
    std::fs::write(&bad, "{\"x\":").expect("write");
    let garbage = geth.run_blockchain_file(&bad).expect("a runner");
    assert!(matches!(garbage, Err(ref e) if e.kind() == "crashed"), "{garbage:?}");
}

/// A fake nimbus: `tools/evmstate/evmstate` answers the version command, and
/// `tools/t8n/t8n` beside it (where nimbus-eth1 builds its t8n) checks the flags it is given
/// and writes the recording `tests/recorded/nimbus/t8n-block1.*.json` where it is told to.
/// Tests only: schism itself never starts a shell.
fn fake_nimbus(dir: &Path) -> External {
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recorded/nimbus");
    let write = |rel: &str, body: String| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(&path, body).expect("write the fake");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        path
    };
    let rec = recorded.display();
    let evmstate = write("tools/evmstate/evmstate", format!("#!/bin/sh\ncat '{rec}/version.txt'\n"));
    write(
        "tools/t8n/t8n",
        format!(
            r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    --output.basedir) base=$2; shift;; --output.result) result=$2; shift;; --output.alloc) alloc=$2; shift;;
    --state.reward) reward=$2; shift;; --state.fork) fork=$2; shift;; --input.txs) txs=$2; shift;;
  esac
  shift
done
[ "$fork" = Cancun ] && [ "$reward" = -1 ] || {{ echo "recorded for Cancun only, got $fork reward $reward" >&2; exit 3; }}
[ -s "$txs" ] || {{ echo "no transactions file" >&2; exit 4; }}
cp '{rec}/t8n-block1.result.json' "$base/$result" && cp '{rec}/t8n-block1.alloc.json' "$base/$alloc"
"#
        ),
    );
    let settings = Settings { label: "nimbus".to_owned(), location: evmstate, timeout: Some(std::time::Duration::from_secs(10)) };
    External::new(&schism_external::tools::nimbus::Nimbus, settings).expect("the fake nimbus starts")
}

#[test]
fn nimbus_t8n_is_read_from_its_recorded_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nimbus = fake_nimbus(dir.path());
    assert_eq!(nimbus.block_skip(Fork::Cancun), None);
    let out = run(&nimbus, &block(1, pre()));
    check("nimbus", 1, &out);
    // Anything but the recorded block makes the fake exit non-zero: a crash, with its words.
    let mut london = block(1, pre());
    london.fork = Fork::London;
    london.blob_params = None;
    let err = nimbus.execute_block(&london, TraceMode::Off).expect_err("the fake refuses");
    assert_eq!(err.kind(), "crashed", "{err}");
    assert!(err.to_string().contains("recorded for Cancun only"), "{err}");
    // Without the t8n binary beside evmstate, blocks are skipped with the reason.
    std::fs::remove_file(dir.path().join("tools/t8n/t8n")).expect("rm");
    assert!(nimbus.block_skip(Fork::Cancun).is_some_and(|r| r.contains("t8n")));
}

#[test]
fn ethereumjs_block_mode_agrees_with_geth_traces_and_pays_rewards() {
    let Some(ejs) = installed(&ethereumjs::ETHEREUMJS, "ethereumjs") else { return };
    assert_eq!(ejs.block_skip(Fork::Cancun), None, "a served transition tool");
    let geth = geth();
    let mut state = pre();
    for number in 1..=2 {
        let block = block(number, state);
        let e = run(&ejs, &block);
        check("ethereumjs", number, &e);
        if let Some(geth) = &geth {
            let g = run(geth, &block);
            assert_eq!(e.state_root, g.state_root, "block {number}: state roots");
            assert_eq!(e.post, g.post, "block {number}: post-states");
            assert_eq!(e.receipts, g.receipts, "block {number}: receipts");
            assert_eq!((e.gas_used, e.logs_hash, e.receipts_root, e.logs_bloom), (g.gas_used, g.logs_hash, g.receipts_root, g.logs_bloom));
        }
        state = e.post;
    }
    let traced = ejs.execute_block(&block(1, pre()), TraceMode::Steps).expect("ethereumjs");
    for r in &traced.receipts {
        let trace = r.trace.as_ref().expect("a trace");
        assert!(trace.iter().any(|s| s.op == 0x55), "tx {}: an SSTORE step", r.index);
    }
    // Pre-Merge: the runner pays the block and uncle rewards the t8n flags give.
    let mut london = block(1, pre());
    london.fork = Fork::London;
    london.blob_params = None;
    london.withdrawals = None;
    london.env = Arc::new(Env { current_random: None, current_difficulty: U256::from(0x20000), ..(*london.env).clone() });
    let uncle = address!("4000000000000000000000000000000000000000");
    london.ommers = vec![Ommer { distance: 1, beneficiary: uncle }];
    let out = run(&ejs, &london);
    let ether = U256::from(10u64).pow(U256::from(18));
    assert_eq!(out.post[&uncle].balance, U256::from(2) * ether * U256::from(7) / U256::from(8));
    if let Some(geth) = &geth {
        assert_eq!(out.state_root, run(geth, &london).state_root, "London with an uncle");
    }
}
