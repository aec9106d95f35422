//! Comparing the runs of one sequence on several clients, block by block: whether each block
//! was accepted, its state root, which transactions were rejected, each receipt (status,
//! cumulative gas, logs), the block's logs hash, receipts root and requests. The first block
//! where clients part ways is the divergence, located at its first differing transaction; the
//! verdict is the same type as a single transaction's ([`Verdict`]).

use super::{BlockResult, ChainRun};
use crate::compare::{Aspect, Comparable, Locus, Verdict};
use alloy_primitives::B256;
use schism_interface::{BlockOutcome, TxStatus};

/// The aspects in which two clients' results for a block differ, and the first differing
/// transaction. Fields a client does not report are not compared.
fn differences(a: &BlockResult, b: &BlockResult) -> (Vec<Aspect>, Option<usize>) {
    let mut aspects = Vec::new();
    let mut tx: Option<usize> = None;
    let at = |i: usize, tx: &mut Option<usize>| *tx = Some(tx.map_or(i, |t| t.min(i)));
    if a.rejection.is_none() != b.rejection.is_none() {
        aspects.push(Aspect::Acceptance);
    }
    let (Some(oa), Some(ob)) = (&a.outcome, &b.outcome) else {
        return (aspects, tx);
    };
    if oa.state_root != ob.state_root {
        aspects.push(Aspect::StateRoot);
    }
    let rej = |o: &BlockOutcome| o.rejected.iter().map(|r| r.index).collect::<Vec<_>>();
    let (ra, rb) = (rej(oa), rej(ob));
    if ra != rb {
        aspects.push(Aspect::Rejected);
        if let Some(i) = ra.iter().chain(&rb).copied().filter(|i| ra.contains(i) != rb.contains(i)).min() {
            at(i, &mut tx);
        }
    }
    let both = |x: Option<B256>, y: Option<B256>| matches!((x, y), (Some(x), Some(y)) if x != y);
    for ea in &oa.receipts {
        let Some(eb) = ob.receipts.iter().find(|r| r.index == ea.index) else { continue };
        let mut here = Vec::new();
        if matches!((ea.success, eb.success), (Some(x), Some(y)) if x != y) || both(ea.post_state, eb.post_state) {
            here.push(Aspect::Status);
        }
        if ea.cumulative_gas_used != eb.cumulative_gas_used {
            here.push(Aspect::GasUsed);
        }
        if matches!((&ea.logs, &eb.logs), (Some(x), Some(y)) if x != y) {
            here.push(Aspect::Logs);
        }
        if !here.is_empty() {
            at(ea.index, &mut tx);
        }
        aspects.extend(here);
    }
    if both(oa.logs_hash, ob.logs_hash) {
        aspects.push(Aspect::Logs);
    }
    if both(oa.receipts_root, ob.receipts_root) {
        aspects.push(Aspect::ReceiptsRoot);
    }
    if matches!((&oa.requests, &ob.requests), (Some(x), Some(y)) if x != y) {
        aspects.push(Aspect::RequestsHash);
    }
    aspects.sort_unstable();
    aspects.dedup();
    (aspects, tx)
}

/// What a client computed for a block, at transaction `tx` when one is located.
fn comparable(result: &BlockResult, tx: Option<usize>) -> Comparable {
    let accepted = Some(result.rejection.is_none());
    let Some(outcome) = &result.outcome else {
        return Comparable { state_root: B256::ZERO, logs_hash: None, status: None, gas_used: None, halt: None, accepted };
    };
    let mut c = Comparable {
        state_root: outcome.state_root,
        logs_hash: outcome.logs_hash,
        status: None,
        gas_used: Some(outcome.gas_used),
        halt: None,
        accepted,
    };
    let Some(tx) = tx else { return c };
    if outcome.rejected.iter().any(|r| r.index == tx) {
        c.status = Some(TxStatus::Rejected);
        c.gas_used = Some(0);
        return c;
    }
    if let Some(i) = outcome.receipts.iter().position(|r| r.index == tx) {
        let receipt = &outcome.receipts[i];
        let before = if i == 0 { 0 } else { outcome.receipts[i - 1].cumulative_gas_used };
        c.gas_used = Some(receipt.cumulative_gas_used.saturating_sub(before));
        c.status = match (receipt.success, receipt.error) {
            (Some(true), _) => Some(TxStatus::Success),
            (_, Some(schism_interface::ErrorClass::Revert)) => Some(TxStatus::Reverted),
            (Some(false), e) => {
                c.halt = e;
                Some(TxStatus::Halted)
            }
            (None, _) => None,
        };
    }
    c
}

/// Compares the runs of one sequence, block by block.
pub fn compare(runs: &[(String, &ChainRun)]) -> Verdict {
    if runs.len() < 2 {
        return Verdict::Skipped { reason: "fewer than two clients ran the sequence".to_owned() };
    }
    let blocks = runs.iter().map(|(_, r)| r.blocks.len()).min().unwrap_or(0);
    for block in 0..blocks {
        let results: Vec<&BlockResult> = runs.iter().map(|(_, r)| &r.blocks[block]).collect();
        // Group clients by agreement with each group's first member.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut aspects: Vec<Aspect> = Vec::new();
        let mut first_tx: Option<usize> = None;
        for (i, result) in results.iter().enumerate() {
            let mut placed = false;
            for group in &mut groups {
                let (diff, tx) = differences(results[group[0]], result);
                if diff.is_empty() {
                    group.push(i);
                    placed = true;
                    break;
                }
                aspects.extend(diff);
                if let Some(t) = tx {
                    first_tx = Some(first_tx.map_or(t, |f| f.min(t)));
                }
            }
            if !placed {
                groups.push(vec![i]);
            }
        }
        if groups.len() > 1 {
            groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
            aspects.sort_unstable();
            aspects.dedup();
            return Verdict::Diverge {
                results: groups.iter().map(|g| comparable(results[g[0]], first_tx)).collect(),
                groups: groups.iter().map(|g| g.iter().map(|&i| runs[i].0.clone()).collect()).collect(),
                aspects,
                locus: Locus { block: Some(block), tx: first_tx, instruction: None },
            };
        }
    }
    // Same blocks, different heads: a difference that only shows at the end.
    let first = &runs[0];
    let odd: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].1.state_root != first.1.state_root).collect();
    if odd.is_empty() {
        return Verdict::Agree;
    }
    let same: Vec<usize> = (0..runs.len()).filter(|i| !odd.contains(i)).collect();
    let head = |i: usize| Comparable {
        state_root: runs[i].1.state_root,
        logs_hash: None,
        status: None,
        gas_used: None,
        halt: None,
        accepted: None,
    };
    let label = |g: &[usize]| g.iter().map(|&i| runs[i].0.clone()).collect::<Vec<_>>();
    Verdict::Diverge {
        results: vec![head(same[0]), head(odd[0])],
        groups: vec![label(&same), label(&odd)],
        aspects: vec![Aspect::StateRoot],
        locus: Locus { block: Some(blocks.saturating_sub(1)), tx: None, instruction: None },
    }
}
