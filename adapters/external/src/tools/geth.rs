//! geth: go-ethereum's `evm statetest`, today's releases and old ones.
//!
//! Today's `evm statetest` (1.14 on) takes file names over stdin (batch mode). Per file it
//! prints `{"stateRoot": "0x…"}` on stderr and then a pretty-printed JSON array of results
//! (`name`, `pass`, `stateRoot`, `fork`, `error`) on stdout. geth checks the file's
//! expectations itself, so what it reports beyond the root comes from its error text: the case is
//! written without `expectException`, a rejection reads `unexpected error: <reason>`, and the
//! logs hash is known when the root matched the expectation (`pass`, or `post state logs hash
//! mismatch: got …`). With `--trace`, EIP-3155 lines precede the root line on stderr, closed by
//! `{"output":…,"gasUsed":…,"error":…}` for the top-level frame, which gives how the transaction
//! ended. Gas used is not reported (the summary's `gasUsed` leaves out intrinsic gas and refunds).
//! erigon's `evm statetest` is a fork of this tool and prints the same: [`ERIGON`] is the same reader.
//!
//! Older releases run differently; how is data, one row per range of releases in [`RELEASES`]
//! ([`Runner`] says how a row's state-test runner takes cases and reports).
//!
//! Blocks go through `evm t8n` ([`crate::t8n`]; erigon's `evm` has the same command) and
//! whole blockchain-test files through geth's `evm blocktest`, in the releases that have them.
//! The t8n of v1.9.16 to v1.9.25 speaks an older dialect ([`GETH_1_9_16_T8N`]).

use super::{HistoricalBug, ReleaseError, Tool};
use crate::Feed;
use crate::parse;
use crate::process::{Fault, Launch, Process, Stream};
use crate::reasons;
use crate::t8n::{Dialect, Rejected, T8n, T8nFeed, TraceNumbers, TxsInput};
use alloy_primitives::{Address, B256, U256};
use schism_interface::{Account, Accounts, Case, ErrorClass, Fork, KnownDifference, Outcome, TraceMode};
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// The go-ethereum version `schism install geth` installs.
pub const PINNED: &str = "v1.17.10";

/// The module `schism install geth[@vX.Y.Z]` builds.
const MODULE: &str = "github.com/ethereum/go-ethereum/cmd/evm";

/// A go-ethereum release number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16, pub u16);

impl Version {
    /// `v1.9.16` or `1.9.16` (nothing after the patch number).
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.strip_prefix('v').unwrap_or(text).split('.');
        let mut number = || parts.next()?.parse::<u16>().ok();
        let version = Version(number()?, number()?, number()?);
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.0, self.1, self.2)
    }
}

/// How a range of releases' `evm statetest` takes cases and reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// File names over stdin; the root in each result and on stderr; traces with `statetest
    /// --trace --trace.format=json`; a rejected transaction reads `unexpected error: <reason>`.
    Batch,
    /// One process per file (`statetest FILE`; no stdin mode). The root is printed only in
    /// the error text (`post state root mismatch: got <root>, want …`), or is the file's
    /// expectation when the result passes; `--json` (a flag before the command) prints the
    /// EIP-3155 lines, a summary and `{"stateRoot": "<root>"}` on stderr. A rejected
    /// transaction is reverted without a word (`RunNoVerify` drops `ApplyMessage`'s error), so
    /// the rejection and its reason are not reported: only the (pre-state) root is.
    PerCase,
}

/// How one range of go-ethereum releases runs, from [`Release::from`] up to the next row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// The first release of the range.
    pub from: Version,
    /// How its state-test runner takes cases and reports.
    pub runner: Runner,
    /// The last fork its state-test runner knows by schism's name of it.
    pub last_fork: Fork,
    /// Forks up to `last_fork` its runner has no name for (`unsupported fork`).
    pub unnamed: &'static [Fork],
    /// How schism drives its `evm t8n`, when it does (the flags and files changed across
    /// releases).
    pub t8n: Option<ReleaseT8n>,
    /// Whether it has `evm blocktest` with today's JSON verdicts.
    pub blocktest: bool,
    /// `-ldflags` it needs to build with today's Go.
    pub ldflags: Option<&'static str>,
}

/// How a range of releases' `evm t8n` is driven: its dialect and its trace flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseT8n {
    /// How its flags and files are spelled.
    pub dialect: Dialect,
    /// The flags that write a trace per transaction (with return data, without memory).
    pub trace: &'static [&'static str],
}

/// Today's t8n (1.14 on): it writes return data into traces only when asked.
pub const GETH_T8N: ReleaseT8n = ReleaseT8n { dialect: Dialect::CURRENT, trace: &["--trace", "--trace.returndata"] };

/// The first t8n, v1.9.16 to v1.9.19 (read in their `cmd/evm/internal/t8ntool`; v1.9.19
/// measured): transactions as a JSON array of signed transactions (`types.Transactions`), no
/// `--output.basedir` (outputs where named, traces `trace-<n>.jsonl` in the working directory,
/// `n` counting included transactions), `rejected` as bare indexes (the reasons only in its
/// log), no `gasUsed`, the receipts root spelled `receiptRoot`; traces carry return data
/// unless `--trace.noreturndata` (there is no `--trace.returndata`).
pub const GETH_1_9_16_T8N: ReleaseT8n = ReleaseT8n {
    dialect: Dialect {
        txs: TxsInput::LegacyJson,
        basedir: false,
        rejected: Rejected::Indexes,
        gas_used: false,
        receipts_root: "receiptRoot",
        trace_numbers: TraceNumbers::Included,
    },
    trace: &["--trace"],
};

/// v1.9.20 added `--output.basedir` (traces `trace-<n>-<hash>.jsonl` there); the rest as
/// [`GETH_1_9_16_T8N`] up to v1.9.25 (v1.9.20 measured).
pub const GETH_1_9_20_T8N: ReleaseT8n =
    ReleaseT8n { dialect: Dialect { basedir: true, ..GETH_1_9_16_T8N.dialect }, trace: GETH_1_9_16_T8N.trace };

/// Old releases link to Go runtime internals (through old golang.org/x/sys and fastcache)
/// that Go 1.23 and later refuse unless the link-name check is off.
const OLD_GO: Option<&str> = Some("-checklinkname=0");

/// How each range of go-ethereum releases runs, oldest first. Rows marked "measured" were run
/// here (`evm statetest` on a fixture written under each fork name); the others follow the
/// release notes, claiming no fork that is not certain (an unclaimed fork is skipped, never
/// run wrongly). When adding one: the first release it applies to, and what differs.
pub const RELEASES: &[Release] = &[
    // v1.9.16 (measured): Frontier..Istanbul; no MuirGlacier (the bomb delay has no EVM rule,
    // and the state-test runner never named it). No `evm t8n` before v1.9.16.
    Release {
        from: Version(1, 9, 0),
        runner: Runner::PerCase,
        last_fork: Fork::Istanbul,
        unnamed: &[],
        t8n: None,
        blocktest: false,
        ldflags: OLD_GO,
    },
    // v1.9.16: the first `evm t8n` (v1.9.19 measured), its fork names the state tests'.
    Release {
        from: Version(1, 9, 16),
        runner: Runner::PerCase,
        last_fork: Fork::Istanbul,
        unnamed: &[],
        t8n: Some(GETH_1_9_16_T8N),
        blocktest: false,
        ldflags: OLD_GO,
    },
    // v1.9.20: t8n's `--output.basedir` (measured).
    Release {
        from: Version(1, 9, 20),
        runner: Runner::PerCase,
        last_fork: Fork::Istanbul,
        unnamed: &[],
        t8n: Some(GETH_1_9_20_T8N),
        blocktest: false,
        ldflags: OLD_GO,
    },
    // Berlin (EIP-2929, EIP-2930) came with v1.10.0. Its t8n takes typed transactions in
    // another JSON and (from v1.10.4) reports rejections as objects: not declared here.
    Release {
        from: Version(1, 10, 0),
        runner: Runner::PerCase,
        last_fork: Fork::Berlin,
        unnamed: &[Fork::MuirGlacier],
        t8n: None,
        blocktest: false,
        ldflags: OLD_GO,
    },
    // v1.10.7 (measured): ..London, still no MuirGlacier; no ArrowGlacier yet.
    Release {
        from: Version(1, 10, 4),
        runner: Runner::PerCase,
        last_fork: Fork::London,
        unnamed: &[Fork::MuirGlacier],
        t8n: None,
        blocktest: false,
        ldflags: OLD_GO,
    },
    // The batch runner with the root in its results (1.14); Cancun is its last fork.
    Release {
        from: Version(1, 14, 0),
        runner: Runner::Batch,
        last_fork: Fork::Cancun,
        unnamed: &[],
        t8n: Some(GETH_T8N),
        blocktest: true,
        ldflags: None,
    },
    Release {
        from: Version(1, 15, 0),
        runner: Runner::Batch,
        last_fork: Fork::Prague,
        unnamed: &[],
        t8n: Some(GETH_T8N),
        blocktest: true,
        ldflags: None,
    },
    // v1.17.10 (measured, the pinned default): ..Osaka.
    Release {
        from: Version(1, 17, 0),
        runner: Runner::Batch,
        last_fork: Fork::Osaka,
        unnamed: &[],
        t8n: Some(GETH_T8N),
        blocktest: true,
        ldflags: None,
    },
];

/// The row of [`RELEASES`] that `version` falls in, `None` when it is older than every row.
pub fn release_of(version: Version) -> Option<&'static Release> {
    RELEASES.iter().rev().find(|r| r.from <= version)
}

/// Known consensus bugs of geth releases (targets of `schism selftest --real`).
static GETH_BUGS: [HistoricalBug; 4] = [
    HistoricalBug {
        name: "geth-cve-2020-26241",
        buggy: "v1.9.16",
        fixed: "v1.9.17",
        fork: Fork::Istanbul,
        // v1.9.17 copies the return data after the call (`in.returnData = common.CopyBytes(res)`);
        // checked by hand: writing the input region after the call, then RETURNDATACOPY,
        // differs from revm on v1.9.16 only.
        description: "the identity precompile (0x04) returns its input memory itself and the return data keeps pointing \
                      at it: memory written after the call changes what RETURNDATACOPY reads",
        link: "https://github.com/ethereum/go-ethereum/security/advisories/GHSA-69v6-xc2j-r2jf",
        alone: None,
        blocks: false,
    },
    HistoricalBug {
        name: "geth-cve-2020-26242",
        buggy: "v1.9.17",
        fixed: "v1.9.18",
        fork: Fork::Istanbul,
        description: "MULMOD with a zero modulus panics (the client crashes)",
        link: "https://github.com/ethereum/go-ethereum/security/advisories/GHSA-jm5c-rv3w-w83m",
        alone: None,
        blocks: false,
    },
    HistoricalBug {
        name: "geth-cve-2021-39137",
        buggy: "v1.10.7",
        fixed: "v1.10.8",
        fork: Fork::Berlin,
        // Still there after v1.9.17's copy, which comes after the output is written: checked by
        // hand, an identity call whose output overlaps its input differs from revm on v1.9.16,
        // v1.9.17, v1.9.18 and v1.10.7 alike.
        description: "a call to the identity precompile whose output range overlaps its input: the output is written \
                      over the input before the return data (still the input memory) is copied",
        link: "https://github.com/ethereum/go-ethereum/security/advisories/GHSA-9856-9gg9-qcmq",
        alone: None,
        blocks: false,
    },
    HistoricalBug {
        name: "geth-cve-2020-26265",
        buggy: "v1.9.19",
        fixed: "v1.9.20",
        fork: Fork::Istanbul,
        // v1.9.20's `StateDB.createObject` returns the previous object only when it is not
        // deleted (`prev != nil && !prev.deleted`), so `CreateAccount` no longer copies a
        // destroyed account's balance. Only blocks reach it (the deleted object lives until
        // the block's commit), so only `evm t8n` shows it; checked by hand in
        // `conformance_external::geth_cve_2020_26265_tells_releases_apart`.
        description: "an account that selfdestructed earlier in the block and was credited after its SELFDESTRUCT is \
                      re-created by a later transaction (a value transfer or CREATE2 to it) with that balance carried over",
        link: "https://github.com/ethereum/go-ethereum/security/advisories/GHSA-xw37-57qp-9mm4",
        alone: None,
        blocks: true,
    },
];

/// A tool with go-ethereum's `evm statetest` interface: geth's own (today's or a release), or a
/// fork of it.
pub struct EvmStatetest {
    id: &'static str,
    release: &'static Release,
    known: &'static [KnownDifference],
    hint: &'static str,
    blocktest: bool,
    recipe: Option<super::Recipe>,
    /// Whether `ID@vX.Y.Z` selects releases of it (geth's own only).
    releases: bool,
}

/// The row of the pinned release (today's runner).
static PINNED_ROW: &Release = &RELEASES[RELEASES.len() - 1];

/// go-ethereum's `evm`.
pub static GETH: EvmStatetest = EvmStatetest {
    id: "geth",
    release: PINNED_ROW,
    known: &GETH_KNOWN,
    hint: "run `schism install geth` (go install github.com/ethereum/go-ethereum/cmd/evm at the pinned version) or pass --client geth=/path/to/evm",
    blocktest: true,
    recipe: Some(super::Recipe::Go { module: MODULE, version: PINNED, binary: "evm", ldflags: None }),
    releases: true,
};

/// The row erigon's `evm` runs like: today's runner, up to Prague.
static ERIGON_ROW: Release = Release { last_fork: Fork::Prague, ..RELEASES[RELEASES.len() - 1] };

/// erigon's `evm` (same interface and output as geth's).
pub static ERIGON: EvmStatetest = EvmStatetest {
    id: "erigon",
    release: &ERIGON_ROW,
    known: &[],
    hint: "no registry ships erigon's evm: build it (`make evm` in an erigon checkout) and pass --client erigon=/path/to/evm",
    // erigon's `evm` forked before geth's `blocktest` output settled; not verified here.
    blocktest: false,
    recipe: None,
    releases: false,
};

/// The release tools made so far, one per version (a run selects a handful; each is made once
/// and lives as long as the process, like the static declarations).
static RELEASE_TOOLS: Mutex<Vec<(Version, &'static EvmStatetest)>> = Mutex::new(Vec::new());

/// geth at `version`: the declaration of its row of [`RELEASES`], labelled `geth@<version>`.
fn geth_release(version: Version) -> Result<&'static EvmStatetest, ReleaseError> {
    let release = release_of(version).ok_or_else(|| ReleaseError::TooOld {
        tool: GETH.id,
        version: version.to_string(),
        oldest: RELEASES[0].from.to_string(),
    })?;
    let mut made = RELEASE_TOOLS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, tool)) = made.iter().find(|(v, _)| *v == version) {
        return Ok(tool);
    }
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let name = leak(version.to_string());
    let tool: &'static EvmStatetest = Box::leak(Box::new(EvmStatetest {
        id: leak(format!("geth@{name}")),
        release,
        known: &GETH_KNOWN,
        hint: leak(format!("run `schism install geth@{name}` or pass --client geth@{name}=/path/to/evm")),
        blocktest: release.blocktest,
        recipe: Some(super::Recipe::Go { module: MODULE, version: name, binary: "evm", ldflags: release.ldflags }),
        releases: false,
    }));
    made.push((version, tool));
    Ok(tool)
}

/// Where geth's state-test runner knowingly departs from the fixtures.
static GETH_KNOWN: [KnownDifference; 1] = [KnownDifference {
    id: "geth-eip7610-storage-collision",
    reason: "geth's state-test runner lets CREATE/CREATE2 deploy over an account that has storage \
             but no code and nonce 0 (EIP-7610's storage check); such accounts cannot arise on \
             mainnet, and several clients' own runners skip these fixtures",
    link: "https://eips.ethereum.org/EIPS/eip-7610",
    applies: Case::has_storage_only_account,
    executed: None,
}];

impl Tool for EvmStatetest {
    fn id(&self) -> &'static str {
        self.id
    }

    fn supports(&self, fork: Fork) -> bool {
        fork <= self.release.last_fork && !self.release.unnamed.contains(&fork)
    }

    fn feed(&self) -> Feed {
        match self.release.runner {
            Runner::Batch => Feed::Batch,
            Runner::PerCase => Feed::PerCase,
        }
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        match (self.release.runner, mode) {
            (_, TraceMode::Off) => Launch::new(location, ["statetest"]),
            // Memory stays off (as in every client's trace); stack and return data on; the
            // post-state dumped for the account and storage diff.
            (Runner::Batch, TraceMode::Steps) => Launch::new(location, ["statetest"])
                .arg("--trace")
                .arg("--trace.format=json")
                .arg("--trace.noreturndata=false")
                .arg("--dump"),
            // The old runner's tracing flags are global ones, before the command.
            (Runner::PerCase, TraceMode::Steps) => Launch::new(location, ["--json", "--nomemory", "statetest"]),
        }
    }

    fn stderr_is_output(&self) -> bool {
        true
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        match self.release.runner {
            Runner::Batch => read(child, case, mode, deadline),
            Runner::PerCase => read_per_case(child, case, mode, deadline),
        }
    }

    fn merges_cases(&self) -> bool {
        // Today's batch runner answers every entry of a file; an old release's runner
        // (`Runner::PerCase`) prints a root only for a file's first.
        self.release.runner == Runner::Batch
    }

    fn read_merged(&self, child: &mut Process, cases: &[&Case], deadline: Instant) -> Result<Vec<Outcome>, Fault> {
        read_merged(self, child, cases, deadline)
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        self.known
    }

    fn t8n(&self, location: &Path) -> Option<T8n> {
        // geth's t8n takes the blob schedule of its fork only (no `--input.blobParams`).
        let t8n = self.release.t8n?;
        Some(T8n {
            launch: Launch::new(location, ["t8n"]),
            blob_params: false,
            trace: t8n.trace.iter().map(Into::into).collect(),
            dialect: t8n.dialect,
            feed: T8nFeed::PerBlock,
        })
    }

    fn blocktest(&self, location: &Path) -> Option<Launch> {
        // Verdicts as a JSON array on stdout, its logs on stderr; exit code 0 whether tests
        // pass or fail (1 only for an unreadable file, `null` on stdout for a missing one).
        self.blocktest.then(|| Launch::new(location, ["blocktest"]))
    }

    fn no_t8n(&self) -> &'static str {
        "this geth release has no `evm t8n` schism drives (it came with v1.9.16; the dialects of v1.10 to v1.13 are not declared)"
    }

    fn install_hint(&self) -> String {
        self.hint.to_owned()
    }

    fn release(&self, version: &str) -> Result<&'static dyn Tool, ReleaseError> {
        if !self.releases {
            return Err(ReleaseError::NotVersioned { tool: self.id });
        }
        let parsed = Version::parse(version).ok_or_else(|| ReleaseError::NotAVersion {
            tool: self.id,
            version: version.to_owned(),
            form: "vMAJOR.MINOR.PATCH",
        })?;
        Ok(geth_release(parsed)?)
    }

    fn historical_bugs(&self) -> &'static [HistoricalBug] {
        if self.releases { &GETH_BUGS } else { &[] }
    }

    fn recipe(&self) -> Option<super::Recipe> {
        self.recipe
    }

    fn locate(&self, tools: &Path) -> Option<std::path::PathBuf> {
        // erigon's tool is also called `evm`: it is never looked up on PATH, where geth's may be.
        self.recipe.and_then(|r| r.installed(tools, self.id))
    }

    fn own_commands(&self) -> super::OwnCommands {
        super::OwnCommands {
            program: "evm",
            statetest: Some("{tool} statetest {case}"),
            blocktest: self.blocktest.then_some("{tool} blocktest {case}"),
        }
    }
}

/// Reads one file's result: the stdout array, then stderr up to the root line (trace steps and
/// the top-level summary before it).
fn read(child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    let mut steps = parse::Steps::new(mode);
    let mut ending: Option<Option<String>> = None;
    // The steps and then the root line come on stderr, which closes the case (it is printed
    // for every executed case); the result comes on stdout after them. Stderr is read first:
    // its lines queue up on a bounded pump, so waiting on stdout first held geth up writing any
    // trace longer than the queue (a few hundred steps) until the deadline.
    let root_line = loop {
        let line = child.line(Stream::Stderr, deadline)?;
        let Some(obj) = parse::object(&line) else { continue }; // log noise
        if let Some(root_line) = parse::state_root_line(&line) {
            break root_line;
        }
        if steps.take(&obj, &line)? {
            continue;
        }
        if parse::is_trace_summary(&obj) {
            ending = Some(obj.get("error").and_then(Value::as_str).filter(|e| !e.is_empty()).map(str::to_owned));
        }
    };
    // geth prints only results on stdout (its logs go to stderr): anything else is garbage.
    let results = child.json_value(deadline, false)?;
    let result = single_result(&results)?;
    let root = result.get("stateRoot").and_then(parse::hash);
    if root.is_some_and(|r| r != root_line) {
        return Err(Fault::Malformed { line: format!("{root_line}"), reason: "stderr root differs from the result's".to_owned() });
    }
    let state_root = root.ok_or_else(|| Fault::Malformed { line: results.to_string(), reason: "no stateRoot".to_owned() })?;
    let mut outcome = interpret(case, state_root, result.get("error").and_then(Value::as_str))?;
    outcome.trace = steps.finish();
    if mode == TraceMode::Steps {
        outcome.post_state = result.get("state").map(dump).transpose()?;
        if outcome.error.is_none() {
            // The summary line tells how the top-level frame ended; no line means the
            // transaction did not execute a frame (a transfer to an account without code).
            outcome.error = ending.flatten().map(|e| reasons::halt_class(&e));
            outcome.status_reported = true;
        }
    }
    Ok(outcome)
}

/// Reads the results of a merged file (see [`super::merged_file`]), untraced: the stdout array
/// answers every `post` entry, named by its fork (geth runs a file's forks in no fixed order,
/// and each fork's entries in order, so the `j`-th answer of a fork is that fork's `j`-th case),
/// and stderr has a root line for each answer with a root, in the array's order.
fn read_merged(tool: &dyn Tool, child: &mut Process, cases: &[&Case], deadline: Instant) -> Result<Vec<Outcome>, Fault> {
    let results = child.json_value(deadline, false)?;
    let malformed = |reason: String| Fault::Malformed { line: crate::process::clip(&results.to_string()), reason };
    let list = results.as_array().ok_or_else(|| malformed("expected an array of results".to_owned()))?;
    if list.len() != cases.len() {
        return Err(malformed(format!("{} results for a file of {} cases", list.len(), cases.len())));
    }
    let mut waiting: std::collections::BTreeMap<&str, std::collections::VecDeque<usize>> = std::collections::BTreeMap::new();
    for (k, case) in cases.iter().enumerate() {
        waiting.entry(tool.fork_name(case.fork)).or_default().push_back(k);
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; cases.len()];
    for result in list {
        let fork = result.get("fork").and_then(Value::as_str).unwrap_or_default();
        let k = waiting
            .get_mut(fork)
            .and_then(std::collections::VecDeque::pop_front)
            .ok_or_else(|| malformed(format!("a result for fork `{fork}`, which has no case left in the file")))?;
        let root = result.get("stateRoot").and_then(parse::hash).ok_or_else(|| malformed("a result without a stateRoot".to_owned()))?;
        loop {
            let line = child.line(Stream::Stderr, deadline)?;
            if let Some(root_line) = parse::state_root_line(&line) {
                if root_line != root {
                    return Err(Fault::Malformed { line, reason: "stderr root differs from the result's".to_owned() });
                }
                break;
            }
        }
        let error = result.get("error").and_then(Value::as_str);
        outcomes[k] = Some(interpret(cases[k], root, error)?);
    }
    outcomes.into_iter().map(|o| o.ok_or_else(|| malformed("a case without a result".to_owned()))).collect()
}

/// Reads one file's result from an old release's runner ([`Runner::PerCase`]): the stdout
/// array, the root from its error text (or the file's expectation when it passed), then with a
/// trace the stderr lines up to the root line.
fn read_per_case(child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
    // Traced, the steps come first, on standard error, then its root line; the result comes on
    // standard output after them. Standard error is read first: its lines queue up on a
    // bounded pump, so waiting on standard output first held the child up writing any trace
    // longer than the queue (a few hundred steps), until the deadline.
    let mut traced: Option<(Option<schism_interface::Trace>, Option<B256>)> = None;
    if mode == TraceMode::Steps {
        let mut steps = parse::Steps::new(mode);
        let mut stderr_root = None;
        loop {
            let line = match child.line(Stream::Stderr, deadline) {
                Ok(line) => line,
                // No root line (a panic, a test that could not run): the result, or the
                // child's end, says what happened.
                Err(Fault::Ended { .. }) => break,
                Err(other) => return Err(other),
            };
            if let Some(root_line) = parse::state_root_line(&line) {
                stderr_root = Some(root_line);
                break;
            }
            let Some(obj) = parse::object(&line) else { continue };
            steps.take(&obj, &line)?;
        }
        traced = Some((steps.finish(), stderr_root));
    }
    let results = child.json_value(deadline, false)?;
    let result = single_result(&results)?;
    let error = result.get("error").and_then(Value::as_str).filter(|e| !e.is_empty());
    let root = legacy_root(case, result.get("stateRoot").and_then(parse::hash), error).ok_or_else(|| Fault::Malformed {
        line: crate::process::clip(&results.to_string()),
        reason: "no state root in the result".to_owned(),
    })?;
    let mut outcome = interpret(case, root, error)?;
    if let Some((trace, stderr_root)) = traced {
        if stderr_root.is_some_and(|r| r != root) {
            return Err(Fault::Malformed { line: format!("{stderr_root:?}"), reason: "stderr root differs from the result's".to_owned() });
        }
        outcome.trace = trace;
    }
    Ok(outcome)
}

/// Where an old runner's root is: in the result when it has one, else after `got` in a root
/// mismatch, else (the result passed) the file's expectation.
fn legacy_root(case: &Case, in_result: Option<B256>, error: Option<&str>) -> Option<B256> {
    match error {
        _ if in_result.is_some() => in_result,
        Some(e) if e.starts_with("post state root mismatch") => parse::hash_after_got(e),
        None => Some(case.expected.as_ref().map(|e| e.hash).unwrap_or_default()),
        Some(_) => None,
    }
}

/// The post-state in geth's `--dump` format: accounts by (checksummed) address with the balance
/// in decimal, the nonce as a number, code and storage in hex (values without `0x`, leading
/// zeros trimmed).
fn dump(state: &Value) -> Result<Accounts, Fault> {
    let bad = |what: String| Fault::Malformed { line: crate::process::clip(&state.to_string()), reason: format!("dump: {what}") };
    let accounts = state.get("accounts").and_then(Value::as_object).ok_or_else(|| bad("no accounts".to_owned()))?;
    let mut out = Accounts::new();
    for (key, account) in accounts {
        let address: Address =
            account.get("address").and_then(Value::as_str).unwrap_or(key).parse().map_err(|_| bad(format!("address {key}")))?;
        let word_of = |name: &str| {
            account.get(name).map_or(Some(U256::ZERO), |v| match v {
                // geth prints balances in decimal
                Value::String(s) if !s.starts_with("0x") => U256::from_str_radix(s, 10).ok(),
                other => parse::word(other),
            })
        };
        let storage = match account.get("storage").and_then(Value::as_object) {
            Some(slots) => slots
                .iter()
                .map(|(k, v)| Some((parse::word(&Value::String(k.clone()))?, parse::word(v)?)))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(format!("storage of {address}")))?,
            None => Default::default(),
        };
        let code = match account.get("code").and_then(Value::as_str) {
            Some(hex) => alloy_primitives::hex::decode(hex).map_err(|_| bad(format!("code of {address}")))?.into(),
            None => Default::default(),
        };
        let account = Account {
            balance: word_of("balance").ok_or_else(|| bad(format!("balance of {address}")))?,
            nonce: account.get("nonce").map_or(Some(0), parse::quantity).ok_or_else(|| bad(format!("nonce of {address}")))?,
            code,
            storage,
        };
        out.insert(address, account);
    }
    Ok(out)
}

/// The one result object of a single-case file.
fn single_result(results: &Value) -> Result<&serde_json::Map<String, Value>, Fault> {
    match results.as_array().map(Vec::as_slice) {
        Some([Value::Object(one)]) => Ok(one),
        _ => Err(Fault::Malformed {
            line: crate::process::clip(&results.to_string()),
            reason: "expected one result for a single-case file".to_owned(),
        }),
    }
}

/// What geth's verdict on the file says beyond the root.
fn interpret(case: &Case, state_root: B256, error: Option<&str>) -> Result<Outcome, Fault> {
    let expected = case.expected.as_ref();
    let mut outcome = Outcome::root_only(state_root, None);
    match error {
        None => outcome.logs_hash = Some(expected.map(|e| e.logs).unwrap_or_default()),
        Some(e) if e.starts_with("unexpected error: ") => {
            let reason = &e["unexpected error: ".len()..];
            outcome.error = Some(ErrorClass::InvalidTransaction(reasons::rejection_kind(reason)));
            outcome.logs_hash = Some(schism_interface::state::logs_hash(&[]));
        }
        Some(e) if e.starts_with("post state logs hash mismatch") => {
            outcome.logs_hash = parse::hash_after_got(e);
            if outcome.logs_hash.is_none() {
                return Err(Fault::Malformed { line: e.to_owned(), reason: "no logs hash after `got`".to_owned() });
            }
        }
        // The root differs from the expectation (or there was none): logs unknown.
        Some(e) if e.starts_with("post state root mismatch") => {}
        Some(other) => return Err(Fault::Tool(format!("geth: {other}"))),
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use schism_interface::InvalidTxKind;

    use crate::tools::add11 as case;

    #[test]
    fn verdicts_are_read() {
        let case = case();
        let expected = case.expected.clone().expect("filled");
        let pass = interpret(&case, expected.hash, None).expect("pass");
        assert_eq!(pass.logs_hash, Some(expected.logs));
        assert_eq!(pass.status(), None);
        let rejected =
            interpret(&case, expected.hash, Some("unexpected error: nonce too high: address 0x, tx: 1 state: 0")).expect("rejected");
        assert_eq!(rejected.error, Some(ErrorClass::InvalidTransaction(InvalidTxKind::NonceMismatchTooHigh)));
        let logs = format!("post state logs hash mismatch: got {}, want {}", B256::repeat_byte(7), B256::ZERO);
        assert_eq!(interpret(&case, expected.hash, Some(&logs)).expect("logs").logs_hash, Some(B256::repeat_byte(7)));
        let root = interpret(&case, B256::ZERO, Some("post state root mismatch: got 00, want 11")).expect("root");
        assert_eq!(root.logs_hash, None);
        assert!(interpret(&case, expected.hash, Some("panic: something")).is_err());
    }

    #[test]
    fn releases_find_their_row() {
        let v = |t| Version::parse(t).expect("a version");
        assert_eq!(v("v1.9.16"), Version(1, 9, 16));
        assert_eq!(v("1.10.7"), Version(1, 10, 7));
        assert!(Version::parse("v1.9").is_none() && Version::parse("v1.9.16-rc1").is_none() && Version::parse("v1.9.x").is_none());
        assert!(release_of(v("v1.8.27")).is_none());
        let row = |t| release_of(v(t)).expect("a row");
        assert_eq!((row("v1.9.16").runner, row("v1.9.16").last_fork), (Runner::PerCase, Fork::Istanbul));
        assert_eq!(row("v1.10.7").last_fork, Fork::London);
        assert_eq!(row("v1.10.7").ldflags, Some("-checklinkname=0"));
        assert_eq!(row(PINNED).runner, Runner::Batch);
        assert!(std::ptr::eq(row(PINNED), PINNED_ROW), "the pinned build runs as the newest row");
        assert!(RELEASES.windows(2).all(|w| w[0].from < w[1].from), "rows oldest first");

        let old = GETH.release("v1.9.16").expect("declared");
        assert_eq!(old.id(), "geth@v1.9.16");
        assert!(std::ptr::addr_eq(old, GETH.release("v1.9.16").expect("declared")), "one declaration per release");
        assert!(old.supports(Fork::Istanbul) && !old.supports(Fork::Berlin) && !old.supports(Fork::MuirGlacier));
        assert_eq!(old.feed(), Feed::PerCase);
        assert!(old.blocktest(Path::new("evm")).is_none());
        let t8n = |v: &str| GETH.release(v).expect("declared").t8n(Path::new("evm")).map(|t| t.dialect);
        assert_eq!(t8n("v1.9.16"), Some(GETH_1_9_16_T8N.dialect));
        assert_eq!(t8n("v1.9.19").map(|d| (d.txs, d.basedir)), Some((TxsInput::LegacyJson, false)));
        assert_eq!(t8n("v1.9.20").map(|d| (d.txs, d.basedir)), Some((TxsInput::LegacyJson, true)));
        assert_eq!((t8n("v1.9.15"), t8n("v1.10.7")), (None, None), "no t8n, or one not declared");
        assert_eq!(t8n(PINNED), Some(Dialect::CURRENT));
        let recipe = old.recipe().expect("installable");
        assert_eq!(recipe.location(Path::new("tools"), old.id()), Path::new("tools/geth@v1.9.16/bin/evm"));
        assert!(matches!(recipe, super::super::Recipe::Go { version: "v1.9.16", ldflags: Some(_), .. }));
        let launch = old.launch(Path::new("evm"), TraceMode::Steps).display();
        assert!(launch.contains("--json --nomemory statetest"), "{launch}");
        assert!(matches!(GETH.release("v1.8.0"), Err(ReleaseError::TooOld { .. })));
        assert!(matches!(GETH.release("latest"), Err(ReleaseError::NotAVersion { .. })));
        assert!(matches!(ERIGON.release("v1.0.0"), Err(ReleaseError::NotVersioned { .. })));
        assert!(GETH.historical_bugs().iter().all(|b| GETH.release(b.buggy).is_ok_and(|t| t.supports(b.fork))));
    }

    #[test]
    fn old_runners_name_the_root_in_their_error_text_or_pass() {
        let case = case();
        let expected = case.expected.clone().expect("filled").hash;
        let got = B256::repeat_byte(0xcd);
        let mismatch = format!(
            "post state root mismatch: got {}, want {}",
            alloy_primitives::hex::encode(got),
            alloy_primitives::hex::encode(expected)
        );
        assert_eq!(legacy_root(&case, None, Some(&mismatch)), Some(got));
        assert_eq!(legacy_root(&case, None, None), Some(expected), "a pass is the expectation met");
        assert_eq!(legacy_root(&case, Some(got), None), Some(got), "a root in the result wins");
        assert_eq!(legacy_root(&case, None, Some("unsupported fork \"Berlin\"")), None);
    }

    #[test]
    fn dumps_read_back_to_the_root() {
        // geth 1.17's `--dump` of add11 (Cancun), trimmed to the fields schism reads and the
        // ones it must ignore.
        let state = serde_json::json!({"root": "e801", "accounts": {
            "0x095E7BAea6a6c7c4c2DfeB977eFac326aF552d87": {"balance": "1000000000000100000", "nonce": 0,
                "code": "0x600160010160005500", "storage": {"0x0000000000000000000000000000000000000000000000000000000000000000": "02"},
                "address": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "key": "0x0f"},
            "0x2ADC25665018Aa1FE0E6BC666DaC8Fc2697fF9bA": {"balance": "0", "nonce": 1, "address": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba"},
            "0xa94f5374Fce5edBC8E2a8697C15331677e6EbF0B": {"balance": "999999999999468880", "nonce": 1, "address": "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"}}});
        let accounts = dump(&state).expect("dump");
        let expected = case().expected.expect("filled").hash;
        assert_eq!(schism_interface::state::state_root(&accounts), expected);
        assert!(dump(&serde_json::json!({"accounts": {"0x01": {"balance": "x"}}})).is_err());
    }
}
