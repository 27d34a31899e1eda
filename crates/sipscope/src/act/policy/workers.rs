//! The responder's two workers, so that the pipeline's thread never waits on a firewall or a
//! store lock:
//! - [`EnforceWorker`] hands the latest set of decisions in force to the [`Enforcer`]; a newer
//!   set replaces one not yet applied (latest state wins);
//! - [`StoreWorker`] writes decisions and offences through the [`DecisionLog`] in order, from
//!   a bounded queue (a full queue drops the write and counts it: the decision still holds in
//!   memory and in the firewall).

use crate::act::{Decision, Enforcer, Scope};
use crate::sinks::decisions::DecisionLog;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// What the enforce worker did, for summaries and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnforceStatus {
    /// Reconciles that succeeded.
    pub applied: u64,
    /// Reconciles that failed.
    pub failed: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Slot {
    latest: Option<(i64, Vec<Decision>)>,
    stop: bool,
    status: EnforceStatus,
}

/// Applies the latest decisions in force on a thread of its own.
pub struct EnforceWorker {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl EnforceWorker {
    /// Starts the worker around `enforcer`.
    pub fn spawn(mut enforcer: Box<dyn Enforcer>) -> std::io::Result<EnforceWorker> {
        let shared: Arc<(Mutex<Slot>, Condvar)> = Arc::default();
        let theirs = Arc::clone(&shared);
        let handle = std::thread::Builder::new().name("enforce".into()).spawn(move || {
            let (lock, ready) = &*theirs;
            loop {
                let job = {
                    let Ok(mut slot) = lock.lock() else { return };
                    while slot.latest.is_none() && !slot.stop {
                        slot = match ready.wait(slot) {
                            Ok(s) => s,
                            Err(_) => return,
                        };
                    }
                    if slot.stop {
                        return;
                    }
                    slot.latest.take()
                };
                let Some((now_ns, active)) = job else { continue };
                let result = enforcer.reconcile(now_ns, &active);
                if let Ok(mut slot) = lock.lock() {
                    match result {
                        Ok(()) => slot.status.applied += 1,
                        Err(e) => {
                            slot.status.failed += 1;
                            slot.status.last_error = Some(e.to_string());
                        }
                    }
                    ready.notify_all();
                }
            }
        })?;
        Ok(EnforceWorker { shared, handle: Some(handle) })
    }

    /// Hands over the decisions in force at `now_ns`; replaces a set not yet applied.
    pub fn post(&self, now_ns: i64, active: Vec<Decision>) {
        let (lock, ready) = &*self.shared;
        if let Ok(mut slot) = lock.lock() {
            slot.latest = Some((now_ns, active));
            ready.notify_all();
        }
    }

    /// What it did so far.
    pub fn status(&self) -> EnforceStatus {
        self.shared.0.lock().map(|s| s.status.clone()).unwrap_or_default()
    }

    /// Waits until nothing posted is left to apply (tests, an orderly stop).
    pub fn settle(&self) {
        let (lock, ready) = &*self.shared;
        let Ok(mut slot) = lock.lock() else { return };
        while slot.latest.is_some() && !slot.stop {
            slot = match ready.wait(slot) {
                Ok(s) => s,
                Err(_) => return,
            };
        }
    }

    /// Stops the worker once its current reconcile ends; `join` waits for that.
    pub fn stop(&mut self, join: bool) {
        let (lock, ready) = &*self.shared;
        if let Ok(mut slot) = lock.lock() {
            slot.stop = true;
            ready.notify_all();
        }
        if let (true, Some(handle)) = (join, self.handle.take()) {
            let _ = handle.join();
        }
    }
}

impl Drop for EnforceWorker {
    fn drop(&mut self) {
        // Not joined: a firewall call that hangs must not hang the exit. Sets already applied
        // keep their timeouts.
        self.stop(false);
    }
}

/// A write for the store worker.
enum Write {
    /// Store a decision taken at this time by this sensor.
    Decision(Box<Decision>, i64),
    /// Count an offence of the scope at this time (forgiving those before the second).
    Offence(Scope, i64, i64),
    /// Answer when everything before it is written.
    Barrier(SyncSender<()>),
}

/// Writes decisions and offences in order on a thread of its own.
pub struct StoreWorker {
    queue: Option<SyncSender<Write>>,
    dropped: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    /// Decisions handled (stored or failed), in the order they were queued.
    written: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl StoreWorker {
    /// Starts the worker around `log`, with room for `capacity` writes.
    pub fn spawn(mut log: Box<dyn DecisionLog>, sensor: String, capacity: usize) -> std::io::Result<StoreWorker> {
        let (queue, writes): (SyncSender<Write>, Receiver<Write>) = sync_channel(capacity.max(1));
        let failed = Arc::new(AtomicU64::new(0));
        let failures = Arc::clone(&failed);
        let written = Arc::new(AtomicU64::new(0));
        let handled = Arc::clone(&written);
        let handle = std::thread::Builder::new().name("decisions-store".into()).spawn(move || {
            for write in writes {
                let result = match write {
                    Write::Decision(d, created_ns) => {
                        let result = log.insert(&d, Some(&sensor), created_ns).map(drop);
                        handled.fetch_add(1, Ordering::Release);
                        result
                    }
                    Write::Offence(scope, now_ns, forgiven) => log.add_offence(&scope, now_ns, forgiven).map(drop),
                    Write::Barrier(done) => {
                        let _ = done.send(());
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    if failures.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                        tracing::warn!("storing a decision failed: {e}");
                    }
                }
            }
        })?;
        Ok(StoreWorker { queue: Some(queue), dropped: Arc::default(), failed, written, handle: Some(handle) })
    }

    /// Queues a write; false when it was dropped.
    fn send(&self, write: Write) -> bool {
        let Some(queue) = &self.queue else { return false };
        match queue.try_send(write) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                    tracing::warn!("the decisions store is behind: a write was dropped (the decision still holds)");
                }
                false
            }
        }
    }

    /// Queues a decision taken at `created_ns`. A decision the full queue drops counts as
    /// handled (it will never be in the store).
    pub fn decision(&self, decision: &Decision, created_ns: i64) {
        if !self.send(Write::Decision(Box::new(decision.clone()), created_ns)) {
            self.written.fetch_add(1, Ordering::Release);
        }
    }

    /// Decisions handled so far (queued in order: the first this many are in the store, or
    /// never will be).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Queues an offence of `scope` at `now_ns`.
    pub fn offence(&self, scope: Scope, now_ns: i64, forgiven_before_ns: i64) {
        self.send(Write::Offence(scope, now_ns, forgiven_before_ns));
    }

    /// Waits until every write queued so far is done (tests, an orderly stop).
    pub fn settle(&self) {
        let Some(queue) = &self.queue else { return };
        let (done, wait) = sync_channel(1);
        if queue.send(Write::Barrier(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Writes dropped because the queue was full, and writes that failed.
    pub fn losses(&self) -> (u64, u64) {
        (self.dropped.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

impl Drop for StoreWorker {
    fn drop(&mut self) {
        // Closing the queue ends the worker after the writes already queued.
        self.queue = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
