//! The `schism` binary as a user runs it: exit codes, messages naming bad files, the report's
//! shape.

use crate::util::{fixture, schism, scratch};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[test]
fn a_passing_fixture_exits_0_and_writes_the_report() {
    let dir = scratch("pass");
    let report = dir.join("report.json");
    let out =
        schism().arg("run").arg(fixture("GeneralStateTests/stExample/add11.json")).arg("--report").arg(&report).output().expect("runs");
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
    std::fs::write(dir.join("broken.json"), good.replace("\"currentNumber\" : \"0x01\"", "\"currentNumber\" : \"0xnope\"")).expect("write");
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

fn workloads() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/bench")
}

#[test]
fn bench_writes_one_row_per_client_with_the_documented_fields() {
    // CPU-heavy: not beside a farm that must find its canary in time.
    let _one_at_a_time = crate::util::exclusive();
    let dir = scratch("bench");
    let json = dir.join("rows.json");
    let plot = dir.join("plot.svg");
    let out = schism()
        .args(["bench", "--repeat", "1", "--workload", "compute", "--dir"])
        .arg(workloads())
        .arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("rows written")).expect("json");
    let rows = rows.as_array().expect("a list of rows");
    let mut clients: Vec<&str> = rows.iter().filter_map(|r| r["client"].as_str()).collect();
    clients.sort();
    assert_eq!(clients, ["levm", "revm", "sputnik"], "{rows:?}");
    for row in rows {
        assert_eq!(row["workload"], "compute");
        for key in ["mgas_per_s", "cases_per_s", "median_s", "min_s", "max_s", "overhead_s", "exec_s"] {
            assert!(row[key].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0), "{key} in {row}");
        }
        assert!(row["mgas_per_s"].as_f64().is_some_and(|v| v > 0.0), "{row}");
        assert_eq!(row["median_s"], row["min_s"], "one run: median = min = max");
    }
    assert!(stdout.lines().any(|l| l.starts_with("compute") && l.contains("revm")), "{stdout}");
    assert!(std::fs::read_to_string(&plot).expect("plot written").starts_with("<svg"));
}

#[test]
fn bench_usage_errors_exit_2() {
    let out = schism().args(["bench", "--workload", "nope", "--dir"]).arg(workloads()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workload `nope`"));
    let out = schism().args(["bench", "--plot", "out.png", "--dir"]).arg(workloads()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SVG"));
    let out = schism().args(["bench", "--repeat", "0"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_bench_workloads_pass_on_every_client() {
    // CPU-heavy: not beside a farm that must find its canary in time.
    let _one_at_a_time = crate::util::exclusive();
    let report = scratch("bench-run").join("report.json");
    let out = schism().arg("run").arg(workloads()).arg("--report").arg(&report).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report written")).expect("json");
    let files = json["files"].as_u64().expect("file count");
    for (id, c) in json["clients"].as_object().expect("clients") {
        assert_eq!((c["fail"].as_u64(), c["errors"].as_u64()), (Some(0), Some(0)), "{id}: {c}");
        // Every workload passes, except where a documented missing feature explains it.
        assert_eq!(c["pass"].as_u64().zip(c["known"].as_u64()).map(|(p, k)| p + k), Some(files), "{id}: {c}");
    }
}

#[test]
fn fuzz_with_two_jobs_returns_at_the_deadline_with_its_stats() {
    let _one_at_a_time = crate::util::exclusive();
    let dir = scratch("fuzz");
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let mut child = schism()
        .arg("fuzz")
        .args(["--client", "revm", "--client", "levm", "--duration", "3s", "--seed", "7"])
        .args(["--jobs", &jobs.to_string()])
        .arg("--corpus")
        .arg(dir.join("corpus"))
        .arg("--crashes")
        .arg(dir.join("crashes"))
        .arg("--stats")
        // In a folder nothing made yet, as CI's `--stats target/ci-fuzz/stats.json` is.
        .arg(dir.join("out/stats.json"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // The farm must stop by itself: wait well past the deadline, then call it hung.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            panic!("schism fuzz did not return 87s after its deadline");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut stdout).expect("read stdout");
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}: {stdout}");
    assert!(stdout.contains("executions"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("out/stats.json")).expect("stats")).expect("json");
    assert_eq!(json["jobs"].as_u64(), Some(jobs as u64), "{json}");
    assert!(json["executions"].as_u64().is_some_and(|n| n > 0), "{json}");
}

/// A crash folder from someone else: its report names a "client" that is a program to run,
/// and a signature that climbs out of the destination.
fn hostile_folder(dir: &Path, marker: &Path) -> PathBuf {
    let folder = dir.join("finding");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(fixture("GeneralStateTests/stExample/add11.json"), folder.join("case.json")).expect("case");
    let program = dir.join("evil.sh");
    std::fs::write(&program, format!("#!/bin/sh\ntouch {}\n", marker.display())).expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let report = serde_json::json!({ "signature": "../../escaped", "clients": ["revm", format!("geth={}", program.display())] });
    std::fs::write(folder.join("report.json"), report.to_string()).expect("report");
    folder
}

#[test]
fn a_crash_folder_is_data_nothing_it_names_runs() {
    let dir = scratch("hostile");
    let marker = dir.join("ran");
    let folder = hostile_folder(&dir, &marker);
    for verb in ["repro", "promote", "minimize"] {
        let out = schism().arg(verb).arg(&folder).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{verb}: {stderr}");
        assert!(stderr.contains("runs no program a folder names") && stderr.contains("--client geth="), "{verb}: {stderr}");
        assert!(!marker.exists(), "{verb} ran a program named in the folder");
    }
}

#[test]
fn promote_writes_only_inside_its_destination() {
    use schism_engine::registry::{ClientOptions, resolve};
    use schism_engine::triage::{Examiner, Triage, TriageOptions};
    let ids: Vec<String> = ["revm", "revm~sar-negative-shift"].map(String::from).to_vec();
    let Ok(clients) = resolve(&ids, &ClientOptions::default()) else {
        eprintln!("skipped: this build lacks revm");
        return;
    };
    // A real filed folder (the SAR regression fixture against its mutant) whose report's
    // signature is then edited to climb out of the destination.
    let dir = scratch("promote-escape");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/regressions/osaka-sar-a6a4911b7c12.json");
    let Ok(schism_interface::load::FixtureFile::State(test)) = schism_interface::load::read_fixture(&file) else { panic!("fixture") };
    let case = schism_interface::load::expand_file(&file, &test).0.remove(0);
    let labelled = clients.into_iter().map(|c| (c.id().to_owned(), c)).collect();
    let mut triage =
        Triage::new(Examiner::labelled(labelled), TriageOptions { crashes: dir.join("crashes"), minimise: None, deadline: None });
    let handled = triage.handle(&case, std::time::Instant::now()).expect("files").expect("a finding");
    let folder = dir.join("crashes").join(handled.signature.id());
    let path = folder.join("report.json");
    let mut report: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("report")).expect("json");
    report["signature"] = "../../escaped".into();
    std::fs::write(&path, report.to_string()).expect("edit");
    let to = dir.join("a/b/regressions");
    let out = schism().arg("promote").arg(&folder).arg("--expect").arg("revm").arg("--to").arg(&to).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("a/escaped.json").exists() && !dir.join("escaped.json").exists(), "promote wrote outside --to");
    let written: Vec<PathBuf> = std::fs::read_dir(&to).expect("to").flatten().map(|e| e.path()).collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(written[0].starts_with(&to), "{written:?}");
}

#[test]
fn careless_invocations_fail_fast_with_the_reason() {
    let dir = scratch("careless");
    // A mistyped path, or a folder without fixtures: no case is an input error, not a pass.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let out = schism().arg("run").arg(&empty).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no test case found in"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(schism().arg("run").arg(&empty).arg("--allow-empty").output().expect("runs").status.code(), Some(0));
    let missing = schism().arg("run").arg(dir.join("typo")).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("typo") || String::from_utf8_lossy(&missing.stderr).contains("typo"));
    // Bounds checked before any work.
    let add11 = fixture("GeneralStateTests/stExample/add11.json");
    assert_eq!(schism().arg("run").arg(&add11).args(["--jobs", "100000"]).output().expect("runs").status.code(), Some(2));
    assert_eq!(schism().arg("run").arg(&add11).args(["--timeout", "1e30"]).output().expect("runs").status.code(), Some(2));
    assert_eq!(schism().args(["fuzz", "--duration", "900000000y"]).output().expect("runs").status.code(), Some(2));
    // A report folder is made when missing; one under a plain file cannot be.
    std::fs::write(dir.join("plain"), b"x").expect("file");
    let started = std::time::Instant::now();
    let out =
        schism().arg("run").arg(fixture("GeneralStateTests")).arg("--report").arg(dir.join("plain/dir/r.json")).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the report path is checked before the run");
}

#[test]
fn a_fifo_named_json_is_an_input_error_and_the_rest_runs() {
    let dir = scratch("fifo");
    std::fs::copy(fixture("GeneralStateTests/stExample/add11.json"), dir.join("add11.json")).expect("copy");
    let fifo = dir.join("pipe.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let started = std::time::Instant::now();
    let out = schism().arg("run").arg(&dir).output().expect("runs");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "a FIFO is never opened");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("pipe.json") && text.contains("not a regular file"), "{text}");
    assert!(text.contains("1 cases from") || text.contains("cases from 1 files"), "add11 still ran: {text}");
}

#[test]
fn selftest_under_two_seeds_reports_each_run_and_the_kill_rate() {
    let _one_at_a_time = crate::util::exclusive();
    if schism_engine::registry::canary_client("revm~sar-negative-shift").is_none() {
        eprintln!("skipped: this build lacks revm");
        return;
    }
    let dir = scratch("selftest-seeds");
    let json = dir.join("selftest.json");
    // The SAR mutant is found in seconds; the budget only bounds a miss.
    let out = schism()
        .args(["selftest", "--seeds", "2", "--seed", "5", "--mutant", "sar-negative-shift", "--budget", "60s"])
        .arg("--crashes")
        .arg(dir.join("crashes"))
        .arg("--json")
        .arg(&json)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l.starts_with("sar-negative-shift") && l.contains(" 2/2 ")), "{stdout}");
    assert!(stdout.contains("kill rate 1/1"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json");
    let summary = &report["summary"];
    assert_eq!((summary["seeds"].as_u64(), summary["first_seed"].as_u64()), (Some(2), Some(5)), "{summary}");
    assert_eq!((summary["killed"].as_u64(), summary["mutants"].as_u64(), summary["found_in_some"].as_u64()), (Some(1), Some(1), Some(1)));
    assert_eq!(summary["budget_s"].as_f64(), Some(60.0));
    let mutant = &report["mutants"][0];
    assert_eq!((mutant["mutant"].as_str(), mutant["found"].as_bool()), (Some("sar-negative-shift"), Some(true)), "{mutant}");
    assert_eq!((mutant["found_in"].as_u64(), mutant["seeds"].as_u64()), (Some(2), Some(2)), "{mutant}");
    let runs = mutant["runs"].as_array().expect("runs");
    assert_eq!(runs.iter().map(|r| r["seed"].as_u64()).collect::<Vec<_>>(), [Some(5), Some(6)], "{mutant}");
    let seconds: Vec<f64> = runs.iter().map(|r| r["seconds"].as_f64().expect("seconds")).collect();
    // Seconds are written rounded in the JSON, so the mean is compared to within a microsecond.
    let median = mutant["median_seconds"].as_f64().expect("median");
    assert!((median - (seconds[0] + seconds[1]) / 2.0).abs() < 1e-6, "two seeds: the mean of both ({median} vs {seconds:?})");
    assert_eq!(summary["median_seconds_to_kill"], mutant["median_seconds"], "the only kill's median");
    for (run, seed) in runs.iter().zip([5, 6]) {
        assert_eq!(run["found"].as_bool(), Some(true), "{run}");
        let folder = std::path::PathBuf::from(run["folder"].as_str().expect("filed folder"));
        assert!(folder.starts_with(dir.join(format!("crashes/sar-negative-shift/seed-{seed}"))), "{}", folder.display());
        assert!(folder.join("case.json").is_file(), "{}", folder.display());
    }
}

#[test]
fn a_signal_stops_selftest_and_reports_what_finished() {
    use std::io::BufRead;
    let _one_at_a_time = crate::util::exclusive();
    if schism_engine::registry::canary_client("revm~sstore-refund").is_none() {
        eprintln!("skipped: this build lacks revm");
        return;
    }
    let dir = scratch("selftest-signal");
    let json = dir.join("selftest.json");
    // The SSTORE mutant is found in well under a second under seed 2; the BLOBHASH one takes
    // far longer than the test waits, so the signal lands in its run.
    let mut child = schism()
        .args(["selftest", "--seed", "2", "--mutant", "sstore-refund", "--mutant", "blobhash-index", "--budget", "10m"])
        .arg("--crashes")
        .arg(dir.join("crashes"))
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("selftest starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut seen = String::new();
    while !seen.lines().any(|l| l.starts_with("sstore-refund")) {
        match read.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => seen += &(line + "\n"),
            Err(e) => panic!("the first mutant never finished ({e}): {seen}"),
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    let signalled = Instant::now();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("selftest still ran 30 s after SIGTERM: {seen}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    while let Ok(line) = read.recv_timeout(Duration::from_secs(2)) {
        seen += &(line + "\n");
    }
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
    assert_eq!(status.code(), Some(130), "{seen}{stderr}");
    assert!(seen.lines().any(|l| l.starts_with("blobhash-index") && l.contains("interrupted by a signal under seed 2")), "{seen}");
    assert!(!seen.contains("NOT found"), "the cut run is no miss: {seen}");
    assert!(seen.contains("kill rate 1/1"), "the tally covers the finished mutant: {seen}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("json written")).expect("json");
    assert_eq!(report["interrupted"]["mutant"].as_str(), Some("blobhash-index"), "{report}");
    assert_eq!(report["mutants"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report["mutants"][0]["mutant"].as_str(), Some("sstore-refund"), "{report}");
}

#[test]
fn output_paths_are_checked_before_the_work() {
    // Each would otherwise measure, fuzz or minimise for minutes before failing to write. A
    // missing folder is made (a user expects that), so the bad path is one under a plain file,
    // which no one, root included, can make a folder of.
    let dir = scratch("unwritable");
    std::fs::write(dir.join("plain"), b"x").expect("file");
    let missing = dir.join("plain/schism-out/x.json");
    let commands: [&[&str]; 3] = [&["bench", "--repeat", "1", "--json"], &["fuzz", "--duration", "1h", "--stats"], &["selftest", "--json"]];
    for args in commands {
        let started = std::time::Instant::now();
        let out = schism().args(args).arg(&missing).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&*missing.to_string_lossy()), "{args:?}: {stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{args:?} worked first: {:?}", started.elapsed());
    }
}
