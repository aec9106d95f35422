//! Regression fixtures: every file `schism promote` wrote into `corpus/regressions/` (a state
//! test, or a blockchain test for a block-sequence finding) is replayed through every
//! in-process client and must match its expectation (documented known differences aside); a
//! fixture promoted from a canary finding must still catch its mutant.

use schism_engine::registry::{canary_client, default_clients};
use schism_engine::runner::{RunOptions, run};
use schism_engine::triage::promote::promoted_info;
use schism_interface::TraceMode;
use schism_interface::load::{FixtureFile, collect_json_files, expand_file, read_fixture};
use schism_interface::sequence::blockchain::sequences_of_file;
use std::path::{Path, PathBuf};

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus/regressions")
}

/// Replays every fixture in `dir` through every in-process client: each holds, one case or
/// block sequence per file. The number of files.
pub fn hold_on_in_process_clients(dir: &Path) -> usize {
    let files = collect_json_files(&[dir.to_path_buf()]).expect("regressions folder");
    let clients = default_clients();
    let options = RunOptions { paths: vec![dir.to_path_buf()], ..Default::default() };
    let report = run(&options, &clients).expect("run");
    assert!(report.input_errors.is_empty(), "unreadable regression fixtures: {:?}", report.input_errors);
    for (id, c) in &report.clients {
        println!(
            "{id}: {} pass, {} known, {} skip, {} fail, {} errors",
            c.counts.pass, c.counts.known, c.counts.skip, c.counts.fail, c.counts.errors
        );
    }
    for (id, c) in &report.sequences {
        println!(
            "{id} (block sequences): {} pass, {} skip, {} fail, {} errors",
            c.counts.pass, c.counts.skip, c.counts.fail, c.counts.errors
        );
    }
    println!("{} regression fixtures, {} cases, {} block sequences", files.len(), report.cases, report.sequence_count);
    assert_eq!(report.cases + report.sequence_count, files.len(), "one case or sequence per regression fixture");
    assert!(!report.found_problems(), "a regression came back:\n{}", report.highlights(50));
    files.len()
}

/// Replays every fixture in `dir` promoted from a canary finding on its mutant, which must
/// still fail it. The number of (fixture, mutant) pairs checked.
pub fn catch_their_mutants(dir: &Path) -> usize {
    let files = collect_json_files(&[dir.to_path_buf()]).expect("regressions folder");
    let mut checked = 0;
    for file in files {
        let Some(info) = promoted_info(&file) else { continue };
        let fixture = read_fixture(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for guard in &info.guards {
            let Some(mutant) = canary_client(guard) else { continue };
            match &fixture {
                FixtureFile::State(test) => {
                    let (cases, errors) = expand_file(&file, test);
                    assert!(errors.is_empty(), "{errors:?}");
                    for case in &cases {
                        let outcome = mutant.execute(case, TraceMode::Off).expect("mutant runs");
                        let expected = case.expected.as_ref().expect("a filled regression fixture");
                        let hard: Vec<_> = expected.check(&outcome).into_iter().filter(|m| !m.is_soft()).collect();
                        assert!(!hard.is_empty(), "{}: the fixture no longer catches {guard}", file.display());
                        checked += 1;
                    }
                }
                FixtureFile::Blockchain(tests) => {
                    let (seqs, errors) = sequences_of_file(&file, tests);
                    assert!(errors.is_empty(), "{errors:?}");
                    for seq in &seqs {
                        let caught = match schism_engine::chain::run(mutant.as_ref(), seq, TraceMode::Off) {
                            Ok(chain) => !schism_engine::chain::check(seq, &chain).is_empty(),
                            Err(_) => true,
                        };
                        assert!(caught, "{}: the fixture no longer catches {guard}", file.display());
                        checked += 1;
                    }
                }
            }
        }
    }
    checked
}

#[test]
fn every_regression_fixture_holds_on_every_in_process_client() {
    hold_on_in_process_clients(&regressions());
}

#[test]
fn canary_regressions_still_catch_their_mutant() {
    let checked = catch_their_mutants(&regressions());
    println!("{checked} canary regressions catch their mutant");
}
