//! `schism install`: puts the installable subprocess clients (geth, EELS, EthereumJS) into the
//! project-local tools folder, at pinned versions, without root. Idempotent: a client already
//! installed at its pinned version is left alone. A missing toolchain (go, python3, node/npm)
//! is a clear error naming it; the other clients are still installed.

use schism_external::tools::{geth, runner};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The clients `schism install` knows.
pub const INSTALLABLE: &[&str] = &["geth", "eels", "ethereumjs"];

/// The EthereumJS runner's files, embedded so the installed runner matches this build.
const EJS_FILES: &[(&str, &str)] = &[
    ("package.json", include_str!("../../adapters/external/runners/ethereumjs/package.json")),
    ("package-lock.json", include_str!("../../adapters/external/runners/ethereumjs/package-lock.json")),
    ("runner.mjs", include_str!("../../adapters/external/runners/ethereumjs/runner.mjs")),
];

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
    /// Not an installable client.
    #[error(
        "`{0}` cannot be installed by schism (installable: geth, eels, ethereumjs, all); other clients take --client ID=/path/to/binary"
    )]
    Unknown(String),
}

/// What happened to one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// It was installed now.
    Fresh,
    /// It was already there at the pinned version.
    AlreadyThere,
}

/// Installs `client` (one of [`INSTALLABLE`]) into `tools`.
pub fn install(client: &str, tools: &Path) -> Result<Installed, InstallError> {
    match client {
        "geth" => install_geth(tools),
        "eels" => install_eels(tools),
        "ethereumjs" => install_ethereumjs(tools),
        other => Err(InstallError::Unknown(other.to_owned())),
    }
}

fn install_geth(tools: &Path) -> Result<Installed, InstallError> {
    const CLIENT: &str = "geth";
    let bin = tools.join("geth/bin");
    let evm = bin.join("evm");
    let pinned = geth::PINNED.trim_start_matches('v');
    if output_of(&evm, ["--version"]).is_some_and(|v| v.contains(&format!("{pinned}-stable")) || v.contains(&format!(" {pinned}"))) {
        return Ok(Installed::AlreadyThere);
    }
    need(CLIENT, "go", "the Go toolchain")?;
    let module = format!("github.com/ethereum/go-ethereum/cmd/evm@{}", geth::PINNED);
    let mut command = Command::new("go");
    command.args(["install", &module]).env("GOBIN", absolute(&bin)).env("CGO_ENABLED", "1");
    run(CLIENT, &mut command)?;
    Ok(Installed::Fresh)
}

fn install_eels(tools: &Path) -> Result<Installed, InstallError> {
    const CLIENT: &str = "eels";
    let venv = tools.join("eels/venv");
    let python = venv.join("bin/python");
    let probe = ["-c", "import importlib.metadata as m; print(m.version('ethereum-execution'))"];
    if output_of(&python, probe).is_some_and(|v| v.trim() == runner::EELS_PINNED) {
        return Ok(Installed::AlreadyThere);
    }
    need(CLIENT, "python3", "CPython 3.11 or newer with venv")?;
    if !python.exists() {
        run(CLIENT, Command::new("python3").args([OsStr::new("-m"), OsStr::new("venv"), venv.as_os_str()]))?;
    }
    let spec = format!("ethereum-execution=={}", runner::EELS_PINNED);
    run(CLIENT, Command::new(&python).args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", &spec]))?;
    Ok(Installed::Fresh)
}

fn install_ethereumjs(tools: &Path) -> Result<Installed, InstallError> {
    const CLIENT: &str = "ethereumjs";
    let dir = tools.join("ethereumjs");
    let same = |name: &str, text: &str| std::fs::read_to_string(dir.join(name)).is_ok_and(|t| t == text);
    let lock_unchanged = EJS_FILES.iter().filter(|(n, _)| *n != "runner.mjs").all(|(n, t)| same(n, t));
    let runner_unchanged = EJS_FILES.iter().filter(|(n, _)| *n == "runner.mjs").all(|(n, t)| same(n, t));
    if lock_unchanged && runner_unchanged && dir.join("node_modules").is_dir() {
        return Ok(Installed::AlreadyThere);
    }
    need(CLIENT, "node", "Node.js 20 or newer")?;
    need(CLIENT, "npm", "npm")?;
    std::fs::create_dir_all(&dir).map_err(|source| InstallError::Io { client: CLIENT, path: dir.clone(), source })?;
    for (name, text) in EJS_FILES {
        let path = dir.join(name);
        crate::atomic::write(&path, text.as_bytes()).map_err(|source| InstallError::Io { client: CLIENT, path, source })?;
    }
    if !(lock_unchanged && dir.join("node_modules").is_dir()) {
        let mut command = Command::new("npm");
        command.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir);
        run(CLIENT, &mut command)?;
    }
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
        assert!(matches!(install("evmone", tools.path()), Err(InstallError::Unknown(_))));
        let err = need("geth", "surely-not-a-program-schism", "nothing").expect_err("missing");
        assert!(err.to_string().contains("surely-not-a-program-schism"));
    }
}
