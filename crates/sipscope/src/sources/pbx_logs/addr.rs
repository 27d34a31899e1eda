//! Addresses as PBXs print them, parsed strictly: a value that is not exactly one of these
//! forms is not an address, so text an attacker shaped like one elsewhere in a line never
//! passes for the PBX's own field by being loosely read.
//!
//! - `1.2.3.4:5060`, `[2001:db8::1]:5060` (Asterisk's `ast_sockaddr_stringify`), and
//!   `2001:db8::1:5060` (PJSIP's `'%s:%d'` of a bare IPv6 address: the port is after the last
//!   colon);
//! - a bare address, `1.2.3.4` or `2001:db8::1` (FreeSWITCH's `network_ip`, old chan_sip),
//!   port 0;
//! - `IPV4/UDP/1.2.3.4/5060`, `IPV6/TCP/[2001:db8::1]/5061` (Asterisk security events).

use crate::event::Transport;
use std::net::{IpAddr, SocketAddr};

/// Longest address text accepted (an IPv6 address with brackets and port is at most 47).
pub const MAX_ADDR_TEXT: usize = 64;

/// Longest transport name before an address (`SCTP6:`).
pub const MAX_TRANSPORT_TEXT: usize = 6;

fn ascii(bytes: &[u8]) -> Option<&str> {
    if bytes.is_empty() || bytes.len() > MAX_ADDR_TEXT {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

fn port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A bare IP address (no port, no brackets).
pub fn ip(bytes: &[u8]) -> Option<IpAddr> {
    let text = ascii(bytes)?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':') {
        return None;
    }
    text.parse().ok()
}

/// `host:port`, `[v6]:port` (port optional), `v6:port` (last colon), or a bare IPv4 address
/// (port 0).
pub fn host_port(bytes: &[u8]) -> Option<SocketAddr> {
    let text = ascii(bytes)?;
    if let Some(rest) = text.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        // pjsip brackets IPv4 addresses too (`[1.2.3.4]:5060`).
        let ip = ip(host.as_bytes())?;
        let port = match tail {
            "" => 0,
            _ => port(tail.strip_prefix(':')?)?,
        };
        return Some(SocketAddr::new(ip, port));
    }
    match text.rsplit_once(':') {
        Some((host, p)) => Some(SocketAddr::new(ip(host.as_bytes())?, port(p)?)),
        // Old chan_sip printed a bare IPv4 address.
        None => Some(SocketAddr::new(IpAddr::V4(text.parse().ok()?), 0)),
    }
}

/// A transport as PBXs name it, any case (`UDP`, `tcp`, `WSS` …; `wss` is stored as `ws`).
fn transport(name: &[u8]) -> Option<Transport> {
    const NAMES: [(&[u8], Transport); 6] = [
        (b"UDP", Transport::Udp),
        (b"TCP", Transport::Tcp),
        (b"TLS", Transport::Tls),
        (b"WS", Transport::Ws),
        (b"WSS", Transport::Ws),
        (b"SCTP", Transport::Sctp),
    ];
    NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, t)| t)
}

/// A [`host_port`] with or without pjsip's transport name before it (`UDP:1.2.3.4:5060`,
/// `TCP:[1.2.3.4]:5060`, `TLS6:[2001:db8::1]:5061`): the address, and the transport when
/// named.
pub fn transport_host_port(bytes: &[u8]) -> Option<(SocketAddr, Option<Transport>)> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let name = bytes.get(..colon)?;
    let transport = transport(name.strip_suffix(b"6").unwrap_or(name));
    match transport {
        Some(t) => Some((host_port(bytes.get(colon + 1..)?)?, Some(t))),
        None => Some((host_port(bytes)?, None)),
    }
}

/// `IPV4/UDP/1.2.3.4/5060` or `IPV6/UDP/[2001:db8::1]/5060` (brackets optional): the
/// address and its transport.
pub fn security_event(bytes: &[u8]) -> Option<(SocketAddr, Transport)> {
    let text = ascii(bytes)?;
    let mut parts = text.splitn(3, '/');
    let family = parts.next()?;
    let transport = transport(parts.next()?.as_bytes())?;
    let (host, p) = parts.next()?.rsplit_once('/')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip = ip(host.as_bytes())?;
    let family_ok = match ip {
        IpAddr::V4(_) => family == "IPV4",
        IpAddr::V6(_) => family == "IPV6",
    };
    family_ok.then_some(())?;
    Some((SocketAddr::new(ip, port(p)?), transport))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(host_port(b"203.0.113.5:5060"), Some(sa("203.0.113.5:5060")));
        assert_eq!(host_port(b"[2001:db8::5]:5062"), Some(sa("[2001:db8::5]:5062")));
        assert_eq!(host_port(b"[2001:db8::5]"), Some(sa("[2001:db8::5]:0")));
        assert_eq!(host_port(b"203.0.113.5"), Some(sa("203.0.113.5:0")));
        // PJSIP's bare IPv6 with a port after the last colon.
        assert_eq!(host_port(b"2001:db8::5:5060"), Some(sa("[2001:db8::5]:5060")));
        assert_eq!(ip(b"2001:db8::5"), Some("2001:db8::5".parse().unwrap()));
        for bad in [&b""[..], b"203.0.113.5:", b"203.0.113.5:99999", b"host:5060", b"1.2.3.4 :5060", b"[::1]x"] {
            assert_eq!(host_port(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(host_port(&[b'1'; 200]), None);
        // pjsip's bracketed IPv4 address.
        assert_eq!(host_port(b"[203.0.113.5]:5060"), Some(sa("203.0.113.5:5060")));
    }

    #[test]
    fn transport_host_port_forms() {
        let t = |b: &[u8]| transport_host_port(b);
        assert_eq!(t(b"203.0.113.5:5060"), Some((sa("203.0.113.5:5060"), None)));
        assert_eq!(t(b"UDP:203.0.113.5:5060"), Some((sa("203.0.113.5:5060"), Some(Transport::Udp))));
        assert_eq!(t(b"TCP:[203.0.113.5]:61470"), Some((sa("203.0.113.5:61470"), Some(Transport::Tcp))));
        assert_eq!(t(b"TLS6:[2001:db8::5]:5061"), Some((sa("[2001:db8::5]:5061"), Some(Transport::Tls))));
        assert_eq!(t(b"2001:db8::5:5060"), Some((sa("[2001:db8::5]:5060"), None)));
        for bad in [&b"UDP:"[..], b"FOO:1.2.3.4:5060", b"UDP:host:5060", b":1.2.3.4:5060", b"UDP:UDP:1.2.3.4:5"] {
            assert_eq!(t(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn security_event_forms() {
        assert_eq!(security_event(b"IPV4/UDP/203.0.113.5/5060"), Some((sa("203.0.113.5:5060"), Transport::Udp)));
        assert_eq!(security_event(b"IPV6/TLS/[2001:db8::5]/5061"), Some((sa("[2001:db8::5]:5061"), Transport::Tls)));
        assert_eq!(security_event(b"IPV6/TCP/2001:db8::5/5060"), Some((sa("[2001:db8::5]:5060"), Transport::Tcp)));
        for bad in
            [&b"IPV4/UDP/2001:db8::5/5060"[..], b"IPV4/FOO/1.2.3.4/5060", b"IPV4/UDP/1.2.3.4", b"IPV4/UDP/1.2.3.4/x"]
        {
            assert_eq!(security_event(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
