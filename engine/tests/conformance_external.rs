//! Conformance of the installable subprocess clients (geth, eels, ethereumjs) against the shared
//! fixtures, with pass counts per fork printed and thresholds asserted. The clients must be
//! installed first (`schism install all`), so these tests are ignored by default; CI installs
//! them and runs `cargo test --release -p schism-engine --test conformance_external -- --ignored`.

use schism_engine::registry::{ClientOptions, resolve};
use schism_engine::report::Report;
use schism_engine::runner::{RunOptions, run};
use schism_interface::load::collect_json_files;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// Every `step`-th fixture file of both suites (sorted by path), without the four whose single
/// case runs for many seconds in every client and any `also_slow` for this client.
fn sample(step: usize, also_slow: &[&str]) -> Vec<PathBuf> {
    let slow = ["CALLBlake2f_MaxRounds.json", "loopMul.json", "static_Call50000_sha256.json", "Call50000_sha256.json"];
    let mut all = collect_json_files(&[fixtures().join("GeneralStateTests"), fixtures().join("osaka")])
        .expect("fixtures are beside the repository");
    all.sort();
    all.into_iter().filter(|p| !slow.iter().chain(also_slow).any(|s| p.ends_with(s))).step_by(step).collect()
}

/// Runs `client` on `paths`, prints the figures, and checks what every client must meet: no
/// input errors, no faults, no failure outside documented known differences beyond `max_fail`.
fn conformance(client: &str, paths: Vec<PathBuf>, max_fail: usize) -> Report {
    // Generous timeouts: the point of this test is conformance, not speed (KZG setup loading,
    // interpreters).
    let options = ClientOptions { timeout: Some(Duration::from_secs(120)) };
    let clients = resolve(&[client.to_owned()], &options).unwrap_or_else(|e| panic!("{e} (run `schism install {client}` first)"));
    let report = run(&RunOptions { paths, ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.highlights(40));
    print!("{}", report.summary());
    assert!(report.input_errors.is_empty(), "fixtures failed to load: {:?}", report.input_errors);
    let c = &report.clients[client];
    assert_eq!(c.errors, 0, "{client} faulted: {:?}", c.client_errors.first());
    assert!(c.fail <= max_fail, "{client} fails {} cases outside its known differences (at most {max_fail} expected)", c.fail);
    assert!(c.pass > 0);
    report
}

/// geth on the whole of both suites: every case passes or is a documented known difference.
#[test]
#[ignore = "needs `schism install geth`; CI runs it"]
fn geth_full() {
    let report = conformance("geth", vec![fixtures().join("GeneralStateTests"), fixtures().join("osaka")], 0);
    assert_eq!(report.cases, 17912 + 1138);
}

/// EthereumJS on every seventh file.
#[test]
#[ignore = "needs `schism install ethereumjs`; CI runs it"]
fn ethereumjs_sample() {
    let report = conformance("ethereumjs", sample(7, &[]), 0);
    assert!(report.cases > 1500);
}

/// EELS on every seventh file, less one whose case EELS does not finish in two minutes: the
/// specification is written for clarity, not speed.
#[test]
#[ignore = "needs `schism install eels`; CI runs it"]
fn eels_sample() {
    let report = conformance("eels", sample(7, &["CreateOOGafterMaxCodesize.json"]), 0);
    assert!(report.cases > 1500);
}
