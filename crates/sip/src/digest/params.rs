//! Lenient tokenizer for `scheme name=value, name="value", ...` header
//! values, plus the small writers shared by the builders.

use std::borrow::Cow;

use super::{DigestDefect, DigestError, MAX_PARAMS};
// Linear whitespace, CR/LF included, so folded or unfolded continuation lines are tolerated.
use crate::text::is_lws as is_ws;

/// One `name=value` auth-param, borrowed from the header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param<'a> {
    /// Parameter name as written; compare with [`Param::is`].
    pub name: &'a [u8],
    /// Value with the surrounding quotes removed. Backslash escapes are left
    /// in place so this stays a borrowed span; see [`Param::unescaped`].
    pub value: &'a [u8],
    /// Whether the value was written as a quoted string.
    pub quoted: bool,
}

impl<'a> Param<'a> {
    /// ASCII case-insensitive name comparison (auth-param names are
    /// case-insensitive).
    pub fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value with quoted-pair escapes (`\"`, `\\`) resolved. Borrows
    /// unless the value actually contains a backslash.
    pub fn unescaped(&self) -> Cow<'a, [u8]> {
        if self.quoted {
            unescape(self.value)
        } else {
            Cow::Borrowed(self.value)
        }
    }
}

/// Resolves quoted-pair escapes. A trailing lone backslash is kept, since
/// it can only come from an unterminated string and dropping it would hide
/// what was sent.
pub(crate) fn unescape(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.contains(&b'\\') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        if b == b'\\' {
            out.push(bytes.next().copied().unwrap_or(b'\\'));
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

/// Output of [`tokenize`]: scheme, params in wire order, defects so far.
pub(crate) struct Tokens<'a> {
    pub(crate) scheme: &'a [u8],
    pub(crate) params: Vec<Param<'a>>,
    pub(crate) defects: Vec<DigestDefect>,
}

/// Records a defect once; the list stays tiny so a linear scan is fine,
/// and deduplication keeps hostile input from growing it without bound.
pub(crate) fn push_defect(defects: &mut Vec<DigestDefect>, defect: DigestDefect) {
    if !defects.contains(&defect) {
        defects.push(defect);
    }
}

/// Lookup table for [`is_tchar`] (it runs on every byte of every name and token).
static TCHAR: [bool; 256] = crate::text::alphanumeric_and(b"!#$%&'*+-.^_`|~");

/// RFC 7230 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn span(&self, start: usize, end: usize) -> &'a [u8] {
        self.buf.get(start..end).unwrap_or_default()
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.span(start, self.pos)
    }

    fn skip_ws(&mut self) {
        self.take_while(is_ws);
    }

    /// Reads a quoted string; the cursor is on the opening quote. Returns
    /// the raw inner span (escapes intact).
    fn quoted(&mut self, defects: &mut Vec<DigestDefect>) -> &'a [u8] {
        self.pos += 1;
        let start = self.pos;
        loop {
            // Straight to the next quote or backslash: values (nonces, responses) are long.
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            self.pos += memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
            match self.peek() {
                None => {
                    push_defect(defects, DigestDefect::UnterminatedQuotedString);
                    return self.span(start, self.buf.len());
                }
                Some(b'"') => {
                    let value = self.span(start, self.pos);
                    self.pos += 1;
                    return value;
                }
                // Skip the escaped byte too, without running past the end.
                Some(b'\\') => self.pos = (self.pos + 2).min(self.buf.len()),
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// The params of a header value, one at a time, after its scheme: what [`tokenize`] collects
/// and [`find_param`] searches without collecting.
struct Tokenizer<'a> {
    cur: Cursor<'a>,
    /// Whether a comma (or the scheme, for the first param) came since the last param.
    separated: bool,
}

impl<'a> Tokenizer<'a> {
    /// The scheme and a tokenizer on what follows it. Fails only when there is no scheme token.
    fn new(input: &'a [u8]) -> Result<(&'a [u8], Tokenizer<'a>), DigestError> {
        let mut cur = Cursor { buf: input, pos: 0 };
        cur.skip_ws();
        if cur.peek().is_none() {
            return Err(DigestError::Empty);
        }
        let scheme = cur.take_while(is_tchar);
        let after_scheme = cur.pos;
        cur.skip_ws();
        // `realm="x", ...` without a scheme: the first token is a param name.
        if scheme.is_empty() || cur.peek() == Some(b'=') {
            return Err(DigestError::NoScheme);
        }
        cur.pos = after_scheme;
        // The scheme acts as a separator for the first param.
        Ok((scheme, Tokenizer { cur, separated: true }))
    }

    /// The next well-formed `name=value`, recording the defects on the way (malformed params
    /// are skipped); `None` at the end.
    fn next_param(&mut self, defects: &mut Vec<DigestDefect>) -> Option<Param<'a>> {
        let cur = &mut self.cur;
        loop {
            while let Some(b) = cur.peek() {
                if b == b',' {
                    self.separated = true;
                } else if !is_ws(b) {
                    break;
                }
                cur.pos += 1;
            }
            let first = cur.peek()?;
            if !self.separated {
                push_defect(defects, DigestDefect::MissingComma);
            }
            self.separated = false;

            if !is_tchar(first) {
                // Stray bytes where a name should be: skip to the next
                // separator, honouring quotes so a quoted comma doesn't resync.
                push_defect(defects, DigestDefect::MalformedParameter);
                if first == b'"' {
                    cur.quoted(defects);
                } else {
                    cur.take_while(|b| b != b',' && b != b'"' && !is_ws(b) && !is_tchar(b));
                }
                continue;
            }
            let name = cur.take_while(is_tchar);
            cur.skip_ws();
            if cur.peek() != Some(b'=') {
                push_defect(defects, DigestDefect::MalformedParameter);
                continue;
            }
            cur.pos += 1;
            cur.skip_ws();
            let (value, quoted) = if cur.peek() == Some(b'"') {
                (cur.quoted(defects), true)
            } else {
                (cur.take_while(|b| b != b',' && !is_ws(b)), false)
            };
            if !quoted && value.is_empty() {
                push_defect(defects, DigestDefect::MalformedParameter);
            }
            return Some(Param { name, value, quoted });
        }
    }
}

/// Splits a header value into scheme and params. Fails only when there is
/// no scheme token; everything else becomes a defect.
pub(crate) fn tokenize(input: &[u8]) -> Result<Tokens<'_>, DigestError> {
    let (scheme, mut tokenizer) = Tokenizer::new(input)?;
    // Room for the usual credentials (username, realm, nonce, uri, response, algorithm, cnonce,
    // qop, nc, opaque) in one allocation.
    let mut params: Vec<Param<'_>> = Vec::with_capacity(10);
    let mut defects = Vec::new();
    while let Some(param) = tokenizer.next_param(&mut defects) {
        if params.len() >= MAX_PARAMS {
            // Keep scanning so later defects are still reported.
            push_defect(&mut defects, DigestDefect::TooManyParameters);
            continue;
        }
        if params.iter().any(|p| p.is(param.name)) {
            push_defect(&mut defects, DigestDefect::DuplicateParameter);
        }
        params.push(param);
    }
    Ok(Tokens { scheme, params, defects })
}

/// The first param called `name` among those [`tokenize`] keeps (the first [`MAX_PARAMS`]),
/// read up to it and no further, with nothing collected: `tokenize(input)` then [`find`],
/// for a caller that wants one value of a header it does not otherwise need.
pub(crate) fn find_param<'a>(input: &'a [u8], name: &[u8]) -> Option<Param<'a>> {
    let (_, mut tokenizer) = Tokenizer::new(input).ok()?;
    // Defects are not wanted here; this stays empty (no allocation) for well-formed input.
    let mut defects = Vec::new();
    for _ in 0..MAX_PARAMS {
        let param = tokenizer.next_param(&mut defects)?;
        if param.is(name) {
            return Some(param);
        }
    }
    None
}

/// First param with this name (first occurrence wins on duplicates).
pub(crate) fn find<'a>(params: &[Param<'a>], name: &[u8]) -> Option<Param<'a>> {
    params.iter().find(|p| p.is(name)).copied()
}

/// Writes `"value"`, escaping `"` and `\`. Control bytes other than HTAB
/// cannot appear in a quoted-string at all, and a CR/LF would let a value
/// inject headers, so they are dropped.
pub(crate) fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &b in value {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\t' => out.push(b),
            0..=0x1f | 0x7f => {}
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Writes a bare token, dropping bytes that are not `tchar` for the same
/// injection reason as [`write_quoted`].
pub(crate) fn write_token(out: &mut Vec<u8>, value: &[u8]) {
    out.extend(value.iter().copied().filter(|&b| is_tchar(b)));
}
