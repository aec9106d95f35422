//! EthereumJS (`@ethereumjs/vm` over `@ethereumjs/evm`), today's release and old ones, through
//! the Node runners schism ships: `runners/ethereumjs/runner.mjs` for the 10.x API and
//! `runners/ethereumjs-7/runner.mjs` for the 7.x one. Both speak the protocol of
//! [`super::runner`] (file paths on stdin, one summary line per case) and read through its
//! [`read`]; what differs between releases is data, in [`RUNNERS`] (how a range of releases
//! runs) and [`PINNED_SETS`] (the exact package set each installable release gets).
//!
//! Why a package set per release and not just `@ethereumjs/vm@X`: the VM declares its sister
//! packages with caret ranges (`@ethereumjs/evm ^2.1.0` in vm 7.1.0), so `npm install
//! @ethereumjs/vm@7.1.0` today resolves the EVM, where the opcodes and precompiles are, to the
//! newest 2.x, with 7.2.0's fixes. A release is the set published with it, each pinned.

use super::runner::read;
use super::{HistoricalBug, Recipe, ReleaseError, Tool};
use crate::Feed;
use crate::process::{Fault, Launch, Process};
use crate::t8n::{T8n, T8nFeed};
use schism_interface::{Case, Fork, KnownDifference, Outcome, TraceFields, TraceMode, TxKind};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `@ethereumjs/vm` release `schism install ethereumjs` installs.
pub const PINNED: &str = "10.1.3";

/// An `@ethereumjs/vm` release number, as npm spells it (`7.1.0`, no `v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16, pub u16);

impl Version {
    /// `7.1.0` (three numbers, nothing else).
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.');
        let mut number = || parts.next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?.parse::<u16>().ok();
        let version = Version(number()?, number()?, number()?);
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Which of schism's runner scripts drives a range of releases (the VM's API generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `@ethereumjs/vm` 7.x over `@ethereumjs/evm` 2.x, and 8.x over 3.x (the same API): `VM.create`, `vm.runTx`,
    /// `DefaultStateManager`, `Common({chain, hardfork})`, a global KZG (`initKZG`). Its step
    /// event names the opcode but not its number; the runner takes the number from the EVM's
    /// opcode table.
    V7,
    /// `@ethereumjs/vm` 10.x: `createVM`, `runTx(vm, …)`, `MerkleStateManager`, KZG in the
    /// Common's `customCrypto`.
    V10,
}

impl Api {
    /// The runner script.
    pub fn script(self) -> &'static str {
        match self {
            Api::V7 => include_str!("../../runners/ethereumjs-7/runner.mjs"),
            Api::V10 => include_str!("../../runners/ethereumjs/runner.mjs"),
        }
    }
}

/// How one range of `@ethereumjs/vm` releases runs, from [`Runner::from`] up to the next row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runner {
    /// The first release of the range.
    pub from: Version,
    /// The runner that drives it.
    pub api: Api,
    /// The last fork its Common knows (every earlier one is known: the glacier forks are
    /// difficulty-only and run as their predecessors).
    pub last_fork: Fork,
    /// The fields of the EIP-3155 steps its runner gives with `--trace` that mean what they
    /// mean in revm's (both APIs emit a `step` event with pc, gas, cost, stack, depth, refund
    /// and memory size; neither gives the return data).
    pub trace_fields: TraceFields,
    /// Fixes of a later release the runner can apply to one of this range (`--backport=NAME`,
    /// selected as `ethereumjs@X.Y.Z+NAME`), each named after the bug it fixes: they tell which
    /// of a release's bugs a difference is when one later release fixed several.
    pub backports: &'static [&'static str],
    /// Whether its runner has a block mode (`runner.mjs t8n`, driven as a served transition
    /// tool: see [`crate::t8n::T8nFeed::Served`]).
    pub blocks: bool,
}

/// How each range of `@ethereumjs/vm` releases runs, oldest first. When adding one: the first
/// release it applies to, its runner, and its last fork (measured on the shared fixtures).
pub const RUNNERS: &[Runner] = &[
    // 7.0 (August 2023) to 7.2 (February 2024): Common 4.x, Frontier..Cancun (measured on 7.1.0
    // and 7.2.0).
    // Its step event comes after the dynamic gas handler, which has already grown the memory:
    // `memSize` is the size after the instruction's expansion.
    Runner {
        from: Version(7, 0, 0),
        api: Api::V7,
        last_fork: Fork::Cancun,
        trace_fields: TraceFields { mem_size: false, ..TraceFields::ALL },
        backports: &["modexp-empty-base", "modexp-short-input", "callcode-gas", "blake2f-offset"],
        blocks: false,
    },
    // 8.0 (March 2024) to 8.1 (September 2024): the 7.x API over @ethereumjs/evm 3.x, Common
    // 4.x (Prague there is a draft: Cancun is the last fork taken). Its runner's block mode
    // drives the VM's BlockBuilder (`vm.buildBlock`).
    Runner {
        from: Version(8, 0, 0),
        api: Api::V7,
        last_fork: Fork::Cancun,
        trace_fields: TraceFields { mem_size: false, ..TraceFields::ALL },
        backports: &[],
        blocks: true,
    },
    // 10.x (2025): ..Osaka (measured on 10.1.3, the pinned default).
    // Blocks through @ethereumjs/vm's BlockBuilder (`buildBlock`).
    Runner { from: Version(10, 0, 0), api: Api::V10, last_fork: Fork::Osaka, trace_fields: TraceFields::ALL, backports: &[], blocks: true },
];

/// The row of [`RUNNERS`] that `version` falls in, `None` when it is older than every row or in
/// a gap (9.x has no runner: its API is neither 7.x's nor 10.x's).
pub fn runner_of(version: Version) -> Option<&'static Runner> {
    let row = RUNNERS.iter().rev().find(|r| r.from <= version)?;
    // A major version without a row of its own is not assumed to run like the row before it.
    (row.from.0 == version.0).then_some(row)
}

/// The exact package set an installable release gets: its `package.json` (every
/// `@ethereumjs/*` package at the version published with that release) and the lock file npm
/// made from it.
#[derive(Clone, Copy, Debug)]
pub struct PinnedSet {
    /// The `@ethereumjs/vm` release.
    pub version: Version,
    /// `package.json` and `package-lock.json`.
    pub files: [(&'static str, &'static str); 2],
    /// Where the release knowingly departs from the fixtures (measured on the shared fixtures).
    pub known: &'static [KnownDifference],
}

/// EIP-7610: CREATE onto an account with storage but no code and nonce 0 (7.x predates it).
pub const NO_EIP7610: KnownDifference = KnownDifference {
    id: "ethereumjs-7-no-eip7610",
    reason: "@ethereumjs/vm 7.x lets CREATE/CREATE2 deploy over an account that has storage but no code \
             and nonce 0 (EIP-7610's storage check came later); such accounts cannot arise on mainnet",
    link: "https://eips.ethereum.org/EIPS/eip-7610",
    applies: Case::has_storage_only_account,
    executed: None,
};

/// Blob transactions @ethereumjs/tx 5.1.0 does not check (5.2.0, with vm 7.2.0, does).
pub const BLOB_TX_CHECKS: KnownDifference = KnownDifference {
    id: "ethereumjs-7.1.0-blob-tx-checks",
    reason: "@ethereumjs/tx 5.1.0 (with vm 7.1.0) executes a blob transaction with no blob, with more \
             blobs than a block holds (6) or without a recipient instead of rejecting it; 5.2.0 checks \
             the first and last, vm 7.2.0 the count (ethereum/tests createBlobhashTx, blobhashListBounds7, \
             execution-spec-tests test_invalid_tx_blob_count)",
    link: "https://github.com/ethereumjs/ethereumjs-monorepo/blob/master/packages/tx/CHANGELOG.md",
    applies: unchecked_blob_tx,
    executed: None,
};

/// A blob transaction with no blob, more than six, or no recipient.
fn unchecked_blob_tx(case: &Case) -> bool {
    let tx = &case.tx;
    tx.kind == TxKind::Blob && (tx.blob_versioned_hashes.is_empty() || tx.blob_versioned_hashes.len() > 6 || tx.to.is_none())
}

/// The releases `schism install ethereumjs@X.Y.Z` can install, each with the packages published
/// with it (npm publish dates: 7.1.0 and @ethereumjs/evm 2.1.0 on 2023-11-02, 7.2.0 and evm
/// 2.2.0 on 2024-02-08, 8.1.0 and evm 3.1.0 on 2024-08-15, 8.1.1 and evm 3.1.1 on 2024-09-09,
/// the other packages of 8.1.x on 2024-08-15). 7.2.0's set has `@ethereumjs/statemanager` 2.2.2, published two hours
/// after 2.2.1 (which 7.2.0 names, `^2.2.1`) because 2.2.1 imports `@ethereumjs/verkle`
/// without declaring it and does not load. When adding one: a folder under
/// `runners/ethereumjs-<major>/` with its package.json (exact versions) and the lock file of
/// `npm install` there.
pub const PINNED_SETS: &[PinnedSet] = &[
    PinnedSet {
        version: Version(7, 1, 0),
        files: [
            ("package.json", include_str!("../../runners/ethereumjs-7/7.1.0/package.json")),
            ("package-lock.json", include_str!("../../runners/ethereumjs-7/7.1.0/package-lock.json")),
        ],
        known: &[NO_EIP7610, BLOB_TX_CHECKS],
    },
    PinnedSet {
        version: Version(7, 2, 0),
        files: [
            ("package.json", include_str!("../../runners/ethereumjs-7/7.2.0/package.json")),
            ("package-lock.json", include_str!("../../runners/ethereumjs-7/7.2.0/package-lock.json")),
        ],
        known: &[NO_EIP7610],
    },
    PinnedSet {
        version: Version(8, 1, 0),
        files: [
            ("package.json", include_str!("../../runners/ethereumjs-7/8.1.0/package.json")),
            ("package-lock.json", include_str!("../../runners/ethereumjs-7/8.1.0/package-lock.json")),
        ],
        known: &[],
    },
    PinnedSet {
        version: Version(8, 1, 1),
        files: [
            ("package.json", include_str!("../../runners/ethereumjs-7/8.1.1/package.json")),
            ("package-lock.json", include_str!("../../runners/ethereumjs-7/8.1.1/package-lock.json")),
        ],
        known: &[],
    },
];

/// The default runner's files, embedded so the installed runner matches this build.
pub const EJS_FILES: &[(&str, &str)] = &[
    ("package.json", include_str!("../../runners/ethereumjs/package.json")),
    ("package-lock.json", include_str!("../../runners/ethereumjs/package-lock.json")),
    ("runner.mjs", include_str!("../../runners/ethereumjs/runner.mjs")),
];

/// Known consensus bugs of EthereumJS releases (targets of `schism selftest --real`). The first
/// four are in `@ethereumjs/evm` 2.1.0 (shipped with vm 7.1.0) and fixed in 2.2.0 (vm 7.2.0);
/// found by a differential fuzzer against geth and reported by last-las in late 2023. The fifth
/// is in evm 3.1.0 (vm 8.1.0), fixed in 3.1.1 (vm 8.1.1, whose only change it is).
static EJS_BUGS: [HistoricalBug; 5] = [
    HistoricalBug {
        name: "ethereumjs-7.1.0-modexp-empty-base",
        buggy: "7.1.0",
        fixed: "7.2.0",
        fork: Fork::Cancun,
        description: "MODEXP with a zero base length returns zeros without looking at the exponent and modulus: \
                      0^0 mod m (m > 1) gives 0 instead of 1, and with a zero modulus length too it returns one \
                      zero byte instead of nothing",
        link: "https://github.com/ethereumjs/ethereumjs-monorepo/issues/3168",
        alone: Some("7.1.0+modexp-empty-base"),
        blocks: false,
    },
    HistoricalBug {
        name: "ethereumjs-7.1.0-modexp-short-input",
        buggy: "7.1.0",
        fixed: "7.2.0",
        fork: Fork::Cancun,
        description: "MODEXP input shorter than 96 bytes: the length words are read without the zero padding on \
                      the right, so a cut-off length word reads small (0x41 instead of 0x41 << 248): the call \
                      is priced and computed with the wrong lengths",
        link: "https://github.com/ethereumjs/ethereumjs-monorepo/issues/3204",
        alone: Some("7.1.0+modexp-short-input"),
        blocks: false,
    },
    HistoricalBug {
        name: "ethereumjs-7.1.0-callcode-gas",
        buggy: "7.1.0",
        fixed: "7.2.0",
        fork: Fork::Cancun,
        description: "CALLCODE with value when the gas left falls short of its cost by 1 to 63 (from Tangerine \
                      Whistle): the check CALL has (cost > gas left) is missing, the 63/64 check lets such a \
                      deficit through (it rounds toward zero), and the 2300 stipend is added to the caller's gas \
                      before the cost is charged, so the call goes ahead instead of running out of gas",
        link: "https://github.com/ethereumjs/ethereumjs-monorepo/issues/3194",
        alone: Some("7.1.0+callcode-gas"),
        blocks: false,
    },
    HistoricalBug {
        name: "ethereumjs-7.1.0-blake2f-offset",
        buggy: "7.1.0",
        fixed: "7.2.0",
        fork: Fork::Cancun,
        description: "BLAKE2F reads rounds, h, m and t from the start of the memory buffer its input is a view of, \
                      not from the input: a call whose input is not at memory offset 0 is priced and hashed \
                      from the wrong bytes",
        link: "https://github.com/ethereumjs/ethereumjs-monorepo/pull/3201",
        alone: Some("7.1.0+blake2f-offset"),
        blocks: false,
    },
    HistoricalBug {
        name: "ethereumjs-8.1.0-transient-storage-after-create",
        buggy: "8.1.0",
        fixed: "8.1.1",
        fork: Fork::Cancun,
        description: "transient storage (EIP-1153) is not cleared after a contract-creating transaction: the EVM \
                      clears it when a top-level call ends but not when a top-level create does, so a later \
                      transaction of the same block reads (TLOAD) what the init code stored (TSTORE)",
        link: "https://github.com/ethereumjs/ethereumjs-monorepo/pull/3625",
        alone: None,
        blocks: true,
    },
];

/// EthereumJS through schism's runner: today's pinned release or one of [`PINNED_SETS`]. The
/// location is the folder holding `runner.mjs` and its `node_modules`.
pub struct EthereumJs {
    id: &'static str,
    /// The id of the release whose installation it runs (itself, except for a backport).
    installed_as: &'static str,
    /// The fix of a later release applied (`--backport=NAME`), if any.
    backport: Option<&'static str>,
    runner: &'static Runner,
    known: &'static [KnownDifference],
    files: &'static [(&'static str, &'static str)],
    hint: &'static str,
    /// Whether `ethereumjs@X.Y.Z` selects releases of it (the default declaration only).
    releases: bool,
}

/// The row of the pinned release (today's runner).
static PINNED_ROW: &Runner = &RUNNERS[RUNNERS.len() - 1];

/// EthereumJS at the pinned release.
pub static ETHEREUMJS: EthereumJs = EthereumJs {
    id: "ethereumjs",
    installed_as: "ethereumjs",
    backport: None,
    runner: PINNED_ROW,
    known: &[],
    files: EJS_FILES,
    hint: "run `schism install ethereumjs` (npm ci of the pinned @ethereumjs/vm beside schism's runner) or pass --client ethereumjs=/path/to/runner-folder",
    releases: true,
};

/// The release declarations made so far, one per version and backport (made once, living as
/// long as the process, like the static ones).
#[allow(clippy::type_complexity)]
static RELEASE_TOOLS: Mutex<Vec<((Version, Option<&'static str>), &'static EthereumJs)>> = Mutex::new(Vec::new());

/// EthereumJS at `version` (with the runner's backport `backport` applied): its runner row and
/// pinned package set, labelled `ethereumjs@<version>[+<backport>]`.
fn ejs_release(version: Version, backport: Option<&str>) -> Result<&'static EthereumJs, ReleaseError> {
    let pinned = || PINNED_SETS.iter().map(|s| s.version.to_string()).collect::<Vec<_>>().join(", ");
    let runner =
        runner_of(version).ok_or_else(|| ReleaseError::NoRunner { tool: ETHEREUMJS.id, version: version.to_string(), pinned: pinned() })?;
    let set = PINNED_SETS.iter().find(|s| s.version == version).ok_or_else(|| ReleaseError::Unpinned {
        tool: ETHEREUMJS.id,
        version: version.to_string(),
        pinned: pinned(),
    })?;
    let backport = match backport {
        None => None,
        Some(name) => Some(*runner.backports.iter().find(|b| **b == name).ok_or_else(|| ReleaseError::NoBackport {
            tool: ETHEREUMJS.id,
            version: version.to_string(),
            name: name.to_owned(),
            known: runner.backports.join(", "),
        })?),
    };
    let mut made = RELEASE_TOOLS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, tool)) = made.iter().find(|(key, _)| *key == (version, backport)) {
        return Ok(tool);
    }
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let name = version.to_string();
    let files: Vec<(&'static str, &'static str)> = set.files.iter().copied().chain([("runner.mjs", runner.api.script())]).collect();
    let installed_as = leak(format!("ethereumjs@{name}"));
    let tool: &'static EthereumJs = Box::leak(Box::new(EthereumJs {
        id: backport.map_or(installed_as, |b| leak(format!("{installed_as}+{b}"))),
        installed_as,
        backport,
        runner,
        known: set.known,
        files: Box::leak(files.into_boxed_slice()),
        hint: leak(format!("run `schism install ethereumjs@{name}` or pass --client ethereumjs@{name}=/path/to/runner-folder")),
        releases: false,
    }));
    made.push(((version, backport), tool));
    Ok(tool)
}

impl Tool for EthereumJs {
    fn id(&self) -> &'static str {
        self.id
    }

    fn supports(&self, fork: Fork) -> bool {
        fork <= self.runner.last_fork
    }

    fn feed(&self) -> Feed {
        Feed::Batch
    }

    fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
        let mut launch = Launch::new("node", [location.join("runner.mjs")]);
        if let Some(name) = self.backport {
            launch = launch.arg(format!("--backport={name}"));
        }
        match mode {
            TraceMode::Off => launch,
            TraceMode::Steps => launch.arg("--trace"),
        }
    }

    fn version_launch(&self, location: &Path) -> Launch {
        Launch::new("node", [location.join("runner.mjs")]).arg("--version")
    }

    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
        read(child, case, mode, deadline)
    }

    fn default_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn startup_grace(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn t8n(&self, location: &Path) -> Option<T8n> {
        // EthereumJS ships no transition tool: schism's runner has a block mode with `evm t8n`'s
        // flags and files, served by one long-lived process (loading the modules costs more
        // than a block).
        if !self.runner.blocks {
            return None;
        }
        let mut launch = Launch::new("node", [location.join("runner.mjs")]).arg("t8n").arg("--serve");
        if let Some(name) = self.backport {
            launch = launch.arg(format!("--backport={name}"));
        }
        Some(T8n {
            launch,
            blob_params: false,
            trace: vec!["--trace".into()],
            feed: T8nFeed::Served,
            dialect: crate::t8n::Dialect::CURRENT,
        })
    }

    fn no_t8n(&self) -> &'static str {
        "EthereumJS ships no transition tool and schism's runner for this range of releases has no block mode"
    }

    fn install_hint(&self) -> String {
        self.hint.to_owned()
    }

    fn recipe(&self) -> Option<Recipe> {
        // A backport runs the release's installation; it is installed as the release.
        self.backport.is_none().then_some(Recipe::Npm { files: self.files })
    }

    fn locate(&self, tools: &Path) -> Option<std::path::PathBuf> {
        Recipe::Npm { files: self.files }.installed(tools, self.installed_as)
    }

    fn refresh(&self, location: &Path) -> Result<bool, String> {
        // A backport runs the release's installation, and its runner.
        Recipe::Npm { files: self.files }.refresh(location, self.installed_as)
    }

    fn release(&self, version: &str) -> Result<&'static dyn Tool, ReleaseError> {
        if !self.releases {
            return Err(ReleaseError::NotVersioned { tool: self.id });
        }
        let (number, backport) = match version.split_once('+') {
            Some((number, backport)) => (number, Some(backport)),
            None => (version, None),
        };
        let parsed = Version::parse(number).ok_or_else(|| ReleaseError::NotAVersion {
            tool: self.id,
            version: version.to_owned(),
            form: "MAJOR.MINOR.PATCH as npm spells it, or MAJOR.MINOR.PATCH+BACKPORT",
        })?;
        Ok(ejs_release(parsed, backport)?)
    }

    fn historical_bugs(&self) -> &'static [HistoricalBug] {
        if self.releases { &EJS_BUGS } else { &[] }
    }

    fn trace_fields(&self) -> TraceFields {
        self.runner.trace_fields
    }

    fn known_differences(&self) -> &'static [KnownDifference] {
        self.known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_npm_spells_them() {
        assert_eq!(Version::parse("7.1.0"), Some(Version(7, 1, 0)));
        assert_eq!(Version::parse("v7.1.0"), None);
        assert_eq!(Version::parse("7.1"), None);
        assert_eq!(Version::parse("7.1.0-rc.1"), None);
        assert_eq!(Version(10, 1, 3).to_string(), "10.1.3");
        assert_eq!(PINNED_ROW.api, Api::V10);
        assert_eq!(Version::parse(PINNED).and_then(runner_of), Some(PINNED_ROW));
    }

    #[test]
    fn releases_are_declared_by_range_and_pinned_set() {
        let old = ETHEREUMJS.release("7.1.0").expect("7.1.0 is declared");
        assert_eq!(old.id(), "ethereumjs@7.1.0");
        assert!(std::ptr::eq(old, ETHEREUMJS.release("7.1.0").expect("again")), "made once");
        assert!(old.supports(Fork::Cancun) && !old.supports(Fork::Prague));
        assert!(ETHEREUMJS.supports(Fork::Osaka));
        let Some(Recipe::Npm { files }) = old.recipe() else { panic!("an npm recipe") };
        let file = |name: &str| files.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect(name);
        assert!(file("package.json").contains(r#""@ethereumjs/evm": "2.1.0""#), "the EVM of the time, pinned");
        assert!(file("runner.mjs").contains("VM.create"), "the 7.x runner");
        assert_eq!(old.recipe().map(|r| r.location(Path::new("tools"), old.id())), Some(Path::new("tools/ethereumjs@7.1.0").to_path_buf()));
        assert!(old.launch(Path::new("t"), TraceMode::Steps).display().contains("--trace"));
        assert!(!old.trace_fields().mem_size && ETHEREUMJS.trace_fields().mem_size, "7.x reports memory after expansion");
        assert!(matches!(ETHEREUMJS.release("7.0.0"), Err(ReleaseError::Unpinned { .. })));
        assert!(matches!(ETHEREUMJS.release("9.0.0"), Err(ReleaseError::NoRunner { .. })));
        let eight = ETHEREUMJS.release("8.1.0").expect("8.1.0 is declared");
        assert!(eight.supports(Fork::Cancun) && !eight.supports(Fork::Prague));
        assert!(eight.t8n(Path::new("t")).is_some_and(|t| t.feed == T8nFeed::Served), "8.x runs blocks");
        assert!(old.t8n(Path::new("t")).is_none(), "7.x's block mode is not declared");
        assert!(ETHEREUMJS.t8n(Path::new("t")).is_some());
        assert!(matches!(ETHEREUMJS.release("6.5.0"), Err(ReleaseError::NoRunner { .. })));
        assert!(matches!(ETHEREUMJS.release("v7.1.0"), Err(ReleaseError::NotAVersion { .. })));
        assert!(matches!(old.release("7.2.0"), Err(ReleaseError::NotVersioned { .. })));
        let alone = ETHEREUMJS.release("7.1.0+blake2f-offset").expect("a declared backport");
        assert_eq!(alone.id(), "ethereumjs@7.1.0+blake2f-offset");
        assert!(alone.launch(Path::new("t"), TraceMode::Off).display().contains("--backport=blake2f-offset"));
        assert!(alone.recipe().is_none(), "installed as the release");
        assert!(matches!(ETHEREUMJS.release("7.1.0+nope"), Err(ReleaseError::NoBackport { .. })));
        assert!(matches!(
            ETHEREUMJS.release("10.1.3+blake2f-offset"),
            Err(ReleaseError::Unpinned { .. } | ReleaseError::NoBackport { .. })
        ));
    }

    #[test]
    fn every_bug_names_installable_releases_that_know_its_fork() {
        for bug in ETHEREUMJS.historical_bugs() {
            for version in [bug.buggy, bug.fixed].into_iter().chain(bug.alone) {
                let tool = ETHEREUMJS.release(version).unwrap_or_else(|e| panic!("{}: {e}", bug.name));
                assert!(tool.supports(bug.fork), "{}: {version} does not know {}", bug.name, bug.fork);
                assert!(!bug.blocks || tool.t8n(Path::new("t")).is_some(), "{}: {version} runs no blocks", bug.name);
            }
        }
        let names: std::collections::BTreeSet<_> = EJS_BUGS.iter().map(|b| b.name).collect();
        assert_eq!(names.len(), EJS_BUGS.len(), "target names are unique");
    }
}
