//! The kinds of case triage works on: a single transaction ([`Case`], filed as a state test)
//! and a block sequence ([`Sequence`], filed as a blockchain test). Everything triage does to a
//! finding (examine, localise, minimise, fill, describe) is written once against [`Subject`];
//! this module says what differs between the two kinds.

use super::examine::{Examination, Scope};
use super::minimise::Minimise;
use super::{TriageError, expectation_of, folder, sequence};
use crate::chain::ChainRun;
use crate::compare::{Locus, Verdict};
use crate::panel::{Panel, Runnable};
use schism_interface::{Accounts, Case, Outcome, Sequence, Trace};
use std::fmt::Write as _;

/// A kind of case a finding is made of.
pub trait Subject: Runnable<Output: Clone> + Minimise + Clone + PartialEq + Send {
    /// Single transaction or block sequence.
    const SCOPE: Scope;

    /// The fork (a sequence's fork schedule's name).
    fn fork_name(&self) -> String;

    /// Compares the clients' outputs.
    fn compare(outputs: &[(&str, &Self::Output)]) -> Verdict;

    /// The trace of the transaction at `locus` (the case's one transaction, or the divergent
    /// transaction of a sequence).
    fn trace_at<'a>(output: &'a Self::Output, locus: &Locus) -> Option<&'a Trace>;

    /// The post-state at `locus` (after the transaction, or after the divergent block).
    fn post_state_at<'a>(output: &'a Self::Output, locus: &Locus) -> Option<&'a Accounts>;

    /// The case as a standard fixture (`schism/<name>`) whose expectation is what the majority
    /// of `exam` computed.
    fn fixture(&self, name: &str, info: serde_json::Value, exam: &Examination<Self::Output>, panel: &Panel) -> Result<String, TriageError>;

    /// What a client developer reads about the case in `report.md`.
    fn describe(&self, md: &mut String);

    /// The divergent transaction of `exam` alone, as a state test, where the kind of case has
    /// more than one (see [`crate::chain::transaction_case`]).
    fn single_transaction(&self, exam: &Examination<Self::Output>, panel: &Panel) -> Option<Case> {
        let _ = (exam, panel);
        None
    }
}

impl Subject for Case {
    const SCOPE: Scope = Scope::Transaction;

    fn fork_name(&self) -> String {
        self.fork.name().to_owned()
    }

    fn compare(outputs: &[(&str, &Outcome)]) -> Verdict {
        crate::compare::compare(outputs)
    }

    fn trace_at<'a>(output: &'a Outcome, _: &Locus) -> Option<&'a Trace> {
        output.trace.as_ref()
    }

    fn post_state_at<'a>(output: &'a Outcome, _: &Locus) -> Option<&'a Accounts> {
        output.post_state.as_ref()
    }

    fn fixture(&self, name: &str, info: serde_json::Value, exam: &Examination<Outcome>, _: &Panel) -> Result<String, TriageError> {
        let mut case = self.clone();
        case.expected = exam.majority().map(expectation_of);
        folder::state_test_json(&case, name, info)
    }

    fn describe(&self, md: &mut String) {
        let _ = writeln!(md, "Transaction: {}.\n", describe_tx(&self.tx));
        describe_code(&self.pre, md);
    }
}

impl Subject for Sequence {
    const SCOPE: Scope = Scope::Sequence;

    fn fork_name(&self) -> String {
        self.schedule.network()
    }

    fn compare(outputs: &[(&str, &ChainRun)]) -> Verdict {
        let runs: Vec<(String, &ChainRun)> = outputs.iter().map(|(c, r)| ((*c).to_owned(), *r)).collect();
        crate::chain::compare::compare(&runs)
    }

    fn trace_at<'a>(output: &'a ChainRun, locus: &Locus) -> Option<&'a Trace> {
        let outcome = output.blocks.get(locus.block?)?.outcome.as_ref()?;
        outcome.receipts.iter().find(|r| Some(r.index) == locus.tx)?.trace.as_ref()
    }

    fn post_state_at<'a>(output: &'a ChainRun, locus: &Locus) -> Option<&'a Accounts> {
        match locus.block.and_then(|b| output.blocks.get(b)) {
            Some(block) => block.outcome.as_ref().map(|o| &o.post),
            None => Some(&output.state),
        }
    }

    /// A blockchain test filled from the majority's first client (the way execution-spec-tests'
    /// fuzzer bridge fills fuzzer output): the blocks it accepted with the transactions it
    /// included, its post-state and head.
    fn fixture(&self, name: &str, info: serde_json::Value, exam: &Examination<ChainRun>, panel: &Panel) -> Result<String, TriageError> {
        let reference = exam
            .majority_label()
            .and_then(|label| panel.client(label))
            .ok_or_else(|| TriageError::Encode("no client ran the sequence to fill it from".into()))?;
        sequence::filled(reference.as_ref(), self, name, info)
    }

    fn single_transaction(&self, exam: &Examination<ChainRun>, panel: &Panel) -> Option<Case> {
        let locus = exam.locus();
        let reference = panel.client(exam.majority_label()?)?;
        crate::chain::transaction_case(reference.as_ref(), self, locus.block?, locus.tx?).ok().flatten()
    }

    fn describe(&self, md: &mut String) {
        let _ = writeln!(md, "{} blocks, {} transactions:\n", self.blocks.len(), self.tx_count());
        for (b, block) in self.blocks.iter().enumerate() {
            for (t, stx) in block.txs.iter().enumerate() {
                let _ = writeln!(md, "- block {b}, transaction {t}: {}", describe_tx(&stx.tx));
            }
        }
        let _ = writeln!(md);
        describe_code(&self.pre, md);
    }
}

/// One transaction in words: type, sender, recipient, nonce, gas limit, value, data size.
fn describe_tx(tx: &schism_interface::Transaction) -> String {
    format!(
        "{:?} from `{}` to {}, nonce {}, gas limit {}, value {}, {} bytes of data",
        tx.kind,
        tx.sender,
        tx.to.map_or("(creation)".to_owned(), |a| format!("`{a}`")),
        tx.nonce,
        tx.gas_limit,
        match &tx.value {
            schism_interface::TxValue::Value(v) => v.to_string(),
            other => format!("{other:?}"),
        },
        tx.data.len()
    )
}

/// The code of every account that has some, as listings.
fn describe_code(pre: &Accounts, md: &mut String) {
    for (address, account) in pre.iter().filter(|(_, a)| !a.code.is_empty()) {
        let lines = super::code::listing(&account.code);
        let _ = writeln!(md, "Code of `{address}` ({} instructions):\n\n```", lines.len());
        for l in lines.iter().take(60) {
            let _ = writeln!(md, "{l}");
        }
        if lines.len() > 60 {
            let _ = writeln!(md, "... {} more", lines.len() - 60);
        }
        let _ = writeln!(md, "```\n");
    }
}
