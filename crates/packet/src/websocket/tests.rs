use proptest::prelude::*;

use super::*;
use crate::testutil::{ws_frame, SIP_OPTIONS, WS_UPGRADE_REQUEST, WS_UPGRADE_RESPONSE};

const MASK: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

/// Messages as (text, payload, frames).
type Messages = Vec<(bool, Vec<u8>, usize)>;

/// Reads `buf` in pieces of `step` bytes as a reassembled stream would deliver them; returns
/// the messages, what was consumed in all, and the last error.
fn read_all(buf: &[u8], step: usize, limits: WsLimits) -> (Messages, WsStats, Option<&'static str>) {
    let mut ws = WsStream::new(limits);
    let mut stats = WsStats::default();
    let mut out = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    let mut invalid = None;
    for piece in buf.chunks(step.max(1)) {
        held.extend_from_slice(piece);
        let r = ws.read(&held, &mut stats, &mut |m| out.push((m.text, m.payload.to_vec(), m.frames)));
        assert!(r.consumed <= held.len());
        held.drain(..r.consumed);
        if r.invalid.is_some() {
            invalid = r.invalid;
            break;
        }
    }
    (out, stats, invalid)
}

#[test]
fn upgrade_requests_and_responses() {
    let l = WsLimits::default();
    assert_eq!(upgrade(WS_UPGRADE_REQUEST, l), Upgrade::Done { len: WS_UPGRADE_REQUEST.len(), sip: true });
    assert_eq!(upgrade(WS_UPGRADE_RESPONSE, l), Upgrade::Done { len: WS_UPGRADE_RESPONSE.len(), sip: true });
    let with_frame = [WS_UPGRADE_REQUEST, &ws_frame(true, 1, MASK, SIP_OPTIONS)].concat();
    assert_eq!(upgrade(&with_frame, l), Upgrade::Done { len: WS_UPGRADE_REQUEST.len(), sip: true });
    // Bare LF, other case, a list of protocols, no subprotocol.
    let lf = b"GET /ws HTTP/1.1\nupgrade: WebSocket\nsec-websocket-protocol: chat, SIP\n\n";
    assert_eq!(upgrade(lf, l), Upgrade::Done { len: lf.len(), sip: true });
    let plain = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(upgrade(plain, l), Upgrade::Done { len: plain.len(), sip: false });
    assert_eq!(upgrade(b"HTTP/1.1 101\r\n\r\n", l), Upgrade::Done { len: 16, sip: false });
    // Every cut of a head waits for more.
    for n in 1..WS_UPGRADE_REQUEST.len() {
        assert_eq!(upgrade(&WS_UPGRADE_REQUEST[..n], l), Upgrade::NeedMore, "cut at {n}");
    }
    // Not upgrades.
    assert_eq!(upgrade(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", l), Upgrade::No);
    assert_eq!(upgrade(b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n", l), Upgrade::No);
    assert_eq!(upgrade(b"HTTP/1.1 1010 x\r\n\r\n", l), Upgrade::No);
    assert_eq!(upgrade(SIP_OPTIONS, l), Upgrade::No);
    assert_eq!(upgrade(b"", l), Upgrade::No);
    assert_eq!(upgrade(&[0xff; 10], l), Upgrade::No);
    // A head over the limit, finished or not.
    let long = [&b"GET / HTTP/1.1\r\nX: "[..], &vec![b'a'; 9000], b"\r\nUpgrade: websocket\r\n\r\n"].concat();
    assert_eq!(upgrade(&long, l), Upgrade::No);
    assert_eq!(upgrade(&long[..8500], l), Upgrade::No);
    // Non-UTF-8 in the head is only bytes.
    let odd = b"GET /\xff\xfe HTTP/1.1\r\nUpgrade: websocket\r\nX: \xc3\x28\r\n\r\n";
    assert_eq!(upgrade(odd, l), Upgrade::Done { len: odd.len(), sip: false });
}

#[test]
fn masked_and_unmasked_frames_of_every_length_form() {
    let big = [SIP_OPTIONS, &vec![b'x'; 70_000]].concat();
    for payload in [&SIP_OPTIONS[..10], SIP_OPTIONS, &big[..300], &big] {
        for mask in [None, MASK] {
            let frame = ws_frame(true, OP_TEXT, mask, payload);
            for step in [frame.len(), 1, 7, 1000] {
                let (out, stats, invalid) = read_all(&frame, step, WsLimits::default());
                assert_eq!(invalid, None);
                assert_eq!(out, vec![(true, payload.to_vec(), 1)], "len {} mask {mask:?} step {step}", payload.len());
                assert_eq!(stats.messages, 1);
            }
        }
    }
}

#[test]
fn fragmented_messages_with_control_frames_between() {
    let msg = SIP_OPTIONS;
    let mut stream = Vec::new();
    stream.extend(ws_frame(false, OP_TEXT, MASK, &msg[..20]));
    stream.extend(ws_frame(true, 9, MASK, b"ping"));
    stream.extend(ws_frame(false, OP_CONTINUATION, Some([1, 2, 3, 4]), &msg[20..100]));
    stream.extend(ws_frame(false, OP_CONTINUATION, None, b""));
    stream.extend(ws_frame(true, OP_CONTINUATION, MASK, &msg[100..]));
    stream.extend(ws_frame(true, OP_BINARY, None, b"SIP/2.0 200 OK\r\n\r\n"));
    stream.extend(ws_frame(true, 8, None, &[3, 232]));
    for step in [stream.len(), 1, 5, 64] {
        let (out, stats, invalid) = read_all(&stream, step, WsLimits::default());
        assert_eq!(invalid, None);
        assert_eq!(out, vec![(true, msg.to_vec(), 4), (false, b"SIP/2.0 200 OK\r\n\r\n".to_vec(), 1)], "step {step}");
        assert_eq!((stats.frames, stats.messages, stats.broken), (7, 2, 0));
    }
}

#[test]
fn hostile_frames() {
    let l = WsLimits { max_message_bytes: 100, ..WsLimits::default() };
    // Over the limit: skipped to its end (one frame, then a fragmented one), the next is read.
    let mut s = ws_frame(true, OP_TEXT, MASK, &[b'a'; 101]);
    s.extend(ws_frame(false, OP_TEXT, None, &[b'b'; 60]));
    s.extend(ws_frame(false, OP_CONTINUATION, None, &[b'b'; 60]));
    s.extend(ws_frame(true, OP_CONTINUATION, None, &[b'b'; 10]));
    s.extend(ws_frame(true, OP_TEXT, MASK, b"ok"));
    for step in [s.len(), 3] {
        let (out, stats, _) = read_all(&s, step, l);
        assert_eq!(out, vec![(true, b"ok".to_vec(), 1)]);
        assert_eq!(stats.over_limit, 2);
    }
    // A declared length of 2^62 is skipped, never allocated.
    let mut huge = vec![0x81, 127];
    huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
    huge.extend_from_slice(&[b'z'; 1000]);
    let (out, stats, invalid) = read_all(&huge, 100, l);
    assert!(out.is_empty() && invalid.is_none());
    assert_eq!(stats.over_limit, 1);
    // Impossible headers end the stream.
    for bad in [
        vec![0x83, 0],
        vec![0x8f, 0],
        vec![0x09, 0],
        vec![0x89, 126, 0, 200],
        [&[0x81, 127, 0x80][..], &[0; 7]].concat(),
    ] {
        let (_, _, invalid) = read_all(&bad, 1, l);
        assert!(invalid.is_some(), "{bad:?}");
    }
    // A new message in the middle of a fragmented one, a stray continuation, compression.
    let mut s = ws_frame(false, OP_TEXT, None, b"INVITE");
    s.extend(ws_frame(true, OP_TEXT, None, b"one"));
    s.extend(ws_frame(true, OP_CONTINUATION, None, b"stray"));
    let mut compressed = ws_frame(true, OP_TEXT, None, b"\xf2\x48\xcd");
    compressed[0] |= 0x40;
    s.extend(compressed);
    s.extend(ws_frame(true, OP_TEXT, None, &[0xff, 0xfe]));
    let (out, stats, _) = read_all(&s, 2, l);
    assert_eq!(out, vec![(true, b"one".to_vec(), 1), (true, vec![0xff, 0xfe], 1)]);
    assert_eq!((stats.broken, stats.compressed), (2, 1));
}

#[test]
fn an_unfinished_message_is_kept() {
    let mut ws = WsStream::new(WsLimits::default());
    let s = [
        ws_frame(false, OP_TEXT, MASK, &SIP_OPTIONS[..30]),
        ws_frame(false, OP_CONTINUATION, MASK, &SIP_OPTIONS[30..40]),
    ]
    .concat();
    let r = ws.read(&s, &mut WsStats::default(), &mut |_| panic!("not finished"));
    assert_eq!(r.consumed, s.len());
    assert_eq!(ws.unfinished(), Some(&SIP_OPTIONS[..40]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes, read in any pieces: no panic, consumption within the buffer, messages within
    /// the limit, and the same messages whatever the pieces.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400), step in 1usize..50) {
        let l = WsLimits { max_message_bytes: 64, ..WsLimits::default() };
        let (whole, _, e1) = read_all(&bytes, bytes.len().max(1), l);
        let (pieces, _, e2) = read_all(&bytes, step, l);
        prop_assert!(whole.iter().all(|m| m.1.len() <= 64));
        prop_assert_eq!(e1.is_some(), e2.is_some());
        prop_assert_eq!(whole, pieces);
        let _ = upgrade(&bytes, WsLimits::default());
    }
}
