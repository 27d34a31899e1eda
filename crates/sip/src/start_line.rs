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
