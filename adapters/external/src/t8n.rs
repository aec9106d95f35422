//! Blocks through a tool's transition tool (`t8n`), the convention geth's `evm t8n`, EELS's
//! `ethereum-spec-evm t8n`, besu's `evmtool t8n` and `evmone-t8n` share: the pre-state, block
//! environment and signed transactions written to files, one process per block, and the
//! result (`result.json`) and post-state (`alloc.json`) it writes read back into a
//! [`BlockOutcome`]. A tool only declares its command ([`T8n`]); quirks go in the tool's file.
//! Older releases spell the convention differently (geth 1.9's t8n takes JSON transactions,
//! has no `--output.basedir` and reports less): how is data, a [`Dialect`] per tool.

use crate::parse;
use crate::process::{Fault, Launch, Process};
use crate::reasons;
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, LogData, U256};
use schism_interface::fixture::BlobParams;
use schism_interface::sequence::encode;
use schism_interface::sequence::execute::GAS_PER_BLOB;
use schism_interface::sequence::{Rejection, TxReceipt};
use schism_interface::{Account, Accounts, BlockInput, BlockOutcome, Fork, TraceMode};
use serde_json::{Map, Value, json};
use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

/// How a tool runs one block as a transition tool.
#[derive(Clone, Debug)]
pub struct T8n {
    /// The command up to the t8n flags (`evm t8n`, `python -m ethereum_spec_tools.evm_tools t8n`).
    pub launch: Launch,
    /// True when the tool reads the blob schedule from `--input.blobParams`; a tool that does
    /// not uses its fork's own and cannot take a block with other parameters.
    pub blob_params: bool,
    /// The flags that write an EIP-3155 trace per transaction to `trace-<index>-<hash>.jsonl`.
    pub trace: Vec<OsString>,
    /// How the tool takes blocks: a process each, or a long-lived one.
    pub feed: T8nFeed,
    /// How its flags, input and output files are spelled.
    pub dialect: Dialect,
}

/// How a transition tool takes its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T8nFeed {
    /// One process per block, the flags on its command line (`evm t8n`, EELS, besu).
    PerBlock,
    /// A long-lived child started as [`T8n::launch`] reads each block's flags as one JSON array
    /// of strings per line on standard input and answers each with one JSON line on standard
    /// output once it has written the block's files: `{"ok":true}`, or `{"fault":"why"}` when it
    /// could not run the block. For tools whose start costs more than a block (EthereumJS's
    /// runner loads its modules for half a second).
    Served,
}

/// How a transition tool's command line and files are spelled. Today's convention is
/// [`Dialect::CURRENT`]; a tool release that speaks an older one declares it (geth's
/// `RELEASES` rows), and the writer and reader follow the declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// How the transactions are given.
    pub txs: TxsInput,
    /// Whether the tool takes `--output.basedir`. Without it, outputs are named by their full
    /// path and traces are written into the working directory, which is set to the block's folder.
    pub basedir: bool,
    /// How `result.json` lists rejected transactions.
    pub rejected: Rejected,
    /// Whether `result.json` has the block's `gasUsed`; without it, it is the last receipt's
    /// cumulative gas (no receipt: 0).
    pub gas_used: bool,
    /// The name of the receipts root in `result.json`.
    pub receipts_root: &'static str,
    /// What the `<n>` of a trace file `trace-<n>…jsonl` counts.
    pub trace_numbers: TraceNumbers,
}

impl Dialect {
    /// Today's convention (geth 1.14 on, EELS, besu, evmone, nimbus).
    pub const CURRENT: Dialect = Dialect {
        txs: TxsInput::Rlp,
        basedir: true,
        rejected: Rejected::Objects,
        gas_used: true,
        receipts_root: "receiptsRoot",
        trace_numbers: TraceNumbers::Transactions,
    };
}

/// How a transition tool takes the block's transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxsInput {
    /// An RLP list in block-body form, as a hex string in a `.rlp` file.
    Rlp,
    /// A JSON array of signed legacy transactions (`nonce`, `gasPrice`, `gas`, `to`, `value`,
    /// `input`, `v`, `r`, `s` in hex); typed transactions cannot be given.
    LegacyJson,
}

/// How `result.json` lists rejected transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// `[{"index": …, "error": "…"}]`.
    Objects,
    /// `[index, …]`: no reason given.
    Indexes,
}

/// What the number in a trace file's name counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceNumbers {
    /// The transaction's index in the block.
    Transactions,
    /// The transaction's position among those included (rejected ones are not counted).
    Included,
}

/// File names inside a block's folder. Inputs and outputs differ, so a tool that cleans its
/// outputs before running (EELS) never deletes an input.
const ALLOC_IN: &str = "input-alloc.json";
const ENV_IN: &str = "input-env.json";
/// geth reads the transactions as an RLP list only when the name ends in `.rlp`.
const TXS_IN: &str = "input-txs.rlp";
/// The transactions as JSON, for tools that read only that ([`TxsInput::LegacyJson`]).
const TXS_JSON_IN: &str = "input-txs.json";
const BLOB_PARAMS_IN: &str = "input-blob-params.json";
/// The file the tool writes its result (roots, receipts, rejections) to, in the block's folder.
pub const RESULT_OUT: &str = "output-result.json";
/// The file the tool writes the post-state to, in the block's folder.
pub const ALLOC_OUT: &str = "output-alloc.json";

/// Why a block cannot be written for a tool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unwritable {
    /// The block holds something the tool's input cannot carry.
    #[error("cannot represent the block: {0}")]
    Unrepresentable(&'static str),
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
}

/// The block reward a pre-Merge fork pays its miner, in wei; `-1` (no reward) from the Merge
/// on. Given explicitly because the tools' defaults differ: geth pays 0 (touching the
/// coinbase), EELS its fork's reward.
pub fn reward(fork: Fork) -> i64 {
    const ETHER: i64 = 1_000_000_000_000_000_000;
    match fork {
        f if f >= Fork::Paris => -1,
        f if f >= Fork::ConstantinopleFix => 2 * ETHER,
        f if f >= Fork::Byzantium => 3 * ETHER,
        _ => 5 * ETHER,
    }
}

/// The command for one block in folder `dir`.
pub fn command(spec: &T8n, block: &BlockInput, dir: &Path, mode: TraceMode) -> Launch {
    let file = |name: &str| dir.join(name).into_os_string();
    let dialect = &spec.dialect;
    let txs = match dialect.txs {
        TxsInput::Rlp => TXS_IN,
        TxsInput::LegacyJson => TXS_JSON_IN,
    };
    let mut launch = spec
        .launch
        .clone()
        .arg("--input.alloc")
        .arg(file(ALLOC_IN))
        .arg("--input.env")
        .arg(file(ENV_IN))
        .arg("--input.txs")
        .arg(file(txs))
        .arg("--state.fork")
        .arg(block.fork.name())
        .arg("--state.chainid")
        .arg(block.chain_id.to_string())
        .arg("--state.reward")
        .arg(reward(block.fork).to_string());
    launch = if dialect.basedir {
        launch.arg("--output.basedir").arg(dir.as_os_str()).arg("--output.result").arg(RESULT_OUT).arg("--output.alloc").arg(ALLOC_OUT)
    } else {
        // Traces go to the working directory: the block's folder, like the outputs.
        launch.dir = Some(dir.to_path_buf());
        launch.arg("--output.result").arg(file(RESULT_OUT)).arg("--output.alloc").arg(file(ALLOC_OUT))
    };
    if custom_blob_params(block).is_some() {
        launch = launch.arg("--input.blobParams").arg(file(BLOB_PARAMS_IN));
    }
    if mode == TraceMode::Steps {
        launch.args.extend(spec.trace.iter().cloned());
    }
    launch
}

/// The block's blob parameters when they are not its fork's own: only then are they given to
/// a tool (EELS rebuilds its fork for given parameters, which takes over a minute per block).
fn custom_blob_params(block: &BlockInput) -> Option<BlobParams> {
    block.blob_params.filter(|p| Some(*p) != schism_interface::case::default_blob_params(block.fork))
}

/// Writes the block's input files into `dir`.
pub fn write_inputs(spec: &T8n, block: &BlockInput, dir: &Path) -> Result<(), Unwritable> {
    let custom = custom_blob_params(block);
    if !spec.blob_params && custom.is_some() {
        return Err(Unwritable::Unrepresentable("blob parameters other than the fork's own"));
    }
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(dir.join(name), bytes).map_err(|e| Unwritable::Io(format!("cannot write {}: {e}", dir.join(name).display())))
    };
    let json = |value: &Value| serde_json::to_vec(value).map_err(|e| Unwritable::Io(e.to_string()));
    write(ALLOC_IN, serde_json::to_vec(&*block.pre).map_err(|e| Unwritable::Io(e.to_string()))?)?;
    write(ENV_IN, json(&env(block))?)?;
    match spec.dialect.txs {
        TxsInput::Rlp => write(TXS_IN, json(&Value::String(format!("0x{}", alloy_primitives::hex::encode(txs_rlp(block)?))))?)?,
        TxsInput::LegacyJson => write(TXS_JSON_IN, json(&txs_json(block)?)?)?,
    }
    if let Some(p) = custom {
        write(BLOB_PARAMS_IN, json(&json!({"target": p.target, "max": p.max, "baseFeeUpdateFraction": p.base_fee_update_fraction}))?)?;
    }
    Ok(())
}

fn hex_u64(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

/// The `env.json` of a block: the fields every tool reads, each only from the fork that has it
/// (geth refuses a difficulty after the Merge; EELS requires `currentRandom`, `withdrawals`
/// and `parentBeaconBlockRoot` from the forks that have them).
pub fn env(block: &BlockInput) -> Value {
    let fork = block.fork;
    let e = &block.env;
    let mut env = Map::new();
    env.insert("currentCoinbase".into(), json!(e.current_coinbase));
    env.insert("currentGasLimit".into(), hex_u64(e.current_gas_limit));
    env.insert("currentNumber".into(), hex_u64(e.current_number));
    env.insert("currentTimestamp".into(), hex_u64(e.current_timestamp));
    if fork < Fork::Paris {
        env.insert("currentDifficulty".into(), json!(format!("{:#x}", e.current_difficulty)));
    } else {
        env.insert("currentRandom".into(), json!(e.current_random.unwrap_or_default()));
    }
    if let Some(fee) = e.current_base_fee.filter(|_| fork >= Fork::London) {
        env.insert("currentBaseFee".into(), hex_u64(fee));
    }
    if fork >= Fork::Cancun {
        env.insert("currentExcessBlobGas".into(), hex_u64(e.current_excess_blob_gas.unwrap_or(0)));
        // A Cancun header always has the root; a block built without one gets zero, which
        // the tools require rather than skip.
        env.insert("parentBeaconBlockRoot".into(), json!(e.parent_beacon_block_root.unwrap_or_default()));
    }
    if let Some(parent) = e.previous_hash {
        env.insert("parentHash".into(), json!(parent));
    }
    if fork >= Fork::Shanghai {
        let withdrawals: Vec<Value> = block
            .withdrawals
            .iter()
            .flatten()
            .map(|w| {
                json!({"index": hex_u64(w.index), "validatorIndex": hex_u64(w.validator_index),
                       "address": w.address, "amount": hex_u64(w.amount)})
            })
            .collect();
        env.insert("withdrawals".into(), Value::Array(withdrawals));
    }
    if !block.ommers.is_empty() {
        let ommers = block.ommers.iter().map(|o| json!({"delta": o.distance, "address": o.beneficiary})).collect();
        env.insert("ommers".into(), Value::Array(ommers));
    }
    // BLOCKHASH reaches back 256 blocks; EELS reads only those.
    let first = e.current_number.saturating_sub(256);
    let hashes: Map<String, Value> =
        block.block_hashes.range(first..e.current_number).map(|(n, h)| (format!("{n:#x}"), json!(h))).collect();
    env.insert("blockHashes".into(), Value::Object(hashes));
    Value::Object(env)
}

/// A transaction's signed encoding: the one it came with, or its envelope encoded.
fn signed_raw(stx: &schism_interface::SeqTx, chain_id: u64) -> Result<Bytes, Unwritable> {
    match &stx.raw {
        Some(raw) => Ok(raw.clone()),
        None => encode::envelope(stx, chain_id)
            .map(|e| encode::raw(&e))
            .map_err(|_| Unwritable::Unrepresentable("a transaction without a signed encoding")),
    }
}

/// The block's transactions as an RLP list in block-body form: a legacy transaction as its
/// RLP list, a typed one as a byte string holding its EIP-2718 encoding.
pub fn txs_rlp(block: &BlockInput) -> Result<Vec<u8>, Unwritable> {
    use alloy_rlp::Encodable;
    let mut items = Vec::new();
    for stx in &block.txs {
        let raw = signed_raw(stx, block.chain_id)?;
        match raw.first() {
            Some(b) if *b >= 0xc0 => items.extend_from_slice(&raw),
            _ => raw.as_ref().encode(&mut items),
        }
    }
    let mut out = Vec::with_capacity(items.len() + 9);
    alloy_rlp::Header { list: true, payload_length: items.len() }.encode(&mut out);
    out.extend_from_slice(&items);
    Ok(out)
}

/// The flags of `launch` (a [`command`] of `spec`) after `spec`'s own, as the JSON line a
/// [`T8nFeed::Served`] child reads.
pub fn served_line(spec: &T8n, launch: &Launch) -> String {
    let flags: Vec<String> = launch.args.iter().skip(spec.launch.args.len()).map(|a| a.to_string_lossy().into_owned()).collect();
    Value::from(flags).to_string()
}

/// Gives a [`T8nFeed::Served`] child one block (its [`served_line`]) and waits for its answer.
pub fn serve(child: &mut Process, line: &str, deadline: Instant) -> Result<(), Fault> {
    child.send(line, deadline)?;
    answer(&child.line(crate::process::Stream::Stdout, deadline)?)
}

/// What a served child's answer line says: the block's files are written, or why not.
pub fn answer(line: &str) -> Result<(), Fault> {
    let malformed = |reason: String| Fault::Malformed { line: crate::process::clip(line), reason };
    let value: Value = serde_json::from_str(line).map_err(|e| malformed(e.to_string()))?;
    match (value.get("ok"), value.get("fault")) {
        (Some(Value::Bool(true)), _) => Ok(()),
        (_, Some(Value::String(fault))) => Err(Fault::Tool(format!("block not run: {fault}"))),
        _ => Err(malformed(r#"expected {"ok":true} or {"fault":"..."}"#.to_owned())),
    }
}

/// The block's transactions as a JSON array of signed legacy transactions (geth 1.9's
/// `types.Transaction` JSON), read back from each one's RLP so the signature is the one signed.
pub fn txs_json(block: &BlockInput) -> Result<Value, Unwritable> {
    use alloy_rlp::Decodable;
    let mut out = Vec::with_capacity(block.txs.len());
    for stx in &block.txs {
        let raw = signed_raw(stx, block.chain_id)?;
        let typed = Unwritable::Unrepresentable("typed transactions (this t8n reads legacy ones only)");
        let bad = || Unwritable::Unrepresentable("a legacy transaction whose RLP does not decode");
        let mut buf = raw.as_ref();
        let header = alloy_rlp::Header::decode(&mut buf).map_err(|_| typed.clone())?;
        if !header.list {
            return Err(typed);
        }
        let quantity = |buf: &mut &[u8]| U256::decode(buf).map(|n| Value::String(format!("{n:#x}"))).map_err(|_| bad());
        let nonce = quantity(&mut buf)?;
        let gas_price = quantity(&mut buf)?;
        let gas = quantity(&mut buf)?;
        let to = match Bytes::decode(&mut buf).map_err(|_| bad())? {
            to if to.is_empty() => Value::Null,
            to if to.len() == 20 => json!(Address::from_slice(&to)),
            _ => return Err(bad()),
        };
        let value = quantity(&mut buf)?;
        let input = Bytes::decode(&mut buf).map_err(|_| bad())?;
        let (v, r, s) = (quantity(&mut buf)?, quantity(&mut buf)?, quantity(&mut buf)?);
        out.push(json!({"nonce": nonce, "gasPrice": gas_price, "gas": gas, "to": to, "value": value,
                        "input": input, "v": v, "r": r, "s": s}));
    }
    Ok(Value::Array(out))
}

/// Runs the command and waits for it to exit cleanly.
pub fn run(launch: &Launch, deadline: Instant) -> Result<(), Fault> {
    let mut child = Process::spawn(launch, false)?;
    child.close_stdin();
    let status = child.wait(deadline)?;
    if status.success() {
        return Ok(());
    }
    Err(Fault::Ended { status: crate::process::describe(status), stderr_tail: child.final_stderr_tail() })
}

/// Reads the outputs in `dir` (and the traces, when asked for) into the block's outcome.
pub fn read_outputs(block: &BlockInput, dialect: &Dialect, dir: &Path, mode: TraceMode) -> Result<BlockOutcome, Fault> {
    let load = |name: &str| -> Result<Value, Fault> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| Fault::Tool(format!("no {}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| Fault::Malformed { line: crate::process::clip(&text), reason: format!("{name}: {e}") })
    };
    let result = load(RESULT_OUT)?;
    let alloc = load(ALLOC_OUT)?;
    if let Some(exception) = result.get("blockException").and_then(Value::as_str) {
        // EELS reports a block it finds invalid (a system contract without code) this way.
        return Err(Fault::Tool(format!("block rejected: {exception}")));
    }
    let mut outcome = outcome(block, dialect, &result).map_err(|reason| malformed(&result, reason))?;
    outcome.post = accounts(&alloc).map_err(|reason| malformed(&alloc, reason))?;
    if mode == TraceMode::Steps {
        for (position, receipt) in outcome.receipts.iter_mut().enumerate() {
            let number = match dialect.trace_numbers {
                TraceNumbers::Transactions => receipt.index,
                TraceNumbers::Included => position,
            };
            let (trace, ending) = trace_of(dir, number)?;
            receipt.trace = trace;
            if receipt.success == Some(false) {
                receipt.error = ending.map(|e| reasons::halt_class(&e));
            }
        }
    }
    Ok(outcome)
}

fn malformed(output: &Value, reason: String) -> Fault {
    Fault::Malformed { line: crate::process::clip(&output.to_string()), reason }
}

/// The trace a tool wrote as `trace-<number>-<hash>.jsonl` (or, before geth 1.9.20, as
/// `trace-<number>.jsonl`), and the error of its closing summary line.
fn trace_of(dir: &Path, number: usize) -> Result<(Option<schism_interface::Trace>, Option<String>), Fault> {
    let (prefix, bare) = (format!("trace-{number}-"), format!("trace-{number}.jsonl"));
    let Some(path) = std::fs::read_dir(dir)
        .map_err(|e| Fault::Tool(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n == bare || (n.starts_with(&prefix) && n.ends_with(".jsonl"))))
    else {
        return Ok((None, None));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Fault::Tool(format!("cannot read {}: {e}", path.display())))?;
    let mut steps = parse::Steps::new(TraceMode::Steps);
    let mut ending = None;
    for line in text.lines() {
        let Some(obj) = parse::object(line) else { continue };
        if steps.take(&obj, line)? {
            continue;
        }
        if parse::is_trace_summary(&obj) {
            ending = obj.get("error").and_then(Value::as_str).filter(|e| !e.is_empty()).map(str::to_owned);
        }
    }
    Ok((steps.finish(), ending))
}

/// The outcome in `result.json` (the post-state is read separately).
///
/// Receipts carry no transaction index in every tool (EELS gives only the hash), so they are
/// matched to the transactions that were not rejected, in order.
pub fn outcome(block: &BlockInput, dialect: &Dialect, result: &Value) -> Result<BlockOutcome, String> {
    let fork = block.fork;
    let field = |name: &str| result.get(name).filter(|v| !v.is_null());
    let state_root = field("stateRoot").and_then(parse::hash).ok_or("no stateRoot")?;
    let mut rejected = Vec::new();
    for r in field("rejected").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let index = match dialect.rejected {
            Rejected::Objects => r.get("index").and_then(parse::quantity),
            Rejected::Indexes => parse::quantity(r),
        };
        let index = index.ok_or_else(|| format!("rejection without an index: {r}"))?;
        let index = usize::try_from(index).map_err(|_| format!("rejection index {index}"))?;
        let detail = r.get("error").and_then(Value::as_str).map(str::to_owned);
        rejected.push(Rejection { index, kind: reasons::rejection_kind(detail.as_deref().unwrap_or("")), detail });
    }
    let included: Vec<usize> = (0..block.txs.len()).filter(|i| !rejected.iter().any(|r| r.index == *i)).collect();
    let listed = field("receipts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if listed.len() != included.len() {
        return Err(format!("{} receipts for {} included transactions", listed.len(), included.len()));
    }
    let mut receipts = Vec::new();
    for (r, &index) in listed.iter().zip(&included) {
        receipts.push(receipt(r, index, block).map_err(|e| format!("receipt of transaction {index}: {e}"))?);
    }
    let blob_gas_used = match field("blobGasUsed") {
        Some(v) => parse::quantity(v).ok_or("blobGasUsed is not a number")?,
        // EELS does not report it: the included transactions' blobs.
        None => included.iter().map(|&i| block.txs[i].tx.blob_versioned_hashes.len() as u64 * GAS_PER_BLOB).sum(),
    };
    let requests = match field("requests") {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().and_then(|s| alloy_primitives::hex::decode(s).ok()).map(Bytes::from).ok_or("a request is not hex"))
                .filter(|r| r.as_ref().map_or(true, |r| r.len() > 1))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => None,
    };
    let gas_used = if dialect.gas_used {
        field("gasUsed").and_then(parse::quantity).ok_or("no gasUsed")?
    } else {
        receipts.last().map_or(0, |r| r.cumulative_gas_used)
    };
    Ok(BlockOutcome {
        state_root,
        post: Accounts::new(),
        receipts,
        rejected,
        gas_used,
        blob_gas_used,
        logs_hash: field("logsHash").and_then(parse::hash),
        receipts_root: field(dialect.receipts_root).and_then(parse::hash),
        logs_bloom: field("logsBloom").and_then(Value::as_str).and_then(|s| s.parse::<Bloom>().ok()),
        requests: requests.filter(|_| fork >= Fork::Prague),
    })
}

/// One receipt: geth spells success `status` and the pre-Byzantium root `root`, EELS
/// `succeeded` and `post_state`.
fn receipt(r: &Value, index: usize, block: &BlockInput) -> Result<TxReceipt, String> {
    let (success, post_state) = if block.fork >= Fork::Byzantium {
        let success = match (r.get("status"), r.get("succeeded")) {
            (Some(status), _) => parse::quantity(status).map(|s| s == 1).ok_or("status is not a number")?,
            (None, Some(Value::Bool(ok))) => *ok,
            _ => return Err("no status".to_owned()),
        };
        (Some(success), None)
    } else {
        let root = r.get("root").or_else(|| r.get("post_state")).and_then(parse::hash).ok_or("no post-state root")?;
        (None, Some(root))
    };
    let logs = r.get("logs").and_then(Value::as_array).map(|logs| logs.iter().map(log).collect::<Result<Vec<_>, _>>()).transpose()?;
    Ok(TxReceipt {
        index,
        kind: block.txs[index].tx.kind,
        success,
        post_state,
        cumulative_gas_used: r.get("cumulativeGasUsed").and_then(parse::quantity).ok_or("no cumulativeGasUsed")?,
        logs: Some(logs.unwrap_or_default()),
        error: None,
        trace: None,
    })
}

fn log(v: &Value) -> Result<Log, String> {
    let address: Address = v.get("address").and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or("log without an address")?;
    let topics = v
        .get("topics")
        .and_then(Value::as_array)
        .map(|t| t.iter().map(parse::hash).collect::<Option<Vec<B256>>>())
        .unwrap_or(Some(Vec::new()))
        .ok_or("a log topic is not a hash")?;
    let data = match v.get("data").and_then(Value::as_str) {
        Some(hex) => alloy_primitives::hex::decode(hex).map_err(|_| "log data is not hex")?,
        None => Vec::new(),
    };
    Ok(Log { address, data: LogData::new_unchecked(topics, data.into()) })
}

/// A post-state `alloc`: accounts by address, every field optional (EELS leaves out zero
/// balances and nonces, geth empty code and storage), numbers in hex.
pub fn accounts(alloc: &Value) -> Result<Accounts, String> {
    let map = alloc.as_object().ok_or("the alloc is not an object")?;
    let mut out = Accounts::new();
    for (key, a) in map {
        let address: Address = key.parse().map_err(|_| format!("address {key}"))?;
        let bad = |what: &str| format!("{what} of {address}");
        let storage = match a.get("storage").and_then(Value::as_object) {
            Some(slots) => slots
                .iter()
                .map(|(k, v)| Some((parse::word(&Value::String(k.clone()))?, parse::word(v)?)))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("storage"))?,
            None => Default::default(),
        };
        let code = match a.get("code").and_then(Value::as_str) {
            Some(hex) => alloy_primitives::hex::decode(hex).map_err(|_| bad("code"))?.into(),
            None => Bytes::new(),
        };
        let account = Account {
            balance: a.get("balance").map_or(Some(U256::ZERO), parse::word).ok_or_else(|| bad("balance"))?,
            nonce: a.get("nonce").map_or(Some(0), parse::quantity).ok_or_else(|| bad("nonce"))?,
            code,
            storage,
        };
        out.insert(address, account);
    }
    schism_interface::state::drop_zero_slots(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};
    use schism_interface::case::{Transaction, TxKind};
    use schism_interface::sequence::SeqTx;
    use schism_interface::{Env, TxValue};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn block(fork: Fork, kinds: &[TxKind]) -> BlockInput {
        let key = b256!("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
        let tx = |kind| SeqTx {
            tx: Transaction {
                kind,
                nonce: 0,
                gas_limit: 21_000,
                to: Some(Address::repeat_byte(1)),
                value: TxValue::Value(U256::ZERO),
                data: Bytes::new(),
                gas_price: (kind <= TxKind::AccessList).then(|| U256::from(10)),
                max_fee_per_gas: (kind > TxKind::AccessList).then(|| U256::from(10)),
                max_priority_fee_per_gas: (kind > TxKind::AccessList).then(|| U256::from(1)),
                access_list: Vec::new(),
                max_fee_per_blob_gas: None,
                blob_versioned_hashes: Vec::new(),
                authorization_list: Vec::new(),
                secret_key: key,
                sender: schism_interface::case::address_of_key(&key).expect("key"),
            },
            raw: None,
        };
        BlockInput {
            fork,
            chain_id: 1,
            blob_params: schism_interface::case::default_blob_params(fork),
            pre: Arc::new(Accounts::new()),
            env: Arc::new(Env {
                current_coinbase: Address::repeat_byte(0xcc),
                current_difficulty: U256::from(0x20000),
                current_gas_limit: 30_000_000,
                current_number: 300,
                current_timestamp: 1000,
                current_base_fee: Some(7),
                current_random: Some(B256::repeat_byte(2)),
                current_excess_blob_gas: None,
                previous_hash: None,
                parent_beacon_block_root: None,
            }),
            block_hashes: Arc::new((0..300).map(|n| (n, B256::with_last_byte(n as u8))).collect::<BTreeMap<_, _>>()),
            txs: kinds.iter().map(|k| tx(*k)).collect(),
            withdrawals: None,
            ommers: Vec::new(),
        }
    }

    #[test]
    fn env_fields_follow_the_fork() {
        let london = env(&block(Fork::London, &[]));
        assert_eq!(london["currentDifficulty"], "0x20000");
        assert!(london.get("currentRandom").is_none() && london.get("withdrawals").is_none());
        assert_eq!(london["blockHashes"].as_object().map(Map::len), Some(256), "the last 256 only");
        assert!(london["blockHashes"].get("0x2c").is_some() && london["blockHashes"].get("0x2b").is_none());
        let cancun = env(&block(Fork::Cancun, &[]));
        assert!(cancun.get("currentDifficulty").is_none());
        assert_eq!(cancun["currentExcessBlobGas"], "0x0");
        assert_eq!(cancun["withdrawals"], json!([]));
        assert_eq!(cancun["parentBeaconBlockRoot"], json!(B256::ZERO));
        assert_eq!(
            (reward(Fork::Frontier), reward(Fork::Byzantium), reward(Fork::London), reward(Fork::Paris)),
            (5e18 as i64, 3e18 as i64, 2e18 as i64, -1)
        );
    }

    #[test]
    fn transactions_are_a_block_body_list() {
        let rlp = txs_rlp(&block(Fork::Cancun, &[TxKind::Legacy, TxKind::Eip1559])).expect("encodes");
        let mut buf = rlp.as_slice();
        let header = alloy_rlp::Header::decode(&mut buf).expect("a list");
        assert!(header.list);
        // A legacy transaction is a list; a typed one a byte string whose payload starts with its type.
        let legacy = alloy_rlp::Header::decode(&mut buf).expect("item");
        assert!(legacy.list);
        buf = &buf[legacy.payload_length..];
        let typed = alloy_rlp::Header::decode(&mut buf).expect("item");
        assert!(!typed.list);
        assert_eq!(buf.first(), Some(&2));
    }

    #[test]
    fn eels_results_read_like_geths() {
        let b = block(Fork::Cancun, &[TxKind::Eip1559, TxKind::Eip1559, TxKind::Legacy]);
        // EELS: `succeeded`, no `blobGasUsed`, rejections in its exception words.
        let result = json!({"stateRoot": format!("0x{}", "11".repeat(32)), "gasUsed": "0xa410",
            "rejected": [{"index": 1, "error": "Failed transaction: NonceMismatchError('nonce too low')"}],
            "receipts": [{"succeeded": true, "cumulativeGasUsed": "0x5208", "logs": []},
                         {"succeeded": false, "cumulativeGasUsed": "0xa410",
                          "logs": [{"address": "0x0000000000000000000000000000000000000001", "topics": [format!("0x{}", "22".repeat(32))], "data": "0x01"}]}]});
        let out = outcome(&b, &Dialect::CURRENT, &result).expect("reads");
        assert_eq!(
            out.receipts.iter().map(|r| (r.index, r.success, r.cumulative_gas_used)).collect::<Vec<_>>(),
            vec![(0, Some(true), 0x5208), (2, Some(false), 0xa410)]
        );
        assert_eq!(out.receipts[1].kind, TxKind::Legacy);
        assert_eq!(out.receipts[1].logs.as_ref().map(Vec::len), Some(1));
        assert_eq!(out.rejected[0].kind, schism_interface::InvalidTxKind::NonceMismatchTooLow);
        assert_eq!(out.blob_gas_used, 0);
        let short = json!({"stateRoot": format!("0x{}", "11".repeat(32)), "gasUsed": "0x0", "receipts": []});
        assert!(outcome(&b, &Dialect::CURRENT, &short).is_err(), "three transactions, none rejected, no receipts");
    }

    #[test]
    fn pre_byzantium_receipts_carry_roots_and_prague_requests_drop_empty_ones() {
        let frontier = block(Fork::Frontier, &[TxKind::Legacy]);
        let root = format!("0x{}", "33".repeat(32));
        let result = json!({"stateRoot": root, "gasUsed": "0x5208", "receipts": [{"root": root, "status": "0x0", "cumulativeGasUsed": "0x5208", "logs": null}]});
        let r = &outcome(&frontier, &Dialect::CURRENT, &result).expect("reads").receipts[0];
        assert_eq!((r.success, r.post_state, r.logs.as_ref().map(Vec::len)), (None, Some(B256::repeat_byte(0x33)), Some(0)));
        let prague = block(Fork::Prague, &[]);
        let result = json!({"stateRoot": root, "gasUsed": "0x0", "receipts": [], "requests": ["0x", "0x01", "0x02aa"]});
        assert_eq!(outcome(&prague, &Dialect::CURRENT, &result).expect("reads").requests, Some(vec![Bytes::from_static(&[2, 0xaa])]));
    }

    #[test]
    fn served_blocks_send_their_flags_and_read_one_answer() {
        let spec = T8n {
            launch: Launch::new("node", ["runner.mjs", "t8n", "--serve"]),
            blob_params: false,
            trace: vec!["--trace".into()],
            feed: T8nFeed::Served,
            dialect: Dialect::CURRENT,
        };
        let b = block(Fork::Cancun, &[]);
        let line = served_line(&spec, &command(&spec, &b, Path::new("/tmp/b"), TraceMode::Steps));
        let flags: Vec<String> = serde_json::from_str(&line).expect("a JSON array of strings");
        assert_eq!(&flags[..2], ["--input.alloc", "/tmp/b/input-alloc.json"], "the launch's own arguments left out");
        assert!(flags.contains(&"Cancun".to_owned()) && flags.last().map(String::as_str) == Some("--trace"));
        assert_eq!(answer(r#"{"ok":true}"#), Ok(()));
        assert!(matches!(answer(r#"{"fault":"unsupported fork: Prague"}"#), Err(Fault::Tool(m)) if m.contains("Prague")));
        assert!(matches!(answer(r#"{"ok":false}"#), Err(Fault::Malformed { .. })));
        assert!(matches!(answer("stateRoot 0x00"), Err(Fault::Malformed { .. })));
    }

    #[test]
    fn allocs_of_every_tool_read_alike() {
        let geth = json!({"0x1000000000000000000000000000000000000000": {"code": "0x00", "storage": {"0x0000000000000000000000000000000000000000000000000000000000000000": "0x0000000000000000000000000000000000000000000000000000000000000002", "0x01": "0x00"}, "balance": "0x0", "nonce": "0x1"}});
        let eels = json!({"0x1000000000000000000000000000000000000000": {"nonce": "0x1", "code": "0x00", "storage": {"0x00": "0x2"}}});
        assert_eq!(accounts(&geth), accounts(&eels));
        let a = &accounts(&eels).expect("reads")[&address!("1000000000000000000000000000000000000000")];
        assert_eq!((a.nonce, a.storage.len()), (1, 1));
        assert!(accounts(&json!({"0x10": {}})).is_err());
    }

    #[test]
    fn geth_1_9_results_read_with_their_dialect() {
        let dialect = crate::tools::geth::GETH_1_9_16_T8N.dialect;
        // geth v1.9.19's `evm t8n` on a block of two legacy transactions at Istanbul, the second
        // with a nonce too high (its logsBloom fields left out): bare rejected indexes, no
        // `gasUsed`, `receiptRoot`, receipts with an empty `root` and `logs: null`.
        let result = json!({
            "stateRoot": "0x41fd32557ac00434131d785a795a883d4f8c0938ea67368cc53b924e2192e4ac",
            "txRoot": "0x5375e32a243b6ce79ffd61e5b1bd34e6c0226c92c13487dd5213869a63948ad9",
            "receiptRoot": "0x0f23eb6813fb1d392051d0e33e6f1a08d1dd5ce8fef7d82f7c9e8189f49d010c",
            "logsHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "receipts": [{"root": "0x", "status": "0x1", "cumulativeGasUsed": "0x3df8", "logs": null,
                "transactionHash": "0x9701a86de6f1bbf1ded9cdad2b7b6fb8da4a25410c081b578dbe5cdc8fa96a6c",
                "contractAddress": "0x0000000000000000000000000000000000000000", "gasUsed": "0x3df8",
                "blockHash": "0x0000000000000000000000000000000000000000000000000000000000000000", "transactionIndex": "0x0"}],
            "rejected": [1]});
        let b = block(Fork::Istanbul, &[TxKind::Legacy, TxKind::Legacy]);
        let out = outcome(&b, &dialect, &result).expect("reads");
        assert_eq!(out.state_root, b256!("41fd32557ac00434131d785a795a883d4f8c0938ea67368cc53b924e2192e4ac"));
        assert_eq!(out.receipts_root, Some(b256!("0f23eb6813fb1d392051d0e33e6f1a08d1dd5ce8fef7d82f7c9e8189f49d010c")));
        assert_eq!((out.gas_used, out.receipts.len(), out.receipts[0].success), (0x3df8, 1, Some(true)));
        assert_eq!((out.rejected.len(), out.rejected[0].index, out.rejected[0].detail.as_deref()), (1, 1, None));
        assert!(outcome(&b, &Dialect::CURRENT, &result).is_err(), "today's reader wants gasUsed and rejection objects");
        let none = json!({"stateRoot": format!("0x{}", "11".repeat(32)), "receipts": [], "rejected": [0, 1]});
        assert_eq!(outcome(&b, &dialect, &none).expect("reads").gas_used, 0);
    }

    #[test]
    fn old_geth_takes_json_transactions_and_no_basedir() {
        let b = block(Fork::Istanbul, &[TxKind::Legacy]);
        let txs = txs_json(&b).expect("legacy");
        let tx = &txs[0];
        assert_eq!((tx["nonce"].as_str(), tx["gas"].as_str(), tx["gasPrice"].as_str()), (Some("0x0"), Some("0x5208"), Some("0xa")));
        assert_eq!(tx["to"], json!(Address::repeat_byte(1)));
        assert_eq!(tx["input"], "0x");
        // The signature as signed: v is 27 or 28 (or 37, 38 with EIP-155 on chain 1).
        assert!(matches!(tx["v"].as_str(), Some("0x1b" | "0x1c" | "0x25" | "0x26")), "{tx}");
        assert!(tx["r"].as_str().is_some_and(|r| r.len() > 3) && tx["s"].as_str().is_some_and(|s| s.len() > 3));
        assert!(matches!(txs_json(&block(Fork::Istanbul, &[TxKind::AccessList])), Err(Unwritable::Unrepresentable(_))));

        let old = crate::tools::geth::GETH_1_9_16_T8N;
        let spec = T8n {
            launch: Launch::new("evm", ["t8n"]),
            blob_params: false,
            trace: vec!["--trace".into()],
            feed: T8nFeed::PerBlock,
            dialect: old.dialect,
        };
        let dir = Path::new("/tmp/block-0");
        let launch = command(&spec, &b, dir, TraceMode::Steps);
        let line = launch.display();
        assert!(!line.contains("--output.basedir") && line.contains("--input.txs /tmp/block-0/input-txs.json"), "{line}");
        assert!(line.contains("--output.result /tmp/block-0/output-result.json") && line.ends_with("--trace"), "{line}");
        assert_eq!(launch.dir.as_deref(), Some(dir), "traces land in the block's folder");
        let today = command(&T8n { dialect: Dialect::CURRENT, ..spec }, &b, dir, TraceMode::Off);
        assert!(today.display().contains("--output.basedir /tmp/block-0") && today.dir.is_none());
    }
}
