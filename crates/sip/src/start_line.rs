//! Request lines and status lines.

use crate::anomaly::AnomalyKind;
use crate::text;

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        /// The method as written (any token: RFC 3261 allows extension methods).
        method: &'a [u8],
        /// The Request-URI as written: from the first byte after the method's whitespace to the
        /// last byte before the version's (so embedded whitespace is kept).
        uri: &'a [u8],
        /// The version as written (`SIP/2.0`).
        version: &'a [u8],
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Response {
        /// The version as written.
        version: &'a [u8],
        /// The status code when it is a number that fits in u32.
        code: Option<u32>,
        /// The status code as written.
        code_raw: &'a [u8],
        /// The reason phrase (may be empty, may be any UTF-8 or not).
        reason: &'a [u8],
    },
}

fn is_version(token: &[u8]) -> bool {
    token.len() >= 4 && token[..4].eq_ignore_ascii_case(b"SIP/")
}

fn is_sp(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

/// Reads a start line (without its line ending). `None` when the line is not recognisable as
/// either form; otherwise the line and the defects found in it.
pub fn parse_start_line<'a>(line: &'a [u8], report: &mut dyn FnMut(AnomalyKind)) -> Option<StartLine<'a>> {
    match well_formed_request(line).or_else(|| well_formed_status(line)) {
        Some(start) => Some(start),
        None => parse_any_start_line(line, report),
    }
}

/// [`parse_start_line`] without the shortcuts: every form, every defect.
fn parse_any_start_line<'a>(line: &'a [u8], report: &mut dyn FnMut(AnomalyKind)) -> Option<StartLine<'a>> {
    let first_end = line.iter().position(is_sp).unwrap_or(line.len());
    let first = &line[..first_end];
    if first.is_empty() {
        return None;
    }
    if is_version(first) {
        return parse_status_line(line, first, first_end, report);
    }
    // Request line: the version is the last whitespace-separated token.
    let trimmed_end = line.iter().rposition(|b| !is_sp(b)).map_or(0, |p| p + 1);
    let body = &line[..trimmed_end];
    let version_start = body.iter().rposition(is_sp).map(|p| p + 1)?;
    let version = &body[version_start..];
    if !is_version(version) || version_start <= first_end {
        return parse_versionless_request(line, first, first_end, report);
    }
    let uri_region = &body[first_end..version_start];
    let uri = text::trim(uri_region);
    if uri.is_empty() {
        return None;
    }
    if trimmed_end != line.len() {
        report(AnomalyKind::TrailingWhitespaceInStartLine);
    }
    // Exactly one SP on each side of the URI.
    if uri_region.len() != uri.len() + 2 || uri_region[0] != b' ' || uri_region[uri_region.len() - 1] != b' ' {
        report(AnomalyKind::ExtraWhitespaceInStartLine);
    }
    if uri.iter().any(|&b| text::is_lws(b)) {
        report(AnomalyKind::WhitespaceInRequestUri);
    }
    if !text::is_token(first) {
        report(AnomalyKind::InvalidMethod);
    }
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        report(AnomalyKind::UnknownSipVersion);
    }
    Some(StartLine::Request { method: first, uri, version })
}

/// The usual request line, `METHOD SP Request-URI SP SIP/2.0` with a token method and no
/// whitespace or control byte in the URI, read in one pass. `Some` only where the general parser
/// below returns the same request with no defect, so it is a shortcut and never a second rule.
fn well_formed_request(line: &[u8]) -> Option<StartLine<'_>> {
    let (rest, version) = line.split_last_chunk::<8>()?;
    if version != b" SIP/2.0" {
        return None;
    }
    // A token cannot hold SP, HTAB or `/`: the method ends at the first SP and is no version.
    let method_end = rest.iter().position(|&b| !text::is_token_char(b))?;
    if method_end == 0 || rest.get(method_end) != Some(&b' ') {
        return None;
    }
    let uri = rest.get(method_end + 1..)?;
    if uri.is_empty() || text::has_space_or_control(uri) {
        return None;
    }
    Some(StartLine::Request { method: &rest[..method_end], uri, version: &version[1..] })
}

/// The usual status line, `SIP/2.0 SP 3DIGIT` (100 to 699) and then nothing or one SP/HTAB and the
/// reason phrase; like [`well_formed_request`], only where the general parser finds no defect.
fn well_formed_status(line: &[u8]) -> Option<StartLine<'_>> {
    let (head, rest) = line.split_first_chunk::<11>()?;
    let (version, code_raw) = head.split_at(7);
    let [b' ', hundreds @ b'1'..=b'6', tens @ b'0'..=b'9', units @ b'0'..=b'9'] = *code_raw else {
        return None;
    };
    if version != b"SIP/2.0" {
        return None;
    }
    let reason: &[u8] = match rest {
        [] => &[],
        [b' ' | b'\t', reason @ ..] => reason,
        _ => return None,
    };
    let digit = |d: u8| u32::from(d - b'0');
    let code = digit(hundreds) * 100 + digit(tens) * 10 + digit(units);
    Some(StartLine::Response { version, code: Some(code), code_raw: &code_raw[1..], reason })
}

/// `METHOD uri` with no version (seen in the wild and in the RFC 4475 archive's `test.dat`):
/// still a request when the method is an upper-case token and the URI has a scheme.
fn parse_versionless_request<'a>(
    line: &'a [u8],
    method: &'a [u8],
    method_end: usize,
    report: &mut dyn FnMut(AnomalyKind),
) -> Option<StartLine<'a>> {
    let uri = text::trim(&line[method_end..]);
    let scheme_end = crate::text::find_byte(b':', uri)?;
    let plausible = method.iter().all(|b| b.is_ascii_uppercase() || *b == b'-')
        && scheme_end > 0
        && uri[..scheme_end].iter().all(u8::is_ascii_alphabetic)
        && !uri.iter().any(|&b| text::is_lws(b));
    if !plausible {
        return None;
    }
    report(AnomalyKind::MissingSipVersion);
    Some(StartLine::Request { method, uri, version: &[] })
}

fn parse_status_line<'a>(
    line: &'a [u8],
    version: &'a [u8],
    version_end: usize,
    report: &mut dyn FnMut(AnomalyKind),
) -> Option<StartLine<'a>> {
    let rest = &line[version_end..];
    let code_start = rest.iter().position(|b| !is_sp(b))?;
    if code_start != 1 || rest[0] != b' ' {
        report(AnomalyKind::ExtraWhitespaceInStartLine);
    }
    let after = &rest[code_start..];
    let code_end = after.iter().position(is_sp).unwrap_or(after.len());
    let code_raw = &after[..code_end];
    // The reason phrase is everything after the single SP that follows the code.
    let reason = after.get(code_end + 1..).unwrap_or(&[]);
    let code = text::parse_u64(code_raw).and_then(|c| u32::try_from(c).ok());
    if !code_raw.iter().all(u8::is_ascii_digit) {
        report(AnomalyKind::InvalidStatusCode);
    } else if code_raw.len() != 3 || !(100..=699).contains(&code.unwrap_or(0)) {
        report(AnomalyKind::StatusCodeOutOfRange);
    }
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        report(AnomalyKind::UnknownSipVersion);
    }
    Some(StartLine::Response { version, code, code_raw, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> (Option<StartLine<'_>>, Vec<AnomalyKind>) {
        let mut found = Vec::new();
        let sl = parse_start_line(line, &mut |k| found.push(k));
        (sl, found)
    }

    #[test]
    fn request_lines() {
        let (sl, defects) = parse(b"OPTIONS sip:100@192.0.2.1 SIP/2.0");
        assert_eq!(sl, Some(StartLine::Request { method: b"OPTIONS", uri: b"sip:100@192.0.2.1", version: b"SIP/2.0" }));
        assert!(defects.is_empty());
        let (_, d) = parse(b"INVITE  sip:user@example.com  SIP/2.0");
        assert_eq!(d, vec![AnomalyKind::ExtraWhitespaceInStartLine]);
        let (_, d) = parse(b"OPTIONS sip:remote-target@example.com SIP/2.0  ");
        assert_eq!(d, vec![AnomalyKind::TrailingWhitespaceInStartLine]);
        let (sl, d) = parse(b"INVITE sip:user@example.com; lr SIP/2.0");
        assert_eq!(d, vec![AnomalyKind::WhitespaceInRequestUri]);
        assert!(matches!(sl, Some(StartLine::Request { uri: b"sip:user@example.com; lr", .. })));
        let (_, d) = parse(b"OPTIONS sip:t.watson@example.org SIP/7.0");
        assert_eq!(d, vec![AnomalyKind::UnknownSipVersion]);
    }

    #[test]
    fn status_lines() {
        let (sl, d) = parse(b"SIP/2.0 100 ");
        assert_eq!(
            sl,
            Some(StartLine::Response { version: b"SIP/2.0", code: Some(100), code_raw: b"100", reason: b"" })
        );
        assert!(d.is_empty());
        let (sl, d) = parse(b"SIP/2.0 4294967301 better not break the receiver");
        assert_eq!(d, vec![AnomalyKind::StatusCodeOutOfRange]);
        assert!(matches!(sl, Some(StartLine::Response { code: None, .. })));
        let (_, d) = parse(b"SIP/2.0 OK fine");
        assert_eq!(d, vec![AnomalyKind::InvalidStatusCode]);
        let (sl, _) = parse(b"SIP/2.0 200");
        assert!(matches!(sl, Some(StartLine::Response { code: Some(200), reason: b"", .. })));
    }

    /// The shortcuts for well-formed lines agree with the general parser on every line, and
    /// take the lines they were written for.
    #[test]
    fn shortcuts_agree_with_the_general_parser() {
        fn general(line: &[u8]) -> (Option<StartLine<'_>>, Vec<AnomalyKind>) {
            let mut found = Vec::new();
            (parse_any_start_line(line, &mut |k| found.push(k)), found)
        }
        for line in [
            &b"INVITE sip:00972592777777@203.0.113.10 SIP/2.0"[..],
            b"SIP/2.0 200 OK",
            b"SIP/2.0 401 Unauthorized",
            b"SIP/2.0 180",
        ] {
            assert!(well_formed_request(line).or_else(|| well_formed_status(line)).is_some());
            assert_eq!(parse(line), general(line));
        }
        // Lines built slot by slot from near misses of both forms, so that many take a shortcut.
        let methods: [&[u8]; 8] = [b"INVITE", b"OPTIONS", b"", b"SIP/2.0", b"IN VITE", b"reg\x00", b"A/B", b"x"];
        let seps: [&[u8]; 6] = [b" ", b" ", b"  ", b"\t", b"", b" \r"];
        let uris: [&[u8]; 7] = [b"sip:a@b", b"sip:a@b;lr", b"<sip:x>", b"sip:a b", b"", b"\xff", b"sip:\n"];
        let versions: [&[u8]; 6] = [b"SIP/2.0", b"SIP/2.0", b"sip/2.0", b"SIP/2.00", b"SIP/", b"HTTP/1.1"];
        let codes: [&[u8]; 8] = [b"200", b"180", b"699", b"099", b"700", b"6000", b"20", b"2x0"];
        let reasons: [&[u8]; 5] = [b"OK", b"", b"Not Found", b" spaced ", b"\x00"];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut pick = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..100_000 {
            let slots: [&[u8]; 5] = if pick(2) == 0 {
                [methods[pick(8)], seps[pick(6)], uris[pick(7)], seps[pick(6)], versions[pick(6)]]
            } else {
                [versions[pick(6)], seps[pick(6)], codes[pick(8)], seps[pick(6)], reasons[pick(5)]]
            };
            let line = slots.concat();
            assert_eq!(parse(&line), general(&line), "{:?}", String::from_utf8_lossy(&line));
        }
    }

    #[test]
    fn not_start_lines() {
        assert_eq!(parse(b"GET / HTTP/1.1").0, None);
        assert_eq!(parse(b"").0, None);
        assert_eq!(parse(b"SIP/2.0").0, None);
        assert_eq!(parse(b"hello").0, None);
        assert_eq!(parse(b"INVITE SIP/2.0").0, None);
        assert_eq!(parse(b"GET /index.html").0, None);
        let (sl, d) = parse(b"INVITE sip:alan@jasomi.com");
        assert!(matches!(sl, Some(StartLine::Request { version: b"", .. })));
        assert_eq!(d, vec![AnomalyKind::MissingSipVersion]);
        assert_eq!(parse(b"   SIP/2.0").0, None);
    }
}
