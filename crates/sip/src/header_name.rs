//! Header names: canonical forms, IANA compact forms, and case-insensitive lookup.

macro_rules! header_names {
    ($( $variant:ident = $canonical:literal / $lower:literal $(, compact $compact:literal)? $(, single $single:ident)?; )*) => {
        /// A header name sipscope knows. Anything else is [`HeaderName::Other`] and keeps its
        /// raw spelling in [`crate::Header::name`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( #[doc = $canonical] $variant, )*
            /// A name not in the table (extension headers, typos).
            Other,
        }

        impl HeaderName {
            /// Every known name, in declaration order.
            pub const KNOWN: &'static [HeaderName] = &[ $( HeaderName::$variant, )* ];
            /// Number of known names (the size of a per-name index).
            pub const COUNT: usize = HeaderName::KNOWN.len();

            /// The canonical spelling (`Call-ID`, `WWW-Authenticate`); `""` for `Other`.
            pub const fn canonical(self) -> &'static str {
                match self { $( HeaderName::$variant => $canonical, )* HeaderName::Other => "" }
            }

            /// The IANA compact form, if the header has one.
            pub const fn compact(self) -> Option<u8> {
                match self { $( $( HeaderName::$variant => Some($compact), )? )* _ => None }
            }

            /// True when RFC 3261 allows at most one instance of the header.
            pub const fn is_single_valued(self) -> bool {
                match self { $( $( HeaderName::$variant => $single, )? )* _ => false }
            }

            fn from_long_name(name: &[u8]) -> HeaderName {
                // Lower-case into a stack buffer, then one `match` on byte strings: the compiler
                // turns it into a switch on length and a few comparisons. This runs once per
                // header line of every message.
                let mut buf = [0u8; MAX_NAME_LEN];
                let Some(lower) = buf.get_mut(..name.len()) else { return HeaderName::Other };
                for (dst, src) in lower.iter_mut().zip(name) {
                    *dst = src.to_ascii_lowercase();
                }
                match &*lower {
                    $( $lower => HeaderName::$variant, )*
                    _ => HeaderName::Other,
                }
            }
        }
    };
}

// The most frequent names first: within a length bucket they are tried in this order.
header_names! {
    Via = "Via" / b"via", compact b'v';
    From = "From" / b"from", compact b'f', single true;
    To = "To" / b"to", compact b't', single true;
    CallId = "Call-ID" / b"call-id", compact b'i', single true;
    CSeq = "CSeq" / b"cseq", single true;
    Contact = "Contact" / b"contact", compact b'm';
    MaxForwards = "Max-Forwards" / b"max-forwards", single true;
    ContentLength = "Content-Length" / b"content-length", compact b'l', single true;
    ContentType = "Content-Type" / b"content-type", compact b'c', single true;
    UserAgent = "User-Agent" / b"user-agent", single true;
    Server = "Server" / b"server", single true;
    Expires = "Expires" / b"expires", single true;
    Allow = "Allow" / b"allow";
    Supported = "Supported" / b"supported", compact b'k';
    Accept = "Accept" / b"accept";
    Authorization = "Authorization" / b"authorization";
    ProxyAuthorization = "Proxy-Authorization" / b"proxy-authorization";
    WwwAuthenticate = "WWW-Authenticate" / b"www-authenticate";
    ProxyAuthenticate = "Proxy-Authenticate" / b"proxy-authenticate";
    Date = "Date" / b"date", single true;
    Route = "Route" / b"route";
    RecordRoute = "Record-Route" / b"record-route";
    AcceptContact = "Accept-Contact" / b"accept-contact", compact b'a';
    AcceptEncoding = "Accept-Encoding" / b"accept-encoding";
    AcceptLanguage = "Accept-Language" / b"accept-language";
    AlertInfo = "Alert-Info" / b"alert-info";
    AllowEvents = "Allow-Events" / b"allow-events", compact b'u';
    AuthenticationInfo = "Authentication-Info" / b"authentication-info";
    CallInfo = "Call-Info" / b"call-info";
    ContentDisposition = "Content-Disposition" / b"content-disposition";
    ContentEncoding = "Content-Encoding" / b"content-encoding", compact b'e';
    ContentLanguage = "Content-Language" / b"content-language";
    ErrorInfo = "Error-Info" / b"error-info";
    Event = "Event" / b"event", compact b'o';
    Identity = "Identity" / b"identity", compact b'y';
    IdentityInfo = "Identity-Info" / b"identity-info", compact b'n';
    InReplyTo = "In-Reply-To" / b"in-reply-to";
    MimeVersion = "MIME-Version" / b"mime-version", single true;
    MinExpires = "Min-Expires" / b"min-expires", single true;
    Organization = "Organization" / b"organization", single true;
    PAssertedIdentity = "P-Asserted-Identity" / b"p-asserted-identity";
    PPreferredIdentity = "P-Preferred-Identity" / b"p-preferred-identity";
    Priority = "Priority" / b"priority", single true;
    Privacy = "Privacy" / b"privacy";
    ProxyRequire = "Proxy-Require" / b"proxy-require";
    RAck = "RAck" / b"rack", single true;
    Reason = "Reason" / b"reason";
    ReferTo = "Refer-To" / b"refer-to", compact b'r', single true;
    ReferredBy = "Referred-By" / b"referred-by", compact b'b', single true;
    RejectContact = "Reject-Contact" / b"reject-contact", compact b'j';
    RemotePartyId = "Remote-Party-ID" / b"remote-party-id";
    ReplyTo = "Reply-To" / b"reply-to", single true;
    RequestDisposition = "Request-Disposition" / b"request-disposition", compact b'd';
    Require = "Require" / b"require";
    RetryAfter = "Retry-After" / b"retry-after", single true;
    RSeq = "RSeq" / b"rseq", single true;
    SessionExpires = "Session-Expires" / b"session-expires", compact b'x', single true;
    Subject = "Subject" / b"subject", compact b's', single true;
    SubscriptionState = "Subscription-State" / b"subscription-state", single true;
    Timestamp = "Timestamp" / b"timestamp", single true;
    Unsupported = "Unsupported" / b"unsupported";
    Warning = "Warning" / b"warning";
}

/// The longest canonical name (`Request-Disposition`, `P-Preferred-Identity`).
const MAX_NAME_LEN: usize = 24;

impl HeaderName {
    /// Resolves a raw header name (any case, full or compact form). Surrounding whitespace must
    /// already be trimmed.
    pub fn parse(raw: &[u8]) -> HeaderName {
        match raw.len() {
            0 => HeaderName::Other,
            1 => HeaderName::from_compact(raw[0]),
            _ => HeaderName::from_long_name(raw),
        }
    }

    /// Resolves a compact form (`i`, `m`, `v` …), any case.
    pub fn from_compact(letter: u8) -> HeaderName {
        match letter.to_ascii_lowercase() {
            b'a' => HeaderName::AcceptContact,
            b'b' => HeaderName::ReferredBy,
            b'c' => HeaderName::ContentType,
            b'd' => HeaderName::RequestDisposition,
            b'e' => HeaderName::ContentEncoding,
            b'f' => HeaderName::From,
            b'i' => HeaderName::CallId,
            b'j' => HeaderName::RejectContact,
            b'k' => HeaderName::Supported,
            b'l' => HeaderName::ContentLength,
            b'm' => HeaderName::Contact,
            b'n' => HeaderName::IdentityInfo,
            b'o' => HeaderName::Event,
            b'r' => HeaderName::ReferTo,
            b's' => HeaderName::Subject,
            b't' => HeaderName::To,
            b'u' => HeaderName::AllowEvents,
            b'v' => HeaderName::Via,
            b'x' => HeaderName::SessionExpires,
            b'y' => HeaderName::Identity,
            _ => HeaderName::Other,
        }
    }

    /// For an unknown name, the known name it most likely misspells (`content-lnegth` →
    /// `Content-Length`): at most one edit for names under eight bytes, two for longer ones,
    /// counting a swap of neighbours as one edit.
    pub fn resembles(raw: &[u8]) -> Option<HeaderName> {
        if raw.len() < 4 || raw.len() > 40 {
            return None;
        }
        let limit = if raw.len() < 8 { 1 } else { 2 };
        let mut best: Option<(usize, HeaderName)> = None;
        for &known in HeaderName::KNOWN {
            let canonical = known.canonical().as_bytes();
            if canonical.len().abs_diff(raw.len()) > limit {
                continue;
            }
            let distance = edit_distance(raw, canonical);
            if distance > 0 && distance <= limit && best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, known));
            }
        }
        best.map(|(_, name)| name)
    }
}

/// Optimal-string-alignment distance, ASCII case-insensitive. Both inputs are at most 40 bytes
/// (the caller checks), so the rows live on the stack.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    const MAX: usize = 48;
    let (n, m) = (a.len(), b.len());
    debug_assert!(n < MAX && m < MAX);
    let mut prev2 = [0usize; MAX];
    let mut prev = [0usize; MAX];
    let mut cur = [0usize; MAX];
    for (j, slot) in prev.iter_mut().enumerate().take(m + 1) {
        *slot = j;
    }
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(!a[i - 1].eq_ignore_ascii_case(&b[j - 1]));
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1].eq_ignore_ascii_case(&b[j - 2]) && a[i - 2].eq_ignore_ascii_case(&b[j - 1]) {
                best = best.min(prev2[j - 2] + 1);
            }
            cur[j] = best;
        }
        prev2 = prev;
        prev = cur;
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_iana_compact_form_resolves() {
        let expected = [
            (b'a', "Accept-Contact"),
            (b'b', "Referred-By"),
            (b'c', "Content-Type"),
            (b'd', "Request-Disposition"),
            (b'e', "Content-Encoding"),
            (b'f', "From"),
            (b'i', "Call-ID"),
            (b'j', "Reject-Contact"),
            (b'k', "Supported"),
            (b'l', "Content-Length"),
            (b'm', "Contact"),
            (b'n', "Identity-Info"),
            (b'o', "Event"),
            (b'r', "Refer-To"),
            (b's', "Subject"),
            (b't', "To"),
            (b'u', "Allow-Events"),
            (b'v', "Via"),
            (b'x', "Session-Expires"),
            (b'y', "Identity"),
        ];
        for (letter, canonical) in expected {
            let name = HeaderName::parse(&[letter]);
            assert_eq!(name.canonical(), canonical);
            assert_eq!(HeaderName::parse(&[letter.to_ascii_uppercase()]), name);
            assert_eq!(name.compact(), Some(letter));
        }
        assert_eq!(HeaderName::parse(b"q"), HeaderName::Other);
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(HeaderName::parse(b"MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::parse(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse(b"www-authenticate"), HeaderName::WwwAuthenticate);
        assert_eq!(HeaderName::parse(b"X-Custom"), HeaderName::Other);
        assert_eq!(HeaderName::COUNT, HeaderName::KNOWN.len());
        assert!(HeaderName::KNOWN.iter().all(|n| n.canonical().len() <= MAX_NAME_LEN));
        for &known in HeaderName::KNOWN {
            assert_eq!(HeaderName::parse(known.canonical().as_bytes()), known);
            assert_eq!(HeaderName::parse(known.canonical().to_lowercase().as_bytes()), known);
        }
    }

    #[test]
    fn misspellings_resemble_known_names() {
        assert_eq!(HeaderName::resembles(b"content-lnegth"), Some(HeaderName::ContentLength));
        assert_eq!(HeaderName::resembles(b"Usr-Agent"), Some(HeaderName::UserAgent));
        assert_eq!(HeaderName::resembles(b"Contcat"), Some(HeaderName::Contact));
        assert_eq!(HeaderName::resembles(b"X-Serialnumber"), None);
        assert_eq!(HeaderName::resembles(b"NewFangledHeader"), None);
        assert_eq!(HeaderName::resembles(b"Via"), None);
    }
}
