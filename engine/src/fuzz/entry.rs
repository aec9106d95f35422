//! The libFuzzer entry point (`cargo fuzz run differential`): the same harness as `schism fuzz`,
//! built once per process from the environment.
//!
//! - `SCHISM_CLIENTS`: comma-separated client ids (default: every in-process client);
//! - `SCHISM_FORK`: only this fork;
//! - `SCHISM_CRASHES`: where divergences are filed (default `crashes`);
//! - `SCHISM_KEEP_GOING=1`: file divergences and go on instead of stopping libFuzzer.

use super::{Blueprint, Harness, HarnessOptions, MAP_SIZE};
use crate::registry::{ClientOptions, resolve};
use std::cell::RefCell;

thread_local! {
    /// The harness and its feature map, reused from one input to the next.
    static HARNESS: RefCell<Option<(Harness, Vec<u8>)>> = const { RefCell::new(None) };
}

fn build() -> Harness {
    let ids: Vec<String> =
        std::env::var("SCHISM_CLIENTS").map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default();
    let clients = resolve(&ids, &ClientOptions::default()).unwrap_or_else(|e| panic!("SCHISM_CLIENTS: {e}"));
    let fork = std::env::var("SCHISM_FORK").ok().map(|f| f.parse().unwrap_or_else(|e| panic!("SCHISM_FORK: {e}")));
    let crashes = std::env::var("SCHISM_CRASHES").unwrap_or_else(|_| "crashes".to_owned()).into();
    Harness::new(HarnessOptions::new(clients, fork, crashes)).unwrap_or_else(|e| panic!("schism harness: {e}"))
}

/// Runs one libFuzzer input: decodes it into a blueprint, runs it on every client and adds the
/// EVM-level features to `counters` (libFuzzer's extra counters). Panics on a divergence, after
/// filing it, so that libFuzzer keeps the input, unless `SCHISM_KEEP_GOING=1`.
pub fn run(data: &[u8], counters: &[std::sync::atomic::AtomicU8]) {
    let blueprint = Blueprint::from_bytes(data);
    let run = HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (harness, map) = slot.get_or_insert_with(|| (build(), vec![0u8; MAP_SIZE]));
        map.fill(0);
        let run = harness.run(&blueprint, map);
        for (counter, hits) in counters.iter().zip(map.iter()) {
            if *hits != 0 {
                counter.store(*hits, std::sync::atomic::Ordering::Relaxed);
            }
        }
        run
    });
    if run.divergent && std::env::var("SCHISM_KEEP_GOING").as_deref() != Ok("1") {
        panic!("schism: divergence {} (filed under $SCHISM_CRASHES or crashes/)", run.signature.unwrap_or_default());
    }
}
