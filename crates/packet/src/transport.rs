//! Layer4 headers: UDP and TCP (checksums are not checked); SCTP is in `sctp.rs`.

use std::fmt;

use crate::error::{be16, be32, header, malformed, split, truncated, DecodeError, Layer};
use crate::sctp::Sctp;

/// What the innermost IP header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer4<'a> {
    /// A UDP datagram.
    Udp(Udp<'a>),
    /// A TCP segment.
    Tcp(Tcp<'a>),
    /// An SCTP packet.
    Sctp(Sctp<'a>),
    /// The IP packet is a fragment ([`crate::IpInfo::fragment`] is set): feed
    /// [`crate::Decoded::ip_payload`] to a [`crate::Defragmenter`].
    Fragment,
    /// Another protocol (ICMP, ESP, …), its bytes left undecoded.
    Other {
        /// IP protocol number.
        proto: u8,
        /// The IP payload.
        payload: &'a [u8],
    },
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Payload, trimmed to the UDP length.
    pub payload: &'a [u8],
}

/// A TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled).
    pub window: u16,
    /// Payload (after the options).
    pub payload: &'a [u8],
}

/// TCP flags (the low eight bits of the flags field).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: no more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN: synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST: reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// PSH: push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// ACK: the acknowledgement field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// URG: the urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECE: ECN echo.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// CWR: congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// Are all flags of `other` set?
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
        let mut first = true;
        for (bit, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// A UDP header. A length of 0 (jumbogram) is taken as "the rest of the IP payload"; in a
/// packet the capture `cut`, a length beyond the bytes is too.
pub(crate) fn udp(b: &[u8], cut: bool) -> Result<Udp<'_>, DecodeError> {
    let (h, rest) = header::<8>(b, Layer::Udp)?;
    let payload = match usize::from(be16([h[4], h[5]])) {
        0 => rest,
        n if n < 8 => return Err(malformed(Layer::Udp, "length below 8")),
        n => match rest.get(..n - 8) {
            Some(p) => p,
            None if cut => rest,
            None => return Err(truncated(Layer::Udp)),
        },
    };
    Ok(Udp { sport: be16([h[0], h[1]]), dport: be16([h[2], h[3]]), payload })
}

/// A TCP header; options are skipped.
pub(crate) fn tcp(b: &[u8]) -> Result<Tcp<'_>, DecodeError> {
    let (h, _) = header::<20>(b, Layer::Tcp)?;
    let offset = usize::from(h[12] >> 4) * 4;
    if offset < 20 {
        return Err(malformed(Layer::Tcp, "data offset below 20"));
    }
    let (_, payload) = split(b, offset, Layer::Tcp)?;
    Ok(Tcp {
        sport: be16([h[0], h[1]]),
        dport: be16([h[2], h[3]]),
        seq: be32([h[4], h[5], h[6], h[7]]),
        ack: be32([h[8], h[9], h[10], h[11]]),
        flags: TcpFlags(h[13]),
        window: be16([h[14], h[15]]),
        payload,
    })
}
