//! Conformance of the installable subprocess clients (geth and its releases, eels, ethereumjs, pyevm) against the shared
//! fixtures, with pass counts per fork printed and thresholds asserted. The clients must be
//! installed first (`schism install all`), so these tests are ignored by default; CI installs
//! them and runs `cargo test --release -p schism-engine --test suite -- --ignored conformance_external::`.

use crate::util::fixtures;
use schism_engine::registry::{ClientOptions, resolve};
use schism_engine::report::Report;
use schism_engine::runner::{RunOptions, run};
use schism_interface::load::collect_json_files;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every `step`-th fixture file of both suites (sorted by path), without the four whose single
/// case runs for many seconds in every client and any `also_slow` for this client.
fn sample(step: usize, also_slow: &[&str]) -> Vec<PathBuf> {
    let slow = ["CALLBlake2f_MaxRounds.json", "loopMul.json", "static_Call50000_sha256.json", "Call50000_sha256.json"];
    let mut all =
        collect_json_files(&[fixtures().join("GeneralStateTests"), fixtures().join("osaka")]).expect("fixtures are beside the repository");
    all.sort();
    all.into_iter().filter(|p| !slow.iter().chain(also_slow).any(|s| p.ends_with(s))).step_by(step).collect()
}

/// Runs `client` on `paths`, prints the figures, and checks what every client must meet: no
/// input errors, no faults, no failure outside documented known differences beyond `max_fail`.
fn conformance(client: &str, paths: Vec<PathBuf>, max_fail: usize) -> Report {
    // Generous timeouts: the point of this test is conformance, not speed (KZG setup loading,
    // interpreters, and geth's CALLBlake2f_MaxRounds: 45 s alone on a quiet 2-core machine,
    // 58 s at load 6, over 120 s in one CI run on a loaded one).
    let options = ClientOptions { timeout: Some(Duration::from_secs(600)) };
    let clients = resolve(&[client.to_owned()], &options).unwrap_or_else(|e| panic!("{e} (run `schism install {client}` first)"));
    let report = run(&RunOptions { paths, ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.highlights(40));
    print!("{}", report.summary());
    assert!(report.input_errors.is_empty(), "fixtures failed to load: {:?}", report.input_errors);
    let c = &report.clients[client];
    assert_eq!(c.counts.errors, 0, "{client} faulted: {:?}", c.client_errors.first());
    assert!(
        c.counts.fail <= max_fail,
        "{client} fails {} cases outside its known differences (at most {max_fail} expected)",
        c.counts.fail
    );
    assert!(c.counts.pass > 0);
    report
}

/// `path` run on revm and on `release` (a buggy or a fixed release beside the client that fills
/// the expectation).
fn beside_revm(path: &Path, release: &str) -> Report {
    let clients = resolve(&["revm".to_owned(), release.to_owned()], &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    run(&RunOptions { paths: vec![path.to_path_buf()], ..RunOptions::default() }, &clients).expect("run starts")
}

/// geth on the whole of both suites: every case passes or is a documented known difference.
#[test]
#[ignore = "needs `schism install geth`; CI runs it"]
fn geth_full() {
    let report = conformance("geth", vec![fixtures().join("GeneralStateTests"), fixtures().join("osaka")], 0);
    assert_eq!(report.cases, 17912 + 1138);
}

/// geth answers the cases of one test handed to it in one shared file (as `schism run` hands
/// them) exactly as it answers each alone: one Cancun test's nine cases, three of them again
/// under Prague (geth runs a file's forks in no fixed order), and one whose expected root is
/// wrong (geth's verdict is that entry's own).
#[test]
#[ignore = "needs `schism install geth`; CI runs it"]
fn geth_answers_a_shared_file_as_it_answers_each_case() {
    use schism_interface::{Fork, TraceMode};
    let path = fixtures().join("GeneralStateTests/stSStoreTest/sstore_gasLeft.json");
    let file = match schism_interface::load::read_fixture(&path).expect("reads") {
        schism_interface::load::FixtureFile::State(file) => file,
        _ => panic!("a state test"),
    };
    let (mut cases, errors) = schism_interface::load::expand_file(&path, &file);
    assert!(errors.is_empty() && cases.len() == 9, "{errors:?}");
    for i in [1, 4, 7] {
        let mut again = cases[i].clone();
        again.fork = Fork::Prague;
        cases.push(again);
    }
    if let Some(e) = cases[2].expected.as_mut() {
        e.hash = Default::default();
    }
    let clients = resolve(&["geth".to_owned()], &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let geth = &clients[0];
    let refs: Vec<&schism_interface::Case> = cases.iter().collect();
    let mut shared = vec![None; cases.len()];
    geth.execute_batch(&refs, TraceMode::Off, &mut |i, r| shared[i] = Some(r.expect("geth runs the case")));
    for (case, shared) in cases.iter().zip(shared) {
        let alone = geth.execute(case, TraceMode::Off).expect("geth runs the case");
        assert_eq!(shared.as_ref(), Some(&alone), "{} {:?} under {}", case.test, case.index, case.fork);
    }
}

/// EthereumJS on every seventh file.
#[test]
#[ignore = "needs `schism install ethereumjs`; CI runs it"]
fn ethereumjs_sample() {
    let report = conformance("ethereumjs", sample(7, &[]), 0);
    assert!(report.cases > 1500);
}

/// EthereumJS's block mode (its runner's `t8n`, a served transition tool) on every blockchain
/// test, with pass counts per fork schedule: all pass but the four on the DAO fork's block,
/// which every client skips (the engine does not model its irregular state change). About 90 s
/// on two cores (140 s of client time: the runner executes about 5 blocks a second).
#[test]
#[ignore = "needs `schism install ethereumjs`; CI runs it"]
fn ethereumjs_blockchain_tests() {
    let options = ClientOptions { timeout: Some(Duration::from_secs(600)) };
    let clients = resolve(&["ethereumjs".to_owned()], &options).unwrap_or_else(|e| panic!("{e} (run `schism install ethereumjs` first)"));
    let report =
        run(&RunOptions { paths: vec![fixtures().join("BlockchainTests")], ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.summary());
    assert!(report.input_errors.is_empty(), "fixtures failed to load: {:?}", report.input_errors);
    assert_eq!(report.sequence_count, 491);
    let c = &report.sequences["ethereumjs"];
    for (network, f) in &c.counts.per_fork {
        println!("ethereumjs {network}: pass {} fail {} skip {} error {}", f.pass, f.fail, f.skip, f.errors);
    }
    for s in &c.counts.skips {
        println!("  skip {} x{}", s.reason, s.count);
    }
    assert_eq!((c.counts.pass, c.counts.fail, c.counts.errors, c.counts.skip), (487, 0, 0, 4), "{:#?}", c.failures);
    assert_eq!(c.counts.per_fork.get("Cancun").map(|f| f.pass), Some(472));
}

/// EELS on every seventh file, less one whose case EELS does not finish in two minutes: the
/// specification is written for clarity, not speed.
#[test]
#[ignore = "needs `schism install eels`; CI runs it"]
fn eels_sample() {
    let report = conformance("eels", sample(7, &["CreateOOGafterMaxCodesize.json"]), 0);
    assert!(report.cases > 1500);
}

/// py-evm on every seventh file, less the one EELS leaves out too (over two minutes in pure
/// Python): every case passes or is a documented known difference (MODEXP with an empty base),
/// and Osaka is skipped (py-evm has no Osaka).
#[test]
#[ignore = "needs `schism install pyevm`; CI runs it"]
fn pyevm_sample() {
    let report = conformance("pyevm", sample(7, &["CreateOOGafterMaxCodesize.json"]), 0);
    assert!(report.cases > 1500);
}

/// Traces from each installed subprocess client, read through the tolerant parser, match revm's
/// step for step (pc, opcode, gas left, depth, stack) on a case with a call, storage and
/// arithmetic; geth's `--dump` post-state hashes to the root it reports.
#[test]
#[ignore = "needs `schism install all`; CI runs it"]
fn traces_match_revm() {
    for file in
        ["stExample/add11.json", "stCallCodes/callcallcall_000.json", "stCallCodes/callcall_00_OOGE.json", "stLogTests/log0_emptyMem.json"]
    {
        traces_match_revm_on(&fixtures().join("GeneralStateTests").join(file));
    }
}

fn traces_match_revm_on(path: &Path) {
    use schism_interface::TraceMode;
    let schism_interface::load::FixtureFile::State(file) = schism_interface::load::read_fixture(path).expect("fixture") else {
        panic!("a state test")
    };
    let case = schism_interface::load::expand_file(path, &file).0.remove(0);
    let revm = resolve(&["revm".to_owned()], &ClientOptions::default()).expect("revm").remove(0);
    let reference = revm.execute(&case, TraceMode::Steps).expect("revm runs").trace.expect("revm traces");
    let key = |s: &schism_interface::TraceStep| (s.pc, s.op, s.gas, s.depth, s.stack.clone());
    for id in ["geth", "eels", "ethereumjs", "pyevm"] {
        let client = resolve(&[id.to_owned()], &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}")).remove(0);
        let outcome = client.execute(&case, TraceMode::Steps).unwrap_or_else(|e| panic!("{e}"));
        let trace = outcome.trace.clone().unwrap_or_else(|| panic!("{id} gave no trace"));
        let theirs: Vec<_> = trace.iter().map(key).collect();
        let ours: Vec<_> = schism_external::parse::normalize(reference.clone()).iter().map(key).collect();
        assert_eq!(theirs, ours, "{id}'s trace differs from revm's");
        assert_eq!(outcome.status(), revm.execute(&case, TraceMode::Off).expect("revm").status(), "{id}");
        if let Some(post) = &outcome.post_state {
            assert_eq!(schism_interface::state::state_root(post), outcome.state_root, "{id}'s dump");
        }
        println!("{id}: {} steps of {}, same as revm", trace.len(), path.display());
    }
}

/// An old geth release beside another on the shared fixtures filled for Istanbul and earlier:
/// every case of the forks the releases know passes, the others are skipped, and the report
/// keeps the two releases apart.
#[test]
#[ignore = "needs `schism install geth@v1.9.16 geth@v1.9.18`; CI runs it"]
fn geth_releases_on_old_forks() {
    let state = fixtures().join("GeneralStateTests");
    let paths = vec![
        state.join("Pyspecs/frontier/opcodes/dup.json"),
        state.join("Pyspecs/byzantium/eip198_modexp_precompile/modexp.json"),
        state.join("Pyspecs/istanbul/eip1344_chainid/chainid.json"),
        state.join("stExample/add11.json"),
    ];
    let values = ["geth@v1.9.16".to_owned(), "geth@v1.9.18".to_owned(), "revm".to_owned()];
    let clients = resolve(&values, &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let report = run(&RunOptions { paths, ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.summary());
    assert!(report.input_errors.is_empty(), "{:?}", report.input_errors);
    for release in ["geth@v1.9.16", "geth@v1.9.18"] {
        let c = &report.clients[release];
        assert_eq!((c.counts.fail, c.counts.errors), (0, 0), "{release}: {:?}", c.client_errors.first());
        // Frontier..Istanbul cases of these files; their Berlin..Cancun cases are skipped.
        assert_eq!(c.counts.pass, 161, "{release}");
        assert!(c.counts.skip > 0, "{release}");
    }
    assert!(report.disagreements.is_empty(), "{:?}", report.disagreements.first());
}

/// add11 at `fork` with the code of its called account replaced, written as a state test in
/// `dir`, without an expectation (the clients are compared with each other).
fn add11_with_code(dir: &Path, name: &str, fork: &str, code: &str) -> PathBuf {
    let path = fixtures().join("GeneralStateTests/stExample/add11.json");
    let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(path).expect("add11")).expect("json");
    let test = file.get_mut("add11").expect("add11's test");
    test["pre"]["0x095e7baea6a6c7c4c2dfeb977efac326af552d87"]["code"] = serde_json::Value::String(format!("0x{code}"));
    let entry = test["post"]["Cancun"][0].clone();
    test["post"] = serde_json::json!({ fork: [entry] });
    let out = dir.join(format!("{name}.json"));
    std::fs::write(&out, serde_json::to_vec(&serde_json::json!({ name: test })).expect("json")).expect("write");
    out
}

/// An old release answers a traced case whose trace is long: its steps are read off standard
/// error before its result on standard output (waiting on the result first held the child up
/// writing a trace longer than the pipe's queue, so every traced run of more than a few hundred
/// steps gave "no answer" after the timeout, and the farm filed its findings as that).
#[test]
#[ignore = "needs `schism install geth@v1.9.16`; CI runs it"]
fn geth_1_9_answers_a_long_trace() {
    use schism_interface::TraceMode;
    let dir = tempfile::tempdir().expect("temp");
    // PUSH2 0x0400, then JUMPDEST PUSH1 1 SWAP1 SUB DUP1 PUSH1 3 JUMPI 1,024 times: 7,170 steps.
    let path = add11_with_code(dir.path(), "loop", "Istanbul", "6104005b600190038060035700");
    let Ok(schism_interface::load::FixtureFile::State(test)) = schism_interface::load::read_fixture(&path) else { panic!("a state test") };
    let case = schism_interface::load::expand_file(&path, &test).0.remove(0);
    let clients = resolve(&["revm".to_owned(), "geth@v1.9.16".to_owned(), "geth".to_owned()], &ClientOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let outcomes: Vec<_> =
        clients.iter().map(|c| c.execute(&case, TraceMode::Steps).unwrap_or_else(|e| panic!("{}: {e}", c.id()))).collect();
    let lengths: Vec<usize> = outcomes.iter().map(|o| o.trace.as_ref().map_or(0, Vec::len)).collect();
    assert!(lengths[0] > 7000, "{lengths:?}");
    // The same steps (geth's trace may lack the final STOP).
    for (outcome, length) in outcomes.iter().zip(&lengths).skip(1) {
        assert!(lengths[0].abs_diff(*length) <= 1, "{lengths:?}");
        assert_eq!(outcomes[0].state_root, outcome.state_root);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "answered in {:?}", started.elapsed());
}

/// The identity-precompile bugs, by hand: each case disagrees with revm on the buggy release and
/// agrees on the fixed one (the rediscovery targets' confirmation, without fuzzing).
#[test]
#[ignore = "needs `schism install geth@v1.9.16 geth@v1.9.17 geth@v1.10.7 geth@v1.10.8`"]
fn geth_identity_bugs_tell_releases_apart() {
    let dir = tempfile::tempdir().expect("temp");
    // Two words at 0 and 32; CALL(gas, 0x04, 0, in 0..64, out OUT..OUT+64); then WRITE; then
    // RETURNDATACOPY(0x100, 0, 64) and SSTORE(0, keccak(0x100..0x140)).
    let case = |out: &str, write: &str| {
        format!(
            "7f{}6000527f{}6020526040{out}6040600060006004{}f150{write}604060006101003e60406101002060005500",
            "11".repeat(32),
            "22".repeat(32),
            "5a"
        )
    };
    // CVE-2020-26241: the output apart (0x80), the input overwritten after the call.
    let shallow = case("6080", &format!("7f{}600052", "33".repeat(32)));
    // CVE-2021-39137: the output over the input, shifted by 32.
    let overlap = case("6020", "");
    for (name, fork, code, buggy, fixed) in
        [("shallow", "Istanbul", shallow, "geth@v1.9.16", "geth@v1.9.17"), ("overlap", "Berlin", overlap, "geth@v1.10.7", "geth@v1.10.8")]
    {
        let path = add11_with_code(dir.path(), name, fork, &code);
        for (release, disagreements) in [(buggy, 1), (fixed, 0)] {
            let report = beside_revm(&path, release);
            assert_eq!(report.cases, 1);
            assert_eq!(report.disagreements.len(), disagreements, "{name} on {release}");
        }
    }
}

/// The four @ethereumjs/evm 2.1.0 bugs (two MODEXP, CALLCODE gas, BLAKE2F), one hand-written
/// state test each (`tests/data/ethereumjs-7.1.0/`, filled from revm): each disagrees with revm on
/// ethereumjs@7.1.0 only, and passes on revm and ethereumjs@7.2.0.
#[test]
#[ignore = "needs `schism install ethereumjs@7.1.0 ethereumjs@7.2.0`; CI runs it"]
fn ethereumjs_7_bugs_tell_releases_apart() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ethereumjs-7.1.0");
    let files = collect_json_files(std::slice::from_ref(&dir)).expect("the bug cases");
    assert_eq!(files.len(), 4, "one case per bug");
    for file in files {
        for (release, disagreements) in [("ethereumjs@7.1.0", 1), ("ethereumjs@7.2.0", 0)] {
            let report = beside_revm(&file, release);
            assert_eq!(report.cases, 1, "{}", file.display());
            assert_eq!(report.disagreements.len(), disagreements, "{} on {release}", file.display());
            assert_eq!(report.clients["revm"].counts.pass, 1, "{}: revm fills the expectation", file.display());
            let passes = report.clients[release].counts.pass;
            assert_eq!(passes, 1 - disagreements, "{} on {release}", file.display());
        }
    }
}

/// Each @ethereumjs/evm 2.1.0 bug's hand case agrees with revm on 7.1.0 with that bug's fix
/// alone (`ethereumjs@7.1.0+<bug>`, what `selftest --real` tells the four apart with), traced
/// as well as not: the runner once read its opcode numbers for tracing through
/// `getActiveOpcodes()`, which rebuilt the opcode map and dropped the CALLCODE fix, so every
/// traced replay (`schism repro`) still showed the bug and the farm's finding was set aside.
#[test]
#[ignore = "needs `schism install ethereumjs@7.1.0`; CI runs it"]
fn ethereumjs_7_backports_fix_their_bug_traced_or_not() {
    use schism_interface::TraceMode;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ethereumjs-7.1.0");
    let revm = resolve(&["revm".to_owned()], &ClientOptions::default()).expect("revm").remove(0);
    for file in collect_json_files(std::slice::from_ref(&dir)).expect("the bug cases") {
        let bug = file.file_stem().and_then(|s| s.to_str()).expect("a file name");
        let schism_interface::load::FixtureFile::State(fixture) = schism_interface::load::read_fixture(&file).expect("fixture") else {
            panic!("a state test")
        };
        let case = schism_interface::load::expand_file(&file, &fixture).0.remove(0);
        let healthy = revm.execute(&case, TraceMode::Off).expect("revm runs");
        for id in ["ethereumjs@7.1.0".to_owned(), format!("ethereumjs@7.1.0+{bug}")] {
            let client = resolve(std::slice::from_ref(&id), &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}")).remove(0);
            for mode in [TraceMode::Off, TraceMode::Steps] {
                let outcome = client.execute(&case, mode).unwrap_or_else(|e| panic!("{id}: {e}"));
                let agrees = outcome.state_root == healthy.state_root;
                assert_eq!(agrees, id.contains('+'), "{id} on {bug} ({mode:?}): agrees with revm {agrees}");
            }
        }
    }
}

/// The ethereum-execution 1.17.0 bug (fixed in 2.18.0; execution-specs issue 1256), by hand
/// (`tests/data/eels-1.17.0/`, written by its `make.py`, the root revm's): a Prague set-code
/// transaction to an account already delegated to D1 whose authorization re-delegates it to
/// D2, whose code stores the cost of `BALANCE(D1)` (+7). D1 is cold: 2607, as revm and 2.18.0
/// compute; 1.17.0 resolved the old delegation (marking D1 warm) before applying the
/// authorizations: 107, 2500 gas less.
#[test]
#[ignore = "needs `schism install eels@1.17.0 eels@2.18.0`; CI runs it"]
fn eels_1_17_delegate_warm_before_authorizations_tells_releases_apart() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/eels-1.17.0/delegate-warm-before-authorizations.json");
    for (release, disagreements) in [("eels@1.17.0", 1), ("eels@2.18.0", 0)] {
        let report = beside_revm(&file, release);
        print!("{}", report.highlights(5));
        assert_eq!(report.cases, 1);
        assert_eq!(report.disagreements.len(), disagreements, "{release}");
        assert_eq!(report.clients["revm"].counts.pass, 1, "revm fills the expectation");
        assert_eq!(report.clients[release].counts.pass, 1 - disagreements, "{release}");
    }
    let clients = resolve(&["revm".to_owned(), "eels@1.17.0".to_owned()], &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let Ok(schism_interface::load::FixtureFile::State(test)) = schism_interface::load::read_fixture(&file) else { panic!("a state test") };
    let case = schism_interface::load::expand_file(&file, &test).0.remove(0);
    let gas: Vec<Option<u64>> =
        clients.iter().map(|c| c.execute(&case, schism_interface::TraceMode::Off).expect("runs").gas_used).collect();
    assert_eq!(gas, [Some(58_217), Some(55_717)], "revm pays the cold access, 1.17.0 the warm one");
}

/// Every regression fixture promoted from a release's finding (`schism selftest --real`, then
/// `schism promote --expect <fixed release>`; a state test, or a blockchain test for a block
/// sequence) still tells the releases apart: the release it guards against fails or faults on
/// it, the release it expects passes. The deterministic half of the rediscovery suite: fuzzing
/// finds these in minutes, this replays them in seconds.
#[test]
#[ignore = "needs `schism install geth@v1.9.16 geth@v1.9.17 geth@v1.9.18 geth@v1.10.7 geth@v1.10.8 ethereumjs@7.1.0 ethereumjs@7.2.0`; CI runs it"]
fn release_regressions_tell_releases_apart() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/regressions");
    let mut checked = 0;
    for file in collect_json_files(&[dir]).expect("regressions folder") {
        let Some(info) = schism_engine::triage::promote::promoted_info(&file) else { continue };
        let releases: Vec<&String> = info.guards.iter().filter(|g| g.contains('@')).collect();
        if releases.is_empty() {
            continue;
        }
        let outcome = |client: &str| {
            let clients = resolve(&[client.to_owned()], &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            let report = run(&RunOptions { paths: vec![file.clone()], ..RunOptions::default() }, &clients).expect("run starts");
            assert!(report.input_errors.is_empty(), "{}: {:?}", file.display(), report.input_errors);
            // A state test is counted per client in `clients`, a blockchain test in `sequences`.
            match (report.clients.get(client), report.sequences.get(client)) {
                (Some(c), _) if report.cases > 0 => (c.counts.pass, c.counts.fail + c.counts.errors),
                (_, Some(c)) => (c.counts.pass, c.counts.fail + c.counts.errors),
                _ => panic!("{}: {client} did not run", file.display()),
            }
        };
        assert_eq!(outcome(&info.expect), (1, 0), "{}: {} no longer passes", file.display(), info.expect);
        for release in releases {
            assert_eq!(outcome(release), (0, 1), "{}: the fixture no longer catches {release}", file.display());
            checked += 1;
        }
    }
    println!("{checked} release regressions tell their releases apart");
    assert!(checked > 0, "no regression fixture guards a release");
}

/// The @ethereumjs/evm 3.1.0 bug (vm 8.1.0, fixed in 8.1.1, pull request 3625), by hand: a
/// Cancun block of two transactions, the first creating a contract whose init code stores 1 in
/// transient slot 0 and whose code copies transient slot 0 into storage slot 0, the second
/// calling it. Transient storage is gone when a transaction ends, so slot 0 stays empty; 8.1.0
/// keeps it after a creating transaction and stores 1.
fn transient_storage_after_create() -> schism_interface::Sequence {
    use alloy_primitives::{Address, B256, Bytes, U256, address, b256};
    use schism_interface::fixture::{Account, Accounts};
    use schism_interface::sequence::{Header, Schedule, SeqBlock, SeqTx};
    use schism_interface::{Fork, Transaction, TxKind, TxValue};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    const KEY: B256 = b256!("0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
    const SENDER: Address = address!("0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b");
    // PUSH1 1 PUSH0 TSTORE; PUSH5 <code> PUSH0 MSTORE; PUSH1 5 PUSH1 27 RETURN, where the code
    // is PUSH0 TLOAD PUSH0 SSTORE STOP.
    let init = Bytes::from_static(&[0x60, 0x01, 0x5f, 0x5d, 0x64, 0x5f, 0x5c, 0x5f, 0x55, 0x00, 0x5f, 0x52, 0x60, 0x05, 0x60, 0x1b, 0xf3]);
    let tx = |nonce: u64, to: Option<Address>, data: Bytes| SeqTx {
        tx: Transaction {
            kind: TxKind::Eip1559,
            nonce,
            gas_limit: 200_000,
            to,
            value: TxValue::Value(U256::ZERO),
            data,
            gas_price: None,
            max_fee_per_gas: Some(U256::from(1000)),
            max_priority_fee_per_gas: Some(U256::from(1)),
            access_list: Vec::new(),
            max_fee_per_blob_gas: None,
            blob_versioned_hashes: Vec::new(),
            authorization_list: Vec::new(),
            secret_key: KEY,
            sender: SENDER,
        },
        raw: None,
    };
    let created = SENDER.create(0);
    let block = SeqBlock {
        header: Header {
            beneficiary: Address::repeat_byte(0xcb),
            timestamp: 1012,
            gas_limit: 30_000_000,
            parent_beacon_block_root: Some(B256::repeat_byte(1)),
            ..Header::default()
        },
        claimed: false,
        txs: vec![tx(0, None, init), tx(1, Some(created), Bytes::new())],
        withdrawals: Some(Vec::new()),
        ommers: Vec::new(),
        rlp: None,
        undecodable: None,
        expect_exception: None,
    };
    let pre: Accounts = BTreeMap::from([(SENDER, Account { balance: U256::from(10u64).pow(U256::from(20)), ..Default::default() })]);
    schism_interface::Sequence {
        file: Arc::from("tests/data/ethereumjs-8.1.0/transient-storage-after-create.json"),
        test: Arc::from("transient_storage_after_create"),
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
        blocks: vec![block],
        expected: None,
        unsupported: None,
    }
}

/// The 8.1.0 bug's hand-written block (see [`transient_storage_after_create`]): block by block,
/// revm and ethereumjs@8.1.1 agree and leave slot 0 empty, ethereumjs@8.1.0 stores 1 in the
/// second transaction; filled from revm as a blockchain test
/// (`tests/data/ethereumjs-8.1.0/transient-storage-after-create.json`, written again with
/// `SCHISM_BLESS=1`), revm and 8.1.1 pass it and 8.1.0 fails it.
#[test]
#[ignore = "needs `schism install ethereumjs@8.1.0 ethereumjs@8.1.1`; CI runs it"]
fn ethereumjs_8_transient_storage_bug_tells_releases_apart() {
    use alloy_primitives::U256;
    use schism_engine::chain::compare::compare;
    use schism_engine::compare::{Aspect, Verdict};
    use schism_interface::TraceMode;
    let seq = transient_storage_after_create();
    let ids = ["revm", "ethereumjs@8.1.1", "ethereumjs@8.1.0"].map(String::from);
    let clients = resolve(&ids, &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let runs: Vec<_> =
        clients.iter().map(|c| (c.id().to_owned(), schism_engine::chain::run(c.as_ref(), &seq, TraceMode::Off).expect("runs"))).collect();
    let created = alloy_primitives::address!("0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b").create(0);
    let slot = |i: usize| runs[i].1.state.get(&created).and_then(|a| a.storage.get(&U256::ZERO)).copied();
    assert_eq!((slot(0), slot(1), slot(2)), (None, None, Some(U256::from(1))), "slot 0 of the created contract");
    let pair = |a: usize, b: usize| compare(&[(runs[a].0.clone(), &runs[a].1), (runs[b].0.clone(), &runs[b].1)]);
    assert_eq!(pair(0, 1), Verdict::Agree);
    let Verdict::Diverge { locus, aspects, .. } = pair(0, 2) else { panic!("8.1.0 agrees with revm") };
    assert_eq!((locus.block, locus.tx), (Some(0), Some(1)), "the second transaction");
    assert!(aspects.contains(&Aspect::StateRoot), "{aspects:?}");

    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ethereumjs-8.1.0/transient-storage-after-create.json");
    let info = serde_json::json!({"comment": "schism: EIP-1153 transient storage after a contract-creating transaction (ethereumjs 8.1.0, PR 3625)"});
    let filled = schism_engine::triage::sequence::filled(clients[0].as_ref(), &seq, "transient_storage_after_create", info).expect("fills");
    if std::env::var_os("SCHISM_BLESS").is_some() {
        std::fs::create_dir_all(file.parent().expect("folder")).expect("folder");
        std::fs::write(&file, format!("{filled}\n")).expect("writes");
    }
    let kept = std::fs::read_to_string(&file).expect("the fixture (write it with SCHISM_BLESS=1)");
    assert_eq!(kept.trim_end(), filled, "revm fills the kept fixture again");
    let report = run(&RunOptions { paths: vec![file.clone()], ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.summary());
    let tally = |id: &str| {
        let c = &report.sequences[id].counts;
        (c.pass, c.fail, c.errors)
    };
    assert_eq!((tally("revm"), tally("ethereumjs@8.1.1"), tally("ethereumjs@8.1.0")), ((1, 0, 0), (1, 0, 0), (0, 1, 0)));
}

/// geth v1.9.19's and v1.9.20's `evm t8n` (the old dialects: JSON transactions, with and
/// without `--output.basedir`) run the shared transition blockchain tests of the forks they
/// know (Frontier to ConstantinopleFix, pre-Byzantium receipts with roots among them) and pass
/// every one; the others are skipped.
#[test]
#[ignore = "needs `schism install geth@v1.9.19 geth@v1.9.20`; CI runs it"]
fn geth_1_9_t8n_passes_the_old_transition_tests() {
    let paths = vec![fixtures().join("BlockchainTests/TransitionTests")];
    let values = ["geth@v1.9.19".to_owned(), "geth@v1.9.20".to_owned()];
    let clients = resolve(&values, &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let report = run(&RunOptions { paths, ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.summary());
    for release in values {
        let c = &report.sequences[&release];
        assert_eq!((c.counts.pass, c.counts.fail, c.counts.errors), (8, 0, 0), "{release}: {:?}", c.failures.first());
    }
}

/// CVE-2020-26265 (geth v1.9.19, fixed in v1.9.20): one Istanbul block of two transactions. The
/// first calls B, which calls A (`CALLER SELFDESTRUCT`: A's 0x10 wei to B) and then selfdestructs
/// to A: A, already destroyed, is credited B's 0x110 wei, and is deleted at the end of the
/// transaction with that balance still on its deleted state object. The second sends 1 wei to A:
/// geth v1.9.19 re-creates A carrying the deleted object's balance over (0x111); v1.9.20 and revm
/// give A 1 wei.
fn cve_2020_26265_sequence() -> schism_interface::Sequence {
    use alloy_primitives::{Address, B256, Bytes, U256, address, b256};
    use schism_interface::fixture::Account;
    use schism_interface::sequence::{Header, Schedule, SeqBlock, SeqTx, Sequence};
    use schism_interface::{Fork, Transaction, TxKind, TxValue};
    const KEY: B256 = b256!("0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
    const SENDER: Address = address!("0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b");
    let a = Address::with_last_byte(0xaa);
    let b = Address::with_last_byte(0xbb);
    // CALL(GAS, A, 0, 0, 0, 0, 0) POP; SELFDESTRUCT(A)
    let mut b_code = [0x60, 0x00].repeat(5);
    b_code.push(0x73);
    b_code.extend_from_slice(a.as_slice());
    b_code.extend_from_slice(&[0x5a, 0xf1, 0x50, 0x73]);
    b_code.extend_from_slice(a.as_slice());
    b_code.push(0xff);
    let pre = std::collections::BTreeMap::from([
        (SENDER, Account { balance: U256::from(10u64).pow(U256::from(18)), ..Default::default() }),
        (a, Account { balance: U256::from(0x10), nonce: 1, code: Bytes::from_static(&[0x33, 0xff]), ..Default::default() }),
        (b, Account { balance: U256::from(0x100), nonce: 1, code: b_code.into(), ..Default::default() }),
    ]);
    let tx = |nonce, to, value: u64, gas_limit| SeqTx {
        tx: Transaction {
            kind: TxKind::Legacy,
            nonce,
            gas_limit,
            to: Some(to),
            value: TxValue::Value(U256::from(value)),
            data: Bytes::new(),
            gas_price: Some(U256::from(10)),
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            access_list: Vec::new(),
            max_fee_per_blob_gas: None,
            blob_versioned_hashes: Vec::new(),
            authorization_list: Vec::new(),
            secret_key: KEY,
            sender: SENDER,
        },
        raw: None,
    };
    let genesis = Header { gas_limit: 30_000_000, timestamp: 1000, difficulty: U256::from(0x20000), ..Header::default() };
    let block = SeqBlock {
        header: Header {
            beneficiary: Address::with_last_byte(0xcc),
            timestamp: 1012,
            gas_limit: 30_000_000,
            difficulty: U256::from(0x20000),
            ..Header::default()
        },
        claimed: false,
        txs: vec![tx(0, b, 0, 100_000), tx(1, a, 1, 30_000)],
        withdrawals: None,
        ommers: Vec::new(),
        rlp: None,
        undecodable: None,
        expect_exception: None,
    };
    Sequence {
        file: std::sync::Arc::from("cve-2020-26265"),
        test: std::sync::Arc::from("selfdestructed_balance_resurrected"),
        schedule: Schedule::single(Fork::Istanbul),
        chain_id: 1,
        blob_schedule: std::collections::BTreeMap::new(),
        pre: std::sync::Arc::new(pre),
        genesis,
        blocks: vec![block],
        expected: None,
        unsupported: None,
    }
}

/// The hand-written case of CVE-2020-26265 (`tests/data/geth-v1.9.19/`, a blockchain test filled
/// from revm, checked against the sequence above; `SCHISM_REFILL=1` rewrites it) disagrees with
/// revm on geth v1.9.19 and passes on v1.9.20, both through their `evm t8n`.
#[test]
#[ignore = "needs `schism install geth@v1.9.19 geth@v1.9.20`; CI runs it"]
fn geth_cve_2020_26265_tells_releases_apart() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/geth-v1.9.19/cve-2020-26265.json");
    let revm = resolve(&["revm".to_owned()], &ClientOptions::default()).expect("revm").remove(0);
    let filled =
        schism_engine::triage::sequence::filled(revm.as_ref(), &cve_2020_26265_sequence(), "cve-2020-26265", serde_json::json!({}))
            .expect("revm fills it");
    if std::env::var_os("SCHISM_REFILL").is_some() {
        std::fs::create_dir_all(file.parent().expect("a folder")).expect("folder");
        std::fs::write(&file, &filled).expect("written");
    }
    assert_eq!(std::fs::read_to_string(&file).expect("the fixture"), filled, "the fixture is the sequence filled from revm");
    for (release, disagreements) in [("geth@v1.9.19", 1), ("geth@v1.9.20", 0)] {
        let report = beside_revm(&file, release);
        print!("{}", report.highlights(5));
        assert_eq!(report.sequence_count, 1);
        assert_eq!(report.sequence_disagreements.len(), disagreements, "{release}");
        assert_eq!(report.sequences["revm"].counts.pass, 1, "revm fills the expectation");
        assert_eq!(report.sequences[release].counts.pass, 1 - disagreements, "{release}");
    }
}

/// The sequence generator reaches CVE-2020-26265: its selfdestruct-then-resurrect strategy with
/// the three steps in one block and an even target on the selfdestruct (the child mines the
/// block, so the fees reach it after its SELFDESTRUCT), or the whole cycle from one follow with a
/// target that is a multiple of 4, compiles to a sequence on which geth
/// v1.9.19 disagrees with revm and v1.9.20 agrees (checked: the child keeps the 13,001 wei of
/// fees of its selfdestruct on v1.9.19).
#[test]
#[ignore = "needs `schism install geth@v1.9.19 geth@v1.9.20`; CI runs it"]
fn the_sequence_generator_reaches_cve_2020_26265() {
    use schism_engine::chain::{self, compare::compare};
    use schism_engine::compare::Verdict;
    use schism_engine::fuzz::program::{Blueprint, Follow};
    let mut blueprint = Blueprint::default();
    let tx = blueprint.tx.clone();
    // As three follows (create, selfdestruct, re-create) and as one (the whole cycle at once).
    for targets in [&[1u8, 0, 1][..], &[0]] {
        blueprint.follow = targets.iter().map(|&target| Follow { new_block: false, strategy: 2, target, tx: tx.clone() }).collect();
        let seq = schism_engine::fuzz::sequence::compile_sequence(&blueprint, schism_interface::Fork::Istanbul);
        for (release, diverges) in [("geth@v1.9.19", true), ("geth@v1.9.20", false)] {
            let clients = resolve(&["revm".to_owned(), release.to_owned()], &ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            let runs: Vec<(String, chain::ChainRun)> = clients
                .iter()
                .map(|c| (c.id().to_owned(), chain::run(c.as_ref(), &seq, schism_interface::TraceMode::Off).expect("runs")))
                .collect();
            let refs: Vec<(String, &chain::ChainRun)> = runs.iter().map(|(id, run)| (id.clone(), run)).collect();
            let verdict = compare(&refs);
            assert_eq!(matches!(verdict, Verdict::Diverge { .. }), diverges, "{targets:?} on {release}: {verdict:?}");
        }
    }
}
