//! `WWW-Authenticate` / `Proxy-Authenticate` values: parsing and building.

use super::params::{self, find, push_defect, write_quoted, write_token, Param};
use super::{Algorithm, DigestDefect, DigestError, Qop};

/// A parsed authentication challenge. All byte slices borrow from the
/// header value; quoted values have their quotes removed but escapes kept
/// (use [`Param::unescaped`] via [`Challenge::param`] when it matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// Auth scheme as written (normally `Digest`).
    pub scheme: &'a [u8],
    /// `realm`.
    pub realm: Option<&'a [u8]>,
    /// `nonce`.
    pub nonce: Option<&'a [u8]>,
    /// `opaque`.
    pub opaque: Option<&'a [u8]>,
    /// `algorithm`; `None` when absent (which means MD5).
    pub algorithm: Option<Algorithm<'a>>,
    /// Raw `qop` value, a comma-separated list; see [`Challenge::qop_options`].
    pub qop: Option<&'a [u8]>,
    /// `stale=true` (case-insensitive); anything else is `false`.
    pub stale: bool,
    /// Raw `domain` value, a space-separated URI list.
    pub domain: Option<&'a [u8]>,
    /// Every param in wire order, including unknown ones and duplicates.
    pub params: Vec<Param<'a>>,
    /// Problems found while parsing, each kind at most once.
    pub defects: Vec<DigestDefect>,
}

impl<'a> Challenge<'a> {
    /// Parses a challenge header value (without the header name). Never
    /// panics; fails only if there is no scheme token at all.
    pub fn parse(value: &'a [u8]) -> Result<Self, DigestError> {
        let tokens = params::tokenize(value)?;
        let params = tokens.params;
        let mut defects = tokens.defects;
        let get = |name: &[u8]| find(&params, name).map(|p| p.value);
        let digest = tokens.scheme.eq_ignore_ascii_case(b"Digest");
        if !digest {
            push_defect(&mut defects, DigestDefect::UnknownScheme);
        }
        let realm = get(b"realm");
        let nonce = get(b"nonce");
        if digest && realm.is_none() {
            push_defect(&mut defects, DigestDefect::MissingRealm);
        }
        if digest && nonce.is_none() {
            push_defect(&mut defects, DigestDefect::MissingNonce);
        }
        Ok(Self {
            scheme: tokens.scheme,
            realm,
            nonce,
            opaque: get(b"opaque"),
            algorithm: get(b"algorithm").map(Algorithm::parse),
            qop: get(b"qop"),
            stale: get(b"stale").is_some_and(|v| v.eq_ignore_ascii_case(b"true")),
            domain: get(b"domain"),
            params,
            defects,
        })
    }

    /// Whether the scheme is `Digest` (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// The algorithm in effect: the parsed one, or MD5 when absent.
    pub fn effective_algorithm(&self) -> Algorithm<'a> {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// First param with this name, case-insensitively.
    pub fn param(&self, name: &[u8]) -> Option<Param<'a>> {
        find(&self.params, name)
    }

    /// The first param called `name` (case-insensitively) of a challenge header value: what
    /// `Challenge::parse(value).ok()?.param(name)` gives, read only as far as that param and
    /// without building the challenge (for a caller that wants one value, such as a nonce).
    pub fn param_of(value: &'a [u8], name: &[u8]) -> Option<Param<'a>> {
        params::find_param(value, name)
    }

    /// The offered qop options (`qop="auth,auth-int"`), empty tokens skipped.
    pub fn qop_options(&self) -> impl Iterator<Item = Qop<'a>> + 'a {
        self.qop.unwrap_or_default().split(|&b| b == b',').map(trim).filter(|t| !t.is_empty()).map(Qop::parse)
    }

    /// The `domain` URIs, split on whitespace.
    pub fn domain_uris(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.domain.unwrap_or_default().split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty())
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace());
    match (start, end) {
        (Some(a), Some(b)) => s.get(a..=b).unwrap_or_default(),
        _ => &[],
    }
}

/// What a server (our honeypot) puts in a challenge. Values are logical
/// (unescaped); the writer quotes and escapes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeSpec<'a> {
    /// `realm`, e.g. `asterisk`.
    pub realm: &'a [u8],
    /// `nonce`, chosen by the caller.
    pub nonce: &'a [u8],
    /// `opaque`, if any.
    pub opaque: Option<&'a [u8]>,
    /// `algorithm`; `None` omits the parameter (clients assume MD5).
    pub algorithm: Option<Algorithm<'a>>,
    /// `qop` options, e.g. `auth`; `None` omits the parameter.
    pub qop: Option<&'a [u8]>,
    /// Emit `stale=true` (the nonce expired but the credentials were fine).
    pub stale: bool,
    /// Challenge goes in `Proxy-Authenticate` (407) instead of
    /// `WWW-Authenticate` (401).
    pub proxy: bool,
}

impl ChallengeSpec<'_> {
    /// Header name matching [`ChallengeSpec::proxy`].
    pub fn header_name(&self) -> &'static str {
        if self.proxy {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        }
    }

    /// Appends the header value in chan_sip's order:
    /// `Digest algorithm=MD5, realm="…", nonce="…"[, qop="…"][, opaque="…"][, stale=true]`.
    ///
    /// The order matters for fingerprint fidelity and for real clients:
    /// nmap's sip-brute only picks up `algorithm=` when a comma follows it,
    /// which putting it first guarantees.
    pub fn write_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"Digest ");
        if let Some(alg) = self.algorithm {
            out.extend_from_slice(b"algorithm=");
            write_token(out, alg.as_bytes());
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"realm=");
        write_quoted(out, self.realm);
        out.extend_from_slice(b", nonce=");
        write_quoted(out, self.nonce);
        if let Some(qop) = self.qop {
            out.extend_from_slice(b", qop=");
            write_quoted(out, qop);
        }
        if let Some(opaque) = self.opaque {
            out.extend_from_slice(b", opaque=");
            write_quoted(out, opaque);
        }
        if self.stale {
            out.extend_from_slice(b", stale=true");
        }
    }

    /// Appends the whole header line, `Name: value\r\n`.
    pub fn write_header(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.header_name().as_bytes());
        out.extend_from_slice(b": ");
        self.write_value(out);
        out.extend_from_slice(b"\r\n");
    }
}
