//! The registry: the one place that names every client schism knows, and turns `--client`
//! values into client instances.

use schism_interface::{Client, Fork};
use std::sync::Arc;

/// How a client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Linked into schism.
    InProcess,
    /// A separate program schism starts.
    Subprocess,
}

/// A known client and how to make it.
#[derive(Clone, Copy)]
pub struct ClientEntry {
    /// The id used on the command line and in reports.
    pub id: &'static str,
    /// How it runs.
    pub kind: ClientKind,
    /// Makes an instance, or `None` when this build leaves the client out.
    make: fn() -> Option<Arc<dyn Client>>,
}

impl ClientEntry {
    /// An instance of the client, when this build includes it.
    pub fn instantiate(&self) -> Option<Arc<dyn Client>> {
        (self.make)()
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

/// Every client schism knows.
pub const CLIENTS: &[ClientEntry] = &[
    ClientEntry { id: "revm", kind: ClientKind::InProcess, make: revm },
    ClientEntry { id: "levm", kind: ClientKind::InProcess, make: levm },
    ClientEntry { id: "sputnik", kind: ClientKind::InProcess, make: sputnik },
];

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
    /// The same client was selected twice.
    #[error("client `{id}` is selected twice")]
    Duplicate {
        /// The id given.
        id: String,
    },
}

/// The default selection: every in-process client in this build.
pub fn default_clients() -> Vec<Arc<dyn Client>> {
    CLIENTS
        .iter()
        .filter(|e| e.kind == ClientKind::InProcess)
        .filter_map(ClientEntry::instantiate)
        .collect()
}

/// Resolves `--client` values (`ID` or `ID=PATH`); an empty list means the default selection.
pub fn resolve(values: &[String]) -> Result<Vec<Arc<dyn Client>>, RegistryError> {
    if values.is_empty() {
        return Ok(default_clients());
    }
    let mut out: Vec<Arc<dyn Client>> = Vec::new();
    for value in values {
        let (id, path) = match value.split_once('=') {
            Some((id, path)) => (id, Some(path)),
            None => (value.as_str(), None),
        };
        let entry = CLIENTS.iter().find(|e| e.id == id).ok_or_else(|| RegistryError::Unknown {
            id: id.to_owned(),
            known: CLIENTS.iter().map(|e| e.id).collect::<Vec<_>>().join(", "),
        })?;
        if let (ClientKind::InProcess, Some(path)) = (entry.kind, path) {
            return Err(RegistryError::PathForInProcess { id: id.to_owned(), path: path.to_owned() });
        }
        if out.iter().any(|c| c.id() == id) {
            return Err(RegistryError::Duplicate { id: id.to_owned() });
        }
        out.push(entry.instantiate().ok_or_else(|| RegistryError::NotBuilt { id: id.to_owned() })?);
    }
    Ok(out)
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
        assert!(matches!(resolve(&["nope".into()]), Err(RegistryError::Unknown { .. })));
        if CLIENTS[0].instantiate().is_some() {
            let id = CLIENTS[0].id.to_owned();
            assert!(matches!(resolve(&[id.clone(), id.clone()]), Err(RegistryError::Duplicate { .. })));
            assert!(matches!(resolve(&[format!("{id}=/bin/true")]), Err(RegistryError::PathForInProcess { .. })));
            assert_eq!(resolve(std::slice::from_ref(&id)).map(|c| c.len()).ok(), Some(1));
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
