//! Each in-process client on each workload: one run of the workload's cases, with the gas they
//! use as throughput, so criterion reports gas per second ("elem/s" is gas/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use schism_engine::bench::warm_up;
use schism_engine::registry::default_clients;
use schism_engine::runner::execute_guarded;
use std::hint::black_box;

fn clients(c: &mut Criterion) {
    let clients = default_clients();
    for workload in schism_benches::workloads() {
        let mut group = c.benchmark_group(format!("client/{}", workload.name));
        let mut throughput_set = false;
        for client in &clients {
            // A client that cannot run the workload, or gets it wrong, is not timed.
            let gas = match warm_up(client.as_ref(), &workload.cases) {
                Ok(gas) => gas,
                Err(why) => {
                    eprintln!("skip {} on {}: {}", client.id(), workload.name, why.reason);
                    continue;
                }
            };
            if let (false, Some(gas)) = (throughput_set, gas) {
                group.throughput(Throughput::Elements(gas));
                throughput_set = true;
            }
            group.bench_function(client.id(), |b| {
                b.iter(|| {
                    for case in &workload.cases {
                        let _ = black_box(execute_guarded(client.as_ref(), black_box(case)));
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = schism_benches::config();
    targets = clients
}
criterion_main!(benches);
