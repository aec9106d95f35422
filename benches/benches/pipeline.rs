//! The differential pipeline per case, the unit the fuzzer's speed is made of: read the case
//! from fixture bytes, execute it on every in-process client, check each against the fixture
//! and compare them. Until the fuzzer's generator lands, loading a fixture stands in for
//! generating a case. `pipeline/value-transfer` (21000 gas) is the per-case floor; the
//! workloads show how it grows with work.

use criterion::{Criterion, criterion_group, criterion_main};
use schism_engine::bench::VALUE_TRANSFER;
use schism_engine::registry::default_clients;
use schism_engine::runner::run_case;
use schism_interface::Fork;
use schism_interface::load::{FixtureFile, expand_file, parse_fixture};
use std::hint::black_box;
use std::path::{Path, PathBuf};

/// Parses fixture bytes into the cases of `fork`.
fn load(path: &Path, bytes: &[u8], fork: Option<Fork>) -> Vec<schism_interface::Case> {
    let Ok(FixtureFile::State(file)) = parse_fixture(path, bytes) else { panic!("{} is not a readable state test", path.display()) };
    let mut cases = expand_file(path, &file).0;
    cases.retain(|c| fork.is_none_or(|f| c.fork == f));
    cases
}

fn pipeline(c: &mut Criterion) {
    let clients = default_clients();
    let mut inputs: Vec<(String, PathBuf, Vec<u8>, Option<Fork>)> =
        vec![("value-transfer".to_owned(), PathBuf::from("value-transfer.json"), VALUE_TRANSFER.as_bytes().to_vec(), Some(Fork::Prague))];
    for workload in schism_benches::workloads() {
        let path = schism_benches::workload_dir().join(format!("{}.json", workload.name));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        inputs.push((workload.name, path, bytes, None));
    }
    let mut group = c.benchmark_group("pipeline");
    for (name, path, bytes, fork) in &inputs {
        group.bench_function(name, |b| {
            b.iter(|| {
                for case in load(path, black_box(bytes), *fork) {
                    black_box(run_case(&case, &clients));
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = schism_benches::config();
    targets = pipeline
}
criterion_main!(benches);
