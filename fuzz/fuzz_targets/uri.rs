//! URI parsing (sip, sips, tel, other schemes), its accessors, and the name-addr and Via
//! parsers that embed URIs and host[:port].
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope_sip::typed::{NameAddr, Via};
use sipscope_sip::{Scheme, Uri};
use sipscope_sip_fuzz::{touch_name_addr, touch_uri, touch_via, within};

fuzz_target!(|data: &[u8]| {
    if let Ok(uri) = Uri::parse(data) {
        touch_uri(&uri);
        for span in [uri.raw, uri.scheme_raw, uri.host, uri.params, uri.opaque] {
            assert!(span.is_empty() || within(data, span));
        }
        for span in [uri.user, uri.password, uri.headers].into_iter().flatten() {
            assert!(span.is_empty() || within(data, span));
        }
        if matches!(uri.scheme, Scheme::Sip | Scheme::Sips) {
            assert!(!uri.host.is_empty());
        }
    }
    let na = NameAddr::parse(data);
    touch_name_addr(&na);
    assert!(na.raw.is_empty() || within(data, na.raw));
    if let Some(via) = Via::parse(data) {
        touch_via(&via);
        assert!(within(data, via.raw));
    }
});
