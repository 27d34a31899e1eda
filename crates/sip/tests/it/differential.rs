//! Differential test of the split: `parse` against a plain reference written here the obvious
//! way (a byte loop per line, names lower-cased and compared with every known name), on the
//! property generators' inputs, the corpus, and the corpus mutated, re-cased and cut.
//!
//! The parser finds lines and colons with word-at-a-time searches, looks names up through a
//! perfect hash and takes shortcuts for the usual lines; none of that may change what it returns.
//! Compared: the junk, the start line, every header's name, value and line as spans (folds
//! included) with its kind, the per-name index, Content-Length, body and trailing bytes, and
//! every anomaly the split itself reports (kind and header, in order).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use sipscope_sip::start_line::parse_start_line;
use sipscope_sip::{AnomalyKind, Framing, HeaderName, Message, ParseLimits};

use crate::properties::{messages, sip_like_bytes};

/// A span as (offset, length) in the input, so that equal spans mean the same bytes.
type Span = (usize, usize);

/// What the reference finds.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    junk: Span,
    start_line_raw: Span,
    start: String,
    /// (name, value, line, kind) of every header.
    headers: Vec<(Span, Span, Span, HeaderName)>,
    body: Span,
    trailing: Span,
    /// Anomalies of the split, in order: (kind, header).
    anomalies: Vec<(AnomalyKind, Option<u16>)>,
}

/// The anomalies only the split reports (`validate` never does), so a message's list filtered to
/// them is exactly what its split found. (`BareCrLineEnding` and `UnknownSipVersion` are left
/// out: `validate` reports them too.)
const SPLIT_KINDS: &[AnomalyKind] = &[
    AnomalyKind::JunkBeforeStartLine,
    AnomalyKind::ExtraWhitespaceInStartLine,
    AnomalyKind::TrailingWhitespaceInStartLine,
    AnomalyKind::WhitespaceInRequestUri,
    AnomalyKind::InvalidMethod,
    AnomalyKind::MissingSipVersion,
    AnomalyKind::InvalidStatusCode,
    AnomalyKind::StatusCodeOutOfRange,
    AnomalyKind::HeadersNotTerminated,
    AnomalyKind::BareLfLineEnding,
    AnomalyKind::InvalidHeaderName,
    AnomalyKind::UnknownHeaderResembles,
    AnomalyKind::HeaderWithoutColon,
    AnomalyKind::DuplicateSingleValueHeader,
    AnomalyKind::NegativeContentLength,
    AnomalyKind::InvalidContentLength,
    AnomalyKind::ConflictingContentLength,
    AnomalyKind::ContentLengthExceedsBody,
    AnomalyKind::TrailingBytesAfterBody,
];

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s[from..to]` without surrounding whitespace, as a span.
fn trim(s: &[u8], mut from: usize, mut to: usize) -> Span {
    while from < to && is_lws(s[from]) {
        from += 1;
    }
    while to > from && is_lws(s[to - 1]) {
        to -= 1;
    }
    (from, to - from)
}

/// A known name spelled any case, full or compact, found by comparing with every one.
fn kind_of(name: &[u8]) -> HeaderName {
    let lower = name.to_ascii_lowercase();
    for &known in HeaderName::KNOWN {
        if lower == known.canonical().to_ascii_lowercase().as_bytes()
            || (lower.len() == 1 && known.compact() == Some(lower[0]))
        {
            return known;
        }
    }
    HeaderName::Other
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~')
        })
}

/// The reference split, written for clarity: `None` where `parse` returns an error.
fn reference(bytes: &[u8], framing: Framing, limits: ParseLimits) -> Option<Split> {
    let max_headers = limits.max_headers.min(usize::from(u16::MAX) - 1);
    let mut anomalies = Vec::new();
    let note = |list: &mut Vec<(AnomalyKind, Option<u16>)>, kind, header: Option<usize>| {
        let entry = (kind, header.map(|h| h as u16));
        if !list.contains(&entry) {
            list.push(entry);
        }
    };

    // Start line: skip whitespace, then try each line that starts within `max_junk` bytes.
    let mut pos = bytes.iter().position(|&b| !is_lws(b))?;
    let (line_start, line_end, mut next, start) = loop {
        if pos >= bytes.len() || pos > limits.max_junk {
            return None;
        }
        let mut defects = Vec::new();
        let end = bytes[pos..].iter().position(|&b| b == b'\r' || b == b'\n').map_or(bytes.len(), |i| pos + i);
        let next = match (bytes.get(end), bytes.get(end + 1)) {
            (Some(b'\r'), Some(b'\n')) => end + 2,
            (Some(b'\r'), _) => {
                defects.push(AnomalyKind::BareCrLineEnding);
                end + 1
            }
            (Some(_), _) => end + 1,
            (None, _) => end,
        };
        if let Some(start) = parse_start_line(&bytes[pos..end], &mut |k| defects.push(k)) {
            if !bytes[..pos].iter().all(|&b| b == b'\r' || b == b'\n') {
                defects.push(AnomalyKind::JunkBeforeStartLine);
            }
            for kind in defects {
                note(&mut anomalies, kind, None);
            }
            break (pos, end, next, format!("{start:?}"));
        }
        pos = next;
    };

    // Header lines.
    let mut headers: Vec<(Span, Span, Span, HeaderName)> = Vec::new();
    let mut bare_lf = false;
    let header_end = loop {
        if next >= bytes.len() {
            note(&mut anomalies, AnomalyKind::HeadersNotTerminated, None);
            break bytes.len();
        }
        let pos = next;
        let lf = bytes[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i);
        let (content_end, line_next) = match lf {
            Some(lf) if lf > pos && bytes[lf - 1] == b'\r' => (lf - 1, lf + 1),
            Some(lf) => {
                bare_lf = true;
                (lf, lf + 1)
            }
            None => (bytes.len(), bytes.len()),
        };
        if content_end == pos {
            if bare_lf {
                note(&mut anomalies, AnomalyKind::BareLfLineEnding, None);
            }
            break line_next;
        }
        let content = &bytes[pos..content_end];
        if content[0] == b' ' || content[0] == b'\t' {
            // A fold: the previous header's value and line grow to take it.
            match headers.last_mut() {
                Some((_, value, line, _)) => {
                    let trimmed = trim(bytes, value.0, content_end);
                    *value = if trimmed.1 == 0 { (value.0, 0) } else { trimmed };
                    *line = (line.0, line_next - line.0);
                }
                None => note(&mut anomalies, AnomalyKind::ExtraWhitespaceInStartLine, None),
            }
        } else if headers.len() < max_headers {
            let index = headers.len();
            let (name, value, kind) = match content.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let name = trim(bytes, pos, pos + colon);
                    let value = trim(bytes, pos + colon + 1, content_end);
                    let value = if value.1 == 0 { (content_end, 0) } else { value };
                    let name_bytes = &bytes[name.0..name.0 + name.1];
                    let kind = kind_of(name_bytes);
                    if kind == HeaderName::Other {
                        if !is_token(name_bytes) {
                            note(&mut anomalies, AnomalyKind::InvalidHeaderName, Some(index));
                        } else if HeaderName::resembles(name_bytes).is_some() {
                            note(&mut anomalies, AnomalyKind::UnknownHeaderResembles, Some(index));
                        }
                    }
                    (name, value, kind)
                }
                None => {
                    note(&mut anomalies, AnomalyKind::HeaderWithoutColon, Some(index));
                    ((pos, content.len()), (content_end, 0), HeaderName::Other)
                }
            };
            let earlier = headers.iter().any(|h| h.3 == kind);
            if kind != HeaderName::Other && earlier && kind.is_single_valued() && kind != HeaderName::ContentLength {
                note(&mut anomalies, AnomalyKind::DuplicateSingleValueHeader, Some(index));
            }
            headers.push((name, value, (pos, line_next - pos), kind));
        }
        if lf.is_none() {
            note(&mut anomalies, AnomalyKind::HeadersNotTerminated, None);
            if bare_lf {
                note(&mut anomalies, AnomalyKind::BareLfLineEnding, None);
            }
            break bytes.len();
        }
        next = line_next;
    };

    // Content-Length and body.
    let available = bytes.len() - header_end;
    let mut declared: Option<u64> = None;
    let first_cl = headers.iter().position(|h| h.3 == HeaderName::ContentLength);
    for (i, h) in headers.iter().enumerate().filter(|(_, h)| h.3 == HeaderName::ContentLength) {
        let raw = &bytes[h.1 .0..h.1 .0 + h.1 .1];
        let (from, len) = trim(raw, 0, raw.len());
        let digits = &raw[from..from + len];
        let parsed = if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            Some(
                digits
                    .iter()
                    .try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
                    .unwrap_or(u64::MAX),
            )
        } else {
            None
        };
        match (parsed, declared) {
            (None, _) if raw.first() == Some(&b'-') => {
                note(&mut anomalies, AnomalyKind::NegativeContentLength, Some(i))
            }
            (None, _) => note(&mut anomalies, AnomalyKind::InvalidContentLength, Some(i)),
            (Some(v), Some(d)) if v != d => note(&mut anomalies, AnomalyKind::ConflictingContentLength, Some(i)),
            (Some(_), Some(_)) => {}
            (Some(v), None) => declared = Some(v),
        }
    }
    let (body, trailing) = match declared {
        Some(len) if len > available as u64 => {
            note(&mut anomalies, AnomalyKind::ContentLengthExceedsBody, first_cl);
            ((header_end, available), (bytes.len(), 0))
        }
        Some(len) => {
            let len = len as usize;
            if len < available && framing == Framing::Datagram {
                note(&mut anomalies, AnomalyKind::TrailingBytesAfterBody, None);
            }
            ((header_end, len), (header_end + len, available - len))
        }
        None => ((header_end, available), (bytes.len(), 0)),
    };
    anomalies.retain(|(kind, _)| SPLIT_KINDS.contains(kind));
    Some(Split {
        junk: (0, line_start),
        start_line_raw: (line_start, line_end - line_start),
        start,
        headers,
        body,
        trailing,
        anomalies,
    })
}

/// The same view of what `parse` returned.
fn split_of(bytes: &[u8], msg: &Message<'_>) -> Split {
    let span = |s: &[u8]| {
        let at = (s.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
        // An empty span of no particular place (`&[]`) is compared as one at the end.
        if s.is_empty() && at > bytes.len() {
            (bytes.len(), 0)
        } else {
            (at, s.len())
        }
    };
    let mut trailing = span(msg.trailing());
    if trailing.1 == 0 {
        trailing = (bytes.len(), 0);
    }
    Split {
        junk: span(msg.junk()),
        start_line_raw: span(msg.start_line_raw()),
        start: format!("{:?}", msg.start_line()),
        headers: msg.headers().iter().map(|h| (span(h.name), span(h.value), span(h.line), h.kind)).collect(),
        body: span(msg.body()),
        trailing,
        anomalies: msg
            .anomalies()
            .iter()
            .filter(|a| SPLIT_KINDS.contains(&a.kind))
            .map(|a| (a.kind, a.header))
            .collect(),
    }
}

/// `parse_with` and the reference agree on `bytes`, including the per-name index.
fn check(bytes: &[u8], framing: Framing, limits: ParseLimits) {
    let expected = reference(bytes, framing, limits);
    let msg = Message::parse_with(bytes, framing, limits);
    let input = String::from_utf8_lossy(bytes);
    let Some(expected) = expected else {
        assert!(msg.is_err(), "reference finds no start line, parse does: {input:?}");
        return;
    };
    let msg = msg.unwrap_or_else(|e| panic!("parse fails ({e}), reference does not: {input:?}"));
    assert_eq!(split_of(bytes, &msg), expected, "{input:?}");
    for &kind in HeaderName::KNOWN {
        let first = expected.headers.iter().find(|h| h.3 == kind);
        assert_eq!(msg.header(kind).map(|h| h.line.as_ptr() as usize - bytes.as_ptr() as usize), first.map(|h| h.2 .0));
        assert_eq!(msg.headers_of(kind).count(), expected.headers.iter().filter(|h| h.3 == kind).count());
    }
}

fn check_all_ways(bytes: &[u8]) {
    check(bytes, Framing::Datagram, ParseLimits::default());
    check(bytes, Framing::Stream, ParseLimits::default());
    check(bytes, Framing::Datagram, ParseLimits { max_headers: 3, max_junk: 8 });
}

/// Every corpus message, and every cut of it.
#[test]
fn corpus_and_its_cuts_split_as_the_reference_does() {
    for (_, bytes) in messages() {
        for cut in 0..=bytes.len() {
            check(&bytes[..cut], Framing::Datagram, ParseLimits::default());
        }
        check_all_ways(bytes);
    }
}

proptest! {
    #[test]
    fn sip_like_bytes_split_as_the_reference_does(bytes in sip_like_bytes()) {
        check_all_ways(&bytes);
    }

    #[test]
    fn arbitrary_bytes_split_as_the_reference_does(bytes in vec(any::<u8>(), 0..512)) {
        check_all_ways(&bytes);
    }

    /// Corpus messages with bytes flipped, inserted, deleted or re-cased (names in any case go
    /// through the name lookup), then cut anywhere.
    #[test]
    fn mutated_corpus_splits_as_the_reference_does(
        pick in any::<Index>(),
        edits in vec((0u8..5, any::<Index>(), any::<u8>()), 1..8),
        cut in any::<Index>(),
    ) {
        let mut bytes = messages()[pick.index(messages().len())].1.clone();
        for (op, at, byte) in edits {
            let len = bytes.len();
            match op {
                0 if len > 0 => bytes[at.index(len)] ^= byte.max(1),
                1 => bytes.insert(at.index(len + 1), byte),
                2 if len > 0 => {
                    bytes.remove(at.index(len));
                }
                3 if len > 0 => bytes[at.index(len)] ^= 0x20,
                4 => {
                    let piece: &[u8] = [&b"\r\n"[..], b"\n", b":", b" ", b"\t", b"\r\n ", b"content-LENGTH: 3"][usize::from(byte) % 7];
                    let at = at.index(len + 1);
                    bytes.splice(at..at, piece.iter().copied());
                }
                _ => {}
            }
        }
        check_all_ways(&bytes);
        bytes.truncate(cut.index(bytes.len() + 1));
        check_all_ways(&bytes);
    }
}
