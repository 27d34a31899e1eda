//! HEPv1 and HEPv2: the fixed layout that came before chunks, still sent by old Kamailio,
//! OpenSIPS and captagent configurations (`hep_version = 2`).
//!
//! ```text
//! version u8 | header length u8 | family u8 | protocol u8 | src port u16 BE | dst port u16 BE
//! src address, dst address (4 + 4 bytes, or 16 + 16)      header length = 16 or 40
//! HEPv2 only: seconds u32, microseconds u32, capture id u16, 2 bytes padding
//!             (the senders copy a C struct: host byte order, little-endian on every
//!             platform they run on)
//! payload: the rest of the datagram
//! ```

use crate::decode::{be16, DecodeError};
use crate::packet::{Packet, Payload, Version};
use crate::{FAMILY_V4, FAMILY_V6};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The HEPv2 time header: seconds, microseconds, capture id, padding.
const TIME_HEADER_LEN: usize = 12;

/// Decodes a HEPv1 (`version` 1) or HEPv2 (2) datagram.
pub(crate) fn decode(version: u8, bytes: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let truncated = |need| DecodeError::Truncated { need, have: bytes.len() };
    let (&[_, hlen, family, proto], Some(sport), Some(dport)) =
        (bytes.first_chunk::<4>().ok_or(truncated(8))?, be16(bytes, 4), be16(bytes, 6))
    else {
        return Err(truncated(8));
    };
    let (addr_len, expected) = match family {
        FAMILY_V4 => (4, 16),
        FAMILY_V6 => (16, 40),
        _ => return Err(DecodeError::FamilyMismatch { family }),
    };
    if usize::from(hlen) != expected {
        return Err(DecodeError::BadV2Header { version, len: hlen });
    }
    let time_len = if version == 2 { TIME_HEADER_LEN } else { 0 };
    let payload_at = expected + time_len;
    let payload = bytes.get(payload_at..).ok_or(truncated(payload_at))?;
    let addr = |at: usize| -> Option<IpAddr> {
        let b = bytes.get(at..at + addr_len)?;
        Some(match addr_len {
            4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?)),
            _ => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?)),
        })
    };
    let mut p = Packet::v3();
    p.version = if version == 2 { Version::V2 } else { Version::V1 };
    p.ip_family = Some(family);
    p.ip_proto = Some(proto);
    p.src_port = Some(sport);
    p.dst_port = Some(dport);
    p.src_addr = addr(8);
    p.dst_addr = addr(8 + addr_len);
    if version == 2 {
        let le32 = |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        p.ts_sec = le32(expected);
        p.ts_usec = le32(expected + 4);
        p.capture_id = bytes
            .get(expected + 8..expected + 10)
            .and_then(|b| b.try_into().ok())
            .map(|b| u32::from(u16::from_le_bytes(b)));
    }
    // HEPv1/v2 carried SIP only.
    p.payload_type = Some(crate::PAYLOAD_SIP);
    p.payload = Payload::Plain(payload);
    Ok(p)
}
