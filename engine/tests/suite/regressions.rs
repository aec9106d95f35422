//! Regression fixtures: every file `schism promote` wrote into `corpus/regressions/` is replayed
//! through every in-process client and must match its expectation (documented known
//! differences aside); a fixture promoted from a canary finding must still catch its mutant.

use schism_engine::registry::{canary_client, default_clients};
use schism_engine::runner::{RunOptions, run};
use schism_engine::triage::promote::promoted_info;
use schism_interface::TraceMode;
use schism_interface::load::{FixtureFile, collect_json_files, expand_file, read_fixture};
use std::path::PathBuf;

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/regressions")
}

#[test]
fn every_regression_fixture_holds_on_every_in_process_client() {
    let dir = regressions();
    let files = collect_json_files(std::slice::from_ref(&dir)).expect("regressions folder");
    let clients = default_clients();
    let options = RunOptions { paths: vec![dir], ..Default::default() };
    let report = run(&options, &clients).expect("run");
    assert!(report.input_errors.is_empty(), "unreadable regression fixtures: {:?}", report.input_errors);
    for (id, c) in &report.clients {
        println!(
            "{id}: {} pass, {} known, {} skip, {} fail, {} errors",
            c.counts.pass, c.counts.known, c.counts.skip, c.counts.fail, c.counts.errors
        );
    }
    println!("{} regression fixtures, {} cases", files.len(), report.cases);
    assert_eq!(report.cases, files.len(), "one case per regression fixture");
    assert!(!report.found_problems(), "a regression came back:\n{}", report.highlights(50));
}

#[test]
fn canary_regressions_still_catch_their_mutant() {
    let files = collect_json_files(&[regressions()]).expect("regressions folder");
    let mut checked = 0;
    for file in files {
        let Some(info) = promoted_info(&file) else { continue };
        let Ok(FixtureFile::State(test)) = read_fixture(&file) else { panic!("{}: not a state test", file.display()) };
        let (cases, errors) = expand_file(&file, &test);
        assert!(errors.is_empty(), "{errors:?}");
        for guard in &info.guards {
            let Some(mutant) = canary_client(guard) else { continue };
            for case in &cases {
                let outcome = mutant.execute(case, TraceMode::Off).expect("mutant runs");
                let expected = case.expected.as_ref().expect("a filled regression fixture");
                let hard: Vec<_> = expected.check(&outcome).into_iter().filter(|m| !m.is_soft()).collect();
                assert!(!hard.is_empty(), "{}: the fixture no longer catches {guard}", file.display());
                checked += 1;
            }
        }
    }
    println!("{checked} canary regressions catch their mutant");
}
