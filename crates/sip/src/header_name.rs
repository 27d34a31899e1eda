//! Header names: canonical forms, IANA compact forms, and case-insensitive lookup.

macro_rules! header_names {
    ($( $variant:ident = $canonical:literal $(, compact $compact:literal)? $(, single $single:ident)?; )*) => {
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

            fn from_lowercase(name: &[u8]) -> HeaderName {
                $( if name.len() == $canonical.len() && lower_eq(name, $canonical) {
                    return HeaderName::$variant;
                } )*
                HeaderName::Other
            }
        }
    };
}

// Keep the most frequent names first: `from_lowercase` tries them in order (after a length
// check that rejects most candidates in one comparison).
header_names! {
    Via = "Via", compact b'v';
    From = "From", compact b'f', single true;
    To = "To", compact b't', single true;
    CallId = "Call-ID", compact b'i', single true;
    CSeq = "CSeq", single true;
    Contact = "Contact", compact b'm';
    MaxForwards = "Max-Forwards", single true;
    ContentLength = "Content-Length", compact b'l', single true;
    ContentType = "Content-Type", compact b'c', single true;
    UserAgent = "User-Agent", single true;
    Server = "Server", single true;
    Expires = "Expires", single true;
    Allow = "Allow";
    Supported = "Supported", compact b'k';
    Accept = "Accept";
    Authorization = "Authorization";
    ProxyAuthorization = "Proxy-Authorization";
    WwwAuthenticate = "WWW-Authenticate";
    ProxyAuthenticate = "Proxy-Authenticate";
    Date = "Date", single true;
    Route = "Route";
    RecordRoute = "Record-Route";
    AcceptContact = "Accept-Contact", compact b'a';
    AcceptEncoding = "Accept-Encoding";
    AcceptLanguage = "Accept-Language";
    AlertInfo = "Alert-Info";
    AllowEvents = "Allow-Events", compact b'u';
    AuthenticationInfo = "Authentication-Info";
    CallInfo = "Call-Info";
    ContentDisposition = "Content-Disposition";
    ContentEncoding = "Content-Encoding", compact b'e';
    ContentLanguage = "Content-Language";
    ErrorInfo = "Error-Info";
    Event = "Event", compact b'o';
    Identity = "Identity", compact b'y';
    IdentityInfo = "Identity-Info", compact b'n';
    InReplyTo = "In-Reply-To";
    MimeVersion = "MIME-Version", single true;
    MinExpires = "Min-Expires", single true;
    Organization = "Organization", single true;
    PAssertedIdentity = "P-Asserted-Identity";
    PPreferredIdentity = "P-Preferred-Identity";
    Priority = "Priority", single true;
    Privacy = "Privacy";
    ProxyRequire = "Proxy-Require";
    RAck = "RAck", single true;
    Reason = "Reason";
    ReferTo = "Refer-To", compact b'r', single true;
    ReferredBy = "Referred-By", compact b'b', single true;
    RejectContact = "Reject-Contact", compact b'j';
    RemotePartyId = "Remote-Party-ID";
    ReplyTo = "Reply-To", single true;
    RequestDisposition = "Request-Disposition", compact b'd';
    Require = "Require";
    RetryAfter = "Retry-After", single true;
    RSeq = "RSeq", single true;
    SessionExpires = "Session-Expires", compact b'x', single true;
    Subject = "Subject", compact b's', single true;
    SubscriptionState = "Subscription-State", single true;
    Timestamp = "Timestamp", single true;
    Unsupported = "Unsupported";
    Warning = "Warning";
}

/// `a` (any case) equals `canonical` ignoring ASCII case.
#[inline]
fn lower_eq(a: &[u8], canonical: &str) -> bool {
    a.eq_ignore_ascii_case(canonical.as_bytes())
}

impl HeaderName {
    /// Resolves a raw header name (any case, full or compact form). Surrounding whitespace must
    /// already be trimmed.
    pub fn parse(raw: &[u8]) -> HeaderName {
        if raw.len() == 1 {
            return HeaderName::from_compact(raw[0]);
        }
        HeaderName::from_lowercase(raw)
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
