//! Comparison: groups clients by what they computed for the same case and names what differs,
//! and where (the [`Locus`]: block and transaction of a sequence). One verdict type for single
//! transactions and block sequences ([`crate::chain::compare`]). A divergence is a verdict,
//! never an error.

use alloy_primitives::B256;
use schism_interface::{ErrorClass, Outcome, TxStatus};
use serde::{Deserialize, Serialize};

/// What is compared between clients: post-state root, logs hash, status, gas used and the class
/// of an exceptional halt. Rejection reasons are not compared (clients name them differently);
/// that a transaction was rejected is. An aspect a client does not report is `None` and is
/// compared only among the clients that report it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Comparable {
    /// Post-state root.
    pub state_root: B256,
    /// Logs hash.
    pub logs_hash: Option<B256>,
    /// Transaction status.
    pub status: Option<TxStatus>,
    /// Gas used.
    pub gas_used: Option<u64>,
    /// Halt class, for halted transactions (`None` also when the status is not reported).
    pub halt: Option<ErrorClass>,
    /// Whether the block was accepted (block sequences only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
}

impl Comparable {
    /// The compared parts of an outcome.
    pub fn of(outcome: &Outcome) -> Comparable {
        let status = outcome.status();
        Comparable {
            state_root: outcome.state_root,
            logs_hash: outcome.logs_hash,
            status,
            gas_used: outcome.gas_used,
            halt: outcome.error.filter(|_| status == Some(TxStatus::Halted)),
            accepted: None,
        }
    }

    /// The aspects in which `self` and `other` differ, among those both report.
    pub fn differences(&self, other: &Comparable) -> Vec<Aspect> {
        fn differ<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            matches!((a, b), (Some(a), Some(b)) if a != b)
        }
        let both_statuses = self.status.is_some() && other.status.is_some();
        [
            (self.state_root != other.state_root, Aspect::StateRoot),
            (differ(&self.logs_hash, &other.logs_hash), Aspect::Logs),
            (differ(&self.status, &other.status), Aspect::Status),
            (differ(&self.gas_used, &other.gas_used), Aspect::GasUsed),
            (both_statuses && self.halt != other.halt, Aspect::ErrorClass),
        ]
        .into_iter()
        .filter_map(|(d, a)| d.then_some(a))
        .collect()
    }

    /// Fills the aspects `self` does not report from `other` (which agrees with it).
    fn absorb(&mut self, other: &Comparable) {
        self.logs_hash = self.logs_hash.or(other.logs_hash);
        self.gas_used = self.gas_used.or(other.gas_used);
        if self.status.is_none() {
            self.status = other.status;
            self.halt = other.halt;
        }
    }
}

/// One aspect in which clients differ, of a transaction or of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// Post-state root (after the transaction, or after the block).
    StateRoot,
    /// Logs (their hash, or a receipt's logs).
    Logs,
    /// Success / revert / halt / rejection.
    Status,
    /// Gas used.
    GasUsed,
    /// Class of the halt.
    ErrorClass,
    /// Whether a block was accepted.
    Acceptance,
    /// Which transactions a block could not include.
    Rejected,
    /// A block's receipts root.
    ReceiptsRoot,
    /// A block's EIP-7685 requests.
    RequestsHash,
}

/// Where in a case clients part ways: the block and transaction of a sequence (a single
/// transaction has neither), and the instruction once traces are lined up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Locus {
    /// The first block (position in the sequence) where they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
    /// The first transaction of that block whose result differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<usize>,
    /// The instruction to blame, once traces are lined up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
}

impl Locus {
    /// True when nothing is located (a single transaction before its traces are lined up).
    pub fn is_empty(&self) -> bool {
        self.block.is_none() && self.tx.is_none() && self.instruction.is_none()
    }

    /// `block 1, transaction 0, after SSTORE`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.block {
            parts.push(format!("block {b}"));
        }
        if let Some(t) = self.tx {
            parts.push(format!("transaction {t}"));
        }
        if let Some(i) = &self.instruction {
            parts.push(format!("at {i}"));
        }
        parts.join(", ")
    }
}

impl Verdict {
    /// True for a divergence that a chain would see: state root, logs, status or gas. Clients
    /// that only name the same exceptional halt differently (same root, gas and logs) diverge
    /// in their reporting, not in consensus.
    pub fn is_consensus_divergence(&self) -> bool {
        matches!(self, Verdict::Diverge { aspects, .. } if aspects.iter().any(|a| *a != Aspect::ErrorClass))
    }
}

/// The result of comparing clients on one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every client that executed the case computed the same.
    Agree,
    /// Clients fall into several groups.
    Diverge {
        /// Client ids grouped by identical results, largest group first.
        groups: Vec<Vec<String>>,
        /// What differs between the groups.
        aspects: Vec<Aspect>,
        /// What each group computed, in the order of `groups` (for a sequence: at the locus).
        results: Vec<Comparable>,
        /// Where they part ways.
        #[serde(default, skip_serializing_if = "Locus::is_empty")]
        locus: Locus,
    },
    /// Nothing to compare.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Compares the outcomes of several clients on the same case.
pub fn compare(outcomes: &[(&str, &Outcome)]) -> Verdict {
    if outcomes.len() < 2 {
        return Verdict::Skipped { reason: "fewer than two clients executed the case".to_owned() };
    }
    // Every client in the first group, the common case: agreement, decided without naming
    // the members (what follows, for the same order of joins, would find one group).
    let mut first = Comparable::of(outcomes[0].1);
    let joins = |first: &mut Comparable, outcome: &Outcome| {
        let key = Comparable::of(outcome);
        let agrees = first.differences(&key).is_empty();
        if agrees {
            first.absorb(&key);
        }
        agrees
    };
    if outcomes[1..].iter().all(|(_, outcome)| joins(&mut first, outcome)) {
        return Verdict::Agree;
    }
    // A client joins the first group it agrees with on every aspect both report; the group's
    // representative then carries the union of what its members report.
    let mut groups: Vec<(Comparable, Vec<String>)> = Vec::new();
    for (id, outcome) in outcomes {
        let key = Comparable::of(outcome);
        match groups.iter_mut().find(|(k, _)| k.differences(&key).is_empty()) {
            Some((rep, members)) => {
                rep.absorb(&key);
                members.push((*id).to_owned());
            }
            None => groups.push((key, vec![(*id).to_owned()])),
        }
    }
    if groups.len() == 1 {
        return Verdict::Agree;
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
    let first = &groups[0].0;
    let mut aspects: Vec<Aspect> = groups[1..].iter().flat_map(|(other, _)| first.differences(other)).collect();
    if aspects.is_empty() {
        // Two minority groups differ from each other, not from the first.
        aspects =
            groups[1..].iter().enumerate().flat_map(|(i, (a, _))| groups[i + 2..].iter().flat_map(|(b, _)| a.differences(b))).collect();
    }
    aspects.sort();
    aspects.dedup();
    let (results, groups) = groups.into_iter().unzip();
    Verdict::Diverge { groups, aspects, results, locus: Locus::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(root: u8, gas: u64, error: Option<ErrorClass>) -> Outcome {
        Outcome {
            state_root: B256::repeat_byte(root),
            logs_hash: Some(B256::ZERO),
            gas_used: Some(gas),
            error,
            status_reported: true,
            logs: vec![],
            post_state: None,
            trace: None,
        }
    }

    #[test]
    fn identical_outcomes_agree() {
        let a = outcome(1, 21000, None);
        assert_eq!(compare(&[("x", &a), ("y", &a.clone())]), Verdict::Agree);
    }

    #[test]
    fn majority_group_comes_first_and_aspects_are_named() {
        let good = outcome(1, 21000, None);
        let bad = outcome(2, 22000, Some(ErrorClass::OutOfGas));
        let verdict = compare(&[("x", &bad), ("y", &good), ("z", &good)]);
        assert_eq!(
            verdict,
            Verdict::Diverge {
                groups: vec![vec!["y".into(), "z".into()], vec!["x".into()]],
                aspects: vec![Aspect::StateRoot, Aspect::Status, Aspect::GasUsed, Aspect::ErrorClass],
                results: vec![Comparable::of(&good), Comparable::of(&bad)],
                locus: Locus::default(),
            }
        );
    }

    #[test]
    fn different_rejection_reasons_still_agree() {
        use schism_interface::InvalidTxKind;
        let a = outcome(1, 0, Some(ErrorClass::InvalidTransaction(InvalidTxKind::IntrinsicGasTooLow)));
        let b = outcome(1, 0, Some(ErrorClass::InvalidTransaction(InvalidTxKind::InsufficientAccountFunds)));
        assert_eq!(compare(&[("x", &a), ("y", &b)]), Verdict::Agree);
    }

    #[test]
    fn a_halt_named_differently_is_not_a_consensus_divergence() {
        let a = outcome(1, 50000, Some(ErrorClass::OutOfGas));
        let b = outcome(1, 50000, Some(ErrorClass::CodeSizeLimit));
        let verdict = compare(&[("x", &a), ("y", &b)]);
        assert!(matches!(&verdict, Verdict::Diverge { aspects, .. } if aspects == &vec![Aspect::ErrorClass]));
        assert!(!verdict.is_consensus_divergence());
        let c = outcome(2, 50000, Some(ErrorClass::OutOfGas));
        assert!(compare(&[("x", &a), ("z", &c)]).is_consensus_divergence());
    }

    #[test]
    fn unreported_aspects_are_compared_only_where_reported() {
        use schism_interface::InvalidTxKind;
        let full = outcome(1, 50000, Some(ErrorClass::OutOfGas));
        let root_only = Outcome::root_only(B256::repeat_byte(1), None);
        assert_eq!(compare(&[("x", &full), ("g", &root_only), ("y", &full.clone())]), Verdict::Agree);
        // Still a divergence among the clients that report gas.
        let other_gas = outcome(1, 40000, Some(ErrorClass::OutOfGas));
        let verdict = compare(&[("x", &full), ("g", &root_only), ("y", &other_gas)]);
        assert!(matches!(&verdict, Verdict::Diverge { aspects, .. } if aspects == &vec![Aspect::GasUsed]));
        // Also when the client that reports less comes first: the others agree with it, not
        // with each other.
        let verdict = compare(&[("g", &root_only), ("x", &full), ("y", &other_gas)]);
        assert!(
            matches!(&verdict, Verdict::Diverge { groups, aspects, .. } if aspects == &vec![Aspect::GasUsed] && groups.len() == 2),
            "{verdict:?}"
        );
        // A root-only client that says "rejected" differs in status from one that executed.
        let rejected = Outcome::root_only(B256::repeat_byte(1), Some(InvalidTxKind::NonceIsMax));
        let verdict = compare(&[("x", &full), ("g", &rejected)]);
        assert!(matches!(&verdict, Verdict::Diverge { aspects, .. } if aspects == &vec![Aspect::Status, Aspect::ErrorClass]));
        let wrong_root = Outcome::root_only(B256::repeat_byte(2), None);
        assert!(compare(&[("x", &full), ("g", &wrong_root)]).is_consensus_divergence());
    }

    #[test]
    fn a_single_client_has_nothing_to_compare() {
        let a = outcome(1, 0, None);
        assert!(matches!(compare(&[("x", &a)]), Verdict::Skipped { .. }));
    }
}
