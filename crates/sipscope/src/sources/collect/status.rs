//! `sipscope collect status`: what the collector stored per sensor (the highest sequence of
//! each kind, when), and with a broker, how much waits in its consumer.

use crate::sinks::SinkError;
use std::path::Path;

/// One sensor's position in the collector's store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SensorPosition {
    /// The sensor.
    pub sensor: String,
    /// `event`, `auth` or `registration`.
    pub kind: String,
    /// The highest sequence stored.
    pub seq: i64,
    /// When it was stored, ns.
    pub stored_ns: i64,
}

/// The collector's status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CollectorStatus {
    /// Per sensor and kind.
    pub sensors: Vec<SensorPosition>,
    /// Messages the durable consumer has not yet been given (with a broker).
    pub pending: Option<u64>,
    /// Messages given and not yet acknowledged (with a broker).
    pub ack_pending: Option<u64>,
}

/// The positions stored in the collector's store at `path`.
pub fn collector_status(path: &Path) -> Result<CollectorStatus, SinkError> {
    let sensors = crate::sinks::collector_positions(path)?
        .into_iter()
        .map(|(sensor, kind, seq, stored_ns)| SensorPosition { sensor, kind, seq, stored_ns })
        .collect();
    Ok(CollectorStatus { sensors, pending: None, ack_pending: None })
}

/// The durable consumer's backlog: (not yet delivered, delivered and not acknowledged).
pub fn consumer_backlog(nats: &crate::sinks::nats::NatsConfig, durable: &str) -> Result<(u64, u64), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = nats.connect("sipscope collect status").await.map_err(|e| e.to_string())?;
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(&nats.stream.name).await.map_err(|e| format!("stream {}: {e}", nats.stream.name))?;
        let info = stream.consumer_info(durable).await.map_err(|e| format!("consumer {durable}: {e}"))?;
        Ok((info.num_pending, info.num_ack_pending as u64))
    })
}
