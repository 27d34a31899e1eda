//! Writing HEPv3: the header, the generic chunks in type order, then every other chunk in
//! the order the packet holds them.

use crate::packet::{Packet, Payload};
use crate::{CHUNK_HEADER_LEN, HEADER_LEN, MAGIC};
use std::net::IpAddr;

/// Why a packet cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A HEPv3 packet (and each chunk) is at most 65535 bytes long.
    #[error("a HEP packet of {0} bytes is longer than 65535")]
    TooLong(usize),
    /// The source and destination addresses are of different families.
    #[error("source and destination addresses of different families")]
    MixedFamilies,
}

/// Writes `p` as HEPv3 (whatever version it was read in).
pub fn encode(p: &Packet<'_>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(128 + payload_len(p));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0, 0]);
    let mut w = Writer { out: &mut out, too_long: false };
    if let Some(family) = p.ip_family {
        w.chunk(0, 0x01, &[family]);
    }
    if let Some(proto) = p.ip_proto {
        w.chunk(0, 0x02, &[proto]);
    }
    match (p.src_addr, p.dst_addr) {
        (Some(IpAddr::V4(_)), Some(IpAddr::V6(_))) | (Some(IpAddr::V6(_)), Some(IpAddr::V4(_))) => {
            return Err(EncodeError::MixedFamilies)
        }
        _ => {}
    }
    for (addr, v4, v6) in [(p.src_addr, 0x03, 0x05), (p.dst_addr, 0x04, 0x06)] {
        match addr {
            Some(IpAddr::V4(a)) => w.chunk(0, v4, &a.octets()),
            Some(IpAddr::V6(a)) => w.chunk(0, v6, &a.octets()),
            None => {}
        }
    }
    w.opt(0x07, p.src_port.map(u16::to_be_bytes));
    w.opt(0x08, p.dst_port.map(u16::to_be_bytes));
    w.opt(0x09, p.ts_sec.map(u32::to_be_bytes));
    w.opt(0x0a, p.ts_usec.map(u32::to_be_bytes));
    w.opt(0x0b, p.payload_type.map(|t| [t]));
    w.opt(0x0c, p.capture_id.map(u32::to_be_bytes));
    w.opt(0x0d, p.keep_alive.map(u16::to_be_bytes));
    w.opt(0x0e, p.auth_key);
    match p.payload {
        Payload::None => {}
        Payload::Plain(bytes) => w.chunk(0, 0x0f, bytes),
        Payload::Compressed(bytes) => w.chunk(0, 0x10, bytes),
    }
    w.opt(0x11, p.correlation_id);
    w.opt(0x12, p.vlan.map(u16::to_be_bytes));
    w.opt(0x13, p.node_name);
    for c in &p.other {
        w.chunk(c.vendor, c.kind, c.value);
    }
    let too_long = w.too_long;
    let total = u16::try_from(out.len()).ok().filter(|_| !too_long).ok_or(EncodeError::TooLong(out.len()))?;
    out.splice(HEADER_LEN - 2..HEADER_LEN, total.to_be_bytes());
    Ok(out)
}

fn payload_len(p: &Packet<'_>) -> usize {
    match p.payload {
        Payload::None => 0,
        Payload::Plain(b) | Payload::Compressed(b) => b.len(),
    }
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
    too_long: bool,
}

impl Writer<'_> {
    fn chunk(&mut self, vendor: u16, kind: u16, value: &[u8]) {
        let Ok(len) = u16::try_from(CHUNK_HEADER_LEN + value.len()) else {
            self.too_long = true;
            return;
        };
        self.out.extend_from_slice(&vendor.to_be_bytes());
        self.out.extend_from_slice(&kind.to_be_bytes());
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(value);
    }

    fn opt(&mut self, kind: u16, value: Option<impl AsRef<[u8]>>) {
        if let Some(v) = value {
            self.chunk(0, kind, v.as_ref());
        }
    }
}
