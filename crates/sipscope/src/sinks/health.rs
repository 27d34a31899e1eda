//! Whether a store is writing, for the people watching a long-running source. A honeypot
//! must not go on answering like a healthy PBX while nothing it sees is kept: when the store
//! cannot write (a full disk), it keeps a bounded backlog in memory, retries, counts what it
//! had to drop, and says so here — in a warning while it lasts and in the exit summary.

use std::sync::{Arc, Mutex};

/// How much a store keeps in memory to retry while it cannot write (for sources that run
/// until stopped: the honeypot). Beyond either limit the newest items are dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreBacklog {
    /// Items (events, records, analysis hand-overs) kept at most.
    pub max_items: usize,
    /// Their estimated size in bytes at most.
    pub max_bytes: usize,
}

impl StoreBacklog {
    /// Default item limit (about a minute of a heavy scan).
    pub const DEFAULT_ITEMS: usize = 100_000;
    /// Default byte limit (64 MiB).
    pub const DEFAULT_BYTES: usize = 64 << 20;
}

impl Default for StoreBacklog {
    fn default() -> Self {
        StoreBacklog { max_items: StoreBacklog::DEFAULT_ITEMS, max_bytes: StoreBacklog::DEFAULT_BYTES }
    }
}

/// What a store went through, as far as writing is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStatus {
    /// The store cannot write now.
    pub unavailable: bool,
    /// Event time at which the latest outage began (the time of the first event it could not
    /// write, or of the last event before it), nanoseconds since the Unix epoch.
    pub unavailable_since_ns: Option<i64>,
    /// Outages so far (a recovery ends one).
    pub outages: u64,
    /// Events never stored: over the backlog's limits, or still waiting when the run ended.
    pub dropped_events: u64,
    /// Records and analysis hand-overs never stored, likewise.
    pub dropped_other: u64,
    /// Items waiting in the backlog now.
    pub waiting: u64,
    /// The latest write error.
    pub last_error: Option<String>,
}

impl StoreStatus {
    /// One line for an exit summary, `None` when the store never failed.
    pub fn describe(&self) -> Option<String> {
        if self.outages == 0 && self.dropped_events == 0 && self.dropped_other == 0 {
            return None;
        }
        let since = self.unavailable_since_ns.map_or_else(|| "the start".to_owned(), crate::time::iso_time);
        let why = self.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        let state = if self.unavailable {
            format!("store unavailable since {since}{why}")
        } else {
            format!("store was unavailable {} time(s), last since {since}{why}, and recovered", self.outages)
        };
        Some(format!(
            "{state}; {} events dropped, {} records and analysis rows dropped",
            self.dropped_events, self.dropped_other
        ))
    }
}

/// A store's status, shared between its writer and whoever reports on it.
#[derive(Debug, Clone, Default)]
pub struct StoreHealth(Arc<Mutex<StoreStatus>>);

impl StoreHealth {
    /// The status now.
    pub fn status(&self) -> StoreStatus {
        match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the status (the writer), and the metrics that mirror it: the backlog's depth,
    /// whether the store is unavailable, what it dropped.
    pub(crate) fn update(&self, f: impl FnOnce(&mut StoreStatus)) {
        let publish = |s: &mut StoreStatus| {
            let dropped = s.dropped_events + s.dropped_other;
            f(s);
            let now_dropped = s.dropped_events + s.dropped_other;
            crate::metrics::store_dropped(now_dropped.saturating_sub(dropped));
            crate::metrics::set_store_unavailable(s.unavailable);
            s.waiting
        };
        let waiting = match self.0.lock() {
            Ok(mut s) => publish(&mut s),
            Err(poisoned) => publish(&mut poisoned.into_inner()),
        };
        // One store per process writes the backlog: its depth is this store's.
        crate::metrics::set_queue_depth(crate::metrics::Queue::StoreBacklog, waiting);
    }
}
