//! What a HEP packet says, borrowed from its bytes, and the limits a decoder works within.

use crate::DecodeError;
use std::borrow::Cow;
use std::io::Read;
use std::net::IpAddr;

/// Which HEP version a packet came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HEPv1: addresses and ports, no time, no capture id.
    V1,
    /// HEPv2: HEPv1 with seconds, microseconds and a 16-bit capture id.
    V2,
    /// HEPv3: typed chunks.
    V3,
}

/// The captured bytes a packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Payload<'a> {
    /// No payload chunk.
    #[default]
    None,
    /// Chunk 0x000f: the bytes as captured.
    Plain(&'a [u8]),
    /// Chunk 0x0010: the bytes gzip- or zlib-compressed.
    Compressed(&'a [u8]),
}

/// A chunk sipscope keeps without interpreting: a vendor's, or a generic one it has no field
/// for (MOS, MAC addresses, TCP flags …). Written back as it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Vendor id (0: generic).
    pub vendor: u16,
    /// Chunk type.
    pub kind: u16,
    /// Its value.
    pub value: &'a [u8],
}

/// One HEP packet. Every field is optional because HEPv3 makes every chunk optional; what a
/// consumer needs (addresses, a payload) it checks itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The version it came in.
    pub version: Version,
    /// Chunk 0x0001: IP family (2 IPv4, 10 IPv6).
    pub ip_family: Option<u8>,
    /// Chunk 0x0002: IP protocol (17 UDP, 6 TCP, 132 SCTP …).
    pub ip_proto: Option<u8>,
    /// Chunks 0x0003 / 0x0005: source address.
    pub src_addr: Option<IpAddr>,
    /// Chunks 0x0004 / 0x0006: destination address.
    pub dst_addr: Option<IpAddr>,
    /// Chunk 0x0007: source port.
    pub src_port: Option<u16>,
    /// Chunk 0x0008: destination port.
    pub dst_port: Option<u16>,
    /// Chunk 0x0009: capture time, seconds since the Unix epoch.
    pub ts_sec: Option<u32>,
    /// Chunk 0x000a: microseconds to add to `ts_sec`.
    pub ts_usec: Option<u32>,
    /// Chunk 0x000b: what the payload is (1 SIP, 5 RTCP, 100 log …).
    pub payload_type: Option<u8>,
    /// Chunk 0x000c: capture agent (node) id.
    pub capture_id: Option<u32>,
    /// Chunk 0x000d: keep-alive timer, seconds.
    pub keep_alive: Option<u16>,
    /// Chunk 0x000e: authentication key, as sent.
    pub auth_key: Option<&'a [u8]>,
    /// Chunk 0x000f or 0x0010.
    pub payload: Payload<'a>,
    /// Chunk 0x0011: correlation id (often a Call-ID), as sent.
    pub correlation_id: Option<&'a [u8]>,
    /// Chunk 0x0012: VLAN id.
    pub vlan: Option<u16>,
    /// Chunk 0x0013: capture agent (node) name, as sent (not necessarily UTF-8).
    pub node_name: Option<&'a [u8]>,
    /// Every other chunk, in the order it came.
    pub other: Vec<Chunk<'a>>,
}

impl<'a> Packet<'a> {
    /// An empty HEPv3 packet.
    pub fn v3() -> Packet<'a> {
        Packet {
            version: Version::V3,
            ip_family: None,
            ip_proto: None,
            src_addr: None,
            dst_addr: None,
            src_port: None,
            dst_port: None,
            ts_sec: None,
            ts_usec: None,
            payload_type: None,
            capture_id: None,
            keep_alive: None,
            auth_key: None,
            payload: Payload::None,
            correlation_id: None,
            vlan: None,
            node_name: None,
            other: Vec::new(),
        }
    }

    /// The capture time in nanoseconds since the Unix epoch, when the packet has seconds and
    /// its microseconds (0 when absent) are below one second.
    pub fn time_ns(&self) -> Option<i64> {
        let usec = self.ts_usec.unwrap_or(0);
        if usec >= 1_000_000 {
            return None;
        }
        Some(i64::from(self.ts_sec?) * 1_000_000_000 + i64::from(usec) * 1_000)
    }

    /// The captured bytes: borrowed when plain, inflated (at most `limits.max_inflated_bytes`)
    /// when compressed. A packet without a payload has none (empty).
    pub fn payload_bytes(&self, limits: &Limits) -> Result<Cow<'a, [u8]>, DecodeError> {
        match self.payload {
            Payload::None => Ok(Cow::Borrowed(&[])),
            Payload::Plain(bytes) => Ok(Cow::Borrowed(bytes)),
            Payload::Compressed(bytes) => inflate(bytes, limits.max_inflated_bytes).map(Cow::Owned),
        }
    }
}

/// Inflates gzip (magic 1f 8b) or zlib data, reading at most one byte past `max`, so that
/// a small packet cannot make the decoder allocate more than `max + 1` bytes.
fn inflate(bytes: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let reader: Box<dyn Read + '_> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(flate2::read::ZlibDecoder::new(bytes))
    };
    let mut out = Vec::new();
    reader.take(cap).read_to_end(&mut out).map_err(|e| DecodeError::Inflate(e.to_string()))?;
    if out.len() > max {
        return Err(DecodeError::InflatedTooLarge { limit: max });
    }
    Ok(out)
}

/// Bounds on the work one packet may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Chunks kept in [`Packet::other`]; more is an error. Default 64 (real senders add a
    /// handful).
    pub max_other_chunks: usize,
    /// Largest payload a compressed chunk may inflate to. Default 256 KiB (a HEP packet is at
    /// most 64 KiB, and SIP compresses about 3:1).
    pub max_inflated_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_other_chunks: 64, max_inflated_bytes: 256 * 1024 }
    }
}
