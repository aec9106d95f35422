//! The fuzzing farm through the library: a few seconds on revm and levm, then a second run on
//! the same corpus folder that picks up where the first stopped.
//!
//! A test binary of its own, the one exception to the engine's single test suite: the farm's
//! Launcher forks this process, and a fork is only safe while no other test thread is alive
//! (the suite runs its tests on many threads).

use schism_engine::deadline::Bounded;
use schism_engine::fuzz::farm::{self, ClientFactory, FarmOptions, FarmSummary};
use schism_engine::registry::{self, ClientOptions};
use schism_interface::{Case, Client, ClientError, Outcome, TraceMode};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn clients() -> Vec<String> {
    vec!["revm".to_owned(), "levm".to_owned()]
}

fn run(dir: &Path, seconds: u64, seed: u64) -> FarmSummary {
    let options = FarmOptions {
        clients: ClientFactory::registry(clients(), ClientOptions::default()),
        jobs: 1,
        duration: Some(Duration::from_secs(seconds)),
        corpus: dir.join("corpus"),
        crashes: dir.join("crashes"),
        fork: None,
        seed: Some(seed),
        stats: Some(dir.join("stats.json")),
        status: false,
        set_aside: Vec::new(),
        sought: None,
        stop_on_divergence: false,
        minimise: None,
        slow: None,
        sequences: schism_engine::fuzz::harness::DEFAULT_SEQUENCE_SHARE,
        keep_inputs: schism_engine::fuzz::farm::DEFAULT_KEEP_INPUTS,
        node: Default::default(),
        metrics: None,
    };
    farm::fuzz(&options).expect("the farm runs")
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("corpus folder")
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

// One test, so the two runs are sequential and no other test thread is alive while the farm
// forks.
#[test]
fn a_farm_fuzzes_keeps_its_corpus_writes_its_stats_and_resumes() {
    if registry::resolve(&clients(), &ClientOptions::default()).is_err() {
        eprintln!("skipped: this build lacks revm or levm");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");

    let first = run(dir.path(), 3, 1);
    let s = &first.stats;
    assert!(s.executions > 0, "{s:?}");
    assert_eq!((s.jobs, s.resumed_from, s.loaded), (1, 0, 0), "{s:?}");
    assert!(s.generated > 0 && s.corpus > 0 && s.features > 0, "{s:?}");
    assert!(s.execs_per_sec > 0.0 && s.elapsed_s >= 3.0, "{s:?}");
    let saved = entries(&dir.path().join("corpus"));
    assert!(saved > 0, "no corpus entry on disk");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stats.json")).expect("stats written")).expect("json");
    for key in [
        "executions",
        "elapsed_s",
        "execs_per_sec",
        "corpus",
        "features",
        "divergences",
        "mean_opcodes_per_case",
        "deep_case_share",
        "opcodes_reached",
        "precompiles_reached",
        "per_client",
        "jobs",
    ] {
        assert!(json.get(key).is_some(), "stats lack {key}: {json}");
    }
    for client in clients() {
        let entry = &json["per_client"][&client];
        assert!(entry["cases"].as_u64().is_some_and(|n| n > 0), "{client}: {json}");
        assert!(entry["seconds"].as_f64().is_some(), "{client}: {json}");
    }
    assert_eq!(json["executions"].as_u64(), Some(s.executions), "the file holds the final figures");

    let second = run(dir.path(), 2, 2);
    let r = &second.stats;
    assert_eq!(r.resumed_from, saved, "{r:?}");
    assert!(r.loaded > 0 && r.loaded as usize <= saved, "{r:?}");
    assert_eq!(r.generated, 0, "a resumed farm generates nothing: {r:?}");
    assert!(entries(&dir.path().join("corpus")) >= saved);

    // A farm told to stop at the first divergence does, long before its deadline: revm against
    // a build of itself that undercharges EXP.
    let canary = dir.path().join("canary");
    let options = FarmOptions {
        clients: ClientFactory::new(|| registry::canary_clients("exp-gas")),
        jobs: 1,
        duration: Some(Duration::from_secs(120)),
        corpus: canary.join("corpus"),
        crashes: canary.join("crashes"),
        fork: None,
        seed: Some(3),
        stats: None,
        status: false,
        set_aside: Vec::new(),
        sought: None,
        stop_on_divergence: true,
        minimise: Some(schism_engine::triage::Budget::default()),
        slow: None,
        // Single transactions only: the opcode canary is to be blamed on its instruction.
        sequences: 0.0,
        keep_inputs: schism_engine::fuzz::farm::DEFAULT_KEEP_INPUTS,
        node: Default::default(),
        metrics: None,
    };
    let stopped = farm::fuzz(&options).expect("the farm runs");
    let c = &stopped.stats;
    let first = c.first_finding.clone().expect("the canary is found");
    assert!(c.divergences > 0 && c.elapsed_s < 100.0, "{c:?}");
    assert!(first.executions > 0 && first.executions <= c.executions, "{c:?}");
    // Filed before the farm stopped: a whole folder, minimised to a handful of instructions.
    let folder = first.folder.clone().expect("a folder");
    assert!(folder.join("report.json").is_file() && folder.join("case.json").is_file(), "{folder:?}");
    assert!(first.instructions_after.is_some_and(|n| n <= 10), "{first:?}");
    assert!(first.signature.starts_with("exp-"), "EXP is blamed: {}", first.signature);

    // The sequence-only canary: a build of revm whose transactions read slots written earlier
    // in their block at their block-start values, found by fuzzing block sequences and filed
    // as a blockchain test.
    let stale = dir.path().join("stale");
    let options = FarmOptions {
        clients: ClientFactory::new(|| registry::canary_clients("stale-slot-in-block")),
        jobs: 1,
        duration: Some(Duration::from_secs(120)),
        corpus: stale.join("corpus"),
        crashes: stale.join("crashes"),
        fork: None,
        seed: Some(3),
        stats: None,
        status: false,
        set_aside: Vec::new(),
        sought: None,
        stop_on_divergence: true,
        minimise: Some(schism_engine::triage::Budget::default()),
        slow: None,
        sequences: 1.0,
        keep_inputs: schism_engine::fuzz::farm::DEFAULT_KEEP_INPUTS,
        node: Default::default(),
        metrics: None,
    };
    let stopped = farm::fuzz(&options).expect("the farm runs");
    let first = stopped.stats.first_finding.clone().expect("the sequence canary is found");
    assert!(first.signature.starts_with("seq-"), "{first:?}");
    let folder = first.folder.clone().expect("a folder");
    let case = std::fs::read_to_string(folder.join("case.json")).expect("case.json");
    assert!(case.contains("\"genesisRLP\"") && case.contains("\"blocks\""), "a blockchain test");
    assert!(stopped.stats.sequences > 0);

    // An in-process client that hangs: its jobs run clients on their own thread, so the
    // watchdog aborts the job past the deadline, the restarter starts it again, and the new job
    // files the input as the client's timeout before fuzzing on.
    let hang = dir.path().join("hang");
    let options = FarmOptions {
        clients: ClientFactory::new(|| {
            let revm = registry::resolve(&["revm".to_owned()], &ClientOptions::default())?;
            let hangs: Arc<dyn Client> = Arc::new(Bounded::new(Arc::new(HangsOnSelfbalance(revm[0].clone())), Duration::from_secs(1)));
            Ok(vec![revm[0].clone(), hangs])
        }),
        jobs: 1,
        duration: Some(Duration::from_secs(25)),
        corpus: hang.join("corpus"),
        crashes: hang.join("crashes"),
        fork: Some(schism_interface::Fork::Cancun),
        seed: Some(1),
        stats: None,
        status: false,
        set_aside: Vec::new(),
        sought: None,
        stop_on_divergence: false,
        minimise: None,
        slow: None,
        sequences: 0.0,
        keep_inputs: schism_engine::fuzz::farm::DEFAULT_KEEP_INPUTS,
        node: Default::default(),
        metrics: None,
    };
    let started = std::time::Instant::now();
    let hung = farm::fuzz(&options).expect("the farm runs");
    assert!(started.elapsed() < Duration::from_secs(60), "the farm ends on time: {:?}", started.elapsed());
    assert!(hung.stats.executions > 0 && hung.stats.restarts > 0, "{:?}", hung.stats);
    let reports: Vec<String> = walk(&hang.join("crashes"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "report.json"))
        .map(|p| std::fs::read_to_string(p).expect("report"))
        .collect();
    assert!(
        reports.iter().any(|r| r.contains("timeout") && r.contains("hangs-on-selfbalance")),
        "a timeout of the hanging client is filed: {reports:?}"
    );
    let left = std::fs::read_dir(hang.join("crashes/.hung")).map_or(0, |d| d.count());
    assert_eq!(left, 0, "every hung input was filed");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// revm, except that a case whose code holds the byte of SELFBALANCE (0x47) takes it 20 s.
struct HangsOnSelfbalance(Arc<dyn Client>);

impl Client for HangsOnSelfbalance {
    fn id(&self) -> &str {
        "hangs-on-selfbalance"
    }
    fn version(&self) -> &str {
        "0"
    }
    fn supports(&self, fork: schism_interface::Fork) -> bool {
        self.0.supports(fork)
    }
    fn execute(&self, case: &Case, mode: TraceMode) -> Result<Outcome, ClientError> {
        if case.pre.values().any(|a| a.code.contains(&0x47)) {
            std::thread::sleep(Duration::from_secs(20));
        }
        self.0.execute(case, mode)
    }
}
