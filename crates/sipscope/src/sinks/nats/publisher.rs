//! The outbox publisher: a thread with a small tokio runtime that reads the store after the
//! broker's last acknowledged row, publishes, awaits the acks (at most `max_in_flight`
//! outstanding) and only then saves the position. Any failure (broker gone, refused
//! credentials, a timeout) drops the connection and starts again from the saved position
//! after a growing pause (1 s to 30 s), logging a failure once per change of cause and then at
//! powers of two: the pipeline never waits, and the store keeps what is not yet published.
//!
//! A broker that refuses while the connection stays up (a negative ack: the stream at its
//! limits with `discard: new`; a permissions violation, which the server says in an `-ERR`
//! and never acknowledges) is said as such, kept in the store for `sensor status` and
//! counted; the pause then keeps doubling until something is acknowledged. Rows it refused
//! while it accepted a later message of the same window are kept as late runs and published
//! again apart, marked `Sipscope-Late`, so that the collector does not take them for
//! duplicates (docs/collector.md, "A broker that refuses").
//!
//! As a [`Sink`] of the pipeline it stores nothing: the store's commit (the pipeline flushes
//! its store before its extra sinks) wakes it, and dropping it drains for `drain_seconds`.

use super::wire::{self, Kind};
use super::{message_id, NatsConfig, Outbox, OutboxItem, ServerErrors};
use crate::analysis::result::Handover;
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use crate::sinks::{Sink, SinkError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

mod refusal;
#[cfg(test)]
mod tests;

/// What the publisher is doing, for logs and summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherStatus {
    /// Connected to the broker now.
    pub connected: bool,
    /// Messages the broker acknowledged since start.
    pub acked: u64,
    /// When the last ack came (ns).
    pub last_ack_ns: Option<i64>,
    /// Failures since start (connects, publishes, acks).
    pub failures: u64,
    /// The last failure, without secrets.
    pub last_error: Option<String>,
}

struct Shared {
    stop: AtomicBool,
    wake: Notify,
    status: Mutex<PublisherStatus>,
}

/// The running publisher.
pub struct Publisher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Starts publishing `outbox` (a store `sensor` writes) to the broker of `config`.
    pub fn spawn(config: NatsConfig, sensor: String, outbox: Box<dyn Outbox>) -> Result<Publisher, SinkError> {
        config.check()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            wake: Notify::new(),
            status: Mutex::new(PublisherStatus::default()),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|cause| SinkError::Io { what: "starting the NATS runtime".into(), cause })?;
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("nats-publisher".into())
            .spawn(move || {
                let mut run =
                    Run { config, sensor, outbox, shared: theirs, log: FailureLog::default(), progressed: false };
                runtime.block_on(run.run());
            })
            .map_err(|cause| SinkError::Io { what: "starting the NATS publisher thread".into(), cause })?;
        Ok(Publisher { shared, thread: Some(thread) })
    }

    /// A snapshot of its status.
    pub fn status(&self) -> PublisherStatus {
        self.shared.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops it: it publishes what is left for at most `drain_seconds`, then returns.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Sink for Publisher {
    // The store holds events and records; the publisher reads them from there once committed.
    fn write(&mut self, _event: SipEvent, _fields: SipFields) -> Result<(), SinkError> {
        Ok(())
    }

    fn record(&mut self, _record: Record) -> Result<(), SinkError> {
        Ok(())
    }

    // Analysis results stay with the sensor: the collector runs its own analysis.
    fn hand_over(&mut self, _run: i64, _rows: Handover) -> Result<(), SinkError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.shared.wake.notify_one();
        Ok(())
    }
}

/// Logs a failure when its cause changes, and at the 1st, 2nd, 4th, 8th … repeat.
#[derive(Default)]
struct FailureLog {
    last: String,
    repeats: u64,
}

impl FailureLog {
    fn failed(&mut self, message: &str) {
        if message != self.last {
            self.last = message.to_owned();
            self.repeats = 0;
        }
        self.repeats += 1;
        if self.repeats.is_power_of_two() {
            tracing::warn!(
                repeats = self.repeats,
                "publishing: {message}; events stay in the store and are sent later"
            );
        }
    }

    /// The broker acknowledged again; whether it had failed before.
    fn recovered(&mut self) -> bool {
        let failed = self.repeats > 0;
        if failed {
            tracing::info!("publishing: the broker acknowledges again");
        }
        self.last.clear();
        self.repeats = 0;
        failed
    }
}

struct Run {
    config: NatsConfig,
    sensor: String,
    outbox: Box<dyn Outbox>,
    shared: Arc<Shared>,
    log: FailureLog,
    /// The broker acknowledged something on the current connection.
    progressed: bool,
}

impl Run {
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    fn with_status(&self, f: impl FnOnce(&mut PublisherStatus)) {
        if let Ok(mut s) = self.shared.status.lock() {
            f(&mut s);
        }
    }

    async fn run(&mut self) {
        let mut pause = Duration::from_secs(1);
        let mut drain_until: Option<Instant> = None;
        loop {
            if self.stopping() {
                let until =
                    *drain_until.get_or_insert_with(|| Instant::now() + Duration::from_secs(self.config.drain_seconds));
                if Instant::now() >= until {
                    return;
                }
            }
            let name = format!("sipscope sensor {}", self.sensor);
            let errors = ServerErrors::default();
            self.progressed = false;
            let result = match self.config.connect_watching(&name, Some(errors.clone())).await {
                Ok(client) => {
                    self.with_status(|s| s.connected = true);
                    let r = self.publish(client.clone(), errors, drain_until).await;
                    self.with_status(|s| s.connected = false);
                    // Best effort: pending acks were awaited or given up.
                    let _ = client.drain().await;
                    r
                }
                Err(e) => Err(e),
            };
            // A connection that got acks resets the pause; one that was refused (or never
            // connected) does not, so a broker that keeps refusing is asked less and less often.
            if self.progressed {
                pause = Duration::from_secs(1);
            }
            match result {
                Ok(()) => return,
                Err(e) => {
                    self.note_lag_while_away();
                    let message = e.to_string();
                    self.log.failed(&message);
                    crate::metrics::sink_error(crate::metrics::Sink::Nats);
                    // Best effort, as above.
                    let _ = self.outbox.save_failure(&self.config.stream.name, Some(&message), crate::time::now_ns());
                    self.with_status(|s| {
                        s.failures += 1;
                        s.last_error = Some(message);
                    });
                }
            }
            if self.stopping() && drain_until.is_some_and(|u| Instant::now() + pause >= u) {
                return;
            }
            // The pause is not cut short by the store's commits, only by a stop.
            let until = Instant::now() + pause;
            while Instant::now() < until && !self.stopping() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    }

    /// The publish lag while the broker cannot be reached: the age of the oldest row not yet
    /// acknowledged, read from the outbox (best effort: a store that cannot answer leaves the
    /// last value).
    fn note_lag_while_away(&mut self) {
        let stream = self.config.stream.name.clone();
        let mut oldest: Option<i64> = None;
        for kind in Kind::ALL {
            let Ok(acked) = self.outbox.acked(&stream, kind) else { return };
            let Ok(items) = self.outbox.pending(kind, acked, 1) else { return };
            if let Some(item) = items.first() {
                oldest = Some(oldest.map_or(item.ts_ns, |o| o.min(item.ts_ns)));
            }
        }
        let age_ns = oldest.map_or(0, |ts| crate::time::now_ns().saturating_sub(ts));
        crate::metrics::set_publish_lag(crate::metrics::Sink::Nats, age_ns as f64 / 1e9);
    }

    /// Publishes until stopped and drained (`Ok`) or until a failure (`Err`).
    async fn publish(
        &mut self,
        client: async_nats::Client,
        errors: ServerErrors,
        mut drain_until: Option<Instant>,
    ) -> Result<(), SinkError> {
        let js = match self.config.jetstream(client).await {
            Ok(js) => js,
            // A user denied the JetStream API: the server says so in an `-ERR`, the request
            // only times out.
            Err(SinkError::Unavailable { backend, message }) => {
                let server = errors.lock().ok().and_then(|mut s| s.take());
                let message = match server {
                    Some(server) => {
                        format!("{message}; the server said: {}", crate::output::escape::terminal(&server, 256))
                    }
                    None => message,
                };
                return Err(SinkError::Unavailable { backend, message });
            }
            Err(e) => return Err(e),
        };
        let stream = self.config.stream.name.clone();
        let subject = self.config.subject(&self.sensor);
        let mut positions = [0i64; Kind::ALL.len()];
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            positions[i] = self.outbox.acked(&stream, kind)?;
        }
        let poll = Duration::from_millis(self.config.poll_ms.max(1));
        loop {
            if self.stopping() {
                let drain = Duration::from_secs(self.config.drain_seconds);
                if Instant::now() >= *drain_until.get_or_insert_with(|| Instant::now() + drain) {
                    return Ok(());
                }
            }
            self.publish_late(&js, &subject, &errors).await?;
            let mut sent = false;
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                let items = self.outbox.pending(kind, positions[i], self.config.batch)?;
                let Some(oldest) = items.first().map(|item| item.ts_ns) else {
                    continue;
                };
                // The oldest row not yet acknowledged: how far behind the broker is.
                let age_ns = crate::time::now_ns().saturating_sub(oldest);
                crate::metrics::set_publish_lag(crate::metrics::Sink::Nats, age_ns as f64 / 1e9);
                sent = true;
                let mut in_flight = VecDeque::new();
                let mut acked = positions[i];
                let mut late_rows = 0u64;
                let mut result = Ok(());
                for m in messages(&self.sensor, kind, items, &self.config) {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", m.id.as_str());
                    match js.publish_with_headers(subject.clone(), headers, m.payload.into()).await {
                        Ok(ack) => in_flight.push_back((m.first, m.last, ack)),
                        Err(e) => {
                            result = Err(unavailable(format!("publishing to {subject}: {e}")));
                            break;
                        }
                    }
                    if in_flight.len() >= self.config.max_in_flight {
                        if let Err(e) = self.settle(&mut in_flight, 1, kind, &mut acked, &mut late_rows).await {
                            result = Err(self.refused(&e, &subject, &errors));
                            break;
                        }
                    }
                }
                if result.is_ok() {
                    if let Err(e) = self.settle(&mut in_flight, usize::MAX, kind, &mut acked, &mut late_rows).await {
                        result = Err(self.refused(&e, &subject, &errors));
                    }
                }
                if acked > positions[i] {
                    let now = crate::time::now_ns();
                    self.outbox.save_ack(&stream, kind, acked, now)?;
                    let n = u64::try_from(acked - positions[i]).unwrap_or(0).saturating_sub(late_rows);
                    positions[i] = acked;
                    if kind == Kind::Event {
                        crate::metrics::events_out(crate::metrics::Sink::Nats, n);
                    }
                    self.with_status(|s| {
                        s.acked += n;
                        s.last_ack_ns = Some(now);
                    });
                    self.progressed = true;
                    if result.is_ok() && self.log.recovered() {
                        // Best effort: `sensor status` reads it; a store that cannot say it
                        // now says it at the next failure or recovery.
                        let _ = self.outbox.save_failure(&stream, None, now);
                        self.with_status(|s| s.last_error = None);
                    }
                }
                result?;
            }
            if sent {
                continue;
            }
            crate::metrics::set_publish_lag(crate::metrics::Sink::Nats, 0.0);
            if self.log.recovered() {
                // Connected, nothing refused, nothing left: the failure is over.
                let _ = self.outbox.save_failure(&stream, None, crate::time::now_ns());
                self.with_status(|s| s.last_error = None);
            }
            if self.stopping() {
                // Nothing left: done.
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.shared.wake.notified() => {}
            }
        }
    }
}

/// One NATS message to publish: rows `first..=last` of a kind.
struct Outgoing {
    first: i64,
    last: i64,
    id: String,
    payload: Vec<u8>,
}

/// The NATS messages of `items` (rows of `kind` in sequence order): runs of up to
/// `message_rows` rows and `message_bytes` bytes as one batch each (compressed, wire version 3,
/// unless `compress` is off), with the id
/// `<sensor>:<kind>:<first>-<last>` (the same rows published again carry the same id, so the
/// stream drops them within its window), or, with `message_rows` 1, one version-1 message per
/// row with the id [`message_id`]. Each comes with the sequences of its first and last rows.
fn messages(sensor: &str, kind: Kind, items: Vec<OutboxItem>, config: &NatsConfig) -> Vec<Outgoing> {
    let rows = config.message_rows.max(1);
    if rows == 1 {
        return items
            .into_iter()
            .map(|item| Outgoing {
                first: item.seq,
                last: item.seq,
                id: message_id(sensor, kind, item.seq),
                payload: item.payload,
            })
            .collect();
    }
    let mut out = Vec::new();
    let mut run: Vec<OutboxItem> = Vec::new();
    let mut run_bytes = 0usize;
    // Without a compressor (zstd could not make its context) batches go uncompressed.
    let mut packer = if config.compress { wire::Packer::new().ok() } else { None };
    let mut batch = Vec::new();
    let mut close = |run: &mut Vec<OutboxItem>| {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            let id = format!("{sensor}:{}:{}-{}", kind.as_str(), first.seq, last.seq);
            batch.clear();
            batch.reserve(run.iter().map(|i| i.payload.len() + 4).sum::<usize>() + 5);
            wire::encode_batch(run.iter().map(|i| i.payload.as_slice()), &mut batch);
            let mut packed = Vec::new();
            let payload = match packer.as_mut().map(|p| p.pack(&batch, &mut packed)) {
                Some(Ok(())) => packed,
                _ => std::mem::take(&mut batch),
            };
            out.push(Outgoing { first: first.seq, last: last.seq, id, payload });
        }
        run.clear();
    };
    for item in items {
        if !run.is_empty() && (run.len() >= rows || run_bytes + item.payload.len() > config.message_bytes) {
            close(&mut run);
            run_bytes = 0;
        }
        run_bytes += item.payload.len();
        run.push(item);
    }
    close(&mut run);
    out
}

fn unavailable(message: String) -> SinkError {
    SinkError::Unavailable { backend: "NATS", message }
}
