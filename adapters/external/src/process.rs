//! One child process: started without a shell in a process group of its own, its output read
//! line by line on background threads, every read bounded by a deadline that no amount of
//! output extends and by caps on line length, queued lines and output per case, and its end
//! (exit or signal) turned into a fault that carries the exit status and the tail of its
//! standard error. A timeout, a fault and dropping the process kill the whole group, so a
//! wrapper script's children go with it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How many lines of standard error a fault report keeps.
const STDERR_TAIL_LINES: usize = 20;

/// The longest line read from a child; a longer one is an `output_too_large` fault. EIP-3155
/// step lines with a full stack stay far below it.
pub const MAX_LINE: usize = 4 << 20;

/// Batches of lines queued per stream before the reader thread waits for them to be taken (the
/// child then blocks on its pipe). A batch is the lines one read of the pipe brought in (at most
/// the reader's buffer, and at most one line that took several reads), so queued output is
/// bounded by about this times [`MAX_LINE`].
const QUEUED_BATCHES: usize = 64;

/// The most output one case may produce (every line read since the case was sent); beyond it
/// the child is killed and the case is an `output_too_large` fault.
pub const MAX_CASE_OUTPUT: usize = 256 << 20;

/// One piece read from a stream.
enum Piece {
    /// Whole lines, without their ends: those that one read of the pipe completed, sent
    /// together so that the reader wakes once per write of the child rather than once per line.
    Lines(Vec<String>),
    /// A line longer than [`MAX_LINE`], cut.
    TooLong,
}

/// The lines of one stream: those the reader thread sent, and those of its last batch not yet
/// taken.
struct Lines {
    rx: Receiver<Piece>,
    queued: VecDeque<String>,
}

/// What waiting for a line gave.
enum Next {
    Line(String),
    TooLong,
    Timeout,
    Ended,
}

impl Lines {
    fn new(rx: Receiver<Piece>) -> Lines {
        Lines { rx, queued: VecDeque::new() }
    }

    /// The next line, waiting until `deadline` when none is queued.
    fn next(&mut self, deadline: Instant) -> Next {
        loop {
            if let Some(line) = self.queued.pop_front() {
                return Next::Line(line);
            }
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Piece::Lines(lines)) => self.queued.extend(lines),
                Ok(Piece::TooLong) => return Next::TooLong,
                Err(RecvTimeoutError::Timeout) => return Next::Timeout,
                Err(RecvTimeoutError::Disconnected) => return Next::Ended,
            }
        }
    }

    /// Drops what is queued and what the reader thread has sent.
    fn discard(&mut self) {
        self.queued.clear();
        while self.rx.try_recv().is_ok() {}
    }
}

/// How to start a child: program and arguments, never through a shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The program.
    pub program: PathBuf,
    /// Its arguments, passed as they are.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory, when not the caller's (for tools that write files into it).
    pub dir: Option<PathBuf>,
}

impl Launch {
    /// A launch of `program` with `args`.
    pub fn new(program: impl Into<PathBuf>, args: impl IntoIterator<Item = impl Into<OsString>>) -> Launch {
        Launch { program: program.into(), args: args.into_iter().map(Into::into).collect(), env: Vec::new(), dir: None }
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
    /// The child printed more than a line or a case may hold; it has been killed.
    #[error("output too large: {what} over {limit} bytes")]
    TooLarge {
        /// A line, or the output of one case.
        what: &'static str,
        /// The cap in bytes.
        limit: usize,
    },
}

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How long [`spawn_retrying`] keeps retrying an executable that is busy.
const BUSY_RETRY: Duration = Duration::from_secs(2);

/// Spawns `command`, retrying while the executable is busy (ETXTBSY). A file written just before
/// (an install, a generated wrapper) can still be open for writing in a child that another thread
/// forked meanwhile and has not yet exec'd; that lasts microseconds, so a short retry is enough.
fn spawn_retrying(command: &mut Command) -> std::io::Result<Child> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && started.elapsed() < BUSY_RETRY => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// A running child with line-oriented, deadline-bounded reads.
pub struct Process {
    /// The child; `None` for a [`Process::replay`] of output already printed.
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Lines,
    stderr: Option<Lines>,
    tail: Arc<Mutex<VecDeque<String>>>,
    launch: Launch,
    /// Bytes read since the current case was sent.
    read: usize,
}

impl Process {
    /// Starts `launch`. When `stderr_lines` is false, standard error is only kept as a tail for
    /// fault reports; when true its lines can also be read with [`Process::line`].
    pub fn spawn(launch: &Launch, stderr_lines: bool) -> Result<Process, Fault> {
        let mut command = Command::new(&launch.program);
        command.args(&launch.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // A group of its own: a timeout kills what the child started too.
        command.process_group(0);
        for (k, v) in &launch.env {
            command.env(k, v);
        }
        if let Some(dir) = &launch.dir {
            command.current_dir(dir);
        }
        let mut child = spawn_retrying(&mut command).map_err(|e| Fault::Spawn { command: launch.display(), reason: e.to_string() })?;
        let stdin = child.stdin.take();
        let (out_tx, stdout) = sync_channel(QUEUED_BATCHES);
        if let Some(out) = child.stdout.take() {
            pump(out, Some(out_tx), None);
        }
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = match child.stderr.take() {
            Some(err) if stderr_lines => {
                let (tx, rx) = sync_channel(QUEUED_BATCHES);
                pump(err, Some(tx), Some(tail.clone()));
                Some(rx)
            }
            Some(err) => {
                pump(err, None, Some(tail.clone()));
                None
            }
            None => None,
        };
        Ok(Process {
            child: Some(child),
            stdin,
            stdout: Lines::new(stdout),
            stderr: stderr.map(Lines::new),
            tail,
            launch: launch.clone(),
            read: 0,
        })
    }

    /// A process that has printed `stdout` and `stderr` and exited with status 0, read by the
    /// same bounded machinery as a live child: tool readers run on recorded or generated output
    /// without starting anything (the cargo-fuzz targets of the output readers). When
    /// `stderr_lines` is false, standard error is only kept as a tail, as in [`Process::spawn`].
    pub fn replay(stdout: Vec<u8>, stderr: Vec<u8>, stderr_lines: bool) -> Process {
        let (out_tx, stdout_rx) = sync_channel(QUEUED_BATCHES);
        pump(std::io::Cursor::new(stdout), Some(out_tx), None);
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_rx = if stderr_lines {
            let (tx, rx) = sync_channel(QUEUED_BATCHES);
            pump(std::io::Cursor::new(stderr), Some(tx), Some(tail.clone()));
            Some(rx)
        } else {
            pump(std::io::Cursor::new(stderr), None, Some(tail.clone()));
            None
        };
        let launch = Launch::new("replay", std::iter::empty::<OsString>());
        Process { child: None, stdin: None, stdout: Lines::new(stdout_rx), stderr: stderr_rx.map(Lines::new), tail, launch, read: 0 }
    }

    /// What this process was started as.
    pub fn launch(&self) -> &Launch {
        &self.launch
    }

    /// Writes one line to the child's standard input: a new case, whose output is counted
    /// against [`MAX_CASE_OUTPUT`] from here.
    pub fn send(&mut self, line: &str, deadline: Instant) -> Result<(), Fault> {
        self.start_case();
        self.send_ahead(line, deadline)
    }

    /// Writes one line to the child's standard input without starting a new case: a case
    /// queued behind the one whose output is being read. The caller bounds what it queues
    /// (see [`crate::pipeline`]): a write waits when the pipe is full.
    pub fn send_ahead(&mut self, line: &str, deadline: Instant) -> Result<(), Fault> {
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|()| stdin.write_all(b"\n")).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("standard input is closed")),
        };
        written.map_err(|_| self.ended(deadline))
    }

    /// Starts counting the output of a new case against [`MAX_CASE_OUTPUT`] (a case sent ahead
    /// whose output is read from here).
    pub fn start_case(&mut self) {
        self.read = 0;
    }

    /// Closes the child's standard input (end of batch).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line of `stream`, waiting until `deadline`. On timeout the child is killed;
    /// lines still queued do not extend the deadline.
    pub fn line(&mut self, stream: Stream, deadline: Instant) -> Result<String, Fault> {
        let now = Instant::now();
        if now >= deadline {
            self.kill();
            return Err(Fault::Timeout(Duration::ZERO));
        }
        let lines = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => match &mut self.stderr {
                Some(lines) => lines,
                None => return Err(Fault::Tool("standard error is not read as output".to_owned())),
            },
        };
        match lines.next(deadline) {
            Next::Line(line) => {
                self.read += line.len() + 1;
                if self.read > MAX_CASE_OUTPUT {
                    self.kill();
                    return Err(Fault::TooLarge { what: "the output of one case", limit: MAX_CASE_OUTPUT });
                }
                Ok(line)
            }
            Next::TooLong => {
                self.kill();
                Err(Fault::TooLarge { what: "a line", limit: MAX_LINE })
            }
            Next::Timeout => {
                self.kill();
                Err(Fault::Timeout(deadline.saturating_duration_since(now)))
            }
            Next::Ended => Err(self.ended(deadline)),
        }
    }

    /// The next complete JSON value on standard output, which may span several lines (a
    /// pretty-printed array). Lines before the value that are not JSON are skipped when
    /// `skip_noise`, else they are a [`Fault::Malformed`]. The value is parsed once, when its
    /// brackets close (tracked line by line), so a long array costs linear time.
    pub fn json_value(&mut self, deadline: Instant, skip_noise: bool) -> Result<serde_json::Value, Fault> {
        let mut text = String::new();
        let mut depth = Depth::default();
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
            depth.scan(&line);
            if !depth.closed() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => return Ok(v),
                Err(e) if e.is_eof() => continue,
                Err(e) => return Err(Fault::Malformed { line: clip(&text), reason: e.to_string() }),
            }
        }
    }

    /// Reads the child to its end (standard output and standard error, up to `deadline`) and
    /// waits for its exit: for short commands such as a version probe.
    pub fn finish(&mut self, deadline: Instant) -> Result<(String, std::process::ExitStatus), Fault> {
        self.close_stdin();
        let mut out = String::new();
        loop {
            match self.line(Stream::Stdout, deadline) {
                Ok(line) => {
                    out.push_str(&line);
                    out.push('\n');
                }
                Err(Fault::Ended { .. }) => break,
                Err(other) => return Err(other),
            }
        }
        let status = self.wait(deadline)?;
        Ok((out, status))
    }

    /// Waits until the child exits (after its standard input closed), up to `deadline`, and
    /// returns the exit status.
    pub fn wait(&mut self, deadline: Instant) -> Result<std::process::ExitStatus, Fault> {
        loop {
            let Some(child) = self.child.as_mut() else {
                // A replay has exited, successfully.
                use std::os::unix::process::ExitStatusExt;
                return Ok(std::process::ExitStatus::from_raw(0));
            };
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    // Output nobody asked for is taken off the pipe, so the child is not held
                    // up writing it.
                    self.stdout.discard();
                    thread::sleep(Duration::from_millis(2));
                }
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
        // A replay's pump has nothing more to flush than it has read.
        if self.child.is_some() {
            thread::sleep(Duration::from_millis(20));
        }
        self.stderr_tail()
    }

    /// Kills the child and every process of its group (idempotent).
    pub fn kill(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
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
        if self.child.is_some() {
            thread::sleep(Duration::from_millis(5));
        }
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

/// Where a JSON text stands: bracket depth outside strings. Scanned line by line.
#[derive(Default)]
struct Depth {
    depth: usize,
    opened: bool,
    in_string: bool,
    escaped: bool,
}

impl Depth {
    fn scan(&mut self, line: &str) {
        for b in line.bytes() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    self.opened = true;
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        // A string cannot span lines in JSON that a tool prints line by line.
        self.in_string = false;
        self.escaped = false;
    }

    /// True when a value may be complete: its brackets closed, or a bare literal (`null`).
    fn closed(&self) -> bool {
        self.depth == 0
    }
}

/// Reads `source` line by line on a thread, sending lines to `to` (waiting while
/// [`QUEUED_BATCHES`] are queued) and keeping a tail. The lines a read of the pipe completed go
/// out together, before the next read, which may wait for the child: a line is never held back
/// while the child is silent. A line longer than [`MAX_LINE`] is sent as [`Piece::TooLong`] and
/// the reader stops: the child is about to be killed.
fn pump(source: impl std::io::Read + Send + 'static, to: Option<SyncSender<Piece>>, tail: Option<Arc<Mutex<VecDeque<String>>>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut buf = Vec::new();
        let mut batch: Vec<String> = Vec::new();
        // False when nobody takes the lines any more.
        let flush = |batch: &mut Vec<String>| match &to {
            Some(to) if !batch.is_empty() => to.send(Piece::Lines(std::mem::take(batch))).is_ok(),
            _ => true,
        };
        loop {
            buf.clear();
            let mut too_long = false;
            // read_until with a cap: a line is taken in chunks of what the buffer holds.
            loop {
                if reader.buffer().is_empty() && !flush(&mut batch) {
                    return;
                }
                let available = match reader.fill_buf() {
                    Ok(b) => b,
                    Err(_) => return,
                };
                if available.is_empty() {
                    if buf.is_empty() {
                        return;
                    }
                    break;
                }
                let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                    Some(i) => (&available[..=i], true),
                    None => (available, false),
                };
                let n = chunk.len();
                if buf.len() + n > MAX_LINE {
                    too_long = true;
                } else {
                    buf.extend_from_slice(chunk);
                }
                reader.consume(n);
                if done || too_long {
                    break;
                }
            }
            if too_long {
                if let Some(to) = &to {
                    if flush(&mut batch) {
                        let _ = to.send(Piece::TooLong);
                    }
                    return;
                }
                // A stream kept only as a tail: the long line is skipped.
                continue;
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
            if to.is_some() {
                batch.push(line);
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
    fn an_executable_still_open_for_writing_is_started_once_it_is_closed() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tool");
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o755).open(&path).expect("create");
        file.write_all(b"#!/bin/sh\necho started\n").expect("write");
        // While the handle is open, exec gives ETXTBSY; the spawn retries until it is closed.
        let closer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            drop(file);
        });
        let mut p = Process::spawn(&Launch::new(&path, Vec::<String>::new()), false).expect("spawn once closed");
        assert_eq!(p.line(Stream::Stdout, soon()).expect("line"), "started");
        closer.join().expect("closer");
    }

    #[test]
    fn reads_lines_and_multi_line_json() {
        let mut p = Process::spawn(&sh("read x; echo \"got $x\"; printf '[\\n  {\"a\": 1}\\n]\\n'"), false).expect("spawn");
        p.send("hello", soon()).expect("send");
        assert_eq!(p.line(Stream::Stdout, soon()).expect("line"), "got hello");
        assert_eq!(p.json_value(soon(), false).expect("json"), serde_json::json!([{"a": 1}]));
    }

    #[test]
    fn lines_written_together_arrive_in_order_and_none_waits_for_more_output() {
        // Many lines in one write come in one batch; the child then stays silent, and the lines
        // it did print are all there before the deadline.
        let mut p =
            Process::spawn(&sh("i=0; while [ $i -lt 500 ]; do echo \"line $i\"; i=$((i+1)); done | cat; sleep 30"), false).expect("spawn");
        for i in 0..500 {
            assert_eq!(p.line(Stream::Stdout, soon()).expect("line"), format!("line {i}"));
        }
        let started = Instant::now();
        assert!(matches!(p.line(Stream::Stdout, Instant::now() + Duration::from_millis(200)), Err(Fault::Timeout(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
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
        assert!(p.child.as_mut().expect("a child").try_wait().expect("status").is_some(), "killed");
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

    #[test]
    fn a_line_that_never_ends_is_too_large_not_a_memory_hog() {
        // One endless line of `y`s: cut at MAX_LINE, the child killed.
        let mut p = Process::spawn(&sh("tr -d '\\n' < /dev/zero | tr '\\0' y"), false).expect("spawn");
        let started = Instant::now();
        assert!(matches!(p.line(Stream::Stdout, soon()), Err(Fault::TooLarge { what: "a line", .. })));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn noise_cannot_extend_the_deadline() {
        // Endless short noise lines: a reader that skips noise still stops at its deadline.
        let mut p = Process::spawn(&sh("yes garbage"), false).expect("spawn");
        let started = Instant::now();
        let r = p.json_value(Instant::now() + Duration::from_millis(300), true);
        assert!(matches!(r, Err(Fault::Timeout(_)) | Err(Fault::TooLarge { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn a_long_json_array_parses_in_linear_time() {
        let script = "echo '['; i=0; while [ $i -lt 40000 ]; do echo '  {\"a\": 1},'; i=$((i+1)); done; echo '  {\"a\": 2}'; echo ']'";
        let mut p = Process::spawn(&sh(script), false).expect("spawn");
        let started = Instant::now();
        let v = p.json_value(Instant::now() + Duration::from_secs(30), false).expect("json");
        assert_eq!(v.as_array().map(Vec::len), Some(40_001));
        // Quadratic re-parsing took 20 s for this; a linear read takes well under a second of
        // parsing (the shell loop printing it dominates).
        assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    }

    #[test]
    fn a_timeout_kills_the_grandchildren_too() {
        // A wrapper whose child keeps the pipe open: killing only the wrapper would leave it.
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("alive");
        let script = format!("(while true; do touch {}; sleep 0.05; done) & wait", marker.display());
        let mut p = Process::spawn(&sh(&script), false).expect("spawn");
        assert!(matches!(p.line(Stream::Stdout, Instant::now() + Duration::from_millis(300)), Err(Fault::Timeout(_))));
        std::thread::sleep(Duration::from_millis(200));
        let _ = std::fs::remove_file(&marker);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!marker.exists(), "the grandchild survived the timeout");
    }

    #[test]
    fn a_short_command_finishes_within_its_deadline() {
        let mut p = Process::spawn(&sh("echo v1.2.3; echo note >&2"), false).expect("spawn");
        let (out, status) = p.finish(soon()).expect("finishes");
        assert!(status.success() && out.contains("v1.2.3"));
        let mut p = Process::spawn(&sh("sleep 30"), false).expect("spawn");
        let started = Instant::now();
        assert!(matches!(p.finish(Instant::now() + Duration::from_millis(300)), Err(Fault::Timeout(_))));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_replay_reads_like_a_child_that_exited() {
        let mut p = Process::replay(b"[\n {\"a\": 1}\n]\nrest\n".to_vec(), b"err line\n".to_vec(), true);
        assert_eq!(p.json_value(soon(), false).expect("json"), serde_json::json!([{"a": 1}]));
        assert_eq!(p.line(Stream::Stdout, soon()).expect("line"), "rest");
        assert_eq!(p.line(Stream::Stderr, soon()).expect("line"), "err line");
        assert!(matches!(p.line(Stream::Stdout, soon()), Err(Fault::Ended { status, .. }) if status == "exit code 0"));
        assert!(p.wait(soon()).expect("exited").success());
        // The caps hold as for a child: a line over MAX_LINE is too large.
        let mut p = Process::replay(vec![b'y'; MAX_LINE + 1], Vec::new(), false);
        assert!(matches!(p.line(Stream::Stdout, soon()), Err(Fault::TooLarge { what: "a line", .. })));
    }
}
