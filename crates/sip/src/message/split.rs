//! Splitting a message: the start line, the header lines (folds, CR LF or bare LF), the
//! per-name index and Content-Length. Kept apart from the accessors because it is the hot path
//! of every parse: header lines are found with word-at-a-time and 16-byte-chunk searches rather
//! than `memchr` calls (lines are too short for its set-up to pay), and a name's lookup key is
//! read in the same pass that finds its colon.

use super::{Framing, Header, Message, ParseError, ParseLimits};
use crate::anomaly::AnomalyKind;
use crate::header_name::HeaderName;
use crate::start_line::{parse_start_line, StartLine};
use crate::text;

impl<'a> Message<'a> {
    /// Reads header lines from `pos`; returns the offset where the body starts.
    pub(super) fn read_headers(&mut self, bytes: &'a [u8], mut pos: usize, limits: ParseLimits) -> usize {
        let mut bare_lf = false;
        loop {
            if pos >= bytes.len() {
                self.note(AnomalyKind::HeadersNotTerminated, None);
                return bytes.len();
            }
            // The name's colon and the line end: the first ':' or LF of the line, then (after a
            // colon) the LF. Most names end within the line's first 24 bytes, read as words that
            // also serve as the name's lookup key.
            let (stop, key) = match scan_name(bytes, pos) {
                Some((stop, key)) => (Some(stop), Some(key)),
                None => (text::find_either_from(b':', b'\n', bytes, pos), None),
            };
            let (colon, lf) = match stop {
                Some(i) if bytes.get(i) == Some(&b':') => (Some(i), text::find_byte_from(b'\n', bytes, i + 1)),
                first => (None, first),
            };
            let (content_end, next) = match lf {
                Some(lf) => {
                    if lf > pos && bytes.get(lf - 1) == Some(&b'\r') {
                        (lf - 1, lf + 1)
                    } else {
                        bare_lf = true;
                        (lf, lf + 1)
                    }
                }
                None => (bytes.len(), bytes.len()),
            };
            if content_end == pos {
                if next == bytes.len() && content_end == bytes.len() {
                    self.note(AnomalyKind::HeadersNotTerminated, None);
                }
                if bare_lf {
                    self.note(AnomalyKind::BareLfLineEnding, None);
                }
                return next;
            }
            let line = Line { start: pos, content_end, next, colon, key };
            if content_end == bytes.len() && next == bytes.len() {
                // The last line has no line ending at all: the header section was cut short.
                self.push_header_line(bytes, line, limits);
                self.note(AnomalyKind::HeadersNotTerminated, None);
                if bare_lf {
                    self.note(AnomalyKind::BareLfLineEnding, None);
                }
                return bytes.len();
            }
            self.push_header_line(bytes, line, limits);
            pos = next;
        }
    }

    #[inline(always)]
    fn push_header_line(&mut self, bytes: &'a [u8], line: Line, limits: ParseLimits) {
        let Line { start: pos, content_end, next, colon, key } = line;
        let content = &bytes[pos..content_end];
        if matches!(content.first(), Some(b' ' | b'\t')) {
            // A continuation line folds into the previous header.
            if let Some(last) = self.headers.last_mut() {
                let value_start = last.value.as_ptr() as usize - bytes.as_ptr() as usize;
                let line_start = last.line.as_ptr() as usize - bytes.as_ptr() as usize;
                let value = text::trim(&bytes[value_start..content_end]);
                last.value = if value.is_empty() { &bytes[value_start..value_start] } else { value };
                last.line = &bytes[line_start..next];
                return;
            }
            if self.headers.is_empty() {
                self.note(AnomalyKind::ExtraWhitespaceInStartLine, None);
                return;
            }
        }
        if self.headers.len() >= limits.max_headers {
            return;
        }
        let index = self.headers.len();
        let (name, value, kind) = match colon {
            Some(colon) => {
                let raw_name = &bytes[pos..colon];
                let value_region = &bytes[colon + 1..content_end];
                let value = text::trim(value_region);
                let value = if value.is_empty() { &value_region[value_region.len()..] } else { value };
                let (name, kind) = match (key, raw_name) {
                    // No whitespace to trim: the words read while looking for the colon are
                    // the name's lookup key.
                    (Some(key), [first, .., last]) if !text::is_lws(*first) && !text::is_lws(*last) => {
                        (raw_name, crate::header_name::lookup::find_key(&key, raw_name.len()))
                    }
                    _ => {
                        let name = text::trim(raw_name);
                        (name, HeaderName::parse(name))
                    }
                };
                // Known names are tokens by construction: only unknown ones need the checks.
                if kind == HeaderName::Other {
                    if !text::is_token(name) {
                        self.note(AnomalyKind::InvalidHeaderName, Some(index));
                    } else if HeaderName::resembles(name).is_some() {
                        self.note(AnomalyKind::UnknownHeaderResembles, Some(index));
                    }
                }
                (name, value, kind)
            }
            None => {
                self.note(AnomalyKind::HeaderWithoutColon, Some(index));
                (content, &content[content.len()..], HeaderName::Other)
            }
        };
        if kind != HeaderName::Other {
            let slot = &mut self.first[kind as usize];
            if *slot == 0 {
                *slot = index as u16 + 1;
            } else if kind.is_single_valued() && kind != HeaderName::ContentLength {
                self.note(AnomalyKind::DuplicateSingleValueHeader, Some(index));
            }
        }
        self.headers.push(Header { name, value, line: &bytes[pos..next], kind });
    }

    pub(super) fn read_body(&mut self, bytes: &'a [u8], start: usize, framing: Framing) {
        let available = &bytes[start.min(bytes.len())..];
        let mut declared: Option<u64> = None;
        let first_cl = self.first_index(HeaderName::ContentLength).unwrap_or(self.headers.len());
        for i in first_cl..self.headers.len() {
            let Header { kind, value, .. } = self.headers[i];
            if kind != HeaderName::ContentLength {
                continue;
            }
            let parsed = match text::parse_number(text::trim(value)) {
                text::Number::Value(v) => Some(v),
                text::Number::Overflow => Some(u64::MAX),
                text::Number::Invalid => None,
            };
            match parsed {
                None if value.first() == Some(&b'-') => self.anomalies_push(AnomalyKind::NegativeContentLength, i),
                None => self.anomalies_push(AnomalyKind::InvalidContentLength, i),
                Some(v) => match declared {
                    Some(d) if d != v => self.anomalies_push(AnomalyKind::ConflictingContentLength, i),
                    Some(_) => {}
                    None => declared = Some(v),
                },
            }
        }
        match declared {
            Some(len) if len > available.len() as u64 => {
                self.note(AnomalyKind::ContentLengthExceedsBody, self.first_index(HeaderName::ContentLength));
                self.body = available;
            }
            Some(len) => {
                let len = len as usize;
                self.body = &available[..len];
                self.trailing = &available[len..];
                if !self.trailing.is_empty() && framing == Framing::Datagram {
                    self.note(AnomalyKind::TrailingBytesAfterBody, None);
                }
            }
            None => self.body = available,
        }
    }

    fn anomalies_push(&mut self, kind: AnomalyKind, header: usize) {
        self.note(kind, Some(header));
    }
}

/// One header line: where it starts, where its content ends (before CR LF or LF), where the next
/// line starts, and its first colon, if the line has one.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    content_end: usize,
    next: usize,
    colon: Option<usize>,
    /// The name's lookup key, when [`scan_name`] found the colon.
    key: Option<[u64; 3]>,
}

/// Finds the first ':' or LF in the 24 bytes at `pos`, eight at a time, and returns it with the
/// bytes before it as a name key ([`crate::header_name::lookup::name_key`]: zero-padded words).
/// `None` when fewer than 24 bytes remain or none of them is ':' or LF.
#[inline(always)]
fn scan_name(bytes: &[u8], pos: usize) -> Option<(usize, [u64; 3])> {
    let chunk = bytes.get(pos..)?.first_chunk::<24>()?;
    let (w0, rest) = chunk.split_first_chunk::<8>()?;
    let (w1, w2) = rest.split_first_chunk::<8>()?;
    let w2 = w2.first_chunk::<8>()?;
    let words = [u64::from_le_bytes(*w0), u64::from_le_bytes(*w1), u64::from_le_bytes(*w2)];
    let stop = |w: u64| text::first_match_bits(w, b':') | text::first_match_bits(w, b'\n');
    // The bytes of `w` before byte `n` (0 to 7), zero-padded.
    let before = |w: u64, n: u32| w & ((1u64 << (8 * n)) - 1);
    let bits = stop(words[0]);
    if bits != 0 {
        let n = bits.trailing_zeros() / 8;
        return Some((pos + n as usize, [before(words[0], n), 0, 0]));
    }
    let bits = stop(words[1]);
    if bits != 0 {
        let n = bits.trailing_zeros() / 8;
        return Some((pos + 8 + n as usize, [words[0], before(words[1], n), 0]));
    }
    let bits = stop(words[2]);
    if bits != 0 {
        let n = bits.trailing_zeros() / 8;
        return Some((pos + 16 + n as usize, [words[0], words[1], before(words[2], n)]));
    }
    None
}

pub(super) type StartFound<'a> = (usize, usize, &'a [u8], (StartLine<'a>, Vec<AnomalyKind>));

/// Finds the start line: skips CRLF keep-alives, then tries each line within `max_junk` bytes.
pub(super) fn find_start_line(bytes: &[u8], max_junk: usize) -> Result<StartFound<'_>, ParseError> {
    let mut pos = 0;
    while pos < bytes.len() && text::is_lws(bytes[pos]) {
        pos += 1;
    }
    if pos == bytes.len() {
        return Err(ParseError::Empty);
    }
    while pos < bytes.len() && pos <= max_junk {
        // A line ends at CRLF, a bare LF, or a bare CR (which RFC 3261 forbids but a cut
        // between CR and LF, or an odd sender, produces).
        let mut defects = Vec::new();
        let (line_end, next) = match text::find_either_from(b'\r', b'\n', bytes, pos) {
            Some(cr) if bytes[cr] == b'\r' && bytes.get(cr + 1) == Some(&b'\n') => (cr, cr + 2),
            Some(cr) if bytes[cr] == b'\r' => {
                defects.push(AnomalyKind::BareCrLineEnding);
                (cr, cr + 1)
            }
            Some(lf) => (lf, lf + 1),
            None => (bytes.len(), bytes.len()),
        };
        let line = &bytes[pos..line_end];
        if let Some(start) = parse_start_line(line, &mut |k| defects.push(k)) {
            return Ok((pos, next, line, (start, defects)));
        }
        pos = next;
    }
    Err(ParseError::NoStartLine { searched: pos.min(bytes.len()) })
}
