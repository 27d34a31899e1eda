//! Via header values (RFC 3261 §20.42), one `via-parm` at a time.

use crate::anomaly::AnomalyKind;
use crate::text::{self, ParamIter};
use crate::uri::HostKind;

/// One hop of a Via header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The whole via-parm as written.
    pub raw: &'a [u8],
    /// Protocol name, normally `SIP`.
    pub protocol: &'a [u8],
    /// Protocol version, normally `2.0`.
    pub version: &'a [u8],
    /// Transport as written (`UDP`, `tcp`, `TLS`, `WS`, anything).
    pub transport: &'a [u8],
    /// sent-by host, without IPv6 brackets.
    pub host: &'a [u8],
    /// What the host is.
    pub host_kind: HostKind,
    /// sent-by port, if given.
    pub port: Option<u16>,
    /// The parameters as one span.
    pub params: &'a [u8],
}

impl<'a> Via<'a> {
    /// Parses one via-parm, ignoring defects. `None` when it has no `SIP/2.0/transport` shape.
    pub fn parse(value: &'a [u8]) -> Option<Via<'a>> {
        Via::parse_inner(value, None)
    }

    /// Parses one via-parm and reports defects.
    pub fn parse_checked(value: &'a [u8], report: &mut dyn FnMut(AnomalyKind)) -> Option<Via<'a>> {
        Via::parse_inner(value, Some(report))
    }

    /// The parser; the parameter checks run only when someone listens for defects.
    fn parse_inner(value: &'a [u8], mut listener: Option<&mut dyn FnMut(AnomalyKind)>) -> Option<Via<'a>> {
        let mut noop = |_: AnomalyKind| {};
        let checking = listener.is_some();
        let report: &mut dyn FnMut(AnomalyKind) = match listener.as_mut() {
            Some(l) => *l,
            None => &mut noop,
        };
        let raw = text::trim(value);
        let Some((protocol, after)) = split_slash(raw) else {
            report(AnomalyKind::InvalidVia);
            return None;
        };
        let Some((version, after)) = split_slash(after) else {
            report(AnomalyKind::InvalidVia);
            return None;
        };
        let after = text::trim(after);
        let t_end = after.iter().position(|&b| !text::is_token_char(b)).unwrap_or(after.len());
        let transport = &after[..t_end];
        let sent_by_and_params = text::trim(&after[t_end..]);
        if transport.is_empty() || sent_by_and_params.is_empty() || t_end == after.len() {
            report(AnomalyKind::InvalidVia);
            return None;
        }
        if !protocol.eq_ignore_ascii_case(b"SIP") || version != b"2.0" {
            report(AnomalyKind::UnknownSipVersion);
        }
        let semi = crate::text::find_byte(b';', sent_by_and_params).unwrap_or(sent_by_and_params.len());
        let sent_by = text::trim(&sent_by_and_params[..semi]);
        let params = &sent_by_and_params[semi..];
        if let Some((host, addr, port)) = crate::uri::maybe_unbracketed_ipv6(sent_by) {
            report(AnomalyKind::UnbracketedIpv6);
            let via = Via { raw, protocol, version, transport, host, host_kind: HostKind::Ipv6(addr), port, params };
            if checking {
                check_params(&via, report);
            }
            return Some(via);
        }
        let (host, host_kind, port_text) = split_host_port(sent_by);
        let mut port = None;
        if let Some(p) = port_text {
            match text::parse_u64(text::trim(p)).and_then(|p| u16::try_from(p).ok()) {
                Some(p) => port = Some(p),
                None => report(AnomalyKind::InvalidPort),
            }
        }
        if host.is_empty() || host.iter().any(|&b| text::is_lws(b)) {
            report(AnomalyKind::InvalidVia);
        }
        let via = Via { raw, protocol, version, transport, host, host_kind, port, params };
        if checking {
            check_params(&via, report);
        }
        Some(via)
    }

    /// Iterates the parameters.
    pub fn param_iter(&self) -> ParamIter<'a> {
        ParamIter::new(self.params)
    }

    /// A parameter's value (`Some(b"")` when present without a value).
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        text::find_param(self.params, name).map(|p| p.value.unwrap_or(&[]))
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.param("branch")
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a [u8]> {
        self.param("received")
    }

    /// `rport`: `None` when absent, `Some(None)` when present without a value (a client asking
    /// for it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| text::parse_u64(v).and_then(|p| u16::try_from(p).ok()))
    }
}

/// Parameter defects shared by both sent-by forms.
fn check_params(via: &Via<'_>, report: &mut dyn FnMut(AnomalyKind)) {
    // One pass for both: an empty parameter anywhere, and the first `branch` (as `branch()`).
    let (mut empty, mut branch) = (false, None);
    for p in via.param_iter() {
        empty |= p.name.is_empty();
        if branch.is_none() && p.name.eq_ignore_ascii_case(b"branch") {
            branch = Some(p.value.unwrap_or(&[]));
        }
    }
    if empty {
        report(AnomalyKind::EmptyParameter);
    }
    match branch {
        // A bare magic cookie carries no transaction identifier (RFC 4475 `badbranch`).
        None | Some(b"z9hG4bK") | Some(b"") => report(AnomalyKind::MissingViaBranch),
        Some(b) if !b.starts_with(b"z9hG4bK") => report(AnomalyKind::Rfc2543Branch),
        Some(_) => {}
    }
}

/// Splits at the next `/`, trimming both sides (RFC 3261 allows LWS around the slash).
fn split_slash(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = crate::text::find_byte(b'/', s)?;
    Some((text::trim(&s[..at]), &s[at + 1..]))
}

/// Splits `host[:port]` or `[v6][:port]`.
pub(crate) fn split_host_port(s: &[u8]) -> (&[u8], HostKind, Option<&[u8]>) {
    if s.first() == Some(&b'[') {
        if let Some(close) = crate::text::find_byte(b']', s) {
            let inner = &s[1..close];
            let kind =
                std::str::from_utf8(inner).ok().and_then(|t| t.parse().ok()).map_or(HostKind::Name, HostKind::Ipv6);
            let port = s[close + 1..].strip_prefix(b":");
            return (inner, kind, port);
        }
        return (s, HostKind::Name, None);
    }
    let (host, port) = match crate::text::find_byte(b':', s) {
        Some(c) => (text::trim(&s[..c]), Some(&s[c + 1..])),
        None => (s, None),
    };
    let kind = crate::uri::parse_ipv4(host).map_or(HostKind::Name, HostKind::Ipv4);
    (host, kind, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defects(value: &[u8]) -> Vec<AnomalyKind> {
        let mut found = Vec::new();
        Via::parse_checked(value, &mut |k| found.push(k));
        found
    }

    #[test]
    fn scanner_via_with_rport() {
        let v = Via::parse(b"SIP/2.0/UDP 10.0.0.5:5061;branch=z9hG4bK-2113658432;rport").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"10.0.0.5");
        assert_eq!(v.port, Some(5061));
        assert_eq!(v.branch(), Some(&b"z9hG4bK-2113658432"[..]));
        assert_eq!(v.rport(), Some(None));
    }

    #[test]
    fn folded_and_spaced_via() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), (&b"SIP"[..], &b"2.0"[..], &b"UDP"[..]));
        assert_eq!(v.host, b"192.0.2.2");
        assert_eq!(defects(b"SIP/2.0/TCP spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8"), vec![]);
    }

    #[test]
    fn ipv6_sent_by_and_received() {
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9:1]:6050;received=2001:db8::9:255;branch=z9hG4bKas3").unwrap();
        assert_eq!(v.host, b"2001:db8::9:1");
        assert!(matches!(v.host_kind, HostKind::Ipv6(_)));
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.received(), Some(&b"2001:db8::9:255"[..]));
    }

    /// The branch checked is `branch()`'s (the first, any case), in the order reported before.
    #[test]
    fn the_first_branch_is_checked() {
        assert_eq!(defects(b"SIP/2.0/UDP h;BRANCH=z9hG4bK1;branch=x"), vec![]);
        assert_eq!(defects(b"SIP/2.0/UDP h;branch=x;branch=z9hG4bK1"), vec![AnomalyKind::Rfc2543Branch]);
        assert_eq!(defects(b"SIP/2.0/UDP h;;Branch"), vec![AnomalyKind::EmptyParameter, AnomalyKind::MissingViaBranch]);
    }

    #[test]
    fn defects_are_named() {
        assert!(defects(b"SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw").contains(&AnomalyKind::UnknownSipVersion));
        assert!(defects(b"SIP/2.0/UDP 192.0.2.15;;").contains(&AnomalyKind::EmptyParameter));
        assert_eq!(defects(b"SIP/2.0/UDP 192.0.2.5"), vec![AnomalyKind::MissingViaBranch]);
        assert_eq!(defects(b"SIP/2.0/UDP h;branch=1"), vec![AnomalyKind::Rfc2543Branch]);
        assert_eq!(defects(b"garbage"), vec![AnomalyKind::InvalidVia]);
        assert_eq!(defects(b"SIP/2.0/UDP"), vec![AnomalyKind::InvalidVia]);
        assert!(defects(b"SIP/2.0/UDP h:70000;branch=z9hG4bK1").contains(&AnomalyKind::InvalidPort));
        // SIPVicious over IPv6.
        let mut found = Vec::new();
        let v = Via::parse_checked(b"SIP/2.0/UDP ::1:5061;branch=z9hG4bK-8;rport", &mut |k| found.push(k)).unwrap();
        assert_eq!((v.host, v.port), (&b"::1"[..], Some(5061)));
        assert_eq!(found, vec![AnomalyKind::UnbracketedIpv6]);
    }
}
