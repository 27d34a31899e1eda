//! Reports kept across restarts. The overview over 10 M events takes about a second to build
//! (docs/benchmarks.md), and a server just started had nothing to answer its first request
//! with but that build. So the answers built ahead of requests (the overview, the campaigns
//! every wide range shares, the dashboard's quick ranges) are written to the store
//! (`sinks::kept`, through a [`ReportKeeper`] on a thread of its own, at most every
//! `cache::KEEP_EVERY`), and a server that starts on a store a server kept reports in puts
//! them back into its cache before it answers anyone ([`restore`]): its first request gets
//! the last report at once, marked with when it was built and by an earlier run, while the
//! fresh one is built, exactly as a stale kept answer is served today.
//!
//! A kept report is served again only by a server of the same [`format`]: the crate's version,
//! the report's format version (`reports::REPORT_FORMAT`), both stores' schema versions, the
//! executable (size and modification time) and the GeoIP databases. Being in the store, it
//! cannot be another store's. Its body is JSON this API wrote (attacker text already inert);
//! read back, it must parse as JSON and is made inert again. A store that cannot be written
//! (read-only) keeps nothing: logged, and the server works as before.

use super::cache::Answer;
use super::server::State;
use crate::sinks::kept::{KeptReport, ReportKeeper, MAX_KEPT_REPORTS};
use crate::sinks::SinkError;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// How long the server waits, at start, for the kept reports before it answers without them.
const RESTORE_WAIT: Duration = Duration::from_secs(5);

/// Opens the store for kept reports (the writing side).
pub type KeeperFactory = Arc<dyn Fn() -> Result<Box<dyn ReportKeeper>, SinkError> + Send + Sync>;

/// What reports are kept under (`None`: nothing is kept, the executable could not be told).
pub(crate) fn format(geo: &crate::enrich::Enricher) -> Option<String> {
    let exe = std::env::current_exe().and_then(std::fs::metadata).ok()?;
    let modified = exe.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!(
        "sipscope {} report {} schema {}/{} exe {}/{}.{:09} {}",
        env!("CARGO_PKG_VERSION"),
        crate::reports::REPORT_FORMAT,
        crate::sinks::sqlite::SCHEMA_VERSION,
        crate::sinks::postgres::schema::SCHEMA_VERSION,
        exe.len(),
        modified.as_secs(),
        modified.subsec_nanos(),
        geo.identity()
    ))
}

/// The writing side: kept reports handed to a thread that writes them one at a time, so that
/// a store busy with a writer never holds up the server's threads.
pub(crate) struct Keeper {
    /// What reports are kept under.
    pub format: Option<String>,
    queue: Option<mpsc::SyncSender<KeptReport>>,
}

impl Keeper {
    /// A keeper writing through `open` (none: reports are only restored, never written).
    pub fn start(format: Option<String>, open: Option<KeeperFactory>) -> Keeper {
        let queue = match (&format, open) {
            (Some(_), Some(open)) => {
                let (tx, rx) = mpsc::sync_channel::<KeptReport>(MAX_KEPT_REPORTS);
                let spawned = std::thread::Builder::new().name("api-keep".into()).spawn(move || write(&open, &rx));
                spawned.ok().map(|_| tx)
            }
            _ => None,
        };
        Keeper { format, queue }
    }

    /// Hands `answer` to the writer (dropped when it is behind by [`MAX_KEPT_REPORTS`]:
    /// the next rebuild is kept instead).
    pub fn keep(&self, key: &str, answer: &Answer) {
        let (Some(format), Some(queue)) = (&self.format, &self.queue) else { return };
        if answer.earlier {
            return;
        }
        let report = KeptReport {
            key: key.to_owned(),
            format: format.clone(),
            built_ns: answer.built_ns,
            body: answer.body.as_str().to_owned(),
        };
        let _ = queue.try_send(report);
    }
}

/// The writer thread: opens the store on its first report (again after a failure) and keeps
/// each report handed to it, until the server goes.
fn write(open: &KeeperFactory, queue: &mpsc::Receiver<KeptReport>) {
    let mut keeper: Option<Box<dyn ReportKeeper>> = None;
    let mut failures = 0u64;
    let mut failed = |e: SinkError| {
        failures += 1;
        if failures.is_power_of_two() {
            tracing::warn!(
                "API: a report could not be kept in the store ({e}); a restart builds it before \
                 answering ({failures} such failures so far)"
            );
        }
    };
    while let Ok(report) = queue.recv() {
        if keeper.is_none() {
            match open() {
                Ok(k) => keeper = Some(k),
                Err(e) => {
                    failed(e);
                    continue;
                }
            }
        }
        let Some(k) = keeper.as_mut() else { continue };
        if let Err(e) = k.keep(&report) {
            keeper = None;
            failed(e);
        }
    }
}

/// Puts the reports an earlier run kept (of this server's format) back into the cache, before
/// the server answers anyone; waits at most [`RESTORE_WAIT`]. Returns how many.
pub(crate) async fn restore(state: &Arc<State>) -> usize {
    let Some(format) = state.keeper.format.clone() else { return 0 };
    let read = state.read(move |store| Ok(store.kept_reports(&format)?));
    let found = match tokio::time::timeout(RESTORE_WAIT, read).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::warn!("API: the reports kept by an earlier run could not be read: {}", e.message);
            return 0;
        }
        Err(_) => {
            tracing::warn!("API: the reports kept by an earlier run took too long to read; building them");
            return 0;
        }
    };
    let mut restored = 0;
    for r in found {
        if serde_json::from_str::<serde::de::IgnoredAny>(&r.body).is_err() {
            continue;
        }
        let body = Arc::new(crate::output::json::inert(r.body));
        state.reports.restore(r.key, Answer { body, built_ns: r.built_ns, earlier: true });
        restored += 1;
    }
    restored
}
