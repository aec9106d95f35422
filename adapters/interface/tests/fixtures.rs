//! Every shared fixture file parses, expands to the documented number of cases, and survives a
//! write-out and re-read unchanged.

use schism_interface::load::{FixtureFile, collect_json_files, expand_file, parse_fixture, read_fixture};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

fn cases_under(folder: &str) -> (usize, usize) {
    let files = collect_json_files(&[fixtures().join(folder)]).expect("fixtures are beside the repository");
    let mut cases = 0;
    for path in &files {
        let parsed = read_fixture(path).unwrap_or_else(|e| panic!("{e}"));
        let FixtureFile::State(file) = parsed else { panic!("{} is not a state test", path.display()) };
        let (expanded, errors) = expand_file(path, &file);
        assert!(errors.is_empty(), "{}", errors[0]);
        cases += expanded.len();
    }
    (files.len(), cases)
}

#[test]
fn every_general_state_test_parses_and_expands() {
    assert_eq!(cases_under("GeneralStateTests"), (2152, 17912));
}

#[test]
fn every_osaka_test_parses_and_expands() {
    assert_eq!(cases_under("osaka"), (30, 1138));
}

#[test]
fn blockchain_tests_are_recognised_as_such() {
    let files = collect_json_files(&[fixtures().join("BlockchainTests")]).expect("fixtures");
    assert_eq!(files.len(), 296);
    for path in files {
        assert!(matches!(read_fixture(&path), Ok(FixtureFile::Blockchain(_))), "{} not recognised as blockchain_test", path.display());
    }
}

#[test]
fn both_flavours_round_trip_through_the_writer() {
    for rel in [
        "GeneralStateTests/stExample/add11.json",
        "GeneralStateTests/Pyspecs/cancun/eip4844_blobs/blob_gas_subtraction_tx.json",
        "osaka/eip7939_count_leading_zeros/count_leading_zeros/clz_opcode_scenarios.json",
    ] {
        let path = fixtures().join(rel);
        let Ok(FixtureFile::State(file)) = read_fixture(&path) else { panic!("{rel} parses") };
        let text = serde_json::to_vec(&file).expect("serializes");
        let Ok(FixtureFile::State(again)) = parse_fixture(Path::new(rel), &text) else { panic!("{rel} re-parses") };
        assert_eq!(file, again, "{rel} changed in a round trip");
        let (a, _) = expand_file(&path, &file);
        let (b, _) = expand_file(&path, &again);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.tx, &x.expected, &x.pre, &x.env), (&y.tx, &y.expected, &y.pre, &y.env));
        }
    }
}

/// The shared state root reproduces every expected root the fixtures let us check without an
/// EVM: each execution-spec-tests post-state against its `hash`, and the pre-state of every
/// rejected transaction (which leaves the state unchanged) against its `hash`.
#[test]
fn state_root_reproduces_the_fixtures_known_roots() {
    use schism_interface::state::state_root;
    let files = collect_json_files(&[fixtures().join("osaka"), fixtures().join("GeneralStateTests")]).expect("fixtures");
    let (mut full_states, mut rejected) = (0, 0);
    for path in &files {
        let Ok(FixtureFile::State(file)) = read_fixture(path) else { panic!("{} parses", path.display()) };
        for (name, test) in &file {
            for (fork, entries) in &test.post {
                for entry in entries {
                    if let Some(state) = &entry.state {
                        assert_eq!(state_root(state), entry.hash, "{name} {fork} post.state");
                        full_states += 1;
                    }
                    if entry.expect_exception.is_some() {
                        assert_eq!(state_root(&test.pre), entry.hash, "{name} {fork} pre-state of a rejection");
                        rejected += 1;
                    }
                }
            }
        }
    }
    assert_eq!(full_states, 1138);
    assert!(rejected > 1000, "only {rejected} rejections checked");
}
