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
            if let Some(next) = self.usual_header_line(bytes, pos, limits, &mut bare_lf) {
                pos = next;
                continue;
            }
            if bytes.get(pos..pos + 2) == Some(b"\r\n") {
                // The empty line (what the general way below finds too).
                if bare_lf {
                    self.note(AnomalyKind::BareLfLineEnding, None);
                }
                return pos + 2;
            }
            if pos >= bytes.len() {
                self.note(AnomalyKind::HeadersNotTerminated, None);
                return bytes.len();
            }
            // The name's colon and the line end: the first ':' or LF of the line, then (after a
            // colon) the LF.
            let (colon, lf) = match text::find_either_from(b':', b'\n', bytes, pos) {
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
            let line = Line { start: pos, content_end, next, colon };
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

    /// The usual header line, `Name: value` and CR LF or LF, where the name ends at a colon
    /// within the line's first 24 bytes and neither starts nor ends with whitespace: split and
    /// added in one pass, with the words read while looking for the colon as the name's lookup
    /// key. Returns where the next line starts; `None`, having done nothing, for every other line
    /// (folds, the empty line, no colon, no line end, the header limit reached), which
    /// [`Message::read_headers`] then reads the general way. Either way gives the same result.
    #[inline(always)]
    fn usual_header_line(
        &mut self,
        bytes: &'a [u8],
        pos: usize,
        limits: ParseLimits,
        bare_lf: &mut bool,
    ) -> Option<usize> {
        if self.headers.len() >= limits.max_headers {
            return None;
        }
        let (colon, key) = scan_name(bytes, pos)?;
        let raw_name = bytes.get(pos..colon)?;
        // Nothing to trim: no SP or HTAB first (a fold) or last, and no CR or LF either end.
        let (&first, &last) = (raw_name.first()?, raw_name.last()?);
        if first <= b' ' || last <= b' ' {
            return None;
        }
        let lf = text::find_byte_from(b'\n', bytes, colon + 1)?;
        let content_end = if bytes.get(lf - 1) == Some(&b'\r') {
            lf - 1
        } else {
            *bare_lf = true;
            lf
        };
        let kind = match raw_name.len() {
            1 => HeaderName::from_compact(first),
            len => crate::header_name::lookup::find_key(&key, len),
        };
        let value_region = bytes.get(colon + 1..content_end)?;
        let value = match value_region {
            // One SP after the colon, nothing to trim at the end.
            [b' ', second, .., last] if *second > b' ' && *last > b' ' => &value_region[1..],
            _ => trimmed_value(value_region),
        };
        let line = bytes.get(pos..lf + 1)?;
        let index = self.headers.len();
        if kind == HeaderName::Other {
            self.check_unknown_name(raw_name, index);
        }
        self.add_header(Header { name: raw_name, value, line, kind }, index);
        Some(lf + 1)
    }

    #[inline(always)]
    fn push_header_line(&mut self, bytes: &'a [u8], line: Line, limits: ParseLimits) {
        let Line { start: pos, content_end, next, colon } = line;
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
        let header = match colon {
            Some(colon) => {
                let name = text::trim(&bytes[pos..colon]);
                let value = trimmed_value(&bytes[colon + 1..content_end]);
                let kind = HeaderName::parse(name);
                if kind == HeaderName::Other {
                    self.check_unknown_name(name, index);
                }
                Header { name, value, line: &bytes[pos..next], kind }
            }
            None => {
                self.note(AnomalyKind::HeaderWithoutColon, Some(index));
                Header {
                    name: content,
                    value: &content[content.len()..],
                    line: &bytes[pos..next],
                    kind: HeaderName::Other,
                }
            }
        };
        self.add_header(header, index);
    }

    /// Known names are tokens by construction: only unknown ones are checked.
    fn check_unknown_name(&mut self, name: &[u8], index: usize) {
        if !text::is_token(name) {
            self.note(AnomalyKind::InvalidHeaderName, Some(index));
        } else if HeaderName::resembles(name).is_some() {
            self.note(AnomalyKind::UnknownHeaderResembles, Some(index));
        }
    }

    /// Indexes and keeps the header at `index` (the next position).
    #[inline(always)]
    fn add_header(&mut self, header: Header<'a>, index: usize) {
        if header.kind != HeaderName::Other {
            let slot = &mut self.first[header.kind as usize];
            if *slot == 0 {
                *slot = index as u16 + 1;
            } else if header.kind.is_single_valued() && header.kind != HeaderName::ContentLength {
                self.note(AnomalyKind::DuplicateSingleValueHeader, Some(index));
            }
        }
        self.headers.push(header);
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
}

/// A value without the whitespace around it; an empty value is the empty span at its end.
fn trimmed_value(region: &[u8]) -> &[u8] {
    let value = text::trim(region);
    if value.is_empty() {
        &region[region.len()..]
    } else {
        value
    }
}

/// Finds the name's colon in the 24 bytes at `pos`, eight at a time, and returns it with the
/// bytes before it as a name key ([`crate::header_name::lookup::name_key`]: zero-padded words).
/// `None` when an LF comes first or neither is among the 24 bytes.
#[inline(always)]
fn scan_name(bytes: &[u8], pos: usize) -> Option<(usize, [u64; 3])> {
    let rest = bytes.get(pos..)?;
    match rest.first_chunk::<24>() {
        Some(chunk) => scan_name_chunk(chunk, pos),
        None => scan_name_near_end(rest, pos),
    }
}

/// [`scan_name`] near the end of the input (the last header line of a message without a body):
/// the bytes left as zero-padded words, and zero bytes are neither ':' nor LF.
#[cold]
fn scan_name_near_end(rest: &[u8], pos: usize) -> Option<(usize, [u64; 3])> {
    if rest.first().is_none_or(|&b| b <= b' ') {
        // The empty line, or a line the general way reads anyway.
        return None;
    }
    scan_name_words(crate::header_name::lookup::name_key(rest), pos)
}

#[inline(always)]
fn scan_name_chunk(chunk: &[u8; 24], pos: usize) -> Option<(usize, [u64; 3])> {
    let (w0, rest) = chunk.split_first_chunk::<8>()?;
    let (w1, w2) = rest.split_first_chunk::<8>()?;
    let w2 = w2.first_chunk::<8>()?;
    scan_name_words([u64::from_le_bytes(*w0), u64::from_le_bytes(*w1), u64::from_le_bytes(*w2)], pos)
}

#[inline(always)]
fn scan_name_words(words: [u64; 3], pos: usize) -> Option<(usize, [u64; 3])> {
    // For the first ':' or LF in `w`: its offset (8 if none), whether it is the colon, and the
    // bytes of `w` before it, zero-padded. Each search is exact up to its first match, so the
    // lower of the two is the first of either.
    let stop = |w: u64| {
        let colon = text::first_match_bits(w, b':');
        let either = colon | text::first_match_bits(w, b'\n');
        let lowest = either & either.wrapping_neg();
        // `lowest` is bit 7 of the stop byte: shifted down to bit 0 of it, minus one, it masks
        // the bytes before.
        (either.trailing_zeros() / 8, colon & lowest != 0, w & ((lowest >> 7).wrapping_sub(1)))
    };
    let (n, is_colon, before) = stop(words[0]);
    if n < 8 {
        return is_colon.then_some((pos + n as usize, [before, 0, 0]));
    }
    let (n, is_colon, before) = stop(words[1]);
    if n < 8 {
        return is_colon.then_some((pos + 8 + n as usize, [words[0], before, 0]));
    }
    let (n, is_colon, before) = stop(words[2]);
    if n < 8 {
        return is_colon.then_some((pos + 16 + n as usize, [words[0], words[1], before]));
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
