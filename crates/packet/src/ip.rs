//! IPv4 and IPv6 headers, IPv6 extension headers and the Authentication Header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{be16, be32, header, malformed, split, truncated, DecodeError, Layer};

/// IP protocol number of IPv6 hop-by-hop options.
pub const PROTO_HOPOPT: u8 = 0;
/// IP protocol number of IPv4-in-IP.
pub const PROTO_IPIP: u8 = 4;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of IPv6-in-IP.
pub const PROTO_IPV6: u8 = 41;
/// IP protocol number of the IPv6 routing header.
pub const PROTO_IPV6_ROUTE: u8 = 43;
/// IP protocol number of the IPv6 fragment header.
pub const PROTO_IPV6_FRAG: u8 = 44;
/// IP protocol number of GRE.
pub const PROTO_GRE: u8 = 47;
/// IP protocol number of the Authentication Header.
pub const PROTO_AH: u8 = 51;
/// IP protocol number of IPv6 destination options.
pub const PROTO_IPV6_OPTS: u8 = 60;
/// IP protocol number of SCTP.
pub const PROTO_SCTP: u8 = 132;

/// The innermost IP header of a decoded frame (or of a reassembled datagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Protocol of [`crate::Decoded::ip_payload`]: the upper-layer protocol once IPv6
    /// extension headers are walked; for a fragment, the protocol of the whole datagram (for
    /// IPv6, the fragment header's next header).
    pub proto: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 type of service or IPv6 traffic class (DSCP and ECN).
    pub tos: u8,
    /// IPv4 identification, or the IPv6 fragment header's identification (0 without one).
    pub id: u32,
    /// IPv4 "don't fragment" flag (always false for IPv6).
    pub dont_fragment: bool,
    /// Set when this packet is a fragment of a larger datagram (IPv6 atomic fragments, with
    /// offset 0 and no more fragments, are not).
    pub fragment: Option<Fragment>,
}

impl IpInfo {
    /// 4 or 6.
    pub fn version(&self) -> u8 {
        if self.src.is_ipv4() {
            4
        } else {
            6
        }
    }
}

/// Where a fragment sits in its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Offset of this fragment's data in the datagram's payload, in bytes (a multiple of 8).
    pub offset: u16,
    /// More fragments follow this one.
    pub more: bool,
}

impl Fragment {
    fn new(offset_units: u16, more: bool) -> Option<Fragment> {
        (offset_units != 0 || more).then_some(Fragment { offset: offset_units << 3, more })
    }
}

/// An IP header's payload, and whether the capture cut it: the header declared more bytes than
/// the frame holds (snap length, or a crafted length), so the payload is what there is.
pub(crate) struct IpPayload<'a> {
    pub(crate) info: IpInfo,
    pub(crate) bytes: &'a [u8],
    pub(crate) cut: bool,
}

/// `declared` bytes of `b`, or all of `b` and `cut` when it holds fewer. A cut fragment is an
/// error: its place in the datagram would be a lie to the defragmenter.
fn declared(b: &[u8], declared: usize, info: IpInfo, layer: Layer) -> Result<(&[u8], bool), DecodeError> {
    match b.get(..declared) {
        Some(d) => Ok((d, false)),
        None if info.fragment.is_some() => Err(truncated(layer)),
        None => Ok((b, true)),
    }
}

/// An IPv4 header. Returns the header's fields and its payload, trimmed to the total length
/// (link-layer padding and FCS dropped). The header checksum is not checked. A total length
/// beyond the frame is decoded as far as the bytes go ([`IpPayload::cut`]).
///
/// A total length of 0 is taken as "the rest of the frame": captures on hosts with TCP
/// segmentation offload write that.
pub(crate) fn ipv4(b: &[u8]) -> Result<IpPayload<'_>, DecodeError> {
    let (h, _) = header::<20>(b, Layer::Ipv4)?;
    if h[0] >> 4 != 4 {
        return Err(malformed(Layer::Ipv4, "version is not 4"));
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(malformed(Layer::Ipv4, "header length below 20"));
    }
    let total = match usize::from(be16([h[2], h[3]])) {
        0 => b.len(),
        n if n < ihl => return Err(malformed(Layer::Ipv4, "total length below header length")),
        n => n,
    };
    let flags = be16([h[6], h[7]]);
    let info = IpInfo {
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        proto: h[9],
        ttl: h[8],
        tos: h[1],
        id: u32::from(be16([h[4], h[5]])),
        dont_fragment: flags & 0x4000 != 0,
        fragment: Fragment::new(flags & 0x1fff, flags & 0x2000 != 0),
    };
    let (datagram, cut) = declared(b, total, info, Layer::Ipv4)?;
    let (_, bytes) = split(datagram, ihl, Layer::Ipv4)?;
    Ok(IpPayload { info, bytes, cut })
}

/// An IPv6 fixed header. Returns its fields (with `proto` the first next header) and its
/// payload, trimmed to the payload length. A payload length of 0 (jumbogram or segmentation
/// offload) is taken as "the rest of the frame"; one beyond the frame is decoded as far as
/// the bytes go ([`IpPayload::cut`]; a fragment header further in is not known yet here, so
/// the walk refuses a cut IPv6 fragment).
pub(crate) fn ipv6(b: &[u8]) -> Result<IpPayload<'_>, DecodeError> {
    let (h, rest) = header::<40>(b, Layer::Ipv6)?;
    if h[0] >> 4 != 6 {
        return Err(malformed(Layer::Ipv6, "version is not 6"));
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let info = IpInfo {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: h[6],
        ttl: h[7],
        tos: (h[0] << 4) | (h[1] >> 4),
        id: 0,
        dont_fragment: false,
        fragment: None,
    };
    let (bytes, cut) = match usize::from(be16([h[4], h[5]])) {
        0 => (rest, false),
        n => declared(rest, n, info, Layer::Ipv6)?,
    };
    Ok(IpPayload { info, bytes, cut })
}

/// What an extension header step found.
pub(crate) enum Ext<'a> {
    /// Go on with this next header and these bytes.
    Next(u8, &'a [u8]),
    /// An IPv6 fragment header; `fragment` is `None` for an atomic fragment (RFC 6946), which
    /// is a whole datagram.
    Fragment { next: u8, id: u32, fragment: Option<Fragment>, rest: &'a [u8] },
}

/// Is `proto` an extension header walked by [`ext_header`] for this IP version?
pub(crate) fn is_ext_header(proto: u8, ipv6: bool) -> bool {
    match proto {
        PROTO_AH => true,
        PROTO_HOPOPT | PROTO_IPV6_ROUTE | PROTO_IPV6_OPTS | PROTO_IPV6_FRAG => ipv6,
        _ => false,
    }
}

/// One IPv6 extension header (hop-by-hop, routing, destination options, fragment) or an
/// Authentication Header (IPv4 or IPv6).
pub(crate) fn ext_header(proto: u8, b: &[u8]) -> Result<Ext<'_>, DecodeError> {
    match proto {
        PROTO_AH => {
            let (h, _) = header::<2>(b, Layer::Ah)?;
            let len = (usize::from(h[1]) + 2) * 4;
            Ok(Ext::Next(h[0], split(b, len, Layer::Ah)?.1))
        }
        PROTO_IPV6_FRAG => {
            let (h, rest) = header::<8>(b, Layer::Ipv6Ext)?;
            let field = be16([h[2], h[3]]);
            let id = be32([h[4], h[5], h[6], h[7]]);
            Ok(Ext::Fragment { next: h[0], id, fragment: Fragment::new(field >> 3, field & 1 != 0), rest })
        }
        _ => {
            let (h, _) = header::<2>(b, Layer::Ipv6Ext)?;
            let len = (usize::from(h[1]) + 1) * 8;
            Ok(Ext::Next(h[0], split(b, len, Layer::Ipv6Ext)?.1))
        }
    }
}
