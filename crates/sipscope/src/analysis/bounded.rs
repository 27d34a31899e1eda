//! Attacker text the engine keeps, bounded in bytes. Tables are capped by entries, but an entry
//! keyed by a header value could hold a whole message's worth of text (a 15 kB User-Agent, a
//! 15 kB Call-ID), so every value a table keeps or keys by goes through here first:
//!
//! - [`bounded`]: the text as kept. A value of at most `max_value_bytes` is itself (normal
//!   traffic is untouched); a longer one keeps its start and ends in a marker naming its length
//!   and a hash of the whole value, so that distinct long values stay distinct keys.
//! - [`value_hash`]: a 64-bit hash, for sets that only count distinct values (users tried,
//!   numbers dialled) or only compare them (Call-IDs awaiting an answer): 8 bytes per value,
//!   whatever its length.
//!
//! `docs/analysis.md` ("Memory ceiling") states what this bounds.

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Bytes kept of one attacker value by default (`AnalysisConfig::max_value_bytes`): above every
/// User-Agent, user, Call-ID and method of the real tools and phones, far below a message.
pub const MAX_VALUE_BYTES: usize = 256;

/// The smallest limit [`bounded`] honours: room for some text and the marker.
pub const MIN_VALUE_BYTES: usize = 64;

/// Starts the marker of a cut value: `…[15000 bytes #0123456789abcdef]`.
pub const CUT_MARKER: &str = "…[";

/// `text` as a table keeps it: itself when it has at most `limit` bytes (at least
/// [`MIN_VALUE_BYTES`]); otherwise its start, cut at a character boundary, then
/// `…[N bytes #HASH]` (N the value's length, HASH the first 16 hex digits of its SHA-256: the
/// same value gives the same text in every run and every process), `limit` bytes in all.
pub fn bounded(text: &str, limit: usize) -> Cow<'_, str> {
    let limit = limit.max(MIN_VALUE_BYTES);
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let marker = format!("{CUT_MARKER}{} bytes #{:016x}]", text.len(), u64::from_be_bytes(first));
    let mut keep = limit.saturating_sub(marker.len());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut out = String::with_capacity(keep + marker.len());
    out.push_str(&text[..keep]);
    out.push_str(&marker);
    Cow::Owned(out)
}

/// [`bounded`] of an optional value.
pub fn bounded_opt(text: Option<&str>, limit: usize) -> Option<Cow<'_, str>> {
    text.map(|t| bounded(t, limit))
}

/// A 64-bit hash of `text` under a key drawn once per process (SipHash: an attacker cannot
/// choose values that collide). Sets of these count distinct values exactly unless two of
/// their few thousand values collide (a chance of about 2⁻⁴⁰).
pub fn value_hash(text: &str) -> u64 {
    static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
    KEY.get_or_init(std::hash::RandomState::new).hash_one(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_within_the_limit_are_untouched() {
        assert!(matches!(bounded("friendly-scanner", 256), Cow::Borrowed("friendly-scanner")));
        let exact = "a".repeat(256);
        assert_eq!(bounded(&exact, 256), exact);
    }

    #[test]
    fn long_values_keep_their_start_and_a_distinct_marker_within_the_limit() {
        let a = format!("{}a", "x".repeat(15_000));
        let b = format!("{}b", "x".repeat(15_000));
        let (ka, kb) = (bounded(&a, 256), bounded(&b, 256));
        assert!(ka.len() <= 256 && kb.len() <= 256, "{} {}", ka.len(), kb.len());
        assert_ne!(ka, kb, "distinct values stay distinct keys");
        assert!(ka.starts_with("xxxx") && ka.contains("…[15001 bytes #"), "{ka}");
        assert_eq!(bounded(&a, 256), ka, "the same value gives the same text");
    }

    #[test]
    fn cuts_fall_on_character_boundaries_and_tiny_limits_are_raised() {
        let s = "é".repeat(10_000);
        for limit in [0, 1, 63, 64, 65, 100, 257] {
            let k = bounded(&s, limit);
            assert!(k.len() <= limit.max(MIN_VALUE_BYTES), "{limit}: {}", k.len());
            assert!(k.contains(CUT_MARKER));
        }
    }

    #[test]
    fn hashes_tell_values_apart() {
        assert_eq!(value_hash("100"), value_hash("100"));
        assert_ne!(value_hash("100"), value_hash("101"));
    }
}
