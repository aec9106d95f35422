//! Block sequences in triage: minimisation that drops blocks first, then transactions, then
//! blocks left empty, then accounts (each candidate kept while the finding's signature holds);
//! the filled blockchain test a sequence folder holds (`case.json`), replayable with `schism
//! run` and each client's own blockchain-test runner; and the replay of such a file.

use super::TriageError;
use super::examine::Examiner;
use super::minimise::{Budget, Minimise, Minimised, code_instructions};
use crate::chain;
use crate::panel::guarded;
use schism_interface::sequence::blockchain::{FilledBlock, fill};
use schism_interface::{Client, Sequence, TraceMode};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Renumbers the sender nonces after transactions were dropped: each sender's transactions
/// count up from its genesis nonce, in order.
fn renumber(seq: &mut Sequence) {
    let mut next: std::collections::HashMap<alloy_primitives::Address, u64> = std::collections::HashMap::new();
    for block in &mut seq.blocks {
        for stx in &mut block.txs {
            let start = seq.pre.get(&stx.tx.sender).map_or(0, |a| a.nonce);
            let n = next.entry(stx.tx.sender).or_insert(start);
            stx.tx.nonce = *n;
            *n += 1;
            stx.raw = None;
        }
    }
}

impl Minimise for Sequence {
    /// Drops blocks, then transactions (renumbering nonces), then blocks left empty, then
    /// accounts no transaction is sent from.
    fn minimise(&self, budget: Budget, holds: &mut dyn FnMut(&Sequence) -> bool) -> (Sequence, Minimised) {
        let started = Instant::now();
        let mut stats = self.unminimised();
        stats.complete = true;
        let mut best = self.clone();
        let mut keeps = |candidate: &Sequence, stats: &mut Minimised| {
            if stats.evaluations >= budget.evaluations || started.elapsed() > budget.time {
                stats.complete = false;
                return false;
            }
            stats.evaluations += 1;
            holds(candidate)
        };
        // Blocks, from the last.
        let mut i = best.blocks.len();
        while i > 0 {
            i -= 1;
            if best.blocks.len() > 1 {
                let mut c = best.clone();
                c.blocks.remove(i);
                renumber(&mut c);
                if keeps(&c, &mut stats) {
                    best = c;
                }
            }
        }
        // Transactions, from the last.
        let positions: Vec<(usize, usize)> =
            best.blocks.iter().enumerate().flat_map(|(b, blk)| (0..blk.txs.len()).map(move |t| (b, t))).rev().collect();
        for (b, t) in positions {
            if best.tx_count() <= 1 || t >= best.blocks[b].txs.len() {
                continue;
            }
            let mut c = best.clone();
            c.blocks[b].txs.remove(t);
            renumber(&mut c);
            if keeps(&c, &mut stats) {
                best = c;
            }
        }
        // Blocks left empty.
        let mut i = best.blocks.len();
        while i > 0 {
            i -= 1;
            if best.blocks.len() > 1 && best.blocks[i].txs.is_empty() {
                let mut c = best.clone();
                c.blocks.remove(i);
                if keeps(&c, &mut stats) {
                    best = c;
                }
            }
        }
        // Accounts no transaction sends from.
        let senders: Vec<_> = best.blocks.iter().flat_map(|b| b.txs.iter().map(|t| t.tx.sender)).collect();
        let addresses: Vec<_> = best.pre.keys().copied().filter(|a| !senders.contains(a)).collect();
        for address in addresses {
            let mut c = best.clone();
            let mut pre = (*c.pre).clone();
            pre.remove(&address);
            c.pre = Arc::new(pre);
            if keeps(&c, &mut stats) {
                best = c;
            }
        }
        let after = best.unminimised();
        stats.blocks_after = after.blocks_after;
        stats.txs_after = after.txs_after;
        stats.accounts_after = after.accounts_after;
        stats.instructions_after = after.instructions_after;
        stats.seconds = started.elapsed().as_secs_f64();
        (best, stats)
    }

    fn unminimised(&self) -> Minimised {
        let n = code_instructions(&self.pre);
        Minimised {
            instructions_before: n,
            instructions_after: n,
            accounts_before: self.pre.len(),
            accounts_after: self.pre.len(),
            evaluations: 0,
            seconds: 0.0,
            complete: false,
            blocks_before: Some(self.blocks.len()),
            blocks_after: Some(self.blocks.len()),
            txs_before: Some(self.tx_count()),
            txs_after: Some(self.tx_count()),
        }
    }
}

/// The blockchain test of `seq` as `reference` runs it: accepted blocks with the transactions
/// it included, its post-state and head.
pub fn filled(reference: &dyn Client, seq: &Sequence, name: &str, info: serde_json::Value) -> Result<String, TriageError> {
    let run = guarded(reference.id(), || chain::run(reference, seq, TraceMode::Off))
        .map_err(|e| TriageError::Encode(format!("the reference {} cannot run the sequence: {e}", reference.id())))?;
    let mut blocks = Vec::new();
    for (block, result) in seq.blocks.iter().zip(&run.blocks) {
        let (Some(header), Some(outcome)) = (&result.header, &result.outcome) else { continue };
        blocks.push(FilledBlock {
            header: header.clone(),
            txs: chain::included(block, outcome),
            withdrawals: result.outcome.as_ref().and(header.withdrawals_root).map(|_| block.withdrawals.clone().unwrap_or_default()),
        });
    }
    let test = fill(seq, &blocks, &run.state, info).map_err(|e| TriageError::Encode(e.to_string()))?;
    let file = std::collections::BTreeMap::from([(format!("schism/{name}"), test)]);
    serde_json::to_string_pretty(&file).map_err(|e| TriageError::Encode(e.to_string()))
}

/// Replays a sequence folder (its `case.json`) or a blockchain test file on the examiner's
/// clients: what each client makes of every test, and where they part ways. `None` when the
/// file is not a blockchain test; true when the clients still part ways.
pub fn replay(path: &Path, examiner: &Examiner) -> Result<Option<(String, bool)>, TriageError> {
    use schism_interface::load::{FixtureFile, read_fixture};
    let file = if path.is_dir() { path.join("case.json") } else { path.to_path_buf() };
    let FixtureFile::Blockchain(tests) = read_fixture(&file)? else { return Ok(None) };
    let (seqs, errors) = schism_interface::sequence::blockchain::sequences_of_file(&file, &tests);
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    let mut out = String::new();
    let mut diverges = false;
    for seq in &seqs {
        let exam = examiner.examine(seq, true);
        out.push_str(&format!("{} ({} blocks, {} transactions)\n", seq.label(), seq.blocks.len(), seq.tx_count()));
        for (id, run) in &exam.outcomes {
            let mismatches = chain::check(seq, run);
            let verdict = if mismatches.is_empty() { "as the fixture expects".to_owned() } else { format!("{mismatches:?}") };
            out.push_str(&format!("  {id:<28} head {} root {}: {verdict}\n", run.head, run.state_root));
        }
        for f in &exam.faults {
            out.push_str(&format!("FAULT {}: {}\n", f.client, f.message));
        }
        match exam.signature() {
            Some(signature) => {
                diverges = true;
                if let crate::compare::Verdict::Diverge { groups, aspects, .. } = &exam.verdict {
                    let groups: Vec<String> = groups.iter().map(|g| g.join(", ")).collect();
                    out.push_str(&format!("DIVERGE at {} on {aspects:?}: {}\n", exam.locus().describe(), groups.join(" | ")));
                }
                out.push_str(&format!("signature {}\n", signature.id()));
            }
            None => out.push_str("all clients agree\n"),
        }
    }
    Ok(Some((out, diverges)))
}
