//! Stream framing as a TCP reader does it: the input (after a first byte that picks the read
//! size and the limits) arrives in fixed-size reads; complete frames are taken off the front of
//! the buffer and parsed as stream messages. Reading it all at once must give the same frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope_sip::framing::FrameLimits;
use sipscope_sip::{Framing, Message, ParseLimits};
use sipscope_sip_fuzz::{check_spans, frame_stream};

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x3f) + 1;
    let limits = if control & 0x40 == 0 {
        FrameLimits::default()
    } else {
        FrameLimits { max_header_bytes: 256, max_body_bytes: 128 }
    };
    let chunked = frame_stream(stream, chunk, limits);
    let whole = frame_stream(stream, stream.len(), limits);
    // Where reads end must not change anything, giving up included (a header section near
    // `max_header_bytes` once did: see docs/fuzzing.md).
    assert_eq!(chunked, whole);
    for frame in &chunked.frames {
        // A frame need not be SIP (framing only finds the blank line and Content-Length).
        // (The parse target touches every accessor; here the spans and the body matter.)
        if let Ok(msg) = Message::parse_with(frame, Framing::Stream, ParseLimits::default()) {
            check_spans(frame, &msg);
            // Framing reads Content-Length from the lines after the first one and ends the
            // header section at the first blank line; the parser does both from the start line
            // on. Unless junk came before the start line, they read the same lines.
            let no_junk = msg.junk().iter().all(|b| b" \t\r\n".contains(b));
            if no_junk {
                if let Some(len) = msg.content_length() {
                    assert_eq!(msg.body().len() as u64, len, "framing and parsing agree on the body");
                }
                assert!(msg.trailing().is_empty(), "a stream frame has no bytes past its body");
            }
        }
    }
});
