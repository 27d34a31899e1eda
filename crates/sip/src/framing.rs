//! Splitting SIP messages out of a byte stream (TCP, TLS, WebSocket payloads), RFC 3261 §18.3:
//! the header section ends at the first empty line and Content-Length says how long the body is.

use crate::header_name::HeaderName;
use crate::text;

/// What [`frame`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// A whole message of this many bytes (leading CRLF keep-alives included) is at the start.
    Complete(usize),
    /// Only CRLF keep-alives: this many bytes can be dropped.
    KeepAlive(usize),
    /// More bytes are needed; when known, at least this many in total.
    NeedMore(Option<usize>),
    /// The stream cannot be framed: the caller should report it and close the connection.
    Invalid(FrameError),
}

/// Why a stream cannot be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// No Content-Length header: on a stream the body length is unknowable (RFC 3261 §18.3).
    #[error("no Content-Length header in a stream message")]
    MissingContentLength,
    /// Content-Length is not a non-negative number, or several disagree.
    #[error("Content-Length is not a valid number")]
    BadContentLength,
    /// The header section is longer than the limit.
    #[error("header section longer than {0} bytes")]
    HeadersTooLong(usize),
    /// The declared body is longer than the limit.
    #[error("body of {0} bytes is over the limit")]
    BodyTooLong(u64),
}

/// Limits for stream framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Longest header section accepted.
    pub max_header_bytes: usize,
    /// Longest body accepted.
    pub max_body_bytes: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits { max_header_bytes: 64 * 1024, max_body_bytes: 1024 * 1024 }
    }
}

/// Looks at the start of `buf` and says whether a whole message is there.
pub fn frame(buf: &[u8], limits: FrameLimits) -> Framed {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    if start == buf.len() {
        return if start == 0 { Framed::NeedMore(None) } else { Framed::KeepAlive(start) };
    }
    let Some((headers_end, body_start)) = find_header_end(&buf[start..]) else {
        // The verdict must not depend on where a read ended: a header section of exactly the
        // limit still needs its closing empty line (up to 4 bytes) to be seen.
        if buf.len() - start > limits.max_header_bytes + 4 {
            return Framed::Invalid(FrameError::HeadersTooLong(limits.max_header_bytes));
        }
        return Framed::NeedMore(None);
    };
    if headers_end > limits.max_header_bytes {
        return Framed::Invalid(FrameError::HeadersTooLong(limits.max_header_bytes));
    }
    let head = &buf[start..start + headers_end];
    let length = match content_length(head) {
        Ok(Some(len)) => len,
        Ok(None) => return Framed::Invalid(FrameError::MissingContentLength),
        Err(e) => return Framed::Invalid(e),
    };
    if length > limits.max_body_bytes {
        return Framed::Invalid(FrameError::BodyTooLong(length));
    }
    let total = start + body_start + length as usize;
    if buf.len() >= total {
        Framed::Complete(total)
    } else {
        Framed::NeedMore(Some(total))
    }
}

/// Finds the empty line: returns (end of the last header line, start of the body).
///
/// Lines end at LF, except the start line, which ends where the parser ends it
/// ([`start_line_end`]): a start line cut by a bare CR can be followed by the empty line at once.
fn find_header_end(buf: &[u8]) -> Option<(usize, usize)> {
    let after_bare_cr = start_line_end(buf)
        .filter(|&(end, next)| next == end + 1 && buf[end] == b'\r' && buf.get(next..next + 2) == Some(b"\r\n"))
        .map(|(_, next)| (next, next + 2));
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\n', &buf[from..]) {
        let lf = from + i;
        // An empty line right after a bare CR comes before any LF this search finds next,
        // unless that LF is in the whitespace before the start line.
        if let Some(found) = after_bare_cr.filter(|&(end, _)| end < lf) {
            return Some(found);
        }
        match buf.get(lf + 1) {
            Some(b'\n') => return Some((lf, lf + 2)),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some((lf, lf + 3)),
            Some(_) => from = lf + 1,
            None => return after_bare_cr,
        }
    }
    after_bare_cr
}

/// Where the start line ends, as the parser reads it (`find_start_line` in `message/split.rs`):
/// after any leading whitespace, the first line ends at CR LF, at LF, or at a bare CR. Returns
/// (end of the line, start of the next); `None` while that is not known yet (a CR at the end of
/// `buf` may be the first half of a CR LF).
fn start_line_end(buf: &[u8]) -> Option<(usize, usize)> {
    let line = buf.iter().position(|&b| !text::is_lws(b))?;
    let end = line + memchr::memchr2(b'\r', b'\n', &buf[line..])?;
    match (buf[end], buf.get(end + 1)) {
        (b'\n', _) => Some((end, end + 1)),
        (_, Some(b'\n')) => Some((end, end + 2)),
        (_, Some(_)) => Some((end, end + 1)),
        (_, None) => None,
    }
}

/// Reads Content-Length (or `l`) from the header lines after the start line; folded lines are
/// not needed here because the value is a number on the header's own line.
fn content_length(head: &[u8]) -> Result<Option<u64>, FrameError> {
    let mut found: Option<u64> = None;
    let headers = match start_line_end(head) {
        Some((_, next)) => &head[next..],
        // The start line reaches the end of the head (or its last byte is a CR).
        None => &[],
    };
    for line in headers.split(|&b| b == b'\n') {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        if HeaderName::parse(text::trim(&line[..colon])) != HeaderName::ContentLength {
            continue;
        }
        let value = text::parse_u64(text::trim(&line[colon + 1..])).ok_or(FrameError::BadContentLength)?;
        if found.is_some_and(|f| f != value) {
            return Err(FrameError::BadContentLength);
        }
        found = Some(value);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";
    const B: &[u8] = b"MESSAGE sip:b SIP/2.0\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn two_messages_in_one_buffer() {
        let mut buf = A.to_vec();
        buf.extend_from_slice(B);
        assert_eq!(frame(&buf, FrameLimits::default()), Framed::Complete(A.len()));
        assert_eq!(frame(&buf[A.len()..], FrameLimits::default()), Framed::Complete(B.len()));
    }

    #[test]
    fn partial_messages_need_more() {
        for cut in 1..B.len() {
            let f = frame(&B[..cut], FrameLimits::default());
            assert!(matches!(f, Framed::NeedMore(_)), "cut at {cut}: {f:?}");
        }
        assert_eq!(frame(&B[..B.len() - 2], FrameLimits::default()), Framed::NeedMore(Some(B.len())));
    }

    #[test]
    fn keepalives_and_bare_lf() {
        assert_eq!(frame(b"\r\n\r\n", FrameLimits::default()), Framed::KeepAlive(4));
        let lf = b"\r\nOPTIONS sip:a SIP/2.0\nl: 2\n\nhi";
        assert_eq!(frame(lf, FrameLimits::default()), Framed::Complete(lf.len()));
    }

    /// Found by the `frame` fuzz target (`tests/fixtures/fuzz-regressions/frame-bare-cr-start-line.bin`):
    /// the parser ends a start line at a bare CR, so what follows it on the same LF-ended line
    /// is a header, Content-Length included; framing skipped the whole LF-ended line and read a
    /// different body length than the parser.
    #[test]
    fn a_start_line_ending_in_a_bare_cr_is_framed_as_the_parser_reads_it() {
        let bare_cr = b"OPTIONS sip:a SIP/2.0\rContent-Length: 2\r\n\r\nhi";
        assert_eq!(frame(bare_cr, FrameLimits::default()), Framed::Complete(bare_cr.len()));
        let msg = crate::Message::parse_with(bare_cr, crate::Framing::Stream, crate::ParseLimits::default()).unwrap();
        assert_eq!((msg.content_length(), msg.body()), (Some(2), &b"hi"[..]));

        let two_lengths = b"\xff7.0. .0 SIP/2.0\rContent-Length: 18\r\nl: 0\r\n\r\n";
        assert_eq!(frame(two_lengths, FrameLimits::default()), Framed::Invalid(FrameError::BadContentLength));

        // The empty line right after the bare CR ends a header section with no headers.
        let no_headers = b" \r\nOPTIONS sip:a SIP/2.0\r\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(frame(no_headers, FrameLimits::default()), Framed::Invalid(FrameError::MissingContentLength));
        let msg =
            crate::Message::parse_with(no_headers, crate::Framing::Stream, crate::ParseLimits::default()).unwrap();
        assert!(msg.headers().is_empty());
        // Until the byte after a CR is known, it may be half of a CR LF.
        assert_eq!(frame(b"OPTIONS sip:a SIP/2.0\r", FrameLimits::default()), Framed::NeedMore(None));
        assert_eq!(frame(b"OPTIONS sip:a SIP/2.0\r\r", FrameLimits::default()), Framed::NeedMore(None));
        // Ordinary line ends are unchanged.
        assert_eq!(frame(A, FrameLimits::default()), Framed::Complete(A.len()));
    }

    #[test]
    fn invalid_streams() {
        let missing = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(frame(missing, FrameLimits::default()), Framed::Invalid(FrameError::MissingContentLength));
        let negative = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n";
        assert_eq!(frame(negative, FrameLimits::default()), Framed::Invalid(FrameError::BadContentLength));
        let limits = FrameLimits { max_header_bytes: 16, max_body_bytes: 4 };
        assert!(matches!(frame(&[b'a'; 64], limits), Framed::Invalid(FrameError::HeadersTooLong(16))));
        assert_eq!(frame(B, limits), Framed::Invalid(FrameError::HeadersTooLong(16)));
        let big = FrameLimits { max_header_bytes: 1000, max_body_bytes: 4 };
        assert_eq!(frame(B, big), Framed::Invalid(FrameError::BodyTooLong(5)));
    }
}
