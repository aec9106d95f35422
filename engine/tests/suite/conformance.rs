//! Conformance of every in-process client against the shared public fixtures, with figures:
//! pass counts per client and fork are printed, and thresholds are asserted.
//!
//! `sample` runs in every `cargo test`; `full` (ignored by default) is the whole corpus and
//! runs in CI: `cargo test --release -p schism-engine --test suite -- --ignored conformance::full`.

use crate::util::fixtures;
use schism_engine::registry::default_clients;
use schism_engine::report::Report;
use schism_engine::runner::{RunOptions, run};
use schism_interface::Fork;
use schism_interface::load::collect_json_files;
use std::path::{Path, PathBuf};

fn run_on(paths: Vec<PathBuf>) -> Report {
    let clients = default_clients();
    assert!(!clients.is_empty(), "this build has no in-process client");
    let report = run(&RunOptions { paths, ..RunOptions::default() }, &clients).expect("run starts");
    print!("{}", report.highlights(30));
    print!("{}", report.summary());
    report
}

/// Pass rate of a client over the cases of the given forks that it executed.
fn pass_rate(report: &Report, client: &str, forks: impl Fn(Fork) -> bool) -> Option<(usize, usize)> {
    let c = report.clients.get(client)?;
    let (pass, ran) = c
        .counts
        .per_fork
        .iter()
        .filter(|(f, _)| forks(**f))
        .fold((0, 0), |(p, r), (_, n)| (p + n.pass, r + n.pass + n.fail + n.known + n.errors));
    Some((pass, ran))
}

fn assert_thresholds(report: &Report) {
    assert!(report.input_errors.is_empty(), "fixtures failed to load: {:?}", report.input_errors);
    for (id, c) in &report.clients {
        assert_eq!(c.counts.errors, 0, "{id} failed to produce outcomes: {:?}", c.client_errors.first());
    }
    if let Some((pass, ran)) = pass_rate(report, "revm", |_| true) {
        assert!(ran > 0);
        let failures = report.clients["revm"].counts.fail;
        assert_eq!(failures, 0, "revm fails cases outside its documented known differences");
        assert!(pass * 1000 >= ran * 999, "revm passes {pass}/{ran}, below 99.9%");
    }
    if let Some((pass, ran)) = pass_rate(report, "levm", |f| f >= Fork::Paris) {
        assert!(ran > 0);
        assert!(pass * 100 >= ran * 99, "levm passes {pass}/{ran} of Paris..Osaka, below 99%");
    }
    if let Some((pass, ran)) = pass_rate(report, "sputnik", |_| true) {
        println!("sputnik: {pass}/{ran} ({:.2}%)", 100.0 * pass as f64 / ran.max(1) as f64);
        assert!(ran > 0);
    }
}

/// Every seventh fixture file of both suites, skipping the few whose single case runs for
/// many seconds (they are in the full run).
#[test]
fn sample() {
    // CPU-heavy: not beside a farm that must find its canary in time.
    let _one_at_a_time = crate::util::exclusive();
    let slow = ["CALLBlake2f_MaxRounds.json", "loopMul.json", "static_Call50000_sha256.json", "Call50000_sha256.json"];
    let all =
        collect_json_files(&[fixtures().join("GeneralStateTests"), fixtures().join("osaka")]).expect("fixtures are beside the repository");
    let sample: Vec<PathBuf> = all.into_iter().filter(|p| !slow.iter().any(|s| p.ends_with(s))).step_by(7).collect();
    assert!(sample.len() > 250, "sample too small: {}", sample.len());
    let report = run_on(sample);
    assert!(report.cases > 1500, "sample expanded to only {} cases", report.cases);
    assert_thresholds(&report);
}

/// The whole of GeneralStateTests and osaka.
#[test]
#[ignore = "the full corpus takes minutes; CI runs it"]
fn full() {
    let report = run_on(vec![fixtures().join("GeneralStateTests"), fixtures().join("osaka")]);
    assert_eq!(report.cases, 17912 + 1138, "the fixture README counts 17912 + 1138 cases");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/conformance-report.json");
    if let Ok(text) = serde_json::to_vec_pretty(&report) {
        let _ = std::fs::write(&out, text);
        println!("report written to {}", out.display());
    }
    assert_thresholds(&report);
}
