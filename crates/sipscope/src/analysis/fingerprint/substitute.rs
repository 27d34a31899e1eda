//! 004 §IV.B: a packet's own addresses and ports inside its header values become `SourceIP`,
//! `DestIP`, `SourcePort` and `DestPort`, so that a tool writing its own address into Via or
//! Contact keeps that trait in the fingerprint whatever address it scans from.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Token for the packet's source address.
pub const SOURCE_IP: &str = "SourceIP";
/// Token for the packet's destination address.
pub const DEST_IP: &str = "DestIP";
/// Token for the packet's source port.
pub const SOURCE_PORT: &str = "SourcePort";
/// Token for the packet's destination port.
pub const DEST_PORT: &str = "DestPort";

/// The texts to look for in one packet, prepared once for all its values (without allocating:
/// this runs for every packet).
#[derive(Debug, Clone)]
pub struct Substitution {
    /// (text, bracketed IPv6 form, token); source first so that it wins when both are equal.
    ips: [Option<(Needle, Option<Needle>, &'static str)>; 2],
    ports: [Option<(Needle, &'static str)>; 2],
}

/// Buffers for [`Substitution::apply_in`], reused from packet to packet.
#[derive(Debug, Clone, Default)]
pub struct SubstitutionBuffers([Vec<u8>; 2]);

impl Substitution {
    /// Prepares the texts of `src` and `dst`. Unspecified addresses and port 0 (unknown) are
    /// left alone; IPv4-mapped IPv6 addresses are looked for in their IPv4 form.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Substitution {
        let mut ips: [Option<(Needle, Option<Needle>, &'static str)>; 2] = [None, None];
        let mut n = 0;
        for (ip, token) in [(src.ip(), SOURCE_IP), (dst.ip(), DEST_IP)] {
            let ip = ip.to_canonical();
            let text = Needle::ip(ip);
            if ip.is_unspecified() || ips[..n].iter().flatten().any(|(t, _, _)| t.bytes() == text.bytes()) {
                continue;
            }
            let bracketed = matches!(ip, IpAddr::V6(_)).then(|| Needle::bracketed(&text));
            ips[n] = Some((text, bracketed, token));
            n += 1;
        }
        let mut ports: [Option<(Needle, &'static str)>; 2] = [None, None];
        let mut n = 0;
        for (port, token) in [(src.port(), SOURCE_PORT), (dst.port(), DEST_PORT)] {
            let text = Needle::number(port);
            if port != 0 && !ports[..n].iter().flatten().any(|(t, _)| t.bytes() == text.bytes()) {
                ports[n] = Some((text, token));
                n += 1;
            }
        }
        Substitution { ips, ports }
    }

    /// `value` with every whole occurrence replaced: addresses first (an address contains
    /// digits that could look like a port), bracketed IPv6 before bare, then ports.
    pub fn apply(&self, value: &[u8]) -> Vec<u8> {
        self.apply_in(value, &mut SubstitutionBuffers::default()).to_vec()
    }

    /// [`Substitution::apply`] without allocating: `value` itself when nothing is replaced,
    /// else the result in one of `buffers`.
    pub fn apply_in<'v>(&self, value: &'v [u8], buffers: &'v mut SubstitutionBuffers) -> &'v [u8] {
        if self.ips.iter().flatten().all(|(_, bracketed, _)| bracketed.is_none()) {
            // IPv4 addresses and ports only: one scan does what the passes do, and a value
            // without a digit has none of them.
            if !has_digit(value) {
                return value;
            }
            let [out, _] = &mut buffers.0;
            return if self.replace_numbers(value, out) { out } else { value };
        }
        let [a, b] = &mut buffers.0;
        // Each pass reads the previous pass's result: `value` (0), `a` (1) or `b` (2).
        let mut current = 0;
        let mut pass = |needle: &[u8], token: &str, accept: &dyn Fn(&[u8], usize, usize) -> bool| {
            let (hay, out, next): (&[u8], &mut Vec<u8>, u8) = match current {
                1 => (a.as_slice(), &mut *b, 2),
                2 => (b.as_slice(), &mut *a, 1),
                _ => (value, &mut *a, 1),
            };
            if replace(hay, needle, token.as_bytes(), accept, out) {
                current = next;
            }
        };
        for (text, bracketed, token) in self.ips.iter().flatten() {
            if let Some(bracketed) = bracketed {
                pass(bracketed.bytes(), token, &|_, _, _| true);
                pass(text.bytes(), token, &v6_boundary);
            } else {
                pass(text.bytes(), token, &number_boundary);
            }
        }
        for (text, token) in self.ports.iter().flatten() {
            pass(text.bytes(), token, &number_boundary);
        }
        match current {
            1 => a,
            2 => b,
            _ => value,
        }
    }
}

impl Substitution {
    /// The passes of [`Substitution::apply_in`] in one scan, when every text to look for is an
    /// IPv4 address or a port: digits and dots, starting and ending with a digit. A whole
    /// occurrence never has a digit, a letter, `_` or `.` just before it nor a digit or letter
    /// just after, so two occurrences that are both replaced never touch, and a token written by
    /// one pass (letters) changes no later pass's boundary: scanning once, trying the texts in
    /// pass order at each place, replaces the same occurrences.
    fn replace_numbers(&self, hay: &[u8], out: &mut Vec<u8>) -> bool {
        let ips = self.ips.iter().flatten().map(|(text, _, token)| (text.bytes(), *token));
        let ports = self.ports.iter().flatten().map(|(text, token)| (text.bytes(), *token));
        let mut texts: [(&[u8], &str); 4] = [(&[], ""); 4];
        let mut n = 0;
        for text in ips.chain(ports) {
            texts[n] = text;
            n += 1;
        }
        let texts = &texts[..n];
        let mut copied = 0;
        let mut replaced = false;
        // Only a digit with nothing number-like before it can start an occurrence: such places
        // are found 64 bytes at a time, as bits, and tried in order.
        let mut next = 0;
        let mut before_is_word = false;
        for (block, bytes) in hay.chunks(64).enumerate() {
            let (mut digits, mut words) = (0u64, 0u64);
            for (k, &b) in bytes.iter().enumerate() {
                let class = CLASSES[usize::from(b)];
                digits |= u64::from(class & DIGIT) << k;
                words |= u64::from((class & WORD) >> 1) << k;
            }
            let mut starts = digits & !((words << 1) | u64::from(before_is_word));
            before_is_word = (words >> (bytes.len() - 1)) & 1 == 1;
            while starts != 0 {
                let i = block * 64 + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                if i < next {
                    continue;
                }
                for &(text, token) in texts {
                    let end = i + text.len();
                    if hay.get(i..end).is_some_and(|here| same(here, text)) && number_boundary(hay, i, end) {
                        if !replaced {
                            out.clear();
                            replaced = true;
                        }
                        out.extend_from_slice(&hay[copied..i]);
                        out.extend_from_slice(token.as_bytes());
                        copied = end;
                        next = end;
                        break;
                    }
                }
            }
        }
        if replaced {
            out.extend_from_slice(&hay[copied..]);
        }
        replaced
    }
}

/// [`CLASSES`]: an ASCII digit.
const DIGIT: u8 = 1;
/// [`CLASSES`]: a byte after which no number starts (a word character or `.`).
const WORD: u8 = 2;
/// Per byte, [`DIGIT`] and [`WORD`].
static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let word = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        table[b] = if c.is_ascii_digit() { DIGIT } else { 0 } | if word { WORD } else { 0 };
        b += 1;
    }
    table
}

/// Whether `bytes` has an ASCII digit, eight bytes at a time.
fn has_digit(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        // Digits become bytes below 10; a byte below 10 is found by the borrow into its top bit.
        let x = u64::from_le_bytes(w) ^ (0x30 * ONES);
        if x.wrapping_sub(10 * ONES) & !x & (0x80 * ONES) != 0 {
            return true;
        }
    }
    words.remainder().iter().any(u8::is_ascii_digit)
}

/// Byte-wise equality of two short texts of equal length (cheaper than a `memcmp` call).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// An address or port as text, inline.
#[derive(Debug, Clone, Copy)]
struct Needle {
    buf: [u8; 48],
    len: usize,
}

impl Needle {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(self.buf.len());
        self.buf[self.len..end].copy_from_slice(&bytes[..end - self.len]);
        self.len = end;
    }

    fn number(n: u16) -> Needle {
        let mut digits = [0u8; 5];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut needle = Needle { buf: [0; 48], len: 0 };
        needle.push(&digits[i..]);
        needle
    }

    /// `Display` of the address (dotted quad, or RFC 5952 compressed IPv6).
    fn ip(ip: IpAddr) -> Needle {
        let mut needle = Needle { buf: [0; 48], len: 0 };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        needle.push(b".");
                    }
                    needle.push(Needle::number(u16::from(octet)).bytes());
                }
            }
            IpAddr::V6(v6) => {
                let _ = write!(needle, "{v6}");
            }
        }
        needle
    }

    fn bracketed(text: &Needle) -> Needle {
        let mut needle = Needle { buf: [0; 48], len: 0 };
        needle.push(b"[");
        needle.push(text.bytes());
        needle.push(b"]");
        needle
    }
}

impl std::fmt::Write for Needle {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
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

/// Replaces every ASCII-case-insensitive occurrence of `needle` that `accept` takes, scanning
/// from the left and going on after each replacement. Writes the result into `out` and returns
/// true, or returns false (and leaves `out` alone) when there is none.
fn replace(
    hay: &[u8],
    needle: &[u8],
    token: &[u8],
    accept: &dyn Fn(&[u8], usize, usize) -> bool,
    out: &mut Vec<u8>,
) -> bool {
    let Some(&first) = needle.first() else { return false };
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut copied = 0;
    let mut from = 0;
    let mut replaced = false;
    while from + needle.len() <= hay.len() {
        let Some(at) = memchr::memchr2(lower, upper, &hay[from..=hay.len() - needle.len()]) else { break };
        let start = from + at;
        let end = start + needle.len();
        if hay[start..end].eq_ignore_ascii_case(needle) && accept(hay, start, end) {
            if !replaced {
                out.clear();
                replaced = true;
            }
            out.extend_from_slice(&hay[copied..start]);
            out.extend_from_slice(token);
            copied = end;
            from = end;
        } else {
            from = start + 1;
        }
    }
    if replaced {
        out.extend_from_slice(&hay[copied..]);
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte scan [`Substitution::replace_numbers`] replaced.
    fn scan(sub: &Substitution, hay: &[u8]) -> Option<Vec<u8>> {
        let ips = sub.ips.iter().flatten().map(|(text, _, token)| (text.bytes(), *token));
        let texts: Vec<(&[u8], &str)> =
            ips.chain(sub.ports.iter().flatten().map(|(t, token)| (t.bytes(), *token))).collect();
        let (mut out, mut copied, mut replaced, mut i) = (Vec::new(), 0, false, 0);
        'scan: while i < hay.len() {
            if !hay[i].is_ascii_digit() || (i > 0 && (is_word(hay[i - 1]) || hay[i - 1] == b'.')) {
                i += 1;
                continue;
            }
            for &(text, token) in &texts {
                let end = i + text.len();
                if hay.get(i..end) == Some(text) && number_boundary(hay, i, end) {
                    replaced = true;
                    out.extend_from_slice(&hay[copied..i]);
                    out.extend_from_slice(token.as_bytes());
                    (copied, i) = (end, end);
                    continue 'scan;
                }
            }
            i += 1;
        }
        out.extend_from_slice(&hay[copied..]);
        replaced.then_some(out)
    }

    #[test]
    fn the_bit_scan_replaces_what_the_byte_scan_did() {
        let mut rng = crate::analysis::test_rng::Rng(11);
        let sub = Substitution::new("10.0.0.1:5060".parse().unwrap(), "192.0.2.10:5080".parse().unwrap());
        let pieces: [&[u8]; 12] =
            [b"10.0.0.1", b"192.0.2.10", b"5060", b"5080", b".", b":", b"a", b"_", b"-", b"0", b"9", b"<sip:"];
        for _ in 0..20_000 {
            let mut hay = Vec::new();
            for _ in 0..rng.below(40) {
                hay.extend_from_slice(pieces[rng.below(pieces.len() as u64) as usize]);
            }
            let mut out = Vec::new();
            let got = sub.replace_numbers(&hay, &mut out).then_some(out);
            assert_eq!(got, scan(&sub, &hay), "{}", String::from_utf8_lossy(&hay));
        }
    }

    #[test]
    fn has_digit_agrees_with_a_byte_scan_for_every_byte_at_every_place() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = b;
                    assert_eq!(has_digit(&bytes), b.is_ascii_digit(), "{b:#x} at {at} of {len}");
                }
            }
        }
        assert!(!has_digit(b"friendly-scanner"));
        assert!(has_digit(b"application/sdp;v=2"));
    }
}
