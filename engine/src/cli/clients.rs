//! `schism clients`: every known client with its availability, kind, version, forks and path, and
//! the installed releases of clients that have them (`geth@v1.9.16`).

use super::{CliError, Finish};
use crate::registry::{self, CLIENTS, ClientOptions, supported_forks};
use schism_interface::Client;

/// One line of the table (and, for an unavailable client, the reason under it).
struct Row {
    id: String,
    kind: &'static str,
    /// Version and fork range, or why the client cannot run.
    state: Result<(String, String), String>,
    path: String,
}

impl Row {
    /// The row of a client that instantiated (`Ok`) or did not.
    fn new(id: &str, kind: &'static str, client: Result<&dyn Client, String>, path: String) -> Row {
        let state = client.map(|client| {
            let forks = supported_forks(client);
            let range = match (forks.first(), forks.last()) {
                (Some(a), Some(b)) => format!("{a}..{b} ({})", forks.len()),
                _ => "none".to_owned(),
            };
            (client.version().to_owned(), range)
        });
        Row { id: id.to_owned(), kind, state, path }
    }
}

/// Prints one line per known client (and why it is unavailable, when it is).
pub fn run() -> Result<Finish, CliError> {
    let mut rows = Vec::new();
    for entry in CLIENTS {
        let kind = match entry.kind() {
            registry::ClientKind::InProcess => "in-process",
            registry::ClientKind::Subprocess => "subprocess",
        };
        // An installed release (`geth@v1.9.16`) comes before its client's own line.
        for (tool, location) in entry.installed_releases(&registry::tools_dir()) {
            let path = location.display().to_string();
            match registry::resolve(&[tool.id().to_owned()], &ClientOptions::default()) {
                Ok(clients) if clients.len() == 1 => rows.push(Row::new(tool.id(), "subprocess", Ok(clients[0].as_ref()), path)),
                Ok(_) => {}
                Err(e) => rows.push(Row::new(tool.id(), "subprocess", Err(e.to_string()), path)),
            }
        }
        let location = entry.default_location();
        let path = location.as_ref().map_or_else(|| "-".to_owned(), |p| p.display().to_string());
        match entry.instantiate(None, entry.id, &ClientOptions::default()) {
            Ok(client) => rows.push(Row::new(entry.id, kind, Ok(client.as_ref()), path)),
            Err(e) => rows.push(Row::new(entry.id, kind, Err(e.to_string()), path)),
        }
    }
    print!("{}", table(&rows));
    Ok(Finish::Clean)
}

/// The table, its first column as wide as the longest id.
fn table(rows: &[Row]) -> String {
    let w = rows.iter().map(|r| r.id.chars().count()).chain(["client".len()]).max().unwrap_or(6);
    let mut out = format!("{:<w$} {:<10} {:<11} {:<16} {:<26} path\n", "client", "available", "kind", "version", "forks");
    for row in rows {
        match &row.state {
            Ok((version, forks)) => {
                out += &format!("{:<w$} {:<10} {:<11} {version:<16} {forks:<26} {}\n", row.id, "yes", row.kind, row.path);
            }
            Err(reason) => {
                out += &format!("{:<w$} {:<10} {:<11} {:<16} {:<26} {}\n", row.id, "no", row.kind, "-", "-", row.path);
                out += &format!("{:<w$} ↳ {reason}\n", "");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_past_a_long_release_id() {
        let ok = |id: &str| Row {
            id: id.to_owned(),
            kind: "subprocess",
            state: Ok(("1.0".to_owned(), "Frontier..Cancun (16)".to_owned())),
            path: "/p".to_owned(),
        };
        let rows = [
            ok("ethereumjs@7.1.0"),
            ok("revm"),
            Row { id: "besu".to_owned(), kind: "subprocess", state: Err("missing".to_owned()), path: "-".to_owned() },
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        let column = |line: &str, word: &str| line.find(word).expect(word);
        let available = column(lines[0], "available");
        for line in [lines[1], lines[2], lines[3]] {
            let at = line.find(" yes ").or_else(|| line.find(" no ")).expect("a state") + 1;
            assert_eq!(at, available, "{text}");
        }
        assert_eq!(column(lines[4], "↳"), available, "the reason under the state column: {text}");
    }
}
