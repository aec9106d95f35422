//! The `schism` binary as a user runs it: exit codes, messages naming bad files, the report's
//! shape.

use std::path::{Path, PathBuf};
use std::process::Command;

fn schism() -> Command {
    Command::new(env!("CARGO_BIN_EXE_schism"))
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(rel)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schism-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_passing_fixture_exits_0_and_writes_the_report() {
    let dir = scratch("pass");
    let report = dir.join("report.json");
    let out = schism()
        .arg("run")
        .arg(fixture("GeneralStateTests/stExample/add11.json"))
        .arg("--report")
        .arg(&report)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report written")).expect("json");
    for key in ["clients", "disagreements", "elapsed_s"] {
        assert!(json.get(key).is_some(), "report lacks {key}");
    }
    let revm = &json["clients"]["revm"];
    for key in ["version", "pass", "fail", "skip", "failures", "skips"] {
        assert!(revm.get(key).is_some(), "client entry lacks {key}");
    }
    assert!(revm["pass"].as_u64().is_some_and(|n| n > 0));
}

#[test]
fn a_malformed_file_is_named_with_its_pointer_and_the_rest_still_runs() {
    let dir = scratch("bad");
    let good = std::fs::read_to_string(fixture("GeneralStateTests/stExample/add11.json")).expect("fixture");
    std::fs::write(dir.join("good.json"), &good).expect("write");
    std::fs::write(dir.join("broken.json"), good.replace("\"currentNumber\" : \"0x01\"", "\"currentNumber\" : \"0xnope\""))
        .expect("write");
    let out = schism().arg("run").arg(&dir).args(["--client", "revm"]).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("broken.json: at `/add11/env/currentNumber`"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("revm ") && l.contains(" 100.00%")), "{stdout}");
}

#[test]
fn usage_errors_exit_2() {
    let out = schism().args(["run", "/nonexistent/fixtures"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fixtures"));
    let out = schism().arg("run").arg(fixture("GeneralStateTests/stExample")).args(["--client", "nope"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown client `nope`"));
    let out = schism().arg("run").arg(fixture("GeneralStateTests/stExample")).args(["--fork", "Nonsense"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn clients_lists_every_client() {
    let out = schism().arg("clients").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ["revm", "levm", "sputnik"] {
        assert!(text.lines().any(|l| l.starts_with(id)), "{text}");
    }
}
