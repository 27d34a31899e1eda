//! The HEP listeners: UDP (one datagram, one packet; read many per system call), TCP and TLS
//! (HEPv3's own length frames the packets). Each runs on a thread of its own and hands what it
//! received, in batches (one buffer each), to the run loop through a queue bounded in bytes
//! (`queue.rs`): a burst faster than the pipeline stores is held there and stored as the
//! pipeline catches up; when the queue is full, UDP waits and the kernel's receive buffer
//! absorbs what comes next (then drops, counted by the kernel, as for any collector).
//!
//! Streams are bounded: at most [`NetLimits::max_connections`] at once, closed after
//! [`NetLimits::idle_timeout`] without a byte or at the first bytes that are not HEPv3 (the
//! framing is lost for good). A packet is at most 64 KiB, so a connection's buffer is too.

use super::queue::QueueTx;
use crate::sources::udp_batch::UdpBatch;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use sipscope_hep::{frame, Framed};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Bytes of received packets (their bytes and about 64 bytes of bookkeeping each) held
    /// for the run loop at most. Default 256 MiB: a burst of about 500,000 typical packets
    /// (a SIP message of ~450 bytes each) beyond what the pipeline stores meanwhile.
    pub queue_bytes: usize,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits {
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
            udp_recv_buffer: 16 << 20,
            batch_packets: 256,
            queue_bytes: 256 << 20,
        }
    }
}

/// Packets as received, their bytes in one buffer (one allocation per batch, not per packet).
#[derive(Debug, Default)]
pub struct Packets {
    buffer: Vec<u8>,
    /// Start and length of each packet in the buffer, who sent it and when it came (ns since
    /// the Unix epoch).
    items: Vec<(usize, usize, SocketAddr, i64)>,
}

impl Packets {
    pub(super) fn with_capacity(packets: usize) -> Packets {
        Packets { buffer: Vec::with_capacity(packets * 1024), items: Vec::with_capacity(packets) }
    }

    /// Appends a packet.
    pub fn push(&mut self, bytes: &[u8], peer: SocketAddr, received_ns: i64) {
        self.items.push((self.buffer.len(), bytes.len(), peer, received_ns));
        self.buffer.extend_from_slice(bytes);
    }

    /// Where its bytes are kept (for tests of reuse).
    #[cfg(test)]
    pub(super) fn buffer_ptr(&self) -> *const u8 {
        self.buffer.as_ptr()
    }

    /// Whether its buffers are no larger than a new batch's of `packets` packets would be
    /// (a batch of large datagrams grows far beyond that).
    pub(super) fn fits(&self, packets: usize) -> bool {
        self.buffer.capacity() <= packets * 1024 && self.items.capacity() <= packets
    }

    /// Empties it, keeping its buffers.
    pub(super) fn clear(&mut self) {
        self.buffer.clear();
        self.items.clear();
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The memory they hold, for the queue's bound: the bytes and the bookkeeping per packet.
    pub fn size(&self) -> usize {
        self.buffer.len() + self.items.len() * PACKET_OVERHEAD
    }

    /// Each packet: its bytes, sender and time of receipt, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], SocketAddr, i64)> {
        self.items.iter().map(|&(at, len, peer, ns)| (self.buffer.get(at..at + len).unwrap_or_default(), peer, ns))
    }
}

/// Bytes counted per packet besides its own: its entry in the batch and allocator slack.
const PACKET_OVERHEAD: usize = 64;

/// What listeners hand the run loop.
#[derive(Debug)]
pub enum Delivery {
    /// Packets, in the order received.
    Packets(Packets),
    /// A stream from this peer stopped being HEPv3 and was closed.
    StreamNotHep(SocketAddr),
    /// A stream was refused: too many open.
    StreamRefused(SocketAddr),
}

impl Delivery {
    /// The memory it holds, for the queue's bound.
    pub fn size(&self) -> usize {
        match self {
            Delivery::Packets(p) => p.size(),
            Delivery::StreamNotHep(_) | Delivery::StreamRefused(_) => PACKET_OVERHEAD,
        }
    }
}

/// Receives datagrams on `socket` until `stop`, up to [`RECV_BATCH`] per system call.
pub fn serve_udp(socket: UdpSocket, tx: QueueTx, stop: Arc<AtomicBool>, limits: NetLimits) {
    if let Err(e) = socket.set_nonblocking(true) {
        tracing::error!("HEP UDP listener: {e}");
        return;
    }
    let mut datagrams = UdpBatch::new(RECV_BATCH);
    let mut batch = tx.empty_batch(limits.batch_packets);
    while !stop.load(Ordering::Relaxed) {
        match datagrams.receive(&socket) {
            Ok(_) => {
                // One clock reading per call: the datagrams of one call came together.
                let received_ns = crate::time::now_ns();
                for (bytes, peer) in datagrams.datagrams() {
                    batch.push(bytes, peer, received_ns);
                }
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
    // Stopping: what was read is queued too (the run loop takes what is queued until every
    // listener has ended).
    hand_over(&tx, &mut batch, limits);
}

/// Datagrams read per system call.
pub const RECV_BATCH: usize = 64;

/// Sends the batch (if any); false once the run loop is gone.
fn hand_over(tx: &QueueTx, batch: &mut Packets, limits: NetLimits) -> bool {
    if batch.is_empty() {
        return true;
    }
    let full = std::mem::replace(batch, tx.empty_batch(limits.batch_packets));
    send_packets(tx, full)
}

/// Sends packets to the run loop, counted in the channel's depth; false once it is gone.
pub(crate) fn send_packets(tx: &QueueTx, packets: Packets) -> bool {
    let n = packets.len() as i64;
    let sent = tx.send(Delivery::Packets(packets));
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
    tx: QueueTx,
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
                    if !tx.send(Delivery::StreamRefused(peer)) {
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
    tx: &QueueTx,
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
fn read_frames(mut stream: impl Read, peer: SocketAddr, tx: &QueueTx, stop: &AtomicBool, limits: NetLimits) {
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
        let mut batch = tx.empty_batch(0);
        let mut at = 0;
        let verdict = loop {
            match frame(buf.get(at..).unwrap_or_default()) {
                Framed::Complete(len) => {
                    batch.push(buf.get(at..at + len).unwrap_or_default(), peer, received_ns);
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
