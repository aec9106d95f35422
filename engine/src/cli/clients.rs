//! `schism clients`: every known client with its availability, kind, version, forks and path, and
//! the installed releases of clients that have them (`geth@v1.9.16`).

use super::{CliError, Finish};
use crate::registry::{self, CLIENTS, ClientOptions, supported_forks};

/// Prints one line per known client (and why it is unavailable, when it is).
pub fn run() -> Result<Finish, CliError> {
    println!("{:<13} {:<10} {:<11} {:<16} {:<26} path", "client", "available", "kind", "version", "forks");
    for entry in CLIENTS {
        let kind = match entry.kind() {
            registry::ClientKind::InProcess => "in-process",
            registry::ClientKind::Subprocess => "subprocess",
        };
        for (tool, location) in entry.installed_releases(&registry::tools_dir()) {
            release_line(tool, &location);
        }
        let location = entry.default_location();
        let path = location.as_ref().map_or_else(|| "-".to_owned(), |p| p.display().to_string());
        match entry.instantiate(None, entry.id, &ClientOptions::default()) {
            Ok(client) => {
                let forks = supported_forks(client.as_ref());
                let range = match (forks.first(), forks.last()) {
                    (Some(a), Some(b)) => format!("{a}..{b} ({})", forks.len()),
                    _ => "none".to_owned(),
                };
                println!("{:<13} {:<10} {:<11} {:<16} {range:<26} {path}", entry.id, "yes", kind, client.version());
            }
            Err(e) => {
                println!("{:<13} {:<10} {:<11} {:<16} {:<26} {path}", entry.id, "no", kind, "-", "-");
                println!("{:<13} ↳ {e}", "");
            }
        }
    }
    Ok(Finish::Clean)
}

/// The line of an installed release (`geth@v1.9.16`), printed before its client's own line.
fn release_line(tool: &'static dyn schism_external::Tool, location: &std::path::Path) {
    let path = location.display();
    match registry::resolve(&[tool.id().to_owned()], &ClientOptions::default()) {
        Ok(clients) if clients.len() == 1 => {
            let forks = supported_forks(clients[0].as_ref());
            let range = match (forks.first(), forks.last()) {
                (Some(a), Some(b)) => format!("{a}..{b} ({})", forks.len()),
                _ => "none".to_owned(),
            };
            println!("{:<13} {:<10} {:<11} {:<16} {range:<26} {path}", tool.id(), "yes", "subprocess", clients[0].version());
        }
        Ok(_) => {}
        Err(e) => {
            println!("{:<13} {:<10} {:<11} {:<16} {:<26} {path}", tool.id(), "no", "subprocess", "-", "-");
            println!("{:<13} ↳ {e}", "");
        }
    }
}
