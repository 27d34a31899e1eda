//! Decode errors and the protocol layers they name.

use std::fmt;

/// A protocol layer, as named in [`DecodeError`]s.
///
/// [`Layer::name`] is a stable snake_case name, fit for counters in an ingest summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Layer {
    /// BSD loopback (`LINKTYPE_NULL`): 4-byte address family in host byte order.
    Null,
    /// OpenBSD loopback (`LINKTYPE_LOOP`): 4-byte address family in network byte order.
    Loop,
    /// Ethernet II.
    Ethernet,
    /// An 802.1Q / 802.1ad (QinQ) tag.
    Vlan,
    /// An MPLS label stack (and pseudowire control word).
    Mpls,
    /// PPPoE session stage and its PPP protocol field.
    Pppoe,
    /// A PPP frame inside GRE (address, control and protocol fields).
    Ppp,
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// An IP header whose version comes from its first nibble (raw IP, MPLS, ERSPAN III).
    Ip,
    /// IPv4.
    Ipv4,
    /// IPv6 fixed header.
    Ipv6,
    /// IPv6 extension header (hop-by-hop, routing, destination options, fragment).
    Ipv6Ext,
    /// IP Authentication Header (IPv4 or IPv6).
    Ah,
    /// Generic Routing Encapsulation.
    Gre,
    /// ERSPAN type II or III header.
    Erspan,
    /// VXLAN header.
    Vxlan,
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// SCTP common header.
    Sctp,
}

impl Layer {
    /// Stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Null => "null",
            Layer::Loop => "loop",
            Layer::Ethernet => "ethernet",
            Layer::Vlan => "vlan",
            Layer::Mpls => "mpls",
            Layer::Pppoe => "pppoe",
            Layer::Ppp => "ppp",
            Layer::Sll => "sll",
            Layer::Sll2 => "sll2",
            Layer::Ip => "ip",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Ext => "ipv6_ext",
            Layer::Ah => "ah",
            Layer::Gre => "gre",
            Layer::Erspan => "erspan",
            Layer::Vxlan => "vxlan",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a frame could not be decoded down to a transport payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame ends inside this layer's header, or before the length this layer declares
    /// (typically a capture snaplen).
    #[error("{layer} truncated")]
    Truncated {
        /// The layer that was cut.
        layer: Layer,
    },
    /// This layer announces a next protocol (ethertype, address family, GRE version, …) that
    /// is not decoded here, e.g. ARP.
    #[error("{layer}: unsupported value {value:#x}")]
    Unsupported {
        /// The layer whose next-protocol field is unsupported.
        layer: Layer,
        /// The field's value.
        value: u32,
    },
    /// The header contradicts itself (an IPv4 header length below 20, a TCP data offset below
    /// 20, a UDP length below 8, …).
    #[error("{layer}: {reason}")]
    Malformed {
        /// The malformed layer.
        layer: Layer,
        /// What is wrong, in a few words.
        reason: &'static str,
    },
    /// More nested headers than a named limit allows ([`crate::MAX_IP_HEADERS`],
    /// [`crate::MAX_HEADERS`], [`crate::MAX_VLAN_TAGS`], [`crate::MAX_MPLS_LABELS`]).
    #[error("{layer}: more than {limit} nested headers")]
    TooDeep {
        /// The layer at which the limit was reached.
        layer: Layer,
        /// The limit.
        limit: usize,
    },
}

impl DecodeError {
    /// The layer the error is about.
    pub fn layer(&self) -> Layer {
        match *self {
            DecodeError::Truncated { layer }
            | DecodeError::Unsupported { layer, .. }
            | DecodeError::Malformed { layer, .. }
            | DecodeError::TooDeep { layer, .. } => layer,
        }
    }

    /// Stable snake_case name of the error kind (`truncated`, `unsupported`, `malformed`,
    /// `too_deep`), for counters.
    pub fn kind_name(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::Unsupported { .. } => "unsupported",
            DecodeError::Malformed { .. } => "malformed",
            DecodeError::TooDeep { .. } => "too_deep",
        }
    }
}

pub(crate) fn truncated(layer: Layer) -> DecodeError {
    DecodeError::Truncated { layer }
}

pub(crate) fn malformed(layer: Layer, reason: &'static str) -> DecodeError {
    DecodeError::Malformed { layer, reason }
}

pub(crate) fn unsupported(layer: Layer, value: u32) -> DecodeError {
    DecodeError::Unsupported { layer, value }
}

/// Splits a fixed-size header off the front of `b`.
pub(crate) fn header<const N: usize>(b: &[u8], layer: Layer) -> Result<(&[u8; N], &[u8]), DecodeError> {
    b.split_first_chunk::<N>().ok_or(truncated(layer))
}

/// Splits `n` bytes off the front of `b`.
pub(crate) fn split(b: &[u8], n: usize, layer: Layer) -> Result<(&[u8], &[u8]), DecodeError> {
    b.split_at_checked(n).ok_or(truncated(layer))
}

pub(crate) fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

pub(crate) fn be32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}
