//! A small JSON writer for attacker-supplied bytes.
//!
//! Strings are written from raw bytes: valid UTF-8 passes through; each byte of an invalid
//! sequence becomes the text `\xNN` (written in JSON as `"\\xNN"`), so nothing is dropped.
//! Control characters, DEL, the C1 controls (U+0080–U+009F, which some terminals obey as escape
//! sequences) and U+2028/U+2029 are written as `\u` escapes, so output is safe to print on a
//! terminal and to embed in a page.

/// Makes JSON text that `serde_json` wrote inert for a terminal and a page: DEL, the C1
/// controls, U+2028/U+2029 and the bidirectional overrides and isolates become `\u` escapes
/// (serde_json escapes only the C0 controls). Those characters can only stand inside strings,
/// so the result is the same JSON value.
pub fn inert(json: String) -> String {
    // C0 controls are left alone: serde_json escapes them inside strings, and outside strings
    // they are the layout of pretty-printed JSON.
    let risky = |c: char| {
        (c as u32) >= 0x7f && (crate::output::escape::is_dangerous(c) || matches!(c, '\u{2028}' | '\u{2029}'))
    };
    if !json.chars().any(risky) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if risky(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds JSON into a byte buffer. The caller pairs begin/end calls and writes a value after
/// every [`JsonWriter::key`]; commas are placed by the writer.
#[derive(Debug, Default)]
pub struct JsonWriter {
    out: Vec<u8>,
    /// One entry per open container: does it have a member yet?
    has_member: Vec<bool>,
    /// A key was just written: the next value belongs to it and takes no comma.
    after_key: bool,
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        JsonWriter::default()
    }

    /// Takes the finished bytes, leaving the writer empty.
    pub fn take(&mut self) -> Vec<u8> {
        debug_assert!(self.has_member.is_empty(), "unclosed JSON container");
        std::mem::take(&mut self.out)
    }

    fn separator(&mut self) {
        if std::mem::take(&mut self.after_key) {
            return;
        }
        if let Some(has) = self.has_member.last_mut() {
            if *has {
                self.out.push(b',');
            }
            *has = true;
        }
    }

    /// Opens an object.
    pub fn begin_object(&mut self) {
        self.separator();
        self.out.push(b'{');
        self.has_member.push(false);
    }

    /// Closes an object.
    pub fn end_object(&mut self) {
        self.has_member.pop();
        self.out.push(b'}');
    }

    /// Opens an array.
    pub fn begin_array(&mut self) {
        self.separator();
        self.out.push(b'[');
        self.has_member.push(false);
    }

    /// Closes an array.
    pub fn end_array(&mut self) {
        self.has_member.pop();
        self.out.push(b']');
    }

    /// Writes an object key; the next call writes its value.
    pub fn key(&mut self, key: &str) {
        self.separator();
        write_string(&mut self.out, key.as_bytes());
        self.out.push(b':');
        self.after_key = true;
    }

    /// A string from raw bytes.
    pub fn bytes(&mut self, value: &[u8]) {
        self.separator();
        write_string(&mut self.out, value);
    }

    /// A string or `null`.
    pub fn opt_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => self.bytes(v),
            None => self.null(),
        }
    }

    /// An unsigned number.
    pub fn number(&mut self, value: u64) {
        self.separator();
        self.out.extend_from_slice(value.to_string().as_bytes());
    }

    /// A signed number.
    pub fn int(&mut self, value: i64) {
        self.separator();
        self.out.extend_from_slice(value.to_string().as_bytes());
    }

    /// A whole JSON value that sipscope itself wrote (with this writer or `serde_json`),
    /// copied as it is: never for text from outside.
    pub fn value(&mut self, json: &str) {
        self.separator();
        self.out.extend_from_slice(json.as_bytes());
    }

    /// A number or `null`.
    pub fn opt_number(&mut self, value: Option<u64>) {
        match value {
            Some(v) => self.number(v),
            None => self.null(),
        }
    }

    /// `true` / `false`.
    pub fn boolean(&mut self, value: bool) {
        self.separator();
        self.out.extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// `null`.
    pub fn null(&mut self) {
        self.separator();
        self.out.extend_from_slice(b"null");
    }
}

/// Writes `bytes` as a JSON string (see the module documentation for the escaping rules).
pub fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                write_str(out, valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // Only the prefix checked valid; from_utf8 on it cannot fail.
                write_str(out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len());
                for b in &after[..bad] {
                    out.extend_from_slice(format!("\\\\x{b:02x}").as_bytes());
                }
                rest = &after[bad..];
            }
        }
    }
    out.push(b'"');
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            _ => None,
        };
        let needs_u = matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}');
        if escape.is_none() && !needs_u {
            continue;
        }
        out.extend_from_slice(&s.as_bytes()[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_output_is_made_inert_and_stays_the_same_value() {
        let value = serde_json::json!({ "agent": "a\u{7f}b\u{9b}[2Jc\u{202e}d\u{2028}e\u{1b}", "n": 1 });
        let text = inert(serde_json::to_string_pretty(&value).unwrap());
        assert!(
            text.chars().all(|c| !(c as u32 >= 0x7f && (c as u32) < 0xa0) && c != '\u{202e}' && c != '\u{1b}'),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
        assert_eq!(inert("{\"a\":\"plain\"}".into()), "{\"a\":\"plain\"}");
    }

    fn string(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        write_string(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_controls_and_invalid_utf8() {
        assert_eq!(string(b"plain"), "\"plain\"");
        assert_eq!(string(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string(b"\x1b[31mred\x07"), r#""\u001b[31mred\u0007""#);
        assert_eq!(string("\u{9b}31m".as_bytes()), r#""\u009b31m""#);
        assert_eq!(string(b"ok\xff\xfeend"), r#""ok\\xff\\xfeend""#);
        assert_eq!(string("снова".as_bytes()), "\"снова\"");
        // Every output decodes as JSON.
        let decoded: String = serde_json::from_str(&string(b"x\xc3(\x00")).unwrap();
        assert_eq!(decoded, "x\\xc3(\u{0}");
    }

    #[test]
    fn nesting_and_commas() {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("a");
        w.number(1);
        w.key("b");
        w.begin_array();
        w.bytes(b"x");
        w.null();
        w.begin_object();
        w.end_object();
        w.end_array();
        w.key("c");
        w.boolean(true);
        w.end_object();
        let text = String::from_utf8(w.take()).unwrap();
        assert_eq!(text, r#"{"a":1,"b":["x",null,{}],"c":true}"#);
        let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    }
}
