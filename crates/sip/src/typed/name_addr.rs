//! `name-addr` / `addr-spec` values: From, To, Contact, Route, Record-Route, Refer-To …

use crate::anomaly::AnomalyKind;
use crate::text::{self, ParamIter};
use crate::uri::Uri;

/// A From / To / Contact style value: optional display name, a URI, header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The whole value as written.
    pub raw: &'a [u8],
    /// The display name without its quotes (escapes kept), if there is one.
    pub display: Option<&'a [u8]>,
    /// True when the display name was a quoted string.
    pub display_quoted: bool,
    /// The URI text (inside `<>` when bracketed), trimmed.
    pub uri_raw: &'a [u8],
    /// The parsed URI, `None` when it could not be parsed.
    pub uri: Option<Uri<'a>>,
    /// True when the URI was enclosed in `<>`.
    pub bracketed: bool,
    /// The header parameters (`;tag=…;expires=…`) as one span.
    pub params: &'a [u8],
    /// What [`NameAddr::tag`] returns, found in the pass over the parameters that looks for
    /// empty ones (every From and To is asked for its tag, often more than once).
    tag: Option<&'a [u8]>,
}

impl<'a> NameAddr<'a> {
    /// Parses a value, ignoring defects.
    pub fn parse(value: &'a [u8]) -> NameAddr<'a> {
        NameAddr::parse_checked(value, &mut |_| {})
    }

    /// Parses a value and reports every defect to `report`.
    pub fn parse_checked(value: &'a [u8], report: &mut dyn FnMut(AnomalyKind)) -> NameAddr<'a> {
        let raw = text::trim(value);
        let mut out = NameAddr {
            raw,
            display: None,
            display_quoted: false,
            uri_raw: &[],
            uri: None,
            bracketed: false,
            params: &[],
            tag: None,
        };
        let mut rest = raw;
        if rest.first() == Some(&b'"') {
            match closing_quote(rest) {
                Some(end) => {
                    out.display = Some(&rest[1..end]);
                    out.display_quoted = true;
                    rest = text::trim(&rest[end + 1..]);
                }
                None => {
                    report(AnomalyKind::UnterminatedQuotedString);
                    // Recover the URI if a `<` follows, as a lenient receiver would.
                    out.display = Some(&rest[1..]);
                    out.display_quoted = true;
                    rest = match crate::text::find_byte(b'<', rest) {
                        Some(lt) => &rest[lt..],
                        None => &[],
                    };
                }
            }
        }
        match crate::text::find_byte(b'<', rest) {
            Some(lt) => {
                if !out.display_quoted {
                    let display = text::trim(&rest[..lt]);
                    if !display.is_empty() {
                        out.display = Some(display);
                        let words_ok = display.split(|&b| text::is_lws(b)).all(|w| w.is_empty() || text::is_token(w));
                        if !words_ok {
                            report(AnomalyKind::InvalidDisplayName);
                        }
                    }
                } else if lt != 0 {
                    report(AnomalyKind::InvalidDisplayName);
                }
                out.bracketed = true;
                let inner_and_after = &rest[lt + 1..];
                let (inner, after) = match crate::text::find_byte(b'>', inner_and_after) {
                    Some(gt) => (&inner_and_after[..gt], &inner_and_after[gt + 1..]),
                    None => {
                        report(AnomalyKind::UnterminatedAngleBracket);
                        (inner_and_after, &[][..])
                    }
                };
                out.uri_raw = text::trim(inner);
                if out.uri_raw.len() != inner.len() {
                    report(AnomalyKind::WhitespaceInAddrSpec);
                }
                out.params = text::trim(after);
                if !out.params.is_empty() && out.params[0] != b';' {
                    report(AnomalyKind::InvalidDisplayName);
                }
            }
            None if out.display_quoted => {
                if !rest.is_empty() {
                    report(AnomalyKind::InvalidDisplayName);
                }
            }
            None => {
                // addr-spec: parameters after it belong to the header, so the URI ends at the
                // first `;` or whitespace.
                let end = rest.iter().position(|&b| b == b';' || text::is_lws(b)).unwrap_or(rest.len());
                out.uri_raw = &rest[..end];
                out.params = text::trim(&rest[end..]);
                if !out.params.is_empty() && out.params[0] != b';' {
                    report(AnomalyKind::InvalidDisplayName);
                }
                if out.uri_raw.iter().any(|b| matches!(b, b',' | b'?')) {
                    report(AnomalyKind::AddrSpecNeedsAngleBrackets);
                }
            }
        }
        if !out.uri_raw.is_empty() {
            out.uri = Uri::parse(out.uri_raw).ok();
            match out.uri {
                None => report(AnomalyKind::InvalidUri),
                Some(u) if u.unbracketed_ipv6 => report(AnomalyKind::UnbracketedIpv6),
                Some(_) => {}
            }
        } else if raw.is_empty() {
            report(AnomalyKind::EmptyHeaderValue);
        } else {
            report(AnomalyKind::InvalidUri);
        }
        let mut empty = false;
        for p in ParamIter::new(out.params) {
            empty |= p.name.is_empty();
            if out.tag.is_none() && p.name.eq_ignore_ascii_case(b"tag") {
                // As `param("tag")`: the first, unquoted; a flag parameter gives `Some(b"")`.
                out.tag = Some(p.value.map_or(&[][..], text::unquote));
            }
        }
        if empty {
            report(AnomalyKind::EmptyParameter);
        }
        out
    }

    /// Iterates the header parameters.
    pub fn param_iter(&self) -> ParamIter<'a> {
        ParamIter::new(self.params)
    }

    /// A header parameter's value (`Some(b"")` for a flag parameter).
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        text::find_param(self.params, name).map(|p| p.value.map_or(&[][..], text::unquote))
    }

    /// The `tag` parameter (the first, unquoted; `Some(b"")` without a value).
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.tag
    }

    /// The user part of the URI (escaped), if any.
    pub fn user(&self) -> Option<&'a [u8]> {
        self.uri.and_then(|u| u.user)
    }

    /// The host of the URI, if any.
    pub fn host(&self) -> Option<&'a [u8]> {
        self.uri.map(|u| u.host).filter(|h| !h.is_empty())
    }
}

/// Position of the quote that closes the quoted string starting at `s[0]`.
pub(crate) fn closing_quote(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defects(value: &[u8]) -> Vec<AnomalyKind> {
        let mut found = Vec::new();
        NameAddr::parse_checked(value, &mut |k| found.push(k));
        found
    }

    #[test]
    fn quoted_display_with_escapes_and_folds() {
        let v = b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8";
        let na = NameAddr::parse(v);
        assert_eq!(na.display, Some(&b"J Rosenberg \\\\\\\""[..]));
        assert_eq!(na.uri_raw, b"sip:jdrosen@example.com");
        assert_eq!(na.tag(), Some(&b"98asjd8"[..]));
        assert!(defects(v).is_empty());
    }

    #[test]
    fn addr_spec_with_params_belongs_to_header() {
        let na = NameAddr::parse(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert!(!na.bracketed);
        assert_eq!(na.user(), Some(&b"vivekg"[..]));
        assert_eq!(na.tag(), Some(&b"1918181833n"[..]));
        let token_display = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323");
        assert_eq!(token_display.display, Some(&b"caller"[..]));
        assert_eq!(token_display.tag(), Some(&b"323"[..]));
    }

    /// The tag kept by the parse is `param("tag")`'s.
    #[test]
    fn tag_is_the_first_tag_parameter() {
        for v in [
            &b"<sip:a@b>;TAG=x;tag=y"[..],
            b"<sip:a@b>;tag=\"q\"",
            b"<sip:a@b>;tag",
            b"<sip:a@b>;;tag = z ;x",
            b"sip:a@b;tagged=1;tag=2",
            b"<sip:a@b;tag=uri>",
            b"<sip:a@b>",
        ] {
            let na = NameAddr::parse(v);
            assert_eq!(na.tag(), na.param("tag"), "{}", String::from_utf8_lossy(v));
        }
        assert_eq!(NameAddr::parse(b"<sip:a@b>;TAG=x;tag=y").tag(), Some(&b"x"[..]));
        assert_eq!(NameAddr::parse(b"<sip:a@b;tag=uri>").tag(), None);
    }

    #[test]
    fn torture_defects_are_named() {
        assert_eq!(defects(b"\"Mr. J. User <sip:j.user@example.com>"), vec![AnomalyKind::UnterminatedQuotedString]);
        assert_eq!(
            defects(b"\"Watson, Thomas\" < sip:t.watson@example.org >"),
            vec![AnomalyKind::WhitespaceInAddrSpec]
        );
        assert_eq!(
            defects(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
            vec![AnomalyKind::InvalidDisplayName]
        );
        assert_eq!(defects(b"\"Joe\" <sip:joe@example.org>;;;;"), vec![AnomalyKind::EmptyParameter]);
        assert_eq!(
            defects(b"sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
            vec![AnomalyKind::AddrSpecNeedsAngleBrackets]
        );
        assert_eq!(defects(b"<sip:x@y"), vec![AnomalyKind::UnterminatedAngleBracket]);
        assert_eq!(defects(b""), vec![AnomalyKind::EmptyHeaderValue]);
        assert_eq!(defects(b"<nonsense>"), vec![AnomalyKind::InvalidUri]);
    }
}
