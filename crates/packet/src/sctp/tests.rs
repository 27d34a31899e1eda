use proptest::prelude::*;

use crate::testutil::*;
use crate::*;

const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [192, 0, 2, 2];
const SIP_PPID: u32 = 0;

fn packet(chunks: &[Vec<u8>]) -> Vec<u8> {
    ipv4(A, B, PROTO_SCTP, &sctp(5060, 5060, 0xabcd, chunks))
}

/// Pushes each packet at times 0, 1, 2 … and returns the messages (payload, chunks, cut).
fn run(r: &mut SctpReassembler, packets: &[Vec<u8>]) -> Vec<(Vec<u8>, usize, bool)> {
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let d = decode(LinkType::Raw, p).unwrap();
        let Layer4::Sctp(s) = d.transport else { panic!("{:?}", d.transport) };
        r.push(i as i64, &d.ip, &s, &mut |m| out.push((m.payload.to_vec(), m.chunks, m.cut)));
    }
    out
}

fn messages(packets: &[Vec<u8>]) -> (Vec<(Vec<u8>, usize, bool)>, SctpStats) {
    let mut r = SctpReassembler::new(SctpLimits::default());
    let out = run(&mut r, packets);
    (out, r.stats())
}

#[test]
fn several_whole_chunks_in_one_packet_and_control_chunks_skipped() {
    let p = packet(&[
        sack_chunk(9),
        data_chunk(0x03, 10, 0, 0, SIP_PPID, SIP_OPTIONS),
        data_chunk(0x03, 11, 1, 0, SIP_PPID, b"SIP/2.0 200 OK\r\n\r\n"),
        data_chunk(0x07, 12, 2, 0, SIP_PPID, b"x"),
    ]);
    let (out, stats) = messages(&[p]);
    let got: Vec<&[u8]> = out.iter().map(|m| m.0.as_slice()).collect();
    assert_eq!(got, vec![SIP_OPTIONS, b"SIP/2.0 200 OK\r\n\r\n", b"x"]);
    assert_eq!((stats.data_chunks, stats.messages, stats.reassembled), (3, 3, 0));
}

#[test]
fn fragmented_message_in_any_order_across_packets() {
    let message = [SIP_OPTIONS, &b"v=0\r\n".repeat(300)].concat();
    let frags = data_fragments(100, 3, 7, SIP_PPID, &message, 200);
    assert!(frags.len() > 5);
    for order in
        [(0..frags.len()).collect::<Vec<_>>(), (0..frags.len()).rev().collect(), vec![2, 0, 4, 1, 3, 5, 6, 7, 8]]
    {
        let order: Vec<usize> = order.into_iter().filter(|&i| i < frags.len()).collect();
        let mut packets: Vec<Vec<u8>> = order.iter().map(|&i| packet(&[frags[i].clone()])).collect();
        // The rest in one bundle.
        let rest: Vec<Vec<u8>> = (0..frags.len()).filter(|i| !order.contains(i)).map(|i| frags[i].clone()).collect();
        if !rest.is_empty() {
            packets.push(packet(&rest));
        }
        let (out, stats) = messages(&packets);
        assert_eq!(out, vec![(message.clone(), frags.len(), false)], "order {order:?}");
        assert_eq!((stats.reassembled, stats.fragments_dropped), (1, 0));
    }
}

#[test]
fn tsn_wraps_and_retransmissions_are_dropped() {
    let message = b"INVITE sip:1@x SIP/2.0\r\n\r\nbody".to_vec();
    let frags = data_fragments(u32::MAX - 1, 0, 0, SIP_PPID, &message, 8);
    let mut packets: Vec<Vec<u8>> = frags.iter().map(|f| packet(std::slice::from_ref(f))).collect();
    packets.insert(1, packets[0].clone());
    let whole = packet(&[data_chunk(0x03, 40, 0, 1, SIP_PPID, SIP_OPTIONS)]);
    packets.push(whole.clone());
    packets.push(whole);
    let (out, stats) = messages(&packets);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0, message);
    assert_eq!(stats.retransmitted, 2);
}

#[test]
fn interleaved_streams_and_foreign_edges_do_not_join() {
    // Stream 1's message, TSNs 1..=3, and stream 2's, 4..=5; a lone middle fragment 9 and an
    // E fragment 8 from nowhere: neither completes anything.
    let m1 = data_fragments(1, 1, 0, SIP_PPID, b"OPTIONS sip:a SIP/2.0\r\n\r\n", 10);
    let m2 = data_fragments(4, 2, 0, SIP_PPID, b"REGISTER sip:b SIP/2.0\r\n\r\n", 14);
    assert_eq!((m1.len(), m2.len()), (3, 2));
    let lone = data_chunk(0x00, 9, 1, 0, SIP_PPID, b"middle");
    let end = data_chunk(0x01, 8, 1, 0, SIP_PPID, b"end");
    let packets = vec![
        packet(&[m2[1].clone(), m1[2].clone(), lone, end]),
        packet(&[m1[0].clone(), m2[0].clone()]),
        packet(&[m1[1].clone()]),
    ];
    let mut r = SctpReassembler::new(SctpLimits::default());
    let out = run(&mut r, &packets);
    let got: Vec<&[u8]> = out.iter().map(|m| m.0.as_slice()).collect();
    assert_eq!(got, vec![&b"REGISTER sip:b SIP/2.0\r\n\r\n"[..], b"OPTIONS sip:a SIP/2.0\r\n\r\n"]);
    assert_eq!(r.pending_fragments(), 2);
    r.expire(i64::MAX);
    assert_eq!((r.pending_fragments(), r.pending_bytes(), r.stats().fragments_dropped), (0, 0, 2));
}

#[test]
fn limits_bound_the_state() {
    let limits = SctpLimits {
        max_message_bytes: 100,
        max_pending_bytes: 300,
        max_pending_fragments: 1000,
        max_directions: 2,
        ..SctpLimits::default()
    };
    // A message over max_message_bytes is dropped when complete.
    let big = data_fragments(1, 0, 0, SIP_PPID, &[b'a'; 150], 50);
    let mut r = SctpReassembler::new(limits);
    assert!(run(&mut r, &[packet(&big)]).is_empty());
    assert_eq!((r.stats().over_limit, r.pending_bytes()), (1, 0));
    // Beginnings that never end are held up to max_pending_bytes.
    let starts: Vec<Vec<u8>> =
        (0..20).map(|i| data_chunk(0x02, 100 + 2 * i, 0, i as u16, SIP_PPID, &[b'b'; 50])).collect();
    run(&mut r, &[packet(&starts)]);
    assert!(r.pending_bytes() <= 300, "{}", r.pending_bytes());
    assert!(r.stats().fragments_dropped >= 14);
    // Directions beyond max_directions evict the least recently active.
    let other = |src: [u8; 4], tsn| ipv4(src, B, PROTO_SCTP, &sctp(1, 2, 3, &[data_chunk(0x02, tsn, 0, 0, 0, b"x")]));
    run(&mut r, &[other([10, 0, 0, 1], 1), other([10, 0, 0, 2], 1), other([10, 0, 0, 3], 1)]);
    assert!(r.pending_fragments() <= 2);
    // Time: fragments older than the timeout go.
    let mut r = SctpReassembler::new(SctpLimits { timeout_ns: 10, ..SctpLimits::default() });
    let frags = data_fragments(1, 0, 0, SIP_PPID, b"OPTIONS sip:a SIP/2.0\r\n\r\n", 10);
    let (p1, p2) = (packet(&frags[..1]), packet(&frags[1..]));
    let d = decode(LinkType::Raw, &p1).unwrap();
    let Layer4::Sctp(s) = d.transport else { panic!() };
    r.push(0, &d.ip, &s, &mut |_| panic!("incomplete"));
    let d2 = decode(LinkType::Raw, &p2).unwrap();
    let Layer4::Sctp(s2) = d2.transport else { panic!() };
    let mut got = 0;
    r.push(100, &d2.ip, &s2, &mut |_| got += 1);
    assert_eq!(got, 0, "the first fragment timed out");
    assert_eq!(r.stats().fragments_dropped, 1);
}

#[test]
fn hostile_chunk_lengths() {
    let ok = data_chunk(0x03, 1, 0, 0, 0, SIP_OPTIONS);
    // Length below the DATA header, length 0, length beyond the packet.
    for value in [15u16, 0, 3, 9999] {
        let mut bad = data_chunk(0x03, 2, 0, 0, 0, b"OPTIONS x SIP/2.0\r\n\r\n");
        bad[2..4].copy_from_slice(&value.to_be_bytes());
        let (out, stats) = messages(&[packet(&[ok.clone(), bad, ok.clone()])]);
        assert_eq!(out.len(), 1, "length {value}: only the chunk before is read");
        assert_eq!(stats.malformed_packets, 1, "length {value}");
    }
    // Non-UTF-8 user data is handed out as it is.
    let (out, _) = messages(&[packet(&[data_chunk(0x03, 1, 0, 0, 0, &[0xff, 0xfe, 0])])]);
    assert_eq!(out[0].0, [0xff, 0xfe, 0]);
    // An empty SCTP packet (header only) has no chunks.
    let (out, stats) = messages(&[ipv4(A, B, PROTO_SCTP, &sctp(1, 2, 3, &[]))]);
    assert!(out.is_empty() && stats.malformed_packets == 0);
}

#[test]
fn a_packet_the_capture_cut_hands_out_what_there_is() {
    let mut p = packet(&[data_chunk(0x03, 1, 0, 0, 0, SIP_OPTIONS)]);
    p.truncate(p.len() - 40);
    let d = decode(LinkType::Raw, &p).unwrap();
    assert!(d.truncated);
    let Layer4::Sctp(s) = d.transport else { panic!() };
    let mut r = SctpReassembler::new(SctpLimits::default());
    let mut out = Vec::new();
    r.push(0, &d.ip, &s, &mut |m| out.push((m.payload.to_vec(), m.cut)));
    assert_eq!(out, vec![(p[20 + 12 + 16..].to_vec(), true)]);
    assert_eq!(r.stats().malformed_packets, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes as chunks, any order of fragment packets: no panic, and the state stays within
    /// its limits.
    #[test]
    fn arbitrary_chunks_stay_bounded(chunks in proptest::collection::vec(any::<u8>(), 0..600), cut in any::<bool>()) {
        let limits = SctpLimits { max_pending_bytes: 256, max_pending_fragments: 8, max_directions: 2, ..SctpLimits::default() };
        let mut r = SctpReassembler::new(limits);
        let s = Sctp { sport: 1, dport: 2, vtag: 3, chunks: &chunks, truncated: cut };
        let empty = packet(&[]);
        let d = decode(LinkType::Raw, &empty).unwrap();
        let mut n = 0usize;
        r.push(0, &d.ip, &s, &mut |m| n += m.payload.len());
        prop_assert!(n <= chunks.len());
        prop_assert!(r.pending_bytes() <= 256 && r.pending_fragments() <= 8);
    }

    #[test]
    fn fragments_in_any_order_make_the_message(len in 1usize..2000, size in 1usize..300, seed in any::<u64>()) {
        let message: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut frags = data_fragments(seed as u32, 5, 9, 0, &message, size);
        prop_assume!(frags.len() <= 256);
        // A deterministic shuffle from the seed.
        let n = frags.len();
        for i in 0..n {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % n as u64) as usize;
            frags.swap(i, j);
        }
        let packets: Vec<Vec<u8>> = frags.chunks(3).map(packet).collect();
        let (out, _) = messages(&packets);
        prop_assert_eq!(out, vec![(message, n, false)]);
    }
}
