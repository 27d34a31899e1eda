//! Checks that need the whole message: mandatory headers, typed values, cross-field rules.
//! Every defect becomes an [`AnomalyKind`] on the message; nothing here rejects a message.
//! The typed views the checks parse on the way (From, To, the first Contact, CSeq, the
//! Request-URI, the credentials) are handed back with what they found ([`HeaderViews`],
//! `Message::check_views`), so that a caller who wants both parses the values once.

use crate::anomaly::AnomalyKind;
use crate::digest::Credentials;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::start_line::StartLine;
use crate::text::{self, ListIter, Number};
use crate::typed::scalar::{self, CSeq, DELTA_SECONDS_MAX};
use crate::typed::{NameAddr, Via};
use crate::uri::Uri;

/// Typed views of the headers the checks parse, each exactly what the accessor of the same name
/// returns (the parsers are the same; the checks also listen to the defects). From
/// [`Message::check_views`], or [`HeaderViews::parse`] for a message that is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderViews<'a> {
    /// [`Message::from`]: the first From header.
    pub from: Option<NameAddr<'a>>,
    /// [`Message::to`]: the first To header.
    pub to: Option<NameAddr<'a>>,
    /// [`Message::contact`]: the first Contact element that is not `*`.
    pub contact: Option<NameAddr<'a>>,
    /// [`Message::contact_is_star`]: a Contact element is `*`.
    pub contact_is_star: bool,
    /// [`Message::cseq`]: the first CSeq header, when it parses.
    pub cseq: Option<CSeq<'a>>,
    /// [`Message::request_uri`].
    pub request_uri: Option<Uri<'a>>,
    /// [`Message::credentials`]: the first Authorization header's, else the first
    /// Proxy-Authorization header's, when it parses.
    pub credentials: Option<Credentials<'a>>,
}

impl<'a> HeaderViews<'a> {
    /// The views through the accessors, without checking anything.
    pub fn parse(msg: &Message<'a>) -> HeaderViews<'a> {
        HeaderViews {
            from: msg.from(),
            to: msg.to(),
            contact: msg.contact(),
            contact_is_star: msg.contact_is_star(),
            cseq: msg.cseq(),
            request_uri: msg.request_uri(),
            credentials: msg.credentials(),
        }
    }
}

/// Checks the header values of a split message; returns what it found, in order, and sets
/// `views` (default when called) to the views it parsed. (An out-parameter: the views are
/// large, and returning them would copy them once more.)
pub(crate) fn validate<'a>(msg: &Message<'a>, views: &mut HeaderViews<'a>) -> Found {
    let mut found: Found = Vec::new();
    views.request_uri = check_start_line(msg, &mut found);
    check_text(msg, &mut found);
    check_mandatory(msg, &mut found);
    let first_authorization = msg.first_index(HeaderName::Authorization);
    let first_proxy_authorization = msg.first_index(HeaderName::ProxyAuthorization);
    let mut proxy_credentials = None;
    for (i, h) in msg.headers.iter().enumerate() {
        let mut report = |k: AnomalyKind| found.push((k, Some(i)));
        match h.kind {
            HeaderName::From | HeaderName::To => {
                let na = NameAddr::parse_checked(h.value, &mut report);
                if msg.first_index(h.kind) == Some(i) {
                    if h.kind == HeaderName::From {
                        if na.tag().is_none() {
                            report(AnomalyKind::MissingFromTag);
                        }
                        views.from = Some(na);
                    } else {
                        views.to = Some(na);
                    }
                }
            }
            HeaderName::Contact => check_contact(msg, h.value, &mut report, views),
            HeaderName::Route | HeaderName::RecordRoute => {
                check_list(h.value, &mut report, |v, r| {
                    NameAddr::parse_checked(v, r);
                });
            }
            HeaderName::Via => check_list(h.value, &mut report, |v, r| {
                Via::parse_checked(v, r);
            }),
            HeaderName::CSeq => {
                let cseq = check_cseq(msg, h.value, &mut report);
                if msg.first_index(HeaderName::CSeq) == Some(i) {
                    views.cseq = cseq;
                }
            }
            HeaderName::MaxForwards => match scalar::leading_number(h.value) {
                Number::Value(v) if v <= 255 => {}
                Number::Value(_) | Number::Overflow => report(AnomalyKind::MaxForwardsOutOfRange),
                Number::Invalid => report(AnomalyKind::InvalidMaxForwards),
            },
            HeaderName::Expires | HeaderName::MinExpires => match scalar::leading_number(h.value) {
                Number::Value(v) if v <= DELTA_SECONDS_MAX => {}
                Number::Value(_) | Number::Overflow => report(AnomalyKind::ExpiresOutOfRange),
                Number::Invalid => report(AnomalyKind::InvalidExpires),
            },
            HeaderName::RetryAfter => match scalar::leading_number(h.value) {
                Number::Value(v) if v <= DELTA_SECONDS_MAX => {}
                _ => report(AnomalyKind::RetryAfterOutOfRange),
            },
            HeaderName::Warning => check_list(h.value, &mut report, |v, r| {
                let code = v.split(|&b| b == b' ').next().unwrap_or(&[]);
                if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
                    r(AnomalyKind::InvalidWarning);
                }
            }),
            HeaderName::Date if !scalar::is_valid_sip_date(h.value) => report(AnomalyKind::InvalidDate),
            HeaderName::CallId if h.value.is_empty() => report(AnomalyKind::EmptyHeaderValue),
            HeaderName::Authorization | HeaderName::ProxyAuthorization => match Credentials::parse(h.value) {
                Err(_) => report(AnomalyKind::MalformedCredentials),
                Ok(creds) if Some(i) == first_authorization => views.credentials = Some(creds),
                Ok(creds) if Some(i) == first_proxy_authorization => proxy_credentials = Some(creds),
                Ok(_) => {}
            },
            _ => {}
        }
    }
    if first_authorization.is_none() {
        views.credentials = proxy_credentials;
    }
    if !msg.body.is_empty() && msg.first_index(HeaderName::ContentType).is_none() {
        found.push((AnomalyKind::BodyWithoutContentType, None));
    }
    if let Some(ct) = msg.content_type() {
        if is_sdp(ct) && !msg.body.is_empty() && !crate::sdp::Sdp::is_well_formed_body(msg.body) {
            found.push((AnomalyKind::MalformedSdp, None));
        }
    }
    found
}

fn is_sdp(content_type: &[u8]) -> bool {
    let ct = text::trim(content_type);
    let end = crate::text::find_byte(b';', ct).unwrap_or(ct.len());
    text::trim(&ct[..end]).eq_ignore_ascii_case(b"application/sdp")
}

pub(crate) type Found = Vec<(AnomalyKind, Option<usize>)>;

/// Checks the Request-URI; returns it parsed (as `Message::request_uri` does), when it parses.
fn check_start_line<'a>(msg: &Message<'a>, found: &mut Found) -> Option<Uri<'a>> {
    let StartLine::Request { uri, .. } = msg.start else {
        return None;
    };
    let bracketed = uri.strip_prefix(b"<").and_then(|u| u.strip_suffix(b">"));
    if bracketed.is_some() {
        found.push((AnomalyKind::AngleBracketsInRequestUri, None));
    }
    if uri.iter().any(|&b| text::is_lws(b)) {
        // Already reported as whitespace_in_request_uri; the URI cannot parse (`Uri::parse`
        // refuses whitespace).
        return None;
    }
    match Uri::parse(bracketed.unwrap_or(uri)) {
        Ok(parsed) => {
            if parsed.headers.is_some() {
                found.push((AnomalyKind::HeadersInRequestUri, None));
            } else if parsed.unbracketed_ipv6 {
                found.push((AnomalyKind::UnbracketedIpv6, None));
            }
            Some(parsed)
        }
        Err(_) => {
            found.push((AnomalyKind::InvalidUri, None));
            None
        }
    }
}

/// Non-UTF-8 bytes and stray control characters in the start line and header section. One
/// branch-free pass over the head decides whether any closer look is needed.
fn check_text(msg: &Message<'_>, found: &mut Found) {
    let (mut non_ascii, mut ctl) = (false, false);
    for chunk in msg.head.chunks(64) {
        non_ascii |= chunk.iter().fold(false, |acc, &b| acc | (b >= 0x80));
        ctl |= chunk.iter().fold(false, |acc, &b| acc | is_ctl(b));
    }
    if non_ascii && std::str::from_utf8(msg.head).is_err() {
        found.push((AnomalyKind::NonUtf8Bytes, None));
    }
    // A CR that does not start a CRLF inside the header section (header lines are split at LF).
    if has_bare_cr(msg.head) {
        found.push((AnomalyKind::BareCrLineEnding, None));
    }
    if !ctl {
        return;
    }
    if msg.start_line_raw.iter().any(|&b| is_ctl(b)) {
        found.push((AnomalyKind::ControlCharacters, None));
    }
    for (i, h) in msg.headers.iter().enumerate() {
        if !h.value.iter().any(|&b| is_ctl(b)) {
            continue;
        }
        // Quoted strings may carry controls as quoted-pairs (RFC 4475 `intmeth`); elsewhere
        // they are a defect.
        let mut in_quote = false;
        let mut j = 0;
        let v = h.value;
        while j < v.len() {
            match v[j] {
                b'"' => in_quote = !in_quote,
                b'\\' if in_quote => j += 1,
                b if is_ctl(b) && !in_quote => {
                    found.push((AnomalyKind::ControlCharacters, Some(i)));
                    break;
                }
                _ => {}
            }
            j += 1;
        }
    }
}

/// A control character other than HTAB, CR and LF, or DEL. Written with `&` and `|` on
/// booleans (no short-circuit) so that the folds over the head vectorise.
fn is_ctl(b: u8) -> bool {
    ((b < 0x20) & (b != b'\t') & (b != b'\r') & (b != b'\n')) | (b == 0x7f)
}

/// True when a CR is not followed by LF (or ends the bytes): one branch-free pass over the
/// pairs of bytes, then the last byte.
fn has_bare_cr(head: &[u8]) -> bool {
    let pairs = head.iter().zip(head.get(1..).unwrap_or_default());
    pairs.fold(false, |acc, (&b, &next)| acc | ((b == b'\r') & (next != b'\n'))) || head.last() == Some(&b'\r')
}

fn check_mandatory(msg: &Message<'_>, found: &mut Found) {
    let required = [
        (HeaderName::CallId, AnomalyKind::MissingCallId),
        (HeaderName::CSeq, AnomalyKind::MissingCseq),
        (HeaderName::From, AnomalyKind::MissingFrom),
        (HeaderName::To, AnomalyKind::MissingTo),
        (HeaderName::Via, AnomalyKind::MissingVia),
    ];
    for (kind, anomaly) in required {
        if msg.first_index(kind).is_none() {
            found.push((anomaly, None));
        }
    }
    if msg.is_request() && msg.first_index(HeaderName::MaxForwards).is_none() {
        found.push((AnomalyKind::MissingMaxForwards, None));
    }
}

fn check_list<'a>(
    value: &'a [u8],
    report: &mut dyn FnMut(AnomalyKind),
    mut each: impl FnMut(&'a [u8], &mut dyn FnMut(AnomalyKind)),
) {
    let mut items = ListIter::new(value);
    for item in items.by_ref() {
        if item.is_empty() {
            report(AnomalyKind::EmptyListElement);
        } else {
            each(item, report);
        }
    }
    if items.unterminated {
        report(AnomalyKind::UnterminatedQuotedString);
    }
}

/// Checks one Contact header; notes in `views` the first element that is not `*`, parsed,
/// when none was noted yet, and whether an element is `*`.
fn check_contact<'a>(
    msg: &Message<'a>,
    value: &'a [u8],
    report: &mut dyn FnMut(AnomalyKind),
    views: &mut HeaderViews<'a>,
) {
    let star = text::trim(value) == b"*";
    if star {
        // Its one element, `*`.
        views.contact_is_star = true;
        let is_register = msg.method().is_some_and(|m| m.eq_ignore_ascii_case(b"REGISTER"));
        if !is_register || msg.list_values(HeaderName::Contact).count() > 1 {
            report(AnomalyKind::InvalidContactStar);
        }
        return;
    }
    check_list(value, report, |v, r| {
        let na = NameAddr::parse_checked(v, r);
        if v == b"*" {
            views.contact_is_star = true;
        } else if views.contact.is_none() {
            views.contact = Some(na);
        }
        if let Some(exp) = na.param("expires") {
            match text::parse_number(exp) {
                Number::Value(e) if e <= DELTA_SECONDS_MAX => {}
                Number::Invalid => r(AnomalyKind::InvalidExpires),
                _ => r(AnomalyKind::ExpiresOutOfRange),
            }
        }
    });
}

/// Checks one CSeq header; returns it parsed, when it parses.
fn check_cseq<'a>(msg: &Message<'_>, value: &'a [u8], report: &mut dyn FnMut(AnomalyKind)) -> Option<CSeq<'a>> {
    let Some(cseq) = CSeq::parse(value) else {
        report(AnomalyKind::InvalidCseq);
        return None;
    };
    if !cseq.in_range() {
        report(AnomalyKind::CseqNumberOutOfRange);
    }
    if let Some(method) = msg.method() {
        if cseq.method != method {
            report(AnomalyKind::CseqMethodMismatch);
        }
    }
    Some(cseq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_those_of_the_rule() {
        for b in 0..=255u8 {
            let expected = (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f;
            assert_eq!(is_ctl(b), expected, "{b:#x}");
        }
    }

    proptest::proptest! {
        /// The pass over pairs finds what a search for every CR and a look at the next byte finds.
        #[test]
        fn bare_cr_as_by_search(head in proptest::collection::vec(proptest::sample::select(&b"\r\na"[..]), 0..40)) {
            let by_search = memchr::memchr_iter(b'\r', &head).any(|i| head.get(i + 1) != Some(&b'\n'));
            proptest::prop_assert_eq!(has_bare_cr(&head), by_search);
        }
    }
}
