//! Promotion: a confirmed divergence becomes a filled regression fixture in
//! `corpus/regressions/`, expecting what the chosen client computes. `cargo test` replays every
//! regression fixture through every in-process client (engine/tests/regressions.rs).

use super::examine::Examiner;
use super::folder::{self, describe, state_test_json};
use super::report::now;
use super::{TriageError, expectation_of};
use crate::compare::Verdict;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The default folder of regression fixtures, relative to the checkout.
pub const REGRESSIONS: &str = "corpus/regressions";

/// Whose result a regression fixture expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The largest group's.
    Majority,
    /// This client's.
    Client(String),
}

impl std::str::FromStr for Expect {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Expect, Self::Err> {
        Ok(if s == "majority" { Expect::Majority } else { Expect::Client(s.to_owned()) })
    }
}

/// What a promoted fixture records about itself in `_info.schism`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promoted {
    /// The finding's signature.
    pub signature: String,
    /// The client whose result is expected.
    pub expect: String,
    /// The clients that computed something else when it was promoted: what it guards against.
    pub guards: Vec<String>,
    /// The blamed instruction.
    pub culprit: String,
    /// When it was promoted.
    pub promoted: String,
}

/// Promotes the filed folder `dir` into `regressions`; the path of the fixture written.
pub fn promote(dir: &Path, expect: &Expect, regressions: &Path, examiner: &Examiner) -> Result<PathBuf, TriageError> {
    let (mut case, report) = folder::read(dir)?;
    let report = report.ok_or_else(|| TriageError::Folder {
        path: dir.join("report.json"),
        reason: "missing: only a filed folder (with its report) can be promoted".into(),
    })?;
    let exam = examiner.examine(&case, false);
    let groups = match &exam.verdict {
        Verdict::Diverge { groups, .. } => groups.clone(),
        _ => report.groups.clone(),
    };
    let chosen = match expect {
        Expect::Majority => groups
            .first()
            .and_then(|g| g.first())
            .cloned()
            .ok_or_else(|| TriageError::Usage { what: format!("{}: no client result to expect", dir.display()) })?,
        Expect::Client(c) => c.clone(),
    };
    let outcome = exam.outcome(&chosen).ok_or_else(|| TriageError::Usage {
        what: format!(
            "--expect {chosen}: not a client that ran {} (ran: {})",
            dir.display(),
            exam.outcomes.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let mine = groups.iter().position(|g| g.contains(&chosen));
    let guards: Vec<String> = groups
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != mine)
        .flat_map(|(_, g)| g.iter().cloned())
        .chain(exam.faults.iter().map(|f| f.client.clone()))
        .collect();
    case.expected = Some(expectation_of(outcome));
    let promoted = Promoted {
        signature: report.signature.clone(),
        expect: chosen.clone(),
        guards: guards.clone(),
        culprit: report.key.culprit.clone(),
        promoted: now(),
    };
    let comment = format!(
        "Regression guard promoted from schism finding {}: {}. Expects {}'s result{}.",
        report.signature,
        describe(&report),
        chosen,
        if guards.is_empty() { String::new() } else { format!("; {} computed otherwise", guards.join(", ")) }
    );
    let info = serde_json::json!({ "comment": comment, "schism": promoted });
    std::fs::create_dir_all(regressions).map_err(|source| TriageError::Io { path: regressions.to_path_buf(), source })?;
    // The signature comes from a folder, which is data: it names a file inside `regressions`
    // and nothing else.
    let path = regressions.join(format!("{}.json", folder::file_name(&report.signature)));
    let text = state_test_json(&case, &format!("regressions/{}", report.signature), info)?;
    crate::atomic::write(&path, text.as_bytes()).map_err(|source| TriageError::Io { path: path.clone(), source })?;
    Ok(path)
}

/// The `_info.schism` record of a promoted fixture file, when it has one.
pub fn promoted_info(path: &Path) -> Option<Promoted> {
    let text = std::fs::read(path).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let (_, test) = value.as_object()?.iter().next()?;
    serde_json::from_value(test.get("_info")?.get("schism")?.clone()).ok()
}
