//! The report of a filed finding: `report.json` (machine-readable) and `report.md` (for the
//! client developer who has to act on it).

use super::examine::{Examination, Fault, Kind, Scope, Signature};
use super::localise::{FirstDifference, StateDifference};
use super::minimise::Minimised;
use super::subject::Subject;
use crate::compare::{Aspect, Comparable, Locus, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A client as a report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Client id.
    pub id: String,
    /// Its version.
    pub version: String,
}

/// A command that replays the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Who runs it: a client id, or `schism`.
    pub tool: String,
    /// The shell command, run from the folder of the report.
    pub command: String,
}

/// A fork (and the client versions) a finding was seen on, and how often.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The fork (a sequence's fork schedule).
    pub fork: String,
    /// The clients and their versions.
    pub clients: Vec<ClientInfo>,
    /// Times seen.
    pub count: u64,
}

/// `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The signature's short id, also the folder's name.
    pub signature: String,
    /// Kind of finding.
    pub kind: Kind,
    /// The fork of `case.json` (a sequence's fork schedule).
    pub fork: String,
    /// Single transaction (`case.json` is a state test) or block sequence (a blockchain test).
    #[serde(default)]
    pub scope: Scope,
    /// Every fork and set of client versions the finding was seen on, with counts.
    #[serde(default)]
    pub seen: Vec<Seen>,
    /// Where the clients part ways in the minimised case: block, transaction, instruction.
    #[serde(default, skip_serializing_if = "Locus::is_empty")]
    pub locus: Locus,
    /// The full signature.
    pub key: Signature,
    /// The clients that took part, with versions.
    pub clients: Vec<ClientInfo>,
    /// Client ids grouped by identical results, largest group first.
    pub groups: Vec<Vec<String>>,
    /// What each group computed (on the minimised case).
    pub results: Vec<Comparable>,
    /// What differs.
    pub aspects: Vec<Aspect>,
    /// Clients that failed.
    pub faults: Vec<Fault>,
    /// Clients left out by a documented known difference: id, difference.
    pub excused: Vec<(String, String)>,
    /// How often the finding was made.
    pub count: u64,
    /// When it was first made (RFC 3339, UTC).
    pub first_seen: String,
    /// When it was last made.
    pub last_seen: String,
    /// What minimisation did.
    pub minimised: Minimised,
    /// Where the traces part ways (on the minimised case).
    pub first_difference: Option<FirstDifference>,
    /// Post-state differences (on the minimised case).
    pub state_differences: Vec<StateDifference>,
    /// Seconds from the divergent input to the filed folder.
    pub filing_seconds: f64,
    /// Commands that replay `case.json`.
    pub reproduce: Vec<Command>,
    /// For a slow finding: seconds each client took.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timings: Vec<(String, f64)>,
    /// In a farm across machines, the nodes (by `--node-name`) whose findings the root filed
    /// in this folder; empty for a finding filed where it was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// Now, as RFC 3339 UTC to the second.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl Report {
    /// The report of a finding from the examination of its minimised case.
    pub fn new<O>(signature: &Signature, exam: &Examination<O>, clients: Vec<ClientInfo>, minimised: Minimised) -> Report {
        let (groups, results) = match &exam.verdict {
            Verdict::Diverge { groups, results, .. } => (groups.clone(), results.clone()),
            _ => (signature.groups.clone(), Vec::new()),
        };
        let seen = now();
        Report {
            signature: signature.id(),
            kind: signature.kind,
            fork: exam.fork.clone(),
            scope: signature.scope,
            seen: vec![Seen { fork: exam.fork.clone(), clients: clients.clone(), count: 1 }],
            locus: exam.locus(),
            key: signature.clone(),
            clients,
            groups,
            results,
            aspects: signature.aspects.clone(),
            faults: exam.faults.clone(),
            excused: exam.excused.clone(),
            count: 1,
            first_seen: seen.clone(),
            last_seen: seen,
            minimised,
            first_difference: exam.first_difference.clone(),
            state_differences: exam.state.clone(),
            filing_seconds: 0.0,
            reproduce: Vec::new(),
            timings: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// The ids of the clients in the groups, then those that faulted, then any other that ran
    /// (a lone client beside a faulting one is in no group); each once.
    pub fn client_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.groups.iter().flatten().cloned().collect();
        ids.extend(self.faults.iter().map(|f| f.client.clone()));
        ids.extend(self.clients.iter().map(|c| c.id.clone()));
        let mut seen = std::collections::HashSet::new();
        ids.retain(|c| seen.insert(c.clone()));
        ids
    }

    fn version(&self, id: &str) -> &str {
        self.clients.iter().find(|c| c.id == id).map_or("?", |c| c.version.as_str())
    }

    /// `report.md`.
    pub fn markdown<S: Subject>(&self, case: &S) -> String {
        let mut md = String::new();
        let what = match self.kind {
            Kind::Divergence => "divergence",
            Kind::Fault => "client fault",
            Kind::Slow => "slow case",
        };
        let _ = writeln!(md, "# {}: {what}\n", self.signature);
        let seen: Vec<String> = self.seen.iter().map(|s| format!("{} ({}×)", s.fork, s.count)).collect();
        let _ = writeln!(md, "Seen on: {} when filed (`seen` in report.json counts every later finding).\n", seen.join(", "));
        if !self.locus.is_empty() {
            let _ = writeln!(md, "Where: {}.\n", self.locus.describe());
        }
        let blame = match self.kind {
            Kind::Slow => format!(
                "Slow client: {}; precompiles called: {}",
                self.groups.first().map_or(String::new(), |g| g.join(", ")),
                if self.key.culprit == "code" { "none".to_owned() } else { format!("`{}`", self.key.culprit) }
            ),
            _ => format!("Blamed instruction: `{}`", self.key.culprit),
        };
        let _ = writeln!(
            md,
            "Seen {} time{}: first {}, last {}. {blame}.\n",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.first_seen,
            self.last_seen,
        );
        if self.kind != Kind::Slow {
            self.results_table(&mut md);
        }
        self.details(&mut md, case);
        md
    }

    fn results_table(&self, md: &mut String) {
        let _ = writeln!(md, "## Clients\n");
        let _ = writeln!(md, "| group | clients | state root | logs hash | status | gas used | error |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|");
        for (i, group) in self.groups.iter().enumerate() {
            let names: Vec<String> = group.iter().map(|c| format!("{c} ({})", self.version(c))).collect();
            match self.results.get(i) {
                Some(r) => {
                    let _ = writeln!(
                        md,
                        "| {} | {} | `{}` | {} | {} | {} | {} |",
                        i + 1,
                        names.join(", "),
                        r.state_root,
                        r.logs_hash.map_or("-".to_owned(), |h| format!("`{h}`")),
                        r.status.map_or("-".to_owned(), |s| format!("{s:?}").to_lowercase()),
                        r.gas_used.map_or("-".to_owned(), |g| g.to_string()),
                        r.halt.map_or("-".to_owned(), |e| e.to_string()),
                    );
                }
                None => {
                    let _ = writeln!(md, "| {} | {} | | | | | |", i + 1, names.join(", "));
                }
            }
        }
    }

    fn details<S: Subject>(&self, md: &mut String, case: &S) {
        for f in &self.faults {
            let _ = writeln!(md, "\n**{}** ({}) failed: {}: {}", f.client, self.version(&f.client), f.kind, f.message);
        }
        for (c, k) in &self.excused {
            let _ = writeln!(md, "\n{c} was left out: known difference `{k}`.");
        }
        if !self.aspects.is_empty() {
            let aspects: Vec<String> = self.aspects.iter().map(|a| format!("{a:?}")).collect();
            let _ = writeln!(md, "\nWhat differs: {}.", aspects.join(", "));
        }
        if !self.timings.is_empty() {
            let _ = writeln!(md, "\n## Time per client\n");
            for (c, s) in &self.timings {
                let _ = writeln!(md, "- {c}: {:.2} ms", s * 1000.0);
            }
        }
        if let Some(d) = &self.first_difference {
            let _ = writeln!(md, "\n## First differing step\n");
            match d.index {
                Some(i) => {
                    let _ = writeln!(md, "The traces agree for {i} steps. The last common steps:\n\n```");
                    for s in d.context.iter().chain(d.last_common.iter()) {
                        let _ = writeln!(md, "{}", s.line());
                    }
                    let _ = writeln!(md, "```\n\nThen:\n\n```");
                    for c in &d.clients {
                        let step = c.step.as_ref().map_or_else(|| "(trace ended)".to_owned(), |s| s.line());
                        let differs = if c.differs_in.is_empty() { String::new() } else { format!("   <- {}", c.differs_in.join(", ")) };
                        let _ = writeln!(md, "{:<12} {step}{differs}", c.client);
                    }
                    let _ = writeln!(md, "```");
                }
                None => {
                    let _ =
                        writeln!(md, "The traces do not differ (`{}`): the difference arises outside the traced instructions.", d.culprit);
                }
            }
        }
        if !self.state_differences.is_empty() {
            let _ = writeln!(md, "\n## Post-state differences\n");
            let _ = writeln!(md, "| account | what | values |\n|---|---|---|");
            for s in self.state_differences.iter().take(40) {
                let values: Vec<String> = s.values.iter().map(|(c, v)| format!("{c}: `{}`", shorten(v))).collect();
                let _ = writeln!(md, "| `{}` | {} | {} |", s.address, s.what, values.join("<br>"));
            }
            if self.state_differences.len() > 40 {
                let _ = writeln!(md, "\n({} more in report.json)", self.state_differences.len() - 40);
            }
        }
        let _ = writeln!(md, "\n## The case\n");
        let format = match self.scope {
            Scope::Transaction => "a state test",
            Scope::Sequence => "a blockchain test",
        };
        if self.kind == Kind::Slow {
            let _ = writeln!(
                md,
                "`case.json` ({format}, fork {}) is the case as found: slow cases are not minimised (timing is too noisy to steer by).\n",
                self.fork
            );
        } else {
            let _ = writeln!(
                md,
                "`case.json` ({format}, fork {}) is minimised {}; `original.json` is the input as found.\n",
                self.fork,
                self.minimised.summary()
            );
        }
        case.describe(md);
        let _ = writeln!(md, "## Reproduce\n\nFrom this folder:\n\n```");
        for c in &self.reproduce {
            let _ = writeln!(md, "{:<40} # {}", c.command, c.tool);
        }
        let _ = writeln!(md, "```\n\nEach client's trace is in `traces/<client>.jsonl` (EIP-3155 steps).");
    }
}

fn shorten(v: &str) -> String {
    if v.len() > 80 { format!("{}...({} chars)", &v[..66], v.len()) } else { v.to_owned() }
}
