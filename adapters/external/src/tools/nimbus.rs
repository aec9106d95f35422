//! nimbus: nimbus-eth1's `evmstate`, file names over stdin (batch mode: with no file argument it
//! reads one path per line until end of input).
//!
//! The format comes from nimbus-eth1's `tools/evmstate/evmstate.nim` and `config.nim` (flags,
//! result array, root line) and `execution_chain/evm/tracer/json_tracer.nim` (trace lines). Per
//! file it prints on stdout a pretty-printed array of results (`name`, `pass`, `stateRoot`, `fork`,
//! `error`) and a newline. nimbus checks the file's expectations itself, like geth: `error` is
//! empty when root and logs match, `post state root mismatch: got …` when the root differs (the
//! logs are then not checked) and `post state log hash mismatch: got 0x…, want …` when only the
//! logs do; so the logs hash is known when the root matched the file's. A rejected transaction is
//! not reported at all (its result is an empty log list and the pre-state root). With `--json`,
//! EIP-3155 lines (depth from 1, `refund` present, memory, storage and return data off by
//! default), the top frame's `{"output":…,"gasUsed":…,"error"?}` (no `error` after a REVERT) and
//! `{"stateRoot":"0x…"}` go to stderr.
//!
//! Reported: root, logs hash (when the root matched the expectation), trace. Neither gas used nor
//! how the transaction ended: a rejection, a revert and a success read alike.

use super::Tool;
use crate::Feed;
use crate::parse;
use crate::process::{Fault, Launch, Process, Stream};
use crate::t8n::T8n;
use alloy_primitives::B256;
use schism_interface::{Case, Fork, Outcome, TraceMode};
use serde_json::Value;
use std::path::Path;
use std::time::Instant;

/// nimbus-eth1's `evmstate`.
pub struct Nimbus;

impl Tool for Nimbus {
    fn id(&self) -> &'static str {
        "nimbus"
    }

    fn supports(&self, _fork: Fork) -> bool {
        // getChainConfig (tools/common/helpers.nim) knows Frontier..Osaka; see `fork_name`.
        true
    }

    fn feed(&self) -> Feed {
        Feed::Batch
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        match mode {
            TraceMode::Off => Launch::new(location, Vec::<&str>::new()),
            // Memory, storage and return data stay at their defaults (off).
            TraceMode::Steps => Launch::new(location, ["--json"]),
        }
    }

    fn stderr_is_output(&self) -> bool {
        true
    }

    fn fork_name(&self, fork: Fork) -> &'static str {
        // nimbus's TestFork names (tools/common/types.nim): the long names of the 2016 forks, no
        // MuirGlacier (which only moves the difficulty bomb).
        match fork {
            Fork::Tangerine => "TangerineWhistle",
            Fork::SpuriousDragon => "SpuriousDragon",
            Fork::MuirGlacier => Fork::Istanbul.name(),
            other => other.name(),
        }
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(self, child, case, mode, deadline)
    }

    fn t8n(&self, location: &Path) -> Option<T8n> {
        // nimbus's t8n is a binary of its own, built beside evmstate in a nimbus-eth1 checkout
        // (`tools/t8n/t8n` next to `tools/evmstate/evmstate`, flags from `tools/t8n/config.nim`).
        // It has no `--input.blobParams`, and prints `"logs": null` for a receipt without logs
        // and `"0x"` for empty requests (both read as nothing by the t8n reader).
        let t8n = location.parent()?.parent()?.join("t8n").join("t8n");
        t8n.is_file().then(|| T8n {
            launch: Launch::new(t8n, Vec::<&str>::new()),
            blob_params: false,
            trace: vec!["--trace".into(), "--trace.returndata".into()],
            feed: crate::t8n::T8nFeed::PerBlock,
            dialect: crate::t8n::Dialect::CURRENT,
        })
    }

    fn no_t8n(&self) -> &'static str {
        "nimbus's t8n is not built beside its evmstate (`make t8n` puts it in tools/t8n/ of a nimbus-eth1 checkout)"
    }

    fn install_hint(&self) -> String {
        "no registry ships nimbus's evmstate: build it from github.com/status-im/nimbus-eth1 with \
         `make evmstate` and pass --client nimbus=/path/to/tools/evmstate/evmstate"
            .to_owned()
    }

    fn locate(&self, _tools: &Path) -> Option<std::path::PathBuf> {
        // No registry ships it: found on PATH, or given as --client nimbus=/path.
        super::on_path("evmstate")
    }

    fn own_commands(&self) -> super::OwnCommands {
        super::OwnCommands { program: "evmstate", statetest: Some("{tool} {case}"), blocktest: None }
    }
}

/// Reads the stdout array, then (trace mode) stderr up to the root line.
fn read(tool: &Nimbus, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    let results = child.json_value(deadline, true)?;
    let result = match results.as_array().map(Vec::as_slice) {
        Some([Value::Object(one)]) => one,
        _ => {
            return Err(Fault::Malformed {
                line: crate::process::clip(&results.to_string()),
                reason: "expected one result for a single-case file".to_owned(),
            });
        }
    };
    let malformed = |reason: String| Fault::Malformed { line: crate::process::clip(&results.to_string()), reason };
    let fork = tool.fork_name(case.fork);
    if let Some(named) = result.get("fork").and_then(Value::as_str)
        && named != fork
    {
        return Err(malformed(format!("the result is for fork {named}, the case is {fork}")));
    }
    let state_root = result.get("stateRoot").and_then(parse::hash).ok_or_else(|| malformed("no stateRoot".to_owned()))?;
    let error = result.get("error").and_then(Value::as_str).unwrap_or("");
    let mut outcome = Outcome::root_only(state_root, None);
    outcome.logs_hash = logs_hash(case, error).map_err(malformed)?;
    if mode == TraceMode::Steps {
        let mut steps = parse::Steps::new(mode);
        loop {
            let line = child.line(Stream::Stderr, deadline)?;
            let Some(obj) = parse::object(&line) else { continue }; // log noise
            if steps.take(&obj, &line)? {
                continue;
            }
            if let Some(root) = parse::state_root_line(&line) {
                if root != state_root {
                    return Err(Fault::Malformed { line, reason: "stderr root differs from the result's".to_owned() });
                }
                break;
            }
        }
        outcome.trace = steps.finish();
    }
    Ok(outcome)
}

/// The logs hash nimbus's verdict on the file implies: the file's when all matched, the one it
/// names when only the logs differed, unknown when the root differed (the logs are then not
/// compared).
fn logs_hash(case: &Case, error: &str) -> Result<Option<B256>, String> {
    if error.is_empty() {
        return Ok(case.expected.as_ref().map(|e| e.logs));
    }
    if error.starts_with("post state root mismatch") {
        return Ok(None);
    }
    if error.starts_with("post state log hash mismatch") {
        return parse::hash_after_got(error).map(Some).ok_or_else(|| format!("no logs hash after `got` in `{error}`"));
    }
    Err(format!("unknown verdict `{error}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tools::add11 as case;

    #[test]
    fn verdicts_are_read() {
        let case = case();
        let expected = case.expected.clone().expect("filled");
        assert_eq!(logs_hash(&case, ""), Ok(Some(expected.logs)));
        assert_eq!(logs_hash(&case, "post state root mismatch: got 0x11, want 0x22"), Ok(None));
        let logs = format!("post state log hash mismatch: got 0x{}, want 0x{}", "77".repeat(32), "00".repeat(32));
        assert_eq!(logs_hash(&case, &logs), Ok(Some(B256::repeat_byte(0x77))));
        assert!(logs_hash(&case, "something else").is_err());
    }

    #[test]
    fn fork_names() {
        assert_eq!(Nimbus.fork_name(Fork::Tangerine), "TangerineWhistle");
        assert_eq!(Nimbus.fork_name(Fork::Cancun), "Cancun");
    }
}
