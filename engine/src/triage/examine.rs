//! Examination: one case, a state test or a block sequence, on every client of a panel,
//! compared, and, when it diverges, re-run with traces to localise the difference (the block,
//! the transaction, the instruction) and name it with a signature.

use super::localise::{FirstDifference, StateDifference, Traced, first_difference, state_differences};
use super::subject::Subject;
use crate::compare::{Aspect, Locus, Verdict};
pub use crate::panel::Fault;
use crate::panel::{Call, Entry, Excuse, Panel};
use alloy_primitives::keccak256;
use schism_interface::{Client, Outcome, TraceMode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Clients disagree on consensus data (root, logs, status, gas, acceptance, ...).
    Divergence,
    /// A client failed to produce an outcome.
    Fault,
    /// One client took far longer than the others.
    Slow,
}

/// What a case is: a single transaction (a state test) or a block sequence (a blockchain test).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One transaction: the case is a state test.
    #[default]
    Transaction,
    /// Blocks of transactions: the case is a blockchain test.
    Sequence,
}

/// What makes two findings the same finding: the same bug found twice, on any fork, gets the
/// same signature, so it is filed once and every fork it shows on is counted on its folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Kind of finding.
    pub kind: Kind,
    /// Single transaction or block sequence.
    #[serde(default)]
    pub scope: Scope,
    /// Client ids grouped by identical results, largest group first (for a slow finding: the
    /// slow client, then the others).
    pub groups: Vec<Vec<String>>,
    /// What differs between the groups.
    pub aspects: Vec<Aspect>,
    /// Faulting clients and the kind of their fault.
    pub faults: Vec<(String, String)>,
    /// The instruction to blame (see [`FirstDifference::culprit`]); for a slow finding, the
    /// precompiles the case calls; `fault` for a fault.
    pub culprit: String,
}

impl Signature {
    /// The folder name: `<culprit>-<hash>` (`sar-3fa2b1c9d0e1`), with `seq-` before a sequence
    /// finding's and `slow-` before a slow one's.
    pub fn id(&self) -> String {
        let key = serde_json::to_string(self).unwrap_or_default();
        let hash = keccak256(key.as_bytes());
        let culprit: String = self.culprit.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let prefix = match (self.kind, self.scope) {
            (Kind::Slow, _) => "slow-",
            (_, Scope::Sequence) => "seq-",
            (_, Scope::Transaction) => "",
        };
        format!("{prefix}{culprit}-{}", alloy_primitives::hex::encode(&hash[..6]))
    }

    /// The id of the signature's split: its kind, scope, groups and faults, without what
    /// differs and the culprit (which vary with the case around one cause).
    pub fn split_id(&self) -> String {
        Signature { culprit: String::new(), aspects: Vec::new(), ..self.clone() }.id()
    }

    /// True when groups, aspects and faults match: what a run without traces can tell.
    fn same_shape(&self, other: &Signature) -> bool {
        self.kind == other.kind
            && self.scope == other.scope
            && self.groups == other.groups
            && self.aspects == other.aspects
            && self.faults == other.faults
    }
}

/// The clients a case is examined on.
#[derive(Clone)]
pub struct Examiner {
    panel: Panel,
    /// When known differences keep a client out.
    excuse: Excuse,
}

/// The result of running a case on every client.
#[derive(Clone, Debug)]
pub struct Examination<O = Outcome> {
    /// The fork (for a sequence, its fork schedule's name).
    pub fork: String,
    /// Single transaction or block sequence.
    pub scope: Scope,
    /// Each client's outcome (a sequence's run), in selection order.
    pub outcomes: Vec<(String, O)>,
    /// Clients that failed.
    pub faults: Vec<Fault>,
    /// Clients left out because a documented known difference covers the case: id, difference.
    pub excused: Vec<(String, String)>,
    /// Clients that cannot run the case.
    pub unsupported: Vec<String>,
    /// The comparison.
    pub verdict: Verdict,
    /// Where traces part ways (only in traced examinations of divergent cases).
    pub first_difference: Option<FirstDifference>,
    /// Post-state differences (only in traced examinations of divergent cases).
    pub state: Vec<StateDifference>,
}

impl<O> Examination<O> {
    /// True for a finding: a consensus divergence or a fault.
    pub fn divergent(&self) -> bool {
        self.verdict.is_consensus_divergence() || !self.faults.is_empty()
    }

    /// The signature of the finding, when the examination is one.
    pub fn signature(&self) -> Option<Signature> {
        if !self.divergent() {
            return None;
        }
        let (groups, aspects) = match &self.verdict {
            Verdict::Diverge { groups, aspects, .. } => (groups.clone(), aspects.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let faults: Vec<(String, String)> = self.faults.iter().map(|f| (f.client.clone(), f.kind.clone())).collect();
        let culprit = match (&self.first_difference, faults.is_empty()) {
            (_, false) => "fault".to_owned(),
            (Some(d), true) => d.culprit.clone(),
            (None, true) => "untraced".to_owned(),
        };
        let kind = if faults.is_empty() { Kind::Divergence } else { Kind::Fault };
        Some(Signature { kind, scope: self.scope, groups, aspects, faults, culprit })
    }

    /// The outcome of a client.
    pub fn outcome(&self, client: &str) -> Option<&O> {
        self.outcomes.iter().find(|(c, _)| c == client).map(|(_, o)| o)
    }

    /// The label of the largest group's first client (the majority), or of the first client.
    pub fn majority_label(&self) -> Option<&str> {
        match &self.verdict {
            Verdict::Diverge { groups, .. } => groups.first().and_then(|g| g.first()).map(String::as_str),
            _ => self.outcomes.first().map(|(c, _)| c.as_str()),
        }
    }

    /// The outcome of the majority (see [`Examination::majority_label`]).
    pub fn majority(&self) -> Option<&O> {
        self.majority_label().and_then(|c| self.outcome(c))
    }

    /// Where the clients part ways, as far as it is known.
    pub fn locus(&self) -> Locus {
        let mut locus = match &self.verdict {
            Verdict::Diverge { locus, .. } => locus.clone(),
            _ => Locus::default(),
        };
        if let Some(d) = &self.first_difference
            && d.index.is_some()
        {
            locus.instruction = Some(d.culprit.clone());
        }
        locus
    }
}

impl Examiner {
    /// Examines on these clients under the given labels (a client compared with itself appears
    /// twice under two labels).
    pub fn labelled(clients: Vec<(String, Arc<dyn Client>)>) -> Examiner {
        Examiner { panel: Panel::labelled(clients), excuse: Excuse::Before }
    }

    /// The same examiner running every client on every case it can represent, known
    /// differences judged on findings afterwards (see [`Excuse::After`]).
    pub fn judging_known_after(self) -> Examiner {
        Examiner { excuse: Excuse::After, ..self }
    }

    /// Whether known differences are judged on findings afterwards.
    pub fn judges_known_after(&self) -> bool {
        self.excuse == Excuse::After
    }

    /// The clients and their labels.
    pub fn clients(&self) -> &[(String, Arc<dyn Client>)] {
        self.panel.seats()
    }

    /// The panel the cases run on.
    pub fn panel(&self) -> &Panel {
        &self.panel
    }

    /// The client of a label.
    pub fn client(&self, label: &str) -> Option<&Arc<dyn Client>> {
        self.panel.client(label)
    }

    /// Runs the case on every client. With `traced`, each client records a trace and, when the
    /// clients disagree, the first difference and the post-state differences are worked out.
    pub fn examine<S: Subject>(&self, case: &S, traced: bool) -> Examination<S::Output> {
        let mode = if traced { TraceMode::Steps } else { TraceMode::Off };
        let mut exam = Examination {
            fork: case.fork_name(),
            scope: S::SCOPE,
            outcomes: Vec::new(),
            faults: Vec::new(),
            excused: Vec::new(),
            unsupported: Vec::new(),
            verdict: Verdict::Agree,
            first_difference: None,
            state: Vec::new(),
        };
        let call = Call { trace: mode, excuse: self.excuse, ..Call::plain() };
        for seat in self.panel.run(case, call) {
            match seat.entry {
                Entry::Ran(outcome) => exam.outcomes.push((seat.label, outcome)),
                Entry::Fault(fault) => exam.faults.push(fault),
                Entry::Unsupported(_) => exam.unsupported.push(seat.label),
                Entry::Excused(known) => exam.excused.push((seat.label, known.id.to_owned())),
            }
        }
        let labelled: Vec<(&str, &S::Output)> = exam.outcomes.iter().map(|(c, o)| (c.as_str(), o)).collect();
        exam.verdict = S::compare(&labelled);
        if traced && exam.divergent() {
            self.localise::<S>(&mut exam);
        }
        exam
    }

    /// Works out the first difference between the groups' traces (for a sequence, those of the
    /// divergent transaction) and the post-state differences (after the divergent block).
    fn localise<S: Subject>(&self, exam: &mut Examination<S::Output>) {
        // The first member of each group stands for it; members of one group agree on every
        // compared aspect, and their traces may differ only in how each client reports them.
        let representatives: Vec<&str> = match &exam.verdict {
            Verdict::Diverge { groups, .. } => groups.iter().filter_map(|g| g.first().map(String::as_str)).collect(),
            _ => exam.outcomes.iter().map(|(c, _)| c.as_str()).collect(),
        };
        let locus = exam.locus();
        let traced: Vec<Traced<'_>> = representatives
            .iter()
            .filter_map(|c| {
                let outcome = exam.outcome(c)?;
                let client = self.client(c)?;
                Some(Traced { client: c, trace: S::trace_at(outcome, &locus), fields: client.trace_fields() })
            })
            .collect();
        let first = first_difference(&traced);
        let posts: Vec<(&str, Option<&schism_interface::Accounts>)> =
            representatives.iter().filter_map(|c| exam.outcome(c).map(|o| (*c, S::post_state_at(o, &locus)))).collect();
        exam.state = state_differences(&posts);
        exam.first_difference = Some(first);
    }

    /// True when the case still shows the finding `wanted`: the cheap comparison first, the
    /// traced one (for the culprit) only when that matches.
    pub fn reproduces<S: Subject>(&self, case: &S, wanted: &Signature) -> bool {
        let quick = self.examine(case, false);
        let Some(got) = quick.signature() else { return false };
        if !got.same_shape(wanted) {
            return false;
        }
        if wanted.kind == Kind::Fault {
            return true;
        }
        self.examine(case, true).signature().as_ref() == Some(wanted)
    }
}
