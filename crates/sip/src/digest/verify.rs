//! Checking credentials against passwords: one-off [`verify`] and the
//! wordlist-friendly [`PreparedCredentials`].
//!
//! Values are hashed exactly as they appear between the quotes, escapes
//! included: attack tools and most SIP stacks format headers without
//! escaping, so a raw `\` in a username is part of what they hashed.

use std::fmt;

use md5::{Digest, Md5};

use super::compute::{decode_hex16, finish, ha2, md5_of, to_hex, Unsupported};
use super::{Credentials, DigestDefect, Qop};

/// Why credentials cannot be checked against a password at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum VerifyError {
    /// Well-formed, but outside what this module computes.
    #[error("unsupported: {0}")]
    Unsupported(Unsupported),
    /// A field needed for the computation is missing or unusable.
    #[error("malformed credentials: {0}")]
    Malformed(DigestDefect),
}

/// Outcome of [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The response matches the password.
    Ok,
    /// Computable, but the response does not match.
    WrongPassword,
    /// Outside what this module computes (algorithm, qop, scheme).
    Unsupported(Unsupported),
    /// Missing or unusable fields.
    Malformed(DigestDefect),
}

impl Verification {
    /// Whether the password matched.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }

    /// Stable snake_case identifier (the reason's name for the last two).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::WrongPassword => "wrong_password",
            Self::Unsupported(u) => u.name(),
            Self::Malformed(d) => d.name(),
        }
    }
}

impl From<VerifyError> for Verification {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::Unsupported(u) => Self::Unsupported(u),
            VerifyError::Malformed(d) => Self::Malformed(d),
        }
    }
}

/// A required credentials field, or the defect naming its absence.
fn need(value: Option<&[u8]>, missing: DigestDefect) -> Result<&[u8], VerifyError> {
    value.ok_or(VerifyError::Malformed(missing))
}

/// Compares without early exit so response checks leak no timing about
/// how many leading bytes matched.
fn ct_eq(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Checks credentials against a password for the given request method.
/// Realm, nonce freshness and username lookup are the caller's business.
pub fn verify(creds: &Credentials<'_>, method: &[u8], password: &[u8]) -> Verification {
    match PreparedCredentials::new(creds, method) {
        Ok(prepared) if prepared.matches(password) => Verification::Ok,
        Ok(_) => Verification::WrongPassword,
        Err(err) => err.into(),
    }
}

/// The response these credentials would carry for `password`, or `None`
/// when they cannot be computed (see [`PreparedCredentials::new`]).
pub fn response_for_password(
    creds: &Credentials<'_>,
    method: &[u8],
    password: &[u8],
) -> Option<[u8; 32]> {
    PreparedCredentials::new(creds, method)
        .ok()
        .map(|p| p.response(password))
}

/// Credentials with everything password-independent precomputed, for
/// testing many candidate passwords (wordlist recovery). Per candidate it
/// costs two or three MD5 runs and no allocation.
#[derive(Clone)]
pub struct PreparedCredentials {
    /// MD5 state that has already absorbed `username:realm:`.
    ha1_prefix: Md5,
    /// `:nonce:cnonce` for MD5-sess, `None` for plain MD5.
    session_suffix: Option<Vec<u8>>,
    /// `:nonce:` [+ `nc:cnonce:qop:`] + HA2 hex: everything after HA1.
    response_suffix: Vec<u8>,
    /// The response the client sent, decoded.
    expected: [u8; 16],
}

impl fmt::Debug for PreparedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedCredentials")
            .field("session", &self.session_suffix.is_some())
            .finish_non_exhaustive()
    }
}

impl PreparedCredentials {
    /// Validates the credentials and precomputes HA2 and the fixed parts.
    pub fn new(creds: &Credentials<'_>, method: &[u8]) -> Result<Self, VerifyError> {
        use VerifyError::{Malformed, Unsupported as Unsup};
        if !creds.is_digest() {
            return Err(Unsup(Unsupported::Scheme));
        }
        let algorithm = creds.effective_algorithm();
        if !algorithm.is_supported() {
            return Err(Unsup(Unsupported::Algorithm));
        }
        let qop = match creds.qop {
            None => None,
            Some(Qop::Auth) => Some(Qop::Auth.as_bytes()),
            Some(Qop::AuthInt) => return Err(Unsup(Unsupported::QopAuthInt)),
            Some(Qop::Other(_)) => return Err(Unsup(Unsupported::UnknownQop)),
        };
        let username = need(creds.username, DigestDefect::MissingUsername)?;
        let realm = need(creds.realm, DigestDefect::MissingRealm)?;
        let nonce = need(creds.nonce, DigestDefect::MissingNonce)?;
        let uri = need(creds.uri, DigestDefect::MissingUri)?;
        let sent = need(creds.response, DigestDefect::MissingResponse)?;
        let expected = decode_hex16(sent).ok_or(Malformed(DigestDefect::ResponseNotHex32))?;

        let cnonce = if qop.is_some() || algorithm.is_session() {
            need(creds.cnonce, DigestDefect::MissingCnonce)?
        } else {
            b""
        };
        let ha2 = ha2(method, uri);
        let mut response_suffix = Vec::with_capacity(nonce.len() + cnonce.len() + 48);
        response_suffix.extend_from_slice(b":");
        response_suffix.extend_from_slice(nonce);
        response_suffix.extend_from_slice(b":");
        if let Some(qop) = qop {
            // nc is hashed as sent, even if malformed, like servers do.
            let nc = need(creds.nc, DigestDefect::MissingNc)?;
            for part in [nc, b":", cnonce, b":", qop, b":"] {
                response_suffix.extend_from_slice(part);
            }
        }
        response_suffix.extend_from_slice(&ha2);

        let mut ha1_prefix = Md5::new();
        for part in [username, b":", realm, b":"] {
            ha1_prefix.update(part);
        }
        let session_suffix = algorithm
            .is_session()
            .then(|| [b":", nonce, b":", cnonce].concat());
        Ok(Self {
            ha1_prefix,
            session_suffix,
            response_suffix,
            expected,
        })
    }

    fn response_digest_from_base_ha1(&self, base: &[u8; 32]) -> [u8; 16] {
        let session_ha1;
        let ha1 = match &self.session_suffix {
            Some(suffix) => {
                session_ha1 = to_hex(&md5_of(&[base, suffix]));
                &session_ha1
            }
            None => base,
        };
        md5_of(&[ha1, &self.response_suffix])
    }

    fn response_digest(&self, password: &[u8]) -> [u8; 16] {
        let mut hasher = self.ha1_prefix.clone();
        hasher.update(password);
        self.response_digest_from_base_ha1(&to_hex(&finish(hasher)))
    }

    /// Whether `password` produces the response the client sent
    /// (constant-time comparison).
    pub fn matches(&self, password: &[u8]) -> bool {
        ct_eq(&self.response_digest(password), &self.expected)
    }

    /// Like [`PreparedCredentials::matches`] for a stored HA1 instead of a
    /// password: the lowercase hex of `H(user:realm:pass)` (Asterisk's
    /// `md5secret`), before any MD5-sess step.
    pub fn matches_ha1(&self, ha1_hex: &[u8; 32]) -> bool {
        ct_eq(&self.response_digest_from_base_ha1(ha1_hex), &self.expected)
    }

    /// The lowercase hex response `password` would produce.
    pub fn response(&self, password: &[u8]) -> [u8; 32] {
        to_hex(&self.response_digest(password))
    }
}
