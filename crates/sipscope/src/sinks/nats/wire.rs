//! The wire encoding of what a sensor publishes (docs/collector.md, "Wire encoding"): a stored
//! event or record as one message (version 1), or several of them in one NATS message (a batch,
//! version 2), which may go compressed (version 3, `wire/packed.rs`), compact and versioned, so
//! that a collector of another version knows what it reads and refuses what it does not.
//!
//! Layout (all integers big-endian): a version byte ([`VERSION`]), a kind byte ([`Kind`]),
//! the sensor's sequence (its store's row id, i64), then the kind's fields in a fixed order.
//! Text is a u32 length and UTF-8 bytes; bytes are a u32 length and the bytes; an optional
//! value is a byte 0 (absent) or 1 followed by the value; an address is 4 or 6 then 4 or 16
//! bytes. Fields re-derivable from the raw bytes are not sent; what the sensor knew beyond
//! the bytes (its anomaly notes, the reason of bytes that are not SIP) is.

mod packed;

pub use packed::{unpack, Packer, MAX_UNPACKED, PACKED_VERSION};

use crate::event::record::{
    AuthAttemptRecord, LogLine, RecordContext, RecoveredPassword, RegistrationRecord, AUTH_ATTEMPT_OUTCOMES,
    LOG_ORIGINS,
};
use crate::event::{Direction, SipEvent, Transport};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The encoding's version. A decoder refuses any other.
pub const VERSION: u8 = 1;

/// The version byte of a batch: several version-1 messages of one sensor in one NATS message,
/// so that the broker, the publisher and the collector handle one message per up to
/// `message_rows` rows instead of one per row.
pub const BATCH_VERSION: u8 = 2;

/// Most messages a batch may hold when decoding (bounds a hostile count).
const MAX_BATCH_ITEMS: u32 = 1 << 16;

/// Encodes a batch of already encoded single messages (each from [`encode_event`],
/// [`encode_auth`] or [`encode_registration`]): [`BATCH_VERSION`], a u32 count, then each as
/// a u32 length and its bytes.
pub fn encode_batch<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.push(BATCH_VERSION);
    out.extend_from_slice(&u32::try_from(items.len()).unwrap_or(u32::MAX).to_be_bytes());
    for item in items {
        bytes(out, item);
    }
}

/// The single messages a NATS message carries: itself (version 1) or the items of a batch
/// (version 2), each still to be [`decode`]d. A batch whose envelope is damaged is refused
/// whole; a damaged item only fails its own `decode`.
pub fn split(buf: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    match buf.first().copied() {
        Some(VERSION) => Ok(vec![buf]),
        Some(BATCH_VERSION) => {
            let mut r = Reader { buf, at: 1 };
            let count = u32::from_be_bytes(r.array()?);
            if count > MAX_BATCH_ITEMS {
                return Err(WireError::Malformed("batch too long"));
            }
            let mut items = Vec::new();
            for _ in 0..count {
                items.push(r.bytes()?);
            }
            if r.at != buf.len() {
                return Err(WireError::Malformed("bytes after the last field"));
            }
            Ok(items)
        }
        Some(PACKED_VERSION) => Err(WireError::Malformed("a compressed batch, not unpacked")),
        Some(other) => Err(WireError::Version(other)),
        None => Err(WireError::Malformed("message ends early")),
    }
}

/// Largest text or byte field accepted when decoding (a message is bounded by the broker's
/// `max_payload` anyway; this bounds a hostile length).
const MAX_FIELD: usize = 8 << 20;

/// What a message carries; also its part of the `Nats-Msg-Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A SIP message event (`events`).
    Event,
    /// An authentication attempt (`auth_attempts`).
    Auth,
    /// A registration binding (`registrations`).
    Registration,
    /// What password recovery found for an attempt stored (and maybe published) earlier: its
    /// sequence is the recovery's own (`auth_attempts.recovered_seq`), not the attempt's.
    Recovery,
}

impl Kind {
    /// Every kind, in the order the publisher serves them: a recovery after the attempts, so
    /// that an attempt read before its recovery was written is in the stream before it.
    pub const ALL: [Kind; 4] = [Kind::Event, Kind::Auth, Kind::Registration, Kind::Recovery];

    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Auth => "auth",
            Kind::Registration => "registration",
            Kind::Recovery => "recovery",
        }
    }

    /// The kind of a stored name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    fn byte(self) -> u8 {
        match self {
            Kind::Event => 1,
            Kind::Auth => 2,
            Kind::Registration => 3,
            Kind::Recovery => 4,
        }
    }
}

/// An event with what the sensor knew beyond its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEvent {
    /// The event (its `origin` is the sensor's own and is not sent).
    pub event: SipEvent,
    /// The stored anomaly names, space-separated (the parser's and the sensor's notes).
    pub anomalies: String,
    /// The stored reason (a status line's, or why bytes are not SIP).
    pub reason: Option<String>,
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// An event.
    Event(WireEvent),
    /// An authentication attempt (its `id` is the sensor's; the collector assigns its own).
    Auth(AuthAttemptRecord),
    /// A registration binding.
    Registration(RegistrationRecord),
    /// A recovery: `attempt_id` is the attempt's id in the publishing sensor's store,
    /// `published_by` that sensor's name.
    Recovery(RecoveredPassword),
}

/// A decoded message with its sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sensor's sequence (its store's row id of this kind).
    pub seq: i64,
    /// What it carries.
    pub body: Decoded,
}

impl Message {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self.body {
            Decoded::Event(_) => Kind::Event,
            Decoded::Auth(_) => Kind::Auth,
            Decoded::Registration(_) => Kind::Registration,
            Decoded::Recovery(_) => Kind::Recovery,
        }
    }

    /// The sensor that stored it.
    pub fn sensor(&self) -> &str {
        match &self.body {
            Decoded::Event(e) => &e.event.sensor,
            Decoded::Auth(a) => &a.ctx.sensor,
            Decoded::Registration(r) => &r.ctx.sensor,
            Decoded::Recovery(r) => r.published_by.as_deref().unwrap_or_default(),
        }
    }
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Another version of the encoding.
    #[error("wire encoding version {0}, this sipscope reads versions {VERSION} to {PACKED_VERSION}")]
    Version(u8),
    /// An unknown kind byte.
    #[error("unknown message kind {0}")]
    Kind(u8),
    /// The message ends early or a field is malformed.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A batch could not be compressed (the publisher's side: not a batch, or zstd failed).
    #[error("a batch could not be compressed")]
    Compress,
}

/// Encodes an event.
pub fn encode_event(seq: i64, e: &WireEvent, out: &mut Vec<u8>) {
    header(out, Kind::Event, seq);
    let ev = &e.event;
    out.extend_from_slice(&ev.ts_ns.to_be_bytes());
    text(out, &ev.sensor);
    opt_text(out, ev.node.as_deref());
    out.push(transport_byte(ev.transport));
    addr(out, ev.src.0);
    out.extend_from_slice(&ev.src.1.to_be_bytes());
    addr(out, ev.dst.0);
    out.extend_from_slice(&ev.dst.1.to_be_bytes());
    match ev.tunnel {
        Some((a, b)) => {
            out.push(1);
            addr(out, a);
            addr(out, b);
        }
        None => out.push(0),
    }
    out.push(match ev.direction {
        Direction::In => 0,
        Direction::Out => 1,
        Direction::Unknown => 2,
    });
    text(out, &e.anomalies);
    opt_text(out, e.reason.as_deref());
    bytes(out, &ev.raw);
}

/// Encodes an authentication attempt (`seq` is its id in the sensor's store).
pub fn encode_auth(seq: i64, r: &AuthAttemptRecord, out: &mut Vec<u8>) {
    header(out, Kind::Auth, seq);
    context(out, &r.ctx);
    text(out, &r.method);
    text(out, &r.username);
    opt_text(out, r.realm.as_deref());
    opt_text(out, r.uri.as_deref());
    opt_text(out, r.nonce.as_deref());
    text(out, r.outcome);
    opt_text(out, r.password.as_deref());
    match &r.log {
        Some(log) => {
            out.push(1);
            text(out, log.origin);
            text(out, &log.file);
            bytes(out, &log.line);
        }
        None => out.push(0),
    }
}

/// Encodes a registration binding.
pub fn encode_registration(seq: i64, r: &RegistrationRecord, out: &mut Vec<u8>) {
    header(out, Kind::Registration, seq);
    context(out, &r.ctx);
    text(out, &r.username);
    text(out, &r.contact);
    out.extend_from_slice(&r.expires.to_be_bytes());
}

/// Encodes a recovery (`seq` is the recovery's sequence; `sensor` the store's sensor name,
/// `r.attempt_id` the attempt's id in that store).
pub fn encode_recovery(seq: i64, sensor: &str, r: &RecoveredPassword, out: &mut Vec<u8>) {
    header(out, Kind::Recovery, seq);
    text(out, sensor);
    out.extend_from_slice(&r.attempt_id.to_be_bytes());
    opt_text(out, r.password.as_deref());
    opt_text(out, r.source);
    out.extend_from_slice(&u64::try_from(r.tried).unwrap_or(u64::MAX).to_be_bytes());
}

/// Decodes one message.
pub fn decode(buf: &[u8]) -> Result<Message, WireError> {
    let mut r = Reader { buf, at: 0 };
    let version = r.u8()?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let kind = r.u8()?;
    let seq = r.i64()?;
    let body = match kind {
        1 => Decoded::Event(r.event()?),
        2 => Decoded::Auth(r.auth(seq)?),
        3 => Decoded::Registration(r.registration()?),
        4 => Decoded::Recovery(r.recovery()?),
        other => return Err(WireError::Kind(other)),
    };
    if r.at != buf.len() {
        return Err(WireError::Malformed("bytes after the last field"));
    }
    Ok(Message { seq, body })
}

fn header(out: &mut Vec<u8>, kind: Kind, seq: i64) {
    out.push(VERSION);
    out.push(kind.byte());
    out.extend_from_slice(&seq.to_be_bytes());
}

fn context(out: &mut Vec<u8>, c: &RecordContext) {
    out.extend_from_slice(&c.ts_ns.to_be_bytes());
    text(out, &c.sensor);
    opt_text(out, c.node.as_deref());
    out.push(transport_byte(c.transport));
    addr(out, c.src.ip());
    out.extend_from_slice(&c.src.port().to_be_bytes());
    addr(out, c.dst.ip());
    out.extend_from_slice(&c.dst.port().to_be_bytes());
    opt_text(out, c.call_id.as_deref());
    opt_text(out, c.user_agent.as_deref());
}

fn transport_byte(t: Transport) -> u8 {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
        Transport::Sctp => 3,
        Transport::Ws => 4,
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(b.get(..u32::MAX as usize).unwrap_or(b));
}

fn text(out: &mut Vec<u8>, s: &str) {
    bytes(out, s.as_bytes());
}

fn opt_text(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            text(out, s);
        }
        None => out.push(0),
    }
}

fn addr(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
}

/// The candidate generators a recovery names (`sources/honeypot/intel/candidates.rs`).
const RECOVERY_SOURCES: &[&str] = &["pattern", "builtin", "wordlist"];

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Malformed("length overflow"))?;
        let out = self.buf.get(self.at..end).ok_or(WireError::Malformed("message ends early"))?;
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.take(N)?.try_into().map_err(|_| WireError::Malformed("message ends early"))
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = u32::from_be_bytes(self.array()?) as usize;
        if n > MAX_FIELD {
            return Err(WireError::Malformed("field too long"));
        }
        self.take(n)
    }

    fn text(&mut self) -> Result<String, WireError> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| WireError::Malformed("text is not UTF-8"))
    }

    fn flag(&mut self) -> Result<bool, WireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Malformed("presence byte is not 0 or 1")),
        }
    }

    fn opt_text(&mut self) -> Result<Option<String>, WireError> {
        if self.flag()? {
            self.text().map(Some)
        } else {
            Ok(None)
        }
    }

    fn addr(&mut self) -> Result<IpAddr, WireError> {
        match self.u8()? {
            4 => Ok(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))),
            6 => Ok(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))),
            _ => Err(WireError::Malformed("address family")),
        }
    }

    fn transport(&mut self) -> Result<Transport, WireError> {
        Ok(match self.u8()? {
            0 => Transport::Udp,
            1 => Transport::Tcp,
            2 => Transport::Tls,
            3 => Transport::Sctp,
            4 => Transport::Ws,
            _ => return Err(WireError::Malformed("transport")),
        })
    }

    fn event(&mut self) -> Result<WireEvent, WireError> {
        let ts_ns = self.i64()?;
        let sensor = self.text()?;
        let node = self.opt_text()?;
        let transport = self.transport()?;
        let src = (self.addr()?, self.u16()?);
        let dst = (self.addr()?, self.u16()?);
        let tunnel = if self.flag()? { Some((self.addr()?, self.addr()?)) } else { None };
        let direction = match self.u8()? {
            0 => Direction::In,
            1 => Direction::Out,
            2 => Direction::Unknown,
            _ => return Err(WireError::Malformed("direction")),
        };
        let anomalies = self.text()?;
        let reason = self.opt_text()?;
        let raw = self.bytes()?.to_vec();
        let event = SipEvent { ts_ns, sensor, node, transport, src, dst, tunnel, direction, origin: None, raw };
        Ok(WireEvent { event, anomalies, reason })
    }

    fn context(&mut self) -> Result<RecordContext, WireError> {
        let ts_ns = self.i64()?;
        let sensor = self.text()?;
        let node = self.opt_text()?;
        let transport = self.transport()?;
        let src = SocketAddr::new(self.addr()?, self.u16()?);
        let dst = SocketAddr::new(self.addr()?, self.u16()?);
        let call_id = self.opt_text()?;
        let user_agent = self.opt_text()?;
        Ok(RecordContext { ts_ns, sensor, node, transport, src, dst, call_id, user_agent })
    }

    fn auth(&mut self, seq: i64) -> Result<AuthAttemptRecord, WireError> {
        let ctx = self.context()?;
        let method = self.text()?;
        let username = self.text()?;
        let realm = self.opt_text()?;
        let uri = self.opt_text()?;
        let nonce = self.opt_text()?;
        let outcome = self.text()?;
        let outcome =
            AUTH_ATTEMPT_OUTCOMES.iter().copied().find(|o| *o == outcome).ok_or(WireError::Malformed("outcome"))?;
        let password = self.opt_text()?;
        let log = if self.flag()? {
            let origin = self.text()?;
            let origin =
                // Not one of the log origins: refused as malformed, as an unknown outcome is.
                LOG_ORIGINS.iter().copied().find(|o| *o == origin).ok_or(WireError::Malformed("log origin"))?;
            Some(LogLine { origin, file: self.text()?, line: self.bytes()?.to_vec() })
        } else {
            None
        };
        Ok(AuthAttemptRecord {
            id: seq,
            ctx,
            method,
            username,
            realm,
            uri,
            nonce,
            outcome,
            password,
            log,
            published_seq: None,
        })
    }

    fn recovery(&mut self) -> Result<RecoveredPassword, WireError> {
        let sensor = self.text()?;
        let attempt_id = self.i64()?;
        let password = self.opt_text()?;
        let source = match self.opt_text()? {
            Some(name) => Some(
                RECOVERY_SOURCES.iter().copied().find(|s| *s == name).ok_or(WireError::Malformed("recovery source"))?,
            ),
            None => None,
        };
        let tried = usize::try_from(u64::from_be_bytes(self.array()?)).unwrap_or(usize::MAX);
        Ok(RecoveredPassword { attempt_id, published_by: Some(sensor), password, source, tried })
    }

    fn registration(&mut self) -> Result<RegistrationRecord, WireError> {
        let ctx = self.context()?;
        let username = self.text()?;
        let contact = self.text()?;
        let expires = u64::from_be_bytes(self.array()?);
        Ok(RegistrationRecord { ctx, username, contact, expires })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RecordContext {
        RecordContext {
            ts_ns: 5,
            sensor: "s1".into(),
            node: None,
            transport: Transport::Tls,
            src: "[2001:db8::1]:5061".parse().unwrap(),
            dst: "192.0.2.9:5060".parse().unwrap(),
            call_id: Some("c".into()),
            user_agent: None,
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let event = WireEvent {
            event: SipEvent {
                ts_ns: -3,
                sensor: "s1".into(),
                node: Some("n".into()),
                transport: Transport::Ws,
                src: ("192.0.2.1".parse().unwrap(), 1),
                dst: ("2001:db8::2".parse().unwrap(), 2),
                tunnel: Some(("198.51.100.1".parse().unwrap(), "198.51.100.2".parse().unwrap())),
                direction: Direction::Out,
                origin: None,
                raw: b"\xffOPTIONS".to_vec(),
            },
            anomalies: "ws_over_tls".into(),
            reason: None,
        };
        let mut buf = Vec::new();
        encode_event(7, &event, &mut buf);
        assert_eq!(decode(&buf).unwrap(), Message { seq: 7, body: Decoded::Event(event) });
        let auth = AuthAttemptRecord {
            ctx: ctx(),
            username: "100".into(),
            uri: Some("sip:x".into()),
            log: Some(LogLine { origin: "asterisk_pjsip", file: "/f".into(), line: b"\x00line".to_vec() }),
            ..crate::test_support::auth_attempt(9, "s1")
        };
        buf.clear();
        encode_auth(9, &auth, &mut buf);
        assert_eq!(decode(&buf).unwrap(), Message { seq: 9, body: Decoded::Auth(auth) });
        let reg = RegistrationRecord { ctx: ctx(), username: "u".into(), contact: "sip:u@h".into(), expires: 60 };
        buf.clear();
        encode_registration(11, &reg, &mut buf);
        assert_eq!(decode(&buf).unwrap(), Message { seq: 11, body: Decoded::Registration(reg) });
        let found = RecoveredPassword {
            attempt_id: 9,
            published_by: Some("s1".into()),
            password: Some("1234".into()),
            source: Some("pattern"),
            tried: 17,
        };
        buf.clear();
        encode_recovery(3, "s1", &found, &mut buf);
        let decoded = decode(&buf).unwrap();
        assert_eq!((decoded.kind(), decoded.sensor()), (Kind::Recovery, "s1"));
        assert_eq!(decoded, Message { seq: 3, body: Decoded::Recovery(found) });
        let none = RecoveredPassword {
            attempt_id: 10,
            published_by: Some("s1".into()),
            password: None,
            source: None,
            tried: 0,
        };
        buf.clear();
        encode_recovery(4, "s1", &none, &mut buf);
        assert_eq!(decode(&buf).unwrap(), Message { seq: 4, body: Decoded::Recovery(none) });
        // A source name this build does not know is malformed, not invented.
        buf.clear();
        let odd = RecoveredPassword { source: Some("oracle"), ..found_again() };
        encode_recovery(5, "s1", &odd, &mut buf);
        assert_eq!(decode(&buf), Err(WireError::Malformed("recovery source")));
    }

    fn found_again() -> RecoveredPassword {
        RecoveredPassword { attempt_id: 1, published_by: Some("s1".into()), password: None, source: None, tried: 1 }
    }

    #[test]
    fn damaged_messages_are_errors_never_panics() {
        let reg = RegistrationRecord { ctx: ctx(), username: "u".into(), contact: "c".into(), expires: 1 };
        let mut buf = Vec::new();
        encode_registration(1, &reg, &mut buf);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = buf.clone();
        other[0] = 2;
        assert_eq!(decode(&other), Err(WireError::Version(2)));
        buf.push(0);
        assert!(decode(&buf).is_err());
        // A recovery cut anywhere, with a password that is not UTF-8, or a length beyond the limit.
        let found = RecoveredPassword { password: Some("pw".into()), source: Some("wordlist"), ..found_again() };
        let mut rec = Vec::new();
        encode_recovery(3, "s1", &found, &mut rec);
        for cut in 0..rec.len() {
            assert!(decode(&rec[..cut]).is_err(), "recovery cut at {cut}");
        }
        let at = rec.windows(2).position(|w| w == b"pw").unwrap();
        let mut bad = rec.clone();
        bad[at] = 0xff;
        assert_eq!(decode(&bad), Err(WireError::Malformed("text is not UTF-8")));
        let mut long = rec.clone();
        long[at - 4..at].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode(&long), Err(WireError::Malformed("field too long")));
        // Arbitrary bytes.
        for seed in 0u32..2000 {
            let bytes: Vec<u8> =
                (0..(seed % 64)).map(|i| (seed.wrapping_mul(2654435761).rotate_left(i) & 0xff) as u8).collect();
            let mut b = vec![1, (seed % 5) as u8];
            b.extend(bytes);
            let _ = decode(&b);
        }
    }

    #[test]
    fn a_batch_carries_its_messages_in_order_and_a_single_message_is_its_own_batch() {
        let reg = |n: u64| RegistrationRecord { ctx: ctx(), username: "u".into(), contact: "c".into(), expires: n };
        let items: Vec<Vec<u8>> = (1..=3)
            .map(|i| {
                let mut b = Vec::new();
                encode_registration(i, &reg(i as u64), &mut b);
                b
            })
            .collect();
        let mut batch = Vec::new();
        encode_batch(items.iter().map(Vec::as_slice), &mut batch);
        assert_eq!(batch[0], BATCH_VERSION);
        let split_items = split(&batch).unwrap();
        assert_eq!(split_items, items.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let seqs: Vec<i64> = split_items.iter().map(|b| decode(b).unwrap().seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(split(&items[0]).unwrap(), vec![items[0].as_slice()]);
        let mut empty = Vec::new();
        encode_batch(std::iter::empty(), &mut empty);
        assert_eq!(split(&empty).unwrap(), Vec::<&[u8]>::new());
    }

    #[test]
    fn damaged_batches_are_errors_never_panics() {
        let mut item = Vec::new();
        encode_registration(
            1,
            &RegistrationRecord { ctx: ctx(), username: "u".into(), contact: "c".into(), expires: 1 },
            &mut item,
        );
        let mut batch = Vec::new();
        encode_batch([item.as_slice(), item.as_slice()].into_iter(), &mut batch);
        // Every cut of the envelope is refused (a cut inside the last item is a short item).
        for cut in 0..batch.len() {
            assert!(split(&batch[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = batch.clone();
        longer.push(0);
        assert_eq!(split(&longer), Err(WireError::Malformed("bytes after the last field")));
        assert_eq!(split(&[4, 0]), Err(WireError::Version(4)));
        assert_eq!(split(&[BATCH_VERSION, 0xff, 0xff, 0xff, 0xff]), Err(WireError::Malformed("batch too long")));
        // A damaged item fails on its own.
        let mut inner = batch.clone();
        inner[9] = 7;
        let items = split(&inner).unwrap();
        assert!(decode(items[0]).is_err());
        assert!(decode(items[1]).is_ok());
    }
}
