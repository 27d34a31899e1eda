//! Checking credentials against passwords: one-off [`verify`] and the
//! wordlist-friendly [`PreparedCredentials`].
//!
//! Quoted values are hashed exactly as they appear between the quotes,
//! because attack tools and most SIP stacks format headers without
//! escaping, so a raw `\` in a username is part of what they hashed. When
//! a value does contain a backslash, the RFC reading (escapes resolved) is
//! tried as well, so RFC-conforming clients and our own builder match too.

use std::borrow::Cow;
use std::fmt;

use md5::{Digest, Md5};

use super::compute::{decode_hex16, finish, ha2, md5_of, to_hex, Unsupported};
use super::params::unescape;
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
pub fn response_for_password(creds: &Credentials<'_>, method: &[u8], password: &[u8]) -> Option<[u8; 32]> {
    PreparedCredentials::new(creds, method).ok().map(|p| p.response(password))
}

/// Credentials with everything password-independent precomputed, for
/// testing many candidate passwords (wordlist recovery). Per candidate it
/// costs two or three MD5 runs and no allocation (twice that when a value
/// contains a backslash, see the module docs).
#[derive(Clone)]
pub struct PreparedCredentials {
    /// Values as sent.
    raw: Variant,
    /// Values with quoted-pair escapes resolved, if that differs.
    unescaped: Option<Box<Variant>>,
    /// The response the client sent, decoded.
    expected: [u8; 16],
}

impl fmt::Debug for PreparedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedCredentials")
            .field("session", &self.raw.session_suffix.is_some())
            .field("escapes", &self.unescaped.is_some())
            .finish_non_exhaustive()
    }
}

/// The password-independent inputs, after validation.
struct Inputs<'a> {
    username: &'a [u8],
    realm: &'a [u8],
    nonce: &'a [u8],
    uri: &'a [u8],
    /// `[nc, cnonce, qop]` when the RFC 2617 form applies.
    qop_fields: Option<[&'a [u8]; 3]>,
    /// The cnonce for MD5-sess.
    session_cnonce: Option<&'a [u8]>,
}

impl Inputs<'_> {
    fn values(&self) -> impl Iterator<Item = &[u8]> {
        let fixed = [self.username, self.realm, self.nonce, self.uri];
        let qop = self.qop_fields.into_iter().flatten();
        fixed.into_iter().chain(qop).chain(self.session_cnonce)
    }
}

/// Precomputed state for one reading of the inputs.
#[derive(Clone)]
struct Variant {
    /// MD5 state that has already absorbed `username:realm:`.
    ha1_prefix: Md5,
    /// `:nonce:cnonce` for MD5-sess, `None` for plain MD5.
    session_suffix: Option<Vec<u8>>,
    /// `:nonce:` [+ `nc:cnonce:qop:`] + HA2 hex: everything after HA1.
    response_suffix: Vec<u8>,
}

impl Variant {
    fn new(inputs: &Inputs<'_>, method: &[u8]) -> Self {
        let mut ha1_prefix = Md5::new();
        for part in [inputs.username, b":", inputs.realm, b":"] {
            ha1_prefix.update(part);
        }
        let session_suffix = inputs.session_cnonce.map(|cnonce| [b":", inputs.nonce, b":", cnonce].concat());
        let mut response_suffix = Vec::with_capacity(inputs.nonce.len() + 64);
        response_suffix.extend_from_slice(b":");
        response_suffix.extend_from_slice(inputs.nonce);
        response_suffix.extend_from_slice(b":");
        for field in inputs.qop_fields.iter().flatten() {
            response_suffix.extend_from_slice(field);
            response_suffix.extend_from_slice(b":");
        }
        response_suffix.extend_from_slice(&ha2(method, inputs.uri));
        Self { ha1_prefix, session_suffix, response_suffix }
    }

    fn digest_from_base_ha1(&self, base: &[u8; 32]) -> [u8; 16] {
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

    fn digest(&self, password: &[u8]) -> [u8; 16] {
        let mut hasher = self.ha1_prefix.clone();
        hasher.update(password);
        self.digest_from_base_ha1(&to_hex(&finish(hasher)))
    }
}

impl PreparedCredentials {
    /// Validates the credentials and precomputes HA2 and the fixed parts.
    ///
    /// With `qop=auth` but no `nc` or no `cnonce` (SIPVicious svcrack does
    /// this), the RFC 2069 form `H(HA1:nonce:HA2)` is checked, as chan_sip
    /// does.
    pub fn new(creds: &Credentials<'_>, method: &[u8]) -> Result<Self, VerifyError> {
        use VerifyError::{Malformed, Unsupported as Unsup};
        if !creds.is_digest() {
            return Err(Unsup(Unsupported::Scheme));
        }
        let algorithm = creds.effective_algorithm();
        if !algorithm.is_supported() {
            return Err(Unsup(Unsupported::Algorithm));
        }
        // Hash the qop token as sent (`AUTH` stays `AUTH`), like the client did.
        let qop = match creds.qop {
            None => None,
            Some(Qop::Auth) => creds.param(b"qop").map(|p| p.value),
            Some(Qop::AuthInt) => return Err(Unsup(Unsupported::QopAuthInt)),
            Some(Qop::Other(_)) => return Err(Unsup(Unsupported::UnknownQop)),
        };
        let username = need(creds.username, DigestDefect::MissingUsername)?;
        let realm = need(creds.realm, DigestDefect::MissingRealm)?;
        let nonce = need(creds.nonce, DigestDefect::MissingNonce)?;
        let uri = need(creds.uri, DigestDefect::MissingUri)?;
        let sent = need(creds.response, DigestDefect::MissingResponse)?;
        let expected = decode_hex16(sent).ok_or(Malformed(DigestDefect::ResponseNotHex32))?;
        // svcrack sends `qop=auth` without nc/cnonce and hashes the RFC 2069
        // form, which chan_sip accepts because it ignores qop. Do the same
        // whenever either is missing (the parse defects still say so); with
        // both present, nc is hashed as sent even if malformed.
        let qop_fields = match (qop, creds.nc, creds.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) => Some([nc, cnonce, qop]),
            _ => None,
        };
        // MD5-sess has no such fallback: HA1 itself needs the cnonce.
        let session_cnonce =
            if algorithm.is_session() { Some(need(creds.cnonce, DigestDefect::MissingCnonce)?) } else { None };
        let raw = Inputs { username, realm, nonce, uri, qop_fields, session_cnonce };
        let unescaped = raw.values().any(|v| v.contains(&b'\\')).then(|| Box::new(unescaped_variant(&raw, method)));
        Ok(Self { raw: Variant::new(&raw, method), unescaped, expected })
    }

    fn check(&self, digest_of: impl Fn(&Variant) -> [u8; 16]) -> bool {
        let raw = ct_eq(&digest_of(&self.raw), &self.expected);
        let unescaped = self.unescaped.as_deref().is_some_and(|v| ct_eq(&digest_of(v), &self.expected));
        raw | unescaped
    }

    /// Whether `password` produces the response the client sent
    /// (constant-time comparison).
    pub fn matches(&self, password: &[u8]) -> bool {
        self.check(|v| v.digest(password))
    }

    /// Like [`PreparedCredentials::matches`] for a stored HA1 instead of a
    /// password: the lowercase hex of `H(user:realm:pass)` (Asterisk's
    /// `md5secret`), before any MD5-sess step.
    pub fn matches_ha1(&self, ha1_hex: &[u8; 32]) -> bool {
        self.check(|v| v.digest_from_base_ha1(ha1_hex))
    }

    /// The lowercase hex response `password` would produce, taking the
    /// values as sent.
    pub fn response(&self, password: &[u8]) -> [u8; 32] {
        to_hex(&self.raw.digest(password))
    }
}

/// The [`Variant`] for the RFC reading, with quoted-pair escapes resolved.
fn unescaped_variant(raw: &Inputs<'_>, method: &[u8]) -> Variant {
    let [username, realm, nonce, uri] = [raw.username, raw.realm, raw.nonce, raw.uri].map(unescape);
    let qop: Option<[Cow<'_, [u8]>; 3]> = raw.qop_fields.map(|f| f.map(unescape));
    let session_cnonce = raw.session_cnonce.map(unescape);
    let inputs = Inputs {
        username: &username,
        realm: &realm,
        nonce: &nonce,
        uri: &uri,
        qop_fields: qop.as_ref().map(|[a, b, c]| [&**a, &**b, &**c]),
        session_cnonce: session_cnonce.as_deref(),
    };
    Variant::new(&inputs, method)
}
