//! `Authorization` / `Proxy-Authorization` values: parsing and building.

use super::compute;
use super::params::{self, find, push_defect, write_quoted, write_token, Param};
use super::{Algorithm, DigestDefect, DigestError, Qop};

/// Parsed digest credentials. Byte slices borrow from the header value;
/// quoted values have quotes removed but escapes kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// Auth scheme as written (normally `Digest`).
    pub scheme: &'a [u8],
    /// `username`.
    pub username: Option<&'a [u8]>,
    /// `realm`.
    pub realm: Option<&'a [u8]>,
    /// `nonce`.
    pub nonce: Option<&'a [u8]>,
    /// `uri` (digest-uri).
    pub uri: Option<&'a [u8]>,
    /// `response`, as sent (not necessarily hex).
    pub response: Option<&'a [u8]>,
    /// `algorithm`; `None` when absent (which means MD5).
    pub algorithm: Option<Algorithm<'a>>,
    /// `cnonce`.
    pub cnonce: Option<&'a [u8]>,
    /// `opaque`.
    pub opaque: Option<&'a [u8]>,
    /// `qop` (a single token in credentials).
    pub qop: Option<Qop<'a>>,
    /// `nc`, raw; see [`Credentials::nonce_count`].
    pub nc: Option<&'a [u8]>,
    /// Every param in wire order, including unknown ones and duplicates.
    pub params: Vec<Param<'a>>,
    /// Problems found while parsing, each kind at most once.
    pub defects: Vec<DigestDefect>,
}

impl<'a> Credentials<'a> {
    /// Parses a credentials header value (without the header name). Never
    /// panics; fails only if there is no scheme token at all.
    pub fn parse(value: &'a [u8]) -> Result<Self, DigestError> {
        let tokens = params::tokenize(value)?;
        // Each known parameter's first occurrence, in one pass over the params.
        let mut known: [Option<&'a [u8]>; KNOWN.len()] = [None; KNOWN.len()];
        for p in &tokens.params {
            if let Some(slot) = known_index(p.name).and_then(|i| known.get_mut(i)) {
                slot.get_or_insert(p.value);
            }
        }
        let [username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc] = known;
        let mut creds = Self {
            scheme: tokens.scheme,
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm: algorithm.map(Algorithm::parse),
            cnonce,
            opaque,
            qop: qop.map(Qop::parse),
            nc,
            params: tokens.params,
            defects: tokens.defects,
        };
        creds.check();
        Ok(creds)
    }

    /// Adds the semantic defects (missing fields, bad formats).
    fn check(&mut self) {
        let mut found = Vec::new();
        if !self.is_digest() {
            // Field checks would only be noise for Basic and friends.
            found.push(DigestDefect::UnknownScheme);
        } else {
            let required = [
                (self.username, DigestDefect::MissingUsername),
                (self.realm, DigestDefect::MissingRealm),
                (self.nonce, DigestDefect::MissingNonce),
                (self.uri, DigestDefect::MissingUri),
                (self.response, DigestDefect::MissingResponse),
            ];
            found.extend(required.iter().filter(|(v, _)| v.is_none()).map(|&(_, d)| d));
            let session = self.algorithm.is_some_and(|a| a.is_session());
            if (self.qop.is_some() || session) && self.cnonce.is_none() {
                found.push(DigestDefect::MissingCnonce);
            }
            if self.qop.is_some() && self.nc.is_none() {
                found.push(DigestDefect::MissingNc);
            }
        }
        if self.nc.is_some() && self.nonce_count().is_none() {
            found.push(DigestDefect::BadNc);
        }
        // Only the MD5 family has 32-digit responses; SHA-256 has 64.
        let md5_family = self.effective_algorithm().is_supported();
        if md5_family && self.response.is_some_and(|r| !compute::is_hex32(r)) {
            found.push(DigestDefect::ResponseNotHex32);
        }
        for defect in found {
            push_defect(&mut self.defects, defect);
        }
    }

    /// Whether the scheme is `Digest` (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// The algorithm in effect: the parsed one, or MD5 when absent.
    pub fn effective_algorithm(&self) -> Algorithm<'a> {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// `nc` as a number, if it is exactly 8 hex digits.
    pub fn nonce_count(&self) -> Option<u32> {
        let nc = self.nc?;
        if nc.len() != 8 || !nc.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        // Safe: 8 ASCII hex digits always fit in u32.
        u32::from_str_radix(std::str::from_utf8(nc).ok()?, 16).ok()
    }

    /// First param with this name, case-insensitively.
    pub fn param(&self, name: &[u8]) -> Option<Param<'a>> {
        find(&self.params, name)
    }
}

/// The parameters [`Credentials::parse`] reads into fields, in the order it takes them.
const KNOWN: [&[u8]; 10] =
    [b"username", b"realm", b"nonce", b"uri", b"response", b"algorithm", b"cnonce", b"opaque", b"qop", b"nc"];

/// The position in [`KNOWN`] of a parameter name (case-insensitive), looked up by its length
/// first: most names are compared with one or two candidates.
fn known_index(name: &[u8]) -> Option<usize> {
    let candidates: &[usize] = match name.len() {
        2 => &[9],
        3 => &[3, 8],
        5 => &[1, 2],
        6 => &[6, 7],
        8 => &[0, 4],
        9 => &[5],
        _ => &[],
    };
    candidates.iter().copied().find(|&i| KNOWN.get(i).is_some_and(|k| k.eq_ignore_ascii_case(name)))
}

/// `qop=auth` parameters chosen by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientQop<'a> {
    /// Nonce count, written as 8 lowercase hex digits.
    pub nc: u32,
    /// Client nonce, chosen by the caller (no randomness in here).
    pub cnonce: &'a [u8],
}

/// What a client (load generator, attack replayer) needs to answer a
/// challenge. Values are logical (unescaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsSpec<'a> {
    /// `username`.
    pub username: &'a [u8],
    /// Password, used only to compute `response`.
    pub password: &'a [u8],
    /// `realm`, copied from the challenge.
    pub realm: &'a [u8],
    /// `nonce`, copied from the challenge.
    pub nonce: &'a [u8],
    /// Request method, e.g. `REGISTER`.
    pub method: &'a [u8],
    /// `uri`, normally the Request-URI.
    pub uri: &'a [u8],
    /// `qop=auth` with nc/cnonce; `None` for the RFC 2069 form.
    pub qop: Option<ClientQop<'a>>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<&'a [u8]>,
    /// `algorithm`; `None` omits the parameter (MD5).
    pub algorithm: Option<Algorithm<'a>>,
}

impl CredentialsSpec<'_> {
    /// Appends the header value:
    /// `Digest username="…", realm="…", nonce="…", uri="…", response="…"`
    /// then `, algorithm=…`, `, cnonce="…", qop=auth, nc=…`, `, opaque="…"`.
    ///
    /// Fails for algorithms other than MD5/MD5-sess, and for MD5-sess
    /// without `qop` (there would be no cnonce to hash).
    pub fn write_value(&self, out: &mut Vec<u8>) -> Result<(), DigestError> {
        let algorithm = self.algorithm.unwrap_or(Algorithm::Md5);
        let nc_hex = self.qop.map(|q| nc_to_hex(q.nc)).unwrap_or_default();
        let (nc, cnonce, qop) = match self.qop {
            Some(q) => (&nc_hex[..], q.cnonce, Some(&b"auth"[..])),
            None if algorithm.is_session() => return Err(DigestError::SessionWithoutQop),
            None => (&[][..], &[][..], None),
        };
        let ha1 = compute::ha1(self.username, self.realm, self.password, algorithm, self.nonce, cnonce)
            .map_err(DigestError::Unsupported)?;
        let ha2 = compute::ha2(self.method, self.uri);
        let response = compute::response(&ha1, self.nonce, nc, cnonce, qop, &ha2);

        out.extend_from_slice(b"Digest username=");
        write_quoted(out, self.username);
        for (name, value) in [
            (&b", realm="[..], self.realm),
            (b", nonce=", self.nonce),
            (b", uri=", self.uri),
            (b", response=", &response[..]),
        ] {
            out.extend_from_slice(name);
            write_quoted(out, value);
        }
        if let Some(alg) = self.algorithm {
            out.extend_from_slice(b", algorithm=");
            write_token(out, alg.as_bytes());
        }
        if qop.is_some() {
            out.extend_from_slice(b", cnonce=");
            write_quoted(out, cnonce);
            out.extend_from_slice(b", qop=auth, nc=");
            out.extend_from_slice(nc);
        }
        if let Some(opaque) = self.opaque {
            out.extend_from_slice(b", opaque=");
            write_quoted(out, opaque);
        }
        Ok(())
    }
}

/// `nc` wire form: 8 lowercase hex digits.
fn nc_to_hex(nc: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (i, slot) in out.iter_mut().enumerate() {
        let nibble = (nc >> (28 - 4 * i)) & 0xf;
        *slot = compute::HEX[nibble as usize];
    }
    out
}
