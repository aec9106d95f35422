//! Compiling fuzz inputs, the largest part of the harness's own work per case: the blueprints
//! of `corpus/bench-fuzz` (the inputs `schism bench --corpus` replays) compiled to cases and,
//! for those with transactions to follow, to block sequences, with a hot cache. Beside the
//! replay's per-run medians (taken between client runs, with a cold cache), this says what
//! compilation itself costs.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use schism_engine::fuzz::Blueprint;
use schism_engine::fuzz::compile::{choose_fork, compile};
use schism_engine::fuzz::harness::DEFAULT_SEQUENCE_SHARE;
use schism_engine::fuzz::sequence::compile_sequence;
use schism_interface::Fork;
use std::hint::black_box;
use std::path::Path;

/// The forks the default in-process clients share, which the farm chooses among.
const FORKS: [Fork; 4] = [Fork::Paris, Fork::Shanghai, Fork::Cancun, Fork::Prague];

/// The blueprints of the bench corpus, with the fork each is compiled under.
fn inputs() -> Vec<(Blueprint, Fork)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/bench-fuzz");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| {
            let blueprint: Blueprint = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
            let fork = choose_fork(blueprint.fork, &FORKS)?;
            Some((blueprint, fork))
        })
        .collect()
}

fn compiling(c: &mut Criterion) {
    let all = inputs();
    // Which inputs the farm runs as block sequences, by its default share (the harness's rule).
    let below = (DEFAULT_SEQUENCE_SHARE.clamp(0.0, 1.0) * 256.0) as u16;
    let (sequences, singles): (Vec<_>, Vec<_>) = all.into_iter().partition(|(b, _)| !b.follow.is_empty() && u16::from(b.sequence) < below);
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Elements(singles.len() as u64));
    group.bench_function("case", |b| {
        b.iter(|| {
            for (blueprint, fork) in &singles {
                black_box(compile(black_box(blueprint), *fork));
            }
        })
    });
    group.throughput(Throughput::Elements(sequences.len() as u64));
    group.bench_function("sequence", |b| {
        b.iter(|| {
            for (blueprint, fork) in &sequences {
                black_box(compile_sequence(black_box(blueprint), *fork));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = schism_benches::config();
    targets = compiling
}
criterion_main!(benches);
