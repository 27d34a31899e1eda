//! Defects found in a message, as data with stable names.
//!
//! Attack traffic is malformed on purpose, so a defect never stops parsing: it is recorded here
//! and the message is still returned. Names are part of the output contract (JSON, the event
//! store, reports): never rename one, only add.

/// How serious an anomaly is with respect to RFC 3261.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnomalyClass {
    /// The bytes do not match RFC 3261's ABNF.
    Syntax,
    /// The syntax is fine but a rule of RFC 3261 (or a companion RFC) is broken: a mandatory
    /// header is missing, a value is out of range, two fields contradict each other.
    Protocol,
    /// Allowed, but worth knowing: trailing bytes, RFC 2543 leftovers, a header name that looks
    /// like a misspelling. Never counts as invalid.
    Notice,
}

macro_rules! anomalies {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, $class:ident; )*) => {
        /// Every kind of defect the parser can report. The snake_case [`AnomalyKind::name`] is
        /// stable.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AnomalyKind {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl AnomalyKind {
            /// All kinds, in declaration order (for documentation and tests).
            pub const ALL: &'static [AnomalyKind] = &[ $( AnomalyKind::$variant, )* ];

            /// The stable snake_case name.
            pub const fn name(self) -> &'static str {
                match self { $( AnomalyKind::$variant => $name, )* }
            }

            /// One-sentence description (the variant's documentation).
            pub const fn description(self) -> &'static str {
                match self { $( AnomalyKind::$variant => concat!($($doc),*), )* }
            }

            /// How serious the defect is.
            pub const fn class(self) -> AnomalyClass {
                match self { $( AnomalyKind::$variant => AnomalyClass::$class, )* }
            }

            /// Looks a kind up by its stable name.
            pub fn from_name(name: &str) -> Option<AnomalyKind> {
                match name { $( $name => Some(AnomalyKind::$variant), )* _ => None }
            }
        }
    };
}

anomalies! {
    // --- framing and start line ---
    /// Bytes before the start line that are neither a start line nor the CRLF keep-alives
    /// RFC 3261 §7.5 allows.
    JunkBeforeStartLine = "junk_before_start_line", Syntax;
    /// The SIP-Version is not `SIP/2.0` (start line or Via).
    UnknownSipVersion = "unknown_sip_version", Syntax;
    /// A request line with method and URI but no SIP-Version.
    MissingSipVersion = "missing_sip_version", Syntax;
    /// The method is not a `token`.
    InvalidMethod = "invalid_method", Syntax;
    /// More than one SP (or a tab) between start-line elements.
    ExtraWhitespaceInStartLine = "extra_whitespace_in_start_line", Syntax;
    /// Whitespace after the SIP-Version at the end of the request line.
    TrailingWhitespaceInStartLine = "trailing_whitespace_in_start_line", Syntax;
    /// The Request-URI contains whitespace (so it spans several start-line tokens).
    WhitespaceInRequestUri = "whitespace_in_request_uri", Syntax;
    /// The Request-URI is enclosed in `<` `>`.
    AngleBracketsInRequestUri = "angle_brackets_in_request_uri", Syntax;
    /// The Request-URI carries `?headers`, which RFC 3261 §19.1.1 forbids there.
    HeadersInRequestUri = "headers_in_request_uri", Syntax;
    /// The status code is not three digits.
    InvalidStatusCode = "invalid_status_code", Syntax;
    /// The status code is numeric but outside 100–699.
    StatusCodeOutOfRange = "status_code_out_of_range", Syntax;
    /// A URI that could not be parsed (Request-URI or a header's URI).
    InvalidUri = "invalid_uri", Syntax;
    // --- header section ---
    /// A line ends in LF without CR.
    BareLfLineEnding = "bare_lf_line_ending", Syntax;
    /// A line ends in CR without LF.
    BareCrLineEnding = "bare_cr_line_ending", Syntax;
    /// The header section is not closed by an empty line.
    HeadersNotTerminated = "headers_not_terminated", Syntax;
    /// A header line has no colon.
    HeaderWithoutColon = "header_without_colon", Syntax;
    /// A header name is empty or contains non-token characters.
    InvalidHeaderName = "invalid_header_name", Syntax;
    /// Bytes in the start line or headers that are not valid UTF-8.
    NonUtf8Bytes = "non_utf8_bytes", Syntax;
    /// Control characters (other than HTAB) in the start line or a header value outside a
    /// quoted string.
    ControlCharacters = "control_characters", Syntax;
    /// An unknown header name that is one or two edits away from a known one
    /// (`content-lnegth`): a tool's typo, and a fingerprint.
    UnknownHeaderResembles = "unknown_header_resembles", Notice;
    /// A header that RFC 3261 allows once appears more than once.
    DuplicateSingleValueHeader = "duplicate_single_value_header", Protocol;
    /// A header whose value is empty although its grammar requires a value.
    EmptyHeaderValue = "empty_header_value", Syntax;
    /// An empty element in a comma-separated list (`a,,b`).
    EmptyListElement = "empty_list_element", Syntax;
    /// An empty `;` parameter (`;;`).
    EmptyParameter = "empty_parameter", Syntax;
    /// A quoted string without its closing quote.
    UnterminatedQuotedString = "unterminated_quoted_string", Syntax;
    /// A `<` without `>`.
    UnterminatedAngleBracket = "unterminated_angle_bracket", Syntax;
    // --- mandatory headers ---
    /// No Call-ID header.
    MissingCallId = "missing_call_id", Protocol;
    /// No CSeq header.
    MissingCseq = "missing_cseq", Protocol;
    /// No From header.
    MissingFrom = "missing_from", Protocol;
    /// No To header.
    MissingTo = "missing_to", Protocol;
    /// No Via header.
    MissingVia = "missing_via", Protocol;
    /// A request without Max-Forwards (RFC 3261 §8.1.1.6; RFC 2543 had none).
    MissingMaxForwards = "missing_max_forwards", Notice;
    /// The From header has no tag (RFC 3261 §8.1.1.3; RFC 2543 clients omit it).
    MissingFromTag = "missing_from_tag", Notice;
    // --- typed headers ---
    /// CSeq is not `number method`.
    InvalidCseq = "invalid_cseq", Syntax;
    /// CSeq number above 2**31 - 1.
    CseqNumberOutOfRange = "cseq_number_out_of_range", Protocol;
    /// The CSeq method differs from the request method.
    CseqMethodMismatch = "cseq_method_mismatch", Protocol;
    /// Content-Length is not a number.
    InvalidContentLength = "invalid_content_length", Syntax;
    /// Content-Length is negative.
    NegativeContentLength = "negative_content_length", Syntax;
    /// Content-Length says more bytes than the message has.
    ContentLengthExceedsBody = "content_length_exceeds_body", Protocol;
    /// Several Content-Length headers with different values.
    ConflictingContentLength = "conflicting_content_length", Protocol;
    /// Bytes after the body that Content-Length declares (a datagram carries more).
    TrailingBytesAfterBody = "trailing_bytes_after_body", Notice;
    /// Max-Forwards is not a number.
    InvalidMaxForwards = "invalid_max_forwards", Syntax;
    /// Max-Forwards above 255.
    MaxForwardsOutOfRange = "max_forwards_out_of_range", Protocol;
    /// Expires (header or Contact parameter) is not a number.
    InvalidExpires = "invalid_expires", Syntax;
    /// Expires above 2**32 - 1.
    ExpiresOutOfRange = "expires_out_of_range", Protocol;
    /// Retry-After above 2**32 - 1 or not a number.
    RetryAfterOutOfRange = "retry_after_out_of_range", Protocol;
    /// A Warning code that is not three digits.
    InvalidWarning = "invalid_warning", Syntax;
    /// Date is not an RFC 1123 date in GMT.
    InvalidDate = "invalid_date", Syntax;
    /// Whitespace inside `<` `>` around or within the URI of a name-addr.
    WhitespaceInAddrSpec = "whitespace_in_addr_spec", Syntax;
    /// A display name that is neither a quoted string nor a sequence of tokens.
    InvalidDisplayName = "invalid_display_name", Syntax;
    /// A URI with `,`, `;` or `?` that is not in `<` `>` where RFC 3261 §20 requires it.
    AddrSpecNeedsAngleBrackets = "addr_spec_needs_angle_brackets", Syntax;
    /// A Via value that is not `SIP/2.0/transport sent-by`.
    InvalidVia = "invalid_via", Syntax;
    /// A Via without a branch parameter, or whose branch is only the magic cookie.
    MissingViaBranch = "missing_via_branch", Notice;
    /// A Via branch without the RFC 3261 magic cookie `z9hG4bK`.
    Rfc2543Branch = "rfc2543_branch", Notice;
    /// An IPv6 address without `[` `]` in a URI or Via sent-by (SIPVicious writes `::1:5061`).
    UnbracketedIpv6 = "unbracketed_ipv6", Syntax;
    /// A port number above 65535 or not a number.
    InvalidPort = "invalid_port", Syntax;
    /// A Contact of `*` mixed with other values, or `*` outside REGISTER.
    InvalidContactStar = "invalid_contact_star", Protocol;
    /// Authorization / Proxy-Authorization credentials that cannot be read as digest.
    MalformedCredentials = "malformed_credentials", Syntax;
    // --- body ---
    /// The body has a Content-Type of SDP but lines that are not `x=value`.
    MalformedSdp = "malformed_sdp", Notice;
    /// A message with a body but without Content-Type.
    BodyWithoutContentType = "body_without_content_type", Protocol;
}

impl AnomalyKind {
    /// True when RFC 3261 forbids what the anomaly describes (syntax or protocol rule).
    /// `sipscope parse --strict` fails on these.
    pub const fn forbidden_by_rfc3261(self) -> bool {
        !matches!(self.class(), AnomalyClass::Notice)
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One anomaly found in a message: what, and in which header (by its position in
/// [`crate::Message::headers`]), when it belongs to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Anomaly {
    /// What is wrong.
    pub kind: AnomalyKind,
    /// Index of the header it was found in, if any.
    pub header: Option<u16>,
}

impl Anomaly {
    /// An anomaly of the message as a whole.
    pub const fn message(kind: AnomalyKind) -> Anomaly {
        Anomaly { kind, header: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in AnomalyKind::ALL {
            let name = kind.name();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert_eq!(AnomalyKind::from_name(name), Some(*kind));
        }
        assert_eq!(AnomalyKind::from_name("no_such_anomaly"), None);
    }

    #[test]
    fn notices_are_not_violations() {
        assert!(!AnomalyKind::TrailingBytesAfterBody.forbidden_by_rfc3261());
        assert!(AnomalyKind::CseqMethodMismatch.forbidden_by_rfc3261());
        assert!(AnomalyKind::UnknownSipVersion.forbidden_by_rfc3261());
    }
}
