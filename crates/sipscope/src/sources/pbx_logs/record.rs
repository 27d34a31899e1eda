//! An event read from a log, as the authentication attempt the store keeps beside the
//! honeypot's: the origin (which log and line format), the file and the line exactly as
//! read travel with it.

use super::{Happened, LogEvent};
use crate::event::fields::lossless_text;
use crate::event::record::{AuthAttemptRecord, LogLine, RecordContext};
use crate::event::Transport;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where the line was read and what to fill in when it does not say.
#[derive(Debug, Clone, Copy)]
pub struct LineSource<'a> {
    /// Sensor name.
    pub sensor: &'a str,
    /// The file, as named on the command line.
    pub file: &'a str,
    /// The time of a line without a stamp (when it was read), ns.
    pub fallback_ns: i64,
}

/// The attempt an event records (`None` for challenges and other events), with id `id`.
///
/// What the log does not say is filled in visibly, never guessed: the PBX's own address is
/// the unspecified address with port 0 (only security events name it), the transport `udp`
/// (only security events name it; see docs/pbx-logs.md), the method empty when the line has
/// none.
pub fn to_record(event: &LogEvent<'_>, raw: &[u8], source: &LineSource<'_>, id: i64) -> Option<AuthAttemptRecord> {
    let Happened::Attempt(outcome) = event.happened else { return None };
    let unspecified = match event.src.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let text = |b: Option<&[u8]>| b.map(lossless_text);
    let ctx = RecordContext {
        ts_ns: event.ts_ns.unwrap_or(source.fallback_ns),
        sensor: source.sensor.to_owned(),
        node: None,
        transport: event.transport.unwrap_or(Transport::Udp),
        src: event.src,
        dst: event.dst.unwrap_or(SocketAddr::new(unspecified, 0)),
        call_id: text(event.call_id),
        user_agent: None,
    };
    Some(AuthAttemptRecord {
        id,
        ctx,
        method: text(event.method).unwrap_or_default(),
        username: text(event.username).unwrap_or_default(),
        realm: None,
        uri: text(event.extension),
        nonce: None,
        outcome,
        password: None,
        log: Some(LogLine { origin: event.kind.as_str(), file: source.file.to_owned(), line: raw.to_vec() }),
        published_seq: None,
    })
}
