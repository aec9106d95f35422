//! `schism install`: subprocess clients installed into the project's tools folder, at pinned
//! versions.

use super::{CliError, Finish};
use crate::install::{self, Installed};
use crate::registry;

/// Arguments of `schism install`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which clients: geth, eels, ethereumjs, pyevm, all; or a release, geth@vX.Y.Z (v1.9.0 and
    /// later) or ethereumjs@X.Y.Z (7.1.0, 7.2.0, 8.1.0, 8.1.1), installed beside the pinned build.
    #[arg(required = true, value_name = "CLIENT")]
    pub clients: Vec<String>,
}

/// Installs each client asked for, going on after a failure; the failures are the error.
pub fn run(args: Args) -> Result<Finish, CliError> {
    let wanted: Vec<&str> =
        if args.clients.iter().any(|c| c == "all") { install::installable() } else { args.clients.iter().map(String::as_str).collect() };
    let tools = registry::tools_dir();
    let mut failures = Vec::new();
    for client in wanted {
        match install::install(client, &tools) {
            Ok(Installed::Fresh) => println!("{client}: installed in {}", tools.display()),
            Ok(Installed::AlreadyThere) => println!("{client}: already installed in {}", tools.display()),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() { Ok(Finish::Clean) } else { Err(CliError::Install { failures }) }
}
