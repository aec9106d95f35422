//! Replaying a filed folder or a case file: does the divergence still show, and where do the
//! clients part ways.

use super::TriageError;
use super::examine::{Examination, Examiner, Signature};
use super::folder;
use super::report::Report;
use crate::compare::Verdict;
use std::fmt::Write as _;
use std::path::Path;

/// The result of a replay.
#[derive(Debug)]
pub struct Replay {
    /// The traced examination.
    pub exam: Examination,
    /// Its signature, when it diverges.
    pub signature: Option<Signature>,
    /// The folder's report, when a folder was replayed.
    pub filed: Option<Report>,
}

impl Replay {
    /// True when the clients still disagree (or one still fails).
    pub fn diverges(&self) -> bool {
        self.exam.divergent()
    }

    /// What a terminal shows: the verdict, the first differing step and the state diff.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let exam = &self.exam;
        let ran: Vec<&str> = exam.outcomes.iter().map(|(c, _)| c.as_str()).collect();
        let _ = writeln!(out, "fork {}; clients: {}", exam.fork, ran.join(", "));
        for (c, k) in &exam.excused {
            let _ = writeln!(out, "left out: {c} (known difference {k})");
        }
        for c in &exam.unsupported {
            let _ = writeln!(out, "left out: {c} (does not support {})", exam.fork);
        }
        for f in &exam.faults {
            let _ = writeln!(out, "FAULT {}: {}", f.client, f.message);
        }
        match &exam.verdict {
            Verdict::Agree => {
                let _ = writeln!(out, "all clients agree");
            }
            Verdict::Skipped { reason } => {
                let _ = writeln!(out, "nothing compared: {reason}");
            }
            Verdict::Diverge { groups, aspects, results, .. } => {
                let _ = writeln!(out, "DIVERGE on {aspects:?}");
                for (g, r) in groups.iter().zip(results) {
                    let _ = writeln!(
                        out,
                        "  {:<28} root {} status {:?} gas {:?} error {:?}",
                        g.join(", "),
                        r.state_root,
                        r.status,
                        r.gas_used,
                        r.halt
                    );
                }
            }
        }
        if let Some(d) = &exam.first_difference {
            match d.index {
                Some(i) => {
                    let _ = writeln!(out, "first differing step: #{i}, after `{}`", d.culprit);
                    for s in d.context.iter().chain(d.last_common.iter()) {
                        let _ = writeln!(out, "  common       {}", s.line());
                    }
                    for c in &d.clients {
                        let step = c.step.as_ref().map_or_else(|| "(trace ended)".to_owned(), |s| s.line());
                        let _ = writeln!(out, "  {:<12} {step}  <- {}", c.client, c.differs_in.join(", "));
                    }
                }
                None => {
                    let _ = writeln!(out, "traces do not differ ({})", d.culprit);
                }
            }
        }
        for s in exam.state.iter().take(20) {
            let values: Vec<String> = s.values.iter().map(|(c, v)| format!("{c}={v}")).collect();
            let _ = writeln!(out, "  {} {}: {}", s.address, s.what, values.join("  "));
        }
        if let (Some(sig), Some(report)) = (&self.signature, &self.filed) {
            let note = if sig.id() == report.signature { " (as filed)".to_owned() } else { format!(" (filed as {})", report.signature) };
            let _ = writeln!(out, "signature {}{note}", sig.id());
        } else if let Some(sig) = &self.signature {
            let _ = writeln!(out, "signature {}", sig.id());
        }
        out
    }
}

/// Replays `path` (a filed folder or a state-test file; its first case) on the examiner's
/// clients.
pub fn replay(path: &Path, examiner: &Examiner) -> Result<Replay, TriageError> {
    let (case, filed) = folder::read(path)?;
    let exam = examiner.examine(&case, true);
    let signature = exam.signature();
    Ok(Replay { exam, signature, filed })
}

/// The clients a folder was filed with (labels as in its report), for replaying it on the
/// same ones.
pub fn filed_clients(path: &Path) -> Vec<String> {
    let Ok(Some(report)) = folder::read_report(path) else {
        // A sequence finding's report names its clients the same way.
        let text = std::fs::read(path.join("report.json")).unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        return value["clients"].as_array().map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    };
    let mut ids = report.client_ids();
    ids.extend(report.excused.iter().map(|(c, _)| c.clone()));
    let mut seen = std::collections::HashSet::new();
    ids.retain(|c| seen.insert(c.clone()));
    ids
}
