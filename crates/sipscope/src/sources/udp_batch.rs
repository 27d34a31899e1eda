//! Datagrams many at a time: one `recvmmsg` system call reads up to a batch of datagrams into
//! buffers allocated once, so a UDP listener under a flood pays one call and no allocation per
//! datagram. Not a source: a helper the sources' UDP listeners share (`hep`; the honeypot's
//! listener reads the same way with control messages of its own: destination addresses and
//! kernel drop counts).

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// The largest datagram (UDP's limit): nothing is cut.
pub const MAX_DATAGRAM: usize = 65_536;

/// Buffers and headers for up to `capacity` datagrams per call.
pub struct UdpBatch {
    buffers: Vec<Vec<u8>>,
    headers: MultiHeaders<SockaddrStorage>,
    /// Length and sender of each datagram of the last call.
    received: Vec<(usize, Option<SocketAddr>)>,
}

impl UdpBatch {
    /// Room for `capacity` datagrams (at least one) of up to [`MAX_DATAGRAM`] bytes.
    pub fn new(capacity: usize) -> UdpBatch {
        let capacity = capacity.max(1);
        UdpBatch {
            buffers: (0..capacity).map(|_| vec![0u8; MAX_DATAGRAM]).collect(),
            headers: MultiHeaders::preallocate(capacity, None),
            received: Vec::with_capacity(capacity),
        }
    }

    /// Reads the datagrams waiting on `socket` (a non-blocking one), at most the capacity;
    /// returns how many (`WouldBlock` when none is waiting).
    pub fn receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        self.received.clear();
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self.buffers.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let results = recvmmsg(socket.as_raw_fd(), &mut self.headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
            .map_err(std::io::Error::from)?;
        for msg in results {
            let peer = msg.address.as_ref().and_then(to_socket_addr);
            self.received.push((msg.bytes, peer));
        }
        Ok(self.received.len())
    }

    /// The datagrams of the last call, with their senders (a datagram whose sender the kernel
    /// did not say is skipped: it cannot happen on an IP socket).
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        self.received.iter().zip(&self.buffers).filter_map(|(&(len, peer), buf)| Some((buf.get(..len)?, peer?)))
    }
}

/// The sender's address as the kernel gave it (`None` for a family other than IPv4 and IPv6);
/// also the honeypot's listener's, which reads with its own `recvmmsg` (it needs each
/// datagram's destination too).
pub(crate) fn to_socket_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    s.as_sockaddr_in6().map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_arrive_whole_with_their_senders_and_in_order() {
        let rx = UdpSocket::bind("127.0.241.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.241.2:0").unwrap();
        let mut batch = UdpBatch::new(4);
        assert_eq!(batch.receive(&rx).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
        let big = vec![7u8; 60_000];
        for payload in [&b"one"[..], b"", &big, b"four", b"five"] {
            tx.send_to(payload, rx.local_addr().unwrap()).unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 5 {
            match batch.receive(&rx) {
                Ok(n) => {
                    assert!(n <= 4);
                    got.extend(batch.datagrams().map(|(b, peer)| (b.to_vec(), peer)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        let lens: Vec<usize> = got.iter().map(|(b, _)| b.len()).collect();
        assert_eq!(lens, [3, 0, 60_000, 4, 4]);
        assert_eq!(got[2].0, big);
        assert!(got.iter().all(|(_, peer)| *peer == tx.local_addr().unwrap()));
    }
}
