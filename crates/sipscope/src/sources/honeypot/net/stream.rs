//! TCP and TLS listeners: one thread per connection, in a pool per transport ([`pool`]).
//! Messages are framed by Content-Length (RFC 3261 §18.3) and must be complete within the
//! message deadline of their first byte; whatever cannot be framed, is too large, misses its
//! deadline or is left over when the connection ends is still recorded, with an anomaly that
//! says so ([`notes`]), and never answered. Refused connections and failed TLS handshakes are
//! recorded too. Each connection is a channel of its own for answers due later (a call's
//! delayed ringing and failure): its reads time out when the next one is due.
//!
//! [`pool`]: super::pool
//! [`notes`]: super::notes

use super::notes;
use super::pool::{ConnectionPool, Slot, StreamPools};
use super::tls_handshake::{handshake, Handshake};
use super::{wait_for, NetStats, Stop};
use crate::event::Transport;
use crate::pipeline::Note;
use crate::sources::honeypot::config::HoneypotLimits;
use crate::sources::honeypot::core::{Core, Packet};
use crate::time::now_ns;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use sipscope_sip::framing::{frame, FrameLimits, Framed};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often blocked calls wake to check for a stop, an eviction or a deadline.
pub(super) const POLL: Duration = Duration::from_millis(200);

/// A bound TCP or TLS listener, reading SIP framed by Content-Length or (with a path) SIP
/// over WebSocket ([`ws`](super::ws)).
pub struct StreamListener {
    listener: TcpListener,
    bound: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The WebSocket path of a `ws`/`wss` listener.
    ws: Option<Arc<str>>,
}

/// Per-connection settings, shared by the listeners.
#[derive(Clone)]
pub struct StreamSettings {
    /// The TCP and TLS pools.
    pub pools: StreamPools,
    /// Idle timeout.
    pub idle: Duration,
    /// A message (or TLS handshake) must be complete this long after its first byte.
    pub deadline: Duration,
    /// Largest message.
    pub max_message: usize,
}

impl StreamSettings {
    /// Settings as `limits` say, with fresh pools.
    pub fn new(limits: &HoneypotLimits) -> StreamSettings {
        StreamSettings {
            pools: StreamPools::new(limits),
            idle: Duration::from_secs(limits.idle_timeout_seconds.max(1)),
            deadline: Duration::from_secs(limits.message_deadline_seconds.max(1)),
            max_message: limits.max_message_bytes,
        }
    }
}

impl StreamListener {
    /// Binds `addr`; `tls` makes it a TLS listener, `ws` a WebSocket one upgrading on that path.
    pub fn bind(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        ws: Option<Arc<str>>,
    ) -> std::io::Result<StreamListener> {
        let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        // For TCP this only allows rebinding while old connections are in TIME_WAIT: a second
        // listener on the same address and port is refused all the same.
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(128)?;
        let listener: TcpListener = socket.into();
        let bound = listener.local_addr()?;
        Ok(StreamListener { listener, bound, tls, ws })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
    }

    /// `tcp`, `tls`, `ws` or `wss`.
    pub fn transport_name(&self) -> &'static str {
        match (self.tls.is_some(), self.ws.is_some()) {
            (false, false) => "tcp",
            (true, false) => "tls",
            (false, true) => "ws",
            (true, true) => "wss",
        }
    }

    /// Accepts until `stop`; each connection gets its own thread and a slot in its pool
    /// (`ws` shares TCP's pool and `wss` TLS's: the caps count connections, whatever they carry).
    pub fn serve(self, core: Arc<Core>, stop: Stop, settings: StreamSettings) {
        let transport = match (self.ws.is_some(), self.tls.is_some()) {
            (true, _) => Transport::Ws,
            (false, true) => Transport::Tls,
            (false, false) => Transport::Tcp,
        };
        let pool = if self.tls.is_some() { &settings.pools.tls } else { &settings.pools.tcp };
        let pool = Arc::clone(pool);
        while !stop.is_set() {
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, PollTimeout::from(POLL.as_millis() as u16)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("waiting for connections on {}: {e}", self.bound);
                    std::thread::sleep(POLL);
                    continue;
                }
            }
            let (tcp, peer) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!("accept on {}: {e}", self.bound);
                    continue;
                }
            };
            let local = tcp.local_addr().unwrap_or(self.bound);
            let now_ms = settings.pools.now_ms();
            let admitted = match pool.try_open(peer.ip(), now_ms) {
                Ok(admitted) => admitted,
                Err(refusal) => {
                    // Over a cap: closed at once, before reading anything; recorded while
                    // the refusal records stay under their rate.
                    drop(tcp);
                    refused(
                        &core,
                        &pool,
                        now_ms,
                        // Channel 0: nothing is ever answered on a refused connection.
                        Packet { now_ns: now_ns(), transport, source: peer, local, bytes: b"", channel: 0 },
                        &refusal.to_string(),
                    );
                    continue;
                }
            };
            if admitted.evicted_another {
                NetStats::add(&core.stats.net.connections_evicted);
            }
            let (core, stop, settings, tls) = (Arc::clone(&core), stop.clone(), settings.clone(), self.tls.clone());
            let slot = admitted.slot;
            let channel = core.new_channel();
            let ws = self.ws.clone().map(|path| WsConnection { path, over_tls: tls.is_some() });
            let spawned = std::thread::Builder::new().name("sip-conn".into()).spawn(move || {
                let conn = Connection { core, stop, settings, transport, source: peer, local, slot, channel, ws };
                conn.run(tcp, tls);
            });
            if let Err(e) = spawned {
                tracing::warn!("no thread for a connection from {peer}: {e}");
            }
        }
    }
}

/// Counts a refused connection and records it (empty bytes, `connection_refused`) unless
/// refusals are over their record rate.
fn refused(core: &Core, pool: &ConnectionPool, now_ms: u64, packet: Packet<'_>, why: &str) {
    NetStats::add(&core.stats.net.connections_refused);
    if !pool.may_record_refusal(now_ms) {
        NetStats::add(&core.stats.net.refusals_not_recorded);
        return;
    }
    let note = Note { anomalies: &[notes::CONNECTION_REFUSED], detail: Some(why), not_a_message: true };
    core.record_only(packet, note, &[]);
}

pub(super) struct Connection {
    pub(super) core: Arc<Core>,
    pub(super) stop: Stop,
    pub(super) settings: StreamSettings,
    transport: Transport,
    source: SocketAddr,
    local: SocketAddr,
    pub(super) slot: Slot,
    /// Where answers due later for this connection wait.
    pub(super) channel: u64,
    /// A WebSocket connection: SIP comes and goes in WebSocket messages.
    pub(super) ws: Option<WsConnection>,
}

/// What a WebSocket connection knows besides a TCP one's.
pub(super) struct WsConnection {
    /// The path that opens a WebSocket.
    pub(super) path: Arc<str>,
    /// `wss`: stored as transport `ws` with the notice [`notes::WS_OVER_TLS`].
    pub(super) over_tls: bool,
}

/// When a connection last received bytes and since when a message has been incomplete
/// (the idle timeout and the message deadline), and the socket's read timeout now.
pub(super) struct Pacing {
    last_activity: Instant,
    /// When the first byte of the message not yet complete arrived.
    pending_since: Option<Instant>,
    timeout: Duration,
}

impl Pacing {
    pub(super) fn new() -> Pacing {
        Pacing { last_activity: Instant::now(), pending_since: None, timeout: POLL }
    }

    /// After the bytes read were handled: `pending` when part of a message is still in hand,
    /// `completed` when a message was completed (the deadline starts again from the last read).
    pub(super) fn settle(&mut self, pending: bool, completed: bool) {
        self.pending_since = match (pending, self.pending_since) {
            (false, _) => None,
            (true, Some(t)) if !completed => Some(t),
            (true, _) => Some(self.last_activity),
        };
    }
}

/// Why a connection ended with bytes of an unfinished message in hand.
pub(super) struct Cut {
    pub(super) anomaly: &'static str,
    pub(super) detail: String,
}

impl Connection {
    fn run(self, tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
        if tcp.set_read_timeout(Some(POLL)).is_err() || tcp.set_write_timeout(Some(self.settings.idle)).is_err() {
            return;
        }
        // The same socket, to cut its read timeout when an answer is due (TLS owns the stream).
        let timer = tcp.try_clone().ok();
        self.serve_connection(tcp, tls, timer);
        self.core.close_channel(self.channel);
    }

    fn serve_connection(&self, tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, timer: Option<TcpStream>) {
        let Some(config) = tls else { return self.read_stream(tcp, timer) };
        let started = Instant::now();
        let deadline = self.settings.deadline;
        let give_up = || {
            if self.stop.is_set() {
                Some(("the honeypot stopped", false))
            } else if self.slot.evicted() {
                Some(("the connection was evicted to make room", false))
            } else if started.elapsed() > deadline {
                Some(("not complete within the message deadline", true))
            } else {
                None
            }
        };
        match handshake(config, tcp, self.settings.max_message, give_up) {
            Handshake::Done(stream) => self.read_stream(*stream, timer),
            Handshake::Silent => {}
            Handshake::Failed { first, detail, deadline, tcp } => {
                let net = &self.core.stats.net;
                NetStats::add(&net.tls_handshakes_failed);
                if deadline {
                    NetStats::add(&net.deadlines_missed);
                }
                let note =
                    Note { anomalies: &[notes::TLS_HANDSHAKE_FAILED], detail: Some(&detail), not_a_message: false };
                self.core.record_only(self.packet(&first), note, &[]);
                drop(tcp);
            }
        }
    }

    /// SIP framed by Content-Length, or WebSocket.
    fn read_stream(&self, stream: impl Read + Write, timer: Option<TcpStream>) {
        match &self.ws {
            Some(ws) => self.ws_pump(ws, stream, timer),
            None => self.pump(stream, timer),
        }
    }

    pub(super) fn packet<'b>(&self, bytes: &'b [u8]) -> Packet<'b> {
        let (transport, source, local, channel) = (self.transport, self.source, self.local, self.channel);
        Packet { now_ns: now_ns(), transport, source, local, bytes, channel }
    }

    /// Reads, frames, answers, until the peer closes, goes idle, misbehaves or we stop;
    /// answers due later are written between reads (`timer` is the socket, to wait no longer).
    fn pump(&self, mut stream: impl Read + Write, timer: Option<TcpStream>) {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut pacing = Pacing::new();
        let max = self.settings.max_message;
        // Never more buffered than one byte past the limit: what is recorded of an endless
        // message does not depend on how the reads fell.
        let cap = max.saturating_add(1);
        let limits = FrameLimits { max_header_bytes: max, max_body_bytes: max as u64 };
        // The last `NeedMore` verdict on `buf` (none: frame it); framing rescans the buffer from
        // its start, so it is asked again only when the new bytes can change the verdict.
        let mut need: Option<Option<usize>> = None;
        let cut = loop {
            let old_len = buf.len();
            match self.fill(&mut stream, timer.as_ref(), &mut pacing, &mut buf, cap) {
                Ok(()) => {}
                Err(Some(cut)) => break cut,
                Err(None) => return,
            }
            let mut completed = false;
            loop {
                if !worth_framing(&buf, old_len, need, max, cap) {
                    break;
                }
                let verdict = frame(&buf, limits);
                need = match verdict {
                    Framed::NeedMore(total) => Some(total),
                    _ => None,
                };
                match verdict {
                    Framed::Complete(len) => {
                        let start = buf[..len].iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
                        if !self.answer(&mut stream, &buf[start..len]) {
                            return;
                        }
                        buf.drain(..len);
                        self.slot.progressed(self.settings.pools.now_ms());
                        completed = true;
                        need = None;
                    }
                    // A keep-alive is whole at its LF (a CR alone may be half of one).
                    Framed::KeepAlive(len) if buf[..len].ends_with(b"\n") || buf.len() >= cap => {
                        if !self.keepalive(&mut stream, &buf[..len]) {
                            return;
                        }
                        buf.drain(..len);
                        need = None;
                    }
                    Framed::KeepAlive(_) => break,
                    Framed::NeedMore(_) if buf.len() < cap => break,
                    Framed::NeedMore(_) => {
                        let detail =
                            format!("longer than max_message_bytes ({max}) without its end; the rest was not read");
                        return self.record_cut(&buf, notes::STREAM_OVER_LIMIT, &detail);
                    }
                    // Unframeable: recorded, never answered (where would the next message
                    // start?), and the connection closed, as a PBX would.
                    Framed::Invalid(e) => {
                        return self.record_cut(&buf, notes::STREAM_UNFRAMEABLE, &format!("cannot be framed: {e}"));
                    }
                }
            }
            pacing.settle(!buf.is_empty(), completed);
        };
        if !buf.is_empty() {
            // A message cut off by the close: stored all the same, never answered.
            self.record_cut(&buf, cut.anomaly, &cut.detail);
        }
    }

    /// Waits for bytes and appends what came to `buf` (never beyond `cap` bytes in it),
    /// writing the answers due meanwhile. `Err(Some(cut))`: the connection ends (stop,
    /// eviction, deadline, idle, closed); `Err(None)`: writing failed, nothing more to do.
    pub(super) fn fill(
        &self,
        stream: &mut (impl Read + Write),
        timer: Option<&TcpStream>,
        pacing: &mut Pacing,
        buf: &mut Vec<u8>,
        cap: usize,
    ) -> Result<(), Option<Cut>> {
        let mut chunk = [0u8; 16 * 1024];
        let cut = |anomaly, detail: &str| Err(Some(Cut { anomaly, detail: detail.to_owned() }));
        loop {
            if !self.send_due(stream) {
                return Err(None);
            }
            let wait = wait_for(self.core.next_due(self.channel), now_ns(), POLL);
            if wait != pacing.timeout && timer.is_some_and(|t| t.set_read_timeout(Some(wait)).is_ok()) {
                pacing.timeout = wait;
            }
            if self.stop.is_set() {
                return cut(notes::STREAM_CUT_OFF, "the honeypot stopped");
            }
            if self.slot.evicted() {
                return cut(notes::CONNECTION_EVICTED, "evicted to make room");
            }
            if pacing.pending_since.is_some_and(|t| t.elapsed() > self.settings.deadline) {
                NetStats::add(&self.core.stats.net.deadlines_missed);
                let detail = format!("not complete {} s after its first byte", self.settings.deadline.as_secs());
                return cut(notes::STREAM_DEADLINE_MISSED, &detail);
            }
            if pacing.last_activity.elapsed() > self.settings.idle {
                return cut(notes::STREAM_CUT_OFF, "the connection went idle");
            }
            let room = cap.saturating_sub(buf.len()).clamp(1, chunk.len());
            match stream.read(&mut chunk[..room]) {
                Ok(0) => return cut(notes::STREAM_CUT_OFF, "closed by the peer"),
                Ok(n) => {
                    pacing.last_activity = Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return cut(notes::STREAM_CUT_OFF, &format!("reading: {e}")),
            }
        }
    }

    /// Hands one message to the core and writes the answers; false when writing failed.
    pub(super) fn answer(&self, stream: &mut impl Write, bytes: &[u8]) -> bool {
        let replies = self.core.handle_noted(self.packet(bytes), self.tls_note());
        replies.iter().all(|reply| self.send(stream, reply))
    }

    /// Writes the answers due on this connection now; false when writing failed.
    pub(super) fn send_due(&self, stream: &mut impl Write) -> bool {
        self.core.due(self.channel, now_ns()).iter().all(|answer| self.send(stream, &answer.bytes))
    }

    /// Writes one SIP message: as it is, or in a WebSocket text frame.
    fn send(&self, stream: &mut impl Write, sip: &[u8]) -> bool {
        let framed;
        let bytes = match self.ws {
            Some(_) => {
                framed = super::ws::text_frame(sip);
                &framed
            }
            None => sip,
        };
        stream.write_all(bytes).and_then(|()| stream.flush()).is_ok()
    }

    /// The notice every event of a `wss` connection carries.
    pub(super) fn tls_note(&self) -> &'static [&'static str] {
        match self.ws {
            Some(WsConnection { over_tls: true, .. }) => &[notes::WS_OVER_TLS],
            _ => &[],
        }
    }

    /// RFC 5626 §3.5.1: a double-CRLF ping gets a single CRLF pong; both are recorded.
    pub(super) fn keepalive(&self, stream: &mut impl Write, bytes: &[u8]) -> bool {
        let mut answers = Vec::new();
        if bytes.len() >= 4 {
            if stream.write_all(b"\r\n").and_then(|()| stream.flush()).is_err() {
                return false;
            }
            answers.push(b"\r\n".to_vec());
        }
        self.core.record_only(self.packet(bytes), Note::default(), &answers);
        true
    }

    pub(super) fn record_cut(&self, bytes: &[u8], anomaly: &'static str, detail: &str) {
        let names = [anomaly, notes::WS_OVER_TLS];
        let anomalies = names.get(..1 + self.tls_note().len()).unwrap_or_default();
        let note = Note { anomalies, detail: Some(detail), not_a_message: false };
        self.core.record_only(self.packet(bytes), note, &[]);
    }
}

/// Whether framing `buf` again (after a read took it from `old_len` bytes) can give another
/// verdict than the last: `need` is that verdict (`NeedMore`'s total, when the header section
/// had ended), `None` when there is none yet. A header section ends with an empty line, so
/// until one the new bytes must hold `\n\n`, `\n\r\n` or `\r\r\n` (the empty line after a
/// start line cut by a bare CR) (with the three bytes before them),
/// the buffer must start with a keep-alive, or outgrow the header limit. Without this a peer
/// trickling a 32 kB header a byte at a time would make every byte rescan the buffer.
fn worth_framing(buf: &[u8], old_len: usize, need: Option<Option<usize>>, max_header: usize, cap: usize) -> bool {
    match need {
        None => true,
        Some(_) if buf.len() >= cap => true,
        Some(Some(total)) => buf.len() >= total,
        Some(None) => {
            let window = &buf[old_len.saturating_sub(3).min(buf.len())..];
            buf.first().is_some_and(|b| *b == b'\r' || *b == b'\n')
                || buf.len() > max_header.saturating_add(4)
                || window.windows(2).any(|w| w == b"\n\n")
                || window.windows(3).any(|w| w == b"\n\r\n" || w == b"\r\r\n")
        }
    }
}

#[cfg(test)]
mod framing_tests {
    use super::worth_framing;
    use sipscope_sip::framing::{frame, FrameLimits, Framed};

    /// A message trickled a byte at a time is framed once per byte that can end its header
    /// section or complete its body, not once per byte, and the verdicts are the same.
    #[test]
    fn a_trickled_message_is_framed_only_where_its_verdict_can_change() {
        let header = format!("OPTIONS sip:a SIP/2.0\r\nX-Long: {}\r\nContent-Length: 4\r\n\r\n", "x".repeat(20_000));
        let message = format!("{header}body");
        let limits = FrameLimits { max_header_bytes: 32_768, max_body_bytes: 32_768 };
        let (mut buf, mut need, mut calls, mut complete) = (Vec::new(), None, 0, None);
        for (i, b) in message.bytes().enumerate() {
            let old_len = buf.len();
            buf.push(b);
            if !worth_framing(&buf, old_len, need, 32_768, 32_769) {
                continue;
            }
            calls += 1;
            match frame(&buf, limits) {
                Framed::NeedMore(total) => need = Some(total),
                Framed::Complete(len) => {
                    complete = Some((i, len));
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(complete, Some((message.len() - 1, message.len())));
        assert!(calls <= 3, "framed {calls} times");
    }

    #[test]
    fn keepalives_and_the_header_limit_are_always_framed() {
        assert!(worth_framing(b"\r\n", 1, Some(None), 100, 101));
        assert!(worth_framing(&[b'a'; 105], 104, Some(None), 100, 200));
        assert!(!worth_framing(b"OPTIONS sip:a SIP/2.0\r\nVia: x", 27, Some(None), 100, 200));
        assert!(worth_framing(b"OPTIONS sip:a SIP/2.0\r\n\r\n", 24, Some(None), 100, 200));
        // A start line cut by a bare CR, then the empty line.
        assert!(worth_framing(b"OPTIONS sip:a SIP/2.0\r\r\n", 23, Some(None), 100, 200));
        assert!(!worth_framing(b"12345", 4, Some(Some(6)), 100, 200));
        assert!(worth_framing(b"123456", 5, Some(Some(6)), 100, 200));
    }
}
