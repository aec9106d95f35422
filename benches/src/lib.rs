//! # schism-benches
//!
//! Criterion benches: each in-process client on each workload of `corpus/bench` (`clients`),
//! and the differential pipeline per case (`pipeline`). This library holds what both share.

use criterion::Criterion;
use schism_engine::bench::{Workload, load_workloads};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The workload folder of this checkout.
pub fn workload_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/bench")
}

/// Every workload, in file-name order.
pub fn workloads() -> Vec<Workload> {
    let dir = workload_dir();
    load_workloads(&dir, &[]).unwrap_or_else(|e| panic!("cannot load the workloads in {}: {e}", dir.display()))
}

/// Criterion settings that keep `cargo bench` to a few minutes on a 2-core machine: the
/// workloads run tens of milliseconds each, so ten samples over two seconds are enough to
/// see a change of a few percent.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}
