//! `schism install`: puts the installable subprocess clients (those whose declaration has a
//! [`Recipe`]: geth from the Go module proxy, EELS and py-evm from PyPI, EthereumJS from npm) into the
//! project-local tools folder, at pinned versions, without root. Idempotent: a client already
//! installed at its pinned version is left alone. A missing toolchain (go, python3, node/npm)
//! is a clear error naming it; the other clients are still installed.

use crate::registry::CLIENTS;
use schism_external::tools::Recipe;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The clients `schism install` knows: every client whose declaration has a recipe.
pub fn installable() -> Vec<&'static str> {
    CLIENTS.iter().filter(|e| e.tool().and_then(|t| t.recipe()).is_some()).map(|e| e.id).collect()
}

/// Why a client could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A toolchain the installation needs is not on `PATH`.
    #[error("installing {client} needs `{program}` ({what}), which is not on PATH")]
    MissingToolchain {
        /// The client.
        client: &'static str,
        /// The program looked for.
        program: &'static str,
        /// What provides it.
        what: &'static str,
    },
    /// A step failed.
    #[error("installing {client}: `{command}` failed: {reason}")]
    Step {
        /// The client.
        client: &'static str,
        /// The command line.
        command: String,
        /// Exit status or OS error.
        reason: String,
    },
    /// A file could not be written.
    #[error("installing {client}: cannot write {}: {source}", path.display())]
    Io {
        /// The client.
        client: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A release the client's declaration does not describe.
    #[error("cannot install `{client}`: {reason}")]
    Release {
        /// The value given.
        client: String,
        /// Why.
        reason: String,
    },
    /// Not an installable client.
    #[error("`{client}` cannot be installed by schism (installable: {installable}, all); other clients take --client ID=/path/to/binary")]
    Unknown {
        /// The name given.
        client: String,
        /// The installable clients.
        installable: String,
    },
}

/// What happened to one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// It was installed now.
    Fresh,
    /// It was already there at the pinned version.
    AlreadyThere,
}

/// Installs `client` (one of [`installable`], or a release of one, `geth@v1.9.16`) into
/// `tools`, by its declaration's recipe; a release goes to `<tools>/<id>@<version>/`.
pub fn install(client: &str, tools: &Path) -> Result<Installed, InstallError> {
    let unknown = || InstallError::Unknown { client: client.to_owned(), installable: installable().join(", ") };
    let (id, recipe) = match client.split_once('@') {
        Some((base, version)) => {
            let entry = CLIENTS.iter().find(|e| e.id == base).ok_or_else(unknown)?;
            let tool = entry.release(version).map_err(|e| InstallError::Release { client: client.to_owned(), reason: e.to_string() })?;
            (tool.id(), tool.recipe().ok_or_else(unknown)?)
        }
        None => CLIENTS.iter().find(|e| e.id == client).and_then(|e| Some((e.id, e.tool()?.recipe()?))).ok_or_else(unknown)?,
    };
    let location = recipe.location(tools, id);
    match recipe {
        Recipe::Go { module, version, ldflags, .. } => install_go(id, module, version, ldflags, &location),
        Recipe::Pip { package, version } => install_pip(id, package, version, &location),
        Recipe::Npm { files } => install_npm(id, files, &location),
    }
}

/// `go install [-ldflags=…] module@version` with the binary at `binary`.
fn install_go(client: &'static str, module: &str, version: &str, ldflags: Option<&str>, binary: &Path) -> Result<Installed, InstallError> {
    let pinned = version.trim_start_matches('v');
    if output_of(binary, ["--version"]).is_some_and(|v| v.contains(&format!("{pinned}-stable")) || v.contains(&format!(" {pinned}"))) {
        return Ok(Installed::AlreadyThere);
    }
    need(client, "go", "the Go toolchain")?;
    let bin = binary.parent().unwrap_or(binary);
    let mut command = Command::new("go");
    command.arg("install");
    if let Some(flags) = ldflags {
        command.arg(format!("-ldflags={flags}"));
    }
    command.arg(format!("{module}@{version}")).env("GOBIN", absolute(bin)).env("CGO_ENABLED", "1");
    run(client, &mut command)?;
    Ok(Installed::Fresh)
}

/// A virtualenv whose interpreter is `python`, with `package==version`.
fn install_pip(client: &'static str, package: &str, version: &str, python: &Path) -> Result<Installed, InstallError> {
    let probe = format!("import importlib.metadata as m; print(m.version('{package}'))");
    if output_of(python, ["-c", &probe]).is_some_and(|v| v.trim() == version) {
        return Ok(Installed::AlreadyThere);
    }
    need(client, "python3", "CPython 3.11 or newer with venv")?;
    let venv = python.parent().and_then(Path::parent).unwrap_or(python);
    if !python.exists() {
        run(client, Command::new("python3").args([OsStr::new("-m"), OsStr::new("venv"), venv.as_os_str()]))?;
    }
    let spec = format!("{package}=={version}");
    run(client, Command::new(python).args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", &spec]))?;
    Ok(Installed::Fresh)
}

/// `npm ci` in `dir` over `files`.
fn install_npm(client: &'static str, files: &'static [(&'static str, &'static str)], dir: &Path) -> Result<Installed, InstallError> {
    // Packages in place and this build's: at most the runner to bring up to date.
    if dir.join("node_modules").is_dir()
        && let Ok(rewritten) = (Recipe::Npm { files }).refresh(dir, client)
    {
        return Ok(if rewritten { Installed::Fresh } else { Installed::AlreadyThere });
    }
    need(client, "node", "Node.js 20 or newer")?;
    need(client, "npm", "npm")?;
    std::fs::create_dir_all(dir).map_err(|source| InstallError::Io { client, path: dir.to_path_buf(), source })?;
    for (name, text) in files {
        let path = dir.join(name);
        crate::atomic::write(&path, text.as_bytes()).map_err(|source| InstallError::Io { client, path, source })?;
    }
    let mut command = Command::new("npm");
    command.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(dir);
    run(client, &mut command)?;
    Ok(Installed::Fresh)
}

/// Fails with [`InstallError::MissingToolchain`] when `program` is not on `PATH`.
fn need(client: &'static str, program: &'static str, what: &'static str) -> Result<(), InstallError> {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    if found { Ok(()) } else { Err(InstallError::MissingToolchain { client, program, what }) }
}

/// Runs a step with its output on the terminal.
fn run(client: &'static str, command: &mut Command) -> Result<(), InstallError> {
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("{client}: {line}");
    let status = command.status().map_err(|e| InstallError::Step { client, command: line.clone(), reason: e.to_string() })?;
    if status.success() { Ok(()) } else { Err(InstallError::Step { client, command: line, reason: status.to_string() }) }
}

/// The standard output of a program, when it runs and succeeds.
fn output_of<const N: usize>(program: &Path, args: [&str; N]) -> Option<String> {
    if !program.exists() {
        return None;
    }
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `path` made absolute against the current directory (GOBIN must be absolute).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_clients_and_missing_toolchains_are_named() {
        let tools = tempfile::tempdir().expect("temp");
        assert!(matches!(install("evmone", tools.path()), Err(InstallError::Unknown { .. })));
        assert_eq!(installable(), vec!["geth", "eels", "ethereumjs", "pyevm"]);
        assert!(matches!(install("geth@v1.8.0", tools.path()), Err(InstallError::Release { .. })), "older than every declared release");
        assert!(matches!(install("eels@v1.17.0", tools.path()), Err(InstallError::Release { .. })), "eels declares no releases");
        let err = need("geth", "surely-not-a-program-schism", "nothing").expect_err("missing");
        assert!(err.to_string().contains("surely-not-a-program-schism"));
    }
}
