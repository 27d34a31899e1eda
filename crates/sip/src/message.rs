//! The parsed message: start line, headers in original order, body, anomalies.

use crate::anomaly::{Anomaly, AnomalyKind};
use crate::header_name::HeaderName;
use crate::start_line::StartLine;
use crate::text::{self, ListIter};
use crate::typed::{CSeq, NameAddr, Via};
use crate::uri::Uri;
use crate::validate::HeaderViews;

mod split;

/// One header line (with its continuation lines), exactly as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as written, without surrounding whitespace (`TO`, `i`, `content-lnegth`).
    pub name: &'a [u8],
    /// The value from its first non-whitespace byte to its last, folds included.
    pub value: &'a [u8],
    /// The whole line(s), line endings included.
    pub line: &'a [u8],
    /// The canonical name.
    pub kind: HeaderName,
}

/// How the message was framed: it decides what happens to bytes beyond Content-Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// A datagram holds exactly one message: Content-Length may be absent, and bytes beyond it
    /// are reported (RFC 3261 §18.3).
    #[default]
    Datagram,
    /// A message already framed from a stream by [`crate::framing::frame`].
    Stream,
}

/// Limits that keep hostile input from costing unbounded work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Headers kept per message; further lines still count toward the raw bytes but are not
    /// indexed (an anomaly is not raised: the raw message keeps them).
    pub max_headers: usize,
    /// How far into the input a start line is searched for past junk.
    pub max_junk: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_headers: 256, max_junk: 1024 }
    }
}

/// Input that cannot be a SIP message at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Zero bytes, or only whitespace (keep-alives).
    #[error("empty input (no bytes other than whitespace)")]
    Empty,
    /// No line in the first bytes looks like a request line or a status line.
    #[error("not a SIP message: no request line or status line in the first {searched} bytes")]
    NoStartLine {
        /// Bytes searched.
        searched: usize,
    },
}

/// A parsed SIP message borrowing the bytes it was parsed from.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) junk: &'a [u8],
    pub(crate) start_line_raw: &'a [u8],
    pub(crate) start: StartLine<'a>,
    pub(crate) headers: Vec<Header<'a>>,
    /// Position + 1 of the first header of each known name (0: absent).
    pub(crate) first: [u16; HeaderName::COUNT],
    pub(crate) body: &'a [u8],
    pub(crate) trailing: &'a [u8],
    /// Anomalies found while splitting the message (start line, lines, lengths).
    pub(crate) structural: Vec<Anomaly>,
    /// `structural` plus what [`crate::validate`] finds in the header values, computed on the
    /// first call to [`Message::anomalies`]: parsing stays cheap for callers that only route.
    pub(crate) all_anomalies: std::sync::OnceLock<Vec<Anomaly>>,
    /// The start line and header section (up to the empty line).
    pub(crate) head: &'a [u8],
}

/// Parses a datagram's worth of bytes with default limits.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, ParseError> {
    Message::parse_with(bytes, Framing::Datagram, ParseLimits::default())
}

impl<'a> Message<'a> {
    /// Parses `bytes` as one message.
    pub fn parse_with(bytes: &'a [u8], framing: Framing, mut limits: ParseLimits) -> Result<Message<'a>, ParseError> {
        // Header positions are indexed as u16.
        limits.max_headers = limits.max_headers.min(usize::from(u16::MAX) - 1);
        let (junk_end, line_end, line, start) = split::find_start_line(bytes, limits.max_junk)?;
        let mut msg = Message {
            raw: bytes,
            junk: &bytes[..junk_end],
            start_line_raw: line,
            start: StartLine::Request { method: &[], uri: &[], version: &[] },
            headers: Vec::with_capacity(16),
            first: [0; HeaderName::COUNT],
            body: &[],
            trailing: &[],
            structural: Vec::new(),
            all_anomalies: std::sync::OnceLock::new(),
            head: &[],
        };
        let mut start_defects = start.1;
        msg.start = start.0;
        if !msg.junk.iter().all(|&b| b == b'\r' || b == b'\n') {
            start_defects.push(AnomalyKind::JunkBeforeStartLine);
        }
        for kind in start_defects {
            msg.note(kind, None);
        }
        let header_end = msg.read_headers(bytes, line_end, limits);
        msg.head = &bytes[junk_end..header_end];
        msg.read_body(bytes, header_end, framing);
        Ok(msg)
    }

    pub(crate) fn note(&mut self, kind: AnomalyKind, header: Option<usize>) {
        push_unique(&mut self.structural, kind, header);
    }

    pub(crate) fn first_index(&self, kind: HeaderName) -> Option<usize> {
        match self.first[kind as usize] {
            0 => None,
            n => Some(usize::from(n) - 1),
        }
    }

    // ---- accessors ----

    /// Every byte this message was parsed from (junk, message, body and trailing bytes).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Bytes before the start line (CRLF keep-alives or junk).
    pub fn junk(&self) -> &'a [u8] {
        self.junk
    }

    /// The start line and the header section as received, up to the empty line (without
    /// the junk before the start line): every header's name, value and line lies inside it.
    pub fn head(&self) -> &'a [u8] {
        self.head
    }

    /// The start line as written, without its line ending.
    pub fn start_line_raw(&self) -> &'a [u8] {
        self.start_line_raw
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, for requests.
    pub fn method(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written, for requests.
    pub fn request_uri_raw(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The parsed Request-URI (`<>` around it tolerated), when it parses.
    pub fn request_uri(&self) -> Option<Uri<'a>> {
        let raw = self.request_uri_raw()?;
        let raw = raw.strip_prefix(b"<").and_then(|r| r.strip_suffix(b">")).unwrap_or(raw);
        Uri::parse(raw).ok()
    }

    /// The status code, for responses (when it is a number).
    pub fn status(&self) -> Option<u32> {
        match self.start {
            StartLine::Response { code, .. } => code,
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase, for responses.
    pub fn reason(&self) -> Option<&'a [u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// All headers in the order received.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The first header of a known name.
    pub fn header(&self, kind: HeaderName) -> Option<&Header<'a>> {
        self.first_index(kind).map(|i| &self.headers[i])
    }

    /// The value of the first header of a known name.
    pub fn value(&self, kind: HeaderName) -> Option<&'a [u8]> {
        self.header(kind).map(|h| h.value)
    }

    /// Every header of a known name, in order.
    pub fn headers_of(&self, kind: HeaderName) -> impl Iterator<Item = &Header<'a>> + '_ {
        let start = self.first_index(kind).unwrap_or(self.headers.len());
        self.headers[start..].iter().filter(move |h| h.kind == kind)
    }

    /// Headers by raw name, case-insensitive, for names sipscope does not know.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Header<'a>> + 's {
        let kind = HeaderName::parse(name.as_bytes());
        self.headers.iter().filter(move |h| {
            if kind == HeaderName::Other {
                h.name.eq_ignore_ascii_case(name.as_bytes())
            } else {
                h.kind == kind
            }
        })
    }

    /// The comma-separated elements of every header of a list-valued kind (Via, Contact,
    /// Route, Allow, Supported …), in order.
    pub fn list_values(&self, kind: HeaderName) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.headers_of(kind).flat_map(|h| ListIter::new(h.value)).filter(|v| !v.is_empty())
    }

    /// Call-ID value.
    pub fn call_id(&self) -> Option<&'a [u8]> {
        self.value(HeaderName::CallId)
    }

    /// CSeq, when it parses.
    pub fn cseq(&self) -> Option<CSeq<'a>> {
        self.value(HeaderName::CSeq).and_then(CSeq::parse)
    }

    /// From.
    pub fn from(&self) -> Option<NameAddr<'a>> {
        self.value(HeaderName::From).map(NameAddr::parse)
    }

    /// To.
    pub fn to(&self) -> Option<NameAddr<'a>> {
        self.value(HeaderName::To).map(NameAddr::parse)
    }

    /// Every Via hop, top first (hops that do not parse are skipped).
    pub fn vias(&self) -> impl Iterator<Item = Via<'a>> + '_ {
        self.list_values(HeaderName::Via).filter_map(Via::parse)
    }

    /// Contacts; a `*` contact is reported by [`Message::contact_is_star`] instead.
    pub fn contacts(&self) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        self.list_values(HeaderName::Contact).filter(|v| *v != b"*").map(NameAddr::parse)
    }

    /// The first of [`Message::contacts`].
    pub fn contact(&self) -> Option<NameAddr<'a>> {
        self.contacts().next()
    }

    /// True for `Contact: *` (a REGISTER removing all bindings).
    pub fn contact_is_star(&self) -> bool {
        self.list_values(HeaderName::Contact).any(|v| v == b"*")
    }

    /// Max-Forwards, when it is a number.
    pub fn max_forwards(&self) -> Option<u64> {
        self.number(HeaderName::MaxForwards)
    }

    /// Expires header, when it is a number.
    pub fn expires(&self) -> Option<u64> {
        self.number(HeaderName::Expires)
    }

    /// Content-Length, when it is a number (exactly as the body was cut: no comments).
    pub fn content_length(&self) -> Option<u64> {
        text::parse_u64(text::trim(self.value(HeaderName::ContentLength)?))
    }

    fn number(&self, kind: HeaderName) -> Option<u64> {
        match crate::typed::scalar::leading_number(self.value(kind)?) {
            text::Number::Value(v) => Some(v),
            _ => None,
        }
    }

    /// User-Agent value.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.value(HeaderName::UserAgent)
    }

    /// Server value.
    pub fn server(&self) -> Option<&'a [u8]> {
        self.value(HeaderName::Server)
    }

    /// Content-Type value.
    pub fn content_type(&self) -> Option<&'a [u8]> {
        self.value(HeaderName::ContentType)
    }

    /// The methods listed in Allow headers.
    pub fn allow(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.list_values(HeaderName::Allow)
    }

    /// The option tags listed in Supported headers.
    pub fn supported(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.list_values(HeaderName::Supported)
    }

    /// Digest credentials from Authorization (or, failing that, Proxy-Authorization), when the
    /// value has a scheme; its defects are in [`crate::digest::Credentials::defects`].
    pub fn credentials(&self) -> Option<crate::digest::Credentials<'a>> {
        let value = self.value(HeaderName::Authorization).or_else(|| self.value(HeaderName::ProxyAuthorization))?;
        crate::digest::Credentials::parse(value).ok()
    }

    /// The challenge of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate).
    pub fn challenge(&self) -> Option<crate::digest::Challenge<'a>> {
        crate::digest::Challenge::parse(self.challenge_value()?).ok()
    }

    /// One param of the challenge: `self.challenge()?.param(name)`, without parsing the rest
    /// ([`Challenge::param_of`](crate::digest::Challenge::param_of)).
    pub fn challenge_param(&self, name: &[u8]) -> Option<crate::digest::Param<'a>> {
        crate::digest::Challenge::param_of(self.challenge_value()?, name)
    }

    /// The challenge's header value: `WWW-Authenticate`, else `Proxy-Authenticate`.
    fn challenge_value(&self) -> Option<&'a [u8]> {
        self.value(HeaderName::WwwAuthenticate).or_else(|| self.value(HeaderName::ProxyAuthenticate))
    }

    /// Date value.
    pub fn date(&self) -> Option<&'a [u8]> {
        self.value(HeaderName::Date)
    }

    /// The body (as much of it as Content-Length declares and the input holds).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Bytes after the declared body (datagrams only).
    pub fn trailing(&self) -> &'a [u8] {
        self.trailing
    }

    /// Every anomaly of the message: those found while splitting it, then those found in the
    /// header values (checked on the first call, then kept).
    pub fn anomalies(&self) -> &[Anomaly] {
        self.all_anomalies
            .get_or_init(|| self.with_structural(crate::validate::validate(self, &mut HeaderViews::default())))
    }

    /// Runs the checks of the header values (those [`Message::anomalies`] runs on its first
    /// call, keeping what they find) and returns the typed views they parsed on the way: From,
    /// To, the first Contact (and whether one is `*`), CSeq, the Request-URI and the
    /// credentials, exactly what the accessors of those names return, without parsing them a
    /// second time. On a message whose checks have already run, the views are taken from those
    /// accessors instead.
    pub fn check_views(&self) -> HeaderViews<'a> {
        if self.all_anomalies.get().is_some() {
            return HeaderViews::parse(self);
        }
        let mut views = HeaderViews::default();
        let found = crate::validate::validate(self, &mut views);
        // Another thread may have checked the same message meanwhile: its list is the same.
        let _ = self.all_anomalies.set(self.with_structural(found));
        views
    }

    /// The split's anomalies followed by `found`, each (kind, header) once.
    fn with_structural(&self, found: crate::validate::Found) -> Vec<Anomaly> {
        let mut all = self.structural.clone();
        for (kind, header) in found {
            push_unique(&mut all, kind, header);
        }
        all
    }

    /// True when an anomaly of this kind was found.
    pub fn has_anomaly(&self, kind: AnomalyKind) -> bool {
        self.anomalies().iter().any(|a| a.kind == kind)
    }

    /// True when any anomaly is forbidden by RFC 3261 (see [`AnomalyKind::forbidden_by_rfc3261`]).
    pub fn violates_rfc3261(&self) -> bool {
        self.anomalies().iter().any(|a| a.kind.forbidden_by_rfc3261())
    }
}

/// One entry per (kind, header): a header with ten empty parameters is one defect.
fn push_unique(list: &mut Vec<Anomaly>, kind: AnomalyKind, header: Option<usize>) {
    let anomaly = Anomaly { kind, header: header.and_then(|h| u16::try_from(h).ok()) };
    if !list.contains(&anomaly) {
        list.push(anomaly);
    }
}
