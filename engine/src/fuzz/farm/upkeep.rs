//! Upkeep of a long-running farm, done by the broker's monitor: the statistics history (a JSON
//! line per interval appended to `<crashes>/.history.jsonl`, which `schism serve` charts) and
//! the bound on `<crashes>/.inputs` (the divergent inputs LibAFL keeps as solutions).
//!
//! Every input in `.inputs` has been through the divergence pipeline: a job files a finding
//! (or counts it on its folder) before its executor returns, and only then does LibAFL store
//! the input as a solution; an input whose filing was cut short waits in `.pending` instead.
//! So evicting from `.inputs` loses no finding, only raw inputs of findings already filed.

use super::monitor::FarmStats;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The history file's name inside the crashes folder.
pub const HISTORY_FILE: &str = ".history.jsonl";

/// How often a history line is appended (and once more when the farm stops).
pub const HISTORY_EVERY: Duration = Duration::from_secs(10);

/// Inputs kept in `.inputs` unless told otherwise.
pub const DEFAULT_KEEP_INPUTS: usize = 1000;

/// How often `.inputs` is brought back under its bound.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The history file read back beyond this many bytes from its end is not read (a farm of a
/// few weeks at one line per 10 s stays below it).
const HISTORY_READ_LIMIT: u64 = 64 << 20;

/// One line of the history: the farm's cumulative figures at a moment.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryPoint {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// When the farm that wrote the line started (seconds since the epoch): tells runs apart.
    pub run: u64,
    /// Seconds since that farm started.
    pub elapsed_s: f64,
    /// Inputs executed so far.
    pub executions: u64,
    /// Mean executions per second since the farm started.
    pub execs_per_sec: f64,
    /// Corpus entries.
    pub corpus: u64,
    /// Distinct features.
    pub features: u64,
    /// Divergent inputs so far.
    pub divergences: u64,
    /// Findings filed so far.
    pub filed: u64,
}

impl HistoryPoint {
    /// The point of the latest statistics of a farm started at `run`.
    pub fn of(stats: &FarmStats, run: u64) -> HistoryPoint {
        HistoryPoint {
            time: unix_now(),
            run,
            elapsed_s: stats.elapsed_s,
            executions: stats.executions,
            execs_per_sec: stats.execs_per_sec,
            corpus: stats.corpus,
            features: stats.features,
            divergences: stats.divergences,
            filed: stats.filed,
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The history's lines, oldest first; lines that do not parse are left out.
pub fn read_history(path: &Path) -> Vec<HistoryPoint> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else { return Vec::new() };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(HISTORY_READ_LIMIT);
    let mut text = String::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.take(HISTORY_READ_LIMIT).read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

/// What the monitor keeps up while the farm runs.
pub(crate) struct Upkeep {
    history: PathBuf,
    run: u64,
    last_line: Option<Instant>,
    inputs: PathBuf,
    keep_inputs: usize,
    last_prune: Option<Instant>,
    warned: bool,
}

impl Upkeep {
    /// Upkeep of the crashes folder `crashes`, keeping at most `keep_inputs` inputs.
    pub(crate) fn new(crashes: &Path, keep_inputs: usize) -> Upkeep {
        Upkeep {
            history: crashes.join(HISTORY_FILE),
            run: unix_now(),
            last_line: None,
            inputs: crashes.join(super::SOLUTIONS_DIR),
            keep_inputs,
            last_prune: None,
            warned: false,
        }
    }

    /// Called at every refresh: appends a history line when one is due (or `last`), and prunes
    /// `.inputs` when that is due.
    pub(crate) fn tick(&mut self, stats: &FarmStats, last: bool) -> Option<String> {
        let mut warning = None;
        if last || self.last_line.is_none_or(|t| t.elapsed() >= HISTORY_EVERY) {
            self.last_line = Some(Instant::now());
            if let Err(e) = append_line(&self.history, &HistoryPoint::of(stats, self.run)) {
                warning = Some(format!("warning: cannot append to {}: {e}", self.history.display()));
            }
        }
        if last || self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            self.last_prune = Some(Instant::now());
            if let Err(e) = prune_inputs(&self.inputs, self.keep_inputs) {
                warning = Some(format!("warning: cannot prune {}: {e}", self.inputs.display()));
            }
        }
        // One warning per farm: a full disk would otherwise say so every second.
        if warning.is_some() && !std::mem::replace(&mut self.warned, true) { warning } else { None }
    }
}

/// Appends one JSON line (a single write to a file opened for appending, so that lines of
/// two farms sharing a crashes folder do not interleave).
fn append_line(path: &Path, point: &HistoryPoint) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(point).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&line)
}

/// Removes the oldest inputs (by modification time) of `dir` until at most `keep` remain,
/// with LibAFL's companion files (`.<name>` lock, `.<name>.metadata`); returns how many were
/// removed. Hidden files are companions, never counted.
pub fn prune_inputs(dir: &Path, keep: usize) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut inputs: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let meta = entry.metadata()?;
        if !name.to_string_lossy().starts_with('.') && meta.is_file() {
            inputs.push((meta.modified().unwrap_or(UNIX_EPOCH), entry.path()));
        }
    }
    if inputs.len() <= keep {
        return Ok(0);
    }
    inputs.sort();
    let excess = inputs.len() - keep;
    for (_, path) in inputs.iter().take(excess) {
        std::fs::remove_file(path)?;
        if let Some(name) = path.file_name() {
            let name = name.to_string_lossy();
            let _ = std::fs::remove_file(dir.join(format!(".{name}")));
            let _ = std::fs::remove_file(dir.join(format!(".{name}.metadata")));
        }
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_removes_the_oldest_inputs_and_their_companions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (i, name) in ["c.json", "a.json", "b.json"].iter().enumerate() {
            let path = dir.path().join(name);
            std::fs::write(&path, "{}").expect("write");
            std::fs::write(dir.path().join(format!(".{name}")), "1").expect("lock");
            // c oldest, then a, then b.
            let file = std::fs::File::options().write(true).open(&path).expect("open");
            file.set_modified(old + Duration::from_secs(i as u64 * 60)).expect("mtime");
        }
        assert_eq!(prune_inputs(dir.path(), 5).expect("prune"), 0);
        assert_eq!(prune_inputs(dir.path(), 1).expect("prune"), 2);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, vec![".b.json", "b.json"]);
        assert_eq!(prune_inputs(&dir.path().join("missing"), 1).expect("absent folder"), 0);
    }

    #[test]
    fn history_lines_append_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(HISTORY_FILE);
        let stats = FarmStats { executions: 10, corpus: 3, ..FarmStats::default() };
        append_line(&path, &HistoryPoint::of(&stats, 7)).expect("append");
        std::fs::OpenOptions::new().append(true).open(&path).and_then(|mut f| f.write_all(b"half a li")).expect("garbage");
        let points = read_history(&path);
        assert_eq!(points.len(), 1);
        assert_eq!((points[0].executions, points[0].corpus, points[0].run), (10, 3, 7));
        assert!(read_history(&dir.path().join("none")).is_empty());
    }
}
