//! # sipscope-packet
//!
//! Sans-IO packet decoding for sipscope: captured link-layer frames in, transport payloads
//! out. No sockets, no clock, no files: time is the caller's (`now`, nanoseconds, usually the
//! capture timestamp). Nothing panics on any input and every bound is a named limit.
//!
//! - [`decode`]`(link, frame)` walks a frame of a [`LinkType`] down to its innermost
//!   [`Layer4`] without copying or allocating: Ethernet II, 802.1Q and QinQ tags (0x8100,
//!   0x88a8, 0x9100), MPLS label stacks (then IPv4/IPv6 by the first nibble, or a pseudowire
//!   control word and Ethernet), PPPoE, Linux SLL/SLL2, BSD loopback, IPv4 (options; checksum
//!   not checked), IPv6 with extension headers (hop-by-hop, routing, destination options,
//!   fragment, AH), GRE (checksum, key, sequence; IP, Ethernet bridging 0x6558, ERSPAN I/II
//!   0x88be, ERSPAN III 0x22eb, MPLS, VLAN, PPP 0x880b), PPTP's enhanced GRE (PPP with IP
//!   inside), IP-in-IP (4, 41), VXLAN (UDP 4789), UDP, TCP, SCTP. An IP header whose length
//!   exceeds the bytes captured is decoded as far as they go and [`Decoded::truncated`] says so.
//!   Tunnels nest; the outermost one is kept in [`Encap::tunnel`] (it names the sensor that
//!   mirrored the traffic) and the walk goes on to the innermost transport.
//! - [`Defragmenter`] reassembles IPv4/IPv6 fragments ([`Layer4::Fragment`]) and
//!   [`decode_ip_payload`] decodes the datagram in the fragment's context.
//! - [`TcpReassembler`] turns segments into per-direction in-order byte buffers; framing (SIP
//!   over TCP) is the caller's, which reads [`TcpReassembler::stream_buffer`] and calls
//!   [`TcpReassembler::consume`].
//! - Counters: [`DefragStats`], [`TcpStats`]; decode failures name their [`Layer`] and kind.
//!
//! ```
//! use sipscope_packet::{decode, decode_ip_payload, Defragmenter, DefragLimits, LinkType, Layer4};
//! use sipscope_packet::{TcpLimits, TcpReassembler};
//!
//! fn ingest(ts_ns: i64, frame: &[u8], defrag: &mut Defragmenter, tcp: &mut TcpReassembler) {
//!     let Ok(d) = decode(LinkType::Ethernet, frame) else { return };
//!     let datagram; // a reassembled datagram outlives the match below
//!     let d = match d.transport {
//!         Layer4::Fragment => match defrag.push(ts_ns, &d.ip, d.ip_payload) {
//!             Some(r) => {
//!                 datagram = r;
//!                 match decode_ip_payload(d.encap, datagram.ip, &datagram.payload) {
//!                     Ok(d) => d,
//!                     Err(_) => return,
//!                 }
//!             }
//!             None => return,
//!         },
//!         _ => d,
//!     };
//!     match d.transport {
//!         Layer4::Udp(udp) => { /* one SIP message: udp.payload */ }
//!         Layer4::Tcp(seg) => {
//!             let pushed = tcp.push_segment(ts_ns, &d.ip, &seg);
//!             if let Some(id) = pushed.stream {
//!                 // Frame complete messages off the front, then consume them.
//!                 let n = tcp.stream_buffer(id).len();
//!                 tcp.consume(id, n);
//!             }
//!         }
//!         _ => {}
//!     }
//! }
//!
//! let mut defrag = Defragmenter::new(DefragLimits::default());
//! let mut tcp = TcpReassembler::new(TcpLimits::default());
//! ingest(0, &[0u8; 14], &mut defrag, &mut tcp);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod decode;
mod defrag;
mod error;
mod ip;
mod link;
mod pieces;
mod sctp;
mod tcp;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
mod transport;
mod tunnel;
pub mod websocket;

pub use decode::{decode, decode_ip_payload, Decoded, Encap, Vlans};
pub use defrag::{DefragLimits, DefragStats, Defragmenter, FragKey, Reassembled};
pub use error::{DecodeError, Layer};
pub use ip::{
    Fragment, IpInfo, PROTO_AH, PROTO_GRE, PROTO_HOPOPT, PROTO_IPIP, PROTO_IPV6, PROTO_IPV6_FRAG, PROTO_IPV6_OPTS,
    PROTO_IPV6_ROUTE, PROTO_SCTP, PROTO_TCP, PROTO_UDP,
};
pub use link::{
    LinkType, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MPLS, ETHERTYPE_MPLS_MULTICAST, ETHERTYPE_PPPOE_SESSION,
    ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD, ETHERTYPE_VLAN,
};
pub use sctp::{Sctp, SctpData, SctpDataChunk, SctpKey, SctpLimits, SctpMessage, SctpReassembler, SctpStats};
pub use tcp::{Expired, Gap, Pushed, StreamId, StreamKey, TcpLimits, TcpReassembler, TcpStats};
pub use transport::{Layer4, Tcp, TcpFlags, Udp};
pub use tunnel::{Tunnel, TunnelKind, GRE_ERSPAN2, GRE_ERSPAN3, GRE_ETHERNET, GRE_PPP, VXLAN_PORT};

/// Headers of any kind one [`decode`] call crosses (each VLAN tag, MPLS stack, IP header,
/// extension header and tunnel header counts).
pub const MAX_HEADERS: usize = 64;
/// IP headers one packet may nest (the innermost included): tunnels nest at most 7 deep.
pub const MAX_IP_HEADERS: usize = 8;
/// VLAN tags recorded per packet ([`Vlans`]); one more is [`DecodeError::TooDeep`].
pub const MAX_VLAN_TAGS: usize = 8;
/// Labels in one MPLS stack.
pub const MAX_MPLS_LABELS: usize = 16;
