//! Lexical helpers shared by the typed parsers: tokens, linear whitespace, lists and parameters.
//!
//! Header values are parsed in place, folds included, so CR and LF count as whitespace here:
//! unfolding would need a copy.

/// Position of `needle` in `hay`. Header values are short, and below a few dozen bytes a plain
/// loop beats `memchr`'s SIMD set-up; longer input goes to `memchr`.
#[inline]
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    if hay.len() < 48 {
        hay.iter().position(|&b| b == needle)
    } else {
        memchr::memchr(needle, hay)
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 set in each byte of `word` equal to `byte`: exact up to the first match (the borrow of
/// the subtraction can flag bytes above a match, never below one), which is all a search needs.
#[inline(always)]
pub(crate) fn first_match_bits(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// True when the chunk holds one of the `needles`: one fold per needle, which the compiler
/// turns into a vector compare each (SSE2 on x86-64; safe Rust cannot ask for it directly).
#[inline(always)]
fn chunk_has<const N: usize>(chunk: &[u8; 16], needles: [u8; N]) -> bool {
    needles.iter().fold(false, |found, &needle| found | chunk.iter().fold(false, |any, &b| any | (b == needle)))
}

/// Offset of the first of the `needles` in a 16-byte chunk known to hold one, eight bytes at a
/// time.
#[inline(always)]
fn first_in_chunk<const N: usize>(chunk: &[u8; 16], needles: [u8; N]) -> usize {
    let bits = |half: &[u8]| {
        let word = u64::from_le_bytes(half.try_into().unwrap_or([0; 8]));
        needles.iter().fold(0, |bits, &needle| bits | first_match_bits(word, needle))
    };
    let (lo, hi) = chunk.split_at(8);
    let lo = bits(lo);
    let offset = if lo != 0 { lo.trailing_zeros() / 8 } else { 8 + bits(hi).trailing_zeros() / 8 };
    offset as usize
}

/// The first of the `needles` in `hay` at or after `from`. Header lines are a few dozen bytes,
/// where `memchr`'s dispatch and set-up cost more than the search: here each 16-byte chunk is
/// tested with vector compares ([`chunk_has`]) and the chunk that hits is searched a word at a
/// time.
#[inline(always)]
fn find_from<const N: usize>(hay: &[u8], from: usize, needles: [u8; N]) -> Option<usize> {
    let rest = hay.get(from..)?;
    let (chunks, _) = rest.as_chunks::<16>();
    for (i, chunk) in chunks.iter().enumerate() {
        if chunk_has(chunk, needles) {
            return Some(from + i * 16 + first_in_chunk(chunk, needles));
        }
    }
    match rest.last_chunk::<16>() {
        // The last 16 bytes overlap bytes already searched, where nothing hit.
        Some(last) if chunk_has(last, needles) => Some(from + rest.len() - 16 + first_in_chunk(last, needles)),
        Some(_) => None,
        None => rest.iter().position(|b| needles.contains(b)).map(|p| from + p),
    }
}

/// Position of the first `needle` in `hay` at or after `from` (see [`find_from`]).
#[inline]
pub(crate) fn find_byte_from(needle: u8, hay: &[u8], from: usize) -> Option<usize> {
    find_from(hay, from, [needle])
}

/// Position of the first `a` or `b` in `hay` at or after `from` (see [`find_from`]).
#[inline]
pub(crate) fn find_either_from(a: u8, b: u8, hay: &[u8], from: usize) -> Option<usize> {
    find_from(hay, from, [a, b])
}

/// True when `s` holds a byte at or below SP (whitespace and control bytes): a 16-byte fold the
/// compiler turns into vector compares, for the shortcut that well-formed start lines take.
#[inline]
pub(crate) fn has_space_or_control(s: &[u8]) -> bool {
    let (chunks, tail) = s.as_chunks::<16>();
    chunks.iter().any(|chunk| chunk.iter().fold(false, |any, &b| any | (b <= b' '))) || tail.iter().any(|&b| b <= b' ')
}

/// RFC 3261 `token` characters.
#[inline]
pub fn is_token_char(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// Lookup table for [`is_token_char`] (it runs on every byte of names and methods).
static TOKEN: [bool; 256] = alphanumeric_and(b"-.!%*_+`'~");

/// A byte table for a lexical class: ASCII letters and digits, and `punctuation`. Built at
/// compile time, so the per-byte test on hot scans is one load.
pub(crate) const fn alphanumeric_and(punctuation: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < punctuation.len() {
        table[punctuation[j] as usize] = true;
        j += 1;
    }
    table
}

/// True for the bytes of linear whitespace (SP, HTAB, and the CR LF of a fold).
#[inline(always)]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Strips linear whitespace from both ends.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_lws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_lws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// True when every byte is a token character (and there is at least one).
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

/// Parses an unsigned decimal without sign or whitespace; `None` for anything else or on
/// overflow of u64.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Outcome of reading a decimal field that may be oversized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    /// A number that fits in u64.
    Value(u64),
    /// Only digits, but too many for u64 (RFC 4475 `scalar02`).
    Overflow,
    /// Not a number.
    Invalid,
}

/// Reads a decimal that may not fit in 64 bits.
pub fn parse_number(s: &[u8]) -> Number {
    match parse_u64(s) {
        Some(v) => Number::Value(v),
        None if !s.is_empty() && s.iter().all(u8::is_ascii_digit) => Number::Overflow,
        None => Number::Invalid,
    }
}

/// Finds `needle` in `haystack` outside quoted strings and (when `brackets`) outside `<...>`.
/// Also reports whether a quoted string or bracket was left open at the end.
pub fn find_unquoted(haystack: &[u8], needles: &[u8], brackets: bool) -> (Option<usize>, bool) {
    // Fast path for the common single-needle case: nothing to skip before the first needle.
    if let [needle] = needles {
        let special = if brackets {
            memchr::memchr3(*needle, b'"', b'<', haystack)
        } else {
            memchr::memchr2(*needle, b'"', haystack)
        };
        match special {
            None => return (None, false),
            Some(at) if haystack[at] == *needle => return (Some(at), false),
            Some(_) => {}
        }
    }
    let mut in_quote = false;
    let mut depth = 0u32;
    let mut i = 0;
    while i < haystack.len() {
        let b = haystack[i];
        if in_quote {
            match b {
                b'\\' => i += 1,
                b'"' => in_quote = false,
                _ => {}
            }
        } else if b == b'"' {
            in_quote = true;
        } else if brackets && b == b'<' {
            depth += 1;
        } else if brackets && b == b'>' {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && needles.contains(&b) {
            return (Some(i), false);
        }
        i += 1;
    }
    (None, in_quote || depth > 0)
}

/// Splits a header value into its comma-separated elements, leaving commas inside quoted
/// strings and `<...>` alone. Elements are trimmed; empty ones are yielded (as empty slices) so
/// that callers can report them.
#[derive(Debug, Clone)]
pub struct ListIter<'a> {
    rest: Option<&'a [u8]>,
    /// Set when the value ended inside a quoted string or `<...>`.
    pub unterminated: bool,
}

impl<'a> ListIter<'a> {
    /// Starts splitting `value`.
    pub fn new(value: &'a [u8]) -> Self {
        ListIter { rest: Some(value), unterminated: false }
    }
}

impl<'a> Iterator for ListIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let (comma, open) = find_unquoted(rest, b",", true);
        match comma {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(trim(&rest[..at]))
            }
            None => {
                self.unterminated |= open;
                self.rest = None;
                Some(trim(rest))
            }
        }
    }
}

/// One `;name[=value]` parameter, trimmed; quotes are kept on the value (see [`unquote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a [u8],
    /// The value as written, if there is an `=`.
    pub value: Option<&'a [u8]>,
}

/// Iterates the parameters of a `;`-separated span (the span starts after the first `;` or at
/// it: a leading `;` is skipped). Empty parameters are yielded with an empty name.
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> ParamIter<'a> {
    /// Iterates `span`, which holds `;a=b;c` or `a=b;c`.
    pub fn new(span: &'a [u8]) -> Self {
        let span = trim(span);
        let span = span.strip_prefix(b";").unwrap_or(span);
        ParamIter { rest: if span.is_empty() { None } else { Some(span) } }
    }
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let rest = self.rest?;
        let (semi, _) = find_unquoted(rest, b";", false);
        let item = match semi {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                &rest[..at]
            }
            None => {
                self.rest = None;
                rest
            }
        };
        Some(match find_byte(b'=', item) {
            Some(eq) => Param { name: trim(&item[..eq]), value: Some(trim(&item[eq + 1..])) },
            None => Param { name: trim(item), value: None },
        })
    }
}

/// Finds a parameter by name (case-insensitive) in a `;`-separated span.
pub fn find_param<'a>(span: &'a [u8], name: &str) -> Option<Param<'a>> {
    ParamIter::new(span).find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
}

/// Removes surrounding double quotes, if both are there. Escapes stay as written.
pub fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

/// Decodes `%XX` escapes. Invalid escapes are kept as written (RFC 4475 `esc02` uses `%Z`).
pub fn percent_decode(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr(b'%', s).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token table is RFC 3261's `token` (and the digest tokenizer's RFC 7230 `tchar`,
    /// built the same way, adds `#$&^|`), byte for byte.
    #[test]
    fn byte_tables_are_the_grammars_classes() {
        for b in 0..=255u8 {
            let token = b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
            assert_eq!(is_token_char(b), token, "{b:#04x}");
            let tchar = alphanumeric_and(b"!#$%&'*+-.^_`|~")[usize::from(b)];
            assert_eq!(tchar, token || b"#$&^|".contains(&b), "{b:#04x}");
        }
    }

    #[test]
    fn list_split_respects_quotes_and_brackets() {
        let v = br#""Bell, Alexander" <sip:a@b;x=1,2>;tag=1 , <sip:c@d>"#;
        let items: Vec<_> = ListIter::new(v).collect();
        assert_eq!(items, vec![&br#""Bell, Alexander" <sip:a@b;x=1,2>;tag=1"#[..], b"<sip:c@d>"]);
    }

    #[test]
    fn list_split_reports_empty_elements_and_open_quotes() {
        let items: Vec<_> = ListIter::new(b"a,,b,").collect();
        assert_eq!(items, vec![&b"a"[..], b"", b"b", b""]);
        let mut it = ListIter::new(b"\"open <sip:x>");
        assert_eq!(it.next(), Some(&b"\"open <sip:x>"[..]));
        assert!(it.unterminated);
    }

    #[test]
    fn params_with_folds_and_spaces() {
        let span = b" ; tag = 98asjd8\r\n ;lr; q=\"0.5;x\"";
        let params: Vec<_> = ParamIter::new(span).collect();
        assert_eq!(params.len(), 3);
        assert_eq!(params[0], Param { name: b"tag", value: Some(b"98asjd8") });
        assert_eq!(params[1], Param { name: b"lr", value: None });
        assert_eq!(params[2].value, Some(&b"\"0.5;x\""[..]));
        assert_eq!(find_param(span, "TAG").and_then(|p| p.value), Some(&b"98asjd8"[..]));
    }

    #[test]
    fn numbers_and_escapes() {
        assert_eq!(parse_number(b"0068"), Number::Value(68));
        assert_eq!(parse_number(b"36893488147419103232"), Number::Overflow);
        assert_eq!(parse_number(b"-999"), Number::Invalid);
        assert_eq!(&*percent_decode(b"%75se%72"), b"user");
        assert_eq!(&*percent_decode(b"%Z%45%"), b"%ZE%");
        assert_eq!(&*percent_decode(b"%4"), b"%4");
    }
}
