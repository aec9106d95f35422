//! Corpus entries written off the fuzzing thread. A job adds hundreds of entries a second at
//! first, each a new file; creating a file costs the kernel an inode allocation, which on a
//! busy ext4 file system was measured at about 2 ms (a sixth of a one-job farm's time, in
//! `__ext4_new_inode`). So a job hands each entry of its corpus folder to a writer thread of its
//! own and fuzzes on; the writer writes them atomically ([`crate::atomic::write`]) in order.
//!
//! The entries stay in the job's memory (LibAFL's in-memory corpus reads none back), so a write
//! still queued is only a copy not yet on disk: the job waits for the queue to empty before it
//! leaves ([`flush`]), and a job aborted after a hang waits a little for it first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The writer of this process, once a job has started one.
static WRITER: Mutex<Option<Writer>> = Mutex::new(None);

/// One queued write: where, and what.
type Entry = (PathBuf, Arc<Vec<u8>>);

/// The writes still to come, the latest per file, with a signal when none is left.
type Queued = Arc<(Mutex<HashMap<PathBuf, Arc<Vec<u8>>>>, Condvar)>;

/// A writer thread and the folder whose files it writes.
struct Writer {
    folder: PathBuf,
    queue: Sender<Entry>,
    /// What is queued and not yet on disk, for [`read`] and [`flush`].
    queued: Queued,
}

/// Starts writing the files of `folder` on a thread of their own (once per process; later
/// calls change nothing). Without it, or when the thread cannot start, [`write`] writes at once.
pub(crate) fn write_behind(folder: &Path) {
    let Ok(mut writer) = WRITER.lock() else { return };
    if writer.is_some() {
        return;
    }
    let (queue, entries): (Sender<Entry>, Receiver<Entry>) = channel();
    let queued = Queued::default();
    let written = queued.clone();
    let started = std::thread::Builder::new().name("schism-writer".to_owned()).spawn(move || {
        let mut warned = false;
        while let Ok((path, bytes)) = entries.recv() {
            if let Err(e) = crate::atomic::write(&path, &bytes)
                && !warned
            {
                // Once: the entry is still in the job's corpus, only not on disk.
                warned = true;
                eprintln!("\nschism fuzz: cannot write the corpus entry {}: {e} (further failures not shown)", path.display());
            }
            // Done with this file unless a later write of it is queued.
            done(&written, &path, &bytes);
        }
    });
    if started.is_ok() {
        *writer = Some(Writer { folder: folder.to_path_buf(), queue, queued });
    }
}

/// Takes `path` off the queued writes when `bytes` is its latest, signalling when none is left.
fn done(queued: &Queued, path: &Path, bytes: &Arc<Vec<u8>>) {
    let (map, empty) = &**queued;
    if let Ok(mut map) = map.lock()
        && map.get(path).is_some_and(|latest| Arc::ptr_eq(latest, bytes))
    {
        map.remove(path);
        if map.is_empty() {
            empty.notify_all();
        }
    }
}

/// Writes `bytes` to `path`: queued for the writer thread when `path` is in its folder,
/// otherwise at once (atomically either way).
pub(crate) fn write(path: &Path, bytes: Vec<u8>) -> std::io::Result<()> {
    if let Ok(writer) = WRITER.lock()
        && let Some(writer) = writer.as_ref()
        && path.parent() == Some(writer.folder.as_path())
    {
        let bytes = Arc::new(bytes);
        if let Ok(mut map) = writer.queued.0.lock() {
            map.insert(path.to_path_buf(), bytes.clone());
        }
        return match writer.queue.send((path.to_path_buf(), bytes)) {
            Ok(()) => Ok(()),
            Err(returned) => {
                let (path, bytes) = returned.0;
                done(&writer.queued, &path, &bytes);
                crate::atomic::write(&path, &bytes)
            }
        };
    }
    crate::atomic::write(path, &bytes)
}

/// The contents of `path`: as queued when its write is still to come, else from the disk.
pub(crate) fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    if let Ok(writer) = WRITER.lock()
        && let Some(writer) = writer.as_ref()
        && let Ok(map) = writer.queued.0.lock()
        && let Some(bytes) = map.get(path)
    {
        return Ok(bytes.to_vec());
    }
    std::fs::read(path)
}

/// Waits until every queued write is done, at most `within`; whether the queue emptied.
pub(crate) fn flush(within: Duration) -> bool {
    let queued = match WRITER.lock() {
        Ok(writer) => match writer.as_ref() {
            Some(writer) => writer.queued.clone(),
            None => return true,
        },
        Err(_) => return false,
    };
    let deadline = Instant::now() + within;
    let (map, empty) = &*queued;
    let Ok(mut map) = map.lock() else { return false };
    while !map.is_empty() {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        map = match empty.wait_timeout(map, deadline - now) {
            Ok((m, _)) => m,
            Err(_) => return false,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_the_folder_are_written_behind_and_flushed_the_others_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let corpus = dir.path().join("corpus");
        std::fs::create_dir_all(&corpus).expect("mkdir");
        write_behind(&corpus);
        for i in 0..200 {
            let path = corpus.join(format!("{i:04}.json"));
            write(&path, format!("{{\"n\":{i}}}").into_bytes()).expect("queued");
            assert_eq!(read(&path).expect("readable at once"), format!("{{\"n\":{i}}}").into_bytes());
        }
        let elsewhere = dir.path().join("report.json");
        write(&elsewhere, b"{}".to_vec()).expect("written");
        assert_eq!(std::fs::read(&elsewhere).expect("at once"), b"{}");
        assert!(flush(Duration::from_secs(30)), "the queue empties");
        let written = std::fs::read_dir(&corpus).expect("list").count();
        assert_eq!(written, 200, "every entry, no temporary file left");
        assert_eq!(std::fs::read_to_string(corpus.join("0199.json")).expect("read"), "{\"n\":199}");
    }
}
