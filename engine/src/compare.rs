//! Comparison: groups clients by what they computed for the same case and names what differs.
//! A divergence is a verdict, never an error.

use alloy_primitives::B256;
use schism_interface::{ErrorClass, Outcome, TxStatus};
use serde::Serialize;

/// What is compared between clients: post-state root, logs hash, status, gas used and the class
/// of an exceptional halt. Rejection reasons are not compared (clients name them differently);
/// that a transaction was rejected is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Comparable {
    /// Post-state root.
    pub state_root: B256,
    /// Logs hash.
    pub logs_hash: B256,
    /// Transaction status.
    pub status: TxStatus,
    /// Gas used.
    pub gas_used: u64,
    /// Halt class, for halted transactions.
    pub halt: Option<ErrorClass>,
}

impl Comparable {
    /// The compared parts of an outcome.
    pub fn of(outcome: &Outcome) -> Comparable {
        Comparable {
            state_root: outcome.state_root,
            logs_hash: outcome.logs_hash,
            status: outcome.status(),
            gas_used: outcome.gas_used,
            halt: outcome.error.filter(|_| outcome.status() == TxStatus::Halted),
        }
    }
}

/// One aspect in which clients differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// Post-state root.
    StateRoot,
    /// Logs hash.
    Logs,
    /// Success / revert / halt / rejection.
    Status,
    /// Gas used.
    GasUsed,
    /// Class of the halt.
    ErrorClass,
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
        /// What each group computed, in the order of `groups`.
        results: Vec<Comparable>,
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
    let mut groups: Vec<(Comparable, Vec<String>)> = Vec::new();
    for (id, outcome) in outcomes {
        let key = Comparable::of(outcome);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push((*id).to_owned()),
            None => groups.push((key, vec![(*id).to_owned()])),
        }
    }
    if groups.len() == 1 {
        return Verdict::Agree;
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
    let mut aspects = Vec::new();
    let first = &groups[0].0;
    for (other, _) in &groups[1..] {
        let differing = [
            (first.state_root != other.state_root, Aspect::StateRoot),
            (first.logs_hash != other.logs_hash, Aspect::Logs),
            (first.status != other.status, Aspect::Status),
            (first.gas_used != other.gas_used, Aspect::GasUsed),
            (first.halt != other.halt, Aspect::ErrorClass),
        ];
        aspects.extend(differing.into_iter().filter(|(d, _)| *d).map(|(_, a)| a));
    }
    aspects.sort();
    aspects.dedup();
    let (results, groups) = groups.into_iter().unzip();
    Verdict::Diverge { groups, aspects, results }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(root: u8, gas: u64, error: Option<ErrorClass>) -> Outcome {
        Outcome {
            state_root: B256::repeat_byte(root),
            logs_hash: B256::ZERO,
            gas_used: gas,
            error,
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
    fn a_single_client_has_nothing_to_compare() {
        let a = outcome(1, 0, None);
        assert!(matches!(compare(&[("x", &a)]), Verdict::Skipped { .. }));
    }
}
