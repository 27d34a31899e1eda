//! 004 §IV.B: a packet's own addresses and ports inside its header values become `SourceIP`,
//! `DestIP`, `SourcePort` and `DestPort`, so that a tool writing its own address into Via or
//! Contact keeps that trait in the fingerprint whatever address it scans from.

use std::net::{IpAddr, SocketAddr};

/// Token for the packet's source address.
pub const SOURCE_IP: &str = "SourceIP";
/// Token for the packet's destination address.
pub const DEST_IP: &str = "DestIP";
/// Token for the packet's source port.
pub const SOURCE_PORT: &str = "SourcePort";
/// Token for the packet's destination port.
pub const DEST_PORT: &str = "DestPort";

/// The texts to look for in one packet, prepared once for all its values.
#[derive(Debug, Clone)]
pub struct Substitution {
    /// (text, bracketed IPv6 form, token); source first so that it wins when both are equal.
    ips: Vec<(String, Option<String>, &'static str)>,
    ports: Vec<(String, &'static str)>,
}

impl Substitution {
    /// Prepares the texts of `src` and `dst`. Unspecified addresses and port 0 (unknown) are
    /// left alone; IPv4-mapped IPv6 addresses are looked for in their IPv4 form.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Substitution {
        let mut ips = Vec::new();
        for (ip, token) in [(src.ip(), SOURCE_IP), (dst.ip(), DEST_IP)] {
            let ip = ip.to_canonical();
            if ip.is_unspecified() || ips.iter().any(|(text, _, _)| *text == ip.to_string()) {
                continue;
            }
            let bracketed = matches!(ip, IpAddr::V6(_)).then(|| format!("[{ip}]"));
            ips.push((ip.to_string(), bracketed, token));
        }
        let mut ports = Vec::new();
        for (port, token) in [(src.port(), SOURCE_PORT), (dst.port(), DEST_PORT)] {
            if port != 0 && !ports.iter().any(|(text, _)| *text == port.to_string()) {
                ports.push((port.to_string(), token));
            }
        }
        Substitution { ips, ports }
    }

    /// `value` with every whole occurrence replaced: addresses first (an address contains
    /// digits that could look like a port), bracketed IPv6 before bare, then ports.
    pub fn apply(&self, value: &[u8]) -> Vec<u8> {
        let mut out = value.to_vec();
        for (text, bracketed, token) in &self.ips {
            if let Some(bracketed) = bracketed {
                out = replace(&out, bracketed.as_bytes(), token.as_bytes(), |_, _, _| true);
            }
            let is_v6 = bracketed.is_some();
            out = replace(&out, text.as_bytes(), token.as_bytes(), |hay, start, end| {
                if is_v6 {
                    v6_boundary(hay, start, end)
                } else {
                    number_boundary(hay, start, end)
                }
            });
        }
        for (text, token) in &self.ports {
            out = replace(&out, text.as_bytes(), token.as_bytes(), number_boundary);
        }
        out
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// An IPv4 address or a port stands alone: no word character or `.` just before it, and no
/// word character or `.digit` just after it (`10.0.0.1` is not inside `10.0.0.12`, `5060` not
/// inside `15060`, `z9hG4bK5060` or `5060.5`).
fn number_boundary(hay: &[u8], start: usize, end: usize) -> bool {
    let before_ok = start == 0 || !(is_word(hay[start - 1]) || hay[start - 1] == b'.');
    let after_ok = match hay.get(end) {
        None => true,
        Some(&b) if is_word(b) => false,
        Some(b'.') => !hay.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    };
    before_ok && after_ok
}

/// A bare IPv6 address: nothing address-like just before (`fe80::1` is not `::1`); after it a
/// `:` is allowed, because tools write `::1:5061` for address and port (svmap does).
fn v6_boundary(hay: &[u8], start: usize, end: usize) -> bool {
    let before_ok = start == 0 || !(is_word(hay[start - 1]) || matches!(hay[start - 1], b':' | b'.'));
    let after_ok = hay.get(end).is_none_or(|&b| !(is_word(b) || b == b'.'));
    before_ok && after_ok
}

/// Replaces every ASCII-case-insensitive occurrence of `needle` that `accept` takes.
fn replace(hay: &[u8], needle: &[u8], token: &[u8], accept: impl Fn(&[u8], usize, usize) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        let end = i + needle.len();
        if end <= hay.len() && hay[i..end].eq_ignore_ascii_case(needle) && accept(hay, i, end) {
            out.extend_from_slice(token);
            i = end;
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}
