//! The fields of a SIP message that the store indexes and reports group by, extracted once
//! per event. Attacker bytes become text losslessly: valid UTF-8 as is, each byte of an invalid
//! sequence as `\xNN` (the convention of `docs/parse-output.md`).

use sipscope_sip::typed::NameAddr;
use sipscope_sip::{HeaderViews, Message, StartLine, Uri};

/// The Request-URI and the To header of a message as [`SipFields::extract_noting`] parsed them
/// (`None`: not parsed; `Some(None)`: absent or unparsable), handed on so that the rules, which
/// read the same two on the same thread, do not parse them again. Each is exactly what
/// `Message::request_uri` and `Message::to` return.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parsed<'a> {
    /// `msg.request_uri()`, when parsed.
    pub request_uri: Option<Option<Uri<'a>>>,
    /// `msg.to()`, when parsed.
    pub to: Option<Option<NameAddr<'a>>>,
}

impl<'a> Parsed<'a> {
    /// The Request-URI: the one parsed already, else `msg`'s.
    pub fn request_uri(&self, msg: &Message<'a>) -> Option<Uri<'a>> {
        self.request_uri.unwrap_or_else(|| msg.request_uri())
    }

    /// The To header: the one parsed already, else `msg`'s.
    pub fn to(&self, msg: &Message<'a>) -> Option<NameAddr<'a>> {
        self.to.unwrap_or_else(|| msg.to())
    }
}

/// Converts bytes to text without losing any: invalid UTF-8 bytes become `\xNN`.
pub fn lossless_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

/// Empty datagrams (nmap's probes) and CRLF keep-alives.
pub fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// The text of a message's fields: its head (start line and headers) checked as UTF-8 once,
/// so that a field inside it is cut from that text instead of checking its bytes again (a
/// check per field cost more than the copy). Anything else goes through [`lossless_text`].
struct Texts<'a> {
    head: &'a [u8],
    /// The head, when it is UTF-8 (else every field is converted on its own).
    head_text: Option<&'a str>,
}

impl<'a> Texts<'a> {
    fn new(msg: &Message<'a>) -> Texts<'a> {
        let head = msg.head();
        Texts { head, head_text: std::str::from_utf8(head).ok() }
    }

    /// `lossless_text(bytes)`.
    fn of(&self, bytes: &[u8]) -> FieldText {
        if let Some(head_text) = self.head_text {
            // Where `bytes` lies in the head, if it does: the same memory, so the same bytes.
            // `get` refuses a range outside the text or one that cuts a character.
            let start = (bytes.as_ptr() as usize).wrapping_sub(self.head.as_ptr() as usize);
            if let Some(text) = start.checked_add(bytes.len()).and_then(|end| head_text.get(start..end)) {
                debug_assert_eq!(text.as_bytes(), bytes);
                return FieldText::from(text);
            }
        }
        FieldText::from(lossless_text(bytes))
    }

    fn opt(&self, bytes: Option<&[u8]>) -> Option<FieldText> {
        bytes.map(|b| self.of(b))
    }
}

/// What a stored message is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A SIP request.
    Request,
    /// A SIP response.
    Response,
    /// Bytes that are not a SIP message (they are stored all the same by sources that keep
    /// everything they receive, such as the honeypot).
    #[default]
    Invalid,
    /// An empty datagram or CRLF keep-alive.
    Keepalive,
}

impl MessageKind {
    /// The lower-case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Request => "request",
            MessageKind::Response => "response",
            MessageKind::Invalid => "invalid",
            MessageKind::Keepalive => "keepalive",
        }
    }
}

/// The text of one field: inline up to 24 bytes (a method, a host, a tag, most user agents),
/// so that extracting a message's fields allocates for the long ones only. It reads as a `str`.
pub type FieldText = compact_str::CompactString;

/// What the store keeps next to the raw bytes of each message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipFields {
    /// Request, response, or not SIP.
    pub kind: MessageKind,
    /// Request method.
    pub method: Option<FieldText>,
    /// Status code (responses), when numeric and in range of u32.
    pub status: Option<u32>,
    /// Reason phrase.
    pub reason: Option<FieldText>,
    /// Request-URI as written.
    pub request_uri: Option<FieldText>,
    /// Request-URI user (the dialled number of an INVITE).
    pub ruri_user: Option<FieldText>,
    /// Request-URI host.
    pub ruri_host: Option<FieldText>,
    /// From user, host and tag.
    pub from: (Option<FieldText>, Option<FieldText>, Option<FieldText>),
    /// To user, host and tag.
    pub to: (Option<FieldText>, Option<FieldText>, Option<FieldText>),
    /// Call-ID.
    pub call_id: Option<FieldText>,
    /// CSeq number (when it fits in i64) and method.
    pub cseq: (Option<i64>, Option<FieldText>),
    /// User-Agent (requests) or Server (responses).
    pub user_agent: Option<FieldText>,
    /// First Contact URI (or `*`).
    pub contact: Option<FieldText>,
    /// Expires header.
    pub expires: Option<i64>,
    /// Digest credentials: username, realm, nonce, uri, response, algorithm, qop.
    pub auth: Option<AuthFields>,
    /// Anomaly names, space-separated, in the order found.
    pub anomalies: String,
}

/// Digest credentials as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthFields {
    /// username
    pub username: Option<FieldText>,
    /// realm
    pub realm: Option<FieldText>,
    /// nonce
    pub nonce: Option<FieldText>,
    /// digest uri
    pub uri: Option<FieldText>,
    /// response
    pub response: Option<FieldText>,
    /// algorithm as written
    pub algorithm: Option<FieldText>,
    /// qop as written
    pub qop: Option<FieldText>,
}

impl SipFields {
    /// Extracts the fields of a parsed message, its anomalies included.
    pub fn extract(msg: &Message<'_>) -> SipFields {
        let views = msg.check_views();
        SipFields::extract_noting(msg, Some(&views), &mut Parsed::default())
    }

    /// [`SipFields::extract`] of a message whose checks ran through `Message::check_views`
    /// (`checked`: the views they handed back, parsed once for the checks and the fields), or
    /// [`SipFields::extract_without_anomalies`] (`None`), noting in `parsed` the Request-URI and
    /// To header on the way. (An out-parameter: the fields are large, and a returned pair would
    /// be copied where they are built in place.)
    pub fn extract_noting<'a>(
        msg: &Message<'a>,
        checked: Option<&HeaderViews<'a>>,
        parsed: &mut Parsed<'a>,
    ) -> SipFields {
        match checked {
            Some(views) => {
                let anomalies = msg.anomalies().iter().map(|a| a.kind.name()).collect::<Vec<_>>().join(" ");
                SipFields { anomalies, ..SipFields::extract_unchecked(msg, views, parsed) }
            }
            None => SipFields::extract_unchecked(msg, &HeaderViews::parse(msg), parsed),
        }
    }

    /// The fields of bytes that may not be SIP: an empty datagram or CRLF keep-alive is a
    /// `keepalive`, bytes that do not parse are `invalid` with the parser's reason.
    pub fn of_bytes(bytes: &[u8], framing: sipscope_sip::Framing) -> SipFields {
        if is_blank(bytes) {
            return SipFields { kind: MessageKind::Keepalive, ..SipFields::default() };
        }
        match sipscope_sip::Message::parse_with(bytes, framing, sipscope_sip::ParseLimits::default()) {
            Ok(msg) => SipFields::extract(&msg),
            Err(e) => SipFields::invalid(&e),
        }
    }

    /// The fields of bytes that did not parse.
    pub fn invalid(error: &sipscope_sip::ParseError) -> SipFields {
        SipFields { kind: MessageKind::Invalid, reason: Some(error.to_string().into()), ..SipFields::default() }
    }

    /// The fields without the anomaly check (the costliest part): for messages sipscope wrote
    /// itself, such as the honeypot's answers.
    pub fn extract_without_anomalies(msg: &Message<'_>) -> SipFields {
        SipFields::extract_noting(msg, None, &mut Parsed::default())
    }

    fn extract_unchecked<'a>(msg: &Message<'a>, views: &HeaderViews<'a>, parsed: &mut Parsed<'a>) -> SipFields {
        let mut f = SipFields::default();
        let t = Texts::new(msg);
        match *msg.start_line() {
            StartLine::Request { method, uri, .. } => {
                f.kind = MessageKind::Request;
                f.method = Some(t.of(method));
                f.request_uri = Some(t.of(uri));
                let ruri = views.request_uri;
                parsed.request_uri = Some(ruri);
                if let Some(u) = ruri {
                    f.ruri_user = t.opt(u.user);
                    f.ruri_host = t.opt(Some(u.host).filter(|h| !h.is_empty()));
                }
                f.user_agent = t.opt(msg.user_agent());
            }
            StartLine::Response { code, reason, .. } => {
                f.kind = MessageKind::Response;
                f.status = code;
                f.reason = Some(t.of(reason));
                f.user_agent = t.opt(msg.server().or_else(|| msg.user_agent()));
            }
        }
        if let Some(from) = views.from {
            f.from = (t.opt(from.user()), t.opt(from.host()), t.opt(from.tag()));
        }
        let to = views.to;
        parsed.to = Some(to);
        if let Some(to) = to {
            f.to = (t.opt(to.user()), t.opt(to.host()), t.opt(to.tag()));
        }
        f.call_id = t.opt(msg.call_id());
        if let Some(c) = views.cseq {
            f.cseq = (c.seq.and_then(|n| i64::try_from(n).ok()), Some(t.of(c.method)));
        }
        f.contact = if views.contact_is_star {
            Some(FieldText::const_new("*"))
        } else {
            views.contact.map(|c| t.of(c.uri_raw))
        };
        f.expires = msg.expires().and_then(|e| i64::try_from(e).ok());
        if let Some(c) = &views.credentials {
            f.auth = Some(AuthFields {
                username: t.opt(c.username),
                realm: t.opt(c.realm),
                nonce: t.opt(c.nonce),
                uri: t.opt(c.uri),
                response: t.opt(c.response),
                algorithm: t.opt(c.param(b"algorithm").map(|p| p.value)),
                qop: t.opt(c.param(b"qop").map(|p| p.value)),
            });
        }
        f
    }
}

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_escaped() {
        assert_eq!(lossless_text(b"abc"), "abc");
        assert_eq!(lossless_text(b"a\xffb\xc3"), "a\\xffb\\xc3");
        assert_eq!(lossless_text("é".as_bytes()), "é");
    }

    #[test]
    fn register_with_credentials() {
        let raw = b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\nTo: \"100\" <sip:100@127.0.0.1>\r\nFrom: \"100\" <sip:100@127.0.0.1>;tag=ab\r\n\
User-Agent: friendly-scanner\r\nCall-ID: 393122520\r\nContact: sip:100@127.0.0.1\r\nCSeq: 2 REGISTER\r\n\
Content-Length: 0\r\nAuthorization: Digest username=\"100\",realm=\"asterisk\",nonce=\"142489a6\",\
uri=\"sip:127.0.0.1\",algorithm=MD5,qop=auth,response=\"3884ae4d3b2b00766879546accde02d7\"\r\n\r\n";
        let msg = sipscope_sip::parse(raw).unwrap();
        let f = SipFields::extract(&msg);
        assert_eq!(f.kind, MessageKind::Request);
        assert_eq!(f.method.as_deref(), Some("REGISTER"));
        assert_eq!(f.ruri_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(f.ruri_user, None);
        assert_eq!(f.from, (Some("100".into()), Some("127.0.0.1".into()), Some("ab".into())));
        assert_eq!(f.cseq, (Some(2), Some("REGISTER".into())));
        assert_eq!(f.user_agent.as_deref(), Some("friendly-scanner"));
        assert_eq!(f.contact.as_deref(), Some("sip:100@127.0.0.1"));
        let auth = f.auth.unwrap();
        assert_eq!(auth.username.as_deref(), Some("100"));
        assert_eq!(auth.qop.as_deref(), Some("auth"));
        assert_eq!(f.anomalies, "");
    }
}
