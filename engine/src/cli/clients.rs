//! `schism clients`: every known client with its availability, kind, version, forks and path.

use super::{CliError, Finish};
use crate::registry::{self, CLIENTS, ClientOptions, supported_forks};

/// Prints one line per known client (and why it is unavailable, when it is).
pub fn run() -> Result<Finish, CliError> {
    println!("{:<11} {:<10} {:<11} {:<16} {:<26} path", "client", "available", "kind", "version", "forks");
    for entry in CLIENTS {
        let kind = match entry.kind() {
            registry::ClientKind::InProcess => "in-process",
            registry::ClientKind::Subprocess => "subprocess",
        };
        let location = entry.default_location();
        let path = location.as_ref().map_or_else(|| "-".to_owned(), |p| p.display().to_string());
        match entry.instantiate(None, entry.id, &ClientOptions::default()) {
            Ok(client) => {
                let forks = supported_forks(client.as_ref());
                let range = match (forks.first(), forks.last()) {
                    (Some(a), Some(b)) => format!("{a}..{b} ({})", forks.len()),
                    _ => "none".to_owned(),
                };
                println!("{:<11} {:<10} {:<11} {:<16} {range:<26} {path}", entry.id, "yes", kind, client.version());
            }
            Err(e) => {
                println!("{:<11} {:<10} {:<11} {:<16} {:<26} {path}", entry.id, "no", kind, "-", "-");
                println!("{:<11} ↳ {e}", "");
            }
        }
    }
    Ok(Finish::Clean)
}
