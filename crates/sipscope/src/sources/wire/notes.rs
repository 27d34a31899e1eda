//! The anomaly names capture decoding adds to a message: facts about how it was captured that
//! its bytes cannot tell. They sit in the events' `anomalies` after the parser's names, are
//! stable like them, and are listed in docs/anomalies.md (a test checks it).

/// The IP header declared more bytes than the capture holds (a snap length, or a crafted
/// length): the message was decoded as far as the bytes go and may be cut short.
pub const IP_TRUNCATED: &str = "ip_truncated";

/// Every name (the table in docs/anomalies.md gives their meaning).
pub const ALL: &[&str] = &[IP_TRUNCATED];

/// The notes of a message from a packet the capture cut, or none.
pub fn of(truncated: bool) -> &'static [&'static str] {
    if truncated {
        &[IP_TRUNCATED]
    } else {
        &[]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_capture_name_is_documented_and_none_is_a_parser_name() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/anomalies.md")).unwrap();
        for name in super::ALL {
            assert!(doc.contains(&format!("| `{name}` |")), "{name} is not in docs/anomalies.md");
            assert!(sipscope_sip::AnomalyKind::from_name(name).is_none(), "{name} is a parser name");
        }
    }
}
