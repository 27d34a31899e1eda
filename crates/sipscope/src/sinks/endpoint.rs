//! The network endpoints alert outputs send to, from the configuration's URLs
//! (`udp://host:514`, `tcp://[2001:db8::1]:601`, `https://siem.example/hook`): checked once
//! when the configuration is read, so that nothing odd (user info, spaces, control characters)
//! reaches a Host header or a socket.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `udp`, `tcp`, `http`, `https` (lower case).
    pub scheme: String,
    /// A DNS name or an address (IPv6 without brackets).
    pub host: String,
    /// The port (the scheme's default when the URL names none).
    pub port: u16,
    /// The path and query, at least `/`.
    pub path: String,
}

impl Endpoint {
    /// Parses `url`, whose scheme must be one of `schemes` (with its default port).
    pub fn parse(url: &str, schemes: &[(&str, u16)]) -> Result<Endpoint, String> {
        let bad = |why: &str| format!("{why} in {url:?}");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = schemes.iter().find(|(s, _)| *s == scheme).map(|(_, p)| *p).ok_or_else(|| {
            let known: Vec<&str> = schemes.iter().map(|(s, _)| *s).collect();
            bad(&format!("the scheme is not one of {}", known.join(", ")))
        })?;
        if rest.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("a space or control character"));
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("user information (put secrets in webhook_secret_file)"));
        }
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed ["))?;
            host.parse::<std::net::Ipv6Addr>().map_err(|_| bad("a bad IPv6 address"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("a bad port"))?,
            None => default_port,
        };
        let name_ok = |h: &str| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !(host.parse::<IpAddr>().is_ok() || name_ok(host)) {
            return Err(bad("a bad host"));
        }
        Ok(Endpoint { scheme, host: host.to_owned(), port, path })
    }

    /// `host:port` (IPv6 in brackets), for a Host header and messages.
    pub fn authority(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// The addresses the host resolves to now (a DNS lookup for a name: call it on a worker).
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }

    /// Whether the host is a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost") || self.host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMES: &[(&str, u16)] = &[("udp", 514), ("tcp", 601), ("https", 443)];

    #[test]
    fn urls_parse_with_default_ports_and_refuse_what_could_inject() {
        let e = Endpoint::parse("udp://127.0.0.1", SCHEMES).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("127.0.0.1", 514, "/"));
        let e = Endpoint::parse("TCP://[::1]:6514", SCHEMES).unwrap();
        assert_eq!((e.scheme.as_str(), e.authority(), e.is_loopback()), ("tcp", "[::1]:6514".into(), true));
        let e = Endpoint::parse("https://siem.example.org/hooks/sip?x=1#frag", SCHEMES).unwrap();
        assert_eq!((e.authority(), e.path.as_str()), ("siem.example.org:443".into(), "/hooks/sip?x=1"));
        for bad in [
            "siem.example.org",
            "ftp://x",
            "https://user:pw@x/",
            "https://x\r\nHost: y/",
            "https://x y/",
            "https://x:0/",
            "https://x:99999/",
            "https://[::1/",
            "https://:443/",
            "https://ex_ample/",
        ] {
            assert!(Endpoint::parse(bad, SCHEMES).is_err(), "{bad}");
        }
    }
}
