//! Block sequences end to end: the shared BlockchainTests through every in-process client with
//! pass counts, and the sequence-only canary found, filed as a blockchain test and replayed.

use crate::util::fixtures;
use alloy_primitives::{Address, B256, Bytes, U256, address, b256};
use schism_engine::chain::compare::compare;
use schism_engine::chain::{self, ChainRun};
use schism_engine::compare::{Aspect, Verdict};
use schism_engine::registry::{ClientOptions, resolve};
use schism_engine::runner::{RunOptions, run};
use schism_engine::triage::{Examiner, Triage, TriageOptions};
use schism_interface::fixture::{Account, Accounts};
use schism_interface::sequence::{Header, Schedule, SeqBlock, SeqTx, Sequence};
use schism_interface::{Client, Fork, TraceMode, Transaction, TxKind, TxValue};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

#[test]
fn blockchain_tests_pass_on_the_in_process_clients() {
    // CPU-heavy: not beside a farm that must find its canary in time.
    let _one_at_a_time = crate::util::exclusive();
    let ids: Vec<String> = ["revm", "levm", "sputnik"].map(String::from).to_vec();
    let clients = resolve(&ids, &ClientOptions::default()).expect("clients");
    let options = RunOptions { paths: vec![fixtures().join("BlockchainTests")], ..Default::default() };
    let report = run(&options, &clients).expect("runs");
    assert_eq!(report.sequence_count, 491);
    println!("{}", report.summary());
    for (id, c) in &report.sequences {
        println!("{id}: pass {} fail {} skip {} error {}", c.counts.pass, c.counts.fail, c.counts.skip, c.counts.errors);
        for s in &c.counts.skips {
            println!("  skip {} x{}", s.reason, s.count);
        }
    }
    let revm = &report.sequences["revm"];
    assert_eq!((revm.counts.pass, revm.counts.fail, revm.counts.errors), (487, 0, 0), "{:#?}", revm.failures);
    let levm = &report.sequences["levm"];
    assert_eq!((levm.counts.fail, levm.counts.errors), (0, 0), "{:#?}", levm.failures);
    assert!(levm.counts.pass >= 473);
    // Every invalid block was rejected: a missed rejection is a failure, and there are none.
    assert!(report.sequence_disagreements.is_empty(), "{:#?}", report.sequence_disagreements);
}

const SENDER_KEY: B256 = b256!("0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
const SENDER: Address = address!("0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b");
const COUNTER: Address = address!("0x00000000000000000000000000000000000c0de1");

fn tx(nonce: u64) -> SeqTx {
    SeqTx {
        tx: Transaction {
            kind: TxKind::Eip1559,
            nonce,
            gas_limit: 100_000,
            to: Some(COUNTER),
            value: TxValue::Value(U256::ZERO),
            data: Bytes::new(),
            gas_price: None,
            max_fee_per_gas: Some(U256::from(1000)),
            max_priority_fee_per_gas: Some(U256::from(1)),
            access_list: Vec::new(),
            max_fee_per_blob_gas: None,
            blob_versioned_hashes: Vec::new(),
            authorization_list: Vec::new(),
            secret_key: SENDER_KEY,
            sender: SENDER,
        },
        raw: None,
    }
}

fn block(number: u64, txs: Vec<SeqTx>) -> SeqBlock {
    SeqBlock {
        header: Header {
            beneficiary: Address::repeat_byte(0xcb),
            timestamp: 1000 + 12 * number,
            gas_limit: 30_000_000,
            parent_beacon_block_root: Some(B256::repeat_byte(number as u8)),
            ..Header::default()
        },
        claimed: false,
        txs,
        withdrawals: Some(Vec::new()),
        ommers: Vec::new(),
        rlp: None,
        undecodable: None,
        expect_exception: None,
    }
}

/// A counter contract (`slot0 += 1`) called by transactions grouped into blocks as given.
fn counter_sequence(blocks: &[usize]) -> Sequence {
    // PUSH0 SLOAD PUSH1 1 ADD PUSH0 SSTORE STOP
    let code = Bytes::from_static(&[0x5f, 0x54, 0x60, 0x01, 0x01, 0x5f, 0x55, 0x00]);
    let pre: Accounts = BTreeMap::from([
        (SENDER, Account { balance: U256::from(10u64).pow(U256::from(20)), ..Default::default() }),
        (COUNTER, Account { code, nonce: 1, ..Default::default() }),
    ]);
    let mut nonce = 0;
    let mut seq_blocks = Vec::new();
    for (i, n) in blocks.iter().enumerate() {
        let txs = (0..*n)
            .map(|_| {
                nonce += 1;
                tx(nonce - 1)
            })
            .collect();
        seq_blocks.push(block(i as u64 + 1, txs));
    }
    Sequence {
        file: Arc::from("test"),
        test: Arc::from("counter"),
        schedule: Schedule::single(Fork::Cancun),
        chain_id: 1,
        blob_schedule: BTreeMap::new(),
        pre: Arc::new(pre),
        genesis: Header {
            gas_limit: 30_000_000,
            timestamp: 1000,
            base_fee_per_gas: Some(7),
            withdrawals_root: Some(schism_interface::sequence::encode::withdrawals_root(&[])),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            ..Header::default()
        },
        blocks: seq_blocks,
        expected: None,
        unsupported: None,
    }
}

fn canary_pair() -> Vec<(String, Arc<dyn Client>)> {
    let ids: Vec<String> = ["revm", "revm~stale-slot-in-block"].map(String::from).to_vec();
    resolve(&ids, &ClientOptions::default()).expect("clients").into_iter().map(|c| (c.id().to_owned(), c)).collect()
}

fn runs(clients: &[(String, Arc<dyn Client>)], seq: &Sequence) -> Vec<(String, ChainRun)> {
    clients.iter().map(|(id, c)| (id.clone(), chain::run(c.as_ref(), seq, TraceMode::Off).expect("runs"))).collect()
}

#[test]
fn only_a_sequence_reveals_the_stale_slot_canary() {
    let clients = canary_pair();
    // One transaction, or one per block: the mutant agrees with revm.
    for blocks in [&[1][..], &[1, 1, 1][..]] {
        let seq = counter_sequence(blocks);
        let r = runs(&clients, &seq);
        let refs: Vec<(String, &ChainRun)> = r.iter().map(|(id, run)| (id.clone(), run)).collect();
        assert_eq!(compare(&refs), Verdict::Agree, "blocks {blocks:?}");
        let slot = r[0].1.state.get(&COUNTER).and_then(|a| a.storage.get(&U256::ZERO)).copied();
        assert_eq!(slot, Some(U256::from(blocks.len())));
    }
    // Two transactions in one block: the second reads the slot the first wrote.
    let seq = counter_sequence(&[2]);
    let r = runs(&clients, &seq);
    let refs: Vec<(String, &ChainRun)> = r.iter().map(|(id, run)| (id.clone(), run)).collect();
    let Verdict::Diverge { locus, aspects, .. } = compare(&refs) else { panic!("diverges") };
    assert_eq!((locus.block, locus.tx), (Some(0), Some(1)));
    assert!(aspects.contains(&Aspect::StateRoot), "{aspects:?}");

    // Filed as a minimised blockchain test that replays: revm passes it, the mutant fails it.
    let crashes = tempfile::tempdir().expect("tempdir");
    let mut padded = counter_sequence(&[2, 1, 1]);
    padded.blocks[0].txs.push(tx(2));
    for (i, stx) in padded.blocks.iter_mut().flat_map(|b| b.txs.iter_mut()).enumerate() {
        stx.tx.nonce = i as u64;
    }
    let examiner = Examiner::labelled(clients.clone());
    assert!(examiner.examine(&padded, false).divergent(), "the padded sequence diverges too");
    let mut triage =
        Triage::new(examiner, TriageOptions { crashes: crashes.path().to_path_buf(), minimise: Some(Default::default()), deadline: None });
    let handled = triage.handle(&padded, Instant::now()).expect("files").expect("a finding");
    let folder = match handled.filed {
        schism_engine::triage::Filed::New(p) => p,
        other => panic!("{other:?}"),
    };
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["minimised"]["blocks_after"], 1, "{report:#}");
    assert_eq!(report["minimised"]["txs_after"], 2, "{report:#}");
    // Located like a single case: the block, the transaction and, from its traces, the
    // instruction.
    assert_eq!(report["scope"], "sequence", "{report:#}");
    assert_eq!(report["locus"]["block"], 0, "{report:#}");
    assert_eq!(report["locus"]["tx"], 1, "{report:#}");
    assert!(report["locus"]["instruction"].is_string(), "{report:#}");
    assert!(folder.join("traces/revm.jsonl").is_file() && folder.join("original.json").is_file());
    let md = std::fs::read_to_string(folder.join("report.md")).expect("report.md");
    assert!(md.contains("Where: block 0, transaction 1, at "), "{md}");
    let all: Vec<Arc<dyn Client>> = clients.iter().map(|(_, c)| c.clone()).collect();
    let replay = run(&RunOptions { paths: vec![folder.join("case.json")], ..Default::default() }, &all).expect("replays");
    assert_eq!(replay.sequences["revm"].counts.pass, 1, "{}", replay.highlights(5));
    assert_eq!(replay.sequences["revm~stale-slot-in-block"].counts.fail, 1);
}

/// A client that executes blocks with revm's system calls but crashes on every transaction: a
/// fault that only block sequences reach here.
struct CrashesOnTransactions(Arc<dyn Client>);

impl Client for CrashesOnTransactions {
    fn id(&self) -> &str {
        "crashing"
    }
    fn version(&self) -> &str {
        "scripted"
    }
    fn supports(&self, fork: Fork) -> bool {
        self.0.supports(fork)
    }
    fn execute(&self, _: &schism_interface::Case, _: TraceMode) -> Result<schism_interface::Outcome, schism_interface::ClientError> {
        Err(schism_interface::ClientError::Crashed {
            client: "crashing".into(),
            status: "signal 11".into(),
            stderr_tail: "scripted crash".into(),
        })
    }
    fn system_call(
        &self,
        call: &schism_interface::SystemCall<'_>,
    ) -> Result<schism_interface::SystemOutcome, schism_interface::ClientError> {
        self.0.system_call(call)
    }
}

#[test]
fn a_client_fault_during_sequence_fuzzing_is_filed_as_a_fault_folder() {
    use schism_engine::fuzz::harness::{Harness, HarnessOptions};
    use schism_engine::fuzz::program::Blueprint;
    let Ok(revm) = resolve(&["revm".to_owned()], &ClientOptions::default()) else {
        eprintln!("skipped: this build lacks revm");
        return;
    };
    let crashing: Arc<dyn Client> = Arc::new(CrashesOnTransactions(revm[0].clone()));
    let crashes = tempfile::tempdir().expect("tempdir");
    let mut options = HarnessOptions::new(vec![revm[0].clone(), crashing], Some(Fork::Cancun), crashes.path().to_path_buf());
    options.sequences = 1.0;
    options.slow = None;
    let mut harness = Harness::new(options).expect("harness");
    let mut map = vec![0u8; schism_engine::fuzz::MAP_SIZE];
    // Inputs from a fixed pseudo-random stream until one decodes to a sequence.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = || {
        (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect::<Vec<u8>>()
    };
    let input = (0..2000).map(|_| Blueprint::from_bytes(&bytes())).find(|bp| harness.is_sequence(bp)).expect("some input is a sequence");
    let run = harness.run(&input, &mut map);
    assert!(run.divergent, "a fault is a finding");
    let id = run.signature.expect("filed");
    assert!(id.starts_with("seq-fault-"), "{id}");
    assert_eq!((harness.stats().sequences, harness.stats().filed), (1, 1));
    let folder = crashes.path().join(&id);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["kind"], "fault", "{report:#}");
    assert_eq!(report["scope"], "sequence", "{report:#}");
    assert_eq!(report["faults"][0]["client"], "crashing", "{report:#}");
    assert_eq!(report["faults"][0]["kind"], "crashed", "{report:#}");
    let case = std::fs::read_to_string(folder.join("case.json")).expect("case.json");
    assert!(case.contains("\"genesisRLP\""), "a blockchain test filled from revm");
    // The same fault again is counted on the folder, not filed twice.
    harness.run(&input, &mut map);
    assert_eq!(harness.stats().filed, 1);
}

#[test]
fn a_sequence_finding_one_transaction_shows_alone_is_filed_as_that_state_test() {
    let ids: Vec<String> = ["revm", "revm~sar-negative-shift"].map(String::from).to_vec();
    let Ok(resolved) = resolve(&ids, &ClientOptions::default()) else {
        eprintln!("skipped: this build lacks revm");
        return;
    };
    let clients: Vec<(String, Arc<dyn Client>)> = resolved.into_iter().map(|c| (c.id().to_owned(), c)).collect();
    // slot0 += 1, then slot1 = SAR(-1 by 256): every transaction shows the mutant's bug.
    let mut code = vec![0x5f, 0x54, 0x60, 0x01, 0x01, 0x5f, 0x55, 0x7f];
    code.extend([0xff; 32]);
    code.extend([0x61, 0x01, 0x00, 0x1d, 0x60, 0x01, 0x55, 0x00]);
    let mut seq = counter_sequence(&[1, 2]);
    let mut pre = (*seq.pre).clone();
    if let Some(counter) = pre.get_mut(&COUNTER) {
        counter.code = Bytes::from(code);
    }
    seq.pre = Arc::new(pre);
    let crashes = tempfile::tempdir().expect("tempdir");
    let mut triage = Triage::new(
        Examiner::labelled(clients),
        TriageOptions { crashes: crashes.path().to_path_buf(), minimise: Some(Default::default()), deadline: None },
    );
    let handled = triage.handle(&seq, Instant::now()).expect("files").expect("a finding");
    let id = handled.signature.id();
    assert!(id.starts_with("sar-"), "filed as the single transaction's finding: {id}");
    let folder = crashes.path().join(&id);
    let case = std::fs::read_to_string(folder.join("case.json")).expect("case.json");
    assert!(!case.contains("genesisRLP") && case.contains("\"transaction\""), "a state test");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["scope"], "transaction", "{report:#}");
    assert_eq!(report["seen"][0]["fork"], "Cancun", "{report:#}");
}

/// A sequence holding a set-code transaction is excused on a client whose documented known
/// difference is the missing EIP-7702 (SputnikVM), not filed as that client's fault.
#[test]
fn a_known_difference_of_one_transaction_excuses_the_sequence() {
    use schism_engine::panel::{Call, Entry, Panel};
    let ids: Vec<String> = ["revm", "sputnik"].map(String::from).to_vec();
    let Ok(clients) = resolve(&ids, &ClientOptions::default()) else {
        eprintln!("skipped: this build lacks revm or sputnik");
        return;
    };
    let panel = Panel::labelled(clients.into_iter().map(|c| (c.id().to_owned(), c)).collect());
    let mut seq = counter_sequence(&[1, 1]);
    seq.schedule = Schedule::single(Fork::Prague);
    let plain = panel.run(&seq, Call::plain());
    assert!(plain.iter().all(|s| matches!(s.entry, Entry::Ran(_))), "no set-code transaction, nothing excused");
    let set_code = &mut seq.blocks[1].txs[0].tx;
    set_code.kind = TxKind::SetCode;
    // An authorization with a signature nobody made: revm skips it, sputnik cannot represent
    // the transaction at all.
    set_code.authorization_list = vec![schism_interface::fixture::Authorization {
        chain_id: U256::from(1),
        address: COUNTER,
        nonce: 0,
        v: None,
        y_parity: Some(U256::ZERO),
        r: U256::from(1),
        s: U256::from(1),
        signer: None,
    }];
    let seats = panel.run(&seq, Call::plain());
    assert!(matches!(seats[0].entry, Entry::Ran(_)), "revm runs it");
    match &seats[1].entry {
        Entry::Excused(known) => assert_eq!(known.id, "sputnik-no-eip7702"),
        _ => panic!("sputnik is excused by its known difference"),
    }
}

/// Files the stale-slot canary's sequence finding (two transactions of one block) in `crashes`:
/// the folder.
fn filed_canary_sequence(crashes: &std::path::Path) -> std::path::PathBuf {
    let examiner = Examiner::labelled(canary_pair());
    let mut triage = Triage::new(examiner, TriageOptions { crashes: crashes.to_path_buf(), minimise: None, deadline: None });
    match triage.handle(&counter_sequence(&[2]), Instant::now()).expect("files").expect("a finding").filed {
        schism_engine::triage::Filed::New(p) => p,
        other => panic!("{other:?}"),
    }
}

/// `schism promote` of a block-sequence finding: a blockchain test filled by the expected
/// client, with the promoted record (signature, expected client, the clients it guards
/// against), that the regressions test replays: revm passes it and the canary mutant it was
/// found on still fails it.
#[test]
fn a_sequence_finding_is_promoted_to_a_blockchain_test_the_regressions_test_replays() {
    use schism_engine::triage::promote::{Expect, promote, promoted_info};
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = filed_canary_sequence(&dir.path().join("crashes"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["scope"], "sequence", "{report:#}");
    let regressions = dir.path().join("regressions");
    let examiner = Examiner::labelled(canary_pair());
    let path = promote(&folder, &Expect::Client("revm".into()), &regressions, &examiner).expect("promotes");
    assert_eq!(path.parent(), Some(regressions.as_path()));
    let info = promoted_info(&path).expect("the promoted record");
    assert_eq!(info.signature, report["signature"].as_str().expect("signature"));
    assert_eq!((info.expect.as_str(), info.guards.clone()), ("revm", vec!["revm~stale-slot-in-block".to_owned()]));
    let Ok(schism_interface::load::FixtureFile::Blockchain(tests)) = schism_interface::load::read_fixture(&path) else {
        panic!("{}: not a blockchain test", path.display())
    };
    let name = format!("schism/regressions/{}", info.signature);
    assert!(tests.contains_key(&name), "{:?}", tests.keys().collect::<Vec<_>>());
    // The regressions test's own checks, on this folder.
    assert_eq!(crate::regressions::hold_on_in_process_clients(&regressions), 1);
    assert_eq!(crate::regressions::catch_their_mutants(&regressions), 1);
    // Expecting the mutant instead: the fixture is its result, which revm fails.
    let other = dir.path().join("other");
    let path = promote(&folder, &Expect::Client("revm~stale-slot-in-block".into()), &other, &examiner).expect("promotes");
    assert_eq!(promoted_info(&path).expect("record").guards, vec!["revm".to_owned()]);
    let all: Vec<Arc<dyn Client>> = canary_pair().into_iter().map(|(_, c)| c).collect();
    let replay = run(&RunOptions { paths: vec![path], ..Default::default() }, &all).expect("replays");
    assert_eq!(replay.sequences["revm"].counts.fail, 1, "{}", replay.summary());
    assert_eq!(replay.sequences["revm~stale-slot-in-block"].counts.pass, 1);
    // A client that did not run the case cannot be expected.
    let err = promote(&folder, &Expect::Client("levm".into()), &other, &examiner).expect_err("levm did not run it");
    assert!(err.to_string().contains("--expect levm"), "{err}");
}

/// A sequence folder with a missing or corrupt file is refused with an error naming the file.
#[test]
fn promoting_a_broken_sequence_folder_names_the_file() {
    use schism_engine::triage::promote::{Expect, promote};
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = filed_canary_sequence(&dir.path().join("crashes"));
    let examiner = Examiner::labelled(canary_pair());
    let to = dir.path().join("regressions");
    let attempt = |edit: &dyn Fn(&std::path::Path)| {
        let copy = dir.path().join("copy");
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(&copy).expect("copy");
        for name in ["case.json", "report.json"] {
            std::fs::copy(folder.join(name), copy.join(name)).expect("copy");
        }
        edit(&copy);
        promote(&copy, &Expect::Client("revm".into()), &to, &examiner).expect_err("refused").to_string()
    };
    for (file, edit) in [
        ("case.json", &(|d: &std::path::Path| std::fs::remove_file(d.join("case.json")).expect("rm")) as &dyn Fn(&std::path::Path)),
        ("case.json", &|d: &std::path::Path| std::fs::write(d.join("case.json"), "{\"x\": [").expect("write")),
        ("case.json", &|d: &std::path::Path| std::fs::write(d.join("case.json"), "{}").expect("write")),
        ("report.json", &|d: &std::path::Path| std::fs::remove_file(d.join("report.json")).expect("rm")),
        ("report.json", &|d: &std::path::Path| std::fs::write(d.join("report.json"), "{\"signature\": 1").expect("write")),
    ] {
        let message = attempt(edit);
        assert!(message.contains(file), "the error names {file}: {message}");
    }
    assert!(!to.exists(), "nothing promoted");
}
