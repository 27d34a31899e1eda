//! Link layers: pcap link types, Ethernet II, 802.1Q/QinQ tags, MPLS, PPPoE and PPP, Linux
//! cooked captures and BSD loopback.

use crate::decode::{Next, Vlans};
use crate::error::{be16, be32, header, malformed, split, truncated, unsupported, DecodeError, Layer};
use crate::MAX_MPLS_LABELS;

/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Ethertype (TPID) of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Ethertype (TPID) of an 802.1ad service tag (QinQ).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Ethertype (TPID) of the pre-standard QinQ tag.
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// Ethertype of MPLS unicast.
pub const ETHERTYPE_MPLS: u16 = 0x8847;
/// Ethertype of MPLS multicast.
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// Ethertype of the PPPoE session stage.
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// A pcap / pcapng link type that [`crate::decode`] understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// `LINKTYPE_NULL` (0): BSD loopback, address family in the capturing host's byte order.
    Null,
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_RAW` (101; also the historical 12 and 14): IPv4 or IPv6 by the first nibble.
    Raw,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, address family in network byte order.
    Loop,
    /// `LINKTYPE_LINUX_SLL` (113): Linux cooked capture v1.
    LinuxSll,
    /// `LINKTYPE_IPV4` (228).
    Ipv4,
    /// `LINKTYPE_IPV6` (229).
    Ipv6,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux cooked capture v2.
    LinuxSll2,
}

impl LinkType {
    /// The link type for a pcap file header or pcapng interface description block value.
    ///
    /// Only the low 16 bits are the link type (pcap puts FCS information in the high bits;
    /// a trailing FCS is harmless here because IP lengths trim it). `None` for link types not
    /// decoded here.
    pub fn from_pcap(linktype: u32) -> Option<LinkType> {
        Some(match linktype & 0xffff {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    /// The canonical pcap link type number (101 for [`LinkType::Raw`]).
    pub fn to_pcap(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
        }
    }

    /// Every link type, for tests and listings.
    pub const ALL: [LinkType; 8] = [
        LinkType::Null,
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll2,
    ];
}

/// The first step of decoding a frame of this link type.
pub(crate) fn first(link: LinkType, frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    Ok(match link {
        LinkType::Ethernet => Next::Ethernet(frame),
        LinkType::Raw => Next::Ip(frame),
        LinkType::Ipv4 => Next::Ipv4(frame),
        LinkType::Ipv6 => Next::Ipv6(frame),
        LinkType::Null => {
            let (h, rest) = header::<4>(frame, Layer::Null)?;
            // Host byte order of the capturing machine: families are small numbers, so the
            // smaller reading is the right one.
            let family = u32::from_le_bytes(*h).min(u32::from_be_bytes(*h));
            address_family(family, Layer::Null, rest)?
        }
        LinkType::Loop => {
            let (h, rest) = header::<4>(frame, Layer::Loop)?;
            address_family(be32(*h), Layer::Loop, rest)?
        }
        LinkType::LinuxSll => {
            let (h, rest) = header::<16>(frame, Layer::Sll)?;
            Next::EtherType { ty: be16([h[14], h[15]]), from: Layer::Sll, bytes: rest }
        }
        LinkType::LinuxSll2 => {
            let (h, rest) = header::<20>(frame, Layer::Sll2)?;
            Next::EtherType { ty: be16([h[0], h[1]]), from: Layer::Sll2, bytes: rest }
        }
    })
}

/// BSD `AF_INET` is 2 everywhere; `AF_INET6` is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30
/// (macOS), 10 (Linux) or 23 (Windows).
fn address_family(family: u32, layer: Layer, rest: &[u8]) -> Result<Next<'_>, DecodeError> {
    match family {
        2 => Ok(Next::Ipv4(rest)),
        10 | 23 | 24 | 28 | 30 => Ok(Next::Ipv6(rest)),
        _ => Err(unsupported(layer, family)),
    }
}

/// Ethernet II: destination, source, ethertype.
pub(crate) fn ethernet(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let (h, rest) = header::<14>(frame, Layer::Ethernet)?;
    let ty = be16([h[12], h[13]]);
    if ty < 0x0600 {
        // An 802.3 length field (LLC/SNAP frames): nothing SIP rides on.
        return Err(unsupported(Layer::Ethernet, u32::from(ty)));
    }
    Ok(Next::EtherType { ty, from: Layer::Ethernet, bytes: rest })
}

/// Dispatches on an ethertype announced by `from`. VLAN tags are recorded in `vlans`.
pub(crate) fn ethertype<'a>(ty: u16, from: Layer, b: &'a [u8], vlans: &mut Vlans) -> Result<Next<'a>, DecodeError> {
    match ty {
        ETHERTYPE_IPV4 => Ok(Next::Ipv4(b)),
        ETHERTYPE_IPV6 => Ok(Next::Ipv6(b)),
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
            let (h, rest) = header::<4>(b, Layer::Vlan)?;
            vlans.push(be16([h[0], h[1]]) & 0x0fff)?;
            Ok(Next::EtherType { ty: be16([h[2], h[3]]), from: Layer::Vlan, bytes: rest })
        }
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls(b),
        ETHERTYPE_PPPOE_SESSION => pppoe(b),
        _ => Err(unsupported(from, u32::from(ty))),
    }
}

/// An MPLS label stack. What follows the bottom of the stack is guessed from its first nibble:
/// 4 is IPv4, 6 is IPv6, 0 is a pseudowire control word followed by Ethernet (RFC 4448).
fn mpls(mut b: &[u8]) -> Result<Next<'_>, DecodeError> {
    for _ in 0..MAX_MPLS_LABELS {
        let (h, rest) = header::<4>(b, Layer::Mpls)?;
        b = rest;
        if h[2] & 0x01 != 0 {
            let first = *b.first().ok_or(truncated(Layer::Mpls))?;
            return match first >> 4 {
                4 => Ok(Next::Ipv4(b)),
                6 => Ok(Next::Ipv6(b)),
                0 => Ok(Next::Ethernet(split(b, 4, Layer::Mpls)?.1)),
                nibble => Err(unsupported(Layer::Mpls, u32::from(nibble))),
            };
        }
    }
    Err(DecodeError::TooDeep { layer: Layer::Mpls, limit: MAX_MPLS_LABELS })
}

/// PPPoE session header (RFC 2516) and the PPP protocol number.
fn pppoe(b: &[u8]) -> Result<Next<'_>, DecodeError> {
    let (h, _) = header::<6>(b, Layer::Pppoe)?;
    let len = usize::from(be16([h[4], h[5]]));
    let body = b.get(6..6 + len).ok_or(truncated(Layer::Pppoe))?;
    let (p, rest) = header::<2>(body, Layer::Pppoe)?;
    if h[0] != 0x11 {
        return Err(malformed(Layer::Pppoe, "version/type is not 1/1"));
    }
    ppp_protocol(be16(*p), Layer::Pppoe, rest)
}

/// A PPP frame as GRE carries it (RFC 1661, HDLC-like framing without flags or FCS): the
/// address and control bytes `ff 03` unless compressed away (ACFC), then a protocol field of
/// two bytes, or one when its first byte is odd (PFC).
pub(crate) fn ppp(b: &[u8]) -> Result<Next<'_>, DecodeError> {
    // 0xff is the all-stations address, never the first byte of a protocol number.
    let b = if b.first() == Some(&0xff) { split(b, 2, Layer::Ppp)?.1 } else { b };
    let first = *b.first().ok_or(truncated(Layer::Ppp))?;
    if first & 1 == 1 {
        return ppp_protocol(u16::from(first), Layer::Ppp, split(b, 1, Layer::Ppp)?.1);
    }
    let (p, rest) = header::<2>(b, Layer::Ppp)?;
    ppp_protocol(be16(*p), Layer::Ppp, rest)
}

/// What a PPP protocol number carries: IPv4 (0x0021) or IPv6 (0x0057); anything else (LCP,
/// CCP, compressed or encrypted data) is not decoded.
fn ppp_protocol(proto: u16, layer: Layer, rest: &[u8]) -> Result<Next<'_>, DecodeError> {
    match proto {
        0x0021 => Ok(Next::Ipv4(rest)),
        0x0057 => Ok(Next::Ipv6(rest)),
        proto => Err(unsupported(layer, u32::from(proto))),
    }
}
