//! Comparing the runs of one sequence on several clients, block by block: whether each block
//! was accepted, its state root, which transactions were rejected, each receipt (status,
//! cumulative gas, logs), the block's logs hash and receipts root. The first block where clients
//! part ways is the divergence, named with its first differing transaction.

use super::{BlockResult, ChainRun};
use alloy_primitives::B256;
use serde::Serialize;

/// Where and how clients' runs of a sequence differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainDivergence {
    /// Client ids grouped by identical results at the divergent block, largest group first.
    pub groups: Vec<Vec<String>>,
    /// The first block (position in the sequence) where they differ.
    pub block: usize,
    /// The first transaction of that block whose result differs, when one does.
    pub tx: Option<usize>,
    /// What differs there: `acceptance`, `state_root`, `rejected`, `status`, `gas`, `logs`,
    /// `logs_hash`, `receipts_root`.
    pub aspects: Vec<&'static str>,
}

/// What one client did with one block, as compared.
#[derive(Clone, Debug)]
struct View<'a> {
    accepted: bool,
    result: &'a BlockResult,
}

/// The aspects in which two clients' results for a block differ, and the first differing
/// transaction. Fields a client does not report are not compared.
fn differences(a: &View<'_>, b: &View<'_>) -> (Vec<&'static str>, Option<usize>) {
    let mut aspects = Vec::new();
    let mut tx: Option<usize> = None;
    let at = |i: usize, tx: &mut Option<usize>| *tx = Some(tx.map_or(i, |t| t.min(i)));
    if a.accepted != b.accepted {
        aspects.push("acceptance");
    }
    let (Some(oa), Some(ob)) = (&a.result.outcome, &b.result.outcome) else {
        return (aspects, tx);
    };
    if oa.state_root != ob.state_root {
        aspects.push("state_root");
    }
    let rej = |o: &schism_interface::BlockOutcome| o.rejected.iter().map(|r| r.index).collect::<Vec<_>>();
    let (ra, rb) = (rej(oa), rej(ob));
    if ra != rb {
        aspects.push("rejected");
        if let Some(i) = ra.iter().chain(&rb).copied().filter(|i| ra.contains(i) != rb.contains(i)).min() {
            at(i, &mut tx);
        }
    }
    let mut status = false;
    let mut gas = false;
    let mut logs = false;
    for ea in &oa.receipts {
        let Some(eb) = ob.receipts.iter().find(|r| r.index == ea.index) else { continue };
        let mut differs = false;
        if let (Some(x), Some(y)) = (ea.success, eb.success)
            && x != y
        {
            status = true;
            differs = true;
        }
        if let (Some(x), Some(y)) = (ea.post_state, eb.post_state)
            && x != y
        {
            status = true;
            differs = true;
        }
        if ea.cumulative_gas_used != eb.cumulative_gas_used {
            gas = true;
            differs = true;
        }
        if let (Some(x), Some(y)) = (&ea.logs, &eb.logs)
            && x != y
        {
            logs = true;
            differs = true;
        }
        if differs {
            at(ea.index, &mut tx);
        }
    }
    aspects.extend([("status", status), ("gas", gas), ("logs", logs)].iter().filter(|(_, d)| *d).map(|(n, _)| *n));
    let both = |x: Option<B256>, y: Option<B256>| matches!((x, y), (Some(x), Some(y)) if x != y);
    if both(oa.logs_hash, ob.logs_hash) {
        aspects.push("logs_hash");
    }
    if both(oa.receipts_root, ob.receipts_root) {
        aspects.push("receipts_root");
    }
    (aspects, tx)
}

/// Compares the runs of one sequence; `None` when every client agrees on every block.
pub fn compare(runs: &[(String, &ChainRun)]) -> Option<ChainDivergence> {
    let blocks = runs.iter().map(|(_, r)| r.blocks.len()).min()?;
    for block in 0..blocks {
        let views: Vec<View<'_>> = runs
            .iter()
            .map(|(_, r)| View { accepted: r.blocks[block].rejection.is_none(), result: &r.blocks[block] })
            .collect();
        // Group clients by agreement with each group's first member.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut aspects: Vec<&'static str> = Vec::new();
        let mut first_tx: Option<usize> = None;
        for (i, view) in views.iter().enumerate() {
            let mut placed = false;
            for group in &mut groups {
                let (diff, tx) = differences(&views[group[0]], view);
                if diff.is_empty() {
                    group.push(i);
                    placed = true;
                    break;
                }
                for d in diff {
                    if !aspects.contains(&d) {
                        aspects.push(d);
                    }
                }
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
            return Some(ChainDivergence {
                groups: groups.iter().map(|g| g.iter().map(|&i| runs[i].0.clone()).collect()).collect(),
                block,
                tx: first_tx,
                aspects,
            });
        }
    }
    // Same blocks, different heads: a difference that only shows at the end.
    let first = runs.first()?;
    let odd: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].1.state_root != first.1.state_root).collect();
    if odd.is_empty() {
        return None;
    }
    let same: Vec<String> = (0..runs.len()).filter(|i| !odd.contains(i)).map(|i| runs[i].0.clone()).collect();
    let other: Vec<String> = odd.iter().map(|&i| runs[i].0.clone()).collect();
    Some(ChainDivergence { groups: vec![same, other], block: blocks.saturating_sub(1), tx: None, aspects: vec!["state_root"] })
}
