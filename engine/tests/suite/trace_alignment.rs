//! Trace localisation is only as good as its normalisation: on conformance cases where the
//! in-process clients agree, their traces must line up step for step once per-client quirks
//! are absorbed; otherwise every report would blame an instruction that is not at fault.

use schism_engine::registry::default_clients;
use schism_engine::triage::localise::{Traced, first_difference};
use schism_interface::TraceMode;
use schism_interface::load::{FixtureFile, collect_json_files, expand_file, read_fixture};
use std::path::PathBuf;

#[test]
fn agreeing_clients_have_aligned_traces() {
    // CPU-heavy: not beside a farm that must find its canary in time.
    let _one_at_a_time = crate::util::exclusive();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/GeneralStateTests");
    // Not the performance and stress folders: their traces run to gigabytes.
    let folders = [
        "VMTests/vmArithmeticTest",
        "VMTests/vmBitwiseLogicOperation",
        "VMTests/vmIOandFlowOperations",
        "VMTests/vmLogTest",
        "stMemoryTest",
        "stSStoreTest",
        "stCallCodes",
        "stCreate2",
        "stRefundTest",
        "stReturnDataTest",
        "stShift",
        "stEIP150Specific",
        "stPreCompiledContracts",
        "Shanghai",
        "Cancun",
    ];
    let paths: Vec<PathBuf> = folders.iter().map(|f| root.join(f)).filter(|p| p.exists()).collect();
    if paths.is_empty() {
        eprintln!("skipped: no fixtures at {}", root.display());
        return;
    }
    let files = collect_json_files(&paths).expect("fixtures");
    let clients = default_clients();
    let (mut compared, mut steps, mut misaligned) = (0usize, 0usize, Vec::new());
    // Every third file keeps the test short while touching every folder.
    for file in files.iter().step_by(3) {
        let Ok(FixtureFile::State(test)) = read_fixture(file) else { continue };
        let (cases, _) = expand_file(file, &test);
        for case in cases.iter().take(2) {
            let runs: Vec<_> = clients
                .iter()
                .filter(|c| c.supports(case.fork) && !c.known_differences().iter().any(|k| (k.applies)(case)))
                .filter_map(|c| c.execute(case, TraceMode::Steps).ok().map(|o| (c, o)))
                .collect();
            if runs.len() < 2 || runs.iter().any(|(_, o)| o.state_root != runs[0].1.state_root || o.gas_used != runs[0].1.gas_used) {
                continue;
            }
            let traced: Vec<Traced<'_>> =
                runs.iter().map(|(c, o)| Traced { client: c.id(), trace: o.trace.as_ref(), fields: c.trace_fields() }).collect();
            let d = first_difference(&traced);
            compared += 1;
            steps += runs[0].1.trace.as_ref().map_or(0, Vec::len);
            if d.index.is_some() {
                let who: Vec<String> = d
                    .clients
                    .iter()
                    .filter(|c| !c.differs_in.is_empty())
                    .map(|c| format!("{} {:?} at {}", c.client, c.differs_in, c.step.as_ref().map_or(String::new(), |s| s.line())))
                    .collect();
                misaligned.push(format!("{}: {}", case.label(), who.join("; ")));
            }
        }
    }
    println!("{compared} agreeing cases, {steps} steps compared, {} misaligned", misaligned.len());
    assert!(
        misaligned.is_empty(),
        "{} cases misaligned, first: {}",
        misaligned.len(),
        misaligned.iter().take(80).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(compared > 100, "too few cases compared: {compared}");
}
