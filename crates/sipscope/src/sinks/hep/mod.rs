//! **HEP out**: a copy of every event (or of the methods asked for) sent to a HOMER collector
//! in HEPv3, so operators keep HOMER beside sipscope. The pipeline never waits for the
//! network: events are encoded here and queued (bounded, [`HepOutConfig::queue_packets`]); a
//! sender thread writes them over UDP or TCP (reconnecting); what does not fit is dropped and
//! counted, and logged at powers of two.

use crate::analysis::result::Handover;
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::{SipEvent, Transport};
use crate::sinks::{Sink, SinkError};
use sipscope_hep::{encode, Packet, Payload, FAMILY_V4, FAMILY_V6, PAYLOAD_SIP};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// How HEP goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HepOutTransport {
    /// One datagram a packet (HOMER's default).
    Udp,
    /// A TCP stream, HEPv3's length framing.
    Tcp,
}

/// Where and what to forward.
#[derive(Debug, Clone)]
pub struct HepOutConfig {
    /// The collector.
    pub to: SocketAddr,
    /// UDP or TCP.
    pub transport: HepOutTransport,
    /// Capture id sent in every packet (chunk 0x000c).
    pub capture_id: u32,
    /// Auth key sent in every packet (chunk 0x000e), if the collector wants one.
    pub key: Option<String>,
    /// Capture node name (chunk 0x0013); by default the event's sensor.
    pub node_name: Option<String>,
    /// Only requests of these methods and the responses to them (by CSeq); `None`: every event.
    pub methods: Option<Vec<String>>,
    /// Packets waiting for the sender thread; more are dropped and counted. Default 65,536.
    pub queue_packets: usize,
}

/// Default length of the queue to the sender thread.
pub const DEFAULT_QUEUE_PACKETS: usize = 65_536;

/// A sink that forwards events in HEPv3.
pub struct HepOut {
    config: HepOutConfig,
    tx: Option<SyncSender<Vec<u8>>>,
    sender: Option<std::thread::JoinHandle<()>>,
    stats: Arc<HepOutStats>,
}

/// What became of the forwarded events.
#[derive(Debug, Default)]
pub struct HepOutStats {
    /// Packets sent.
    pub sent: AtomicU64,
    /// Dropped: the queue was full, the collector unreachable, or the packet too long for HEP.
    pub dropped: AtomicU64,
}

impl HepOut {
    /// Starts the sender thread (the socket is opened by it; a collector that is down is
    /// retried, not an error).
    pub fn open(config: HepOutConfig) -> Result<HepOut, SinkError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue_packets.max(1));
        let stats = Arc::new(HepOutStats::default());
        let (to, transport, thread_stats) = (config.to, config.transport, Arc::clone(&stats));
        let sender = std::thread::Builder::new()
            .name("hep-out".into())
            .spawn(move || send_all(rx, to, transport, &thread_stats))
            .map_err(|e| SinkError::Io { what: "starting the HEP sender".into(), cause: e })?;
        Ok(HepOut { config, tx: Some(tx), sender: Some(sender), stats })
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<HepOutStats> {
        Arc::clone(&self.stats)
    }

    fn wanted(&self, fields: &SipFields) -> bool {
        let Some(methods) = &self.config.methods else { return true };
        let method = fields.method.as_deref().or(fields.cseq.1.as_deref());
        method.is_some_and(|m| methods.iter().any(|w| w.eq_ignore_ascii_case(m)))
    }

    fn drop_one(&self, why: &str) {
        crate::metrics::sink_error(crate::metrics::Sink::Hep);
        let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!("HEP out to {}: dropped a packet: {why} ({n} so far)", self.config.to);
        }
    }
}

/// The HEPv3 packet of an event.
pub fn packet_of<'a>(event: &'a SipEvent, config: &'a HepOutConfig) -> Packet<'a> {
    let mut p = Packet::v3();
    let (src, dst) = match (event.src.0, event.dst.0) {
        // One family for both ends: an IPv4 end beside an IPv6 one is written mapped.
        (s @ std::net::IpAddr::V4(_), d @ std::net::IpAddr::V4(_)) => (s, d),
        (s, d) => (to_v6(s), to_v6(d)),
    };
    p.ip_family = Some(if src.is_ipv4() { FAMILY_V4 } else { FAMILY_V6 });
    p.ip_proto = Some(match event.transport {
        Transport::Udp => 17,
        Transport::Sctp => 132,
        Transport::Tcp | Transport::Tls | Transport::Ws => 6,
    });
    (p.src_addr, p.dst_addr) = (Some(src), Some(dst));
    (p.src_port, p.dst_port) = (Some(event.src.1), Some(event.dst.1));
    let secs = event.ts_ns.div_euclid(1_000_000_000);
    p.ts_sec = Some(u32::try_from(secs).unwrap_or(0));
    p.ts_usec = Some(u32::try_from(event.ts_ns.rem_euclid(1_000_000_000) / 1_000).unwrap_or(0));
    p.payload_type = Some(PAYLOAD_SIP);
    p.capture_id = Some(config.capture_id);
    p.auth_key = config.key.as_deref().map(str::as_bytes);
    p.node_name = Some(config.node_name.as_deref().unwrap_or(&event.sensor).as_bytes());
    p.payload = Payload::Plain(&event.raw);
    p
}

fn to_v6(a: std::net::IpAddr) -> std::net::IpAddr {
    match a {
        std::net::IpAddr::V4(v4) => std::net::IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    }
}

impl Sink for HepOut {
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        if !self.wanted(&fields) {
            return Ok(());
        }
        let bytes = match encode(&packet_of(&event, &self.config)) {
            Ok(b) => b,
            Err(e) => {
                self.drop_one(&e.to_string());
                return Ok(());
            }
        };
        let Some(tx) = &self.tx else { return Ok(()) };
        match tx.try_send(bytes) {
            Ok(()) => {
                crate::metrics::queue_depth_add(crate::metrics::Queue::HepOut, 1);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.drop_one("queue full");
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(SinkError::Writer("the HEP sender thread stopped".into())),
        }
    }

    fn record(&mut self, _record: Record) -> Result<(), SinkError> {
        // HEP carries messages; records stay in the store.
        Ok(())
    }

    fn hand_over(&mut self, _run: i64, _rows: Handover) -> Result<(), SinkError> {
        // Analysis results stay in the store.
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // Queued packets are the sender's: nothing is made durable by a network copy.
        Ok(())
    }
}

impl Drop for HepOut {
    /// Closes the queue and lets the sender write what is queued.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// How long the sender waits before connecting again after a TCP failure.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

fn send_all(rx: Receiver<Vec<u8>>, to: SocketAddr, transport: HepOutTransport, stats: &HepOutStats) {
    let bind: SocketAddr = if to.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let udp = match transport {
        HepOutTransport::Udp => UdpSocket::bind(bind).ok(),
        HepOutTransport::Tcp => None,
    };
    let mut tcp: Option<TcpStream> = None;
    let mut down_since: Option<std::time::Instant> = None;
    for bytes in rx {
        crate::metrics::queue_depth_add(crate::metrics::Queue::HepOut, -1);
        let sent = match (&udp, transport) {
            (Some(socket), _) => socket.send_to(&bytes, to).is_ok(),
            (None, HepOutTransport::Tcp) => {
                if tcp.is_none() && down_since.is_none_or(|t| t.elapsed() >= RECONNECT_AFTER) {
                    tcp = TcpStream::connect_timeout(&to, RECONNECT_AFTER).ok();
                    down_since = tcp.is_none().then(std::time::Instant::now);
                }
                match tcp.as_mut().map(|s| s.write_all(&bytes)) {
                    Some(Ok(())) => true,
                    Some(Err(_)) => {
                        tcp = None;
                        down_since = Some(std::time::Instant::now());
                        false
                    }
                    None => false,
                }
            }
            (None, HepOutTransport::Udp) => false,
        };
        let counter = if sent { &stats.sent } else { &stats.dropped };
        counter.fetch_add(1, Ordering::Relaxed);
        if sent {
            crate::metrics::events_out(crate::metrics::Sink::Hep, 1);
        } else {
            crate::metrics::sink_error(crate::metrics::Sink::Hep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Direction;

    fn event(src: &str, dst: &str, raw: &[u8]) -> SipEvent {
        SipEvent {
            ts_ns: 1_796_000_000_123_456_789,
            sensor: "edge-1".into(),
            node: None,
            transport: Transport::Tls,
            src: (src.parse().unwrap(), 5061),
            dst: (dst.parse().unwrap(), 5060),
            tunnel: None,
            direction: Direction::In,
            origin: None,
            raw: raw.to_vec(),
        }
    }

    fn config(to: SocketAddr) -> HepOutConfig {
        HepOutConfig {
            to,
            transport: HepOutTransport::Udp,
            capture_id: 7,
            key: Some("k".into()),
            node_name: None,
            methods: None,
            queue_packets: 4,
        }
    }

    #[test]
    fn an_event_becomes_the_packet_a_collector_reads_back() {
        let ev = event("203.0.113.5", "192.0.2.1", b"OPTIONS sip:a SIP/2.0\r\n\r\n");
        let cfg = config("127.0.0.1:9".parse().unwrap());
        let bytes = encode(&packet_of(&ev, &cfg)).unwrap();
        let p = sipscope_hep::decode(&bytes, &sipscope_hep::Limits::default()).unwrap();
        assert_eq!((p.src_addr, p.dst_addr), (Some(ev.src.0), Some(ev.dst.0)));
        assert_eq!((p.src_port, p.dst_port, p.ip_proto), (Some(5061), Some(5060), Some(6)));
        assert_eq!(p.time_ns(), Some(1_796_000_000_123_456_000), "microseconds: HEP's resolution");
        assert_eq!((p.capture_id, p.auth_key, p.node_name), (Some(7), Some(&b"k"[..]), Some(&b"edge-1"[..])));
        assert_eq!(p.payload, Payload::Plain(&ev.raw));
        // Mixed families: both written as IPv6.
        let ev = event("203.0.113.5", "2001:db8::1", b"x");
        let p = packet_of(&ev, &cfg);
        assert_eq!(p.src_addr, Some("::ffff:203.0.113.5".parse().unwrap()));
        assert!(encode(&p).is_ok());
    }

    #[test]
    fn events_reach_a_udp_collector_and_the_filter_keeps_the_methods_asked_for() {
        let collector = UdpSocket::bind("127.0.230.9:0").unwrap();
        let mut cfg = config(collector.local_addr().unwrap());
        cfg.methods = Some(vec!["register".into()]);
        let mut out = HepOut::open(cfg).unwrap();
        let fields = |method: Option<&str>, cseq: &str| SipFields {
            method: method.map(Into::into),
            cseq: (Some(1), Some(cseq.into())),
            ..SipFields::default()
        };
        let ev = event("203.0.113.5", "192.0.2.1", b"REGISTER sip:a SIP/2.0\r\n\r\n");
        out.write(ev.clone(), fields(Some("REGISTER"), "REGISTER")).unwrap();
        out.write(ev.clone(), fields(Some("OPTIONS"), "OPTIONS")).unwrap();
        out.write(ev.clone(), fields(None, "REGISTER")).unwrap();
        let stats = out.stats();
        drop(out);
        assert_eq!(stats.sent.load(Ordering::Relaxed), 2);
        let mut buf = [0u8; 2048];
        for _ in 0..2 {
            let (n, _) = collector.recv_from(&mut buf).unwrap();
            let p = sipscope_hep::decode(&buf[..n], &sipscope_hep::Limits::default()).unwrap();
            assert_eq!(p.payload, Payload::Plain(&ev.raw));
        }
    }

    #[test]
    fn an_unreachable_collector_costs_dropped_packets_not_waiting() {
        // Nothing listens: the sender's connects are refused (and retried once a second), the
        // queue of 4 fills, and every write still returns at once.
        let mut cfg = config("127.0.230.9:9".parse().unwrap());
        cfg.transport = HepOutTransport::Tcp;
        let mut out = HepOut::open(cfg).unwrap();
        let ev = event("203.0.113.5", "192.0.2.1", b"OPTIONS sip:a SIP/2.0\r\n\r\n");
        for _ in 0..100 {
            out.write(ev.clone(), SipFields::default()).unwrap();
        }
        let stats = out.stats();
        drop(out);
        let (sent, dropped) = (stats.sent.load(Ordering::Relaxed), stats.dropped.load(Ordering::Relaxed));
        assert_eq!((sent, dropped), (0, 100), "nothing listens on port 9: every packet dropped, none waited for");
    }
}
