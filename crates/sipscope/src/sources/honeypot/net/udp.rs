//! UDP listeners. On a wildcard bind the socket asks the kernel for each datagram's destination
//! address (IP_PKTINFO, IPV6_RECVPKTINFO) and answers from that same address, so one socket
//! serves every node address routed, tunnelled (GRE) or DNATed to the host, and each event
//! carries the address it really hit. Answers due later (delayed ringing, retransmitted final
//! answers) are sent between receives: the socket's receive timeout is cut to when the next one
//! is due. The kernel's count of datagrams dropped for a full
//! socket buffer (SO_RXQ_OVFL) comes with each datagram and is added to the stats. The address
//! is bound exclusively (no SO_REUSEADDR): a second honeypot on the same address and port is
//! refused instead of silently taking the traffic.

use super::{wait_for, Stop};
use crate::event::Transport;
use crate::sources::honeypot::core::{Core, Packet};
use crate::sources::udp_batch::to_socket_addr;
use crate::time::now_ns;
use nix::sys::socket::{self, sockopt, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often a blocked receive wakes to check for a stop.
const POLL: Duration = Duration::from_millis(200);
/// Datagrams read per system call at most.
const BATCH: usize = 32;
/// The receive buffer asked for: bursts of scanner traffic arrive faster than one thread
/// answers for a moment.
const RECEIVE_BUFFER: usize = 4 << 20;
/// Local IPv6 addresses whose interface is remembered for later answers (the host's own
/// addresses; forgotten all at once past this).
const IFINDEXES: usize = 256;

/// A bound UDP listener.
pub struct UdpListener {
    socket: UdpSocket,
    bound: SocketAddr,
    wildcard: bool,
    /// The kernel's drop counter at the last datagram (it counts from the socket's creation).
    drops_seen: u32,
}

impl UdpListener {
    /// Binds `addr` (before privileges are dropped).
    pub fn bind(addr: SocketAddr) -> std::io::Result<UdpListener> {
        UdpListener::bind_with_buffer(addr, RECEIVE_BUFFER)
    }

    fn bind_with_buffer(addr: SocketAddr, receive_buffer: usize) -> std::io::Result<UdpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        let _ = socket.set_recv_buffer_size(receive_buffer);
        socket.bind(&addr.into()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                std::io::Error::new(e.kind(), "address in use: another process (a second honeypot?) is bound to it")
            } else {
                e
            }
        })?;
        // Where the kernel's drop counter is unavailable, drops stay unknown, not fatal.
        if let Err(e) = socket::setsockopt(&socket, sockopt::RxqOvfl, &1) {
            tracing::debug!("SO_RXQ_OVFL on {addr}: {e}");
        }
        let wildcard = addr.ip().is_unspecified();
        if wildcard {
            let fd = socket.as_raw_fd();
            let result = if addr.is_ipv4() {
                socket::setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)
            } else {
                socket::setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
            };
            result.map_err(|e| std::io::Error::other(format!("enabling packet info on fd {fd}: {e}")))?;
        }
        socket.set_read_timeout(Some(POLL))?;
        let socket: UdpSocket = socket.into();
        let bound = socket.local_addr()?;
        Ok(UdpListener { socket, bound, wildcard, drops_seen: 0 })
    }

    /// The bound address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
    }

    /// Receives and answers until `stop`. Datagrams are read up to [`BATCH`] at a time
    /// (recvmmsg): under a flood one system call brings many, and the thread sleeps less.
    pub fn serve(mut self, core: Arc<Core>, stop: Stop) {
        let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; 65_536]).collect();
        let cmsg = nix::cmsg_space!(nix::libc::in_pktinfo, nix::libc::in6_pktinfo, u32);
        let mut headers = socket::MultiHeaders::<SockaddrStorage>::preallocate(BATCH, Some(cmsg));
        let mut received: Vec<(usize, SocketAddr, SocketAddr, u32)> = Vec::with_capacity(BATCH);
        let fd = self.socket.as_raw_fd();
        let channel = core.new_channel();
        let mut ifindexes: HashMap<IpAddr, u32> = HashMap::new();
        let mut timeout = POLL;
        while !stop.is_set() {
            received.clear();
            let wait = wait_for(core.next_due(channel), now_ns(), POLL);
            if wait != timeout && self.socket.set_read_timeout(Some(wait)).is_ok() {
                timeout = wait;
            }
            {
                let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
                let results = match socket::recvmmsg(fd, &mut headers, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None)
                {
                    Ok(r) => Some(r),
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => None,
                    Err(e) => {
                        tracing::warn!("receiving on {}: {e}", self.bound);
                        std::thread::sleep(POLL);
                        None
                    }
                };
                for msg in results.into_iter().flatten() {
                    let Some(source) = msg.address.as_ref().and_then(to_socket_addr) else { continue };
                    let (mut local, mut ifindex) = (self.bound, 0);
                    for c in msg.cmsgs().into_iter().flatten() {
                        match c {
                            ControlMessageOwned::RxqOvfl(dropped) => {
                                // A running count (it wraps): add what is new since the last.
                                let new = dropped.wrapping_sub(self.drops_seen);
                                self.drops_seen = dropped;
                                core.stats.net.kernel_drops.fetch_add(u64::from(new), Ordering::Relaxed);
                            }
                            _ if !self.wildcard => {}
                            ControlMessageOwned::Ipv4PacketInfo(info) => {
                                local.set_ip(IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr))));
                            }
                            ControlMessageOwned::Ipv6PacketInfo(info) => {
                                local.set_ip(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                                ifindex = info.ipi6_ifindex;
                            }
                            _ => {}
                        }
                    }
                    received.push((msg.bytes, source, local, ifindex));
                }
            }
            for (i, &(len, source, local, ifindex)) in received.iter().enumerate() {
                if ifindex != 0 && !ifindexes.contains_key(&local.ip()) {
                    if ifindexes.len() >= IFINDEXES {
                        ifindexes.clear();
                    }
                    ifindexes.insert(local.ip(), ifindex);
                }
                let bytes = &bufs[i][..len];
                let packet = Packet { now_ns: now_ns(), transport: Transport::Udp, source, local, bytes, channel };
                for reply in core.handle(packet) {
                    if let Err(e) = self.send(&reply, source, local, ifindex) {
                        tracing::debug!("answering {source}: {e}");
                    }
                }
            }
            for answer in core.due(channel, now_ns()) {
                let ifindex = ifindexes.get(&answer.local.ip()).copied().unwrap_or(0);
                if let Err(e) = self.send(&answer.bytes, answer.dest, answer.local, ifindex) {
                    tracing::debug!("answering {} later: {e}", answer.dest);
                }
            }
        }
    }

    /// Sends from `local` (the address the request reached) to `dest`.
    fn send(&self, reply: &[u8], dest: SocketAddr, local: SocketAddr, ifindex: u32) -> std::io::Result<()> {
        if !self.wildcard {
            self.socket.send_to(reply, dest)?;
            return Ok(());
        }
        let iov = [IoSlice::new(reply)];
        let fd = self.socket.as_raw_fd();
        let sent = match (dest, local.ip()) {
            (SocketAddr::V4(d), IpAddr::V4(l)) => {
                let info = nix::libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: nix::libc::in_addr { s_addr: u32::from(l).to_be() },
                    ipi_addr: nix::libc::in_addr { s_addr: 0 },
                };
                let to = socket::SockaddrIn::from(d);
                socket::sendmsg(fd, &iov, &[ControlMessage::Ipv4PacketInfo(&info)], MsgFlags::empty(), Some(&to))
            }
            (SocketAddr::V6(d), IpAddr::V6(l)) => {
                let info = nix::libc::in6_pktinfo {
                    ipi6_addr: nix::libc::in6_addr { s6_addr: l.octets() },
                    ipi6_ifindex: ifindex,
                };
                let to = socket::SockaddrIn6::from(d);
                socket::sendmsg(fd, &iov, &[ControlMessage::Ipv6PacketInfo(&info)], MsgFlags::empty(), Some(&to))
            }
            _ => return Err(std::io::Error::other("address family mismatch")),
        };
        sent.map(|_| ()).map_err(std::io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::honeypot::config::HoneypotConfig;
    use crate::sources::honeypot::run::open_core;

    #[test]
    fn a_second_bind_on_the_same_address_and_port_is_refused() {
        let first = UdpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let err = UdpListener::bind(first.local_addr()).err().expect("the second bind fails");
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("another process (a second honeypot?) is bound to it"), "{err}");
    }

    #[test]
    fn datagrams_the_kernel_drops_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("store = {:?}\nhuman_log = \"off\"\n[intel]\nenabled = false\n", dir.path().join("s.db"));
        let core = open_core(&HoneypotConfig::parse(&text, "test").unwrap(), "sensor".into()).unwrap();
        // The smallest buffer the kernel allows holds a datagram or two.
        let listener = UdpListener::bind_with_buffer("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let to = listener.local_addr();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..50 {
            client.send_to(&[b'x'; 500], to).unwrap();
        }
        // Loopback delivers through the softirq backlog, which a busy machine runs late: wait
        // until the kernel has counted the drops (its own table says so) before reading, or the
        // listener reads datagrams that would have been dropped.
        for _ in 0..200 {
            if drops_in_proc_net_udp(to.port()).is_some_and(|d| d >= 40) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let stop = Stop::default();
        let serving = {
            let (core, stop) = (Arc::clone(&core), stop.clone());
            std::thread::spawn(move || listener.serve(core, stop))
        };
        // The first datagram read after the drops carries the kernel's count.
        let last = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";
        // Up to 20 s: a machine busy with other tests may be slow to schedule the listener.
        let mut probes = 0;
        for _ in 0..400 {
            client.send_to(last, to).unwrap();
            probes += 1;
            std::thread::sleep(Duration::from_millis(50));
            if core.stats.net.kernel_drops.load(Ordering::Relaxed) > 0 {
                break;
            }
        }
        stop.set();
        serving.join().unwrap();
        let drops = core.stats.net.kernel_drops.load(Ordering::Relaxed);
        // A probe can be dropped too when the machine is busy and the listener slow to read.
        assert!((40..=50 + probes).contains(&drops), "{drops} drops after {probes} probes");
        core.finish().unwrap();
    }

    /// The `drops` column of `/proc/net/udp` for the IPv4 socket bound to `port`.
    fn drops_in_proc_net_udp(port: u16) -> Option<u64> {
        let table = std::fs::read_to_string("/proc/net/udp").ok()?;
        let local = format!(":{port:04X}");
        table.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1)?.ends_with(&local)).then(|| fields.last()?.parse().ok())?
        })
    }
}
