//! MD5 / MD5-sess digest primitives: HA1, HA2, request digest, hex.

use md5::{Digest, Md5};

use super::Algorithm;

/// Lowercase hex alphabet used on the wire.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// Why a response cannot be computed or checked by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// The scheme is not `Digest`.
    #[error("scheme is not Digest")]
    Scheme,
    /// An algorithm other than MD5 / MD5-sess.
    #[error("unsupported digest algorithm")]
    Algorithm,
    /// `qop=auth-int` (needs the message body hash).
    #[error("qop auth-int is not supported")]
    QopAuthInt,
    /// A `qop` token other than `auth` / `auth-int`.
    #[error("unknown qop")]
    UnknownQop,
}

impl Unsupported {
    /// Stable snake_case identifier.
    pub fn name(self) -> &'static str {
        match self {
            Self::Scheme => "unsupported_scheme",
            Self::Algorithm => "unsupported_algorithm",
            Self::QopAuthInt => "unsupported_qop_auth_int",
            Self::UnknownQop => "unknown_qop",
        }
    }
}

pub(crate) fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    finish(hasher)
}

pub(crate) fn finish(hasher: Md5) -> [u8; 16] {
    let mut out = [0u8; 16];
    // zip rather than copy_from_slice: no length assumption to panic on.
    for (slot, byte) in out.iter_mut().zip(hasher.finalize().iter()) {
        *slot = *byte;
    }
    out
}

pub(crate) fn to_hex(digest: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    out
}

/// True when [`decode_hex16`] would decode `hex`: exactly 32 hex digits (either case).
pub(crate) fn is_hex32(hex: &[u8]) -> bool {
    hex.len() == 32 && hex.iter().all(u8::is_ascii_hexdigit)
}

/// Decodes exactly 32 hex digits (either case) into 16 bytes.
pub(crate) fn decode_hex16(hex: &[u8]) -> Option<[u8; 16]> {
    fn nibble(c: u8) -> Option<u8> {
        // to_digit yields < 16, so the cast is lossless.
        char::from(c).to_digit(16).map(|d| d as u8)
    }
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *slot = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// HA1 as lowercase hex: `H(user:realm:pass)`, or for MD5-sess
/// `H(H(user:realm:pass):nonce:cnonce)`. `nonce`/`cnonce` are ignored for
/// plain MD5.
pub fn ha1(
    username: &[u8],
    realm: &[u8],
    password: &[u8],
    algorithm: Algorithm<'_>,
    nonce: &[u8],
    cnonce: &[u8],
) -> Result<[u8; 32], Unsupported> {
    if !algorithm.is_supported() {
        return Err(Unsupported::Algorithm);
    }
    let base = to_hex(&md5_of(&[username, b":", realm, b":", password]));
    if algorithm.is_session() {
        Ok(to_hex(&md5_of(&[&base, b":", nonce, b":", cnonce])))
    } else {
        Ok(base)
    }
}

/// HA2 for qop `auth` or none, as lowercase hex: `H(method:uri)`.
pub fn ha2(method: &[u8], uri: &[u8]) -> [u8; 32] {
    to_hex(&md5_of(&[method, b":", uri]))
}

/// The request digest as lowercase hex: `H(ha1:nonce:nc:cnonce:qop:ha2)`
/// when `qop` is given, else the RFC 2069 form `H(ha1:nonce:ha2)` (then
/// `nc` and `cnonce` are ignored).
pub fn response(
    ha1: &[u8; 32],
    nonce: &[u8],
    nc: &[u8],
    cnonce: &[u8],
    qop: Option<&[u8]>,
    ha2: &[u8; 32],
) -> [u8; 32] {
    let digest = match qop {
        Some(qop) => md5_of(&[ha1, b":", nonce, b":", nc, b":", cnonce, b":", qop, b":", ha2]),
        None => md5_of(&[ha1, b":", nonce, b":", ha2]),
    };
    to_hex(&digest)
}
