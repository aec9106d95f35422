//! The pipeline: cases through one long-lived child of a batch tool (file names over stdin),
//! several in flight at once. The case files are written and their names sent ahead while the
//! results of earlier cases are read, so the child does not wait for schism between cases.
//! Results are read in order, each under its own deadline; a case's fault (timeout, crash,
//! garbage) is that case's alone: the child is killed and the cases sent after it go to a fresh
//! one. What is in flight is bounded ([`WINDOW`] cases, [`WINDOW_BYTES`] of names), so a write
//! to the child's standard input never waits on a child that waits for its output to be read.

use crate::External;
use crate::process::{Fault, Process};
use schism_interface::{Case, ClientError, Outcome, TraceMode};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The most cases in flight: written, and sent to the child or about to be, not yet answered.
pub const WINDOW: usize = 16;

/// The most bytes of file names sent and not yet answered. A pipe holds at least a page (Linux
/// shrinks a pipe to one under memory pressure), so names within this bound fit in it whatever
/// the child is doing: writing them never blocks. A single longer name is still sent alone.
pub const WINDOW_BYTES: usize = 4096;

/// The most cases sharing one file.
pub const MERGE_MAX: usize = 64;

/// One file of a batch (one case, or several of one test, see [`crate::tools::merged_file`]),
/// from its being written until its results are handed on.
struct Slot {
    /// The positions in the batch of its cases, in the file's order.
    indices: Vec<usize>,
    /// Its file, or why it has none (a fault of the case before any child sees it).
    file: Result<PathBuf, ClientError>,
    /// When its name was sent to the current child; `None` while it has not been.
    sent: Option<Instant>,
}

impl Slot {
    /// The line that names its file, when it has one.
    fn line(&self) -> Option<String> {
        self.file.as_ref().ok().map(|p| p.to_string_lossy().into_owned())
    }
}

/// The child the cases go to.
struct Live {
    process: Process,
    /// False until it has answered a case: a fresh child's first case gets the tool's startup
    /// grace on top of the timeout.
    answered: bool,
}

impl External {
    /// Runs `cases` through children of the tool (a [`crate::Feed::Batch`] tool), handing each
    /// result to `done` with the case's position, every case once and in order.
    pub(crate) fn pipeline(&self, cases: &[&Case], mode: TraceMode, done: &mut dyn FnMut(usize, Result<Outcome, ClientError>)) {
        self.pipeline_files(cases, mode, mode == TraceMode::Off && self.tool.merges_cases(), done);
    }

    /// The pipeline, with the cases of one test sharing a file when `merge`.
    fn pipeline_files(&self, cases: &[&Case], mode: TraceMode, merge: bool, done: &mut dyn FnMut(usize, Result<Outcome, ClientError>)) {
        let mut queue: VecDeque<Slot> = VecDeque::with_capacity(WINDOW);
        let mut next = 0;
        let mut child = self.pooled(mode).map(|process| Live { process, answered: true });
        // Why the cases not yet sent cannot be sent (the child could not be started, or its
        // standard input is closed): the fault of the first of them.
        let mut stalled: Option<Fault> = None;
        // When the previous result was handed on: the child starts on a case no earlier than
        // that, or than its name was sent, and its deadline runs from the later of the two.
        let mut previous = Instant::now();
        while next < cases.len() || !queue.is_empty() {
            while queue.len() < WINDOW && next < cases.len() {
                let slot = if merge { self.merged_slot(cases, next) } else { None };
                let slot = slot.unwrap_or_else(|| {
                    let case = cases[next];
                    Slot { indices: vec![next], file: self.admit(case).and_then(|()| self.write_case(case)), sent: None }
                });
                next += slot.indices.len();
                queue.push_back(slot);
            }
            if stalled.is_none() {
                stalled = self.send_ahead(&mut child, &mut queue, mode).err();
            }
            let Some(slot) = queue.pop_front() else { break };
            let path = match slot.file {
                Ok(path) => path,
                Err(e) => {
                    done(slot.indices[0], Err(e));
                    previous = Instant::now();
                    continue;
                }
            };
            let group: Vec<&Case> = slot.indices.iter().map(|&i| cases[i]).collect();
            let read = match (slot.sent, child.as_mut()) {
                (Some(sent), Some(live)) => {
                    let grace = if live.answered { Duration::ZERO } else { self.tool.startup_grace() };
                    live.process.start_case();
                    live.answered = true;
                    // Each case of a shared file has its own timeout.
                    let deadline = sent.max(previous) + self.timeout * group.len() as u32 + grace;
                    match group.as_slice() {
                        [case] => self.tool.read(&mut live.process, case, mode, deadline).map(|o| vec![o]),
                        _ => self.tool.read_merged(&mut live.process, &group, deadline),
                    }
                }
                // Not sent: the child could not be started or stopped reading.
                _ => Err(stalled.take().unwrap_or_else(|| Fault::Tool("the case could not be sent to the tool".to_owned()))),
            };
            if read.is_err() {
                // Whatever the child was doing, its output no longer lines up with the cases:
                // it is killed (dropped), and the cases sent after this one go to a fresh child.
                child = None;
                stalled = None;
                for slot in &mut queue {
                    slot.sent = None;
                }
            }
            self.done_with(path);
            match read {
                Ok(outcomes) => {
                    for (&i, outcome) in slot.indices.iter().zip(outcomes) {
                        done(i, Ok(outcome));
                    }
                }
                Err(fault) if group.len() == 1 => done(slot.indices[0], Err(self.error(fault))),
                // A fault of a shared file is some case's: each runs again alone, so that the
                // fault lands on its own case and the others get their results.
                Err(_) => self.pipeline_files(&group, mode, false, &mut |j, result| done(slot.indices[j], result)),
            }
            previous = Instant::now();
        }
        if let Some(live) = child {
            self.give_back(mode, live.process);
        }
    }

    /// A slot of the case at `first` and the cases after it that share its file, when at least
    /// two do (every one admitted); `None` otherwise.
    fn merged_slot(&self, cases: &[&Case], first: usize) -> Option<Slot> {
        let same_test = cases[first..]
            .iter()
            .take(MERGE_MAX)
            .take_while(|c| c.test == cases[first].test && std::sync::Arc::ptr_eq(&c.pre, &cases[first].pre))
            .take_while(|c| self.admit(c).is_ok())
            .count();
        if same_test < 2 {
            return None;
        }
        let (text, count) = crate::tools::merged_file(self.tool, &cases[first..first + same_test])?;
        if count < 2 {
            return None;
        }
        Some(Slot { indices: (first..first + count).collect(), file: self.write_text(&text), sent: None })
    }

    /// Sends the names of the queue's unsent cases, in order, as far as [`WINDOW_BYTES`]
    /// allows, starting a child when there is none. An error is the fault of the first case
    /// not sent.
    fn send_ahead(&self, child: &mut Option<Live>, queue: &mut VecDeque<Slot>, mode: TraceMode) -> Result<(), Fault> {
        let mut in_flight: usize = queue.iter().filter(|s| s.sent.is_some()).filter_map(Slot::line).map(|l| l.len() + 1).sum();
        for slot in queue.iter_mut().filter(|s| s.sent.is_none()) {
            let Some(line) = slot.line() else { continue };
            if in_flight > 0 && in_flight + line.len() + 1 > WINDOW_BYTES {
                break;
            }
            let live = match child {
                Some(live) => live,
                None => {
                    let process = Process::spawn(&self.tool.launch(&self.location, mode), self.tool.stderr_is_output())?;
                    child.insert(Live { process, answered: false })
                }
            };
            let now = Instant::now();
            live.process.send_ahead(&line, now + self.timeout)?;
            slot.sent = Some(now);
            in_flight += line.len() + 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Launch, Stream};
    use crate::{Feed, Settings, Tool};
    use schism_interface::alloy_primitives::keccak256;
    use schism_interface::{Client, Fork};
    use std::path::Path;
    use std::sync::Arc;

    /// A batch tool answering `root NAME` per case (after any `noise` lines); it has no
    /// Frontier. Its reader checks that an answer names the case it reads, so an answer taken
    /// for the wrong case is a fault, never a result.
    struct Fake;

    static FAKE: Fake = Fake;

    /// The fake, but its cases of one test share a file: it answers `root NAME` once per
    /// `post` entry of a file.
    struct Merging;

    static MERGING: Merging = Merging;

    impl Tool for Merging {
        fn id(&self) -> &'static str {
            "merging"
        }
        fn supports(&self, fork: Fork) -> bool {
            FAKE.supports(fork)
        }
        fn feed(&self) -> Feed {
            Feed::Batch
        }
        fn launch(&self, location: &Path, mode: TraceMode) -> Launch {
            FAKE.launch(location, mode)
        }
        fn read(&self, child: &mut Process, case: &Case, mode: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
            FAKE.read(child, case, mode, deadline)
        }
        fn merges_cases(&self) -> bool {
            true
        }
        fn read_merged(&self, child: &mut Process, cases: &[&Case], deadline: Instant) -> Result<Vec<Outcome>, Fault> {
            cases.iter().map(|case| FAKE.read(child, case, TraceMode::Off, deadline)).collect()
        }
        fn install_hint(&self) -> String {
            "a test fake".to_owned()
        }
    }

    impl Tool for Fake {
        fn id(&self) -> &'static str {
            "fake"
        }
        fn supports(&self, fork: Fork) -> bool {
            fork != Fork::Frontier
        }
        fn feed(&self) -> Feed {
            Feed::Batch
        }
        fn launch(&self, location: &Path, _: TraceMode) -> Launch {
            Launch::new(location, std::iter::empty::<&str>())
        }
        fn read(&self, child: &mut Process, case: &Case, _: TraceMode, deadline: Instant) -> Result<Outcome, Fault> {
            loop {
                let line = child.line(Stream::Stdout, deadline)?;
                if line == "noise" {
                    continue;
                }
                return match line.strip_prefix("root ") {
                    Some(name) if name == &*case.test => Ok(Outcome::root_only(keccak256(name), None)),
                    Some(_) => Err(Fault::Malformed { line, reason: "the answer of another case".to_owned() }),
                    None => Err(Fault::Malformed { line, reason: "expected `root NAME`".to_owned() }),
                };
            }
        }
        fn install_hint(&self) -> String {
            "a test fake".to_owned()
        }
    }

    /// The start of every fake: its version, a line in `starts` per start, and `name` read
    /// from a case file. Tests only: a shell script stands in for a tool (schism itself never
    /// starts a shell).
    const PROLOGUE: &str = r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "fake 1.0.0"; exit 0; fi
echo started >> "$(dirname "$0")/starts"
name_of() { sed -n 's/^{"\([A-Za-z0-9_]*\)".*/\1/p' "$1"; }
"#;

    /// The fake with `body` after [`PROLOGUE`], in `dir`, with a per-case `timeout`.
    fn fake(dir: &Path, body: &str, timeout: Duration) -> External {
        fake_of(&FAKE, dir, body, timeout)
    }

    /// `tool` run by a script of `body` after [`PROLOGUE`], in `dir`.
    fn fake_of(tool: &'static dyn Tool, dir: &Path, body: &str, timeout: Duration) -> External {
        use std::os::unix::fs::PermissionsExt;
        let program = dir.join("fake-tool");
        std::fs::write(&program, format!("{PROLOGUE}{body}")).expect("write the fake");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        External::new(tool, Settings { label: "fake".to_owned(), location: program, timeout: Some(timeout) }).expect("the fake starts")
    }

    /// add11 under each of `names` (a name `frontier…` is a Frontier case).
    fn cases(names: &[&str]) -> Vec<Case> {
        names
            .iter()
            .map(|name| {
                let mut case = crate::tools::add11();
                case.test = Arc::from(*name);
                if name.starts_with("frontier") {
                    case.fork = Fork::Frontier;
                }
                case
            })
            .collect()
    }

    /// Runs `cases` as one batch; the results in the order they came, with their positions.
    fn batch(client: &External, cases: &[Case]) -> Vec<(usize, Result<Outcome, ClientError>)> {
        let refs: Vec<&Case> = cases.iter().collect();
        let mut results = Vec::new();
        client.execute_batch(&refs, TraceMode::Off, &mut |i, r| results.push((i, r)));
        results
    }

    fn starts(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("starts")).map_or(0, |s| s.lines().count())
    }

    #[test]
    fn names_go_ahead_and_results_come_back_in_order() {
        // The fake answers a case only once the next case's name has arrived (or at `last`):
        // one case at a time, it would never answer.
        let dir = tempfile::tempdir().expect("tempdir");
        let body = r#"pending=""
while IFS= read -r f; do
  name=$(name_of "$f")
  [ -n "$pending" ] && echo "root $pending"
  if [ "$name" = last ]; then echo "root last"; pending=""; else pending=$name; fi
done
"#;
        let client = fake(dir.path(), body, Duration::from_secs(10));
        assert!(client.pipelines());
        let mut names: Vec<String> = (0..40).map(|i| format!("case{i}")).collect();
        names.push("last".to_owned());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = batch(&client, &cases(&names));
        assert_eq!(results.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..names.len()).collect::<Vec<_>>(), "every case once, in order");
        for ((_, result), name) in results.iter().zip(&names) {
            let outcome = result.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(outcome.state_root, keccak256(name), "{name}");
        }
        assert_eq!(starts(dir.path()), 1, "one child for the batch");
        // The child went back to the pool: a second batch starts none.
        let results = batch(&client, &cases(&["again", "last"]));
        assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
        assert_eq!(starts(dir.path()), 1);
        // Case files are rewritten for later cases: no more of them than were in flight.
        assert!(std::fs::read_dir(client.dir.path()).expect("case folder").count() <= WINDOW);
    }

    #[test]
    fn a_fault_mid_batch_is_its_own_case_s_and_the_rest_still_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body = r#"while IFS= read -r f; do
  name=$(name_of "$f")
  case "$name" in
    crash*) echo "panic: index out of range" >&2; kill -SEGV $$ ;;
    garbage*) echo "segfault at 0x0"; continue ;;
    quit*) exit 0 ;;
  esac
  echo "root $name"
done
"#;
        let client = fake(dir.path(), body, Duration::from_secs(10));
        let names = ["ok0", "ok1", "crash", "ok2", "frontier", "ok3", "garbage", "ok4", "ok5", "quit", "ok6"];
        let results = batch(&client, &cases(&names));
        assert_eq!(results.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..names.len()).collect::<Vec<_>>(), "every case once, in order");
        for ((_, result), name) in results.iter().zip(names) {
            match (name, result) {
                ("crash", Err(ClientError::Crashed { status, stderr_tail, .. })) => {
                    assert_eq!(status, "killed by signal 11");
                    assert!(stderr_tail.contains("index out of range"), "{stderr_tail}");
                }
                ("frontier", Err(ClientError::UnsupportedFork { fork: Fork::Frontier, .. })) => {}
                ("garbage", Err(ClientError::MalformedOutput { line, .. })) => assert_eq!(line, "segfault at 0x0"),
                ("quit", Err(ClientError::Crashed { status, .. })) => assert_eq!(status, "exit code 0"),
                (_, Ok(outcome)) if name.starts_with("ok") => assert_eq!(outcome.state_root, keccak256(name), "{name}"),
                (_, other) => panic!("{name}: {other:?}"),
            }
        }
        // The first child, then one after each of the three faults.
        assert_eq!(starts(dir.path()), 4);
    }

    #[test]
    fn a_hang_mid_batch_times_out_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body = r#"while IFS= read -r f; do
  name=$(name_of "$f")
  case "$name" in hang*) sleep 30 ;; esac
  echo "root $name"
done
"#;
        let timeout = Duration::from_millis(500);
        let client = fake(dir.path(), body, timeout);
        let names = ["ok0", "ok1", "hang", "ok2", "ok3"];
        let started = Instant::now();
        let results = batch(&client, &cases(&names));
        assert!(started.elapsed() < Duration::from_secs(20), "the hang was not cut at its deadline");
        assert_eq!(results.len(), names.len());
        for ((_, result), name) in results.iter().zip(names) {
            match result {
                Err(ClientError::Timeout { after, .. }) if name == "hang" => assert_eq!(*after, timeout),
                Ok(outcome) if name != "hang" => assert_eq!(outcome.state_root, keccak256(name)),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(starts(dir.path()), 2, "a fresh child after the hang");
    }

    #[test]
    fn a_loud_child_cannot_block_the_names_sent_ahead() {
        // Each case prints far more than a pipe holds before its answer: while the child waits
        // for its output to be read, the names sent ahead must still fit in its input.
        let dir = tempfile::tempdir().expect("tempdir");
        let body = r#"while IFS= read -r f; do
  name=$(name_of "$f")
  i=0; while [ $i -lt 20000 ]; do echo noise; i=$((i+1)); done
  echo "root $name"
done
"#;
        let client = fake(dir.path(), body, Duration::from_secs(60));
        let names: Vec<String> = (0..24).map(|i| format!("loud{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = batch(&client, &cases(&names));
        for ((_, result), name) in results.iter().zip(&names) {
            assert_eq!(result.as_ref().map(|o| o.state_root).map_err(ToString::to_string), Ok(keccak256(name)), "{name}");
        }
    }

    /// One test's `n` cases (add11 under `name`, sharing its pre-state), Cancun and Prague in
    /// turn.
    fn one_test(name: &str, n: usize) -> Vec<Case> {
        let mut case = crate::tools::add11();
        case.test = Arc::from(name);
        (0..n)
            .map(|i| {
                let mut c = case.clone();
                c.fork = if i % 2 == 0 { Fork::Cancun } else { Fork::Prague };
                c
            })
            .collect()
    }

    #[test]
    fn the_cases_of_one_test_share_a_file() {
        // Answers once per post entry of each file; counts the files in `files`.
        let dir = tempfile::tempdir().expect("tempdir");
        let body = r#"while IFS= read -r f; do
  echo file >> "$(dirname "$0")/files"
  name=$(name_of "$f")
  n=$(grep -o '"indexes"' "$f" | wc -l)
  i=0; while [ $i -lt $n ]; do echo "root $name"; i=$((i+1)); done
done
"#;
        let client = fake_of(&MERGING, dir.path(), body, Duration::from_secs(10));
        let mut all = one_test("alpha", 5);
        all.extend(cases(&["solo"]));
        all.extend(one_test("beta", 3));
        let results = batch(&client, &all);
        assert_eq!(results.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..9).collect::<Vec<_>>(), "every case once, in order");
        for ((_, result), case) in results.iter().zip(&all) {
            assert_eq!(result.as_ref().map(|o| o.state_root).map_err(ToString::to_string), Ok(keccak256(&*case.test)));
        }
        let files = std::fs::read_to_string(dir.path().join("files")).map_or(0, |s| s.lines().count());
        assert_eq!(files, 3, "alpha's five, solo, beta's three");
        // Traced, every case has its own file.
        let refs: Vec<&Case> = all.iter().collect();
        client.execute_batch(&refs, TraceMode::Steps, &mut |_, r| assert!(r.is_ok()));
        let files = std::fs::read_to_string(dir.path().join("files")).map_or(0, |s| s.lines().count());
        assert_eq!(files, 3 + 9);
    }

    #[test]
    fn a_fault_in_a_shared_file_lands_on_its_own_case() {
        // Dies on a file of several entries; answers a single one, but crashes on `bad`.
        let dir = tempfile::tempdir().expect("tempdir");
        let body = r#"while IFS= read -r f; do
  name=$(name_of "$f")
  n=$(grep -o '"indexes"' "$f" | wc -l)
  [ "$n" -gt 1 ] && exit 3
  [ "$name" = bad ] && exit 4
  echo "root $name"
done
"#;
        let client = fake_of(&MERGING, dir.path(), body, Duration::from_secs(10));
        let mut all = one_test("alpha", 4);
        all.extend(cases(&["bad"]));
        all.extend(one_test("beta", 2));
        let results = batch(&client, &all);
        assert_eq!(results.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..7).collect::<Vec<_>>());
        for ((_, result), case) in results.iter().zip(&all) {
            if &*case.test == "bad" {
                assert!(matches!(result, Err(ClientError::Crashed { .. })), "{result:?}");
            } else {
                assert_eq!(result.as_ref().map(|o| o.state_root).map_err(ToString::to_string), Ok(keccak256(&*case.test)));
            }
        }
    }
}
