//! The tools: what each subprocess client is started as and how its output reads. Everything
//! about processes is in [`crate::process`]; everything about number and line formats in
//! [`crate::parse`]; a tool module only combines them.

pub mod besu;
pub mod ethereumjs;
pub mod evmone;
pub mod geth;
pub mod nethermind;
pub mod nimbus;
pub mod pyevm;
pub mod runner;

use crate::Feed;
use crate::process::{Fault, Launch, Process};
use schism_interface::fixture::{Indexes, PostEntry};
use schism_interface::{BlockInput, Case, Fork, KnownDifference, NativeVerdict, Outcome, StateTest, StateTestFile, TraceFields, TraceMode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a tool is installed into the tools folder (`<tools>/<id>/`) from a package registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipe {
    /// `go install MODULE@VERSION` into `<tools>/<id>/bin`; the client is `bin/<binary>`.
    Go {
        /// The module path of the command.
        module: &'static str,
        /// The tagged version.
        version: &'static str,
        /// The installed binary's name.
        binary: &'static str,
        /// `-ldflags` for the build, when the release needs some to build with today's Go.
        ldflags: Option<&'static str>,
    },
    /// A virtualenv at `<tools>/<id>/venv` with `pip install PACKAGE==VERSION`; the client is
    /// its `bin/python`.
    Pip {
        /// The PyPI package.
        package: &'static str,
        /// Its version.
        version: &'static str,
    },
    /// `npm ci` in `<tools>/<id>` over the given files (package.json, its lock file and the
    /// runner); the client is the folder.
    Npm {
        /// File names and contents.
        files: &'static [(&'static str, &'static str)],
    },
}

impl Recipe {
    /// Where the installed client is under `tools`, whether or not it is there.
    pub fn location(&self, tools: &Path, id: &str) -> PathBuf {
        match self {
            Recipe::Go { binary, .. } => tools.join(id).join("bin").join(binary),
            Recipe::Pip { .. } => tools.join(id).join("venv/bin/python"),
            Recipe::Npm { .. } => tools.join(id),
        }
    }

    /// Brings an installed npm client's runner up to this build's (the runner is schism's own
    /// script, installed beside the packages it drives: an older schism's runner would speak an
    /// older protocol, or be missing); says whether it was rewritten. An installation whose
    /// package set is not this build's cannot be brought up to date here: the error says to
    /// run `schism install ID`. Other recipes have nothing to refresh.
    pub fn refresh(&self, location: &Path, id: &str) -> Result<bool, String> {
        let Recipe::Npm { files } = self else { return Ok(false) };
        let same = |name: &str, text: &str| std::fs::read_to_string(location.join(name)).is_ok_and(|t| t == text);
        let (packages, runners): (Vec<_>, Vec<_>) = files.iter().partition(|(name, _)| name.starts_with("package"));
        if let Some((name, _)) = packages.iter().find(|(name, text)| !same(name, text)) {
            return Err(format!(
                "its {name} in {} is not this build's (installed by another version of schism): run `schism install {id}`",
                location.display()
            ));
        }
        let mut rewritten = false;
        for (name, text) in runners.into_iter().filter(|(name, text)| !same(name, text)) {
            // Written to a temporary file and renamed, so a client starting meanwhile never
            // runs half a script.
            let path = location.join(name);
            let written = tempfile::NamedTempFile::new_in(location)
                .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()).map(|()| file))
                .and_then(|file| file.persist(&path).map_err(|e| e.error));
            written.map_err(|e| format!("cannot bring its runner {} up to this build's: {e}", path.display()))?;
            rewritten = true;
        }
        Ok(rewritten)
    }

    /// The installed client under `tools`, when it is installed.
    pub fn installed(&self, tools: &Path, id: &str) -> Option<PathBuf> {
        let location = self.location(tools, id);
        let there = match self {
            Recipe::Npm { .. } => location.join("node_modules").is_dir(),
            _ => location.exists(),
        };
        there.then_some(location)
    }
}

/// Why a release of a tool cannot be selected (`ID@vX.Y.Z`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The tool runs one build only; it declares no releases.
    #[error("{tool} declares no releases; pass --client {tool}=/path/to/binary for another build")]
    NotVersioned {
        /// The tool's id.
        tool: &'static str,
    },
    /// Not a release number.
    #[error("`{version}` is not a {tool} release number ({form})")]
    NotAVersion {
        /// The tool's id.
        tool: &'static str,
        /// What was given.
        version: String,
        /// How the tool's releases are spelt.
        form: &'static str,
    },
    /// No runner schism ships drives that release (its API is not one the declaration knows).
    #[error("{tool} {version} is not in a range of releases schism has a runner for (installable: {pinned})")]
    NoRunner {
        /// The tool's id.
        tool: &'static str,
        /// What was given.
        version: String,
        /// The releases that can be installed.
        pinned: String,
    },
    /// The release's runner has no backport of that name.
    #[error("{tool} {version} has no backport `{name}` (known: {known})")]
    NoBackport {
        /// The tool's id.
        tool: &'static str,
        /// The release.
        version: String,
        /// What was given.
        name: String,
        /// The backports its runner has.
        known: String,
    },
    /// The release's dependencies are not pinned by schism (a package registry resolves them
    /// to newer releases than the ones published with it).
    #[error("{tool} {version} has no pinned package set in schism (installable: {pinned})")]
    Unpinned {
        /// The tool's id.
        tool: &'static str,
        /// What was given.
        version: String,
        /// The releases that can be installed.
        pinned: String,
    },
    /// Older than every release the tool's declaration describes.
    #[error("{tool} {version} is older than the oldest release schism drives ({oldest})")]
    TooOld {
        /// The tool's id.
        tool: &'static str,
        /// What was given.
        version: String,
        /// The oldest release declared.
        oldest: String,
    },
}

/// A consensus bug that shipped in a release of a tool and was fixed in a later one: a target
/// of `schism selftest --real`, which fuzzes the buggy release beside a healthy client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoricalBug {
    /// The target's stable name (`geth-cve-2020-26241`).
    pub name: &'static str,
    /// The release that has the bug (`v1.9.16`).
    pub buggy: &'static str,
    /// The first release without it.
    pub fixed: &'static str,
    /// The fork the farm is restricted to (one the buggy release knows).
    pub fork: Fork,
    /// What is wrong.
    pub description: &'static str,
    /// Where the bug is described.
    pub link: &'static str,
    /// The buggy release with this bug's fix alone (`7.1.0+blake2f-offset`), when the fixed
    /// release fixes other bugs of it too: a finding is this bug only if it goes away there.
    pub alone: Option<&'static str>,
    /// True when the bug shows only across the transactions of a block (one transaction on a
    /// fresh state cannot show it): the farm then generates block sequences only, which the
    /// buggy release must run ([`Tool::t8n`]).
    pub blocks: bool,
}

/// The commands with which a client's own tool replays a filed fixture: `{tool}` stands for the
/// client's location (its program name when it has none), `{case}` for the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnCommands {
    /// The program's usual name, for commands where it is not found here.
    pub program: &'static str,
    /// Replays a state-test file.
    pub statetest: Option<&'static str>,
    /// Replays a blockchain-test file.
    pub blocktest: Option<&'static str>,
}

/// The first `name` on `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// One subprocess EVM tool: its declaration (id, forks, installation, location, own
/// commands, known differences) and how it runs. Adding a subprocess client is one file
/// implementing this and one line in the engine's registry.
pub trait Tool: Send + Sync + 'static {
    /// The client id (`geth`, `eels`, ...).
    fn id(&self) -> &'static str;

    /// True when the tool implements `fork`.
    fn supports(&self, fork: Fork) -> bool;

    /// How the tool takes cases.
    fn feed(&self) -> Feed;

    /// The command that starts the tool (without the case file for per-case tools).
    fn launch(&self, location: &Path, mode: TraceMode) -> Launch;

    /// The command that prints the tool's version (`TOOL --version` unless the tool says).
    fn version_launch(&self, location: &Path) -> Launch {
        Launch::new(location, ["--version"])
    }

    /// The version in the version command's output: its first version-like word.
    fn parse_version(&self, output: &str) -> Option<String> {
        version_word(output)
    }

    /// Reads the outcome of one case from the child, which has been given the case.
    fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault>;

    /// True when, untraced, several cases of one test may go to the tool in one file (see
    /// [`merged_file`]): it runs every entry of a file's `post` and answers each, so a file of
    /// many cases costs it one parse of the shared pre-state, as the fixture itself would.
    fn merges_cases(&self) -> bool {
        false
    }

    /// Reads the outcomes of the cases of a [`merged_file`] the child has been given, in the
    /// order of `cases`. Only called when [`Tool::merges_cases`].
    fn read_merged(&self, _child: &mut Process, _cases: &[&Case], _deadline: Instant) -> Result<Vec<Outcome>, Fault> {
        Err(Fault::Tool("this tool takes one case per file".to_owned()))
    }

    /// True when the tool prints results (roots, traces) on standard error, so its lines must be
    /// read; otherwise standard error is kept only as a tail for fault reports.
    fn stderr_is_output(&self) -> bool {
        false
    }

    /// The fork's name in the tool's state-test files.
    fn fork_name(&self, fork: Fork) -> &'static str {
        fork.name()
    }

    /// The state test the tool is given for `case`: the case alone, with the expected root and
    /// logs hash when the case has them (zero otherwise) and never `expectException`, so that
    /// tools that check the file report a rejection as an error instead of passing it.
    fn state_test(&self, case: &Case) -> StateTest {
        let mut test = case.to_state_test();
        let (hash, logs) = case.expected.as_ref().map(|e| (e.hash, e.logs)).unwrap_or_default();
        let entry = PostEntry { hash, logs, indexes: Indexes::default(), txbytes: None, expect_exception: None, state: None };
        test.post = BTreeMap::from([(case.fork, vec![entry])]);
        test
    }

    /// Something in `case` the tool cannot take, if anything.
    fn unrepresentable(&self, _case: &Case) -> Option<&'static str> {
        None
    }

    /// The per-case timeout when none is configured.
    fn default_timeout(&self) -> Duration {
        crate::DEFAULT_TIMEOUT
    }

    /// Extra time a freshly started child gets for its first case, on top of the timeout
    /// (interpreters load their modules first). Native tools start at once.
    fn startup_grace(&self) -> Duration {
        Duration::ZERO
    }

    /// How to get the tool when it is missing.
    fn install_hint(&self) -> String;

    /// Which fields of its trace steps the tool reports faithfully (see [`TraceFields`]); the
    /// others are left out when its trace is compared with another's.
    fn trace_fields(&self) -> TraceFields {
        TraceFields::ALL
    }

    /// Documented differences of the tool from the specification.
    fn known_differences(&self) -> &'static [KnownDifference] {
        &[]
    }

    /// How `schism install` installs the tool, when a package registry ships it.
    fn recipe(&self) -> Option<Recipe> {
        None
    }

    /// Where the tool is when no path is given: installed in `tools` by its recipe, or (for
    /// tools no registry ships) its program on `PATH`.
    fn locate(&self, tools: &Path) -> Option<PathBuf> {
        self.recipe().and_then(|r| r.installed(tools, self.id()))
    }

    /// Brings what schism installed beside the client at `location` (its runner) up to this
    /// build's; see [`Recipe::refresh`].
    fn refresh(&self, location: &Path) -> Result<bool, String> {
        self.recipe().map_or(Ok(false), |r| r.refresh(location, self.id()))
    }

    /// The tool as one of its releases (`version` like `v1.9.16`), for tools whose declaration
    /// describes how each range of releases runs; installed beside the default build as
    /// `<tools>/<id>@<version>/`.
    fn release(&self, version: &str) -> Result<&'static dyn Tool, ReleaseError> {
        let _ = version;
        Err(ReleaseError::NotVersioned { tool: self.id() })
    }

    /// Known consensus bugs of the tool's releases (targets of `schism selftest --real`).
    fn historical_bugs(&self) -> &'static [HistoricalBug] {
        &[]
    }

    /// How the tool's own runner replays filed fixtures.
    fn own_commands(&self) -> OwnCommands {
        OwnCommands::default()
    }

    /// How the tool runs one block as a transition tool (see [`crate::t8n`]), if it can.
    fn t8n(&self, _location: &Path) -> Option<crate::t8n::T8n> {
        None
    }

    /// Why the tool has no transition tool (what [`crate::External`] reports as its block skip).
    fn no_t8n(&self) -> &'static str {
        "this tool has no transition tool (t8n) schism drives"
    }

    /// Something in `block` the tool's transition tool cannot take, if anything.
    fn t8n_unrepresentable(&self, _block: &BlockInput) -> Option<&'static str> {
        None
    }

    /// The command of the tool's own blockchain-test runner, given one file as its last
    /// argument, if it has one.
    fn blocktest(&self, _location: &Path) -> Option<Launch> {
        None
    }

    /// The verdicts in the blockchain-test runner's output: by default a JSON array of
    /// `{"name", "pass", "error"}` objects (geth's `evm blocktest`).
    fn blocktest_verdicts(&self, output: &serde_json::Value) -> Result<Vec<NativeVerdict>, String> {
        blocktest_verdicts(output)
    }
}

/// Reads a blockchain-test runner's output to its verdicts (through the tool's
/// [`Tool::blocktest_verdicts`]) and waits for its exit, up to `deadline`.
pub fn read_blocktest(tool: &dyn Tool, child: &mut Process, deadline: Instant) -> Result<Vec<NativeVerdict>, Fault> {
    // geth prints a line and the header of a block that imported against the fixture's
    // expectation before its verdicts: the verdicts are the first array.
    let mut output = child.json_value(deadline, true)?;
    for _ in 0..64 {
        if output.is_array() || output.is_null() {
            break;
        }
        output = match child.json_value(deadline, true) {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    let status = child.wait(deadline)?;
    if !output.is_array() {
        // geth prints `null` and exits 0 when it cannot read the file; the reason is on stderr.
        return Err(Fault::Tool(format!(
            "no results (`{}`, {}); stderr: {}",
            crate::process::clip(&output.to_string()),
            crate::process::describe(status),
            child.final_stderr_tail()
        )));
    }
    tool.blocktest_verdicts(&output).map_err(|reason| Fault::Malformed { line: crate::process::clip(&output.to_string()), reason })
}

/// The verdicts of a `[{"name", "pass", "error"}, ...]` array.
pub fn blocktest_verdicts(output: &serde_json::Value) -> Result<Vec<NativeVerdict>, String> {
    let items = output.as_array().ok_or("expected an array of results")?;
    items
        .iter()
        .map(|r| {
            let test = r.get("name").and_then(serde_json::Value::as_str).ok_or_else(|| format!("a result without a name: {r}"))?;
            let pass = r.get("pass").and_then(serde_json::Value::as_bool).ok_or_else(|| format!("a result without `pass`: {r}"))?;
            let detail = r.get("error").and_then(serde_json::Value::as_str).filter(|e| !e.is_empty()).map(str::to_owned);
            Ok(NativeVerdict { test: test.to_owned(), pass, detail })
        })
        .collect()
}

/// The test name a case is written under: the fixture's name where it is a plain word, else
/// `schism` (some tools choke on names with path separators or brackets).
pub fn case_name(case: &Case) -> String {
    let name = case.test.as_ref();
    if !name.is_empty() && name.len() <= 200 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        name.to_owned()
    } else {
        "schism".to_owned()
    }
}

/// The file as JSON bytes, with the `post` key of `fork` spelled `name` (tools disagree on a few
/// fork names; only then does it go through a `serde_json::Value` to rename the key).
pub fn case_file(file: &StateTestFile, fork: Fork, name: &str) -> serde_json::Result<Vec<u8>> {
    if name == fork.name() {
        return serde_json::to_vec(file);
    }
    let mut value = serde_json::to_value(file)?;
    if let Some(tests) = value.as_object_mut() {
        for test in tests.values_mut() {
            if let Some(post) = test.get_mut("post").and_then(serde_json::Value::as_object_mut)
                && let Some(entries) = post.remove(fork.name())
            {
                post.insert(name.to_owned(), entries);
            }
        }
    }
    serde_json::to_vec(&value)
}

/// One state-test file holding every case of `cases` that can share it with the first, and
/// how many that is (at least the first): the cases of one test, whose files under `tool`
/// differ only in the transaction's `data`, `gasLimit`, `value` and `accessLists` alternatives
/// and in `post`. The file lists the alternatives in the order of the cases, case `k` taking
/// alternative `k` of each, and its `post` has case `k` as the next entry under its fork (the
/// fork spelled as the tool spells it). `None` when the first case's file cannot be serialised.
pub fn merged_file(tool: &dyn Tool, cases: &[&Case]) -> Option<(Vec<u8>, usize)> {
    let first = cases.first()?;
    let bare = |test: &mut StateTest| {
        let tx = &mut test.transaction;
        (
            std::mem::take(&mut tx.data),
            std::mem::take(&mut tx.gas_limit),
            std::mem::take(&mut tx.value),
            tx.access_lists.take(),
            std::mem::take(&mut test.post),
            test.config.as_mut().and_then(|c| c.blob_schedule.take()).unwrap_or_default(),
        )
    };
    let mut merged = tool.state_test(first);
    let (data, gas, value, lists, post, mut schedule) = bare(&mut merged);
    if data.len() != 1 || gas.len() != 1 || value.len() != 1 || lists.as_ref().is_some_and(|l| l.len() != 1) {
        // A file of several alternatives of its own: sent alone.
        return single_file(tool, first).ok().map(|f| (f, 1));
    }
    let mut alternatives = (data, gas, value, lists.map(|l| vec![l]));
    let mut posts: BTreeMap<String, Vec<PostEntry>> = BTreeMap::new();
    let mut add = |k: usize, case: &Case, post: BTreeMap<Fork, Vec<PostEntry>>| {
        for mut entry in post.into_values().flatten() {
            entry.indexes = Indexes { data: k, gas: k, value: k };
            posts.entry(tool.fork_name(case.fork).to_owned()).or_default().push(entry);
        }
    };
    add(0, first, post);
    let name = case_name(first);
    let mut count = 1;
    for case in &cases[1..] {
        if case_name(case) != name || !Arc::ptr_eq(&case.pre, &first.pre) || !Arc::ptr_eq(&case.env, &first.env) {
            break;
        }
        let mut test = tool.state_test(case);
        let (data, gas, value, lists, post, blobs) = bare(&mut test);
        // One alternative each, access lists on all or none of them, and one blob schedule
        // per fork (the cases of several forks carry one each).
        let one = data.len() == 1 && gas.len() == 1 && value.len() == 1 && lists.as_ref().is_none_or(|l| l.len() == 1);
        let clash = blobs.iter().any(|(fork, params)| schedule.get(fork).is_some_and(|p| p != params));
        if test != merged || !one || clash || lists.is_some() != alternatives.3.is_some() {
            break;
        }
        schedule.extend(blobs);
        alternatives.0.extend(data);
        alternatives.1.extend(gas);
        alternatives.2.extend(value);
        if let (Some(all), Some(l)) = (alternatives.3.as_mut(), lists) {
            all.push(l);
        }
        add(count, case, post);
        count += 1;
    }
    merged.transaction.data = alternatives.0;
    merged.transaction.gas_limit = alternatives.1;
    merged.transaction.value = alternatives.2;
    merged.transaction.access_lists = alternatives.3.map(|l| l.into_iter().flatten().collect());
    if let Some(config) = merged.config.as_mut()
        && !schedule.is_empty()
    {
        config.blob_schedule = Some(schedule);
    }
    let mut value = serde_json::to_value(BTreeMap::from([(name, merged)])).ok()?;
    if let Some(test) = value.as_object_mut().and_then(|t| t.values_mut().next()).and_then(Value::as_object_mut) {
        test.insert("post".to_owned(), serde_json::to_value(posts).ok()?);
    }
    Some((serde_json::to_vec(&value).ok()?, count))
}

/// The file of one case alone, as JSON bytes.
pub fn single_file(tool: &dyn Tool, case: &Case) -> serde_json::Result<Vec<u8>> {
    let file: StateTestFile = BTreeMap::from([(case_name(case), tool.state_test(case))]);
    case_file(&file, case.fork, tool.fork_name(case.fork))
}

/// The first line of `output` that contains a version-like word (`1.17.10-stable`, `v10.1.3`),
/// that word.
pub fn version_word(output: &str) -> Option<String> {
    output.split_whitespace().find_map(|w| {
        let w = w.trim_start_matches('v').trim_end_matches([',', ';']);
        let mut parts = w.split('.');
        let numeric = |p: Option<&str>| p.is_some_and(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()));
        (numeric(parts.next()) && numeric(parts.next())).then(|| w.to_owned())
    })
}

/// The first case of the shared fixture `stExample/add11.json`, for the tools' unit tests.
#[cfg(test)]
pub(crate) fn add11() -> Case {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/GeneralStateTests/stExample/add11.json");
    match schism_interface::load::read_fixture(&path).expect("fixture") {
        schism_interface::load::FixtureFile::State(file) => schism_interface::load::expand_file(&path, &file).0.remove(0),
        _ => panic!("a state test"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_or_missing_npm_runner_is_brought_up_to_date_and_another_package_set_named() {
        static FILES: [(&str, &str); 3] = [("package.json", "{}"), ("package-lock.json", "{\"lock\": 1}"), ("runner.mjs", "// new")];
        let recipe = Recipe::Npm { files: &FILES };
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in &FILES[..2] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        assert_eq!(recipe.refresh(dir.path(), "ethereumjs"), Ok(true), "a missing runner is written");
        assert_eq!(std::fs::read_to_string(dir.path().join("runner.mjs")).expect("runner"), "// new");
        assert_eq!(recipe.refresh(dir.path(), "ethereumjs"), Ok(false), "an up-to-date runner is left alone");
        std::fs::write(dir.path().join("runner.mjs"), "// old").expect("write");
        assert_eq!(recipe.refresh(dir.path(), "ethereumjs"), Ok(true), "a stale runner is rewritten");
        assert_eq!(std::fs::read_to_string(dir.path().join("runner.mjs")).expect("runner"), "// new");
        std::fs::write(dir.path().join("package-lock.json"), "{}").expect("write");
        let err = recipe.refresh(dir.path(), "ethereumjs@7.1.0").expect_err("another package set");
        assert!(err.contains("package-lock.json") && err.contains("schism install ethereumjs@7.1.0"), "{err}");
        let go = Recipe::Go { module: "m", version: "v1", binary: "evm", ldflags: None };
        assert_eq!(go.refresh(dir.path(), "geth"), Ok(false));
    }

    #[test]
    fn a_merged_file_gives_each_case_its_own_alternatives_and_entry() {
        struct Plain;
        impl Tool for Plain {
            fn id(&self) -> &'static str {
                "plain"
            }
            fn supports(&self, _: Fork) -> bool {
                true
            }
            fn feed(&self) -> Feed {
                Feed::Batch
            }
            fn launch(&self, location: &Path, _: TraceMode) -> Launch {
                Launch::new(location, std::iter::empty::<&str>())
            }
            fn read(&self, _: &mut Process, _: &Case, _: TraceMode, _: Instant) -> Result<Outcome, Fault> {
                Err(Fault::Tool("unused".to_owned()))
            }
            fn fork_name(&self, fork: Fork) -> &'static str {
                if fork == Fork::Prague { "PragueSpelledOtherwise" } else { fork.name() }
            }
            fn install_hint(&self) -> String {
                String::new()
            }
        }
        let base = add11();
        let mut cases = [base.clone(), base.clone(), base.clone()];
        cases[1].fork = Fork::Prague;
        cases[1].tx.gas_limit = 77_777;
        cases[2].tx.data = schism_interface::alloy_primitives::Bytes::from_static(&[1, 2, 3]);
        let mut other_test = base.clone();
        other_test.test = Arc::from("other");
        let mut fresh_pre = base.clone();
        fresh_pre.pre = Arc::new((*base.pre).clone());
        let refs: Vec<&Case> = cases.iter().chain([&other_test, &fresh_pre]).collect();
        let (text, count) = merged_file(&Plain, &refs).expect("serialises");
        assert_eq!(count, 3, "another test, or the same test with another pre-state, is not merged");
        let file: serde_json::Value = serde_json::from_slice(&text).expect("json");
        let test = &file["add11"];
        assert_eq!(test["transaction"]["gasLimit"].as_array().map(Vec::len), Some(3));
        assert_eq!(test["transaction"]["gasLimit"][1], "0x12fd1");
        assert_eq!(test["transaction"]["data"][2], "0x010203");
        let cancun = test["post"]["Cancun"].as_array().expect("Cancun entries");
        assert_eq!(cancun.len(), 2);
        assert_eq!(cancun[1]["indexes"], serde_json::json!({"data": 2, "gas": 2, "value": 2}));
        assert_eq!(test["post"]["PragueSpelledOtherwise"][0]["indexes"]["gas"], 1);
        let (_, alone) = merged_file(&Plain, &refs[3..]).expect("serialises");
        assert_eq!(alone, 1);
    }

    #[test]
    fn versions_in_tool_banners() {
        assert_eq!(version_word("evm version 1.17.10-stable"), Some("1.17.10-stable".to_owned()));
        assert_eq!(version_word("v10.1.3\n"), Some("10.1.3".to_owned()));
        assert_eq!(version_word("no version here"), None);
    }
}
