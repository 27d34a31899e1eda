//! Tunnels: GRE (RFC 2784/2890) and PPTP's enhanced GRE (RFC 2637) carrying PPP, ERSPAN
//! types I–III, VXLAN (RFC 7348) and IP-in-IP.

use std::net::IpAddr;

use crate::decode::Next;
use crate::error::{be16, be32, header, malformed, split, unsupported, DecodeError, Layer};

/// GRE protocol type of transparent Ethernet bridging.
pub const GRE_ETHERNET: u16 = 0x6558;
/// GRE protocol type of ERSPAN type I and II.
pub const GRE_ERSPAN2: u16 = 0x88be;
/// GRE protocol type of ERSPAN type III.
pub const GRE_ERSPAN3: u16 = 0x22eb;
/// GRE protocol type of PPP (PPTP's enhanced GRE, version 1; also seen in plain GRE).
pub const GRE_PPP: u16 = 0x880b;
/// UDP destination port of VXLAN.
pub const VXLAN_PORT: u16 = 4789;

/// The outermost tunnel a frame came through: its endpoints usually name the remote sensor
/// (the switch or host that mirrored the traffic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// Source address of the IP header carrying the tunnel.
    pub src: IpAddr,
    /// Destination address of the IP header carrying the tunnel.
    pub dst: IpAddr,
    /// The kind of tunnel, with its identifiers.
    pub kind: TunnelKind,
}

/// Kinds of tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// GRE carrying IP, Ethernet, MPLS or VLAN-tagged frames.
    Gre {
        /// GRE key (RFC 2890), if present.
        key: Option<u32>,
        /// GRE sequence number (RFC 2890), if present.
        seq: Option<u32>,
    },
    /// PPTP: PPP in enhanced GRE (version 1, RFC 2637 §4.1).
    Pptp {
        /// The peer's call ID (the low half of the key field).
        call_id: u16,
        /// GRE sequence number, if present.
        seq: Option<u32>,
    },
    /// IPv4 or IPv6 directly inside IPv4 or IPv6 (protocols 4 and 41).
    IpInIp,
    /// ERSPAN over GRE.
    Erspan {
        /// ERSPAN type: 1 (no ERSPAN header), 2 or 3.
        version: u8,
        /// Session ID (10 bits; 0 for type 1).
        session: u16,
    },
    /// VXLAN.
    Vxlan {
        /// VXLAN network identifier (24 bits).
        vni: u32,
    },
}

/// A GRE header and what follows it; `None` for a PPTP packet that carries no payload (an
/// acknowledgement only).
pub(crate) fn gre(b: &[u8]) -> Result<(TunnelKind, Option<Next<'_>>), DecodeError> {
    let (h, _) = header::<4>(b, Layer::Gre)?;
    let flags = be16([h[0], h[1]]);
    let proto = be16([h[2], h[3]]);
    match flags & 0x7 {
        0 => {}
        1 if proto == GRE_PPP => return pptp(flags, b),
        // Version 1 carries nothing but PPP.
        version => return Err(unsupported(Layer::Gre, u32::from(version))),
    }
    let (checksum, routing, has_key, has_seq) =
        (flags & 0x8000 != 0, flags & 0x4000 != 0, flags & 0x2000 != 0, flags & 0x1000 != 0);
    if routing {
        // RFC 1701 source routing, deprecated by RFC 2784.
        return Err(unsupported(Layer::Gre, u32::from(flags)));
    }
    let mut rest = split(b, 4, Layer::Gre)?.1;
    if checksum {
        rest = split(rest, 4, Layer::Gre)?.1;
    }
    let key = optional_word(has_key, &mut rest)?;
    let seq = optional_word(has_seq, &mut rest)?;
    let gre = TunnelKind::Gre { key, seq };
    let next = match proto {
        GRE_ETHERNET => (gre, Next::Ethernet(rest)),
        GRE_PPP => (gre, Next::Ppp(rest)),
        // Type I has no sequence number and no ERSPAN header.
        GRE_ERSPAN2 if !has_seq => (TunnelKind::Erspan { version: 1, session: 0 }, Next::Ethernet(rest)),
        GRE_ERSPAN2 => {
            let (e, inner) = header::<8>(rest, Layer::Erspan)?;
            let session = be16([e[2], e[3]]) & 0x03ff;
            (TunnelKind::Erspan { version: 2, session }, Next::Ethernet(inner))
        }
        GRE_ERSPAN3 => erspan3(rest)?,
        ty => (gre, Next::EtherType { ty, from: Layer::Gre, bytes: rest }),
    };
    Ok((next.0, Some(next.1)))
}

/// A 4-byte GRE field that `present` says is there, taken off the front of `rest`.
fn optional_word(present: bool, rest: &mut &[u8]) -> Result<Option<u32>, DecodeError> {
    if !present {
        return Ok(None);
    }
    let (w, r) = header::<4>(rest, Layer::Gre)?;
    *rest = r;
    Ok(Some(be32(*w)))
}

/// PPTP's enhanced GRE header (RFC 2637 §4.1): the key bit is required and holds the payload
/// length and the call ID; a sequence number and an acknowledgement number may follow. The
/// payload is a PPP frame; its length field trims what follows.
fn pptp<'a>(flags: u16, b: &'a [u8]) -> Result<(TunnelKind, Option<Next<'a>>), DecodeError> {
    if flags & 0xc000 != 0 || flags & 0x2000 == 0 {
        return Err(malformed(Layer::Gre, "enhanced GRE with checksum or routing, or without key"));
    }
    let mut rest = split(b, 4, Layer::Gre)?.1;
    let key = optional_word(true, &mut rest)?.unwrap_or(0);
    let seq = optional_word(flags & 0x1000 != 0, &mut rest)?;
    optional_word(flags & 0x0080 != 0, &mut rest)?;
    let kind = TunnelKind::Pptp { call_id: key as u16, seq };
    let len = usize::from((key >> 16) as u16);
    if len == 0 {
        return Ok((kind, None));
    }
    // A payload cut by the capture is decoded as far as it goes (the IP header says so).
    let payload = rest.get(..len).unwrap_or(rest);
    Ok((kind, Some(Next::Ppp(payload))))
}

/// ERSPAN type III: 12-byte header, an optional 8-byte platform sub-header, then an Ethernet
/// frame (frame type 0) or an IP packet (frame type 2).
fn erspan3(b: &[u8]) -> Result<(TunnelKind, Next<'_>), DecodeError> {
    let (e, mut inner) = header::<12>(b, Layer::Erspan)?;
    let session = be16([e[2], e[3]]) & 0x03ff;
    let tail = be16([e[10], e[11]]);
    if tail & 0x0001 != 0 {
        inner = split(inner, 8, Layer::Erspan)?.1;
    }
    let kind = TunnelKind::Erspan { version: 3, session };
    match (tail >> 10) & 0x1f {
        0 => Ok((kind, Next::Ethernet(inner))),
        2 => Ok((kind, Next::Ip(inner))),
        ft => Err(unsupported(Layer::Erspan, u32::from(ft))),
    }
}

/// If this UDP payload to [`VXLAN_PORT`] looks like VXLAN (the I flag set and the last
/// reserved byte zero: SIP text sent to that port does not), its VNI and inner frame.
pub(crate) fn vxlan(payload: &[u8]) -> Option<(u32, &[u8])> {
    let (h, inner) = payload.split_first_chunk::<8>()?;
    (h[0] & 0x08 != 0 && h[7] == 0).then(|| (be32([0, h[4], h[5], h[6]]), inner))
}
