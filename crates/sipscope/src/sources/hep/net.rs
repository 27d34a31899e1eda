//! The HEP listeners: UDP (one datagram, one packet), TCP and TLS (HEPv3's own length frames
//! the packets). Each runs on a thread of its own and hands what it received, in batches, to
//! the run loop through a bounded channel; when the loop falls behind, UDP waits and the
//! kernel's receive buffer absorbs the burst (then drops, as for any collector).
//!
//! Streams are bounded: at most [`NetLimits::max_connections`] at once, closed after
//! [`NetLimits::idle_timeout`] without a byte or at the first bytes that are not HEPv3 (the
//! framing is lost for good). A packet is at most 64 KiB, so a connection's buffer is too.

use nix::poll::{PollFd, PollFlags, PollTimeout};
use sipscope_hep::{frame, Framed};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting listener looks at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);

/// Bounds of the listeners.
#[derive(Debug, Clone, Copy)]
pub struct NetLimits {
    /// Streams (TCP and TLS) open at once; more are closed at accept. Default 256.
    pub max_connections: usize,
    /// A stream without a byte for this long is closed. Default 5 minutes (senders keep their
    /// connection and send keep-alives or traffic well within it).
    pub idle_timeout: Duration,
    /// The UDP socket's receive buffer asked of the kernel. Default 16 MiB.
    pub udp_recv_buffer: usize,
    /// Packets handed over at once. Default 256.
    pub batch_packets: usize,
    /// Batches waiting for the run loop. Default 256.
    pub queue_batches: usize,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits {
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
            udp_recv_buffer: 16 << 20,
            batch_packets: 256,
            queue_batches: 256,
        }
    }
}

/// One packet as received.
#[derive(Debug)]
pub struct Received {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Who sent it.
    pub peer: SocketAddr,
    /// When, ns since the Unix epoch.
    pub received_ns: i64,
}

/// What listeners hand the run loop.
#[derive(Debug)]
pub enum Delivery {
    /// Packets, in the order received.
    Packets(Vec<Received>),
    /// A stream from this peer stopped being HEPv3 and was closed.
    StreamNotHep(SocketAddr),
    /// A stream was refused: too many open.
    StreamRefused(SocketAddr),
}

/// Receives datagrams on `socket` until `stop`.
pub fn serve_udp(socket: UdpSocket, tx: SyncSender<Delivery>, stop: Arc<AtomicBool>, limits: NetLimits) {
    if let Err(e) = socket.set_nonblocking(true) {
        tracing::error!("HEP UDP listener: {e}");
        return;
    }
    let mut buf = vec![0u8; 65_536];
    let mut batch = Vec::with_capacity(limits.batch_packets);
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                let bytes = buf.get(..n).unwrap_or_default().to_vec();
                batch.push(Received { bytes, peer, received_ns: crate::time::now_ns() });
                if batch.len() >= limits.batch_packets && !hand_over(&tx, &mut batch, limits) {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !hand_over(&tx, &mut batch, limits) {
                    return;
                }
                let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, poll_timeout());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // ICMP errors and the like: nothing to read, keep serving.
            Err(_) => {}
        }
    }
    hand_over(&tx, &mut batch, limits);
}

/// Sends the batch (if any); false once the run loop is gone.
fn hand_over(tx: &SyncSender<Delivery>, batch: &mut Vec<Received>, limits: NetLimits) -> bool {
    if batch.is_empty() {
        return true;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(limits.batch_packets));
    send_packets(tx, full)
}

/// Sends packets to the run loop, counted in the channel's depth; false once it is gone.
pub(crate) fn send_packets(tx: &SyncSender<Delivery>, packets: Vec<Received>) -> bool {
    let n = packets.len() as i64;
    let sent = tx.send(Delivery::Packets(packets)).is_ok();
    if sent {
        crate::metrics::queue_depth_add(crate::metrics::Queue::HepChannel, n);
    }
    sent
}

fn poll_timeout() -> PollTimeout {
    PollTimeout::try_from(POLL).unwrap_or(PollTimeout::MAX)
}

/// Accepts streams on `listener` until `stop`, each served on a thread of its own (TLS when
/// `tls` is given).
pub fn serve_streams(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    tx: SyncSender<Delivery>,
    stop: Arc<AtomicBool>,
    limits: NetLimits,
) {
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::error!("HEP stream listener: {e}");
        return;
    }
    let open = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if open.load(Ordering::Relaxed) >= limits.max_connections {
                    drop(stream);
                    if tx.send(Delivery::StreamRefused(peer)).is_err() {
                        return;
                    }
                    continue;
                }
                open.fetch_add(1, Ordering::Relaxed);
                let (tx, stop, open, tls) = (tx.clone(), Arc::clone(&stop), Arc::clone(&open), tls.clone());
                let spawned = std::thread::Builder::new().name("hep-stream".into()).spawn(move || {
                    serve_stream(stream, peer, tls, &tx, &stop, limits);
                    open.fetch_sub(1, Ordering::Relaxed);
                });
                if let Err(e) = spawned {
                    tracing::error!("HEP stream from {peer}: no thread: {e}");
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, poll_timeout());
            }
            Err(_) => {}
        }
    }
}

fn serve_stream(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    tx: &SyncSender<Delivery>,
    stop: &AtomicBool,
    limits: NetLimits,
) {
    if stream.set_nonblocking(false).and_then(|()| stream.set_read_timeout(Some(POLL))).is_err() {
        return;
    }
    match tls {
        None => read_frames(stream, peer, tx, stop, limits),
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(conn) => read_frames(rustls::StreamOwned::new(conn, stream), peer, tx, stop, limits),
            Err(e) => tracing::warn!("HEP TLS from {peer}: {e}"),
        },
    }
}

/// Reads HEPv3 frames until the peer closes, idles out, sends something else, or `stop`.
fn read_frames(
    mut stream: impl Read,
    peer: SocketAddr,
    tx: &SyncSender<Delivery>,
    stop: &AtomicBool,
    limits: NetLimits,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) && last.elapsed() < limits.idle_timeout {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                continue
            }
            // A reset, or a TLS alert or handshake failure (rustls says which): the stream is over.
            Err(e) => {
                tracing::debug!("HEP stream from {peer}: {e}");
                return;
            }
        };
        last = Instant::now();
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let received_ns = crate::time::now_ns();
        let mut batch = Vec::new();
        let mut at = 0;
        let verdict = loop {
            match frame(buf.get(at..).unwrap_or_default()) {
                Framed::Complete(len) => {
                    let bytes = buf.get(at..at + len).unwrap_or_default().to_vec();
                    batch.push(Received { bytes, peer, received_ns });
                    at += len;
                }
                other => break other,
            }
        };
        buf.drain(..at);
        if !batch.is_empty() && !send_packets(tx, batch) {
            return;
        }
        if let Framed::Invalid(_) = verdict {
            let _ = tx.send(Delivery::StreamNotHep(peer));
            return;
        }
    }
}
