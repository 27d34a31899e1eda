//! # sipscope-hep
//!
//! Sans-IO HEP, the HOMER encapsulation protocol that Kamailio's siptrace, OpenSIPS, Asterisk
//! `res_hep`, FreeSWITCH, heplify and sngrep send captured SIP in. Bytes in, a [`Packet`] out,
//! and back: no sockets, no clock, no files.
//!
//! - [`decode`] reads one HEP packet: HEPv3 (`HEP3`, a header and typed chunks) and the older
//!   fixed-layout HEPv1/v2. Every chunk of the generic vendor (0) that sipscope knows becomes a
//!   field; every other chunk (vendor chunks, newer generic ones) is kept as it came, in order,
//!   in [`Packet::other`], so [`encode`] writes it back.
//! - [`Packet::payload`] gives the captured bytes exactly; a compressed payload chunk (gzip or
//!   zlib) is inflated with a bound ([`Limits::max_inflated_bytes`]), so a zip bomb is an error.
//! - [`frame`] finds where a HEPv3 packet ends in a stream (TCP, TLS): HEP carries its own length.
//! - [`encode`] writes a HEPv3 packet; `decode(encode(p)) == p` for every packet it accepts.
//!
//! Nothing panics on any input; malformed input is a [`DecodeError`] saying what is wrong.
//!
//! ```
//! use sipscope_hep::{decode, encode, Limits, Packet, Payload};
//! let mut p = Packet::v3();
//! p.src_addr = Some("192.0.2.1".parse().unwrap());
//! p.dst_addr = Some("198.51.100.2".parse().unwrap());
//! (p.src_port, p.dst_port) = (Some(5060), Some(5060));
//! p.ip_proto = Some(17);
//! (p.ts_sec, p.ts_usec) = (Some(1_700_000_000), Some(250_000));
//! p.payload_type = Some(sipscope_hep::PAYLOAD_SIP);
//! p.capture_id = Some(2001);
//! p.payload = Payload::Plain(b"OPTIONS sip:a SIP/2.0\r\n\r\n");
//! let bytes = encode(&p).unwrap();
//! let back = decode(&bytes, &Limits::default()).unwrap();
//! assert_eq!(back, p);
//! assert_eq!(&*back.payload_bytes(&Limits::default()).unwrap(), b"OPTIONS sip:a SIP/2.0\r\n\r\n");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod decode;
mod encode;
mod packet;
mod v2;

pub use decode::{decode, frame, DecodeError, Framed};
pub use encode::{encode, EncodeError};
pub use packet::{Chunk, Limits, Packet, Payload, Version};

/// HEP payload type of a SIP message (chunk 0x000b).
pub const PAYLOAD_SIP: u8 = 1;
/// The HEPv3 magic.
pub const MAGIC: &[u8; 4] = b"HEP3";
/// The HEPv3 header: magic and total length.
pub const HEADER_LEN: usize = 6;
/// A chunk header: vendor, type, length.
pub const CHUNK_HEADER_LEN: usize = 6;
/// The IP family number of IPv4 in HEP (AF_INET).
pub const FAMILY_V4: u8 = 2;
/// The IP family number of IPv6 in HEP (AF_INET6 on Linux).
pub const FAMILY_V6: u8 = 10;
