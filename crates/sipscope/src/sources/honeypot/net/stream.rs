//! TCP and TLS listeners: one thread per connection, capped in total and per source, closed
//! when idle. Messages are framed by Content-Length (RFC 3261 §18.3); whatever cannot be
//! framed, is too large, or is left over when the peer closes is still recorded.

use super::Stop;
use crate::event::Transport;
use crate::sources::honeypot::core::{Core, Packet};
use crate::time::now_ns;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use sipscope_sip::framing::{frame, FrameLimits, Framed};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often blocked calls wake to check for a stop.
const POLL: Duration = Duration::from_millis(200);

/// Open connections, in total and per source.
pub struct ConnectionLimits {
    max_total: usize,
    max_per_source: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// An open connection's place under the caps; released on drop.
pub struct Slot {
    limits: Arc<ConnectionLimits>,
    source: IpAddr,
}

impl ConnectionLimits {
    /// Caps.
    pub fn new(max_total: usize, max_per_source: usize) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits { max_total, max_per_source, open: Mutex::new((0, HashMap::new())) })
    }

    /// Connections open now.
    pub fn open_total(&self) -> usize {
        self.open.lock().map(|o| o.0).unwrap_or(0)
    }

    /// A slot for a connection from `source`, unless a cap is reached.
    pub fn try_open(self: &Arc<Self>, source: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let (total, per) = &mut *open;
        let mine = per.entry(source).or_insert(0);
        if *total >= self.max_total || *mine >= self.max_per_source {
            if *mine == 0 {
                per.remove(&source);
            }
            return None;
        }
        *total += 1;
        *mine += 1;
        Some(Slot { limits: Arc::clone(self), source })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.limits.open.lock() {
            let (total, per) = &mut *open;
            *total = total.saturating_sub(1);
            if let Some(n) = per.get_mut(&self.source) {
                *n -= 1;
                if *n == 0 {
                    per.remove(&self.source);
                }
            }
        }
    }
}

/// A bound TCP or TLS listener.
pub struct StreamListener {
    listener: TcpListener,
    bound: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Per-connection settings.
#[derive(Clone)]
pub struct StreamSettings {
    /// Connection caps.
    pub limits: Arc<ConnectionLimits>,
    /// Idle timeout.
    pub idle: Duration,
    /// Largest message.
    pub max_message: usize,
}

impl StreamListener {
    /// Binds `addr`; `tls` makes it a TLS listener.
    pub fn bind(addr: SocketAddr, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<StreamListener> {
        let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(128)?;
        let listener: TcpListener = socket.into();
        let bound = listener.local_addr()?;
        Ok(StreamListener { listener, bound, tls })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
    }

    /// `tcp` or `tls`.
    pub fn transport_name(&self) -> &'static str {
        if self.tls.is_some() {
            "tls"
        } else {
            "tcp"
        }
    }

    /// Accepts until `stop`; each connection gets its own thread.
    pub fn serve(self, core: Arc<Core>, stop: Stop, settings: StreamSettings) {
        let transport = if self.tls.is_some() { Transport::Tls } else { Transport::Tcp };
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
            // Over a cap: closed at once, before reading anything.
            let Some(slot) = settings.limits.try_open(peer.ip()) else { continue };
            let local = tcp.local_addr().unwrap_or(self.bound);
            let (core, stop, settings, tls) = (Arc::clone(&core), stop.clone(), settings.clone(), self.tls.clone());
            let spawned = std::thread::Builder::new().name("sip-conn".into()).spawn(move || {
                let _slot = slot;
                let conn = Connection { core, stop, settings, transport, source: peer, local };
                conn.run(tcp, tls);
            });
            if let Err(e) = spawned {
                tracing::warn!("no thread for a connection from {peer}: {e}");
            }
        }
    }
}

struct Connection {
    core: Arc<Core>,
    stop: Stop,
    settings: StreamSettings,
    transport: Transport,
    source: SocketAddr,
    local: SocketAddr,
}

impl Connection {
    fn run(self, tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
        if tcp.set_read_timeout(Some(POLL)).is_err() || tcp.set_write_timeout(Some(self.settings.idle)).is_err() {
            return;
        }
        match tls {
            None => self.pump(tcp),
            Some(config) => match rustls::ServerConnection::new(config) {
                Ok(conn) => self.pump(rustls::StreamOwned::new(conn, tcp)),
                Err(e) => tracing::debug!("TLS session for {}: {e}", self.source),
            },
        }
    }

    /// Reads, frames, answers, until the peer closes, goes idle, misbehaves or we stop.
    fn pump(&self, mut stream: impl Read + Write) {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = [0u8; 16 * 1024];
        let mut last_activity = Instant::now();
        let limits = FrameLimits {
            max_header_bytes: self.settings.max_message,
            max_body_bytes: self.settings.max_message as u64,
        };
        loop {
            if self.stop.is_set() || last_activity.elapsed() > self.settings.idle {
                break;
            }
            let n = match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    tracing::debug!("reading from {}: {e}", self.source);
                    break;
                }
            };
            last_activity = Instant::now();
            buf.extend_from_slice(&chunk[..n]);
            loop {
                match frame(&buf, limits) {
                    Framed::Complete(len) => {
                        let start = buf[..len].iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
                        if !self.answer(&mut stream, &buf[start..len]) {
                            return;
                        }
                        buf.drain(..len);
                    }
                    // RFC 5626 §3.5.1: a double-CRLF ping gets a single CRLF pong.
                    Framed::KeepAlive(len) => {
                        if len >= 4 && stream.write_all(b"\r\n").is_err() {
                            return;
                        }
                        buf.drain(..len);
                    }
                    Framed::NeedMore(_) if buf.len() <= self.settings.max_message => break,
                    // Unframeable or too large: record what came and hang up, as a PBX would.
                    Framed::NeedMore(_) | Framed::Invalid(_) => {
                        self.answer(&mut stream, &buf);
                        return;
                    }
                }
            }
        }
        if !buf.is_empty() {
            // A message cut off by the close: stored all the same.
            self.record_only(&buf);
        }
    }

    /// Hands one message to the core and writes the answers; false when writing failed.
    fn answer(&self, stream: &mut impl Write, bytes: &[u8]) -> bool {
        let packet =
            Packet { now_ns: now_ns(), transport: self.transport, source: self.source, local: self.local, bytes };
        for reply in self.core.handle(packet) {
            if stream.write_all(&reply).and_then(|()| stream.flush()).is_err() {
                return false;
            }
        }
        true
    }

    fn record_only(&self, bytes: &[u8]) {
        let packet =
            Packet { now_ns: now_ns(), transport: self.transport, source: self.source, local: self.local, bytes };
        // The peer is gone: answers have nowhere to go, but the core still records the request.
        let _ = self.core.handle(packet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_total_and_per_source_and_release_on_drop() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = limits.try_open(a).unwrap();
        let _s2 = limits.try_open(a).unwrap();
        assert!(limits.try_open(a).is_none(), "per-source cap");
        let _s3 = limits.try_open(b).unwrap();
        assert!(limits.try_open(b).is_none(), "total cap");
        drop(s1);
        assert!(limits.try_open(b).is_some());
    }
}
