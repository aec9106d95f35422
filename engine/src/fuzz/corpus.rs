//! Corpus upkeep for long runs: a corpus folder shrunk to the smallest set of entries that
//! covers the same features.
//!
//! Each entry is replayed through the harness (the in-process clients, exactly as a farm job
//! runs it) to get its feature map; a feature is a non-zero entry of the map, the same count
//! the farm reports as `features`. The set kept is a greedy set cover: repeatedly the entry
//! that adds the most features not yet covered, the smaller file first among equals; that is
//! within a factor ln(features) of the smallest cover, and in practice close to it.

use super::FuzzError;
use super::features::MAP_SIZE;
use super::harness::{Harness, HarnessOptions};
use super::program::Blueprint;
use schism_interface::{Client, Fork};
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to minimise and how.
#[derive(Clone)]
pub struct MinimizeOptions {
    /// The corpus folder.
    pub corpus: PathBuf,
    /// The clients whose execution records the features (the farm's own).
    pub clients: Vec<Arc<dyn Client>>,
    /// The farm's `--fork`, when it had one (the fork an entry runs on depends on it).
    pub fork: Option<Fork>,
    /// The farm's share of block sequences (whether an entry runs as one depends on it).
    pub sequences: f64,
    /// What to do with the result.
    pub action: Action,
}

/// What minimisation does with the entries it does not keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: only report.
    Report,
    /// Remove them (with LibAFL's companion files) from the corpus folder.
    Remove,
    /// Copy the kept entries into this folder; the corpus folder is left as it is.
    CopyTo(PathBuf),
}

/// What minimisation found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Minimized {
    /// Entries replayed.
    pub entries: usize,
    /// Features they cover together.
    pub features: usize,
    /// Entries kept (they cover the same features).
    pub kept: Vec<PathBuf>,
    /// Entries that do not parse as a corpus entry: never removed, never copied.
    pub unreadable: Vec<PathBuf>,
    /// Entries removed (with [`Action::Remove`]).
    pub removed: usize,
}

impl Minimized {
    /// One line for a person.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} entries cover {} features; {} kept cover them all ({} redundant)",
            self.entries,
            self.features,
            self.kept.len(),
            self.entries - self.kept.len()
        );
        if self.removed > 0 {
            line += &format!(", {} removed", self.removed);
        }
        if !self.unreadable.is_empty() {
            line += &format!("; {} unreadable entries left alone", self.unreadable.len());
        }
        line
    }
}

/// Replays every entry of the corpus folder, keeps the smallest covering set, and acts on it.
pub fn minimize(options: &MinimizeOptions) -> Result<Minimized, FuzzError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FuzzError::Io { path, source }
    };
    let files = super::farm::corpus_entries(&options.corpus).map_err(io(&options.corpus))?;
    // Findings met while replaying are filed in a folder thrown away afterwards: this command
    // measures coverage, the farm files findings.
    let scratch = tempfile::tempdir().map_err(io(&std::env::temp_dir()))?;
    let mut harness_options = HarnessOptions::new(options.clients.clone(), options.fork, scratch.path().to_path_buf());
    harness_options.minimise = None;
    harness_options.slow = None;
    harness_options.sequences = options.sequences;
    let mut harness = Harness::new(harness_options)?;
    let mut map = vec![0u8; MAP_SIZE];
    let mut entries: Vec<Entry> = Vec::new();
    let mut result = Minimized::default();
    for path in files {
        let text = std::fs::read(&path).map_err(io(&path))?;
        let Ok(input) = serde_json::from_slice::<Blueprint>(&text) else {
            result.unreadable.push(path);
            continue;
        };
        map.fill(0);
        harness.run(&input, &mut map);
        let features = map.iter().enumerate().filter(|(_, v)| **v > 0).map(|(i, _)| i as u32).collect();
        entries.push(Entry { path, size: text.len() as u64, features });
    }
    result.entries = entries.len();
    let chosen = cover(&entries);
    let mut all = vec![false; MAP_SIZE];
    for e in &entries {
        for f in &e.features {
            all[*f as usize] = true;
        }
    }
    result.features = all.iter().filter(|f| **f).count();
    let keep: Vec<bool> = {
        let mut keep = vec![false; entries.len()];
        for i in &chosen {
            keep[*i] = true;
        }
        keep
    };
    result.kept = chosen.iter().map(|i| entries[*i].path.clone()).collect();
    result.kept.sort();
    match &options.action {
        Action::Report => {}
        Action::Remove => {
            for (entry, _) in entries.iter().zip(&keep).filter(|(_, k)| !**k) {
                remove_entry(&entry.path).map_err(io(&entry.path))?;
                result.removed += 1;
            }
        }
        Action::CopyTo(out) => {
            std::fs::create_dir_all(out).map_err(io(out))?;
            for path in &result.kept {
                let target = out.join(path.file_name().unwrap_or_default());
                std::fs::copy(path, &target).map_err(io(&target))?;
            }
        }
    }
    Ok(result)
}

/// Removes a corpus entry and LibAFL's companions of it (`.<name>` lock, `.<name>.metadata`).
fn remove_entry(path: &Path) -> std::io::Result<()> {
    std::fs::remove_file(path)?;
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        let name = name.to_string_lossy();
        let _ = std::fs::remove_file(dir.join(format!(".{name}")));
        let _ = std::fs::remove_file(dir.join(format!(".{name}.metadata")));
    }
    Ok(())
}

/// One replayed entry.
struct Entry {
    path: PathBuf,
    size: u64,
    /// Its features: indexes of the non-zero map entries, ascending.
    features: Vec<u32>,
}

/// A greedy set cover of the entries' features: indexes of the entries kept, in the order
/// chosen. Lazy: an entry's gain only shrinks as others are chosen, so a gain recomputed at the
/// top of the heap that still beats the next one is the largest.
fn cover(entries: &[Entry]) -> Vec<usize> {
    let mut covered = vec![false; MAP_SIZE];
    // (gain, smaller size first, earlier entry first)
    let mut heap: BinaryHeap<(usize, std::cmp::Reverse<u64>, std::cmp::Reverse<usize>)> =
        entries.iter().enumerate().map(|(i, e)| (e.features.len(), std::cmp::Reverse(e.size), std::cmp::Reverse(i))).collect();
    let mut chosen = Vec::new();
    while let Some((gain, size, std::cmp::Reverse(i))) = heap.pop() {
        if gain == 0 {
            break;
        }
        let fresh = entries[i].features.iter().filter(|f| !covered[**f as usize]).count();
        if fresh < gain {
            heap.push((fresh, size, std::cmp::Reverse(i)));
            continue;
        }
        for f in &entries[i].features {
            covered[*f as usize] = true;
        }
        chosen.push(i);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, features: &[u32]) -> Entry {
        Entry { path: PathBuf::from(name), size, features: features.to_vec() }
    }

    #[test]
    fn the_cover_keeps_every_feature_with_fewest_entries() {
        let entries = [
            entry("a", 10, &[1, 2]),
            entry("b", 10, &[3, 4]),
            entry("c", 50, &[1, 2, 3, 4]),
            entry("d", 5, &[4]),
            entry("e", 5, &[]),
            entry("f", 1, &[1, 2, 3, 4]),
        ];
        // f covers everything and is the smallest of the two that do.
        assert_eq!(cover(&entries), vec![5]);
        let entries = [entry("a", 10, &[1, 2, 3]), entry("b", 10, &[3, 4]), entry("c", 10, &[4, 5]), entry("d", 1, &[5])];
        let chosen = cover(&entries);
        let names: Vec<&str> = chosen.iter().map(|i| entries[*i].path.to_str().unwrap_or("?")).collect();
        assert_eq!(names, vec!["a", "c"]);
    }

    #[test]
    #[cfg(feature = "revm")]
    fn a_corpus_of_duplicates_shrinks_to_one_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = Blueprint::from_bytes(&[7u8; 512]);
        let json = serde_json::to_vec(&input).expect("json");
        for name in ["a.json", "b.json", "c.json"] {
            std::fs::write(dir.path().join(name), &json).expect("write");
        }
        std::fs::write(dir.path().join(".a.json"), "1").expect("lock");
        std::fs::write(dir.path().join("junk.json"), "not a blueprint").expect("write");
        let clients = crate::registry::resolve(&["revm".to_owned()], &Default::default()).expect("revm");
        let options = MinimizeOptions { corpus: dir.path().to_path_buf(), clients, fork: None, sequences: 0.0, action: Action::Remove };
        let done = minimize(&options).expect("minimize");
        assert_eq!((done.entries, done.kept.len(), done.removed, done.unreadable.len()), (3, 1, 2, 1), "{}", done.summary());
        assert!(done.features > 0);
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        // The smallest equal entry that sorts first is kept: `a.json`, with its lock.
        assert_eq!(left, vec![".a.json", "a.json", "junk.json"]);
    }
}
