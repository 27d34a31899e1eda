//! Layer4 headers: UDP, TCP and SCTP (checksums are not checked).

use std::fmt;

use crate::error::{be16, be32, header, malformed, split, truncated, DecodeError, Layer};

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

/// A UDP header. A length of 0 (jumbogram) is taken as "the rest of the IP payload".
pub(crate) fn udp(b: &[u8]) -> Result<Udp<'_>, DecodeError> {
    let (h, rest) = header::<8>(b, Layer::Udp)?;
    let payload = match usize::from(be16([h[4], h[5]])) {
        0 => rest,
        n if n < 8 => return Err(malformed(Layer::Udp, "length below 8")),
        n => rest.get(..n - 8).ok_or(truncated(Layer::Udp))?,
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

/// An SCTP packet: common header and undecoded chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sctp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Verification tag.
    pub vtag: u32,
    /// The chunks, undecoded.
    pub chunks: &'a [u8],
}

impl<'a> Sctp<'a> {
    /// The DATA chunks (RFC 9260 §3.3.1) in order. Stops at the first chunk whose length is
    /// impossible; other chunk types are skipped.
    pub fn data(&self) -> SctpData<'a> {
        SctpData { rest: self.chunks }
    }
}

/// One SCTP DATA chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpDataChunk<'a> {
    /// Chunk flags (U, B, E, I bits).
    pub flags: u8,
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream: u16,
    /// Stream sequence number.
    pub ssn: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// User data.
    pub payload: &'a [u8],
}

/// Iterator over SCTP DATA chunks, from [`Sctp::data`].
#[derive(Clone, Debug)]
pub struct SctpData<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SctpData<'a> {
    type Item = SctpDataChunk<'a>;

    fn next(&mut self) -> Option<SctpDataChunk<'a>> {
        loop {
            let (h, _) = self.rest.split_first_chunk::<4>()?;
            let len = usize::from(be16([h[2], h[3]]));
            let chunk = self.rest.get(..len).filter(|_| len >= 4);
            let Some(chunk) = chunk else {
                self.rest = &[];
                return None;
            };
            let padded = len.next_multiple_of(4);
            self.rest = self.rest.get(padded..).unwrap_or(&[]);
            if h[0] != 0 {
                continue;
            }
            let Some((d, payload)) = chunk.split_first_chunk::<16>() else {
                self.rest = &[];
                return None;
            };
            return Some(SctpDataChunk {
                flags: d[1],
                tsn: be32([d[4], d[5], d[6], d[7]]),
                stream: be16([d[8], d[9]]),
                ssn: be16([d[10], d[11]]),
                ppid: be32([d[12], d[13], d[14], d[15]]),
                payload,
            });
        }
    }
}

/// An SCTP common header.
pub(crate) fn sctp(b: &[u8]) -> Result<Sctp<'_>, DecodeError> {
    let (h, chunks) = header::<12>(b, Layer::Sctp)?;
    Ok(Sctp { sport: be16([h[0], h[1]]), dport: be16([h[2], h[3]]), vtag: be32([h[4], h[5], h[6], h[7]]), chunks })
}
