//! `cargo fuzz run differential`: libFuzzer drives the same harness as `schism fuzz`. Edge
//! coverage comes from libFuzzer's instrumentation of every in-process client; the EVM-level
//! features are added as libFuzzer extra counters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::atomic::AtomicU8;

/// EVM-level features of the last input, read by libFuzzer next to its edge counters.
#[used]
#[unsafe(link_section = "__libfuzzer_extra_counters")]
static EXTRA_COUNTERS: [AtomicU8; 1 << 16] = [const { AtomicU8::new(0) }; 1 << 16];

fuzz_target!(|data: &[u8]| {
    schism_engine::fuzz::entry::run(data, &EXTRA_COUNTERS);
});
