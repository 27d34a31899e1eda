//! From a Request-URI user as the attacker wrote it to a shape: digits (with or without `+`),
//! a service code, a name, or nothing usable. No libphonenumber here: this step only decides
//! what kind of string it is, so that names like `admin` never reach the number parser.

use std::borrow::Cow;

use sipscope_sip::text::percent_decode;

/// Longest user (bytes, after `%XX` decoding) we look at. A dial string is at most a 5-digit
/// prefix and 15 E.164 digits plus separators; anything much longer is not a number, and the
/// cap bounds what the statistics keep per variant.
pub(crate) const MAX_USER_LEN: usize = 128;

/// Most digits a dialled number may have: the longest dialling prefix (16: trunk, dial-around
/// code, two international prefixes, `super::prefixes::MAX_PREFIX_LEN`) + 15 E.164 digits + 1.
/// Longer digit strings are not numbers anyone can dial.
pub(crate) const MAX_DIGITS: usize = 32;

/// Longest digit string (without `+`) taken as a PBX extension rather than a number. Extension
/// plans rarely go past 6 digits, and a 7-digit string is already a plausible subscriber number.
pub const MAX_EXTENSION_DIGITS: usize = 6;

/// What a user string looks like before any phone-number knowledge is applied.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Only digits and visual separators, optionally one leading `+`.
    Digits { plus: bool, digits: String },
    /// Digits with `*` or `#`: a feature/service code (`*97`, `#31#…`), kept apart.
    Service(String),
    /// Contains letters: a name (`admin`, `s`, `test`) or a vanity number.
    Name(String),
    /// Empty, too long, control characters, bad UTF-8, pure punctuation, misplaced `+`.
    Invalid,
}

/// Visual separators of RFC 3966 plus the ones people type: space and `/` (German style).
fn is_separator(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')' | ' ' | '/')
}

pub(crate) fn shape(user: &str) -> Shape {
    // `%2B49…` is how a `+` survives some tools; decode before anything else.
    let decoded: Cow<'_, str> = match percent_decode(user.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(user),
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Cow::Owned(s),
            Err(_) => return Shape::Invalid,
        },
    };
    let mut s = decoded.trim();
    if s.is_empty() || s.len() > MAX_USER_LEN || s.chars().any(|c| c.is_control()) {
        return Shape::Invalid;
    }
    // `tel:+49…` pasted into the user part; the scheme adds nothing.
    if s.len() >= 4 && s.as_bytes()[..4].eq_ignore_ascii_case(b"tel:") {
        s = s[4..].trim_start();
    }
    // RFC 3966 parameters (`;phone-context=…`, `;postd=…`, `;isub=…`) are not dialled digits.
    let body = s.split(';').next().unwrap_or("").trim();
    let numeric =
        !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || is_separator(c) || matches!(c, '+' | '*' | '#'));
    if !numeric {
        // Letters make it a name; the whole (decoded) string is kept, parameters included.
        return if s.chars().any(char::is_alphanumeric) { Shape::Name(s.to_string()) } else { Shape::Invalid };
    }
    let compact: String = body.chars().filter(|&c| !is_separator(c)).collect();
    if compact.contains(['*', '#']) {
        return Shape::Service(compact);
    }
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if digits.is_empty() || digits.len() > MAX_DIGITS || digits.contains('+') {
        return Shape::Invalid;
    }
    Shape::Digits { plus, digits: digits.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(plus: bool, d: &str) -> Shape {
        Shape::Digits { plus, digits: d.to_string() }
    }

    #[test]
    fn separators_plus_and_escapes() {
        assert_eq!(shape("+49 (1512) 345-67.89"), digits(true, "4915123456789"));
        assert_eq!(shape("%2B4915123456789"), digits(true, "4915123456789"));
        assert_eq!(shape("%2b49%2015123456789"), digits(true, "4915123456789"));
        assert_eq!(shape("tel:+1-800-432-1000"), digits(true, "18004321000"));
        assert_eq!(shape("TEL:0049 30/1234567;phone-context=+49"), digits(false, "0049301234567"));
        assert_eq!(shape("  0015972526123586 "), digits(false, "0015972526123586"));
    }

    #[test]
    fn service_names_and_garbage() {
        assert_eq!(shape("*97"), Shape::Service("*97".into()));
        assert_eq!(shape("#31#+49 30 1234567"), Shape::Service("#31#+49301234567".into()));
        assert_eq!(shape("admin"), Shape::Name("admin".into()));
        assert_eq!(shape("1-800-FLOWERS"), Shape::Name("1-800-FLOWERS".into()));
        assert_eq!(shape("Ωμέγα"), Shape::Name("Ωμέγα".into()));
        for bad in ["", "   ", "+", "---", "()", "49+30", "++49", "%FF%FE", "12\u{0}34", "\u{1b}[2J", ";;"] {
            assert_eq!(shape(bad), Shape::Invalid, "{bad:?}");
        }
        assert_eq!(shape(&"1".repeat(MAX_DIGITS + 1)), Shape::Invalid);
        assert_eq!(shape(&"a".repeat(MAX_USER_LEN + 1)), Shape::Invalid);
    }
}
