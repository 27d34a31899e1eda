//! The one event schema every source produces and every sink consumes: one SIP message seen on
//! the wire (captured, received by the honeypot, sent by it, or forwarded over HEP).
//!
//! An event keeps the raw bytes; everything parsed from them is derived ([`fields`]), so a
//! better parser can always re-derive from what was stored.

pub mod fields;
pub mod record;
pub mod wire;

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// How the message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP datagram.
    Udp,
    /// TCP stream.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
}

impl Transport {
    /// How the parser finds the end of a message that came this way: datagrams are whole,
    /// streams need Content-Length.
    pub fn framing(self) -> sipscope_sip::Framing {
        match self {
            Transport::Udp | Transport::Sctp => sipscope_sip::Framing::Datagram,
            Transport::Tcp | Transport::Tls | Transport::Ws => sipscope_sip::Framing::Stream,
        }
    }

    /// The transport of a stored name (`udp` for anything unknown: sipscope wrote the name).
    pub fn from_name(name: &str) -> Transport {
        match name {
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            "sctp" => Transport::Sctp,
            "ws" => Transport::Ws,
            _ => Transport::Udp,
        }
    }

    /// The lower-case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Sctp => "sctp",
            Transport::Ws => "ws",
        }
    }
}

/// Whether the sensor received or sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards the sensor (an attacker's request, usually).
    In,
    /// From the sensor (the honeypot's answer).
    Out,
    /// A passive capture that cannot tell.
    Unknown,
}

impl Direction {
    /// The lower-case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Unknown => "unknown",
        }
    }
}

/// One SIP message and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipEvent {
    /// Capture or receive time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// The sensor that saw it (`--sensor`, or the host name).
    pub sensor: String,
    /// The node it hit (from the nodes file), if known.
    pub node: Option<String>,
    /// Transport.
    pub transport: Transport,
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// Outer tunnel endpoints (GRE, IP-in-IP, ERSPAN, VXLAN) when the packet arrived tunnelled:
    /// they identify the remote node that forwarded it.
    pub tunnel: Option<(IpAddr, IpAddr)>,
    /// Received or sent.
    pub direction: Direction,
    /// Where it came from: a capture file's id in the store and its packet number, when any.
    pub origin: Option<Origin>,
    /// The message, byte for byte.
    #[serde(with = "raw_bytes")]
    pub raw: Vec<u8>,
}

/// The capture file and packet an event was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The file's id in the store (`ingested_files.id`).
    pub file_id: i64,
    /// 1-based packet number in the file (the last packet, for a message reassembled from
    /// several).
    pub packet: u64,
}

/// Raw bytes serialise as a string in the JSON convention of `docs/parse-output.md` when they
/// are UTF-8, and as an array of numbers otherwise, so nothing is lost either way.
mod raw_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(raw) {
            Ok(text) => Repr::Text(text.to_owned()).serialize(s),
            Err(_) => Repr::Bytes(raw.to_vec()).serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Text(t) => t.into_bytes(),
            Repr::Bytes(b) => b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json_even_when_not_utf8() {
        for raw in [b"OPTIONS sip:a SIP/2.0\r\n\r\n".to_vec(), b"OPTIONS sip:\xff SIP/2.0\r\n\r\n".to_vec()] {
            let ev = SipEvent {
                ts_ns: 1_700_000_000_000_000_000,
                sensor: "s1".into(),
                node: Some("n1".into()),
                transport: Transport::Udp,
                src: ("192.0.2.1".parse().unwrap(), 5060),
                dst: ("2001:db8::1".parse().unwrap(), 5060),
                tunnel: Some(("198.51.100.1".parse().unwrap(), "198.51.100.2".parse().unwrap())),
                direction: Direction::In,
                origin: Some(Origin { file_id: 1, packet: 7 }),
                raw,
            };
            let json = serde_json::to_string(&ev).unwrap();
            assert_eq!(serde_json::from_str::<SipEvent>(&json).unwrap(), ev);
        }
    }
}
