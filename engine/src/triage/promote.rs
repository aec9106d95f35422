//! Promotion: a confirmed divergence becomes a filled regression fixture in
//! `corpus/regressions/`, expecting what the chosen client computes: a state test for a
//! single-transaction finding, a blockchain test for a block-sequence finding. `cargo test`
//! replays every regression fixture through every in-process client
//! (engine/tests/suite/regressions.rs).

use super::examine::{Examination, Examiner, Scope};
use super::folder::{self, describe, state_test_json};
use super::report::{Report, now};
use super::{TriageError, expectation_of, sequence};
use crate::compare::Verdict;
use schism_interface::Sequence;
use schism_interface::load::{FixtureFile, read_fixture};
use schism_interface::sequence::blockchain::sequences_of_file;
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

/// Promotes the filed folder `dir` into `regressions`; the path of the fixture written. A
/// single-transaction finding becomes a state test, a block-sequence finding (`scope`
/// `sequence` in its report) a blockchain test filled by the expected client.
pub fn promote(dir: &Path, expect: &Expect, regressions: &Path, examiner: &Examiner) -> Result<PathBuf, TriageError> {
    let report = folder::read_report(dir)?.ok_or_else(|| TriageError::Folder {
        path: dir.join("report.json"),
        reason: "missing: only a filed folder (with its report) can be promoted".into(),
    })?;
    let name = format!("regressions/{}", report.signature);
    let text = match report.scope {
        Scope::Transaction => {
            let (mut case, _) = folder::read(dir)?;
            let exam = examiner.examine(&case, false);
            let (chosen, guards) = choose(dir, expect, &report, &exam)?;
            let outcome = exam.outcome(&chosen).ok_or_else(|| not_run(dir, &chosen, &exam))?;
            case.expected = Some(expectation_of(outcome));
            state_test_json(&case, &name, info(&report, &chosen, &guards))?
        }
        Scope::Sequence => {
            let seq = read_sequence(&dir.join("case.json"))?;
            let exam = examiner.examine(&seq, false);
            let (chosen, guards) = choose(dir, expect, &report, &exam)?;
            let client =
                examiner.client(&chosen).filter(|_| exam.outcome(&chosen).is_some()).ok_or_else(|| not_run(dir, &chosen, &exam))?;
            sequence::filled(client.as_ref(), &seq, &name, info(&report, &chosen, &guards))?
        }
    };
    std::fs::create_dir_all(regressions).map_err(|source| TriageError::Io { path: regressions.to_path_buf(), source })?;
    // The signature comes from a folder, which is data: it names a file inside `regressions`
    // and nothing else.
    let path = regressions.join(format!("{}.json", folder::file_name(&report.signature)));
    crate::atomic::write(&path, text.as_bytes()).map_err(|source| TriageError::Io { path: path.clone(), source })?;
    Ok(path)
}

/// The client whose result is expected and the clients that computed otherwise (or failed),
/// from the examination of the folder's case (the report's groups when it no longer diverges).
fn choose<O>(dir: &Path, expect: &Expect, report: &Report, exam: &Examination<O>) -> Result<(String, Vec<String>), TriageError> {
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
    if exam.outcome(&chosen).is_none() {
        return Err(not_run(dir, &chosen, exam));
    }
    let mine = groups.iter().position(|g| g.contains(&chosen));
    let guards = groups
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != mine)
        .flat_map(|(_, g)| g.iter().cloned())
        .chain(exam.faults.iter().map(|f| f.client.clone()))
        .collect();
    Ok((chosen, guards))
}

/// `--expect` names a client that produced no result for the folder's case.
fn not_run<O>(dir: &Path, chosen: &str, exam: &Examination<O>) -> TriageError {
    TriageError::Usage {
        what: format!(
            "--expect {chosen}: not a client that ran {} (ran: {})",
            dir.display(),
            exam.outcomes.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The `_info` of a promoted fixture: a comment and the [`Promoted`] record.
fn info(report: &Report, chosen: &str, guards: &[String]) -> serde_json::Value {
    let promoted = Promoted {
        signature: report.signature.clone(),
        expect: chosen.to_owned(),
        guards: guards.to_vec(),
        culprit: report.key.culprit.clone(),
        promoted: now(),
    };
    let comment = format!(
        "Regression guard promoted from schism finding {}: {}. Expects {}'s result{}.",
        report.signature,
        describe(report),
        chosen,
        if guards.is_empty() { String::new() } else { format!("; {} computed otherwise", guards.join(", ")) }
    );
    serde_json::json!({ "comment": comment, "schism": promoted })
}

/// The block sequence of a sequence folder's `case.json` (a blockchain test holding one test),
/// its blocks as a builder's choices again: the headers the majority's client filled are not
/// claims the expected client is held to, so that it computes (and fills) its own.
fn read_sequence(path: &Path) -> Result<Sequence, TriageError> {
    let FixtureFile::Blockchain(tests) = read_fixture(path)? else {
        return Err(TriageError::Folder {
            path: path.to_path_buf(),
            reason: "not a blockchain test (the report says the finding is a block sequence)".into(),
        });
    };
    let (mut seqs, errors) = sequences_of_file(path, &tests);
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    if seqs.is_empty() {
        return Err(TriageError::Folder { path: path.to_path_buf(), reason: "holds no test".into() });
    }
    let mut seq = seqs.swap_remove(0);
    for block in &mut seq.blocks {
        block.claimed = false;
        block.rlp = None;
    }
    Ok(seq)
}

/// The `_info.schism` record of a promoted fixture file, when it has one.
pub fn promoted_info(path: &Path) -> Option<Promoted> {
    let text = std::fs::read(path).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let (_, test) = value.as_object()?.iter().next()?;
    serde_json::from_value(test.get("_info")?.get("schism")?.clone()).ok()
}
