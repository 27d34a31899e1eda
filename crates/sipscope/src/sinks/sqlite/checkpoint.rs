//! Checkpoints off the writer's thread. In WAL mode SQLite copies the log back into the
//! database when the log passes `wal_autocheckpoint` pages, on the thread that committed — the
//! store's writer, which then stops taking events for as long as copying 64 MiB and an fsync
//! take (0.1–0.5 s here). Its queue fills meanwhile, and a live source that waits for room
//! (the honeypot's listeners) stops answering: answers stalled for up to 0.75 s under a flood
//! (docs/benchmarks.md, "Checkpoints off the writer"). This thread looks every
//! [`CHECKPOINT_EVERY`] and, once the log file has reached [`CHECKPOINT_FROM_BYTES`], runs a
//! passive checkpoint on a connection of its own, beside the writer (a passive checkpoint
//! never blocks it); the writer's own automatic checkpoint stays as the bound on the log's
//! size and finds the frames already copied. A small store is left as it was: its log is
//! copied back when the writer closes it, so the data is not on disk twice meanwhile (what a
//! nearly full disk needs).

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the thread checkpoints (what the log holds after a second of bulk writing is
/// about what one automatic checkpoint copies).
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The log file's size from which the thread checkpoints (a quarter of what makes the writer
/// checkpoint, 16,384 pages of 16 KiB).
pub(super) const CHECKPOINT_FROM_BYTES: u64 = 64 << 20 >> 2;

/// Failed attempts to open the store after which the thread gives up.
const MAX_FAILED_OPENS: u32 = 3;

/// The checkpointing thread of one store, stopped (and joined) when dropped.
pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` (already open and in WAL mode). `None` when
    /// the thread cannot start: the writer's automatic checkpoints still bound the log.
    pub(super) fn start(path: &Path) -> Option<Checkpointer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (flag, path) = (Arc::clone(&stop), path.to_path_buf());
        let thread = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || run(&path, &flag));
        match thread {
            Ok(thread) => Some(Checkpointer { stop, thread: Some(thread) }),
            Err(e) => {
                tracing::warn!("cannot start the store's checkpoint thread: {e}");
                None
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Until stopped: wait, then a passive checkpoint. Errors (the store busy with another
/// checkpoint, a full disk) are left to the next round and to the writer's own checkpoints.
fn run(path: &Path, stop: &(Mutex<bool>, Condvar)) {
    let mut conn: Option<Connection> = None;
    let mut failed_opens = 0;
    let (lock, wake) = stop;
    let Ok(mut stopped) = lock.lock() else { return };
    loop {
        // (Checked before waiting too: a stop asked during a checkpoint, while this thread
        // held the lock, is not missed.)
        if *stopped {
            return;
        }
        stopped = match wake.wait_timeout(stopped, CHECKPOINT_EVERY) {
            Ok((guard, _)) => guard,
            Err(_) => return,
        };
        if *stopped {
            return;
        }
        // The log file keeps its largest size once it restarts: past the mark, a checkpoint
        // with nothing left to copy costs little.
        let log = wal_path(path);
        if std::fs::symlink_metadata(&log).map_or(true, |m| m.len() < CHECKPOINT_FROM_BYTES) {
            continue;
        }
        if conn.is_none() {
            // Opened once the log is past the mark: most stores opened for a moment never are.
            match Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NOFOLLOW | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ) {
                Ok(c) => conn = Some(c),
                // The file went, or this process may no longer open it: the writer's own
                // checkpoints go on without this thread.
                Err(e) if failed_opens >= MAX_FAILED_OPENS => {
                    tracing::debug!("the store's checkpoint thread stops: {e}");
                    return;
                }
                Err(_) => failed_opens += 1,
            }
        }
        if let Some(c) = &conn {
            // (busy, log frames, frames copied); nothing to do when the log is copied already.
            let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }
}

/// The store's write-ahead log: its path with `-wal` appended.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use std::time::{Duration, Instant};

    /// With the writer's own checkpoints off, what it commits (20 MB, past the mark) still
    /// reaches the database file while it keeps its connection: this thread copied it.
    #[test]
    fn the_log_is_copied_back_beside_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).unwrap();
        store.conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        store.conn.execute_batch("CREATE TABLE filler (b BLOB)").unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        store
            .conn
            .execute(
                "INSERT INTO filler WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) \
                 SELECT randomblob(1000) FROM c",
                [],
            )
            .unwrap();
        // A deadlock guard, not a timing: the thread checkpoints every half second.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() < before + 10_000_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after >= before + 10_000_000, "the database file grew from {before} to {after} bytes only");
        drop(store);
        assert!(!path.with_extension("db-wal").exists(), "closing the writer still removes the log");
    }
}
