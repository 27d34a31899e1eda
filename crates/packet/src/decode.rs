//! The decoding walk: from a link-layer frame (or an IP payload) through any tunnels down to
//! the innermost transport. Zero-copy and allocation-free.

use crate::error::{malformed, truncated, DecodeError, Layer};
use crate::ip::{self, Ext, IpInfo, PROTO_GRE, PROTO_IPIP, PROTO_IPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::link::{self, LinkType};
use crate::transport::{self, Layer4};
use crate::tunnel::{self, Tunnel, TunnelKind, VXLAN_PORT};
use crate::{MAX_HEADERS, MAX_IP_HEADERS, MAX_VLAN_TAGS};

/// A frame decoded down to its innermost transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// What was crossed on the way: VLAN tags, the outermost tunnel, the nesting depth.
    pub encap: Encap,
    /// The innermost IP header.
    pub ip: IpInfo,
    /// The innermost IP payload (after IPv6 extension headers; for a fragment, the fragment's
    /// data, which is what [`crate::Defragmenter::push`] takes).
    pub ip_payload: &'a [u8],
    /// The innermost transport.
    pub transport: Layer4<'a>,
    /// An IP header on the way declared more bytes than the frame holds (a snap length, or a
    /// crafted length): everything after it was decoded as far as the bytes go, and the
    /// transport payload may be cut short.
    pub truncated: bool,
}

/// The encapsulation context of a decoded packet. It holds no borrowed bytes, so it can be
/// kept with a pending fragment and handed back to [`decode_ip_payload`] with the reassembled
/// datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Encap {
    /// VLAN IDs of every 802.1Q/QinQ tag met, outermost first (inner frames' tags included).
    pub vlans: Vlans,
    /// The outermost tunnel, if any.
    pub tunnel: Option<Tunnel>,
    /// IP headers crossed so far, the innermost included (1 for a plain packet).
    pub depth: u8,
}

/// Up to [`MAX_VLAN_TAGS`] VLAN IDs (12 bits each), outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    ids: [u16; MAX_VLAN_TAGS],
    len: u8,
}

impl Vlans {
    /// The VLAN IDs, outermost first.
    pub fn as_slice(&self) -> &[u16] {
        self.ids.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// No VLAN tag was met.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push(&mut self, id: u16) -> Result<(), DecodeError> {
        let slot = self
            .ids
            .get_mut(usize::from(self.len))
            .ok_or(DecodeError::TooDeep { layer: Layer::Vlan, limit: MAX_VLAN_TAGS })?;
        *slot = id;
        self.len += 1;
        Ok(())
    }
}

/// One step of the walk.
pub(crate) enum Next<'a> {
    /// An Ethernet II header starts here.
    Ethernet(&'a [u8]),
    /// These bytes are of the ethertype `ty`, announced by `from`.
    EtherType { ty: u16, from: Layer, bytes: &'a [u8] },
    /// An IP header whose version is its first nibble.
    Ip(&'a [u8]),
    /// An IPv4 header.
    Ipv4(&'a [u8]),
    /// An IPv6 header.
    Ipv6(&'a [u8]),
    /// A PPP frame (inside GRE).
    Ppp(&'a [u8]),
    /// The payload of the current IP header, of protocol `proto`.
    IpPayload { proto: u8, bytes: &'a [u8] },
}

/// Decodes a captured frame of link type `link` down to its innermost transport.
///
/// Never panics and never allocates. Tunnels (GRE, ERSPAN, VXLAN, IP-in-IP) are crossed and
/// the outermost one is kept in [`Encap::tunnel`]; a fragment stops the walk with
/// [`Layer4::Fragment`].
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let first = link::first(link, frame)?;
    Walk { encap: Encap::default(), ip: None, headers: 0, cut: false }.run(first)
}

/// Decodes an IP payload of protocol `ip.proto` (extension headers, tunnels, transport) in the
/// context `encap`: for a datagram from [`crate::Defragmenter`], pass the [`Encap`] of one of
/// its fragments and the [`crate::Reassembled`] `ip` and `payload`.
pub fn decode_ip_payload(encap: Encap, ip: IpInfo, payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let proto = ip.proto;
    Walk { encap, ip: Some(ip), headers: 0, cut: false }.run(Next::IpPayload { proto, bytes: payload })
}

enum Step<'a> {
    Go(Next<'a>),
    Done(Decoded<'a>),
}

struct Walk {
    encap: Encap,
    ip: Option<IpInfo>,
    headers: usize,
    /// An IP header declared more bytes than there are.
    cut: bool,
}

impl Walk {
    fn run(mut self, mut next: Next<'_>) -> Result<Decoded<'_>, DecodeError> {
        loop {
            self.headers += 1;
            if self.headers > MAX_HEADERS {
                return Err(DecodeError::TooDeep { layer: next.layer(), limit: MAX_HEADERS });
            }
            next = match next {
                Next::Ethernet(b) => link::ethernet(b)?,
                Next::EtherType { ty, from, bytes } => link::ethertype(ty, from, bytes, &mut self.encap.vlans)?,
                Next::Ppp(b) => link::ppp(b)?,
                Next::Ip(b) => match b.first().map(|v| v >> 4) {
                    Some(4) => Next::Ipv4(b),
                    Some(6) => Next::Ipv6(b),
                    Some(_) => return Err(malformed(Layer::Ip, "version is neither 4 nor 6")),
                    None => return Err(truncated(Layer::Ip)),
                },
                Next::Ipv4(b) => {
                    self.enter_ip(Layer::Ipv4)?;
                    self.ip_header(ip::ipv4(b)?)
                }
                Next::Ipv6(b) => {
                    self.enter_ip(Layer::Ipv6)?;
                    self.ip_header(ip::ipv6(b)?)
                }
                Next::IpPayload { proto, bytes } => match self.ip_payload(proto, bytes)? {
                    Step::Go(next) => next,
                    Step::Done(decoded) => return Ok(decoded),
                },
            }
        }
    }

    fn ip_header<'a>(&mut self, p: ip::IpPayload<'a>) -> Next<'a> {
        self.ip = Some(p.info);
        self.cut |= p.cut;
        Next::IpPayload { proto: p.info.proto, bytes: p.bytes }
    }

    fn enter_ip(&mut self, layer: Layer) -> Result<(), DecodeError> {
        if usize::from(self.encap.depth) >= MAX_IP_HEADERS {
            return Err(DecodeError::TooDeep { layer, limit: MAX_IP_HEADERS });
        }
        self.encap.depth += 1;
        Ok(())
    }

    fn set_tunnel(&mut self, ip: &IpInfo, kind: TunnelKind) {
        if self.encap.tunnel.is_none() {
            self.encap.tunnel = Some(Tunnel { src: ip.src, dst: ip.dst, kind });
        }
    }

    /// One step inside the payload of the innermost IP header: a fragment ends the walk.
    fn ip_payload<'a>(&mut self, proto: u8, b: &'a [u8]) -> Result<Step<'a>, DecodeError> {
        let Some(mut ip) = self.ip else {
            return Err(malformed(Layer::Ip, "IP payload without an IP header"));
        };
        ip.proto = proto;
        self.ip = Some(ip);
        let done = |walk: &Walk, ip: IpInfo, transport| {
            Step::Done(Decoded { encap: walk.encap, ip, ip_payload: b, transport, truncated: walk.cut })
        };
        if ip.fragment.is_some() {
            return Ok(done(self, ip, Layer4::Fragment));
        }
        if ip::is_ext_header(proto, ip.src.is_ipv6()) {
            return Ok(Step::Go(match ip::ext_header(proto, b)? {
                Ext::Next(proto, bytes) => Next::IpPayload { proto, bytes },
                Ext::Fragment { fragment: Some(_), .. } if self.cut => return Err(truncated(Layer::Ipv6)),
                Ext::Fragment { next, id, fragment, rest } => {
                    ip.id = id;
                    ip.fragment = fragment;
                    self.ip = Some(ip);
                    Next::IpPayload { proto: next, bytes: rest }
                }
            }));
        }
        Ok(match proto {
            PROTO_IPIP | PROTO_IPV6 => {
                self.set_tunnel(&ip, TunnelKind::IpInIp);
                Step::Go(if proto == PROTO_IPIP { Next::Ipv4(b) } else { Next::Ipv6(b) })
            }
            PROTO_GRE => {
                let (kind, next) = tunnel::gre(b)?;
                self.set_tunnel(&ip, kind);
                match next {
                    Some(next) => Step::Go(next),
                    // A PPTP acknowledgement: a tunnel packet with nothing inside.
                    None => done(self, ip, Layer4::Other { proto, payload: b }),
                }
            }
            PROTO_UDP => {
                let udp = transport::udp(b, self.cut)?;
                match (udp.dport == VXLAN_PORT).then(|| tunnel::vxlan(udp.payload)).flatten() {
                    Some((vni, inner)) => {
                        self.set_tunnel(&ip, TunnelKind::Vxlan { vni });
                        Step::Go(Next::Ethernet(inner))
                    }
                    None => done(self, ip, Layer4::Udp(udp)),
                }
            }
            PROTO_TCP => done(self, ip, Layer4::Tcp(transport::tcp(b)?)),
            PROTO_SCTP => done(self, ip, Layer4::Sctp(crate::sctp::sctp(b, self.cut)?)),
            _ => done(self, ip, Layer4::Other { proto, payload: b }),
        })
    }
}

impl Next<'_> {
    fn layer(&self) -> Layer {
        match self {
            Next::Ethernet(_) => Layer::Ethernet,
            Next::EtherType { from, .. } => *from,
            Next::Ip(_) => Layer::Ip,
            Next::Ipv4(_) => Layer::Ipv4,
            Next::Ipv6(_) => Layer::Ipv6,
            Next::Ppp(_) => Layer::Ppp,
            Next::IpPayload { .. } => Layer::Ipv6Ext,
        }
    }
}

#[cfg(test)]
mod tests;
