//! The registry: the one place that names every client schism knows, and turns `--client`
//! values into client instances.

use schism_external::tools::{OwnCommands, Tool, besu, evmone, geth, nethermind, nimbus, pyevm, runner};
use schism_external::{External, Settings};
use schism_interface::{Client, Fork};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How a client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Linked into schism.
    InProcess,
    /// A separate program schism starts.
    Subprocess,
}

/// How a client is made.
#[derive(Clone, Copy)]
enum Make {
    /// An in-process client, `None` when this build leaves it out, and how its project's own
    /// tool replays fixtures.
    InProcess(fn() -> Option<Arc<dyn Client>>, OwnCommands),
    /// A subprocess tool, which declares everything about itself (see [`Tool`]).
    Subprocess(&'static dyn Tool),
}

/// A known client: its declaration. An in-process client's forks and known differences are
/// on its `Client` implementation; a subprocess client's on its [`Tool`], with how it is
/// installed and found.
#[derive(Clone, Copy)]
pub struct ClientEntry {
    /// The id used on the command line and in reports.
    pub id: &'static str,
    make: Make,
}

impl ClientEntry {
    /// How the client runs.
    pub fn kind(&self) -> ClientKind {
        match self.make {
            Make::InProcess(..) => ClientKind::InProcess,
            Make::Subprocess(_) => ClientKind::Subprocess,
        }
    }

    /// Where a subprocess client is when no path is given (`None` for in-process clients, or
    /// when it is neither installed nor on `PATH`).
    pub fn default_location(&self) -> Option<PathBuf> {
        match self.make {
            Make::InProcess(..) => None,
            Make::Subprocess(tool) => tool.locate(&tools_dir()),
        }
    }

    /// The subprocess tool, for subprocess clients.
    pub fn tool(&self) -> Option<&'static dyn Tool> {
        match self.make {
            Make::InProcess(..) => None,
            Make::Subprocess(tool) => Some(tool),
        }
    }

    /// How the client's own tool replays filed fixtures.
    pub fn own_commands(&self) -> OwnCommands {
        match self.make {
            Make::InProcess(_, own) => own,
            Make::Subprocess(tool) => tool.own_commands(),
        }
    }

    /// An instance of the client: at `path` (subprocess clients only), labelled `label`.
    pub fn instantiate(&self, path: Option<&Path>, label: &str, options: &ClientOptions) -> Result<Arc<dyn Client>, RegistryError> {
        match (self.make, path) {
            (Make::InProcess(..), Some(path)) => {
                Err(RegistryError::PathForInProcess { id: self.id.to_owned(), path: path.display().to_string() })
            }
            (Make::InProcess(make, _), None) => make().ok_or_else(|| RegistryError::NotBuilt { id: self.id.to_owned() }),
            (Make::Subprocess(tool), path) => {
                let location = match path {
                    Some(p) => p.to_path_buf(),
                    None => tool.locate(&tools_dir()).ok_or_else(|| RegistryError::Unavailable {
                        id: self.id.to_owned(),
                        reason: format!("not installed; {}", tool.install_hint()),
                    })?,
                };
                let settings = Settings { label: label.to_owned(), location, timeout: options.timeout };
                let client = External::new(tool, settings)
                    .map_err(|e| RegistryError::Unavailable { id: self.id.to_owned(), reason: e.to_string() })?;
                Ok(Arc::new(client))
            }
        }
    }
}

fn revm() -> Option<Arc<dyn Client>> {
    #[cfg(feature = "revm")]
    return Some(Arc::new(schism_revm::Revm::new()));
    #[cfg(not(feature = "revm"))]
    None
}

fn levm() -> Option<Arc<dyn Client>> {
    #[cfg(feature = "levm")]
    return Some(Arc::new(schism_levm::Levm::new()));
    #[cfg(not(feature = "levm"))]
    None
}

fn sputnik() -> Option<Arc<dyn Client>> {
    #[cfg(feature = "sputnik")]
    return Some(Arc::new(schism_sputnik::Sputnik::new()));
    #[cfg(not(feature = "sputnik"))]
    None
}

/// The project-local folder `schism install` puts clients in: `$SCHISM_TOOLS`, else `tools/`
/// in the checkout schism was built from.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("SCHISM_TOOLS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            checkout.canonicalize().unwrap_or(checkout).join("tools")
        }
    }
}

/// revm's own runner, `revme` (crates.io `revme`).
const REVME: OwnCommands =
    OwnCommands { program: "revme", statetest: Some("revme statetest {case}"), blocktest: Some("revme blockchaintest {case}") };

/// Every client schism knows, one declaration each.
pub const CLIENTS: &[ClientEntry] = &[
    ClientEntry { id: "revm", make: Make::InProcess(revm, REVME) },
    // ethrex and SputnikVM ship no single-file runner: `schism repro --client ID` replays on them.
    ClientEntry { id: "levm", make: Make::InProcess(levm, OwnCommands { program: "", statetest: None, blocktest: None }) },
    ClientEntry { id: "sputnik", make: Make::InProcess(sputnik, OwnCommands { program: "", statetest: None, blocktest: None }) },
    ClientEntry { id: "geth", make: Make::Subprocess(&geth::GETH) },
    ClientEntry { id: "eels", make: Make::Subprocess(&runner::Eels) },
    ClientEntry { id: "ethereumjs", make: Make::Subprocess(&runner::EthereumJs) },
    ClientEntry { id: "pyevm", make: Make::Subprocess(&pyevm::PyEvm) },
    ClientEntry { id: "evmone", make: Make::Subprocess(&evmone::Evmone) },
    ClientEntry { id: "besu", make: Make::Subprocess(&besu::Besu) },
    ClientEntry { id: "nethermind", make: Make::Subprocess(&nethermind::Nethermind) },
    ClientEntry { id: "erigon", make: Make::Subprocess(&geth::ERIGON) },
    ClientEntry { id: "nimbus", make: Make::Subprocess(&nimbus::Nimbus) },
];

/// Settings that apply to every selected client.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Per-case timeout of subprocess clients (`None`: each tool's default).
    pub timeout: Option<Duration>,
}

/// A `--client` value that cannot be honoured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No client has that id.
    #[error("unknown client `{id}` (known: {known})")]
    Unknown {
        /// The id given.
        id: String,
        /// The ids schism knows.
        known: String,
    },
    /// The client is known but this build does not include it.
    #[error("client `{id}` is not in this build (enable the cargo feature `{id}`)")]
    NotBuilt {
        /// The id given.
        id: String,
    },
    /// `ID=PATH` was given for an in-process client.
    #[error("client `{id}` runs in-process; `{id}={path}` names a binary, which only subprocess clients take")]
    PathForInProcess {
        /// The id given.
        id: String,
        /// The path given.
        path: String,
    },
    /// The same client (and path) was selected twice.
    #[error("client `{id}` is selected twice")]
    Duplicate {
        /// The value given.
        id: String,
    },
    /// A filed folder names a client by the program it was run as; schism runs no program a
    /// folder names.
    #[error(
        "the folder was filed with `{label}`, a client given by its path; schism runs no program a folder names: pass `{flag}` (and the folder's other clients) to replay it"
    )]
    FiledProgram {
        /// The label in the folder.
        label: String,
        /// The `--client` value that would select it.
        flag: String,
    },
    /// A subprocess client is not installed or does not run.
    #[error("client `{id}` is not available: {reason}")]
    Unavailable {
        /// The id given.
        id: String,
        /// Why.
        reason: String,
    },
}

/// The `--client` value a label read from a filed folder stands for: a registry id or a
/// canary, as it is (`revm`, `revm~sar-negative-shift`, `geth`). A folder is data: a label
/// that names a program (`geth@/path/to/evm`, `geth=/path`) or anything else the registry
/// does not know is refused, with the `--client` values that would replay it.
pub fn filed_label(label: &str) -> Result<String, RegistryError> {
    let base = label.trim_end_matches("#again");
    if let Some((id, path)) = base.split_once(['@', '=']) {
        return Err(RegistryError::FiledProgram { label: label.to_owned(), flag: format!("--client {id}={path}") });
    }
    if CLIENTS.iter().any(|e| e.id == base) || canary_client(base).is_some() {
        return Ok(label.to_owned());
    }
    Err(RegistryError::Unknown { id: base.to_owned(), known: CLIENTS.iter().map(|e| e.id).collect::<Vec<_>>().join(", ") })
}

/// The default selection: every in-process client in this build.
pub fn default_clients() -> Vec<Arc<dyn Client>> {
    CLIENTS
        .iter()
        .filter_map(|e| match e.make {
            Make::InProcess(make, _) => make(),
            Make::Subprocess(_) => None,
        })
        .collect()
}

/// Resolves `--client` values (`ID` or `ID=PATH`); an empty list means the default selection.
///
/// Two values with the same id and different paths are two clients (two builds compared); they
/// are labelled `ID@PATH` in reports so they stay apart.
pub fn resolve(values: &[String], options: &ClientOptions) -> Result<Vec<Arc<dyn Client>>, RegistryError> {
    if values.is_empty() {
        return Ok(default_clients());
    }
    let parsed: Vec<(&str, Option<&str>)> = values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((id, path)) => (id, Some(path)),
            None => (v.as_str(), None),
        })
        .collect();
    let mut out: Vec<Arc<dyn Client>> = Vec::new();
    for (i, (id, path)) in parsed.iter().enumerate() {
        if let Some(mutant) = canary_client(id) {
            if parsed[..i].contains(&(*id, *path)) {
                return Err(RegistryError::Duplicate { id: values[i].clone() });
            }
            out.push(mutant);
            continue;
        }
        let entry = CLIENTS.iter().find(|e| e.id == *id).ok_or_else(|| RegistryError::Unknown {
            id: (*id).to_owned(),
            known: CLIENTS.iter().map(|e| e.id).collect::<Vec<_>>().join(", "),
        })?;
        if parsed[..i].contains(&(*id, *path)) {
            return Err(RegistryError::Duplicate { id: values[i].clone() });
        }
        let shared = parsed.iter().filter(|(other, _)| other == id).count() > 1;
        let label = match path {
            Some(p) if shared => format!("{id}@{p}"),
            _ => (*id).to_owned(),
        };
        out.push(entry.instantiate(path.map(Path::new), &label, options)?);
    }
    Ok(out)
}

/// A canary: a deliberately broken build of an in-process client, for `schism selftest`.
#[derive(Clone, Copy, Debug)]
pub struct Canary {
    /// The mutant's stable name.
    pub name: &'static str,
    /// What is broken.
    pub description: &'static str,
    /// True when only a block sequence can reveal it.
    pub block_level: bool,
}

/// Every canary this build has (revm's mutants; none without revm).
pub fn canaries() -> Vec<Canary> {
    #[cfg(feature = "revm")]
    return schism_revm::Mutant::ALL
        .iter()
        .map(|m| Canary { name: m.name(), description: m.description(), block_level: m.block_level() })
        .collect();
    #[cfg(not(feature = "revm"))]
    Vec::new()
}

/// A canary mutant by its client id, `revm~<mutant>` (so that filed canary findings replay).
pub fn canary_client(id: &str) -> Option<Arc<dyn Client>> {
    #[cfg(feature = "revm")]
    if let Some(name) = id.strip_prefix("revm~") {
        return schism_revm::Mutant::from_name(name).map(|m| Arc::new(schism_revm::MutantRevm::new(m)) as Arc<dyn Client>);
    }
    let _ = id;
    None
}

/// The command with which a client's own test tool replays a filed case (`{case}` stands for
/// its path): a state-test file for a single transaction, a blockchain-test file for a
/// sequence; for the reproduction section of reports. From the client's declaration; clients
/// whose project ships no single-file runner of that kind have none, and `schism repro
/// --client ID` replays on them.
pub fn own_tool_command(id: &str, scope: crate::triage::Scope) -> Option<String> {
    let base = id.split(['@', '#']).next().unwrap_or(id);
    let entry = CLIENTS.iter().find(|e| e.id == base)?;
    let own = entry.own_commands();
    let template = match scope {
        crate::triage::Scope::Transaction => own.statetest,
        crate::triage::Scope::Sequence => own.blocktest,
    }?;
    // The installed or found program when there is one; its usual name otherwise.
    let tool = entry.default_location().map_or_else(|| own.program.to_owned(), |p| p.display().to_string());
    Some(template.replace("{tool}", &tool))
}

/// The clients a canary is fuzzed with: the healthy client and its broken build.
pub fn canary_clients(name: &str) -> Result<Vec<Arc<dyn Client>>, RegistryError> {
    #[cfg(feature = "revm")]
    if let Some(broken) = canary_client(&format!("revm~{name}")) {
        let healthy: Arc<dyn Client> = Arc::new(schism_revm::Revm::new());
        return Ok(vec![healthy, broken]);
    }
    Err(RegistryError::Unknown { id: name.to_owned(), known: canaries().iter().map(|c| c.name).collect::<Vec<_>>().join(", ") })
}

/// The forks a client supports, oldest first.
pub fn supported_forks(client: &dyn Client) -> Vec<Fork> {
    Fork::ALL.into_iter().filter(|f| client.supports(*f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_duplicate_clients_are_usage_errors() {
        let o = ClientOptions::default();
        assert!(matches!(resolve(&["nope".into()], &o), Err(RegistryError::Unknown { .. })));
        if !default_clients().is_empty() {
            let id = CLIENTS[0].id.to_owned();
            assert!(matches!(resolve(&[id.clone(), id.clone()], &o), Err(RegistryError::Duplicate { .. })));
            assert!(matches!(resolve(&[format!("{id}=/bin/true")], &o), Err(RegistryError::PathForInProcess { .. })));
            assert_eq!(resolve(std::slice::from_ref(&id), &o).map(|c| c.len()).ok(), Some(1));
        }
    }

    #[test]
    fn a_missing_binary_is_unavailable_with_the_path() {
        let err = resolve(&["geth=/nonexistent/evm".into()], &ClientOptions::default()).err().expect("unavailable");
        assert!(matches!(&err, RegistryError::Unavailable { id, .. } if id == "geth"), "{err}");
        assert!(err.to_string().contains("/nonexistent/evm"), "{err}");
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = CLIENTS.iter().map(|e| e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CLIENTS.len());
    }
}
