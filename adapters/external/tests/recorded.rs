//! The tools that cannot be installed here (evmone, besu, nethermind, nimbus) run end to end
//! through [`External`] against a fake executable that replays hand-made recordings of their
//! output (`tests/recorded/<tool>/`, see the README there): the version command, one case per
//! process for evmone, file names over stdin for the others, with and without a trace.

use schism_external::tools::{besu::Besu, evmone::Evmone, nethermind::Nethermind, nimbus::Nimbus};
use schism_external::{External, Settings, Tool};
use schism_interface::alloy_primitives::{B256, b256};
use schism_interface::load::{FixtureFile, expand_file, read_fixture};
use schism_interface::{Case, Client, ErrorClass, Fork, InvalidTxKind, Outcome, TraceMode, TxStatus};
use std::path::{Path, PathBuf};
use std::time::Duration;

const ADD11_ROOT: B256 = b256!("e8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530");
const OUT_OF_FUNDS_ROOT: B256 = b256!("716ece27b2ad0ec9edbb6bd19f1c37b65f48f10d9c0251b309b14354353da8c7");
/// keccak256 of the RLP of an empty list: the logs hash of a transaction without logs.
const NO_LOGS: B256 = b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// The replaying executable: `--version` prints the recorded banner; otherwise every case file
/// (the last argument, or each line of stdin for batch tools) is answered with the recording
/// named after the test in the file and the mode (`trace` when `--trace` or `--json` is given).
/// Tests only: schism itself never starts a shell.
const FAKE: &str = r#"#!/bin/sh
REC="$1"; shift
if [ "$1" = "--version" ]; then cat "$REC/version.txt"; exit 0; fi
mode=plain
for a in "$@"; do case "$a" in --trace|--json) mode=trace;; esac; done
replay() {
  name=$(sed -n 's/^{"\([A-Za-z0-9_.-]*\)".*/\1/p' "$1")
  cat "$REC/$name.$mode.stdout"
  if [ -f "$REC/$name.$mode.stderr" ]; then cat "$REC/$name.$mode.stderr" >&2; fi
}
"#;

/// A fake `tool` replaying `tests/recorded/<tool>/`, in `dir`.
fn fake(dir: &Path, tool: &'static dyn Tool, batch: bool) -> External {
    let recordings = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recorded").join(tool.id());
    let body = if batch {
        "while IFS= read -r f; do [ -z \"$f\" ] && break; replay \"$f\"; done\n"
    } else {
        "for a in \"$@\"; do last=$a; done\nreplay \"$last\"\n"
    };
    // The recordings folder is baked in as the first argument of an inner script, so the tool's
    // own arguments follow it unchanged.
    let inner = dir.join(format!("{}-replay.sh", tool.id()));
    std::fs::write(&inner, format!("{FAKE}{body}")).expect("write the replay script");
    let outer = dir.join(tool.id());
    std::fs::write(&outer, format!("#!/bin/sh\nexec /bin/sh '{}' '{}' \"$@\"\n", inner.display(), recordings.display()))
        .expect("write the fake tool");
    make_executable(&outer);
    let settings = Settings { label: tool.id().to_owned(), location: outer, timeout: Some(Duration::from_secs(10)) };
    External::new(tool, settings).expect("the fake tool starts")
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) {}

/// The Cancun d0g0v0 case of a fixture file.
fn case(rel: &str) -> Case {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures").join(rel);
    let Ok(FixtureFile::State(file)) = read_fixture(&path) else { panic!("cannot read {}", path.display()) };
    let (cases, _) = expand_file(&path, &file);
    cases
        .into_iter()
        .find(|c| c.fork == Fork::Cancun && (c.index.data, c.index.gas, c.index.value) == (0, 0, 0))
        .expect("a Cancun d0g0v0 case")
}

fn add11() -> Case {
    case("GeneralStateTests/stExample/add11.json")
}

fn out_of_funds() -> Case {
    case("GeneralStateTests/stEIP1559/outOfFunds.json")
}

/// Runs `case` and returns the outcome, with the error spelled out on failure.
fn run(client: &External, case: &Case, mode: TraceMode) -> Outcome {
    client.execute(case, mode).unwrap_or_else(|e| panic!("{} on {}: {e}", client.id(), case.test))
}

/// The add11 trace: PUSH1 PUSH1 ADD PUSH1 SSTORE (the final STOP is normalised away).
fn assert_add11_trace(outcome: &Outcome) {
    let trace = outcome.trace.as_ref().expect("a trace");
    assert_eq!(trace.len(), 5, "{trace:?}");
    let first = &trace[0];
    assert_eq!((first.pc, first.op, first.gas, first.depth), (0, 0x60, 0x5c878, 1));
    assert_eq!((trace[4].pc, trace[4].op), (7, 0x55));
}

#[test]
fn evmone_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let evmone = fake(dir.path(), &Evmone, false);
    assert_eq!(evmone.version(), "0.15.0");

    let ok = run(&evmone, &add11(), TraceMode::Off);
    assert_eq!((ok.state_root, ok.logs_hash, ok.gas_used, ok.status()), (ADD11_ROOT, Some(NO_LOGS), Some(0xa868), Some(TxStatus::Success)));

    let rejected = run(&evmone, &out_of_funds(), TraceMode::Off);
    assert_eq!(rejected.state_root, OUT_OF_FUNDS_ROOT);
    assert_eq!(rejected.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::InsufficientAccountFunds)));
    assert_eq!((rejected.gas_used, rejected.logs_hash), (Some(0), Some(NO_LOGS)));

    // Without an expectation the file holds zero hashes; the failed logs check names the hash.
    let mut unfilled = add11();
    unfilled.test = "add11unfilled".into();
    unfilled.expected = None;
    let read = run(&evmone, &unfilled, TraceMode::Off);
    assert_eq!((read.state_root, read.logs_hash), (ADD11_ROOT, Some(NO_LOGS)));

    let traced = run(&evmone, &add11(), TraceMode::Steps);
    assert_eq!((traced.state_root, traced.status()), (ADD11_ROOT, Some(TxStatus::Success)));
    assert_add11_trace(&traced);
    // evmone's gasCost is the opcode's static cost: 0 for SSTORE.
    assert_eq!(traced.trace.as_ref().map(|t| t[4].gas_cost), Some(0));
}

#[test]
fn besu_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let besu = fake(dir.path(), &Besu, true);
    assert_eq!(besu.version(), "26.2.0");

    let ok = run(&besu, &add11(), TraceMode::Off);
    assert_eq!((ok.state_root, ok.logs_hash, ok.gas_used, ok.status()), (ADD11_ROOT, Some(NO_LOGS), Some(0xa868), None));

    let rejected = run(&besu, &out_of_funds(), TraceMode::Off);
    assert_eq!(rejected.state_root, OUT_OF_FUNDS_ROOT);
    assert_eq!(rejected.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::InsufficientAccountFunds)));
    assert_eq!(rejected.gas_used, Some(0), "besu's summary says gas limit - 0 for a rejection");

    let traced = run(&besu, &add11(), TraceMode::Steps);
    assert_eq!(traced.state_root, ADD11_ROOT);
    assert_add11_trace(&traced);
    assert_eq!(traced.trace.as_ref().map(|t| t[4].gas_cost), Some(0x5654));

    let mut too_much_gas = add11();
    too_much_gas.tx.gas_limit = too_much_gas.env.current_gas_limit + 1;
    assert!(besu.execute(&too_much_gas, TraceMode::Off).is_err(), "refused, not timed out");
}

#[test]
fn nethermind_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nethermind = fake(dir.path(), &Nethermind, true);
    assert_eq!(nethermind.version(), "1.35.0+1a2b3c4d");

    // Two cases through one child: the first array's closing bracket arrives with the second.
    let rejected = run(&nethermind, &out_of_funds(), TraceMode::Off);
    assert_eq!(rejected.state_root, OUT_OF_FUNDS_ROOT);
    assert_eq!(rejected.status(), Some(TxStatus::Rejected));
    let ok = run(&nethermind, &add11(), TraceMode::Off);
    assert_eq!((ok.state_root, ok.logs_hash, ok.gas_used, ok.status()), (ADD11_ROOT, None, None, Some(TxStatus::Success)));
    assert!(ok.trace.is_none());

    let traced = run(&nethermind, &add11(), TraceMode::Steps);
    assert_eq!(traced.state_root, ADD11_ROOT);
    assert_add11_trace(&traced);
}

#[test]
fn nimbus_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nimbus = fake(dir.path(), &Nimbus, true);
    assert_eq!(nimbus.version(), "0.4.0");

    let ok = run(&nimbus, &add11(), TraceMode::Off);
    assert_eq!((ok.state_root, ok.logs_hash, ok.gas_used, ok.status()), (ADD11_ROOT, Some(NO_LOGS), None, None));

    // nimbus does not report rejections: the pre-state root, and the file's (empty) logs.
    let rejected = run(&nimbus, &out_of_funds(), TraceMode::Off);
    assert_eq!((rejected.state_root, rejected.logs_hash, rejected.status()), (OUT_OF_FUNDS_ROOT, Some(NO_LOGS), None));

    let traced = run(&nimbus, &add11(), TraceMode::Steps);
    assert_eq!(traced.state_root, ADD11_ROOT);
    assert_add11_trace(&traced);
}

/// add11's root under Istanbul rules (what geth v1.9.16 and v1.10.7 print for it).
const ADD11_ISTANBUL_ROOT: B256 = b256!("cd40bb78ce3f513a73b0d380c2d9c8e04017a674bfb1dcc68314df7b0971b332");

/// Old geth releases (one process per file, the root in the error text or the expectation,
/// `--json` traces), replayed from real captured output.
#[test]
fn geth_releases_replayed() {
    use schism_external::tools::geth::GETH;
    for version in ["v1.9.16", "v1.10.7"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let tool = GETH.release(version).expect("a declared release");
        assert_eq!(tool.id(), format!("geth@{version}"));
        let geth = fake(dir.path(), tool, false);
        assert_eq!(geth.version(), format!("{}-stable", version.trim_start_matches('v')));
        assert!(geth.supports(Fork::Istanbul) && !geth.supports(Fork::MuirGlacier) && !geth.supports(Fork::Cancun));
        assert_eq!(geth.supports(Fork::Berlin), version == "v1.10.7");

        // The expectation (add11's Cancun root) is not met: the root comes from the error text.
        let mut istanbul = add11();
        istanbul.fork = Fork::Istanbul;
        let read = run(&geth, &istanbul, TraceMode::Off);
        assert_eq!((read.state_root, read.logs_hash, read.status()), (ADD11_ISTANBUL_ROOT, None, None), "{version}");

        // A passing result has no root of its own: it is the expectation.
        let mut pass = istanbul.clone();
        pass.test = "add11pass".into();
        if let Some(expected) = pass.expected.as_mut() {
            expected.hash = ADD11_ISTANBUL_ROOT;
        }
        let read = run(&geth, &pass, TraceMode::Off);
        assert_eq!((read.state_root, read.logs_hash), (ADD11_ISTANBUL_ROOT, Some(NO_LOGS)), "{version}");

        // `--json`: the steps and the root line on stderr, the root line agreeing.
        let traced = run(&geth, &istanbul, TraceMode::Steps);
        assert_eq!(traced.state_root, ADD11_ISTANBUL_ROOT);
        let trace = traced.trace.as_ref().expect("a trace");
        assert_eq!(trace.len(), 5, "{version}: {trace:?}");
        assert_eq!((trace[0].pc, trace[0].op, trace[0].gas, trace[0].depth), (0, 0x60, 0x5c878, 1));
        assert_eq!((trace[4].pc, trace[4].op), (7, 0x55));
        // Blocks go through v1.9.16's t8n (its own dialect); v1.10's dialects are not declared.
        assert_eq!(geth.block_skip(Fork::Istanbul).is_some(), version == "v1.10.7", "{version}");
    }
}
