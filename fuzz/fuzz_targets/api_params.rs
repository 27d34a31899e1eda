//! The REST API's query parameters (`sipscope::api::params`): any bytes as a query string are
//! decoded strictly or refused, never panicking; what is decoded stays within the limits, and
//! encoding the decoded pairs again (as a browser would) decodes to the same pairs. Every
//! accessor the routes use answers; a cursor that parses round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::api::params::{self, examine, MAX_PARAMETERS, MAX_VALUE};

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let Ok(seen) = examine(query) else { return };
    assert!(seen.pairs.len() <= MAX_PARAMETERS);
    for (k, v) in &seen.pairs {
        assert!(k.len() <= MAX_VALUE && v.len() <= MAX_VALUE);
    }
    let again: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&seen.pairs).finish();
    let decoded = params::decode_query(&again).expect("our own encoding decodes");
    // Empty names with empty values vanish when encoded (`=` alone is kept, `&&` is not).
    let kept: Vec<_> = seen.pairs.iter().filter(|(k, v)| !(k.is_empty() && v.is_empty())).cloned().collect();
    let back: Vec<_> = decoded.into_iter().filter(|(k, v)| !(k.is_empty() && v.is_empty())).collect();
    assert_eq!(back, kept);
    if let Ok(f) = &seen.filter {
        assert!(f.nodes.iter().all(|n| !n.is_empty() && seen.pairs.iter().any(|(k, v)| k == "node" && v == n)));
    }
    if let Ok(limit) = seen.limit {
        assert!((1..=1000).contains(&limit));
    }
    if let Ok(Some(a)) = &seen.address {
        assert!(a.parse::<std::net::IpAddr>().is_ok());
    }
    if let Some(Ok((ts, id))) = seen.cursor {
        let text = format!("{ts}.{id}");
        assert!(matches!(examine(&format!("cursor={text}")).map(|e| e.cursor), Ok(Some(Ok(c))) if c == (ts, id)));
    }
});
