use std::net::SocketAddr;

use proptest::prelude::*;

use crate::testutil::*;
use crate::*;

const SEC: i64 = 1_000_000_000;
const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags(0x11);
const RST: TcpFlags = TcpFlags::RST;

fn key() -> StreamKey {
    StreamKey { src: "192.0.2.1:40000".parse().unwrap(), dst: "192.0.2.2:5060".parse().unwrap() }
}

fn key_n(n: u16) -> StreamKey {
    StreamKey { src: SocketAddr::from(([192, 0, 2, 1], n)), dst: "192.0.2.2:5060".parse().unwrap() }
}

fn buf(r: &TcpReassembler, p: &Pushed) -> Vec<u8> {
    r.stream_buffer(p.stream.unwrap()).to_vec()
}

/// A minimal SIP framing for the tests: header block plus Content-Length body.
fn frame(b: &[u8]) -> Option<usize> {
    let end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&b[..end]).ok()?;
    let len: usize =
        head.lines().find_map(|l| l.strip_prefix("Content-Length:")).map_or(Some(0), |v| v.trim().parse().ok())?;
    (b.len() >= end + len).then_some(end + len)
}

/// Frames and consumes every complete message in the stream's buffer.
fn drain_messages(r: &mut TcpReassembler, id: StreamId) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(n) = frame(r.stream_buffer(id)) {
        out.push(r.stream_buffer(id)[..n].to_vec());
        r.consume(id, n);
    }
    out
}

#[test]
fn in_order_with_syn() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    let p = r.push(0, key(), 999, SYN, b"");
    assert!(p.opened && p.stream.is_some() && p.new_bytes == 0);
    let p = r.push(1, key(), 1000, ACK, b"abc");
    assert_eq!((p.new_bytes, p.opened, buf(&r, &p)), (3, false, b"abc".to_vec()));
    let p = r.push(2, key(), 1003, ACK, b"def");
    assert_eq!(buf(&r, &p), b"abcdef");
    assert_eq!(r.buffered_bytes(), 6);
    r.consume(p.stream.unwrap(), 4);
    assert_eq!(buf(&r, &p), b"ef");
    assert_eq!(r.buffered_bytes(), 2);
    r.consume(p.stream.unwrap(), 100);
    assert_eq!((buf(&r, &p), r.buffered_bytes()), (vec![], 0));
}

#[test]
fn directions_are_separate_and_syn_is_optional() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    let a = r.push(0, key(), 5000, ACK, b"request");
    let b = r.push(0, key().reversed(), 9000, ACK, b"response");
    assert_ne!(a.stream, b.stream);
    assert_eq!((buf(&r, &a), buf(&r, &b)), (b"request".to_vec(), b"response".to_vec()));
    assert_eq!(r.stream_id(&key()), a.stream);
    assert_eq!(r.key(b.stream.unwrap()), Some(key().reversed()));
    // Data from before the first segment seen is old.
    let p = r.push(0, key(), 4990, ACK, b"0123456789");
    assert_eq!(p.new_bytes, 0);
    assert_eq!(r.stats().retransmitted, 1);
    // A pure ACK of an unknown stream starts nothing.
    let p = r.push(0, key_n(1), 1, ACK, b"");
    assert_eq!(p.stream, None);
    assert_eq!(r.stats().ignored, 1);
}

#[test]
fn out_of_order() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    r.push(0, key(), 99, SYN, b"");
    let p = r.push(0, key(), 106, ACK, b"ghi");
    assert_eq!((p.new_bytes, buf(&r, &p)), (0, vec![]));
    assert_eq!(r.buffered_bytes(), 3);
    let p = r.push(0, key(), 103, ACK, b"def");
    assert_eq!(p.new_bytes, 0);
    let p = r.push(0, key(), 100, ACK, b"abc");
    assert_eq!((p.new_bytes, buf(&r, &p)), (9, b"abcdefghi".to_vec()));
    assert_eq!((r.stats().out_of_order, p.gap), (2, None));
}

#[test]
fn retransmission_and_overlap() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    r.push(0, key(), 0, ACK, b"abcd");
    let p = r.push(0, key(), 0, ACK, b"abcd");
    assert_eq!(p.new_bytes, 0);
    let p = r.push(0, key(), 2, ACK, b"cdef");
    assert_eq!((p.new_bytes, buf(&r, &p)), (2, b"abcdef".to_vec()));
    // Overlaps among out-of-order pieces: the first bytes received win.
    r.push(0, key(), 10, ACK, b"KLMN");
    r.push(0, key(), 8, ACK, b"ijXXXXop");
    let p = r.push(0, key(), 6, ACK, b"gh");
    assert_eq!(buf(&r, &p), b"abcdefghijKLMNop");
    let s = r.stats();
    assert_eq!((s.retransmitted, s.overlapping), (1, 2));
}

#[test]
fn sip_message_split_across_three_segments() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    let (a, rest) = SIP_OPTIONS.split_at(40);
    let (b, c) = rest.split_at(100);
    let mut seq = 7;
    let mut got = Vec::new();
    for part in [a, b, c] {
        let p = r.push(0, key(), seq, ACK, part);
        seq += part.len() as u32;
        got.extend(drain_messages(&mut r, p.stream.unwrap()));
        if part != c {
            assert!(got.is_empty());
        }
    }
    assert_eq!(got, [SIP_OPTIONS.to_vec()]);
    assert_eq!(r.buffered_bytes(), 0);
}

#[test]
fn two_messages_in_one_segment_and_one_split() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    let body = b"INFO sip:a SIP/2.0\r\nContent-Length: 5\r\n\r\nhello";
    let stream = [SIP_OPTIONS, body, SIP_OPTIONS].concat();
    let cut = SIP_OPTIONS.len() + body.len() + 10;
    let p = r.push(0, key(), 1, ACK, &stream[..cut]);
    let id = p.stream.unwrap();
    assert_eq!(drain_messages(&mut r, id), [SIP_OPTIONS.to_vec(), body.to_vec()]);
    assert_eq!(r.stream_buffer(id), &SIP_OPTIONS[..10]);
    r.push(0, key(), 1 + cut as u32, ACK, &stream[cut..]);
    assert_eq!(drain_messages(&mut r, id), [SIP_OPTIONS.to_vec()]);
}

#[test]
fn sequence_wraparound() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    let isn = u32::MAX - 3;
    r.push(0, key(), isn, SYN, b"");
    // Bytes at MAX-2 .. MAX, then 0 .. : sent out of order.
    r.push(0, key(), 1, ACK, b"ef");
    r.push(0, key(), u32::MAX, ACK, b"cd");
    let p = r.push(0, key(), u32::MAX - 2, ACK, b"ab");
    assert_eq!(buf(&r, &p), b"abcdef");
    let p = r.push(0, key(), 3, FIN | ACK, b"g");
    assert_eq!(buf(&r, &p), b"abcdefg");
    assert!(p.finished);
}

#[test]
fn fin_and_rst() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    r.push(0, key(), 0, ACK, b"abc");
    let p = r.push(0, key(), 6, FIN, b"ghi");
    assert!(!p.finished);
    let p = r.push(0, key(), 3, ACK, b"defXYZ-after-fin");
    assert!(p.finished);
    assert_eq!(buf(&r, &p), b"abcdefghi");
    let p = r.push(0, key(), 12, ACK, b"late");
    assert_eq!(p.new_bytes, 0);
    assert!(r.is_finished(p.stream.unwrap()));
    assert_eq!(r.remove(p.stream.unwrap()), Some(b"abcdefghi".to_vec()));
    assert_eq!((r.streams(), r.buffered_bytes()), (0, 0));
    // RST: what is held out of order is delivered past the gap.
    r.push(0, key(), 0, ACK, b"abc");
    r.push(0, key(), 10, ACK, b"xyz");
    let p = r.push(0, key(), 13, RST, b"");
    assert!(p.finished);
    assert_eq!(p.gap, Some(Gap { at: 3, bytes: 7 }));
    assert_eq!(buf(&r, &p), b"abcxyz");
    let s = r.stats();
    assert_eq!((s.streams_finished, s.gaps_skipped, s.gap_bytes), (2, 1, 7));
    // A new SYN on the same ports is a new connection.
    let q = r.push(1, key(), 500, SYN, b"");
    assert!(q.opened);
    assert_eq!(q.removed, [p.stream.unwrap()]);
    assert_eq!(r.stats().streams_replaced, 1);
    // The RST of an unknown stream is ignored.
    assert_eq!(r.push(1, key_n(9), 0, RST, b"").stream, None);
}

#[test]
fn fin_drops_pending_data_past_it() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    r.push(0, key(), 0, ACK, b"abc");
    r.push(0, key(), 10, ACK, b"xyz");
    r.push(0, key(), 5, ACK, b"mnop");
    assert_eq!(r.buffered_bytes(), 10);
    let p = r.push(0, key(), 7, FIN, b"");
    assert!(!p.finished);
    assert_eq!(r.buffered_bytes(), 5);
    let p = r.push(0, key(), 3, ACK, b"de");
    assert!(p.finished);
    assert_eq!(buf(&r, &p), b"abcdemn");
    assert_eq!(r.stats().streams_finished, 1);
}

#[test]
fn gap_skipped_by_pending_limits() {
    let limits = TcpLimits { max_pending_bytes: 8, max_pending_segments: 2, ..TcpLimits::default() };
    let mut r = TcpReassembler::new(limits);
    r.push(0, key(), 0, ACK, b"ab");
    r.push(0, key(), 10, ACK, b"0123");
    let p = r.push(0, key(), 14, ACK, b"45678");
    assert_eq!(p.gap, Some(Gap { at: 2, bytes: 8 }));
    assert_eq!(buf(&r, &p), b"ab012345678");
    // Too many pieces.
    r.push(0, key(), 20, ACK, b"a");
    r.push(0, key(), 22, ACK, b"b");
    let p = r.push(0, key(), 24, ACK, b"c");
    assert_eq!(p.gap, Some(Gap { at: 11, bytes: 1 }));
    assert_eq!(buf(&r, &p), b"ab012345678a");
    assert_eq!(r.stats().gaps_skipped, 2);
}

#[test]
fn gap_skipped_after_timeout() {
    let limits = TcpLimits { gap_timeout_ns: 5 * SEC, ..TcpLimits::default() };
    let mut r = TcpReassembler::new(limits);
    let id = r.push(0, key(), 0, ACK, b"ab").stream.unwrap();
    r.push(SEC, key(), 5, ACK, b"fg");
    // In-order progress keeps a far piece waiting.
    let p = r.push(5 * SEC, key(), 2, ACK, b"c");
    assert_eq!((p.gap, p.new_bytes), (None, 1));
    assert_eq!(r.expire(10 * SEC - 1), Expired::default());
    let e = r.expire(10 * SEC);
    assert_eq!(e.flushed, [(id, Gap { at: 3, bytes: 2 })]);
    assert_eq!(r.stream_buffer(id), b"abcfg");
    // On push, too (every gap is skipped).
    r.push(11 * SEC, key(), 9, ACK, b"j");
    let p = r.push(16 * SEC, key(), 12, ACK, b"m");
    assert_eq!(p.gap, Some(Gap { at: 5, bytes: 4 }));
    assert_eq!(r.stream_buffer(id), b"abcfgjm");
}

#[test]
fn unconsumed_overflow_is_a_gap() {
    let mut r = TcpReassembler::new(TcpLimits { max_stream_bytes: 10, ..TcpLimits::default() });
    let p = r.push(0, key(), 0, ACK, b"0123456789abcde");
    assert_eq!((p.new_bytes, p.gap), (10, Some(Gap { at: 10, bytes: 5 })));
    r.consume(p.stream.unwrap(), 4);
    let p = r.push(0, key(), 15, ACK, b"fghij");
    assert_eq!((p.new_bytes, p.gap), (4, Some(Gap { at: 10, bytes: 1 })));
    assert_eq!(buf(&r, &p), b"456789fghi");
    assert_eq!(r.stats().overflow_bytes, 6);
}

#[test]
fn stream_and_memory_caps() {
    let mut r = TcpReassembler::new(TcpLimits { max_streams: 2, ..TcpLimits::default() });
    let a = r.push(0, key_n(1), 0, ACK, b"a").stream.unwrap();
    let b = r.push(1, key_n(2), 0, ACK, b"b").stream.unwrap();
    r.push(2, key_n(1), 1, ACK, b"a");
    let p = r.push(3, key_n(3), 0, ACK, b"c");
    assert_eq!(p.removed, [b]);
    assert_eq!((r.streams(), r.stats().streams_evicted, r.stats().dropped_bytes), (2, 1, 1));
    assert_eq!(r.stream_buffer(a), b"aa");
    assert_eq!(r.stream_buffer(b), b"");

    let mut r = TcpReassembler::new(TcpLimits { max_total_bytes: 10, ..TcpLimits::default() });
    let a = r.push(0, key_n(1), 0, ACK, b"123456").stream.unwrap();
    let p = r.push(1, key_n(2), 0, ACK, b"789012");
    assert_eq!(p.removed, [a]);
    assert_eq!(r.buffered_bytes(), 6);
}

#[test]
fn idle_expiry() {
    let mut r = TcpReassembler::new(TcpLimits { idle_timeout_ns: 10 * SEC, ..TcpLimits::default() });
    let a = r.push(0, key_n(1), 0, ACK, b"a").stream.unwrap();
    let b = r.push(5 * SEC, key_n(2), 0, ACK, b"b").stream.unwrap();
    r.push(9 * SEC, key_n(1), 1, ACK, b"a");
    assert_eq!(r.expire(15 * SEC).removed, [b]);
    assert_eq!(r.expire(19 * SEC).removed, [a]);
    assert_eq!((r.streams(), r.buffered_bytes(), r.stats().streams_expired), (0, 0, 2));
}

#[test]
fn decoded_segments() {
    let mut r = TcpReassembler::new(TcpLimits::default());
    let frame = ipv4([192, 0, 2, 1], [192, 0, 2, 2], PROTO_TCP, &tcp(40000, 5060, 1, 0, ACK, SIP_OPTIONS));
    let d = decode(LinkType::Raw, &frame).unwrap();
    let Layer4::Tcp(seg) = d.transport else { panic!() };
    let p = r.push_segment(0, &d.ip, &seg);
    assert_eq!(r.key(p.stream.unwrap()), Some(key()));
    assert_eq!(drain_messages(&mut r, p.stream.unwrap()), [SIP_OPTIONS.to_vec()]);
}

proptest! {
    /// Any segmentation, order and duplication of a stream reassembles it exactly.
    #[test]
    fn reassembles_any_order(
        isn in prop_oneof![Just(u32::MAX - 50), any::<u32>()],
        cuts in proptest::collection::vec(1usize..300, 1..12),
        perm_seed in proptest::collection::vec(any::<u16>(), 12),
        dups in proptest::collection::vec(any::<u16>(), 0..6),
        syn in any::<bool>(),
    ) {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut bounds: Vec<usize> = cuts.iter().scan(0, |a, c| { *a = (*a + c).min(data.len()); Some(*a) }).collect();
        bounds.insert(0, 0);
        bounds.push(data.len());
        bounds.dedup();
        let mut segs: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        // The first segment stays first when there is no SYN (the stream starts there).
        let first = usize::from(!syn);
        for (i, s) in perm_seed.iter().enumerate() {
            let n = segs.len();
            if n > first + 1 {
                segs.swap(first + i % (n - first), first + usize::from(*s) % (n - first));
            }
        }
        for d in &dups {
            let n = segs.len();
            let s = segs[usize::from(*d) % n];
            segs.push(s);
        }
        let mut r = TcpReassembler::new(TcpLimits::default());
        let start = if syn {
            r.push(0, key(), isn.wrapping_sub(1), SYN, b"");
            isn
        } else {
            isn
        };
        let mut id = None;
        for (a, b) in segs {
            let p = r.push(0, key(), start.wrapping_add(a as u32), ACK, &data[a..b]);
            prop_assert_eq!(p.gap, None);
            id = p.stream;
        }
        prop_assert_eq!(r.stream_buffer(id.unwrap()), &data[..]);
    }

    /// Arbitrary segments never panic and never exceed the limits.
    #[test]
    fn arbitrary_segments_stay_bounded(
        segs in proptest::collection::vec((0u16..4, any::<u32>(), any::<u8>(), 0usize..64, 0i64..100), 0..60),
    ) {
        let limits = TcpLimits {
            max_streams: 3, max_stream_bytes: 100, max_pending_bytes: 50, max_pending_segments: 4,
            max_total_bytes: 200, idle_timeout_ns: 50, gap_timeout_ns: 10,
        };
        let mut r = TcpReassembler::new(limits);
        let mut now = 0;
        for (k, seq, flags, len, dt) in segs {
            now += dt;
            let p = r.push(now, key_n(k), seq % 512, TcpFlags(flags), &vec![b'x'; len]);
            if let Some(id) = p.stream {
                prop_assert!(r.stream_buffer(id).len() <= 100);
                if seq % 3 == 0 { r.consume(id, seq as usize % 50) }
            }
            prop_assert!(r.buffered_bytes() <= 200);
            prop_assert!(r.streams() <= 3);
            if dt > 90 { r.expire(now); }
        }
    }
}
