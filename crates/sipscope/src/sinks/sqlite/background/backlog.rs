//! The resilient writer's backlog: what could not be written yet, bounded, retried in order,
//! with the outage it belongs to. Every write of it is one transaction per [`BATCH`] items,
//! and an item leaves the backlog only once committed, so a failed write loses nothing.

use super::{write_item, write_items, Item, BATCH, MAX_RETRY_INTERVAL};
use crate::sinks::health::{StoreBacklog, StoreHealth};
use crate::sinks::sqlite::Store;
use crate::sinks::SinkError;
use std::collections::VecDeque;

/// An outage in progress.
struct Outage {
    /// Flushes left before the next retry.
    wait: u32,
    /// The current interval between retries, in flushes.
    interval: u32,
}

/// Items waiting to be written, and the outage that keeps them waiting.
pub(super) struct Backlog {
    limits: StoreBacklog,
    items: VecDeque<Item>,
    bytes: usize,
    health: StoreHealth,
    outage: Option<Outage>,
    /// Time of the newest event taken (when an outage begins with no event waiting).
    last_event_ns: Option<i64>,
    /// Items refused by the store itself (not an outage), for rate-limited logging.
    refused: u64,
}

/// How a write of the backlog's first items ended.
struct Failed {
    /// Items committed before the failure (an analysis hand-over commits what precedes it).
    committed: usize,
    /// The item that failed, `None` when the commit did.
    at: Option<usize>,
    error: SinkError,
}

impl Backlog {
    pub(super) fn new(limits: StoreBacklog, health: StoreHealth) -> Backlog {
        Backlog { limits, items: VecDeque::new(), bytes: 0, health, outage: None, last_event_ns: None, refused: 0 }
    }

    /// Takes a batch from the producer: written now when the store is available; kept (within
    /// the limits) during an outage, the newest dropped beyond them. Before the first drop of
    /// a batch the store is probed with one item (cheap when it still fails), so nothing is
    /// dropped once it can write again.
    pub(super) fn take(&mut self, store: &mut Store, batch: &mut Vec<Item>) {
        let mut probed = false;
        for item in batch.drain(..) {
            if let Item::Event(event, ..) = &item {
                self.last_event_ns = Some(self.last_event_ns.map_or(event.ts_ns, |t| t.max(event.ts_ns)));
            }
            let size = estimated_bytes(&item);
            // While the store writes, the batch in hand always fits (it is written at once).
            if self.outage.is_some() && self.full(size) && !probed {
                probed = true;
                self.probe(store);
            }
            if self.outage.is_some() && self.full(size) {
                self.count_dropped(&item);
                continue;
            }
            self.bytes += size;
            self.items.push_back(item);
        }
        if self.outage.is_none() {
            self.write(store, false);
        }
        self.report_waiting();
    }

    fn full(&self, size: usize) -> bool {
        self.items.len() >= self.limits.max_items || self.bytes + size > self.limits.max_bytes
    }

    /// A flush: during an outage, counts down to the next retry and retries when due.
    pub(super) fn flush(&mut self, store: &mut Store) {
        let due = match &mut self.outage {
            None => !self.items.is_empty(),
            Some(outage) => {
                outage.wait = outage.wait.saturating_sub(1);
                outage.wait == 0
            }
        };
        if due {
            self.write(store, true);
            self.report_waiting();
        }
    }

    /// Before another operation on the store: the backlog must be written first (retried now,
    /// whatever the interval), else the operation would overtake it.
    pub(super) fn ready(&mut self, store: &mut Store) -> Result<(), SinkError> {
        if !self.items.is_empty() {
            self.write(store, false);
            self.report_waiting();
        }
        if self.items.is_empty() {
            return Ok(());
        }
        let status = self.health.status();
        Err(SinkError::Unavailable {
            backend: "SQLite store",
            message: format!(
                "{} items waiting to be written ({})",
                self.items.len(),
                status.last_error.unwrap_or_else(|| "unavailable".into())
            ),
        })
    }

    /// The producer is gone: a last retry; what still waits is dropped and counted.
    pub(super) fn finish(&mut self, store: &mut Store) {
        if !self.items.is_empty() {
            self.write(store, false);
        }
        let left = std::mem::take(&mut self.items);
        self.bytes = 0;
        for item in &left {
            self.count_dropped(item);
        }
        if !left.is_empty() {
            let status = self.health.status();
            tracing::warn!(
                "store still unavailable at exit: {} items never written ({} events dropped in all)",
                left.len(),
                status.dropped_events
            );
        }
        self.report_waiting();
    }

    /// Writes the backlog in order, one transaction per [`BATCH`] items, until it is empty
    /// or the store fails; ends or continues the outage accordingly. `scheduled`: the retry
    /// the interval called for (it lengthens the interval and logs), not an extra one.
    fn write(&mut self, store: &mut Store, scheduled: bool) {
        while !self.items.is_empty() {
            let n = self.items.len().min(BATCH);
            match write_first(store, &self.items, n) {
                Ok(()) => self.pop(n),
                Err(Failed { committed, at, error }) => {
                    self.pop(committed);
                    match (at, &error) {
                        // The store refuses this item (not the disk): drop it, go on.
                        (Some(at), SinkError::Backend { .. }) => self.refuse(at - committed, &error),
                        _ => return self.failed(error, scheduled),
                    }
                }
            }
        }
        if self.outage.take().is_some() {
            self.health.update(|s| s.unavailable = false);
            let status = self.health.status();
            tracing::warn!(
                "store writing again; {} events and {} records and analysis rows were dropped while it could not",
                status.dropped_events,
                status.dropped_other
            );
        }
    }

    /// Writes the first item alone; when that works, the rest.
    fn probe(&mut self, store: &mut Store) {
        if self.items.is_empty() {
            return;
        }
        match write_first(store, &self.items, 1) {
            Ok(()) => {
                self.pop(1);
                self.write(store, false);
            }
            Err(Failed { committed, .. }) => self.pop(committed),
        }
    }

    fn failed(&mut self, error: SinkError, scheduled: bool) {
        let message = error.to_string();
        match &mut self.outage {
            None => {
                let since = self
                    .items
                    .iter()
                    .find_map(|i| match i {
                        Item::Event(e, ..) => Some(e.ts_ns),
                        _ => None,
                    })
                    .or(self.last_event_ns);
                self.outage = Some(Outage { wait: 1, interval: 1 });
                self.health.update(|s| {
                    s.unavailable = true;
                    s.unavailable_since_ns = since;
                    s.outages += 1;
                    s.last_error = Some(message.clone());
                });
                tracing::warn!(
                    "store unavailable: {message}; keeping up to {} items ({} MiB) to retry",
                    self.limits.max_items,
                    self.limits.max_bytes >> 20
                );
            }
            Some(_) if !scheduled => self.health.update(|s| s.last_error = Some(message.clone())),
            Some(outage) => {
                outage.interval = (outage.interval * 2).min(MAX_RETRY_INTERVAL);
                outage.wait = outage.interval;
                self.health.update(|s| s.last_error = Some(message.clone()));
                let s = self.health.status();
                let since = s.unavailable_since_ns.map_or_else(|| "the start".into(), crate::time::iso_time);
                tracing::warn!(
                    "store unavailable since {since}: {message}; {} items waiting, {} events dropped",
                    self.items.len(),
                    s.dropped_events
                );
            }
        }
    }

    /// Drops the item at `index` that the store refused, logging the first and then every
    /// power of two.
    fn refuse(&mut self, index: usize, error: &SinkError) {
        if let Some(item) = self.items.remove(index) {
            self.bytes = self.bytes.saturating_sub(estimated_bytes(&item));
            self.count_dropped(&item);
        }
        self.refused += 1;
        if self.refused.is_power_of_two() {
            tracing::error!("the store refused an item ({} so far, dropped): {error}", self.refused);
        }
    }

    fn pop(&mut self, n: usize) {
        for item in self.items.drain(..n) {
            self.bytes = self.bytes.saturating_sub(estimated_bytes(&item));
        }
    }

    fn count_dropped(&self, item: &Item) {
        let event = matches!(item, Item::Event(..));
        self.health.update(|s| {
            if event {
                s.dropped_events += 1;
            } else {
                s.dropped_other += 1;
            }
        });
    }

    fn report_waiting(&self) {
        let waiting = self.items.len() as u64;
        self.health.update(|s| s.waiting = waiting);
    }
}

/// Writes the first `n` items in one transaction (a hand-over commits what precedes it),
/// runs of events through one statement each. When the store refuses an event of a run, the
/// items are written again one by one from the last commit, to name the one refused.
fn write_first(store: &mut Store, items: &VecDeque<Item>, n: usize) -> Result<(), Failed> {
    let mut committed = 0;
    let grouped = write_items(store, items.iter().take(n), |i, item| {
        if matches!(item, Item::Handover(..)) {
            committed = i + 1;
        }
    });
    if let Err((at, error)) = grouped {
        store.abandon_batch();
        if matches!(error, SinkError::Backend { .. }) && matches!(items.get(at), Some(Item::Event(..))) {
            return write_singly(store, items, committed, n);
        }
        return Err(Failed { committed, at: Some(at), error });
    }
    store.flush_now().map_err(|error| {
        store.abandon_batch();
        Failed { committed, at: None, error }
    })
}

/// Writes items `from..n` one by one in one transaction; `from` items are committed already.
fn write_singly(store: &mut Store, items: &VecDeque<Item>, from: usize, n: usize) -> Result<(), Failed> {
    let mut committed = from;
    for (i, item) in items.iter().enumerate().take(n).skip(from) {
        if let Err(error) = write_item(store, item) {
            store.abandon_batch();
            return Err(Failed { committed, at: Some(i), error });
        }
        if matches!(item, Item::Handover(..)) {
            committed = i + 1;
        }
    }
    store.flush_now().map_err(|error| {
        store.abandon_batch();
        Failed { committed, at: None, error }
    })
}

/// What an item costs in memory, roughly (its bytes twice: raw and extracted fields).
fn estimated_bytes(item: &Item) -> usize {
    match item {
        Item::Event(event, ..) => 2 * event.raw.len() + 512,
        Item::Record(_) | Item::Alert(_) => 512,
        Item::Handover(_, rows) => {
            64 + 256 * (rows.flows.len() + rows.traffic.len() + rows.dialled.len())
                + rows.fingerprints.iter().map(|f| 128 + f.text.len()).sum::<usize>()
        }
    }
}
