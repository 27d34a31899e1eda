//! Authorization / WWW-Authenticate values: Credentials::parse and Challenge::parse, then
//! verify (and the prepared wordlist path) with a fixed password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope_sip::digest::{response_for_password, verify, Credentials, PreparedCredentials};
use sipscope_sip_fuzz::{touch_digest, within, PASSWORD};

fuzz_target!(|data: &[u8]| {
    touch_digest(data);
    if let Ok(creds) = Credentials::parse(data) {
        assert!(within(data, creds.scheme));
        for p in &creds.params {
            assert!(p.name.is_empty() || within(data, p.name));
            assert!(p.value.is_empty() || within(data, p.value));
        }
        let verdict = verify(&creds, b"REGISTER", PASSWORD);
        let response = response_for_password(&creds, b"REGISTER", PASSWORD);
        assert_eq!(response.is_some(), PreparedCredentials::new(&creds, b"REGISTER").is_ok());
        if verdict.is_ok() {
            // Only possible when the sent response is the one for PASSWORD (raw or unescaped).
            assert!(response.is_some());
        }
    }
});
