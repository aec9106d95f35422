//! Filing survives a SIGKILL: a farm killed while it builds a folder leaves no partial folder
//! under the crashes directory (the finding's input waits in the pending folder), and the next run
//! runs that input first and files the finding
//! whole. The farm runs healthy revm against a canary mutant, so a finding comes in seconds.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MUTANT: &str = "revm~sar-negative-shift";

fn farm(dir: &Path, seconds: u64, delay_ms: Option<u64>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_schism"));
    command
        .args(["fuzz", "--client", "revm", "--client", MUTANT, "--jobs", "1", "--seed", "5", "--no-slow"])
        .args(["--duration", &format!("{seconds}s")])
        .arg("--corpus")
        .arg(dir.join("corpus"))
        .arg("--crashes")
        .arg(dir.join("crashes"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(ms) = delay_ms {
        command.env(schism_engine::triage::folder::DELAY_ENV, ms.to_string());
    }
    command
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).map_or_else(|_| Vec::new(), |d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
}

/// Every visible folder is complete.
fn assert_whole(crashes: &Path) -> usize {
    let folders: Vec<String> = names(crashes).into_iter().filter(|n| !n.starts_with('.')).collect();
    for f in &folders {
        for file in ["case.json", "original.json", "report.md", "report.json"] {
            assert!(crashes.join(f).join(file).is_file(), "{f} lacks {file}: a partial folder");
        }
    }
    folders.len()
}

#[test]
fn a_farm_killed_while_filing_leaves_no_partial_folder_and_resumes() {
    let _one_at_a_time = crate::util::exclusive();
    if schism_engine::registry::canary_client(MUTANT).is_none() {
        eprintln!("skipped: this build lacks revm");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = dir.path().join("crashes");
    // Each file of a staged folder takes 400 ms to write: the kill lands inside the filing.
    let mut child = farm(dir.path(), 120, Some(400)).spawn().expect("schism fuzz starts");
    let started = Instant::now();
    let staging = loop {
        if let Some(s) = names(&crashes).into_iter().find(|n| n.starts_with(".staging-")) {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(100), "no filing began");
        assert!(child.try_wait().expect("wait").is_none(), "the farm ended before filing");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(600));
    // The whole process group: the launcher, its broker and its job.
    let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL).expect("kill");
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    assert!(crashes.join(&staging).is_dir(), "the kill landed after the staging folder was gone");
    assert_eq!(assert_whole(&crashes), 0, "killed before the rename: nothing filed");
    let pending = crashes.join(schism_engine::fuzz::harness::PENDING_DIR);
    assert_eq!(names(&pending).iter().filter(|n| n.ends_with(".json")).count(), 1, "the finding's input waits in the pending folder");

    // The next run runs the pending input first, removes the dead staging folder and files the
    // finding; it resumes the corpus too.
    let corpus_before = names(&dir.path().join("corpus")).len();
    let status = farm(dir.path(), 60, None).status().expect("second run");
    assert_eq!(status.code(), Some(1), "the second run finds the divergence again (exit 1)");
    assert!(corpus_before > 0, "the first run kept a corpus to resume from");
    assert!(!crashes.join(&staging).exists(), "the dead process's staging folder is removed");
    assert!(assert_whole(&crashes) >= 1, "the finding is filed whole");
    assert!(names(&pending).iter().all(|n| !n.ends_with(".json")), "the pending input is gone once filed");
}

#[test]
fn farm_jobs_die_with_a_farm_killed_by_sigkill() {
    let _one_at_a_time = crate::util::exclusive();
    let dir = tempfile::tempdir().expect("temp dir");
    let stats = dir.path().join("stats.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_schism"))
        .args(["fuzz", "--jobs", "2", "--duration", "120s", "--no-slow"])
        .arg("--corpus")
        .arg(dir.path().join("corpus"))
        .arg("--crashes")
        .arg(dir.path().join("crashes"))
        .arg("--stats")
        .arg(&stats)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("schism fuzz starts");
    let started = Instant::now();
    while !stats.is_file() {
        assert!(started.elapsed() < Duration::from_secs(60), "the farm never wrote its stats");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The main process alone, as an OOM killer or a careless `kill -9 PID` would.
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).expect("kill");
    let _ = child.wait();
    let killed = Instant::now();
    while nix::sys::signal::kill(group, None).is_ok() {
        if killed.elapsed() > Duration::from_secs(5) {
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            panic!("farm processes outlived the farm by more than 5 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("every farm process gone {:?} after the farm was killed", killed.elapsed());
}
