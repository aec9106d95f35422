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

/// One case of a batch, from its file being written until its result is handed on.
struct Slot {
    /// Its position in the batch.
    index: usize,
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
                let case = cases[next];
                queue.push_back(Slot { index: next, file: self.admit(case).and_then(|()| self.write_case(case)), sent: None });
                next += 1;
            }
            if stalled.is_none() {
                stalled = self.send_ahead(&mut child, &mut queue, mode).err();
            }
            let Some(slot) = queue.pop_front() else { break };
            let path = match slot.file {
                Ok(path) => path,
                Err(e) => {
                    done(slot.index, Err(e));
                    previous = Instant::now();
                    continue;
                }
            };
            let read = match (slot.sent, child.as_mut()) {
                (Some(sent), Some(live)) => {
                    let grace = if live.answered { Duration::ZERO } else { self.tool.startup_grace() };
                    live.process.start_case();
                    live.answered = true;
                    self.tool.read(&mut live.process, cases[slot.index], mode, sent.max(previous) + self.timeout + grace)
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
            done(slot.index, read.map_err(|f| self.error(f)));
            previous = Instant::now();
        }
        if let Some(live) = child {
            self.give_back(mode, live.process);
        }
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
        use std::os::unix::fs::PermissionsExt;
        let program = dir.join("fake-tool");
        std::fs::write(&program, format!("{PROLOGUE}{body}")).expect("write the fake");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        External::new(&FAKE, Settings { label: "fake".to_owned(), location: program, timeout: Some(timeout) }).expect("the fake starts")
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
}
