//! SIP over WebSocket in captures (sipscope-packet `websocket`): the HTTP upgrade, frame
//! headers, and a `WsStream` fed the input in pieces. The first byte sets the piece size and a
//! message limit; the messages must not depend on where the pieces were cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope_packet::websocket::{frame_header, upgrade, FrameHead, Upgrade, WsLimits, WsStats, WsStream};

/// Feeds `data` in pieces of `step` bytes; returns the messages and whether it stopped.
fn read(data: &[u8], step: usize, limits: WsLimits) -> (Vec<(bool, Vec<u8>, usize)>, bool) {
    let mut ws = WsStream::new(limits);
    let mut stats = WsStats::default();
    let mut held = Vec::new();
    let mut out = Vec::new();
    for piece in data.chunks(step.max(1)) {
        held.extend_from_slice(piece);
        let r = ws.read(&held, &mut stats, &mut |m| {
            assert!(m.payload.len() <= limits.max_message_bytes);
            assert!(m.frames >= 1);
            out.push((m.text, m.payload.to_vec(), m.frames));
        });
        assert!(r.consumed <= held.len());
        held.drain(..r.consumed);
        if r.invalid.is_some() {
            return (out, true);
        }
    }
    if let Some(partial) = ws.unfinished() {
        assert!(partial.len() <= limits.max_message_bytes);
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let limits = WsLimits {
        max_handshake_bytes: 64 + usize::from(control & 0x0f) * 32,
        max_message_bytes: usize::from(control >> 4) * 40,
    };
    match upgrade(data, limits) {
        Upgrade::Done { len, .. } => assert!(len <= data.len() && len <= limits.max_handshake_bytes),
        Upgrade::NeedMore => assert!(data.len() <= limits.max_handshake_bytes || data.len() < 7),
        Upgrade::No => {}
    }
    if let FrameHead::Frame(h) = frame_header(data) {
        assert!(h.header_len <= data.len() && (2..=14).contains(&h.header_len));
    }
    let whole = read(data, data.len(), limits);
    let step = usize::from(control & 0x07) + 1;
    assert_eq!(whole, read(data, step, limits), "messages depend on the read boundaries");
});
