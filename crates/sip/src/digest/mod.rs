//! Sans-IO HTTP/SIP Digest authentication (RFC 2617, RFC 7616 subset).
//!
//! * [`Challenge`] / [`Credentials`] parse `WWW-Authenticate` /
//!   `Proxy-Authenticate` and `Authorization` / `Proxy-Authorization`
//!   header values. Parsing is zero-copy and lenient: it never panics and
//!   records what was wrong as [`DigestDefect`]s instead of failing, because
//!   attack tools send all sorts of broken headers and we want to analyse
//!   them, not reject them.
//! * [`ChallengeSpec`] / [`CredentialsSpec`] build header values.
//! * [`ha1`], [`ha2`], [`response`], [`verify`] and [`PreparedCredentials`]
//!   compute and check MD5 / MD5-sess responses with qop `auth` or none.
//!
//! Nothing here reads a clock or a random source: nonces and cnonces are
//! supplied by the caller, so everything is deterministic and testable.

mod challenge;
mod compute;
mod credentials;
mod params;
mod verify;

#[cfg(test)]
mod tests;

pub use challenge::{Challenge, ChallengeSpec};
pub use compute::{ha1, ha2, response, Unsupported};
pub use credentials::{ClientQop, Credentials, CredentialsSpec};
pub use params::Param;
pub use verify::{response_for_password, verify, PreparedCredentials, Verification, VerifyError};

/// Why a header value could not be parsed at all, or a builder refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DigestError {
    /// The value is empty or only whitespace.
    #[error("empty authentication header value")]
    Empty,
    /// The value does not start with an auth-scheme token.
    #[error("authentication header value has no scheme token")]
    NoScheme,
    /// A builder was asked for something this module cannot compute.
    #[error("cannot build credentials: {0}")]
    Unsupported(Unsupported),
    /// A session algorithm (MD5-sess) needs `qop` so there is a cnonce.
    #[error("MD5-sess credentials need qop and a cnonce")]
    SessionWithoutQop,
}

/// A problem found while parsing a header value. Parsing goes on after
/// each one; the list is deduplicated (each kind appears at most once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
#[non_exhaustive]
pub enum DigestDefect {
    /// A quoted string ran to the end of the value without a closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuotedString,
    /// A parameter without `=`, with an empty name, or stray bytes.
    #[error("malformed parameter")]
    MalformedParameter,
    /// Two parameters were separated by whitespace only.
    #[error("missing comma between parameters")]
    MissingComma,
    /// The same parameter name occurs more than once (the first one wins).
    #[error("duplicate parameter")]
    DuplicateParameter,
    /// More parameters than [`MAX_PARAMS`]; the rest were ignored.
    #[error("too many parameters")]
    TooManyParameters,
    /// The scheme is not `Digest`.
    #[error("unknown authentication scheme")]
    UnknownScheme,
    /// No `username` parameter in credentials.
    #[error("missing username")]
    MissingUsername,
    /// No `realm` parameter.
    #[error("missing realm")]
    MissingRealm,
    /// No `nonce` parameter.
    #[error("missing nonce")]
    MissingNonce,
    /// No `uri` parameter in credentials.
    #[error("missing uri")]
    MissingUri,
    /// No `response` parameter in credentials.
    #[error("missing response")]
    MissingResponse,
    /// `qop` is present (or MD5-sess is used) but `cnonce` is not.
    #[error("missing cnonce")]
    MissingCnonce,
    /// `qop` is present but `nc` is not.
    #[error("missing nc")]
    MissingNc,
    /// `nc` is not exactly 8 hex digits.
    #[error("nonce count is not 8 hex digits")]
    BadNc,
    /// `response` is not exactly 32 hex digits.
    #[error("response is not 32 hex digits")]
    ResponseNotHex32,
}

/// Upper bound on parameters kept per header value. Real headers have about
/// ten; the cap bounds memory and the quadratic duplicate check on hostile
/// input.
pub const MAX_PARAMS: usize = 64;

impl DigestDefect {
    /// Every defect, in declaration order (handy for counters and reports).
    pub const ALL: &'static [DigestDefect] = &[
        Self::UnterminatedQuotedString,
        Self::MalformedParameter,
        Self::MissingComma,
        Self::DuplicateParameter,
        Self::TooManyParameters,
        Self::UnknownScheme,
        Self::MissingUsername,
        Self::MissingRealm,
        Self::MissingNonce,
        Self::MissingUri,
        Self::MissingResponse,
        Self::MissingCnonce,
        Self::MissingNc,
        Self::BadNc,
        Self::ResponseNotHex32,
    ];

    /// Stable snake_case identifier, suitable for metrics and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnterminatedQuotedString => "unterminated_quoted_string",
            Self::MalformedParameter => "malformed_parameter",
            Self::MissingComma => "missing_comma",
            Self::DuplicateParameter => "duplicate_parameter",
            Self::TooManyParameters => "too_many_parameters",
            Self::UnknownScheme => "unknown_scheme",
            Self::MissingUsername => "missing_username",
            Self::MissingRealm => "missing_realm",
            Self::MissingNonce => "missing_nonce",
            Self::MissingUri => "missing_uri",
            Self::MissingResponse => "missing_response",
            Self::MissingCnonce => "missing_cnonce",
            Self::MissingNc => "missing_nc",
            Self::BadNc => "bad_nc",
            Self::ResponseNotHex32 => "response_not_hex32",
        }
    }
}

/// A digest `algorithm` token. Unknown tokens are kept verbatim so that
/// analysis can report what a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm<'a> {
    /// `MD5` (also the default when the parameter is absent).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (recognised, not computed).
    Sha256,
    /// `SHA-256-sess` (recognised, not computed).
    Sha256Sess,
    /// `SHA-512-256` (recognised, not computed).
    Sha512_256,
    /// `SHA-512-256-sess` (recognised, not computed).
    Sha512_256Sess,
    /// Anything else, as it appeared (quotes removed).
    Other(&'a [u8]),
}

impl<'a> Algorithm<'a> {
    /// Classifies a token, ASCII case-insensitively.
    pub fn parse(token: &'a [u8]) -> Self {
        const KNOWN: [(&[u8], Algorithm<'static>); 6] = [
            (b"MD5", Algorithm::Md5),
            (b"MD5-sess", Algorithm::Md5Sess),
            (b"SHA-256", Algorithm::Sha256),
            (b"SHA-256-sess", Algorithm::Sha256Sess),
            (b"SHA-512-256", Algorithm::Sha512_256),
            (b"SHA-512-256-sess", Algorithm::Sha512_256Sess),
        ];
        KNOWN.iter().find(|(name, _)| name.eq_ignore_ascii_case(token)).map_or(Algorithm::Other(token), |&(_, alg)| alg)
    }

    /// The token to put on the wire (canonical spelling for known ones).
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Self::Md5 => b"MD5",
            Self::Md5Sess => b"MD5-sess",
            Self::Sha256 => b"SHA-256",
            Self::Sha256Sess => b"SHA-256-sess",
            Self::Sha512_256 => b"SHA-512-256",
            Self::Sha512_256Sess => b"SHA-512-256-sess",
            Self::Other(token) => token,
        }
    }

    /// Whether this module can compute responses for it (MD5 family only).
    pub fn is_supported(&self) -> bool {
        matches!(self, Self::Md5 | Self::Md5Sess)
    }

    /// Whether HA1 is the session variant (`-sess`).
    pub fn is_session(&self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess)
    }
}

/// One quality-of-protection token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop<'a> {
    /// `auth`.
    Auth,
    /// `auth-int` (recognised, not computed: it needs the message body).
    AuthInt,
    /// Anything else, verbatim.
    Other(&'a [u8]),
}

impl<'a> Qop<'a> {
    /// Classifies a token, ASCII case-insensitively.
    pub fn parse(token: &'a [u8]) -> Self {
        if token.eq_ignore_ascii_case(b"auth") {
            Self::Auth
        } else if token.eq_ignore_ascii_case(b"auth-int") {
            Self::AuthInt
        } else {
            Self::Other(token)
        }
    }

    /// The token to put on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Self::Auth => b"auth",
            Self::AuthInt => b"auth-int",
            Self::Other(token) => token,
        }
    }
}
