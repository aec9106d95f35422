//! JUnit XML, the format CI systems show natively: a fixture run as one test case per case and
//! client (failures carry the mismatch, client faults are errors), and a crashes folder as one
//! test case per filed finding.
//!
//! The XML is written by `quick-junit`; this module only decides what a test case is.

use crate::compare::Verdict;
use crate::runner::sequences::{ChainResult, SequenceResult};
use crate::runner::{CaseResult, ClientResult};
use crate::triage::Kind;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::{Path, PathBuf};

use std::time::Duration;

/// A JUnit file could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JunitError {
    /// The XML could not be serialised.
    #[error("cannot serialise JUnit XML: {0}")]
    Serialize(#[from] quick_junit::SerializeError),
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Writes a report to `path`, atomically.
pub fn write(report: &Report, path: &Path) -> Result<(), JunitError> {
    let xml = report.to_string()?;
    crate::atomic::write(path, xml.as_bytes()).map_err(|source| JunitError::Write { path: path.to_path_buf(), source })
}

/// A fixture run: one suite per client (one test case per case it was given, named by test,
/// fork and indexes, classed by file), one `cross-client` suite whose test cases fail where
/// the clients disagree, and the block sequences likewise.
pub fn of_run(clients: &[String], cases: &[CaseResult], sequences: &[SequenceResult], elapsed: Duration) -> Report {
    let mut report = Report::new("schism run");
    report.set_time(elapsed);
    for (i, client) in clients.iter().enumerate() {
        let mut suite = TestSuite::new(client.as_str());
        for case in cases {
            let Some((result, took)) = case.clients.get(i) else { continue };
            let name = case_name(case);
            let mut test = TestCase::new(name, client_status(result));
            test.set_classname(case.case.file.as_ref()).set_time(*took);
            suite.add_test_case(test);
        }
        for seq in sequences {
            let Some((result, took)) = seq.clients.get(i) else { continue };
            let mut test = TestCase::new(format!("{} [{}]", seq.test, seq.network), chain_status(result));
            test.set_classname(seq.file.as_ref()).set_time(*took);
            suite.add_test_case(test);
        }
        report.add_test_suite(suite);
    }
    let mut cross = TestSuite::new("cross-client");
    for case in cases {
        let mut test = TestCase::new(case_name(case), verdict_status(&case.verdict, &case.known_divergence));
        test.set_classname(case.case.file.as_ref());
        cross.add_test_case(test);
    }
    for seq in sequences {
        let mut test = TestCase::new(format!("{} [{}]", seq.test, seq.network), verdict_status(&seq.verdict, &[]));
        test.set_classname(seq.file.as_ref());
        cross.add_test_case(test);
    }
    report.add_test_suite(cross);
    report
}

/// A test case's name: `test [Fork d0 g1 v0]`.
fn case_name(case: &CaseResult) -> String {
    let c = &case.case;
    format!("{} [{:?} d{} g{} v{}]", c.test, c.fork, c.index.data, c.index.gas, c.index.value)
}

fn client_status(result: &ClientResult) -> TestCaseStatus {
    match result {
        ClientResult::Pass { .. } => TestCaseStatus::success(),
        ClientResult::Known { id } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("documented known difference `{id}`"));
            status
        }
        ClientResult::Skip { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            status
        }
        ClientResult::Fail { mismatches, .. } => {
            let text: Vec<String> = mismatches.iter().map(|m| serde_json::to_string(m).unwrap_or_else(|_| format!("{m:?}"))).collect();
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("mismatch").set_message(text.join("; ")).set_description(text.join("\n"));
            status
        }
        ClientResult::Error { kind, message } => fault(kind, message),
    }
}

fn chain_status(result: &ChainResult) -> TestCaseStatus {
    match result {
        ChainResult::Pass => TestCaseStatus::success(),
        ChainResult::Skip { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            status
        }
        ChainResult::Fail { mismatches } => {
            let text: Vec<String> = mismatches.iter().map(|m| serde_json::to_string(m).unwrap_or_else(|_| format!("{m:?}"))).collect();
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("mismatch").set_message(text.join("; ")).set_description(text.join("\n"));
            status
        }
        ChainResult::Error { kind, message } => fault(kind, message),
    }
}

/// A client that produced no outcome: a JUnit error, not a failure.
fn fault(kind: &str, message: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_type(kind).set_message(message);
    status
}

fn verdict_status(verdict: &Verdict, known: &[&str]) -> TestCaseStatus {
    match verdict {
        Verdict::Agree => TestCaseStatus::success(),
        Verdict::Skipped { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            status
        }
        Verdict::Diverge { .. } if !known.is_empty() => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("documented known difference: {}", known.join(", ")));
            status
        }
        Verdict::Diverge { groups, aspects, .. } => {
            let groups: Vec<String> = groups.iter().map(|g| g.join("+")).collect();
            let aspects: Vec<String> = aspects.iter().map(|a| format!("{a:?}")).collect();
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("divergence").set_message(format!("{} disagree on {}", groups.join(" vs "), aspects.join(", ")));
            status
        }
    }
}

/// A crashes folder: one test case per filed finding (`report.json`), named by signature and
/// classed by kind. Findings not in `known` (the signatures filed before this run) fail (a
/// client fault is an error); known ones are skipped with their history, so that a CI job
/// fails on what is new and still lists what is known.
pub fn of_findings(crashes: &Path, known: &[String]) -> Report {
    let mut suite = TestSuite::new("schism fuzz");
    for (dir, report) in crate::triage::folder::list(crashes) {
        let new = !known.contains(&report.signature);
        let summary = crate::triage::folder::describe(&report);
        let status = if new {
            let kind = if report.kind == Kind::Fault { NonSuccessKind::Error } else { NonSuccessKind::Failure };
            let mut status = TestCaseStatus::non_success(kind);
            let mut description = std::fs::read_to_string(dir.join("report.md")).unwrap_or_default();
            description.insert_str(0, &format!("folder: {}\n\n", dir.display()));
            status.set_type(format!("{:?}", report.kind).to_lowercase()).set_message(summary).set_description(description);
            status
        } else {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("filed before this run (first seen {}), seen {} times: {summary}", report.first_seen, report.count));
            status
        };
        let mut test = TestCase::new(report.signature.as_str(), status);
        test.set_classname(format!("{:?}", report.kind).to_lowercase());
        test.add_property(("fork", report.fork.as_str()));
        let clients: Vec<String> = report.clients.iter().map(|c| format!("{}@{}", c.id, c.version)).collect();
        test.add_property(("clients", clients.join(" ").as_str()));
        suite.add_test_case(test);
    }
    let mut out = Report::new("schism fuzz");
    out.add_test_suite(suite);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_crashes_folder_is_an_empty_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let xml = of_findings(dir.path(), &[]).to_string().expect("xml");
        assert!(xml.contains("<testsuite name=\"schism fuzz\" tests=\"0\""), "{xml}");
    }

    #[test]
    fn filed_findings_fail_when_new_and_are_skipped_when_known() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/crashes");
        let xml = of_findings(&fixture, &[]).to_string().expect("xml");
        assert!(xml.contains("tests=\"2\" disabled=\"0\" errors=\"0\" failures=\"2\""), "{xml}");
        assert!(xml.contains("<testcase name=\"msize-c601b2a13d7a\" classname=\"divergence\""), "{xml}");
        assert!(xml.contains("revm vs sputnik disagree on StateRoot"), "{xml}");
        let known = ["msize-c601b2a13d7a".to_owned(), "msize-29edc66d9f47".to_owned()];
        let xml = of_findings(&fixture, &known).to_string().expect("xml");
        assert!(xml.contains("tests=\"2\" disabled=\"2\" errors=\"0\" failures=\"0\""), "{xml}");
    }

    #[test]
    fn a_divergent_case_fails_in_the_cross_client_suite() {
        let verdict = Verdict::Diverge {
            groups: vec![vec!["revm".into()], vec!["levm".into()]],
            aspects: vec![crate::compare::Aspect::StateRoot],
            results: Vec::new(),
            locus: Default::default(),
        };
        let status = verdict_status(&verdict, &[]);
        let mut suite = TestSuite::new("cross-client");
        suite.add_test_case(TestCase::new("t", status));
        let mut report = Report::new("r");
        report.add_test_suite(suite);
        let xml = report.to_string().expect("xml");
        assert!(xml.contains("<failure message=\"revm vs levm disagree on StateRoot\" type=\"divergence\""), "{xml}");
        assert!(matches!(verdict_status(&verdict, &["known-x"]), TestCaseStatus::Skipped { .. }));
    }
}
