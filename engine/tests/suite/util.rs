//! Helpers shared by the suite's modules.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// The shared conformance fixtures beside the repository.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// One fixture file or folder under [`fixtures`].
pub fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// The `schism` binary, as a user runs it.
pub fn schism() -> Command {
    Command::new(env!("CARGO_BIN_EXE_schism"))
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schism-suite-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Held by tests that run a farm, time something or keep both cores busy: they run one at a
/// time, so that the suite's other threads do not starve a farm that must find a canary
/// within its deadline.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
