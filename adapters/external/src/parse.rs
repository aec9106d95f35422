//! Tolerant reading of what EVM tools print: state-root lines, result objects and EIP-3155
//! trace lines. Every known format difference between tools is handled here, once, with a
//! comment naming the tool that needs it.

use crate::process::Fault;
use alloy_primitives::{B256, Bytes, U256};
use schism_interface::{Trace, TraceMode, TraceStep};
use serde_json::{Map, Value};

/// A non-negative number given as a JSON number, a `0x` hex string or a decimal string.
///
/// geth, EELS and besu print gas as hex strings; nethermind and evmone print some fields
/// (`memSize`, `refund`, `depth`) as plain numbers, and older erigon builds print `gas` as a number.
pub fn quantity(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some("") => Some(0),
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// A 256-bit word given as a hex string (with or without `0x`, with or without leading zeros)
/// or a JSON number.
pub fn word(v: &Value) -> Option<U256> {
    match v {
        Value::Number(n) => n.as_u64().map(U256::from),
        Value::String(s) => {
            let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
            if hex.is_empty() {
                return Some(U256::ZERO);
            }
            U256::from_str_radix(hex, 16).ok()
        }
        _ => None,
    }
}

/// A 32-byte hash given as hex, with or without `0x` (nimbus and old evmone builds omit it).
pub fn hash(v: &Value) -> Option<B256> {
    let s = v.as_str()?;
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let text = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(B256::from(out))
}

/// The hash after `got ` in a verdict such as `post state logs hash mismatch: got 1dcc…, want …`
/// (geth, erigon and nimbus word their file checks this way; the hash may lack `0x`).
pub fn hash_after_got(text: &str) -> Option<B256> {
    let got = text.split("got ").nth(1)?.split([',', ' ']).next()?;
    hash(&Value::String(got.to_owned()))
}

/// Parses a line as a JSON object; `None` for anything else (log noise).
pub fn object(line: &str) -> Option<Map<String, Value>> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    match serde_json::from_str(line) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The root of a `{"stateRoot": "0x…"}` line, the line geth, EELS, erigon, evmone and nimbus
/// print per executed case for goevmlab (spacing differs between tools; besu adds fields).
pub fn state_root_line(line: &str) -> Option<B256> {
    let obj = object(line)?;
    if obj.contains_key("pc") {
        return None;
    }
    obj.get("stateRoot").and_then(hash)
}

/// True for the per-transaction summary line tools print after a trace
/// (`{"output":"…","gasUsed":"0x…","error":"…"}`, plus `time`/`pass` fields in some tools).
pub fn is_trace_summary(obj: &Map<String, Value>) -> bool {
    !obj.contains_key("pc") && obj.contains_key("gasUsed") && obj.contains_key("output")
}

/// True when the object looks like a trace step (it has a program counter).
pub fn is_trace_step(obj: &Map<String, Value>) -> bool {
    obj.contains_key("pc")
}

/// One EIP-3155 step from a parsed line.
///
/// Tolerated differences: extra fields (`opName`, `error`, `storage`, `memory`, `section`), numbers
/// as hex strings or JSON numbers, `returnData` absent, `refund` absent (evmone omits it: 0),
/// `gasCost` absent (nimbus when tracing precompiles: 0), and `depth` counted from 0 (the
/// EthereumJS runner converts it itself; `depth_base` handles tools that do not).
pub fn trace_step(obj: &Map<String, Value>, depth_base: u32) -> Result<TraceStep, String> {
    let field = |name: &str| obj.get(name).ok_or_else(|| format!("no `{name}`"));
    let num = |name: &str| field(name).and_then(|v| quantity(v).ok_or_else(|| format!("`{name}` is not a number")));
    let op = match obj.get("op") {
        Some(v) => quantity(v).and_then(|n| u8::try_from(n).ok()).ok_or("`op` is not an opcode byte")?,
        None => return Err("no `op`".to_owned()),
    };
    let stack = match obj.get("stack") {
        Some(Value::Array(items)) => {
            items.iter().map(|v| word(v).ok_or_else(|| format!("stack item {v} is not a word"))).collect::<Result<_, _>>()?
        }
        Some(Value::Null) | None => Vec::new(),
        Some(other) => return Err(format!("`stack` is {other}, not a list")),
    };
    let depth = u32::try_from(num("depth")?).map_err(|_| "`depth` is too large".to_owned())?;
    Ok(TraceStep {
        pc: num("pc")?,
        op,
        gas: num("gas")?,
        gas_cost: obj.get("gasCost").and_then(quantity).unwrap_or(0),
        mem_size: obj.get("memSize").and_then(quantity).unwrap_or(0),
        stack,
        depth: depth + 1 - depth_base.min(1),
        refund: obj.get("refund").and_then(quantity).unwrap_or(0),
        return_data: obj.get("returnData").and_then(Value::as_str).and_then(|s| alloy_primitives::hex::decode(s).ok()).map(Bytes::from),
    })
}

/// The EIP-3155 steps of one case, gathered line by line: every tool's reader feeds its lines
/// through one of these, so a step line is read, kept or dropped the same way everywhere.
pub struct Steps {
    keep: bool,
    steps: Trace,
}

impl Steps {
    /// A collector that keeps steps when `mode` asks for a trace.
    pub fn new(mode: TraceMode) -> Steps {
        Steps { keep: mode == TraceMode::Steps, steps: Vec::new() }
    }

    /// True when `obj` (parsed from `line`) is a trace step; it is kept when a trace was asked
    /// for, and an unreadable step is a [`Fault::Malformed`] carrying the line.
    pub fn take(&mut self, obj: &Map<String, Value>, line: &str) -> Result<bool, Fault> {
        if !is_trace_step(obj) {
            return Ok(false);
        }
        if self.keep {
            self.steps.push(trace_step(obj, 1).map_err(|reason| Fault::Malformed { line: line.to_owned(), reason })?);
        }
        Ok(true)
    }

    /// The normalised trace, when one was asked for.
    pub fn finish(self) -> Option<Trace> {
        self.keep.then(|| normalize(self.steps))
    }
}

/// Normalises a parsed trace so traces of different tools compare: a final top-level STOP step
/// is dropped (geth, EELS and EthereumJS print the implicit STOP when execution runs off the end
/// of the code; evmone and nethermind do not).
pub fn normalize(mut trace: Trace) -> Trace {
    if let Some(last) = trace.last()
        && last.op == 0
        && last.depth == 1
    {
        trace.pop();
    }
    trace
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_in_every_spelling() {
        assert_eq!(quantity(&json!("0x5208")), Some(21000));
        assert_eq!(quantity(&json!(21000)), Some(21000));
        assert_eq!(quantity(&json!("21000")), Some(21000));
        assert_eq!(quantity(&json!("0x")), Some(0));
        assert_eq!(quantity(&json!("zz")), None);
        assert_eq!(word(&json!("0x")), Some(U256::ZERO));
        assert_eq!(word(&json!("ff")), Some(U256::from(255)));
    }

    #[test]
    fn hashes_after_got() {
        let h = "11".repeat(32);
        assert_eq!(hash_after_got(&format!("post state logs hash mismatch: got {h}, want 00")), hash(&json!(h)));
        assert_eq!(hash_after_got(&format!("got 0x{h}")), hash(&json!(h)));
        assert_eq!(hash_after_got("no hash here"), None);
    }

    #[test]
    fn state_root_lines_of_several_tools() {
        let root = "e8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530";
        let expected = hash(&json!(root));
        assert!(expected.is_some());
        assert_eq!(state_root_line(&format!("{{\"stateRoot\": \"0x{root}\"}}")), expected);
        assert_eq!(state_root_line(&format!("{{\"stateRoot\":\"0x{root}\",\"pass\":true}}")), expected);
        assert_eq!(state_root_line(&format!("{{\"stateRoot\":\"{root}\"}}")), expected);
        assert_eq!(state_root_line("INFO [11-21|10:00] starting"), None);
        assert_eq!(state_root_line("{\"stateRoot\": \"0x12\"}"), None);
    }

    #[test]
    fn trace_lines_of_several_tools() {
        let geth = object(r#"{"pc":7,"op":85,"gas":"0x5c86c","gasCost":"0x5654","memSize":0,"stack":["0x2","0x0"],"depth":1,"refund":0,"opName":"SSTORE"}"#).expect("json");
        let step = trace_step(&geth, 1).expect("step");
        assert_eq!((step.pc, step.op, step.gas, step.gas_cost, step.depth), (7, 0x55, 0x5c86c, 0x5654, 1));
        assert_eq!(step.stack, vec![U256::from(2), U256::ZERO]);
        // evmone: numbers for gas, no refund, no opName.
        let evmone = object(r#"{"pc":0,"op":96,"gas":"0x5c878","gasCost":"0x3","memSize":0,"stack":[],"depth":1}"#).expect("json");
        assert_eq!(trace_step(&evmone, 1).expect("step").refund, 0);
        let numeric = object(r#"{"pc":0,"op":96,"gas":379000,"gasCost":3,"memSize":0,"stack":[],"depth":0,"refund":0}"#).expect("json");
        let step = trace_step(&numeric, 0).expect("step");
        assert_eq!((step.gas, step.depth), (379000, 1));
        let broken = object(r#"{"pc":0,"gas":"0x1","depth":1}"#).expect("json");
        assert!(trace_step(&broken, 1).is_err());
    }

    #[test]
    fn a_trailing_stop_is_dropped_once() {
        let step = |op| TraceStep { pc: 0, op, gas: 0, gas_cost: 0, mem_size: 0, stack: vec![], depth: 1, refund: 0, return_data: None };
        assert_eq!(normalize(vec![step(1), step(0)]).len(), 1);
        assert_eq!(normalize(vec![step(1)]).len(), 1);
    }
}
