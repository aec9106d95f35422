//! Atomic file writes: every file schism writes for others to read (reports, statistics,
//! corpus entries, filed and promoted cases, plots) goes to a temporary file beside it and is
//! renamed into place, so a reader or a killed process never sees half a file.
//!
//! The temporary file is a `tempfile::NamedTempFile`: a unique hidden name (`.NAME.XXXXXX.tmp`,
//! which corpus loading skips like any dot file), removed on every error path.

use std::io::Write as _;
use std::path::Path;

/// The folder `path` is written in, created with its parents when missing (an output path such
/// as `--stats out/stats.json` names a folder a user expects schism to make).
fn folder_of(path: &Path) -> std::io::Result<&Path> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent)?;
            Ok(parent)
        }
        _ => Ok(Path::new(".")),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder (created when
/// missing), renamed into place.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = folder_of(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    // Opened here rather than by `Builder::tempfile_in`, for two reasons: tempfile creates
    // owner-only files (0600) while a written file should get the mode `std::fs::write` gives
    // it (0666 less the umask), since reports and corpora are shared; and tempfile's own
    // errors name the temporary file, which the caller, naming the target, knows nothing of.
    let mut file = tempfile::Builder::new().prefix(&prefix).suffix(".tmp").make_in(dir, |tmp| {
        let mut options = std::fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o666);
        options.open(tmp)
    })?;
    file.as_file_mut().write_all(bytes)?;
    // On failure the returned temporary file is dropped, which removes it.
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Checks, before any work, that [`write()`] to `path` can succeed: its folder exists (it is
/// created when missing, as [`write()`] would) and takes a new file (a temporary one, removed at
/// once), and `path` is not a folder.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a folder"));
    }
    let dir = folder_of(path)?;
    tempfile::Builder::new().prefix(".schism-check.").tempfile_in(dir).map(drop)
}

/// Writes `value` as pretty-printed JSON to `path` atomically.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    write(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn a_missing_folder_is_created_by_the_check_and_the_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ci-fuzz/nested/stats.json");
        check_writable(&path).expect("a missing folder is made, as `--stats out/stats.json` needs");
        assert!(path.parent().expect("parent").is_dir());
        assert!(!path.exists(), "the check writes no file");
        let other = dir.path().join("fresh/report.json");
        write(&other, b"{}").expect("write makes its folder too");
        assert_eq!(std::fs::read(&other).expect("read"), b"{}");
        // A folder cannot be made under a file: the error comes back, nothing panics.
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        assert!(check_writable(&blocker.join("stats.json")).is_err());
        assert!(check_writable(dir.path()).is_err(), "a folder is not a file to write");
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("report.json");
        write(&path, b"one").expect("writes");
        write(&path, b"two").expect("overwrites");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert!(leftovers(dir.path()).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            let plain = dir.path().join("plain");
            std::fs::write(&plain, b"x").expect("write");
            assert_eq!(mode & 0o777, std::fs::metadata(&plain).expect("stat").permissions().mode() & 0o777, "same mode as fs::write");
        }
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A non-empty folder where the file should go: the rename fails.
        let target = dir.path().join("taken");
        std::fs::create_dir_all(target.join("inside")).expect("mkdir");
        assert!(write(&target, b"x").is_err());
        assert!(leftovers(dir.path()).is_empty());
        // The error is the cause alone: the caller names the target, not the temporary file.
        std::fs::write(dir.path().join("plain"), b"x").expect("write");
        let error = write(&dir.path().join("plain/file.json"), b"x").expect_err("a file is no folder");
        assert_eq!(error.raw_os_error(), Some(17), "EEXIST alone, from making the folder: {error}");
    }
}
