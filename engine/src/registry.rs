//! The registry: the one place that names every client schism knows, and turns `--client`
//! values into client instances.

use schism_external::tools::{HistoricalBug, OwnCommands, Tool, besu, ethereumjs, evmone, geth, nethermind, nimbus, pyevm, runner};
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

    /// The client as one of its releases (`version` like `v1.9.16`): a subprocess tool whose
    /// declaration describes its releases.
    pub fn release(&self, version: &str) -> Result<&'static dyn Tool, RegistryError> {
        let Make::Subprocess(tool) = self.make else {
            return Err(RegistryError::Release { id: self.id.to_owned(), reason: "it runs in-process, as built".to_owned() });
        };
        tool.release(version).map_err(|e| RegistryError::Release { id: self.id.to_owned(), reason: e.to_string() })
    }

    /// The releases of the client installed under `tools` (`<id>@<version>/` folders), oldest
    /// first, each with its location.
    pub fn installed_releases(&self, tools: &Path) -> Vec<(&'static dyn Tool, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(tools) else { return Vec::new() };
        let prefix = format!("{}@", self.id);
        let mut found: Vec<(&'static dyn Tool, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let tool = self.release(name.strip_prefix(&prefix)?).ok()?;
                Some((tool, tool.locate(tools)?))
            })
            .collect();
        found.sort_by_key(|(tool, _)| release_order(tool.id()));
        found
    }

    /// An instance of the client: at `path` (subprocess clients only), labelled `label`.
    pub fn instantiate(&self, path: Option<&Path>, label: &str, options: &ClientOptions) -> Result<Arc<dyn Client>, RegistryError> {
        match (self.make, path) {
            (Make::InProcess(..), Some(path)) => {
                Err(RegistryError::PathForInProcess { id: self.id.to_owned(), path: path.display().to_string() })
            }
            (Make::InProcess(make, _), None) => {
                let client = make().ok_or_else(|| RegistryError::NotBuilt { id: self.id.to_owned() })?;
                Ok(bounded(client, options.timeout))
            }
            (Make::Subprocess(tool), path) => instantiate_tool(tool, path, label, options),
        }
    }
}

/// An in-process client with a deadline on every run (see [`crate::deadline`]): `timeout`,
/// else [`crate::deadline::DEFAULT_TIMEOUT`].
fn bounded(client: Arc<dyn Client>, timeout: Option<Duration>) -> Arc<dyn Client> {
    Arc::new(crate::deadline::Bounded::new(client, timeout.unwrap_or(crate::deadline::DEFAULT_TIMEOUT)))
}

/// The sort key of a release tool's id (`geth@v1.9.16`): its numbers, so v1.9 comes before v1.10.
fn release_order(id: &str) -> Vec<u64> {
    let version = id.split_once('@').map_or("", |(_, v)| v);
    version.trim_start_matches('v').split('.').map(|n| n.parse().unwrap_or(0)).collect()
}

/// An instance of a subprocess tool: at `path`, else where it is installed; labelled `label`.
fn instantiate_tool(
    tool: &'static dyn Tool,
    path: Option<&Path>,
    label: &str,
    options: &ClientOptions,
) -> Result<Arc<dyn Client>, RegistryError> {
    let location = match path {
        Some(p) => p.to_path_buf(),
        None => {
            let location = tool.locate(&tools_dir()).ok_or_else(|| RegistryError::Unavailable {
                id: tool.id().to_owned(),
                reason: format!("not installed; {}", tool.install_hint()),
            })?;
            // schism's own runner beside an installed client follows this build.
            tool.refresh(&location).map_err(|reason| RegistryError::Unavailable { id: tool.id().to_owned(), reason })?;
            location
        }
    };
    let settings = Settings { label: label.to_owned(), location, timeout: options.timeout };
    let client =
        External::new(tool, settings).map_err(|e| RegistryError::Unavailable { id: tool.id().to_owned(), reason: e.to_string() })?;
    Ok(Arc::new(client))
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
    ClientEntry { id: "eels", make: Make::Subprocess(&runner::EELS) },
    ClientEntry { id: "ethereumjs", make: Make::Subprocess(&ethereumjs::ETHEREUMJS) },
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
    /// Per-case timeout (`None`: each subprocess tool's default, and
    /// [`crate::deadline::DEFAULT_TIMEOUT`] for in-process clients).
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
    /// A filed folder names clients by the programs they were run as (two builds of one
    /// client); the error is the command line that replays it.
    #[error(
        "the folder was filed with {labels}, clients given by their paths; schism runs no program a folder names: replay it with `{flags}`"
    )]
    FiledPrograms {
        /// The labels that name programs.
        labels: String,
        /// Every `--client` value the folder needs, in its order.
        flags: String,
    },
    /// `ID@vX.Y.Z` names a release the client's declaration does not describe.
    #[error("client `{id}` has no such release: {reason}")]
    Release {
        /// The client id.
        id: String,
        /// Why.
        reason: String,
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
    // A release (`geth@v1.9.16`) is a registry id with a version: the installed release.
    if let Some(Selector { id, release: Some(version), path: None }) = Selector::parse(base)
        && let Some(entry) = CLIENTS.iter().find(|e| e.id == id)
    {
        entry.release(version)?;
        return Ok(label.to_owned());
    }
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
    in_process_clients(None)
}

/// Every in-process client this build has, each run bounded by `timeout` (else
/// [`crate::deadline::DEFAULT_TIMEOUT`]).
fn in_process_clients(timeout: Option<Duration>) -> Vec<Arc<dyn Client>> {
    CLIENTS
        .iter()
        .filter_map(|e| match e.make {
            Make::InProcess(make, _) => make().map(|c| bounded(c, timeout)),
            Make::Subprocess(_) => None,
        })
        .collect()
}

/// A `--client` value taken apart: `ID`, `ID=PATH`, `ID@vX.Y.Z` or `ID@X.Y.Z` (a release, installed by
/// `schism install ID@vX.Y.Z`) or `ID@vX.Y.Z=PATH` (a build of that release at PATH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selector<'a> {
    /// The registry id.
    pub id: &'a str,
    /// The release, when one is named (`v1.9.16`).
    pub release: Option<&'a str>,
    /// The program, when one is named.
    pub path: Option<&'a str>,
}

impl<'a> Selector<'a> {
    /// Takes a value apart; `None` when `@` is followed by something other than a release
    /// number (`geth@/path/to/evm`, the label of a build given by its path).
    pub fn parse(value: &'a str) -> Option<Selector<'a>> {
        let (head, path) = match value.split_once('=') {
            Some((head, path)) => (head, Some(path)),
            None => (value, None),
        };
        match head.split_once('@') {
            None => Some(Selector { id: head, release: None, path }),
            Some((id, version)) if is_release(version) => Some(Selector { id, release: Some(version), path }),
            Some(_) => None,
        }
    }

    /// The client's name without its path: `ID` or `ID@vX.Y.Z`.
    pub fn name(&self) -> String {
        match self.release {
            Some(version) => format!("{}@{version}", self.id),
            None => self.id.to_owned(),
        }
    }
}

/// True for a version number, with or without a `v` (`v1.9.16` as Go tags spell it, `7.1.0`
/// as npm does), and with or without a `+name` after it (`7.1.0+blake2f-offset`, a release with
/// one fix backported, semver's build-metadata place): what tells a release from a path after
/// `@`. The tool's declaration says which spellings its releases take.
fn is_release(text: &str) -> bool {
    let (number, build) = text.split_once('+').unwrap_or((text, "x"));
    let rest = number.strip_prefix('v').unwrap_or(number);
    let build_ok = !build.is_empty() && build.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    build_ok
        && !rest.is_empty()
        && rest.split('.').count() >= 2
        && rest.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Resolves `--client` values (`ID`, `ID=PATH`, `ID@vX.Y.Z`, `ID@vX.Y.Z=PATH`); an empty list
/// means the default selection.
///
/// Two values with the same name and different paths are two clients (two builds compared); they
/// are labelled `NAME@PATH` in reports so they stay apart. Releases are labelled `ID@vX.Y.Z`, so
/// a release and today's build (`--client geth@v1.9.16 --client geth`) stay apart too.
pub fn resolve(values: &[String], options: &ClientOptions) -> Result<Vec<Arc<dyn Client>>, RegistryError> {
    if values.is_empty() {
        return Ok(in_process_clients(options.timeout));
    }
    let selectors: Vec<Selector> = values
        .iter()
        .map(|v| {
            Selector::parse(v).ok_or_else(|| RegistryError::Release {
                id: v.split('@').next().unwrap_or(v).to_owned(),
                reason: format!("`{v}`: after `@` comes a release (v1.9.16); a program is given as ID=PATH"),
            })
        })
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = selectors.iter().map(Selector::name).collect();
    let parsed: Vec<(&str, Option<&str>)> = names.iter().zip(&selectors).map(|(name, s)| (name.as_str(), s.path)).collect();
    let mut out: Vec<Arc<dyn Client>> = Vec::new();
    for (i, (id, path)) in parsed.iter().enumerate() {
        if let Some(mutant) = canary_client(id) {
            if parsed[..i].contains(&(*id, *path)) {
                return Err(RegistryError::Duplicate { id: values[i].clone() });
            }
            out.push(mutant);
            continue;
        }
        let selector = selectors[i];
        let entry = CLIENTS.iter().find(|e| e.id == selector.id).ok_or_else(|| RegistryError::Unknown {
            id: selector.id.to_owned(),
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
        let client = match selector.release {
            Some(version) => instantiate_tool(entry.release(version)?, path.map(Path::new), &label, options)?,
            None => entry.instantiate(path.map(Path::new), &label, options)?,
        };
        out.push(client);
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
        return schism_revm::Mutant::from_name(name).map(|m| bounded(Arc::new(schism_revm::MutantRevm::new(m)), None));
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
    let name = id.split('#').next().unwrap_or(id);
    let release = Selector::parse(name).and_then(|s| s.release);
    let base = id.split(['@', '#']).next().unwrap_or(id);
    let entry = CLIENTS.iter().find(|e| e.id == base)?;
    let own = entry.own_commands();
    // A release's own program is the installed release.
    if let Some(tool) = release.and_then(|v| entry.release(v).ok()) {
        let template = match scope {
            crate::triage::Scope::Transaction => tool.own_commands().statetest,
            crate::triage::Scope::Sequence => tool.own_commands().blocktest,
        }?;
        let program = tool.locate(&tools_dir()).map_or_else(|| tool.own_commands().program.to_owned(), |p| p.display().to_string());
        return Some(template.replace("{tool}", &program));
    }
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
        let healthy = bounded(Arc::new(schism_revm::Revm::new()), None);
        return Ok(vec![healthy, broken]);
    }
    Err(RegistryError::Unknown { id: name.to_owned(), known: canaries().iter().map(|c| c.name).collect::<Vec<_>>().join(", ") })
}

/// A known bug of a released client: a target of `schism selftest --real`.
#[derive(Clone, Copy, Debug)]
pub struct RealTarget {
    /// The client's registry id (`geth`).
    pub client: &'static str,
    /// The bug, as the client's declaration describes it.
    pub bug: HistoricalBug,
}

impl RealTarget {
    /// The `--client` value of the buggy release.
    pub fn buggy(&self) -> String {
        format!("{}@{}", self.client, self.bug.buggy)
    }

    /// The `--client` value of the fixed release.
    pub fn fixed(&self) -> String {
        format!("{}@{}", self.client, self.bug.fixed)
    }

    /// The `--client` value of the buggy release with this bug's fix alone, when declared.
    pub fn alone(&self) -> Option<String> {
        self.bug.alone.map(|a| format!("{}@{a}", self.client))
    }
}

/// Every known bug of a released client, from the clients' declarations.
pub fn real_targets() -> Vec<RealTarget> {
    CLIENTS
        .iter()
        .filter_map(|e| Some((e.id, e.tool()?)))
        .flat_map(|(client, tool)| tool.historical_bugs().iter().map(move |bug| RealTarget { client, bug: *bug }))
        .collect()
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
    fn releases_are_told_apart_from_paths() {
        let s = |v| Selector::parse(v);
        assert_eq!(s("geth"), Some(Selector { id: "geth", release: None, path: None }));
        assert_eq!(s("geth@v1.9.16"), Some(Selector { id: "geth", release: Some("v1.9.16"), path: None }));
        assert_eq!(s("geth@v1.9.16=/x/evm"), Some(Selector { id: "geth", release: Some("v1.9.16"), path: Some("/x/evm") }));
        assert_eq!(s("geth=/a@v1.2.3"), Some(Selector { id: "geth", release: None, path: Some("/a@v1.2.3") }));
        assert_eq!(s("geth@/path/to/evm"), None);
        assert_eq!(s("geth@v1.9.x"), None);
        assert_eq!(s("geth@vendor/evm"), None);
        assert_eq!(s("ethereumjs@7.1.0"), Some(Selector { id: "ethereumjs", release: Some("7.1.0"), path: None }));
        assert_eq!(s("ethereumjs@./runner"), None);
        assert_eq!(s("ethereumjs@7.1.0+blake2f-offset").and_then(|s| s.release), Some("7.1.0+blake2f-offset"));
        assert_eq!(s("ethereumjs@7.1.0+../x"), None);
    }

    #[test]
    fn filed_releases_resolve_and_filed_programs_stay_refused() {
        assert_eq!(filed_label("geth@v1.9.16").ok().as_deref(), Some("geth@v1.9.16"));
        assert_eq!(filed_label("geth@v1.9.16#again").ok().as_deref(), Some("geth@v1.9.16#again"));
        assert!(matches!(filed_label("geth@/path/to/evm"), Err(RegistryError::FiledProgram { .. })));
        assert!(matches!(filed_label("geth=/path"), Err(RegistryError::FiledProgram { .. })));
        assert!(matches!(filed_label("geth@v1.9.16=/path"), Err(RegistryError::FiledProgram { .. })));
        assert!(matches!(filed_label("geth@v1.8.0"), Err(RegistryError::Release { .. })), "older than every declared release");
        assert_eq!(filed_label("eels@1.17.0").ok().as_deref(), Some("eels@1.17.0"), "eels declares its releases");
        assert!(matches!(filed_label("eels@v1.17.0"), Err(RegistryError::Release { .. })), "PyPI spells it 1.17.0");
        assert!(matches!(filed_label("eels@1.16.0"), Err(RegistryError::Release { .. })), "not a declared release");
    }

    #[test]
    fn a_release_and_todays_build_are_two_clients_with_two_labels() {
        let dir = tempfile::tempdir().expect("temp");
        let evm = dir.path().join("evm");
        std::fs::write(&evm, "#!/bin/sh\necho 'evm version 1.9.16-stable'\n").expect("write");
        #[cfg(unix)]
        std::fs::set_permissions(&evm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let values = [format!("geth@v1.9.16={}", evm.display()), format!("geth={}", evm.display())];
        let clients = resolve(&values, &ClientOptions::default()).expect("two clients");
        let labels: Vec<&str> = clients.iter().map(|c| c.id()).collect();
        assert_eq!(labels, ["geth@v1.9.16", "geth"]);
        assert!(clients[0].supports(Fork::Istanbul) && !clients[0].supports(Fork::Berlin));
        assert!(clients[1].supports(Fork::Osaka));
        assert!(matches!(resolve(&["geth@/bin/evm".into()], &ClientOptions::default()), Err(RegistryError::Release { .. })));
    }

    #[test]
    fn real_targets_name_installable_releases() {
        let targets = real_targets();
        assert!(targets.iter().any(|t| t.bug.name == "geth-cve-2020-26241" && t.buggy() == "geth@v1.9.16" && t.fixed() == "geth@v1.9.17"));
        assert!(targets.iter().any(|t| t.bug.name == "ethereumjs-7.1.0-blake2f-offset"
            && t.buggy() == "ethereumjs@7.1.0"
            && t.fixed() == "ethereumjs@7.2.0"));
        for t in &targets {
            assert!(filed_label(&t.buggy()).is_ok() && filed_label(&t.fixed()).is_ok(), "{}", t.bug.name);
            assert!(t.alone().is_none_or(|a| filed_label(&a).is_ok()), "{}", t.bug.name);
        }
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = CLIENTS.iter().map(|e| e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CLIENTS.len());
    }
}
