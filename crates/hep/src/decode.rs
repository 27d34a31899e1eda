//! Reading HEP: the HEPv3 header and its chunks into a [`Packet`], the fixed HEPv1/v2 layout
//! through [`crate::v2`], and stream framing.

use crate::packet::{Chunk, Limits, Packet, Payload};
use crate::{CHUNK_HEADER_LEN, FAMILY_V4, FAMILY_V6, HEADER_LEN, MAGIC};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why bytes are not a HEP packet sipscope accepts. Each says what is wrong where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Neither `HEP3` nor a HEPv1/v2 version byte.
    #[error("not HEP (starts with {0:02x?})")]
    NotHep(Vec<u8>),
    /// Fewer bytes than the header or the stated length needs.
    #[error("truncated: {need} bytes needed, {have} present")]
    Truncated {
        /// Bytes the header says the packet has (or the fixed header needs).
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Bytes left after the length the header states (a datagram holds one packet).
    #[error("{extra} bytes after the packet's stated length {len}")]
    TrailingBytes {
        /// The stated length.
        len: usize,
        /// Bytes after it.
        extra: usize,
    },
    /// A chunk length below its own header, or past the end of the packet.
    #[error("chunk {vendor:#06x}/{kind:#06x} at offset {at} states length {len}, {room} bytes left")]
    BadChunkLength {
        /// Offset of the chunk in the packet.
        at: usize,
        /// Its vendor.
        vendor: u16,
        /// Its type.
        kind: u16,
        /// The length it states (header included).
        len: usize,
        /// Bytes from the chunk to the end of the packet.
        room: usize,
    },
    /// A chunk of fixed size with another size.
    #[error("chunk {kind:#06x} has {len} value bytes, expected {expected}")]
    WrongValueLength {
        /// Its type.
        kind: u16,
        /// Value bytes it has.
        len: usize,
        /// Value bytes its type has.
        expected: &'static str,
    },
    /// The same chunk twice (or a plain and a compressed payload, or IPv4 and IPv6 addresses
    /// for the same end).
    #[error("chunk {0:#06x} repeated")]
    Repeated(u16),
    /// The family chunk contradicts the addresses (or is not IPv4/IPv6 in HEPv1/v2).
    #[error("IP family {family} does not match the addresses")]
    FamilyMismatch {
        /// The family number sent.
        family: u8,
    },
    /// More chunks than [`Limits::max_other_chunks`] to keep.
    #[error("more than {limit} unknown chunks")]
    TooManyChunks {
        /// The limit.
        limit: usize,
    },
    /// The compressed payload is not gzip or zlib, or is damaged.
    #[error("compressed payload: {0}")]
    Inflate(String),
    /// The compressed payload inflates past [`Limits::max_inflated_bytes`].
    #[error("compressed payload inflates past {limit} bytes")]
    InflatedTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A HEPv1/v2 header length that fits neither address family.
    #[error("HEPv{version} header length {len} does not fit its family")]
    BadV2Header {
        /// 1 or 2.
        version: u8,
        /// The header length sent.
        len: u8,
    },
}

/// Where the next HEPv3 packet of a stream ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// The first `n` bytes are one packet.
    Complete(usize),
    /// Not enough bytes yet.
    NeedMore,
    /// The stream does not start with a HEPv3 packet: nothing after this can be framed.
    Invalid(DecodeError),
}

/// Frames the HEPv3 packet at the start of a stream buffer by its stated length. (HEPv1/v2
/// carry no length and are accepted on datagrams only.)
pub fn frame(buf: &[u8]) -> Framed {
    let magic_len = buf.len().min(MAGIC.len());
    if buf.get(..magic_len) != MAGIC.get(..magic_len) {
        return Framed::Invalid(DecodeError::NotHep(buf.iter().take(4).copied().collect()));
    }
    let Some(len) = be16(buf, 4) else { return Framed::NeedMore };
    let len = usize::from(len);
    if len < HEADER_LEN {
        return Framed::Invalid(DecodeError::Truncated { need: HEADER_LEN, have: len });
    }
    if buf.len() >= len {
        Framed::Complete(len)
    } else {
        Framed::NeedMore
    }
}

/// Decodes one HEP packet: all of `bytes` (a datagram, or a frame [`frame`] cut).
pub fn decode<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Packet<'a>, DecodeError> {
    match bytes.first() {
        Some(b'H') if bytes.starts_with(MAGIC) => decode_v3(bytes, limits),
        Some(&v @ (1 | 2)) => crate::v2::decode(v, bytes),
        _ => Err(DecodeError::NotHep(bytes.iter().take(4).copied().collect())),
    }
}

fn decode_v3<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Packet<'a>, DecodeError> {
    let len = usize::from(be16(bytes, 4).ok_or(DecodeError::Truncated { need: HEADER_LEN, have: bytes.len() })?);
    if len < HEADER_LEN || bytes.len() < len {
        return Err(DecodeError::Truncated { need: len.max(HEADER_LEN), have: bytes.len() });
    }
    if bytes.len() > len {
        return Err(DecodeError::TrailingBytes { len, extra: bytes.len() - len });
    }
    let mut packet = Packet::v3();
    let mut at = HEADER_LEN;
    while at < len {
        let rest = bytes.get(at..len).unwrap_or_default();
        let (vendor, kind, chunk_len) = match (be16(rest, 0), be16(rest, 2), be16(rest, 4)) {
            (Some(v), Some(k), Some(l)) => (v, k, usize::from(l)),
            _ => return Err(DecodeError::Truncated { need: at + CHUNK_HEADER_LEN, have: len }),
        };
        let Some(value) = rest.get(CHUNK_HEADER_LEN..chunk_len).filter(|_| chunk_len >= CHUNK_HEADER_LEN) else {
            return Err(DecodeError::BadChunkLength { at, vendor, kind, len: chunk_len, room: rest.len() });
        };
        let chunk = Chunk { vendor, kind, value };
        if vendor != 0 || !generic(&mut packet, chunk)? {
            if packet.other.len() >= limits.max_other_chunks {
                return Err(DecodeError::TooManyChunks { limit: limits.max_other_chunks });
            }
            packet.other.push(chunk);
        }
        at += chunk_len;
    }
    check_family(&packet)?;
    Ok(packet)
}

/// Sets the field of a generic chunk; false for a type without a field.
fn generic<'a>(p: &mut Packet<'a>, c: Chunk<'a>) -> Result<bool, DecodeError> {
    let v = c.value;
    match c.kind {
        0x01 => set(&mut p.ip_family, u8_of(c)?, c.kind)?,
        0x02 => set(&mut p.ip_proto, u8_of(c)?, c.kind)?,
        0x03 | 0x04 => {
            let a: [u8; 4] = v.try_into().map_err(|_| wrong(c, "4"))?;
            let field = if c.kind == 0x03 { &mut p.src_addr } else { &mut p.dst_addr };
            set(field, IpAddr::V4(Ipv4Addr::from(a)), c.kind)?;
        }
        0x05 | 0x06 => {
            let a: [u8; 16] = v.try_into().map_err(|_| wrong(c, "16"))?;
            let field = if c.kind == 0x05 { &mut p.src_addr } else { &mut p.dst_addr };
            set(field, IpAddr::V6(Ipv6Addr::from(a)), c.kind)?;
        }
        0x07 => set(&mut p.src_port, u16_of(c)?, c.kind)?,
        0x08 => set(&mut p.dst_port, u16_of(c)?, c.kind)?,
        0x09 => set(&mut p.ts_sec, u32_of(c)?, c.kind)?,
        0x0a => set(&mut p.ts_usec, u32_of(c)?, c.kind)?,
        0x0b => set(&mut p.payload_type, u8_of(c)?, c.kind)?,
        // 32 bits in HEPv3; some old senders write 16.
        0x0c => set(&mut p.capture_id, if v.len() == 2 { u32::from(u16_of(c)?) } else { u32_of(c)? }, c.kind)?,
        0x0d => set(&mut p.keep_alive, u16_of(c)?, c.kind)?,
        0x0e => set(&mut p.auth_key, v, c.kind)?,
        0x0f | 0x10 => {
            if p.payload != Payload::None {
                return Err(DecodeError::Repeated(c.kind));
            }
            p.payload = if c.kind == 0x0f { Payload::Plain(v) } else { Payload::Compressed(v) };
        }
        0x11 => set(&mut p.correlation_id, v, c.kind)?,
        0x12 => set(&mut p.vlan, u16_of(c)?, c.kind)?,
        0x13 => set(&mut p.node_name, v, c.kind)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn set<T>(field: &mut Option<T>, value: T, kind: u16) -> Result<(), DecodeError> {
    if field.is_some() {
        return Err(DecodeError::Repeated(kind));
    }
    *field = Some(value);
    Ok(())
}

/// The family chunk, when present, names the addresses' family; both ends share one family.
fn check_family(p: &Packet<'_>) -> Result<(), DecodeError> {
    let v6 = |a: &Option<IpAddr>| a.map(|a| a.is_ipv6());
    let family_v6 = match p.ip_family {
        Some(FAMILY_V4) => Some(false),
        Some(FAMILY_V6) => Some(true),
        _ => None,
    };
    let ends = [v6(&p.src_addr), v6(&p.dst_addr), family_v6];
    let mut known = ends.iter().flatten();
    match known.next() {
        Some(first) if known.any(|other| other != first) => {
            Err(DecodeError::FamilyMismatch { family: p.ip_family.unwrap_or(0) })
        }
        _ => Ok(()),
    }
}

fn wrong(c: Chunk<'_>, expected: &'static str) -> DecodeError {
    DecodeError::WrongValueLength { kind: c.kind, len: c.value.len(), expected }
}

fn u8_of(c: Chunk<'_>) -> Result<u8, DecodeError> {
    match c.value {
        [b] => Ok(*b),
        _ => Err(wrong(c, "1")),
    }
}

fn u16_of(c: Chunk<'_>) -> Result<u16, DecodeError> {
    c.value.try_into().map(u16::from_be_bytes).map_err(|_| wrong(c, "2"))
}

fn u32_of(c: Chunk<'_>) -> Result<u32, DecodeError> {
    c.value.try_into().map(u32::from_be_bytes).map_err(|_| wrong(c, if c.kind == 0x0c { "2 or 4" } else { "4" }))
}

/// A big-endian u16 at `at`, if the bytes are there.
pub(crate) fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
