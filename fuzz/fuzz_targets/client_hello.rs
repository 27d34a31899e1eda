//! The TLS ClientHello recorder (`sipscope::sources::honeypot::net::client_hello`): what a
//! failed handshake sent, attacker bytes. `parse` and `describe` on any input: never a panic;
//! what is read cannot be longer than the input; the description is one line of text with
//! every control character escaped (it goes into records and the human log).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::sources::honeypot::net::client_hello::{describe, parse};

fuzz_target!(|data: &[u8]| {
    let hello = parse(data);
    if let Some(h) = &hello {
        assert!(!data.is_empty());
        let name = h.server_name.as_ref().map_or(0, Vec::len);
        assert!(name + 2 * h.supported_versions.len() <= data.len(), "more read than was sent");
        assert!(h.sslv2 == (data[0] & 0x80 != 0));
        if h.sslv2 {
            assert!(h.record_version.is_none() && h.server_name.is_none() && h.supported_versions.is_empty());
        } else {
            assert_eq!(data[0], 22, "a TLS hello is a handshake record");
        }
    }
    let line = describe(data);
    assert!(!line.chars().any(char::is_control), "an unescaped control character: {line:?}");
    // Fixed words, at most two version names per offered version, the SNI escaped (at most
    // 10 characters per byte, `\u{fffd}`-like escapes included).
    let most = 160 + 20 * hello.as_ref().map_or(0, |h| h.supported_versions.len()) + 10 * data.len();
    assert!(line.len() <= most, "description of {} bytes for {} bytes in", line.len(), data.len());
    assert_eq!(hello.is_none(), line.starts_with("not a TLS ClientHello"));
});
