//! Sensors publish what they stored to NATS JetStream (issue 16; docs/collector.md). The local
//! store is the outbox: the [`publisher`] reads events and records after the broker's last
//! acknowledged row id, publishes each to `sipscope.events.<sensor>` with the message id
//! `<sensor>:<kind>:<seq>` (the stream drops duplicates within its window; the collector drops
//! the rest by sequence), and saves the position only after the broker's ack. It runs on a
//! small tokio runtime in a thread of its own: the pipeline never waits for the broker, the
//! store keeps growing while the broker is away, and the publisher catches up afterwards.
//!
//! `connect.rs` turns [`NatsConfig`] into a connection (TLS, credentials; no secret is ever
//! logged), `wire.rs` is the message encoding, `publisher.rs` the outbox loop.

pub mod connect;
pub mod publisher;
pub mod wire;

pub use connect::{NatsAuth, NatsConfig, ServerErrors, StreamSettings};
pub use publisher::{Publisher, PublisherStatus};

use crate::sinks::SinkError;
use wire::Kind;

/// The header of a message whose rows the broker refused once while it accepted later rows of
/// the same sensor (a late run): the collector takes them although it stored later sequences.
pub const LATE_HEADER: &str = "Sipscope-Late";

/// One row of the outbox, encoded.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    /// Its row id in the sensor's store (the sequence of its kind).
    pub seq: i64,
    /// When it happened (ns): how old the oldest unacknowledged row is, for the publish lag.
    pub ts_ns: i64,
    /// The wire encoding.
    pub payload: Vec<u8>,
}

/// Where one kind stands in the outbox (`sipscope sensor status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxState {
    /// The kind.
    pub kind: Kind,
    /// The newest row id stored.
    pub newest: i64,
    /// The highest row id the broker acknowledged.
    pub acked: i64,
    /// When it acknowledged it (ns), if ever.
    pub acked_ns: Option<i64>,
    /// Rows stored and not yet acknowledged.
    pub waiting: u64,
}

/// Why publishing fails now (`sipscope sensor status`), as the publisher last saved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxFailure {
    /// Failures since the broker last acknowledged a publish.
    pub failures: u64,
    /// The last one, without secrets.
    pub last_error: String,
    /// When it happened (ns).
    pub last_ns: i64,
    /// When this run of failures began (ns).
    pub since_ns: i64,
}

/// The store seen as an outbox: implemented by the SQLite store (`sinks/sqlite/outbox.rs`).
pub trait Outbox: Send {
    /// Up to `limit` rows of `kind` after row id `after`, in id order.
    fn pending(&mut self, kind: Kind, after: i64, limit: usize) -> Result<Vec<OutboxItem>, SinkError>;
    /// The highest row id of `kind` the broker acknowledged for `stream` (0: none).
    fn acked(&mut self, stream: &str, kind: Kind) -> Result<i64, SinkError>;
    /// Records that the broker acknowledged every row of `kind` up to `seq` (never lowers it).
    fn save_ack(&mut self, stream: &str, kind: Kind, seq: i64, now_ns: i64) -> Result<(), SinkError>;
    /// Where each kind stands.
    fn state(&mut self, stream: &str) -> Result<Vec<OutboxState>, SinkError>;
    /// Records a failure to publish to `stream` (`Some`) or that the broker acknowledges
    /// again (`None`: the failures are cleared).
    fn save_failure(&mut self, stream: &str, error: Option<&str>, now_ns: i64) -> Result<(), SinkError>;
    /// Why publishing to `stream` fails now, if it does.
    fn failure(&mut self, stream: &str) -> Result<Option<OutboxFailure>, SinkError>;
    /// Keeps rows `first..=last` of `kind` as refused below the acknowledged position (saved
    /// before that position is raised past them).
    fn save_late(&mut self, stream: &str, kind: Kind, first: i64, last: i64) -> Result<(), SinkError>;
    /// The late runs of `stream`: (kind, first, last), oldest first.
    fn late(&mut self, stream: &str) -> Result<Vec<(Kind, i64, i64)>, SinkError>;
    /// The broker acknowledged the late run of `kind` that starts at `first`.
    fn clear_late(&mut self, stream: &str, kind: Kind, first: i64) -> Result<(), SinkError>;
}

/// The subject token of a sensor name: NATS subjects are dot-separated tokens without spaces
/// or wildcards, so anything else becomes `_` (the message itself carries the name as is).
pub fn subject_token(sensor: &str) -> String {
    let token: String = sensor
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(128)
        .collect();
    if token.is_empty() {
        "_".into()
    } else {
        token
    }
}

/// The `Nats-Msg-Id` of a row: the stream drops a second message with the same id within its
/// duplicate window.
pub fn message_id(sensor: &str, kind: Kind, seq: i64) -> String {
    format!("{sensor}:{}:{seq}", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_names_become_single_subject_tokens() {
        assert_eq!(subject_token("sensor-1"), "sensor-1");
        assert_eq!(subject_token("pbx.example.org"), "pbx_example_org");
        assert_eq!(subject_token("a b*>"), "a_b__");
        assert_eq!(subject_token(""), "_");
        assert_eq!(message_id("s1", Kind::Auth, 7), "s1:auth:7");
    }
}
