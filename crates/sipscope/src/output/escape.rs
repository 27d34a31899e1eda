//! Escaping of attacker-supplied text for every medium we print to, in one place: a terminal
//! (logs, text reports), HTML (reports, pages) and CSV cells. JSON has its own writer
//! ([`super::json`]), which applies the same rule to control characters.
//!
//! The rule everywhere: nothing an attacker sent may act on the reader. C0 controls, DEL, the
//! C1 controls (U+0080–U+009F, which some terminals obey like ESC) and the bidirectional
//! overrides and isolates (U+202A–U+202E, U+2066–U+2069, which reorder what is shown) are
//! written visibly, never raw.

/// True for characters that must never reach a reader raw.
pub fn is_dangerous(c: char) -> bool {
    let u = c as u32;
    u < 0x20 || (0x7f..0xa0).contains(&u) || (0x202a..=0x202e).contains(&u) || (0x2066..=0x2069).contains(&u)
}

/// Escapes text for a terminal: dangerous characters become `\xNN` (below U+0080) or `\u{…}`,
/// backslashes and double quotes are escaped, and the result is cut at `max` characters.
pub fn terminal(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 2);
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x80 && is_dangerous(c) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_dangerous(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() || is_dangerous(c) => out.push_str(&format!("&#x{:x};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// One CSV cell (RFC 4180 quoting). A cell that a spreadsheet would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, TAB or CR, OWASP's list) gets a leading `'` unless it is a number;
/// dangerous characters are written as `\xNN` / `\u{…}` so that `cat` of the file cannot drive
/// the terminal. Line breaks inside a cell are kept (quoted), as CSV allows.
pub fn csv_cell(v: &str) -> String {
    let defused = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    let mut visible = String::with_capacity(defused.len());
    for c in defused.chars() {
        match c {
            '\n' => visible.push('\n'),
            c if (c as u32) < 0x80 && is_dangerous(c) => visible.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_dangerous(c) => visible.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => visible.push(c),
        }
    }
    if visible.contains([',', '"', '\n']) {
        format!("\"{}\"", visible.replace('"', "\"\""))
    } else {
        visible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_never_get_through() {
        assert_eq!(terminal("a\x1b[31mb\u{9b}c\\\"", 100), "a\\x1b[31mb\\u{9b}c\\\\\\\"");
        assert_eq!(terminal("abcdef", 3), "abc…");
        assert_eq!(terminal("x\u{202e}y\u{7f}\0", 10), "x\\u{202e}y\\x7f\\x00");
    }

    #[test]
    fn html_is_inert() {
        assert_eq!(
            html("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(html("a\x1b\u{202e}"), "a&#x1b;&#x202e;");
    }

    #[test]
    fn csv_quotes_defuses_formulas_and_hides_controls() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("-5"), "-5");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("\t=1+2"), "'\\x09=1+2");
        assert_eq!(csv_cell("\rx"), "'\\x0dx");
        assert_eq!(csv_cell("a\x1b[2Jb\u{85}"), "a\\x1b[2Jb\\u{85}");
    }
}
