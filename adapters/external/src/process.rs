//! One child process: started without a shell, its output read line by line on background
//! threads, every read bounded by a deadline, and its end (exit or signal) turned into a fault
//! that carries the exit status and the tail of its standard error.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How many lines of standard error a fault report keeps.
const STDERR_TAIL_LINES: usize = 20;

/// How to start a child: program and arguments, never through a shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The program.
    pub program: PathBuf,
    /// Its arguments, passed as they are.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
}

impl Launch {
    /// A launch of `program` with `args`.
    pub fn new(program: impl Into<PathBuf>, args: impl IntoIterator<Item = impl Into<OsString>>) -> Launch {
        Launch { program: program.into(), args: args.into_iter().map(Into::into).collect(), env: Vec::new() }
    }

    /// The same launch with one more argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Launch {
        self.args.push(arg.into());
        self
    }

    /// The command line as text, for messages and reproduction commands.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Why a read from a child did not give a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The child could not be started.
    #[error("cannot start `{command}`: {reason}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        reason: String,
    },
    /// Nothing arrived before the deadline; the child has been killed.
    #[error("no answer after {0:?}")]
    Timeout(Duration),
    /// The child ended (its output closed).
    #[error("process ended ({status}); stderr: {stderr_tail}")]
    Ended {
        /// Exit status as the OS reports it.
        status: String,
        /// The last lines of its standard error.
        stderr_tail: String,
    },
    /// The child printed something that cannot be read.
    #[error("unreadable output `{line}`: {reason}")]
    Malformed {
        /// The offending line (or text).
        line: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The output could be read but says the tool failed on this case.
    #[error("{0}")]
    Tool(String),
}

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A running child with line-oriented, deadline-bounded reads.
pub struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Option<Receiver<String>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    launch: Launch,
}

impl Process {
    /// Starts `launch`. When `stderr_lines` is false, standard error is only kept as a tail for
    /// fault reports; when true its lines can also be read with [`Process::line`].
    pub fn spawn(launch: &Launch, stderr_lines: bool) -> Result<Process, Fault> {
        let mut command = Command::new(&launch.program);
        command.args(&launch.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in &launch.env {
            command.env(k, v);
        }
        let mut child = command.spawn().map_err(|e| Fault::Spawn { command: launch.display(), reason: e.to_string() })?;
        let stdin = child.stdin.take();
        let (out_tx, stdout) = channel();
        if let Some(out) = child.stdout.take() {
            pump(out, Some(out_tx), None);
        }
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = match child.stderr.take() {
            Some(err) if stderr_lines => {
                let (tx, rx) = channel();
                pump(err, Some(tx), Some(tail.clone()));
                Some(rx)
            }
            Some(err) => {
                pump(err, None, Some(tail.clone()));
                None
            }
            None => None,
        };
        Ok(Process { child, stdin, stdout, stderr, tail, launch: launch.clone() })
    }

    /// What this process was started as.
    pub fn launch(&self) -> &Launch {
        &self.launch
    }

    /// Writes one line to the child's standard input.
    pub fn send(&mut self, line: &str, deadline: Instant) -> Result<(), Fault> {
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|()| stdin.write_all(b"\n")).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("standard input is closed")),
        };
        written.map_err(|_| self.ended(deadline))
    }

    /// Closes the child's standard input (end of batch).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line of `stream`, waiting until `deadline`. On timeout the child is killed.
    pub fn line(&mut self, stream: Stream, deadline: Instant) -> Result<String, Fault> {
        let rx = match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => match &self.stderr {
                Some(rx) => rx,
                None => return Err(Fault::Tool("standard error is not read as output".to_owned())),
            },
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(Fault::Timeout(wait))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.ended(deadline)),
        }
    }

    /// The next complete JSON value on standard output, which may span several lines (a
    /// pretty-printed array). Lines before the value that are not JSON are skipped when
    /// `skip_noise`, else they are a [`Fault::Malformed`].
    pub fn json_value(&mut self, deadline: Instant, skip_noise: bool) -> Result<serde_json::Value, Fault> {
        let mut text = String::new();
        loop {
            let line = self.line(Stream::Stdout, deadline)?;
            if text.is_empty() && !line.trim_start().starts_with(['[', '{', 'n']) {
                if skip_noise || line.trim().is_empty() {
                    continue;
                }
                return Err(Fault::Malformed { line, reason: "expected JSON".to_owned() });
            }
            text.push_str(&line);
            text.push('\n');
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => return Ok(v),
                Err(e) if e.is_eof() => continue,
                Err(e) => return Err(Fault::Malformed { line: clip(&text), reason: e.to_string() }),
            }
        }
    }

    /// Waits until the child exits (after its standard input closed), up to `deadline`, and
    /// returns the exit status.
    pub fn wait(&mut self, deadline: Instant) -> Result<std::process::ExitStatus, Fault> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
                Ok(None) => {
                    self.kill();
                    return Err(Fault::Timeout(Duration::ZERO));
                }
                Err(e) => return Err(Fault::Tool(format!("cannot wait for the process: {e}"))),
            }
        }
    }

    /// The last lines of standard error.
    pub fn stderr_tail(&self) -> String {
        self.tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default()
    }

    /// The last lines of standard error of a child that has exited, once the pump has passed
    /// them on.
    pub fn final_stderr_tail(&self) -> String {
        thread::sleep(Duration::from_millis(20));
        self.stderr_tail()
    }

    /// Kills the child (idempotent).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The fault for a child whose output closed: its exit status once it has exited (waiting
    /// briefly, so the status and the last stderr lines are in), and its stderr tail.
    fn ended(&mut self, deadline: Instant) -> Fault {
        let grace = Instant::now() + Duration::from_millis(500);
        let status = match self.wait(grace.min(deadline.max(Instant::now() + Duration::from_millis(50)))) {
            Ok(s) => describe(s),
            Err(_) => "still running with its output closed; killed".to_owned(),
        };
        // The stderr pump may still be flushing the last lines.
        thread::sleep(Duration::from_millis(5));
        Fault::Ended { status, stderr_tail: self.stderr_tail() }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.close_stdin();
        self.kill();
    }
}

/// An exit status in words: the code, or the signal that ended the process.
pub fn describe(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}

/// Reads `source` line by line on a thread, sending lines to `to` and keeping a tail.
fn pump(source: impl std::io::Read + Send + 'static, to: Option<Sender<String>>, tail: Option<Arc<Mutex<VecDeque<String>>>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_owned();
            if let Some(tail) = &tail
                && let Ok(mut t) = tail.lock()
            {
                if t.len() == STDERR_TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(clip(&line));
            }
            if let Some(to) = &to
                && to.send(line).is_err()
            {
                return;
            }
        }
    });
}

/// At most 300 characters of `text`, for messages.
pub fn clip(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Launch {
        // Tests only: a shell to script a misbehaving child. The machinery itself never uses one.
        Launch::new("/bin/sh", ["-c", script])
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn reads_lines_and_multi_line_json() {
        let mut p = Process::spawn(&sh("read x; echo \"got $x\"; printf '[\\n  {\"a\": 1}\\n]\\n'"), false).expect("spawn");
        p.send("hello", soon()).expect("send");
        assert_eq!(p.line(Stream::Stdout, soon()).expect("line"), "got hello");
        assert_eq!(p.json_value(soon(), false).expect("json"), serde_json::json!([{"a": 1}]));
    }

    #[test]
    fn a_crash_carries_status_and_stderr_tail() {
        let mut p = Process::spawn(&sh("echo oops >&2; exit 3"), false).expect("spawn");
        match p.line(Stream::Stdout, soon()) {
            Err(Fault::Ended { status, stderr_tail }) => {
                assert_eq!(status, "exit code 3");
                assert_eq!(stderr_tail, "oops");
            }
            other => panic!("expected a crash, got {other:?}"),
        }
        let mut p = Process::spawn(&sh("kill -9 $$"), false).expect("spawn");
        assert!(matches!(p.line(Stream::Stdout, soon()), Err(Fault::Ended { status, .. }) if status == "killed by signal 9"));
    }

    #[test]
    fn a_hang_times_out_and_is_killed() {
        let mut p = Process::spawn(&sh("sleep 30"), false).expect("spawn");
        let started = Instant::now();
        assert!(matches!(p.line(Stream::Stdout, Instant::now() + Duration::from_millis(200)), Err(Fault::Timeout(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(p.child.try_wait().expect("status").is_some(), "killed");
    }

    #[test]
    fn garbage_is_malformed_with_the_line() {
        let mut p = Process::spawn(&sh("echo 'segfault at 0x0'"), false).expect("spawn");
        assert!(matches!(p.json_value(soon(), false), Err(Fault::Malformed { line, .. }) if line == "segfault at 0x0"));
        let mut p = Process::spawn(&sh("echo '{\"a\": tru'; echo 'e}x'"), false).expect("spawn");
        assert!(matches!(p.json_value(soon(), false), Err(Fault::Malformed { .. })));
    }

    #[test]
    fn arguments_reach_the_program_verbatim() {
        // No shell: a path with spaces and metacharacters is one argument.
        let mut p = Process::spawn(&Launch::new("/bin/echo", ["a b; rm -rf / $(x)"]), false).expect("spawn");
        assert_eq!(p.line(Stream::Stdout, soon()).expect("line"), "a b; rm -rf / $(x)");
    }
}
