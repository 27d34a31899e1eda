//! URIs: `sip`, `sips`, `tel`, and any other scheme kept opaque. Zero-copy: every field is a
//! span of the input; decode `%XX` escapes with [`crate::text::percent_decode`] when needed.

use crate::text::{self, ParamIter};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The scheme of a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:` (RFC 3966)
    Tel,
    /// Anything else (`http:`, `urn:`, `im:` …); the rest of the URI is kept opaque.
    Other,
}

/// What the host part of a SIP URI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A domain name (or anything that is not an address).
    Name,
    /// A dotted IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference (`[2001:db8::1]`).
    Ipv6(Ipv6Addr),
    /// No host (tel and unknown schemes).
    None,
}

/// A parsed URI borrowing the original bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as written.
    pub raw: &'a [u8],
    /// The scheme as written (`sip`, `SIP`, `tel` …).
    pub scheme_raw: &'a [u8],
    /// The recognised scheme.
    pub scheme: Scheme,
    /// The user part, still escaped. For `tel:` URIs, the telephone number.
    pub user: Option<&'a [u8]>,
    /// The password after `user:`, still escaped.
    pub password: Option<&'a [u8]>,
    /// The host as written, without the brackets of an IPv6 reference.
    pub host: &'a [u8],
    /// What the host is.
    pub host_kind: HostKind,
    /// The port, when one is given.
    pub port: Option<u16>,
    /// The `;name=value` parameters as one span (starting with `;`), empty when none.
    pub params: &'a [u8],
    /// The `?headers` part without the `?`, when present.
    pub headers: Option<&'a [u8]>,
    /// For [`Scheme::Other`], everything after the colon.
    pub opaque: &'a [u8],
    /// The host is an IPv6 address written without brackets (`sip:100@::1:5061`, as
    /// SIPVicious writes it): accepted, but RFC 3261 requires `[...]`.
    pub unbracketed_ipv6: bool,
}

/// Why a URI could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme:` prefix.
    #[error("no scheme")]
    NoScheme,
    /// A sip/sips URI without a host.
    #[error("no host")]
    MissingHost,
    /// A port that is not a number from 0 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// A `[` without `]`, or an invalid IPv6 address inside the brackets.
    #[error("invalid IPv6 reference")]
    InvalidIpv6,
    /// Whitespace or a control character inside the URI.
    #[error("whitespace or control character in URI")]
    Whitespace,
}

impl<'a> Uri<'a> {
    /// Parses a URI. The input must be the URI alone (no `<>`, no surrounding whitespace).
    pub fn parse(raw: &'a [u8]) -> Result<Uri<'a>, UriError> {
        // Branch-free over the bytes so that it vectorises: URIs are checked in every message.
        if raw.iter().fold(false, |acc, &b| acc | (b <= b' ') | (b == 0x7f)) {
            return Err(UriError::Whitespace);
        }
        let colon = crate::text::find_byte(b':', raw).ok_or(UriError::NoScheme)?;
        let scheme_raw = &raw[..colon];
        if scheme_raw.is_empty()
            || !scheme_raw[0].is_ascii_alphabetic()
            || !scheme_raw.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(UriError::NoScheme);
        }
        let rest = &raw[colon + 1..];
        let scheme = if scheme_raw.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_raw.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_raw.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        let mut uri = Uri {
            raw,
            scheme_raw,
            scheme,
            user: None,
            password: None,
            host: &[],
            host_kind: HostKind::None,
            port: None,
            params: &[],
            headers: None,
            opaque: &[],
            unbracketed_ipv6: false,
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest)?,
            Scheme::Tel => {
                let end = crate::text::find_byte(b';', rest).unwrap_or(rest.len());
                uri.user = Some(&rest[..end]);
                uri.params = &rest[end..];
            }
            Scheme::Other => uri.opaque = rest,
        }
        Ok(uri)
    }

    fn parse_sip(&mut self, rest: &'a [u8]) -> Result<(), UriError> {
        // The user part may hold `;`, `?`, `,` and `:` (RFC 4475 `intmeth`, `semiuri`) but never
        // a raw `@`, which must be escaped: the first `@` ends it.
        let hostport = match crate::text::find_byte(b'@', rest) {
            Some(at) => {
                let userinfo = &rest[..at];
                match crate::text::find_byte(b':', userinfo) {
                    Some(c) => {
                        self.user = Some(&userinfo[..c]);
                        self.password = Some(&userinfo[c + 1..]);
                    }
                    None => self.user = Some(userinfo),
                }
                &rest[at + 1..]
            }
            None => rest,
        };
        let (host_end, host_kind) = if hostport.first() == Some(&b'[') {
            let close = crate::text::find_byte(b']', hostport).ok_or(UriError::InvalidIpv6)?;
            let inner = &hostport[1..close];
            let addr = std::str::from_utf8(inner)
                .ok()
                .and_then(|s| s.parse::<Ipv6Addr>().ok())
                .ok_or(UriError::InvalidIpv6)?;
            self.host = inner;
            (close + 1, HostKind::Ipv6(addr))
        } else {
            let end = hostport.iter().position(|b| matches!(b, b':' | b';' | b'?')).unwrap_or(hostport.len());
            // An IPv6 address without brackets needs two colons before any `;` or `?`, so the
            // host ends at a colon: only then is that reading tried.
            let ipv6 = if hostport.get(end) == Some(&b':') { maybe_unbracketed_ipv6(hostport) } else { None };
            if let Some((host, addr, port)) = ipv6 {
                self.host = host;
                self.unbracketed_ipv6 = true;
                self.port = port;
                (
                    host.len()
                        + port.map_or(0, |_| {
                            1 + hostport[host.len() + 1..].iter().take_while(|b| b.is_ascii_digit()).count()
                        }),
                    HostKind::Ipv6(addr),
                )
            } else {
                self.host = &hostport[..end];
                let kind = match parse_ipv4(self.host) {
                    Some(v4) => HostKind::Ipv4(v4),
                    None => HostKind::Name,
                };
                (end, kind)
            }
        };
        if self.host.is_empty() {
            return Err(UriError::MissingHost);
        }
        self.host_kind = host_kind;
        let mut tail = &hostport[host_end..];
        if let (Some(after), false) = (tail.strip_prefix(b":"), self.unbracketed_ipv6) {
            let end = after.iter().position(|b| matches!(b, b';' | b'?')).unwrap_or(after.len());
            let port = text::parse_u64(&after[..end]).ok_or(UriError::InvalidPort)?;
            self.port = Some(u16::try_from(port).map_err(|_| UriError::InvalidPort)?);
            tail = &after[end..];
        }
        match crate::text::find_byte(b'?', tail) {
            Some(q) => {
                self.params = &tail[..q];
                self.headers = Some(&tail[q + 1..]);
            }
            None => self.params = tail,
        }
        if !self.params.is_empty() && self.params[0] != b';' {
            // Bytes after the host that are neither a port, parameters nor headers.
            return Err(UriError::InvalidPort);
        }
        Ok(())
    }

    /// Iterates the URI parameters.
    pub fn param_iter(&self) -> ParamIter<'a> {
        ParamIter::new(self.params)
    }

    /// The value of a URI parameter (`transport`, `user`, `lr` gives `Some(b"")`).
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        text::find_param(self.params, name).map(|p| p.value.unwrap_or(&[]))
    }

    /// The user part with `%XX` escapes decoded.
    pub fn user_decoded(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        self.user.map(text::percent_decode)
    }
}

/// Dotted-quad IPv4 (as `std` reads it: four decimal octets, no leading zeros), without the
/// UTF-8 check and generic parser that `str::parse` costs on every host of every message.
pub(crate) fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    let digit = |b: u8| b.is_ascii_digit().then(|| b - b'0');
    let mut octets = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for slot in &mut octets {
        *slot = match *parts.next()? {
            [a] => digit(a)?,
            // No leading zero (`01`), at most three digits, at most 255.
            [a @ b'1'..=b'9', b] => (a - b'0') * 10 + digit(b)?,
            [a @ b'1'..=b'2', b, c] => {
                let value = u16::from(a - b'0') * 100 + u16::from(digit(b)?) * 10 + u16::from(digit(c)?);
                u8::try_from(value).ok()?
            }
            _ => return None,
        };
    }
    match parts.next() {
        Some(_) => None,
        None => Some(Ipv4Addr::from(octets)),
    }
}

/// [`unbracketed_ipv6`] behind cheap tests: at least two colons in all (a count that
/// vectorises, false for a host name or IPv4 address with a port), then at least two before any
/// `;` or `?`.
pub(crate) fn maybe_unbracketed_ipv6(hostport: &[u8]) -> Option<(&[u8], Ipv6Addr, Option<u16>)> {
    if hostport.iter().filter(|&&b| b == b':').count() < 2 {
        return None;
    }
    let mut colons = 0;
    for &b in hostport {
        match b {
            b':' => colons += 1,
            // Only hex digits, colons and dots (an embedded IPv4) can form an IPv6 address.
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' | b'.' => {}
            _ => break,
        }
    }
    if colons < 2 {
        return None;
    }
    unbracketed_ipv6(hostport)
}

/// Reads an IPv6 address written without brackets at the start of `hostport` (up to `;` or
/// `?`). Such text is ambiguous (RFC 5118 §4.3): `::1:5061` is a valid address and also `::1`
/// with port 5061. SIP tools that write it mean address and port, so a final group of four or
/// five decimal digits after a valid address is read as a port; the `unbracketed_ipv6` anomaly
/// the callers raise says the reading is a guess.
pub(crate) fn unbracketed_ipv6(hostport: &[u8]) -> Option<(&[u8], Ipv6Addr, Option<u16>)> {
    let end = hostport.iter().position(|b| matches!(b, b';' | b'?')).unwrap_or(hostport.len());
    let text = std::str::from_utf8(&hostport[..end]).ok()?;
    if text.bytes().filter(|&b| b == b':').count() < 2 {
        return None;
    }
    if let Some((host, port)) = text.rsplit_once(':') {
        let port_like = (4..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
        if let (true, Ok(addr), Ok(port)) = (port_like, host.parse::<Ipv6Addr>(), port.parse::<u16>()) {
            return Some((&hostport[..host.len()], addr, Some(port)));
        }
    }
    let addr = text.parse::<Ipv6Addr>().ok()?;
    Some((&hostport[..end], addr, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_scanner_uris() {
        let u = Uri::parse(b"sip:100@192.0.2.10:5060;transport=udp").unwrap();
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user, Some(&b"100"[..]));
        assert_eq!(u.host, b"192.0.2.10");
        assert_eq!(u.host_kind, HostKind::Ipv4("192.0.2.10".parse().unwrap()));
        assert_eq!(u.port, Some(5060));
        assert_eq!(u.param("transport"), Some(&b"udp"[..]));
        let nm = Uri::parse(b"sip:nm").unwrap();
        assert_eq!((nm.user, nm.host), (None, &b"nm"[..]));
    }

    #[test]
    fn user_may_hold_reserved_characters() {
        let raw: &[u8] = b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = Uri::parse(raw).unwrap();
        assert_eq!(u.user, Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..]));
        assert_eq!(u.password, Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..]));
        assert_eq!(u.host, b"example.com");
        let semi = Uri::parse(b"sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(semi.user, Some(&b"user;par=u%40example.net"[..]));
    }

    #[test]
    fn ipv6_references() {
        let u = Uri::parse(b"sip:caller@[2001:db8::1]:5070;lr").unwrap();
        assert_eq!(u.host, b"2001:db8::1");
        assert!(matches!(u.host_kind, HostKind::Ipv6(_)));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("lr"), Some(&b""[..]));
        // RFC 5118 4.2: an unbracketed address is read (the last colon cannot be a port
        // separator here) but flagged.
        let bare = Uri::parse(b"sip:2001:db8::10").unwrap();
        assert!(bare.unbracketed_ipv6);
        assert_eq!((bare.host, bare.port), (&b"2001:db8::10"[..], None));
        let svmap = Uri::parse(b"sip:100@::1:5061;transport=udp").unwrap();
        assert!(svmap.unbracketed_ipv6);
        assert_eq!((svmap.host, svmap.port), (&b"::1"[..], Some(5061)));
        assert_eq!(svmap.param("transport"), Some(&b"udp"[..]));
        assert_eq!(Uri::parse(b"sip:user@[2001:db8:::192.0.2.1]"), Err(UriError::InvalidIpv6));
        assert_eq!(Uri::parse(b"sip:user@[2001:db8::1"), Err(UriError::InvalidIpv6));
    }

    #[test]
    fn headers_tel_and_other_schemes() {
        let u = Uri::parse(b"sip:user@example.com?Route=%3Csip:example.com%3E").unwrap();
        assert_eq!(u.headers, Some(&b"Route=%3Csip:example.com%3E"[..]));
        let t = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!((t.scheme, t.user), (Scheme::Tel, Some(&b"+1-201-555-0123"[..])));
        assert_eq!(t.param("phone-context"), Some(&b"example.com"[..]));
        let o = Uri::parse(b"http://www.example.com").unwrap();
        assert_eq!((o.scheme, o.opaque), (Scheme::Other, &b"//www.example.com"[..]));
    }

    #[test]
    fn ipv4_reader_agrees_with_std() {
        for text in [
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..2.3",
            "a.b.c.d",
            "1.2.3.4 ",
        ] {
            assert_eq!(parse_ipv4(text.as_bytes()), text.parse().ok(), "{text}");
        }
    }

    proptest::proptest! {
        /// `parse_sip` tries the unbracketed IPv6 reading only where the host ends at a colon;
        /// that skips no host the reading accepts.
        #[test]
        fn unbracketed_ipv6_hosts_end_at_a_colon(hostport in "[0-9a-fA-F:.;?x]{0,24}") {
            let hostport = hostport.as_bytes();
            if maybe_unbracketed_ipv6(hostport).is_some() {
                let end = hostport.iter().position(|b| matches!(b, b':' | b';' | b'?'));
                proptest::prop_assert_eq!(end.and_then(|e| hostport.get(e)), Some(&b':'));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn ipv4_reader_agrees_with_std_everywhere(text in "[0-9.]{0,17}|[0-3]?[0-9]{1,2}(\\.[0-3]?[0-9]{1,2}){3}") {
            proptest::prop_assert_eq!(parse_ipv4(text.as_bytes()), text.parse().ok(), "{}", text);
        }
    }

    #[test]
    fn broken_uris_are_errors() {
        assert_eq!(Uri::parse(b"user@example.com"), Err(UriError::NoScheme));
        assert_eq!(Uri::parse(b"sip:"), Err(UriError::MissingHost));
        assert_eq!(Uri::parse(b"sip:a@b:99999"), Err(UriError::InvalidPort));
        assert_eq!(Uri::parse(b"sip:a b"), Err(UriError::Whitespace));
        assert_eq!(Uri::parse(b":x"), Err(UriError::NoScheme));
    }
}
