//! Fault injection: a scripted fake subprocess client (speaking geth's `evm statetest` batch
//! protocol) that answers some cases correctly, crashes on one, hangs on one, prints garbage on
//! one and exits in the middle of the batch on one. The run must complete, report every fault
//! as a finding of its kind, drop no case and count no fault as agreement.

use crate::util::scratch;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// The fake tool. Tests only: a shell script stands in for a misbehaving binary (schism itself
/// starts clients without a shell). It answers with the root the case file expects, which
/// schism writes into the file it hands over.
const FAKE_EVM: &str = r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "evm version 9.9.9-fake"; exit 0; fi
while read -r file; do
  [ -z "$file" ] && exit 0
  name=$(sed -n 's/^{"\([A-Za-z0-9_]*\)".*/\1/p' "$file")
  root=$(sed -n 's/.*"hash":"\(0x[0-9a-f]*\)".*/\1/p' "$file")
  case "$name" in
    crash*) echo "panic: runtime error: index out of range" >&2; kill -SEGV $$ ;;
    hang*) sleep 30 ;;
    garbage*) echo "this is not json at all"; continue ;;
    quit*) echo "bye" >&2; exit 0 ;;
  esac
  echo "{\"stateRoot\": \"$root\"}" >&2
  printf '[\n  {\n    "name": "%s",\n    "pass": true,\n    "stateRoot": "%s",\n    "fork": "Cancun"\n  }\n]\n' "$name" "$root"
done
"#;

fn add11() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/GeneralStateTests/stExample/add11.json");
    std::fs::read_to_string(path).expect("fixture")
}

#[test]
fn every_fault_is_a_finding_and_no_case_is_lost() {
    let _one_at_a_time = crate::util::exclusive();
    let dir = scratch("batch");
    let fake = dir.join("fake-evm");
    std::fs::write(&fake, FAKE_EVM).expect("write fake");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).expect("dir");
    let names = ["ok1", "crash1", "ok2", "hang1", "ok3", "garbage1", "ok4", "quit1", "ok5"];
    for name in names {
        std::fs::write(cases.join(format!("{name}.json")), add11().replace("\"add11\"", &format!("\"{name}\""))).expect("write case");
    }
    let report = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_schism"))
        .arg("run")
        .arg(&cases)
        .args(["--client", "revm", "--client"])
        .arg(format!("geth={}", fake.display()))
        .args(["--timeout", "1s", "--jobs", "1", "--fork", "Cancun", "--report"])
        .arg(&report)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "faults are findings: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let geth = &json["clients"]["geth"];
    assert_eq!(geth["version"], "9.9.9-fake");
    let count = |k: &str| geth[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(count("pass"), 5, "{geth:#}");
    assert_eq!(count("errors"), 4, "{geth:#}");
    assert_eq!(count("pass") + count("fail") + count("known") + count("skip") + count("errors"), names.len() as u64);
    let faults: Vec<(String, String)> = geth["client_errors"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["test"].as_str().unwrap_or("").to_owned(), e["kind"].as_str().unwrap_or("").to_owned()))
        .collect();
    for (test, kind) in [("crash1", "crashed"), ("hang1", "timeout"), ("garbage1", "malformed_output"), ("quit1", "crashed")] {
        assert!(faults.contains(&(test.to_owned(), kind.to_owned())), "{test} should be {kind}: {faults:?}");
    }
    let crash = geth["client_errors"].as_array().expect("list").iter().find(|e| e["test"] == "crash1").expect("crash entry");
    let message = crash["error"].as_str().unwrap_or("");
    assert!(message.contains("signal 11") && message.contains("index out of range"), "{message}");
    let garbage = geth["client_errors"].as_array().expect("list").iter().find(|e| e["test"] == "garbage1").expect("entry");
    assert!(garbage["error"].as_str().unwrap_or("").contains("this is not json at all"));
    // revm ran every case; no faulted case is an agreement or a disagreement.
    assert_eq!(json["clients"]["revm"]["pass"], names.len() as u64);
    assert_eq!(json["disagreements"].as_array().map(Vec::len), Some(0));
    assert!(stdout.contains("geth ERROR (timeout)"), "{stdout}");
}

#[test]
fn two_builds_of_one_client_are_two_clients() {
    let dir = scratch("two");
    let fake = dir.join("fake-evm");
    std::fs::write(&fake, FAKE_EVM).expect("write fake");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let other = dir.join("other-evm");
    std::fs::copy(&fake, &other).expect("copy");
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).expect("dir");
    std::fs::write(cases.join("add11.json"), add11()).expect("write");
    let report = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_schism"))
        .arg("run")
        .arg(&cases)
        .arg("--client")
        .arg(format!("geth={}", fake.display()))
        .arg("--client")
        .arg(format!("geth={}", other.display()))
        .args(["--fork", "Cancun", "--report"])
        .arg(&report)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let labels: Vec<&String> = json["clients"].as_object().expect("clients").keys().collect();
    assert_eq!(labels, vec![&format!("geth@{}", fake.display()), &format!("geth@{}", other.display())]);
}

#[test]
fn a_vanished_case_folder_is_made_again_and_a_dead_runs_folders_are_removed() {
    use schism_engine::registry::{ClientOptions, resolve};
    use schism_interface::load::{FixtureFile, expand_file, read_fixture};
    let dir = scratch("vanished");
    let fake = dir.join("fake-evm");
    std::fs::write(&fake, FAKE_EVM).expect("write fake");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // A folder left by a run that was killed (pid 2^22 - 1 is above Linux's default pid_max).
    let stale = std::env::temp_dir().join("schism-cases-4194303-left");
    std::fs::create_dir_all(&stale).expect("stale folder");
    let clients = resolve(&[format!("geth={}", fake.display())], &ClientOptions::default()).expect("client");
    assert!(!stale.exists(), "the dead run's case folder is removed when a client starts");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/GeneralStateTests/stExample/add11.json");
    let Ok(FixtureFile::State(file)) = read_fixture(&path) else { panic!("fixture") };
    let case = expand_file(&path, &file).0.remove(0);
    let client = &clients[0];
    client.execute(&case, schism_interface::TraceMode::Off).expect("runs");
    // Something removes this process's case folders mid-run.
    let mine = format!("schism-cases-{}-", std::process::id());
    for entry in std::fs::read_dir(std::env::temp_dir()).expect("tmp").flatten() {
        if entry.file_name().to_string_lossy().starts_with(&mine) {
            std::fs::remove_dir_all(entry.path()).expect("remove");
        }
    }
    client.execute(&case, schism_interface::TraceMode::Off).expect("the folder is made again, not a fault");
}

#[test]
fn an_unreachable_excess_blob_gas_is_refused_on_time_and_the_other_cases_run() {
    // revm 43 computes the blob base fee of an excess of 2^64-1 for hours (its 128-bit
    // fake_exponential runs about excess/fraction rounds); no header can carry such an excess.
    let _one_at_a_time = crate::util::exclusive();
    let dir = scratch("blob-excess");
    let workload = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bench/value-transfer.json");
    let text = std::fs::read_to_string(workload).expect("workload");
    std::fs::write(dir.join("fine.json"), &text).expect("write");
    let huge = text.replace("\"currentExcessBlobGas\": \"0x00\"", "\"currentExcessBlobGas\": \"0xffffffffffffffff\"");
    assert_ne!(huge, text, "the workload names its excess blob gas");
    std::fs::write(dir.join("huge.json"), huge.replace("\"value-transfer\"", "\"huge-excess\"")).expect("write");
    let report = dir.join("report.json");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_schism"))
        .arg("run")
        .arg(&dir)
        .args(["--timeout", "5s", "--client", "revm", "--client", "levm", "--client", "sputnik", "--report"])
        .arg(&report)
        .output()
        .expect("runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(took < std::time::Duration::from_secs(6), "{took:?}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    for client in ["revm", "levm", "sputnik"] {
        let entry = &json["clients"][client];
        assert!(entry["pass"].as_u64().is_some_and(|n| n >= 2), "{client}: the fine cases ran: {entry}");
        let skips = entry["skips"].to_string();
        assert!(skips.contains("unreachable input: an excess blob gas of 18446744073709551615"), "{client}: {skips}");
    }
}
