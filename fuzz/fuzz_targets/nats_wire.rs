//! The NATS wire decoder (`sipscope::sinks::nats::wire`), which reads what any publisher on
//! the broker sent: any bytes decode or are refused, never panicking; a decoded message
//! encodes again to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::sinks::nats::wire::{decode, encode_auth, encode_event, encode_recovery, encode_registration, Decoded};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = decode(data) else { return };
    let mut again = Vec::new();
    match &message.body {
        Decoded::Event(e) => encode_event(message.seq, e, &mut again),
        Decoded::Auth(a) => encode_auth(message.seq, a, &mut again),
        Decoded::Registration(r) => encode_registration(message.seq, r, &mut again),
        Decoded::Recovery(r) => encode_recovery(message.seq, message.sensor(), r, &mut again),
    }
    assert!(again.len() <= data.len(), "the encoding is not longer than what decoded");
    assert_eq!(decode(&again).as_ref(), Ok(&message), "decode → encode → decode");
    let _ = (message.kind().as_str(), message.sensor().len());
});
