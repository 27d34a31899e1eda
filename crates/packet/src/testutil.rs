//! Frame builders for tests (feature `testutil`): each function returns the bytes of one
//! header followed by its payload, so frames are built inside out:
//!
//! ```
//! use sipscope_packet::testutil::*;
//! let frame = ethernet(0x0800, &ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, &udp(5060, 5060, SIP_OPTIONS)));
//! let d = sipscope_packet::decode(sipscope_packet::LinkType::Ethernet, &frame).unwrap();
//! assert!(matches!(d.transport, sipscope_packet::Layer4::Udp(u) if u.payload == SIP_OPTIONS));
//! ```
//!
//! IP builders fill in the IPv4 header checksum and the UDP/TCP checksum of unfragmented
//! packets, so the frames look right in Wireshark. [`pcap`] writes a capture file in memory.

#![allow(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::TcpFlags;

/// A small SIP request.
pub const SIP_OPTIONS: &[u8] = b"OPTIONS sip:100@192.0.2.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\nFrom: <sip:100@192.0.2.1>;tag=1\r\n\
To: <sip:100@192.0.2.2>\r\nCall-ID: 1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

pub const MAC_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
pub const MAC_DST: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Ethernet II.
pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    ethernet_tagged(&[], ethertype, payload)
}

/// Ethernet II with VLAN tags `(tpid, vid)`, outermost first.
pub fn ethernet_tagged(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = cat(&[&MAC_DST, &MAC_SRC]);
    for &(tpid, vid) in tags {
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An MPLS label stack (bottom of stack set on the last label).
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        out.extend_from_slice(&((label << 12) | (bos << 8) | 64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// PPPoE session header and PPP protocol.
pub fn pppoe(ppp_proto: u16, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() + 2) as u16;
    cat(&[&[0x11, 0x00, 0x00, 0x01], &len.to_be_bytes(), &ppp_proto.to_be_bytes(), payload])
}

/// Linux cooked capture v1 (incoming, ARPHRD_ETHER).
pub fn sll(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    cat(&[&[0, 0, 0, 1, 0, 6], &MAC_SRC, &[0, 0], &ethertype.to_be_bytes(), payload])
}

/// Linux cooked capture v2 (interface 1, ARPHRD_ETHER, incoming).
pub fn sll2(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    cat(&[&ethertype.to_be_bytes(), &[0, 0, 0, 0, 0, 1, 0, 1, 0, 6], &MAC_SRC, &[0, 0], payload])
}

/// BSD loopback (`LINKTYPE_NULL`), family in little- or big-endian host order.
pub fn null(family: u32, little_endian: bool, payload: &[u8]) -> Vec<u8> {
    let f = if little_endian { family.to_le_bytes() } else { family.to_be_bytes() };
    cat(&[&f, payload])
}

/// OpenBSD loopback (`LINKTYPE_LOOP`).
pub fn loopback(family: u32, payload: &[u8]) -> Vec<u8> {
    cat(&[&family.to_be_bytes(), payload])
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

fn sum(data: &[u8], mut acc: u32) -> u32 {
    for pair in data.chunks(2) {
        let hi = pair.first().copied().unwrap_or(0);
        let lo = pair.get(1).copied().unwrap_or(0);
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([hi, lo])));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Fills the UDP or TCP checksum of a whole segment.
fn fill_checksum(src: IpAddr, dst: IpAddr, proto: u8, seg: &mut [u8]) {
    let at = match proto {
        6 if seg.len() >= 20 => 16,
        17 if seg.len() >= 8 => 6,
        _ => return,
    };
    seg[at] = 0;
    seg[at + 1] = 0;
    let mut pseudo = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo.extend_from_slice(&cat(&[&s.octets(), &d.octets()])),
        (s, d) => pseudo.extend_from_slice(&cat(&[&to16(s), &to16(d)])),
    }
    pseudo.extend_from_slice(&(seg.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, proto]);
    let mut c = !fold(sum(seg, sum(&pseudo, 0)));
    if c == 0 && proto == 17 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn to16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// An IPv4 header template.
#[derive(Clone, Debug)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub offset: u16,
    /// Options, padded to 4 bytes with zeros.
    pub options: Vec<u8>,
}

impl Ipv4 {
    pub fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> Ipv4 {
        Ipv4 {
            src: src.into(),
            dst: dst.into(),
            proto,
            ttl: 64,
            tos: 0,
            id: 0x1234,
            dont_fragment: false,
            more_fragments: false,
            offset: 0,
            options: Vec::new(),
        }
    }

    /// The packet; the transport checksum is filled in unless this is a fragment.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut options = self.options.clone();
        options.resize(options.len().next_multiple_of(4), 0);
        let ihl = 20 + options.len();
        let total = (ihl + payload.len()) as u16;
        let flags = (u16::from(self.dont_fragment) << 14) | (u16::from(self.more_fragments) << 13) | (self.offset >> 3);
        let mut h = vec![0x40 | (ihl / 4) as u8, self.tos];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(&options);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        let mut seg = payload.to_vec();
        if self.offset == 0 && !self.more_fragments {
            fill_checksum(self.src.into(), self.dst.into(), self.proto, &mut seg);
        }
        cat(&[&h, &seg])
    }

    /// The packet cut into fragments of `size` payload bytes (rounded up to a multiple of 8).
    pub fn fragments(&self, payload: &[u8], size: usize) -> Vec<Vec<u8>> {
        let mut whole = payload.to_vec();
        fill_checksum(self.src.into(), self.dst.into(), self.proto, &mut whole);
        let size = size.next_multiple_of(8).max(8);
        let n = whole.len().div_ceil(size);
        (0..n)
            .map(|i| {
                let part = &whole[i * size..((i + 1) * size).min(whole.len())];
                let frag = Ipv4 { offset: (i * size) as u16, more_fragments: i + 1 < n, ..self.clone() };
                frag.build(part)
            })
            .collect()
    }
}

/// An unfragmented IPv4 packet.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    Ipv4::new(src, dst, proto).build(payload)
}

pub const V6_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const V6_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// An IPv6 packet whose first next header is `next`; when that is TCP or UDP, its checksum
/// is filled in.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut seg = payload.to_vec();
    fill_checksum(src.into(), dst.into(), next, &mut seg);
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    cat(&[&h, &seg])
}

/// A hop-by-hop or destination options header (8 bytes, PadN).
pub fn ipv6_options(next: u8, payload: &[u8]) -> Vec<u8> {
    cat(&[&[next, 0, 1, 4, 0, 0, 0, 0], payload])
}

/// A routing header (type 4, segments left 0, one address).
pub fn ipv6_routing(next: u8, payload: &[u8]) -> Vec<u8> {
    cat(&[&[next, 2, 4, 0, 0, 0, 0, 0], &V6_DST.octets(), payload])
}

/// A fragment header; `offset` in bytes.
pub fn ipv6_fragment(next: u8, offset: u16, more: bool, id: u32, payload: &[u8]) -> Vec<u8> {
    let field = (offset & !7) | u16::from(more);
    cat(&[&[next, 0], &field.to_be_bytes(), &id.to_be_bytes(), payload])
}

/// IPv6 fragments of an upper-layer `payload` of protocol `next` (its checksum filled in).
pub fn ipv6_fragments(next: u8, payload: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    let mut whole = payload.to_vec();
    fill_checksum(V6_SRC.into(), V6_DST.into(), next, &mut whole);
    let size = size.next_multiple_of(8).max(8);
    let n = whole.len().div_ceil(size);
    (0..n)
        .map(|i| {
            let part = &whole[i * size..((i + 1) * size).min(whole.len())];
            ipv6(V6_SRC, V6_DST, 44, &ipv6_fragment(next, (i * size) as u16, i + 1 < n, id, part))
        })
        .collect()
}

/// An Authentication Header with a 12-byte ICV.
pub fn ah(next: u8, payload: &[u8]) -> Vec<u8> {
    cat(&[&[next, 4, 0, 0], &0x100u32.to_be_bytes(), &1u32.to_be_bytes(), &[0xaa; 12], payload])
}

/// UDP (checksum filled in by the IP builders).
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() + 8) as u16;
    cat(&[&sport.to_be_bytes(), &dport.to_be_bytes(), &len.to_be_bytes(), &[0, 0], payload])
}

/// TCP with a timestamp option (data offset 8), checksum filled in by the IP builders.
pub fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let options = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0];
    cat(&[
        &sport.to_be_bytes(),
        &dport.to_be_bytes(),
        &seq.to_be_bytes(),
        &ack.to_be_bytes(),
        &[0x80, flags.0, 0xff, 0xff, 0, 0, 0, 0],
        &options,
        payload,
    ])
}

/// GRE with optional checksum (zero), key and sequence number.
pub fn gre(proto: u16, key: Option<u32>, seq: Option<u32>, with_checksum: bool, payload: &[u8]) -> Vec<u8> {
    let flags = (u16::from(with_checksum) << 15) | (u16::from(key.is_some()) << 13) | (u16::from(seq.is_some()) << 12);
    let mut out = cat(&[&flags.to_be_bytes(), &proto.to_be_bytes()]);
    if with_checksum {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    for word in [key, seq].into_iter().flatten() {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// PPTP's enhanced GRE (version 1, protocol PPP): key = payload length and call ID, optional
/// sequence and acknowledgement numbers.
pub fn pptp_gre(call_id: u16, seq: Option<u32>, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let flags: u16 = 0x2001 | (u16::from(seq.is_some()) << 12) | (u16::from(ack.is_some()) << 7);
    let len = payload.len() as u16;
    let mut out = cat(&[&flags.to_be_bytes(), &0x880bu16.to_be_bytes(), &len.to_be_bytes(), &call_id.to_be_bytes()]);
    for word in [seq, ack].into_iter().flatten() {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A PPP frame with address and control bytes (`ff 03`) and a two-byte protocol (0x0021 IPv4,
/// 0x0057 IPv6, 0xc021 LCP).
pub fn ppp(proto: u16, payload: &[u8]) -> Vec<u8> {
    cat(&[&[0xff, 0x03], &proto.to_be_bytes(), payload])
}

/// An ERSPAN type II header (put it in GRE 0x88be with a sequence number).
pub fn erspan2(session: u16, vlan: u16, frame: &[u8]) -> Vec<u8> {
    let w0 = (1u16 << 12) | (vlan & 0x0fff);
    cat(&[&w0.to_be_bytes(), &(session & 0x03ff).to_be_bytes(), &[0, 0, 0, 7], frame])
}

/// An ERSPAN type III header for an Ethernet frame (GRE 0x22eb), with an optional platform
/// sub-header.
pub fn erspan3(session: u16, subheader: bool, frame: &[u8]) -> Vec<u8> {
    let w0 = 2u16 << 12;
    let tail = u16::from(subheader);
    let mut out =
        cat(&[&w0.to_be_bytes(), &(session & 0x03ff).to_be_bytes(), &[0, 0, 0, 9, 0, 0], &tail.to_be_bytes()]);
    if subheader {
        out.extend_from_slice(&[0x0c, 0, 0, 0, 0, 0, 0, 0]);
    }
    out.extend_from_slice(frame);
    out
}

/// A VXLAN header.
pub fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let v = (vni & 0x00ff_ffff).to_be_bytes();
    cat(&[&[0x08, 0, 0, 0, v[1], v[2], v[3], 0], frame])
}

/// SCTP with one DATA chunk (checksum zero).
pub fn sctp_data(sport: u16, dport: u16, ppid: u32, payload: &[u8]) -> Vec<u8> {
    sctp(sport, dport, 7, &[data_chunk(0x03, 1, 0, 0, ppid, payload)])
}

/// An SCTP packet (checksum zero) of these chunks, each padded to 4 bytes.
pub fn sctp(sport: u16, dport: u16, vtag: u32, chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = cat(&[&sport.to_be_bytes(), &dport.to_be_bytes(), &vtag.to_be_bytes(), &[0; 4]]);
    for chunk in chunks {
        out.extend_from_slice(chunk);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

/// A DATA chunk (unpadded): flags (0x02 B, 0x01 E, 0x04 U), TSN, stream, SSN, PPID.
pub fn data_chunk(flags: u8, tsn: u32, stream: u16, ssn: u16, ppid: u32, payload: &[u8]) -> Vec<u8> {
    let len = (16 + payload.len()) as u16;
    cat(&[
        &[0, flags],
        &len.to_be_bytes(),
        &tsn.to_be_bytes(),
        &stream.to_be_bytes(),
        &ssn.to_be_bytes(),
        &ppid.to_be_bytes(),
        payload,
    ])
}

/// The DATA chunks of one user message cut into pieces of `size` bytes, TSNs from `tsn`.
pub fn data_fragments(tsn: u32, stream: u16, ssn: u16, ppid: u32, message: &[u8], size: usize) -> Vec<Vec<u8>> {
    let pieces: Vec<&[u8]> = message.chunks(size.max(1)).collect();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let flags = (u8::from(i == 0) << 1) | u8::from(i + 1 == n);
            data_chunk(flags, tsn.wrapping_add(i as u32), stream, ssn, ppid, piece)
        })
        .collect()
}

/// A SACK chunk (cumulative TSN, no gap blocks).
pub fn sack_chunk(cumulative_tsn: u32) -> Vec<u8> {
    cat(&[&[3, 0, 0, 16], &cumulative_tsn.to_be_bytes(), &0x1_0000u32.to_be_bytes(), &[0; 4]])
}

/// A WebSocket frame (RFC 6455): FIN, opcode, masked with `mask` if given; the length in the
/// shortest form.
pub fn ws_frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (opcode & 0x0f)];
    let m = u8::from(mask.is_some()) << 7;
    match payload.len() {
        n @ 0..=125 => out.push(m | n as u8),
        n @ 126..=0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A WebSocket upgrade request for the `sip` subprotocol (RFC 7118 §4).
pub const WS_UPGRADE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: sip.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://www.example.com\r\n\
Sec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The server's answer to [`WS_UPGRADE_REQUEST`].
pub const WS_UPGRADE_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

/// A pcap file (nanosecond timestamps, little-endian) of `(ts_ns, frame)` records.
pub fn pcap(linktype: u32, packets: &[(i64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for &(ts, frame) in packets {
        out.extend_from_slice(&(ts.div_euclid(1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(ts.rem_euclid(1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}
