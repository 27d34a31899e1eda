//! SDP bodies (RFC 4566) read as their `type=value` lines: enough for fingerprints and for
//! pulling out the addresses, ports and codecs a caller offered.

use crate::text;

/// One `x=value` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpLine<'a> {
    /// The type letter (`v`, `o`, `s`, `c`, `t`, `m`, `a` …).
    pub kind: u8,
    /// Everything after `=`, as written.
    pub value: &'a [u8],
}

/// An SDP body split into lines, in order. Lines that are not `x=value` are kept apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sdp<'a> {
    /// Well-formed lines.
    pub lines: Vec<SdpLine<'a>>,
    /// Non-empty lines that are not `x=value` (RFC 4475 `dblreq` has `m =video`).
    pub malformed: Vec<&'a [u8]>,
}

impl<'a> Sdp<'a> {
    /// Splits a body; CRLF or bare LF line ends.
    pub fn parse(body: &'a [u8]) -> Sdp<'a> {
        let mut sdp = Sdp::default();
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            match line {
                [kind, b'=', value @ ..] if kind.is_ascii_lowercase() => sdp.lines.push(SdpLine { kind: *kind, value }),
                _ => sdp.malformed.push(line),
            }
        }
        sdp
    }

    /// The same verdict as `Sdp::parse(body).is_well_formed()`, without building the lines.
    pub fn is_well_formed_body(body: &[u8]) -> bool {
        let mut first = true;
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line {
                [] => continue,
                [b'v', b'=', ..] if first => first = false,
                [kind, b'=', ..] if !first && kind.is_ascii_lowercase() => {}
                _ => return false,
            }
        }
        !first
    }

    /// True when every line is `x=value` and the first is `v=`.
    pub fn is_well_formed(&self) -> bool {
        self.malformed.is_empty() && self.lines.first().is_some_and(|l| l.kind == b'v')
    }

    /// Values of every line of one type.
    pub fn values(&self, kind: u8) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.lines.iter().filter(move |l| l.kind == kind).map(|l| l.value)
    }

    /// The connection addresses (`c=IN IP4 192.0.2.1` gives `192.0.2.1`).
    pub fn connection_addresses(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.values(b'c').filter_map(|v| v.split(|&b| b == b' ').nth(2)).map(text::trim)
    }

    /// The media descriptions as (media, port, protocol) (`m=audio 49217 RTP/AVP 0` gives
    /// `audio`, `49217`, `RTP/AVP`).
    pub fn media(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8], &'a [u8])> + '_ {
        self.values(b'm').map(|v| {
            let mut parts = v.split(|&b| b == b' ').filter(|p| !p.is_empty());
            (parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &[u8] = b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n";

    #[test]
    fn offer_lines() {
        let sdp = Sdp::parse(OFFER);
        assert!(sdp.is_well_formed());
        assert_eq!(sdp.lines.len(), 8);
        assert_eq!(sdp.connection_addresses().collect::<Vec<_>>(), vec![&b"192.0.2.4"[..]]);
        let media: Vec<_> = sdp.media().collect();
        assert_eq!(media[0], (&b"audio"[..], &b"49217"[..], &b"RTP/AVP"[..]));
        assert_eq!(sdp.values(b'a').count(), 1);
    }

    #[test]
    fn malformed_lines_are_kept() {
        let sdp = Sdp::parse(b"v=0\nm =video 3227 RTP/AVP 31\n\xff\xfe\n");
        assert!(!sdp.is_well_formed());
        assert_eq!(sdp.malformed.len(), 2);
        assert!(!Sdp::parse(b"").is_well_formed());
        for body in [OFFER, b"", b"v=0\nm =video 1\n", b"o=x\nv=0\n", b"\r\nv=0\r\n"] {
            assert_eq!(Sdp::is_well_formed_body(body), Sdp::parse(body).is_well_formed());
        }
    }
}
