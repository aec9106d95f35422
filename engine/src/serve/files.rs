//! The one gate between a request and the disk: a path named in a URL becomes a file only when
//! it lies inside the served folder once every symlink is resolved.

use std::path::{Component, Path, PathBuf};

/// Why a requested path is not served.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The path has a component other than a plain name: `..`, `.`, a root, or a hidden name
    /// (`.inputs`, `.lock`, staging folders are the farm's, not findings).
    #[error("`{0}` is not a plain relative path")]
    NotPlain(String),
    /// No such file or folder (or it cannot be read).
    #[error("`{0}` does not exist")]
    Missing(String),
    /// It resolves (through a symlink) to somewhere outside the served folder.
    #[error("`{0}` leads outside the served folder")]
    Outside(String),
}

/// The file or folder `rel` names inside `root` (which must be canonical), canonicalised:
/// refused when `rel` is not a plain relative path of visible names, does not exist, or leads
/// outside `root` through a symlink.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, Refusal> {
    let plain = !rel.is_empty()
        && !rel.contains('\0')
        && Path::new(rel).components().all(|c| matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.')));
    // `a//b` and a trailing `/` are plain to `components`, but not the spelling of one file.
    if !plain || rel.contains("//") || rel.ends_with('/') {
        return Err(Refusal::NotPlain(rel.to_owned()));
    }
    let path = root.join(rel).canonicalize().map_err(|_| Refusal::Missing(rel.to_owned()))?;
    if !path.starts_with(root) {
        return Err(Refusal::Outside(rel.to_owned()));
    }
    Ok(path)
}

/// The Content-Type a served file is sent with: JSON as JSON, everything else as plain text
/// (nothing served is ever rendered as HTML by the browser).
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("crashes");
        std::fs::create_dir_all(root.join("sig-1/traces")).expect("mkdir");
        std::fs::write(root.join("sig-1/case.json"), "{}").expect("write");
        std::fs::write(root.join("sig-1/traces/revm.jsonl"), "").expect("write");
        std::fs::write(dir.path().join("secret"), "no").expect("write");
        std::fs::create_dir_all(root.join(".inputs")).expect("mkdir");
        let root = root.canonicalize().expect("canonical");
        (dir, root)
    }

    #[test]
    fn files_inside_are_served() {
        let (_dir, root) = site();
        assert_eq!(resolve(&root, "sig-1/case.json"), Ok(root.join("sig-1/case.json")));
        assert_eq!(resolve(&root, "sig-1/traces/revm.jsonl"), Ok(root.join("sig-1/traces/revm.jsonl")));
        assert_eq!(resolve(&root, "sig-1"), Ok(root.join("sig-1")));
    }

    #[test]
    fn dot_dot_absolute_hidden_and_odd_spellings_are_refused() {
        let (_dir, root) = site();
        for rel in [
            "../secret",
            "sig-1/../../secret",
            "sig-1/../sig-1/case.json",
            "/etc/passwd",
            "./sig-1",
            ".inputs",
            "sig-1//case.json",
            "sig-1/",
            "",
        ] {
            assert!(matches!(resolve(&root, rel), Err(Refusal::NotPlain(_))), "{rel}");
        }
        // Percent-decoding happens before this gate: a decoded `%2e%2e` is `..`; an undecoded
        // one is a name that does not exist.
        assert!(matches!(resolve(&root, "%2e%2e/secret"), Err(Refusal::Missing(_))));
        assert!(matches!(resolve(&root, "sig-1/missing.json"), Err(Refusal::Missing(_))));
    }

    #[test]
    fn symlinks_out_of_the_folder_are_refused_and_in_it_followed() {
        let (dir, root) = site();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("sig-1/leak.json")).expect("symlink");
        std::os::unix::fs::symlink(dir.path(), root.join("up")).expect("symlink");
        std::os::unix::fs::symlink(root.join("sig-1/case.json"), root.join("sig-1/alias.json")).expect("symlink");
        assert_eq!(resolve(&root, "sig-1/leak.json"), Err(Refusal::Outside("sig-1/leak.json".into())));
        assert_eq!(resolve(&root, "up/secret"), Err(Refusal::Outside("up/secret".into())));
        assert_eq!(resolve(&root, "sig-1/alias.json"), Ok(root.join("sig-1/case.json")));
    }
}
