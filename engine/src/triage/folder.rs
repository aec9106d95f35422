//! Filed folders on disk: `<crashes>/<signature>/` with `case.json`, `original.json`,
//! `report.md`, `report.json` and `traces/<client>.jsonl`.
//!
//! A folder is built aside (`.staging-<signature>-<pid>-<n>/`) and renamed into place, so a
//! killed farm never leaves half a folder; staging folders of processes that are gone are
//! removed by the next filing. A second finding of a filed signature bumps `count` and
//! `last_seen` in `report.json` (written atomically, under a lock shared by every job).

use super::TriageError;
use super::report::{Report, Seen, now};
use schism_interface::load::{FixtureFile, expand_file, read_fixture};
use schism_interface::{Case, Trace};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where the root marks the findings of other nodes it has filed: `.nodes/<node>/<signature>`.
const CARRIED_MARKS: &str = ".nodes";

/// Slows the writing of a staged folder by this many milliseconds per file (a testing aid: it
/// widens the window in which a test kills a farm in the middle of filing).
pub const DELAY_ENV: &str = "SCHISM_FILING_DELAY_MS";

/// What filing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filed {
    /// A new folder.
    New(PathBuf),
    /// The signature was filed already; its count is now this.
    Again(PathBuf, u64),
    /// Not filed: a documented known difference of the odd client out covers the minimised
    /// case.
    Known {
        /// The client's label.
        client: String,
        /// The known difference's id.
        known: &'static str,
    },
}

/// The contents of a folder to file.
pub struct Folder<'a> {
    /// The report.
    pub report: &'a Report,
    /// `report.md`.
    pub markdown: String,
    /// The minimised case as a fixture, with its expectation (`case.json`).
    pub case: String,
    /// The case as found (`original.json`).
    pub original: String,
    /// Each client's trace of the minimised case (of its divergent transaction).
    pub traces: Vec<(String, &'a Trace)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TriageError + '_ {
    move |source| TriageError::Io { path: path.to_path_buf(), source }
}

/// The state-test JSON of a case, named `schism/<name>`, with a comment.
pub fn state_test_json(case: &Case, name: &str, info: serde_json::Value) -> Result<String, TriageError> {
    let mut test = case.to_state_test();
    test.info = Some(info);
    let file = BTreeMap::from([(format!("schism/{name}"), test)]);
    serde_json::to_string_pretty(&file).map_err(|e| TriageError::Encode(e.to_string()))
}

/// Holds the crashes folder's lock while alive.
struct Lock(File);

impl Lock {
    fn take(crashes: &Path) -> Result<Lock, TriageError> {
        let path = crashes.join(".lock");
        let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        Ok(Lock(file))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// True when a folder of this signature is filed.
pub fn is_filed(crashes: &Path, signature: &str) -> bool {
    crashes.join(signature).join("report.json").is_file()
}

/// Counts one more finding of a filed signature, seen as `seen` says (its fork and client
/// versions): `count` + 1, `last_seen` now, and the count of that fork and those versions in
/// `seen`. `None` when the signature is not filed.
pub fn record_again(crashes: &Path, signature: &str, seen: &Seen) -> Result<Option<u64>, TriageError> {
    if !is_filed(crashes, signature) {
        return Ok(None);
    }
    let _lock = Lock::take(crashes)?;
    bump(&crashes.join(signature), seen).map(Some)
}

fn bump(folder: &Path, seen: &Seen) -> Result<u64, TriageError> {
    let path = folder.join("report.json");
    let text = std::fs::read(&path).map_err(io(&path))?;
    let mut report: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| TriageError::Folder { path: path.clone(), reason: e.to_string() })?;
    let count = report.get("count").and_then(serde_json::Value::as_u64).unwrap_or(1) + 1;
    report["count"] = count.into();
    report["last_seen"] = now().into();
    // The report is edited as JSON, so that a folder of an older schism is counted too.
    let mut list: Vec<Seen> = report.get("seen").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    match list.iter_mut().find(|s| s.fork == seen.fork && s.clients == seen.clients) {
        Some(entry) => entry.count += 1,
        None => list.push(seen.clone()),
    }
    report["seen"] = serde_json::to_value(&list).map_err(|e| TriageError::Encode(e.to_string()))?;
    let text = serde_json::to_vec_pretty(&report).map_err(|e| TriageError::Encode(e.to_string()))?;
    crate::atomic::write(&path, &text).map_err(io(&path))?;
    Ok(count)
}

/// Files a folder: builds it aside, then renames it into place; when another job filed the
/// same signature meanwhile, counts this finding on that folder instead.
pub fn file(crashes: &Path, folder: &Folder<'_>) -> Result<Filed, TriageError> {
    std::fs::create_dir_all(crashes).map_err(io(crashes))?;
    remove_stale_staging(crashes);
    let id = &folder.report.signature;
    let target = crashes.join(id);
    let seen = folder.report.seen.first().cloned().unwrap_or(Seen { fork: folder.report.fork.clone(), clients: Vec::new(), count: 1 });
    if let Some(count) = record_again(crashes, id, &seen)? {
        return Ok(Filed::Again(target, count));
    }
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let staging = crashes.join(format!(".staging-{id}-{}-{serial}", std::process::id()));
    let written = write_folder(&staging, folder);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let _lock = Lock::take(crashes)?;
    if is_filed(crashes, id) {
        let _ = std::fs::remove_dir_all(&staging);
        let count = bump(&target, &seen)?;
        return Ok(Filed::Again(target, count));
    }
    // A folder without report.json is a leftover of an older schism or of a hand edit: it is
    // set aside rather than merged.
    if target.exists() {
        let aside = crashes.join(format!(".replaced-{id}-{}", std::process::id()));
        std::fs::rename(&target, &aside).map_err(io(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(io(&target))?;
    Ok(Filed::New(target))
}

/// A finding filed on another node of a farm across machines, as it travels to the root: the
/// text files of its folder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Carried {
    /// The node that filed it (its `--node-name`).
    pub node: String,
    /// The folder's name (the signature's short id).
    pub signature: String,
    /// Each file: its path inside the folder (`report.json`, `traces/revm.jsonl`) and its text.
    pub files: Vec<(String, String)>,
}

impl Carried {
    /// Reads a filed folder: its text files, traces last and left out once the files reach
    /// `limit` bytes in all (the report and the case always go).
    pub fn read(node: &str, folder: &Path, limit: usize) -> Result<Carried, TriageError> {
        let signature = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut files = Vec::new();
        let mut size = 0usize;
        for name in ["report.json", "case.json", "original.json", "report.md"] {
            let path = folder.join(name);
            if let Ok(text) = std::fs::read_to_string(&path) {
                size += text.len();
                files.push((name.to_owned(), text));
            }
        }
        if !files.iter().any(|(name, _)| name == "report.json") {
            return Err(TriageError::Folder { path: folder.join("report.json"), reason: "missing".into() });
        }
        let traces = folder.join("traces");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&traces).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        names.sort();
        for path in names {
            let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            if size + text.len() > limit {
                break;
            }
            size += text.len();
            files.push((format!("traces/{name}"), text));
        }
        Ok(Carried { node: node.to_owned(), signature, files })
    }
}

/// A path inside a carried folder, when it is one schism writes: `NAME` or `traces/NAME`,
/// each part a safe file name. Anything else is left out: what another machine sends never
/// becomes a path outside the folder.
fn inside(relative: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = relative.split('/').collect();
    let safe = |part: &str| !part.is_empty() && file_name(part) == part;
    match parts.as_slice() {
        [name] if safe(name) => Some(PathBuf::from(name)),
        ["traces", name] if safe(name) => Some(Path::new("traces").join(name)),
        _ => None,
    }
}

/// Files a finding another node filed, at most once per node and signature (a node announces
/// its findings again after each reconnection and restart, so that none is lost in a dead link):
/// a new folder whose `report.json` names the node in `nodes`, or, when the signature is filed
/// already, the node added to `nodes` and the count bumped. `None`: this node's finding of
/// this signature was filed before.
pub fn file_carried(crashes: &Path, carried: &Carried) -> Result<Option<Filed>, TriageError> {
    let id = carried.signature.as_str();
    let bad =
        |reason: &str| TriageError::Folder { path: crashes.join(file_name(id)), reason: format!("from node {}: {reason}", carried.node) };
    if id.is_empty() || file_name(id) != id {
        return Err(bad("not a signature"));
    }
    let marks = crashes.join(CARRIED_MARKS).join(file_name(&carried.node));
    let mark = marks.join(id);
    if mark.exists() {
        return Ok(None);
    }
    std::fs::create_dir_all(&marks).map_err(io(&marks))?;
    remove_stale_staging(crashes);
    let report_text =
        carried.files.iter().find(|(name, _)| name == "report.json").map(|(_, text)| text.as_str()).ok_or_else(|| bad("no report.json"))?;
    let mut report: serde_json::Value = serde_json::from_str(report_text).map_err(|e| bad(&e.to_string()))?;
    let seen: Seen = report
        .get("seen")
        .and_then(|v| serde_json::from_value::<Vec<Seen>>(v.clone()).ok())
        .and_then(|list| list.into_iter().next())
        .unwrap_or(Seen {
            fork: report.get("fork").and_then(|f| f.as_str()).unwrap_or_default().to_owned(),
            clients: Vec::new(),
            count: 1,
        });
    add_node(&mut report, &carried.node);
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let staging = crashes.join(format!(".staging-{id}-{}-{serial}", std::process::id()));
    let written = (|| {
        std::fs::create_dir_all(staging.join("traces")).map_err(io(&staging))?;
        for (name, text) in &carried.files {
            let Some(relative) = inside(name) else { continue };
            if relative == Path::new("report.json") {
                continue;
            }
            let path = staging.join(relative);
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        let json = serde_json::to_vec_pretty(&report).map_err(|e| TriageError::Encode(e.to_string()))?;
        let path = staging.join("report.json");
        std::fs::write(&path, json).map_err(io(&path))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let target = crashes.join(id);
    let _lock = Lock::take(crashes)?;
    let filed = if is_filed(crashes, id) {
        let _ = std::fs::remove_dir_all(&staging);
        let count = bump(&target, &seen)?;
        let path = target.join("report.json");
        let text = std::fs::read(&path).map_err(io(&path))?;
        let mut report: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| TriageError::Folder { path: path.clone(), reason: e.to_string() })?;
        add_node(&mut report, &carried.node);
        let text = serde_json::to_vec_pretty(&report).map_err(|e| TriageError::Encode(e.to_string()))?;
        crate::atomic::write(&path, &text).map_err(io(&path))?;
        Filed::Again(target, count)
    } else {
        if target.exists() {
            let aside = crashes.join(format!(".replaced-{id}-{}", std::process::id()));
            std::fs::rename(&target, &aside).map_err(io(&target))?;
        }
        std::fs::rename(&staging, &target).map_err(io(&target))?;
        Filed::New(target)
    };
    std::fs::write(&mark, b"").map_err(io(&mark))?;
    Ok(Some(filed))
}

/// Adds a node to a report's `nodes`, once.
fn add_node(report: &mut serde_json::Value, node: &str) {
    let mut nodes: Vec<String> = report.get("nodes").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    if !nodes.iter().any(|n| n == node) {
        nodes.push(node.to_owned());
    }
    report["nodes"] = nodes.into();
}

pub(crate) fn pause() {
    if let Some(ms) = std::env::var(DELAY_ENV).ok().and_then(|v| v.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

fn write_folder(staging: &Path, folder: &Folder<'_>) -> Result<(), TriageError> {
    let traces = staging.join("traces");
    std::fs::create_dir_all(&traces).map_err(io(&traces))?;
    let write = |name: &str, text: &[u8]| {
        pause();
        let path = staging.join(name);
        std::fs::write(&path, text).map_err(io(&path))
    };
    write("case.json", folder.case.as_bytes())?;
    write("original.json", folder.original.as_bytes())?;
    for (client, trace) in &folder.traces {
        let mut text = Vec::new();
        for step in trace.iter() {
            serde_json::to_writer(&mut text, step).map_err(|e| TriageError::Encode(e.to_string()))?;
            text.push(b'\n');
        }
        write(&format!("traces/{}.jsonl", file_name(client)), &text)?;
    }
    write("report.md", folder.markdown.as_bytes())?;
    let json = serde_json::to_vec_pretty(folder.report).map_err(|e| TriageError::Encode(e.to_string()))?;
    // report.json last: a folder is filed when it has one.
    write("report.json", &json)
}

/// A name read from a case, a label or a folder as one file name, the one place such names are
/// made safe: no separators (`geth@/x/evm` loses its `/`, `../../x` becomes `_._.._x`), no
/// leading dot, nothing but letters, digits and `-_~#.@`, at most 200 characters.
pub fn file_name(name: &str) -> String {
    let safe: String = name.chars().take(200).map(|c| if c.is_ascii_alphanumeric() || "-_~#.@".contains(c) { c } else { '_' }).collect();
    match safe.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None if safe.is_empty() => "_".to_owned(),
        None => safe,
    }
}

/// One line saying what the finding is.
pub fn describe(report: &Report) -> String {
    let groups: Vec<String> = report.groups.iter().map(|g| g.join("+")).collect();
    let aspects: Vec<String> = report.aspects.iter().map(|a| format!("{a:?}")).collect();
    match report.kind {
        super::Kind::Slow => format!("{} is slow in {}", groups.first().map_or("?", |g| g.as_str()), report.fork),
        _ if !report.faults.is_empty() => {
            let faults: Vec<String> = report.faults.iter().map(|f| format!("{} {}", f.client, f.kind)).collect();
            format!("{} in {}", faults.join(", "), report.fork)
        }
        _ => {
            let place = match report.key.culprit.as_str() {
                "post-state" => "with agreeing traces".to_owned(),
                "intrinsic" | "untraced" | "fault" => format!("({})", report.key.culprit),
                op => format!("after {op}"),
            };
            format!("{} disagree on {} in {} {place}", groups.join(" vs "), aspects.join(", "), report.fork)
        }
    }
}

/// Removes staging folders whose process is gone.
pub(crate) fn remove_stale_staging(crashes: &Path) {
    let Ok(entries) = std::fs::read_dir(crashes) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(".staging-") else { continue };
        // .staging-<signature>-<pid>-<serial>
        let mut parts = rest.rsplitn(3, '-');
        let (_, pid) = (parts.next(), parts.next().and_then(|p| p.parse::<i32>().ok()));
        if !pid.is_some_and(process_alive) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the process `pid` still runs. A zombie (ended, not yet reaped: a killed farm's job
/// whose new parent does not reap orphans promptly) counts as gone, though signals still reach
/// its pid.
pub(crate) fn process_alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // /proc/<pid>/stat: "<pid> (<comm>) <state> ...", where comm may hold spaces and parentheses.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X'))
}

/// Every filed folder in `crashes` with its report, by signature; hidden entries (`.inputs`,
/// staging folders) and folders whose report does not read are left out.
pub fn list(crashes: &Path) -> Vec<(PathBuf, Report)> {
    let Ok(entries) = std::fs::read_dir(crashes) else { return Vec::new() };
    let mut out: Vec<(PathBuf, Report)> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| read_report(&e.path()).ok().flatten().map(|r| (e.path(), r)))
        .collect();
    out.sort_by(|a, b| a.1.signature.cmp(&b.1.signature));
    out
}

/// A filed folder's `report.json`; `None` when the folder has none.
pub fn read_report(dir: &Path) -> Result<Option<Report>, TriageError> {
    let path = dir.join("report.json");
    match std::fs::read(&path) {
        Ok(text) => serde_json::from_slice::<Report>(&text).map(Some).map_err(|e| TriageError::Folder { path, reason: e.to_string() }),
        Err(_) => Ok(None),
    }
}

/// A filed folder or a case file, read back: the case and, for a folder, its report.
pub fn read(path: &Path) -> Result<(Case, Option<Report>), TriageError> {
    let (case_path, report) = if path.is_dir() { (path.join("case.json"), read_report(path)?) } else { (path.to_path_buf(), None) };
    let FixtureFile::State(file) = read_fixture(&case_path)? else {
        return Err(TriageError::Folder { path: case_path, reason: "not a state test".into() });
    };
    let (mut cases, errors) = expand_file(&case_path, &file);
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    if cases.is_empty() {
        return Err(TriageError::Folder { path: case_path, reason: "holds no case".into() });
    }
    Ok((cases.swap_remove(0), report))
}

#[cfg(test)]
mod tests {
    /// A child that has ended but is not yet reaped is gone; a running one and this process
    /// are alive.
    #[test]
    fn a_zombie_counts_as_gone() {
        assert!(super::process_alive(std::process::id() as i32));
        let mut running = std::process::Command::new("sleep").arg("30").spawn().expect("sleep starts");
        assert!(super::process_alive(running.id() as i32));
        let _ = running.kill();
        let _ = running.wait();
        let mut ended = std::process::Command::new("true").spawn().expect("true starts");
        let pid = ended.id() as i32;
        // Not reaped yet: a zombie until `wait`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while super::process_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!super::process_alive(pid), "an ended, unreaped child counts as gone");
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(), "it was a zombie, still signalable");
        let _ = ended.wait();
    }

    use super::*;

    fn carried(node: &str, files: Vec<(&str, &str)>) -> Carried {
        Carried {
            node: node.to_owned(),
            signature: "diverge-0123".to_owned(),
            files: files.into_iter().map(|(n, t)| (n.to_owned(), t.to_owned())).collect(),
        }
    }

    const REPORT: &str = r#"{"signature":"diverge-0123","fork":"Cancun","count":1,"seen":[{"fork":"Cancun","clients":[],"count":1}]}"#;

    #[test]
    fn a_carried_finding_is_filed_once_per_node_with_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let leaf = carried("leaf-a", vec![("report.json", REPORT), ("case.json", "{}"), ("traces/revm.jsonl", "{}\n")]);
        let first = file_carried(dir.path(), &leaf).expect("file");
        assert!(matches!(first, Some(Filed::New(_))));
        let folder = dir.path().join("diverge-0123");
        assert!(folder.join("case.json").is_file() && folder.join("traces/revm.jsonl").is_file());
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("read")).expect("json");
        assert_eq!(report["nodes"], serde_json::json!(["leaf-a"]));
        // Announced again (a reconnection): not counted again.
        assert_eq!(file_carried(dir.path(), &leaf).expect("file"), None);
        // The same signature from another node: counted, and both named.
        let other = carried("leaf-b", vec![("report.json", REPORT)]);
        assert!(matches!(file_carried(dir.path(), &other).expect("file"), Some(Filed::Again(_, 2))));
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(folder.join("report.json")).expect("read")).expect("json");
        assert_eq!(report["nodes"], serde_json::json!(["leaf-a", "leaf-b"]));
    }

    #[test]
    fn a_carried_finding_never_writes_outside_its_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let crashes = dir.path().join("crashes");
        let evil = carried("x", vec![("report.json", REPORT), ("../escape", "no"), ("traces/../../escape", "no"), ("/tmp/abs", "no")]);
        file_carried(&crashes, &evil).expect("file");
        assert!(!dir.path().join("escape").exists());
        let mut bad = evil.clone();
        bad.signature = "../up".to_owned();
        assert!(file_carried(&crashes, &bad).is_err());
        assert!(inside("report.json").is_some() && inside("traces/a.jsonl").is_some());
        assert!(inside("..").is_none() && inside("a/b").is_none() && inside(".hidden").is_none());
    }
}
