//! `sipscope collect`: what sensors published to NATS JetStream, as a source (issue 16;
//! docs/collector.md). A durable pull consumer of the sensors' stream, pulled ahead and bounded
//! in bytes; each message (one row, or a publisher's batch of rows) is decoded
//! (`sinks::nats::wire`) and each row handed to the one pipeline under its own sensor, node and
//! time, so the collector runs the same analysis and rules across every sensor. Records get the
//! collector store's own ids.
//!
//! Exactly once: the highest sequence stored per (publishing sensor, kind) — the sensor named
//! by the subject, whose store's row ids are the sequences — is kept in memory and in the
//! store (`EventStore::commit_collected`, committed in the batch's transaction); a message at
//! or below it is a duplicate (a redelivery, a sensor that published again after an outage) and
//! is acknowledged without being stored — unless it carries `Sipscope-Late` (rows a refusing
//! broker accepted out of order: `sinks/nats/publisher.rs`), whose rows are new below it. A
//! batch commits on the store's writer thread while the next rows are taken, and is
//! acknowledged (ack-all, by its last message) only after the store committed it: a collector
//! killed before that gets the batch again and recognises what it already stored. What it
//! holds between broker and store, and why no delivery is acknowledged unread: `flow.rs`.

mod decisions;
mod flow;
mod status;

pub use decisions::DecisionShare;
pub use status::{collector_status, consumer_backlog, CollectorStatus, SensorPosition};

use crate::event::record::Record;
use crate::pipeline::{Arrival, NodeOf, Note, Pipeline};
use crate::sinks::nats::wire::{self, Decoded, Kind};
use crate::sinks::nats::{NatsConfig, LATE_HEADER};
use crate::sinks::SinkError;
use crate::sources::honeypot::net::notes as hp_notes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Rows per commit by default: a commit costs the database a few milliseconds beyond its
/// rows (the transaction, the positions, the alerts' statements), 1.5 µs an event at 2,048
/// rows, a quarter of that at 8,192 (docs/benchmarks.md); below the store's own commit every
/// 20,000 writes.
pub const DEFAULT_BATCH: usize = 8192;

/// How the collector consumes.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// The broker and stream.
    pub nats: NatsConfig,
    /// The durable consumer's name (several collectors with one name share the work; give
    /// each store its own name). Default `sipscope-collector`.
    pub durable: String,
    /// Rows (events and records) stored and acknowledged at once: the batch is committed at
    /// the first message boundary at or past it (a publisher's message carries up to its
    /// `message_rows`), while the next rows are taken. Default [`DEFAULT_BATCH`].
    pub batch: usize,
    /// How long a message may stay unacknowledged before the broker delivers it again,
    /// seconds. Default 60.
    pub ack_wait_seconds: u64,
    /// How often the lag per sensor is logged, seconds. Default 10.
    pub lag_every_seconds: u64,
    /// Stop after this many rows received (tests, benchmarks); `None`: until stopped.
    pub max_messages: Option<u64>,
    /// Stop when nothing arrived for this long (tests, benchmarks); `None`: until stopped.
    pub idle_exit: Option<Duration>,
    /// Share the decisions in force of the collector's store through this KV bucket.
    pub share_decisions: Option<DecisionShare>,
}

impl CollectConfig {
    /// The defaults for a broker.
    pub fn new(nats: NatsConfig) -> CollectConfig {
        CollectConfig {
            nats,
            durable: "sipscope-collector".into(),
            batch: DEFAULT_BATCH,
            ack_wait_seconds: 60,
            lag_every_seconds: 10,
            max_messages: None,
            idle_exit: None,
            share_decisions: None,
        }
    }
}

/// What a collector run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CollectSummary {
    /// NATS messages received (a batch carries several rows).
    pub messages: u64,
    /// Rows received (events and records, single or in batches; a batch that does not decode
    /// counts as one).
    pub received: u64,
    /// Events handed to the pipeline.
    pub events: u64,
    /// Records handed to the pipeline.
    pub records: u64,
    /// Messages already stored (redelivered or published twice), acknowledged and dropped.
    pub duplicates: u64,
    /// Messages that did not decode (another version, damage), acknowledged and dropped.
    pub malformed: u64,
    /// Connection failures ridden out.
    pub reconnects: u64,
    /// Decisions put in the shared bucket.
    pub decisions_shared: u64,
}

/// Why the collector stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The store failed: nothing more is acknowledged (the broker keeps it).
    #[error("store: {0}")]
    Store(SinkError),
    /// The runtime could not start.
    #[error("starting the NATS runtime: {0}")]
    Runtime(std::io::Error),
}

// Not `#[from]`: that would make the store's error the source too, and a chain of causes
// (anyhow's `{:#}`) would say it twice.
impl From<SinkError> for CollectError {
    fn from(e: SinkError) -> CollectError {
        CollectError::Store(e)
    }
}

/// Consumes until `stop` (or a limit of `config`), writing through `pipeline`.
pub fn run(config: &CollectConfig, pipeline: &mut Pipeline, stop: &AtomicBool) -> Result<CollectSummary, CollectError> {
    // Multi-threaded (one worker), so that the pipeline's work can leave the runtime's
    // context (`blocking`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(CollectError::Runtime)?;
    let mut c = Collector {
        config,
        positions: HashMap::new(),
        changed: HashMap::new(),
        last_event_ns: HashMap::new(),
        summary: CollectSummary::default(),
        next_auth_id: 0,
        failures: 0,
        stream_seq: 0,
    };
    for (sensor, kind, seq) in pipeline.store().collected_positions()? {
        if sensor == STREAM_POSITION {
            if kind == config.nats.stream.name {
                c.stream_seq = u64::try_from(seq).unwrap_or(0);
            }
        } else if let Some(kind) = Kind::from_name(&kind) {
            c.positions.insert((sensor, kind), seq);
        }
    }
    c.next_auth_id = pipeline.next_auth_attempt_id()?;
    runtime.block_on(c.run(pipeline, stop))?;
    Ok(c.summary)
}

struct Collector<'a> {
    config: &'a CollectConfig,
    /// Highest sequence stored per (sensor, kind).
    positions: HashMap<(String, Kind), i64>,
    /// Positions raised in the current batch.
    changed: HashMap<(String, Kind), i64>,
    /// Newest event time per sensor (lag).
    last_event_ns: HashMap<String, i64>,
    summary: CollectSummary,
    next_auth_id: i64,
    failures: u64,
    /// The stream sequence of the last message whose batch the store committed: the consumer
    /// is made again from the next one at every (re)connection, so that nothing delivered
    /// but not committed is skipped and every sensor's messages come in order.
    stream_seq: u64,
}

/// The `collector_positions.sensor` under which the stream's own position is kept (its kind
/// is the stream's name).
const STREAM_POSITION: &str = "$stream";

impl Collector<'_> {
    fn done(&self, stop: &AtomicBool) -> bool {
        stop.load(Ordering::SeqCst) || self.config.max_messages.is_some_and(|m| self.summary.received >= m)
    }

    async fn run(&mut self, pipeline: &mut Pipeline, stop: &AtomicBool) -> Result<(), CollectError> {
        let mut pause = Duration::from_secs(1);
        let mut idle_since = Instant::now();
        while !self.done(stop) {
            match self.consume(pipeline, stop, &mut idle_since).await {
                Ok(()) => return Ok(()),
                Err(Failure::Store(e)) => return Err(CollectError::Store(e)),
                Err(Failure::Broker(message)) => {
                    self.failures += 1;
                    self.summary.reconnects += 1;
                    if self.failures.is_power_of_two() {
                        tracing::warn!(failures = self.failures, "collect: {message}; retrying");
                    }
                }
            }
            if self.config.idle_exit.is_some_and(|d| idle_since.elapsed() >= d) {
                return Ok(());
            }
            let until = Instant::now() + pause;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            blocking(|| pipeline.tick(crate::time::now_ns()))?;
            pause = (pause * 2).min(Duration::from_secs(10));
        }
        Ok(())
    }

    async fn consume(
        &mut self,
        pipeline: &mut Pipeline,
        stop: &AtomicBool,
        idle_since: &mut Instant,
    ) -> Result<(), Failure> {
        use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
        let cfg = self.config;
        let client = cfg.nats.connect("sipscope collect").await.map_err(|e| Failure::Broker(e.to_string()))?;
        let js = cfg.nats.jetstream(client.clone()).await.map_err(|e| Failure::Broker(e.to_string()))?;
        let stream = js
            .get_stream(&cfg.nats.stream.name)
            .await
            .map_err(|e| Failure::Broker(format!("stream {}: {e}", cfg.nats.stream.name)))?;
        // Made again from the committed position (one collector per durable name).
        if stream.consumer_info(&cfg.durable).await.is_ok() {
            stream
                .delete_consumer(&cfg.durable)
                .await
                .map_err(|e| Failure::Broker(format!("consumer {}: {e}", cfg.durable)))?;
        }
        let consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(cfg.durable.clone()),
                deliver_policy: match self.stream_seq {
                    0 => DeliverPolicy::All,
                    seq => DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
                },
                ack_policy: AckPolicy::All,
                ack_wait: Duration::from_secs(cfg.ack_wait_seconds.max(1)),
                filter_subject: format!("{}.>", cfg.nats.stream.subject_prefix),
                // Room for the batch in hand, those committing and what is pulled ahead.
                max_ack_pending: i64::try_from(cfg.batch.saturating_mul(flow::ACK_PENDING_BATCHES)).unwrap_or(i64::MAX),
                ..Default::default()
            })
            .await
            .map_err(|e| Failure::Broker(format!("consumer {}: {e}", cfg.durable)))?;
        // Pulled ahead while the rows in hand are parsed and committed, bounded in bytes.
        let pull_bytes = flow::PULL_BYTES.max(client.server_info().max_payload);
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(cfg.batch.max(1))
            .max_bytes_per_batch(pull_bytes)
            .expires(flow::PULL_EXPIRES)
            .heartbeat(flow::PULL_HEARTBEAT)
            .messages()
            .await
            .map_err(|e| Failure::Broker(format!("consumer {}: {e}", cfg.durable)))?;
        if self.failures > 0 {
            tracing::info!("collect: connected again");
        }
        self.failures = 0;
        let mut shared = match &cfg.share_decisions {
            Some(share) => Some(share.open(&js).await.map_err(Failure::Broker)?),
            None => None,
        };
        let mut flow = flow::Flow::new(self.stream_seq);
        let ended = self.pump(pipeline, stop, idle_since, &consumer, &mut messages, &mut shared, &mut flow).await;
        // However it ended: the rows in hand (unless the store failed) and every commit under
        // way are settled and acknowledged before the consumer is made again from the stream
        // position, so that nothing committed comes twice and nothing taken is skipped.
        let settled = match &ended {
            Err(Failure::Store(_)) => Ok(()),
            _ => self.drain(pipeline, &mut flow).await,
        };
        match (ended, settled) {
            (Err(Failure::Store(e)), _) | (_, Err(Failure::Store(e))) => Err(Failure::Store(e)),
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// Takes messages until a limit, an idle exit, `stop` or a failure: rows are handed to the
    /// pipeline as they come and committed every `batch` rows (or when nothing came for
    /// [`flow::IDLE_COMMIT`]) while the next ones are taken; each batch is acknowledged once
    /// the store says it is committed.
    #[allow(clippy::too_many_arguments)]
    async fn pump(
        &mut self,
        pipeline: &mut Pipeline,
        stop: &AtomicBool,
        idle_since: &mut Instant,
        consumer: &async_nats::jetstream::consumer::PullConsumer,
        messages: &mut async_nats::jetstream::consumer::pull::Stream,
        shared: &mut Option<decisions::Sharing>,
        flow: &mut flow::Flow,
    ) -> Result<(), Failure> {
        let cfg = self.config;
        let mut next_lag = Instant::now() + Duration::from_secs(cfg.lag_every_seconds.max(1));
        while !self.done(stop) {
            let next = tokio::time::timeout(flow::IDLE_COMMIT, messages.next()).await;
            self.settle(pipeline, flow, false).await?;
            match next {
                Ok(Some(Ok(message))) => {
                    *idle_since = Instant::now();
                    let Some(stream_seq) = flow.delivered(&message).map_err(Failure::Broker)? else {
                        // Delivered again while it was being committed (a commit slower than
                        // the ack wait): it is taken already.
                        self.summary.duplicates += 1;
                        continue;
                    };
                    // The publishing sensor is the subject's last token (the event names its own
                    // sensor, which may differ: a HEP store holds several).
                    let publisher = message.subject.rsplit('.').next().unwrap_or("").to_owned();
                    let before = self.summary.received;
                    let late = message.headers.as_ref().is_some_and(|h| h.get(LATE_HEADER).is_some());
                    blocking(|| self.take_message(pipeline, &publisher, &message.payload, late));
                    flow.took(message, stream_seq, self.summary.received.saturating_sub(before));
                    // A pull may carry more rows than one transaction should: commit at the
                    // message where `batch` rows are reached.
                    if flow.rows >= cfg.batch as u64 {
                        self.start_commit(pipeline, flow).await?;
                    }
                }
                Ok(Some(Err(e))) => return Err(Failure::Broker(format!("fetching: {e}"))),
                Ok(None) => return Err(Failure::Broker("fetching: the consumer's messages ended".into())),
                Err(_) if flow.in_hand() => self.start_commit(pipeline, flow).await?,
                Err(_) => {
                    if flow.idle() && cfg.idle_exit.is_some_and(|d| idle_since.elapsed() >= d) {
                        return Ok(());
                    }
                }
            }
            if flow.in_hand() {
                continue;
            }
            // Everything taken is committed or committing: the pipeline may tick (which
            // commits too) and hand its analysis over.
            let now = crate::time::now_ns();
            blocking(|| pipeline.tick(now)).map_err(Failure::Store)?;
            if let Some(shared) = shared.as_mut() {
                self.summary.decisions_shared += shared.share(now).await;
            }
            if Instant::now() >= next_lag {
                next_lag = Instant::now() + Duration::from_secs(cfg.lag_every_seconds.max(1));
                self.log_lag(consumer, now).await;
            }
        }
        Ok(())
    }

    /// Commits the rows in hand with their positions and the stream sequence of their last
    /// message, without waiting for the commit (at most [`flow::MAX_COMMITTING`] at once).
    async fn start_commit(&mut self, pipeline: &mut Pipeline, flow: &mut flow::Flow) -> Result<(), Failure> {
        if !flow.in_hand() {
            return Ok(());
        }
        while flow.committing() >= flow::MAX_COMMITTING {
            self.settle(pipeline, flow, true).await?;
        }
        let now = crate::time::now_ns();
        if pipeline.failed() {
            let e = blocking(|| pipeline.tick(now).err()).unwrap_or(SinkError::Writer("the store failed".into()));
            return Err(Failure::Store(e));
        }
        // Positions commit with the batch's events; only then is the batch acknowledged.
        let mut changed: Vec<(String, String, i64)> =
            self.changed.drain().map(|((s, k), seq)| (s, k.as_str().to_owned(), seq)).collect();
        let stream_seq = i64::try_from(flow.taken_seq()).unwrap_or(i64::MAX);
        changed.push((STREAM_POSITION.to_owned(), self.config.nats.stream.name.clone(), stream_seq));
        let committing = blocking(|| pipeline.store().commit_collected(changed, now)).map_err(Failure::Store)?;
        flow.committed(committing);
        Ok(())
    }

    /// Acknowledges, in order, the batches whose commit is done (waiting for the oldest when
    /// `wait`); the stream position follows.
    async fn settle(&mut self, pipeline: &mut Pipeline, flow: &mut flow::Flow, wait: bool) -> Result<(), Failure> {
        let mut failed_ack = None;
        let mut wait = wait;
        while let Some(outcome) = flow.outcome(wait) {
            wait = false;
            let (last, stream_seq) = outcome.map_err(Failure::Store)?;
            if pipeline.failed() {
                let now = crate::time::now_ns();
                let e = blocking(|| pipeline.tick(now).err()).unwrap_or(SinkError::Writer("the store failed".into()));
                return Err(Failure::Store(e));
            }
            self.stream_seq = stream_seq;
            // A lost acknowledgement loses nothing: the message comes again and is recognised
            // (`Flow::delivered`), or the consumer is made again from the stream position.
            if let Err(e) = last.ack().await {
                failed_ack.get_or_insert(Failure::Broker(format!("acknowledging: {e}")));
            }
        }
        failed_ack.map_or(Ok(()), Err)
    }

    /// Commits the rows in hand and waits for every commit under way, acknowledging each.
    async fn drain(&mut self, pipeline: &mut Pipeline, flow: &mut flow::Flow) -> Result<(), Failure> {
        let mut result = self.start_commit(pipeline, flow).await;
        while flow.committing() > 0 {
            match self.settle(pipeline, flow, true).await {
                Err(Failure::Store(e)) => return Err(Failure::Store(e)),
                Err(e) => result = result.and(Err(e)),
                Ok(()) => {}
            }
        }
        result
    }

    /// Takes one NATS message: a single row or a batch of them, maybe compressed (wire
    /// versions 1 to 3). A `late` one carries rows the broker refused once while it accepted
    /// later ones: they are below the sensor's stored position and new all the same (the
    /// stream holds them once: the collector's stream position keeps them from being taken
    /// twice).
    fn take_message(&mut self, pipeline: &mut Pipeline, publisher: &str, payload: &[u8], late: bool) {
        self.summary.messages += 1;
        let items = wire::unpack(payload).and_then(|batch| {
            let items = wire::split(&batch)?;
            for item in items {
                self.take(pipeline, publisher, item, late);
            }
            Ok(())
        });
        if let Err(e) = items {
            self.summary.received += 1;
            self.malformed(&e);
        }
    }

    fn malformed(&mut self, e: &wire::WireError) {
        self.summary.malformed += 1;
        if self.summary.malformed.is_power_of_two() {
            tracing::warn!(malformed = self.summary.malformed, "collect: a message does not decode: {e}");
        }
    }

    /// Decodes one row and hands it to the pipeline unless it was stored before.
    fn take(&mut self, pipeline: &mut Pipeline, publisher: &str, payload: &[u8], late: bool) {
        self.summary.received += 1;
        let message = match wire::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                self.malformed(&e);
                return;
            }
        };
        let key = (publisher.to_owned(), message.kind());
        let stored = self.positions.get(&key).copied().unwrap_or(0);
        if message.seq <= stored && !late {
            self.summary.duplicates += 1;
            return;
        }
        if message.seq > stored {
            self.positions.insert(key.clone(), message.seq);
            self.changed.insert(key, message.seq);
        }
        match message.body {
            Decoded::Event(e) => {
                let ev = &e.event;
                let newest = self.last_event_ns.entry(publisher.to_owned()).or_insert(ev.ts_ns);
                *newest = (*newest).max(ev.ts_ns);
                self.summary.events += 1;
                let notes = sensor_notes(&e.anomalies);
                let not_a_message = notes.iter().any(|n| NOT_A_MESSAGE.contains(n));
                let note = Note { anomalies: &notes, detail: None, not_a_message };
                pipeline.accept_with_note(
                    Arrival {
                        ts_ns: ev.ts_ns,
                        transport: ev.transport,
                        src: ev.src,
                        dst: ev.dst,
                        tunnel: ev.tunnel,
                        direction: ev.direction,
                        packet: None,
                        node: NodeOf::Known(ev.node.as_deref()),
                        sensor: Some(&ev.sensor),
                        bytes: &ev.raw,
                    },
                    note,
                );
            }
            Decoded::Auth(mut a) => {
                // The collector's own id; the sensor's is kept for the recovery that may follow.
                a.published_seq = Some(a.id);
                a.id = self.next_auth_id;
                self.next_auth_id += 1;
                self.summary.records += 1;
                pipeline.record(Record::AuthAttempt(a));
            }
            Decoded::Recovery(r) => {
                // Applied to the attempt the sensor published under `r.attempt_id`: the sensor
                // sends a recovery only after the broker acknowledged that attempt.
                self.summary.records += 1;
                pipeline.record(Record::Recovered(r));
            }
            Decoded::Registration(r) => {
                self.summary.records += 1;
                pipeline.record(Record::Registration(r));
            }
        }
    }

    /// Logs the consumer's backlog and, per sensor, the newest sequence stored and how far
    /// its newest event lies behind the clock.
    async fn log_lag(&self, consumer: &async_nats::jetstream::consumer::PullConsumer, now: i64) {
        let mut consumer = consumer.clone();
        let pending = consumer.info().await.map(|i| i.num_pending).ok();
        for ((sensor, kind), seq) in &self.positions {
            if *kind != Kind::Event {
                continue;
            }
            let lag_ms = self.last_event_ns.get(sensor).map(|t| now.saturating_sub(*t) / 1_000_000);
            // (Event lag is by the events' own sensor, positions by the publisher: the same
            // name unless a store holds several sensors' events.)
            tracing::info!(
                sensor = %crate::output::escape::terminal(sensor, 64),
                stored_seq = seq,
                event_lag_ms = lag_ms,
                pending,
                "collect: lag"
            );
        }
    }
}

/// Runs `f`, the pipeline's or the store's synchronous work, outside the runtime's context:
/// the PostgreSQL store's client blocks on a runtime of its own, which cannot start on a
/// thread that is driving this one (it panicked there).
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The sensor-side anomaly names (what a sensor knew beyond the bytes: the parser cannot
/// derive them again) among an event's stored names, as the pipeline's notes.
/// (Most events have no anomaly at all: then nothing is allocated.)
fn sensor_notes(stored: &str) -> Vec<&'static str> {
    if stored.is_empty() {
        return Vec::new();
    }
    let known = || hp_notes::ALL.iter().chain(crate::sources::wire::notes::ALL).copied();
    stored.split(' ').filter_map(|name| known().find(|k| *k == name)).collect()
}

/// Notes of records that are not SIP messages (a refused connection, the WebSocket layer's
/// frames): stored as `invalid` even when blank, as the honeypot stored them.
const NOT_A_MESSAGE: &[&str] = &[
    hp_notes::CONNECTION_REFUSED,
    hp_notes::WS_UPGRADE,
    hp_notes::WS_CONTROL_FRAME,
    hp_notes::WS_HANDSHAKE_REFUSED,
    hp_notes::WS_PROTOCOL_ERROR,
];

enum Failure {
    Broker(String),
    Store(SinkError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sensor_notes_are_picked_out_of_the_stored_names() {
        assert_eq!(sensor_notes("missing_via ws_over_tls ip_truncated bogus"), vec!["ws_over_tls", "ip_truncated"]);
        assert!(sensor_notes("").is_empty());
        assert!(NOT_A_MESSAGE.iter().all(|n| sensor_notes(n) == vec![*n]));
    }
}
