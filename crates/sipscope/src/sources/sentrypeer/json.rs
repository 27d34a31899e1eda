//! SentryPeer's JSON log (`--json-log`, `-j`): one compact JSON object per line with the
//! bad actor's fields, every value a string. Lines are read with a bound on their length; a
//! line that is too long, not JSON, not an object or of the wrong types is refused with its
//! number and the rest of the file is still read.

use super::row::{ImportLimits, Row, RowError};
use std::io::BufRead;

/// Why a line was refused.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Longer than `max_line_bytes`.
    #[error("line is longer than {0} bytes")]
    TooLong(usize),
    /// Not a JSON value (truncated, not UTF-8 …).
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// An object whose fields SentryPeer would not write.
    #[error(transparent)]
    Row(#[from] RowError),
}

/// Reads the next line into `buf` (without its end); at most `max` bytes are kept and the rest
/// of a longer line is consumed. `None` at the end of the input; `Some(true)` for a line cut.
pub fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Option<bool>> {
    buf.clear();
    let (mut any, mut cut) = (false, false);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(cut));
        }
        any = true;
        let (part, used, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if part.len() > room {
            cut = true;
        }
        buf.extend_from_slice(part.get(..room.min(part.len())).unwrap_or_default());
        reader.consume(used);
        if done {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(cut));
        }
    }
}

/// One line's bad actor.
pub fn parse_line(line: &[u8], limits: &ImportLimits) -> Result<Row, LineError> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(LineError::NotJson)?;
    let serde_json::Value::Object(map) = value else { return Err(LineError::NotObject) };
    let text = |field: &'static str| -> Result<Option<String>, RowError> {
        match map.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => {
                Row::check_len(field, s.len(), limits)?;
                Ok((!s.is_empty()).then(|| s.clone()))
            }
            Some(_) => Err(RowError::NotText(field)),
        }
    };
    Ok(Row {
        timestamp: text("event_timestamp")?,
        created_at_utc: None,
        source_ip: text("source_ip")?,
        destination_ip: text("destination_ip")?,
        transport: text("transport_type")?,
        method: text("sip_method")?,
        node_id: text("created_by_node_id")?,
        message: text("sip_message")?.map(String::into_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut reader = std::io::BufReader::with_capacity(4, input);
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        while let Some(cut) = next_line(&mut reader, &mut buf, max).unwrap() {
            out.push((buf.clone(), cut));
        }
        out
    }

    #[test]
    fn lines_are_bounded_and_the_rest_of_a_long_line_is_skipped() {
        let got = lines(b"ab\r\n0123456789\nxy", 5);
        assert_eq!(got, vec![(b"ab".to_vec(), false), (b"01234".to_vec(), true), (b"xy".to_vec(), false)]);
        assert!(lines(b"", 5).is_empty());
        assert_eq!(lines(b"\n", 5), vec![(Vec::new(), false)]);
    }

    #[test]
    fn wrong_types_truncation_and_oversized_fields_are_refused() {
        let limits = ImportLimits { max_field_bytes: 8, ..ImportLimits::default() };
        assert!(matches!(
            parse_line(br#"{"source_ip": 7}"#, &limits),
            Err(LineError::Row(RowError::NotText("source_ip")))
        ));
        assert!(matches!(parse_line(br#"{"source_ip": "1.2.3.4", "sip_me"#, &limits), Err(LineError::NotJson(_))));
        assert!(matches!(parse_line(b"[1]", &limits), Err(LineError::NotObject)));
        assert!(matches!(parse_line(b"{\"source_ip\": \"\xff\"}", &limits), Err(LineError::NotJson(_))));
        assert!(matches!(
            parse_line(br#"{"sip_user_agent": "x", "created_by_node_id": "0123456789"}"#, &limits),
            Err(LineError::Row(RowError::TooLong { field: "created_by_node_id", len: 10, limit: 8 }))
        ));
        let row = parse_line(
            br#"{"source_ip":"192.0.2.1","sip_message":"","transport_type":null}"#,
            &ImportLimits::default(),
        )
        .unwrap();
        assert_eq!((row.source_ip.as_deref(), row.message, row.transport), (Some("192.0.2.1"), None, None));
    }
}
