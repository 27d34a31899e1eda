//! The anomaly names the network shell adds to what it records (sensor-side facts the bytes
//! cannot tell: a refused connection, a failed TLS handshake, a stream message cut off). They
//! sit in the events' `anomalies` next to the parser's names, are stable like them, and are
//! listed in docs/anomalies.md (a test checks it).

/// A TCP/TLS connection closed at once because a connection cap was reached; no bytes read.
pub const CONNECTION_REFUSED: &str = "connection_refused";
/// Bytes sent to a TLS listener that did not complete a TLS handshake (plaintext SIP, random
/// bytes, an SSLv2 or truncated ClientHello): the first bytes as received.
pub const TLS_HANDSHAKE_FAILED: &str = "tls_handshake_failed";
/// A stream that cannot be framed (no or invalid Content-Length, a body over the limit):
/// recorded, not answered, and the connection closed.
pub const STREAM_UNFRAMEABLE: &str = "stream_unframeable";
/// A stream message longer than `max_message_bytes` without its end: the bytes up to the limit
/// are recorded, the rest is not read, and the connection closed.
pub const STREAM_OVER_LIMIT: &str = "stream_over_limit";
/// A stream message (or TLS handshake) not complete within `message_deadline_seconds` of its
/// first byte: what came is recorded, and the connection closed.
pub const STREAM_DEADLINE_MISSED: &str = "stream_deadline_missed";
/// A stream message cut off because the peer closed the connection (or the honeypot stopped).
pub const STREAM_CUT_OFF: &str = "stream_cut_off";
/// A stream message cut off because its connection was closed to make room for a new one.
pub const CONNECTION_EVICTED: &str = "connection_evicted";

/// A message from a source under a ban in force (a decision): recorded and analysed, not
/// answered, no password recovery.
pub const BANNED_SOURCE: &str = "banned_source";

/// The HTTP request that opened a WebSocket on a `ws`/`wss` listener (the 101 answer is
/// stored as its answer; `reason` says the path and whether `sip` was offered).
pub const WS_UPGRADE: &str = "ws_upgrade";
/// Bytes sent to a `ws`/`wss` listener that did not open a WebSocket (another method or path,
/// no upgrade, a bad key or version, not HTTP at all): recorded with the HTTP error answered
/// (nothing for what is not HTTP), and the connection closed.
pub const WS_HANDSHAKE_REFUSED: &str = "ws_handshake_refused";
/// A WebSocket frame RFC 6455 fails the connection for (an unmasked client frame, reserved
/// bits or opcode, a stray continuation, a new message inside a fragmented one, a control
/// frame fragmented or over 125 bytes): the bytes from that frame on are recorded, a close
/// 1002 sent, and the connection closed.
pub const WS_PROTOCOL_ERROR: &str = "ws_protocol_error";
/// A WebSocket control frame (ping, pong, close); `raw` is its payload, unmasked, `reason`
/// which one. A ping is answered with a pong, a close with a close.
pub const WS_CONTROL_FRAME: &str = "ws_control_frame";
/// A message that came over `wss` (WebSocket over TLS): the transport stored is `ws`.
pub const WS_OVER_TLS: &str = "ws_over_tls";

/// Every name (the table in docs/anomalies.md gives their meaning).
pub const ALL: &[&str] = &[
    CONNECTION_REFUSED,
    TLS_HANDSHAKE_FAILED,
    STREAM_UNFRAMEABLE,
    STREAM_OVER_LIMIT,
    STREAM_DEADLINE_MISSED,
    STREAM_CUT_OFF,
    CONNECTION_EVICTED,
    BANNED_SOURCE,
    WS_UPGRADE,
    WS_HANDSHAKE_REFUSED,
    WS_PROTOCOL_ERROR,
    WS_CONTROL_FRAME,
    WS_OVER_TLS,
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_sensor_side_name_is_documented_and_none_is_a_parser_name() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/anomalies.md")).unwrap();
        for name in super::ALL {
            assert!(doc.contains(&format!("| `{name}` |")), "{name} is not in docs/anomalies.md");
            assert!(sipscope_sip::AnomalyKind::from_name(name).is_none(), "{name} is a parser name");
        }
    }
}
