//! The HEP decoder (sipscope-hep): any bytes as a datagram, and as a stream framed packet by
//! packet. Whatever decodes must inflate within the limit (or fail with an error), and a
//! HEPv3 packet must encode back to bytes that decode to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope_hep::{decode, encode, frame, Framed, Limits, Version};

fn check(bytes: &[u8], limits: &Limits) {
    let Ok(packet) = decode(bytes, limits) else { return };
    if let Ok(payload) = packet.payload_bytes(limits) {
        assert!(payload.len() <= limits.max_inflated_bytes.max(bytes.len()));
    }
    let _ = packet.time_ns();
    if packet.version == Version::V3 {
        // A packet read from at most 65535 bytes fits again, unless a 16-bit capture id chunk
        // (written back with 32 bits) takes it past.
        match encode(&packet) {
            Ok(again) => assert_eq!(decode(&again, limits).as_ref(), Ok(&packet)),
            Err(e) => assert!(bytes.len() + 2 > usize::from(u16::MAX), "{e}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_other_chunks: 8, max_inflated_bytes: 4096 };
    check(data, &limits);
    // As a stream: frame, decode, go on until the stream cannot be framed.
    let mut rest = data;
    while let Framed::Complete(len) = frame(rest) {
        let Some((packet, tail)) = rest.split_at_checked(len) else { panic!("frame past the buffer") };
        check(packet, &limits);
        rest = tail;
    }
});
