//! Block-sequence findings: the signature of a sequence divergence, minimisation that drops
//! blocks first, then transactions, then accounts, keeping the signature; and the filed folder,
//! whose `case.json` is a blockchain_test filled from a reference client (the way
//! execution-spec-tests' fuzzer bridge fills fuzzer output), replayable with `schism run` and
//! each client's own blockchain-test runner.

use super::TriageError;
use super::folder::{Filed, file_name, is_filed, record_again, write_atomic};
use super::minimise::Budget;
use super::report::now;
use crate::chain::compare::{ChainDivergence, compare};
use crate::chain::{self, ChainRun};
use crate::runner::guarded;
use crate::panel::{Call, Entry, Panel};
use alloy_primitives::keccak256;
use schism_interface::sequence::blockchain::{FilledBlock, fill};
use schism_interface::{Client, Sequence, TraceMode};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What identifies a sequence finding: fork, who groups with whom, what differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SequenceSignature {
    /// The fork.
    pub fork: String,
    /// Client groups, each sorted, largest first.
    pub groups: Vec<Vec<String>>,
    /// What differs at the first divergent block, sorted.
    pub aspects: Vec<&'static str>,
}

impl SequenceSignature {
    /// The signature of a divergence.
    pub fn of(seq: &Sequence, d: &ChainDivergence) -> SequenceSignature {
        let mut groups: Vec<Vec<String>> = d.groups.iter().map(|g| {
            let mut g = g.clone();
            g.sort();
            g
        }).collect();
        groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let mut aspects = d.aspects.clone();
        aspects.sort_unstable();
        SequenceSignature { fork: seq.schedule.network().to_lowercase(), groups, aspects }
    }

    /// The folder name: `<fork>-seq-<first aspect>-<hash>`.
    pub fn id(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let hash = keccak256(text.as_bytes());
        let aspect = self.aspects.first().copied().unwrap_or("state").replace('_', "");
        format!("{}-seq-{aspect}-{}", self.fork, &alloy_primitives::hex::encode(hash)[..12])
    }
}

/// Runs a sequence on every client that can run it; the divergence, if any.
pub fn examine(clients: &[(String, Arc<dyn Client>)], seq: &Sequence) -> (Vec<(String, ChainRun)>, Option<ChainDivergence>) {
    let runs: Vec<(String, ChainRun)> = Panel::labelled(clients.to_vec())
        .run(seq, Call::plain())
        .into_iter()
        .filter_map(|seat| match seat.entry {
            Entry::Ran(run) => Some((seat.label, run)),
            _ => None,
        })
        .collect();
    let refs: Vec<(String, &ChainRun)> = runs.iter().map(|(id, r)| (id.clone(), r)).collect();
    let divergence = if refs.len() > 1 { compare(&refs) } else { None };
    (runs, divergence)
}

/// What sequence minimisation did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SequenceMinimised {
    /// Blocks before and after.
    pub blocks_before: usize,
    /// Blocks after.
    pub blocks_after: usize,
    /// Transactions before.
    pub txs_before: usize,
    /// Transactions after.
    pub txs_after: usize,
    /// Accounts before.
    pub accounts_before: usize,
    /// Accounts after.
    pub accounts_after: usize,
    /// Candidates tried.
    pub evaluations: u64,
    /// Seconds spent.
    pub seconds: f64,
}

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

/// Shrinks `seq` while it keeps `wanted`'s signature: drops blocks, then transactions, then
/// accounts no transaction is sent from.
pub fn minimise(
    clients: &[(String, Arc<dyn Client>)],
    seq: &Sequence,
    wanted: &SequenceSignature,
    budget: Budget,
) -> (Sequence, SequenceMinimised) {
    let started = Instant::now();
    let mut stats = SequenceMinimised {
        blocks_before: seq.blocks.len(),
        txs_before: seq.tx_count(),
        accounts_before: seq.pre.len(),
        ..Default::default()
    };
    let mut best = seq.clone();
    let keeps = |candidate: &Sequence, stats: &mut SequenceMinimised| {
        if stats.evaluations >= budget.evaluations || started.elapsed() > budget.time {
            return false;
        }
        stats.evaluations += 1;
        let (_, d) = examine(clients, candidate);
        d.is_some_and(|d| SequenceSignature::of(candidate, &d) == *wanted)
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
    stats.blocks_after = best.blocks.len();
    stats.txs_after = best.tx_count();
    stats.accounts_after = best.pre.len();
    stats.seconds = started.elapsed().as_secs_f64();
    (best, stats)
}

/// The blockchain test of `seq` as `reference` runs it: accepted blocks with the transactions
/// it included, its post-state and head.
pub fn filled(
    reference: &dyn Client,
    seq: &Sequence,
    name: &str,
    info: serde_json::Value,
) -> Result<String, TriageError> {
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

/// The report of a sequence finding (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct SequenceReport {
    /// Folder name.
    pub signature: String,
    /// `sequence_divergence`.
    pub kind: &'static str,
    /// What identifies it.
    pub key: SequenceSignature,
    /// Client ids, in the order compared.
    pub clients: Vec<String>,
    /// The client the fixture is filled from.
    pub reference: String,
    /// The first divergent block and transaction of the minimised sequence.
    pub block: usize,
    /// The first divergent transaction of that block, when one is.
    pub tx: Option<usize>,
    /// Each client's state root and receipts at the divergent block.
    pub results: Vec<serde_json::Value>,
    /// Times found.
    pub count: u64,
    /// First found.
    pub first_seen: String,
    /// Last found.
    pub last_seen: String,
    /// What minimisation did.
    pub minimised: SequenceMinimised,
    /// Seconds from the divergent input to the filed folder.
    pub filing_seconds: f64,
    /// How to replay it.
    pub reproduce: Vec<String>,
}

/// Files a sequence finding under `crashes`, or counts it on its folder when its signature is
/// filed already. Returns the folder and whether it is new.
pub fn handle(
    crashes: &Path,
    clients: &[(String, Arc<dyn Client>)],
    seq: &Sequence,
    divergence: &ChainDivergence,
    budget: Option<Budget>,
    found: Instant,
) -> Result<(Filed, SequenceSignature), TriageError> {
    let signature = SequenceSignature::of(seq, divergence);
    let id = signature.id();
    std::fs::create_dir_all(crashes).map_err(|source| TriageError::Io { path: crashes.to_path_buf(), source })?;
    if let Some(count) = record_again(crashes, &id)? {
        return Ok((Filed::Again(crashes.join(&id), count), signature));
    }
    let (small, minimised) = match budget {
        Some(budget) => minimise(clients, seq, &signature, budget),
        None => (seq.clone(), SequenceMinimised::default()),
    };
    let (runs, d) = examine(clients, &small);
    let d = d.unwrap_or_else(|| divergence.clone());
    let reference_id = d.groups.first().and_then(|g| g.first()).cloned().unwrap_or_default();
    let reference = clients
        .iter()
        .find(|(id, _)| *id == reference_id)
        .map(|(_, c)| c.clone())
        .ok_or_else(|| TriageError::Encode("no reference client".into()))?;
    let info = serde_json::json!({
        "comment": format!(
            "schism sequence finding {id}: clients {:?} differ on {:?} at block {} tx {:?}; filled from {reference_id}",
            d.groups, d.aspects, d.block, d.tx
        ),
        "schism": { "signature": id, "groups": d.groups, "aspects": d.aspects, "reference": reference_id },
    });
    let case = filled(reference.as_ref(), &small, &id, info.clone())?;
    let original = filled(reference.as_ref(), seq, &format!("{id}-original"), info)?;
    let results = runs
        .iter()
        .map(|(client, run)| {
            let b = run.blocks.get(d.block);
            serde_json::json!({
                "client": client,
                "accepted": b.is_some_and(|b| b.rejection.is_none()),
                "state_root": b.and_then(|b| b.outcome.as_ref()).map(|o| o.state_root),
                "gas_used": b.and_then(|b| b.outcome.as_ref()).map(|o| o.gas_used),
                "receipts": b.and_then(|b| b.outcome.as_ref()).map(|o| o.receipts.iter().map(|r| serde_json::json!({
                    "tx": r.index, "success": r.success, "cumulative_gas_used": r.cumulative_gas_used,
                    "logs": r.logs.as_ref().map(Vec::len), "error": r.error.map(|e| e.to_string()),
                })).collect::<Vec<_>>()),
                "rejected": b.and_then(|b| b.outcome.as_ref()).map(|o| o.rejected.iter().map(|r| serde_json::json!({"tx": r.index, "kind": r.kind})).collect::<Vec<_>>()),
            })
        })
        .collect();
    let client_ids: Vec<String> = clients.iter().map(|(id, _)| id.clone()).collect();
    let folder = crashes.join(&id);
    let mut reproduce = vec![format!(
        "schism run {}/case.json {}",
        folder.display(),
        client_ids.iter().map(|c| format!("--client {}", c.trim_end_matches("#again"))).collect::<Vec<_>>().join(" ")
    )];
    if reference_id == "revm" {
        reproduce.push(format!("revme blockchaintest {}/case.json", folder.display()));
    }
    let report = SequenceReport {
        signature: id.clone(),
        kind: "sequence_divergence",
        key: signature.clone(),
        clients: client_ids,
        reference: reference_id,
        block: d.block,
        tx: d.tx,
        results,
        count: 1,
        first_seen: now(),
        last_seen: now(),
        minimised,
        filing_seconds: found.elapsed().as_secs_f64(),
        reproduce,
    };
    let filed = write(crashes, &id, &report, &case, &original)?;
    Ok((filed, signature))
}

fn markdown(report: &SequenceReport) -> String {
    let m = &report.minimised;
    let mut out = format!(
        "# {}\n\nA block sequence on which clients compute different blocks.\n\n- groups: {}\n- first divergent block: {} (transaction {})\n- what differs: {}\n- filled from: {}\n- minimised: {} → {} blocks, {} → {} transactions, {} → {} accounts ({} candidates, {:.2} s)\n\n## Results at that block\n\n",
        report.signature,
        report.key.groups.iter().map(|g| g.join(" + ")).collect::<Vec<_>>().join(" | "),
        report.block,
        report.tx.map_or_else(|| "none".to_owned(), |t| t.to_string()),
        report.key.aspects.join(", "),
        report.reference,
        m.blocks_before, m.blocks_after, m.txs_before, m.txs_after, m.accounts_before, m.accounts_after, m.evaluations, m.seconds,
    );
    for r in &report.results {
        out.push_str(&format!("```\n{}\n```\n", serde_json::to_string_pretty(r).unwrap_or_default()));
    }
    out.push_str("\n## Reproduce\n\n");
    for r in &report.reproduce {
        out.push_str(&format!("    {r}\n"));
    }
    out
}

fn write(crashes: &Path, id: &str, report: &SequenceReport, case: &str, original: &str) -> Result<Filed, TriageError> {
    let target = crashes.join(id);
    if is_filed(crashes, id) {
        let count = record_again(crashes, id)?.unwrap_or(1);
        return Ok(Filed::Again(target, count));
    }
    super::folder::remove_stale_staging(crashes);
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let staging: PathBuf = crashes.join(format!(".staging-{}-{}-{serial}", file_name(id), std::process::id()));
    std::fs::create_dir_all(&staging).map_err(|source| TriageError::Io { path: staging.clone(), source })?;
    let put = |name: &str, text: &[u8]| {
        super::folder::pause();
        write_atomic(&staging.join(name), text)
    };
    put("case.json", case.as_bytes())?;
    put("original.json", original.as_bytes())?;
    put("report.md", markdown(report).as_bytes())?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| TriageError::Encode(e.to_string()))?;
    // report.json last: a folder is filed when it has one.
    put("report.json", &json)?;
    if is_filed(crashes, id) {
        let _ = std::fs::remove_dir_all(&staging);
        let count = record_again(crashes, id)?.unwrap_or(1);
        return Ok(Filed::Again(target, count));
    }
    std::fs::rename(&staging, &target).map_err(|source| TriageError::Io { path: target.clone(), source })?;
    Ok(Filed::New(target))
}

/// Replays a sequence folder (its `case.json`) or a blockchain test file on `clients`: what
/// each client makes of every test, and where they part ways. True when they still do.
pub fn replay(path: &Path, clients: &[(String, Arc<dyn Client>)]) -> Result<Option<(String, bool)>, TriageError> {
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
        let (runs, d) = examine(clients, seq);
        out.push_str(&format!("{} ({} blocks, {} transactions)\n", seq.label(), seq.blocks.len(), seq.tx_count()));
        for (id, run) in &runs {
            let mismatches = chain::check(seq, run);
            let verdict = if mismatches.is_empty() { "as the fixture expects".to_owned() } else { format!("{mismatches:?}") };
            out.push_str(&format!("  {id:<28} head {} root {}: {verdict}\n", run.head, run.state_root));
        }
        match d {
            Some(d) => {
                diverges = true;
                let groups: Vec<String> = d.groups.iter().map(|g| g.join(", ")).collect();
                out.push_str(&format!(
                    "DIVERGE at block {} transaction {:?} on {:?}: {}\nsignature {}\n",
                    d.block,
                    d.tx,
                    d.aspects,
                    groups.join(" | "),
                    SequenceSignature::of(seq, &d).id()
                ));
            }
            None => out.push_str("all clients agree\n"),
        }
    }
    Ok(Some((out, diverges)))
}
