use proptest::prelude::*;

use crate::testutil::*;
use crate::*;

const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [192, 0, 2, 2];
const SEC: i64 = 1_000_000_000;

fn big_sip() -> Vec<u8> {
    let mut m = SIP_OPTIONS.to_vec();
    m.extend_from_slice(&[b'a'; 700]);
    m
}

/// Pushes a raw IP packet; returns the reassembled datagram, if any.
fn push(defrag: &mut Defragmenter, now: i64, packet: &[u8]) -> Option<Reassembled> {
    let d = decode(LinkType::Raw, packet).unwrap();
    assert_eq!(d.transport, Layer4::Fragment);
    defrag.push(now, &d.ip, d.ip_payload)
}

fn udp_payload(r: &Reassembled) -> Vec<u8> {
    let d = decode_ip_payload(Encap::default(), r.ip, &r.payload).unwrap();
    match d.transport {
        Layer4::Udp(u) => u.payload.to_vec(),
        other => panic!("{other:?}"),
    }
}

fn frags() -> Vec<Vec<u8>> {
    Ipv4::new(A, B, PROTO_UDP).fragments(&udp(5060, 5060, &big_sip()), 256)
}

#[test]
fn in_order() {
    let mut f = Defragmenter::new(DefragLimits::default());
    let frags = frags();
    assert_eq!(frags.len(), 4);
    for p in &frags[..3] {
        assert_eq!(push(&mut f, 0, p), None);
    }
    assert_eq!((f.pending(), f.buffered_bytes()), (1, 768));
    let r = push(&mut f, 1, &frags[3]).unwrap();
    assert_eq!(udp_payload(&r), big_sip());
    assert_eq!((r.fragments, r.overlapped, r.first_seen_ns, r.ip.fragment), (4, false, 0, None));
    assert_eq!(r.ip.src, std::net::IpAddr::from(A));
    assert_eq!((f.pending(), f.buffered_bytes()), (0, 0));
    let s = f.stats();
    assert_eq!((s.fragments, s.reassembled, s.overlapping, s.duplicates), (4, 1, 0, 0));
}

#[test]
fn reversed() {
    let mut f = Defragmenter::new(DefragLimits::default());
    let frags = frags();
    let mut out = None;
    for p in frags.iter().rev() {
        assert!(out.is_none());
        out = push(&mut f, 0, p);
    }
    assert_eq!(udp_payload(&out.unwrap()), big_sip());
}

#[test]
fn duplicated() {
    let mut f = Defragmenter::new(DefragLimits::default());
    let frags = frags();
    push(&mut f, 0, &frags[0]);
    push(&mut f, 0, &frags[0]);
    push(&mut f, 0, &frags[2]);
    push(&mut f, 0, &frags[1]);
    let r = push(&mut f, 0, &frags[3]).unwrap();
    assert!(r.overlapped);
    assert_eq!(r.fragments, 5);
    assert_eq!(udp_payload(&r), big_sip());
    assert_eq!((f.stats().duplicates, f.stats().overlapping), (1, 0));
    // A fragment after completion starts a new datagram, which times out.
    push(&mut f, 0, &frags[3]);
    assert_eq!(f.expire(31 * SEC), 1);
    assert_eq!(f.stats().timed_out, 1);
}

#[test]
fn overlapping_first_wins() {
    let ip = Ipv4::new(A, B, 253);
    let part = |offset: u16, more: bool, data: &[u8]| Ipv4 { offset, more_fragments: more, ..ip.clone() }.build(data);
    let mut f = Defragmenter::new(DefragLimits::default());
    assert_eq!(push(&mut f, 0, &part(8, true, b"BBBBBBBBBBBBBBBB")), None);
    // Overlaps the start of the first fragment: its bytes 8..16 are dropped.
    assert_eq!(push(&mut f, 0, &part(0, true, b"AAAAAAAAXXXXXXXX")), None);
    assert_eq!(f.stats().overlapping, 1);
    let r = push(&mut f, 0, &part(24, false, b"CCCCCCCC")).unwrap();
    assert!(r.overlapped);
    assert_eq!(r.payload, b"AAAAAAAABBBBBBBBBBBBBBBBCCCCCCCC");
    let d = decode_ip_payload(Encap::default(), r.ip, &r.payload).unwrap();
    assert_eq!(d.transport, Layer4::Other { proto: 253, payload: &r.payload });
}

#[test]
fn inconsistent_fragments_are_invalid() {
    let ip = Ipv4::new(A, B, 253);
    let part = |offset: u16, more: bool, data: &[u8]| Ipv4 { offset, more_fragments: more, ..ip.clone() }.build(data);
    let mut f = Defragmenter::new(DefragLimits::default());
    push(&mut f, 0, &part(16, false, b"end"));
    push(&mut f, 0, &part(24, false, b"other end")); // a second, different end
    push(&mut f, 0, &part(16, true, b"past the end...."));
    push(&mut f, 0, &part(65528, true, b"far too far past")); // beyond 65535: drops the datagram
    assert_eq!((f.stats().invalid, f.pending()), (3, 0));
    let mut f = Defragmenter::new(DefragLimits { max_fragments: 2, ..DefragLimits::default() });
    push(&mut f, 0, &part(0, true, b"12345678"));
    push(&mut f, 0, &part(0, true, b"12345678"));
    push(&mut f, 0, &part(8, false, b"x"));
    assert_eq!((f.stats().invalid, f.pending(), f.stats().reassembled), (1, 0, 0));
    // Not a fragment.
    let d = decode(LinkType::Raw, &[0x45, 0, 0, 20, 0, 0, 0, 0, 64, 253, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]).unwrap();
    assert_eq!(f.push(0, &d.ip, d.ip_payload), None);
    assert_eq!(f.stats().fragments, 3);
}

#[test]
fn timeout() {
    let mut f = Defragmenter::new(DefragLimits { timeout_ns: 5 * SEC, ..DefragLimits::default() });
    let frags = frags();
    push(&mut f, 0, &frags[0]);
    push(&mut f, 4 * SEC, &frags[1]);
    assert_eq!(f.expire(5 * SEC - 1), 0);
    // The push itself expires the old datagram; the rest can no longer complete it.
    push(&mut f, 5 * SEC, &frags[2]);
    assert_eq!(push(&mut f, 5 * SEC, &frags[3]), None);
    assert_eq!(f.stats().timed_out, 1);
    assert_eq!(f.pending(), 1);
    assert_eq!(f.expire(i64::MAX), 1);
    assert_eq!(f.expire(i64::MIN), 0);
}

#[test]
fn memory_and_count_caps() {
    let limits = DefragLimits { max_buffered_bytes: 1000, max_datagrams: 3, ..DefragLimits::default() };
    let mut f = Defragmenter::new(limits);
    let datagram = |id: u16| Ipv4 { id, ..Ipv4::new(A, B, PROTO_UDP) }.fragments(&udp(1, 2, &big_sip()), 400);
    // Three first fragments of 400 bytes: the third evicts the first for memory.
    for id in 0..3 {
        push(&mut f, i64::from(id), &datagram(id)[0]);
    }
    assert_eq!((f.pending(), f.buffered_bytes(), f.stats().evicted_memory), (2, 800, 1));
    // Datagram 0 was evicted: its other fragments start over and cannot finish within the cap.
    for (i, p) in datagram(0).iter().enumerate().skip(1) {
        assert_eq!(push(&mut f, 10 + i as i64, p), None);
    }
    assert!(f.buffered_bytes() <= 1000);
    // A fragment larger than the whole budget is dropped.
    let huge = Ipv4 { id: 9, ..Ipv4::new(A, B, PROTO_UDP) }.fragments(&vec![0; 4000], 2000);
    assert_eq!(push(&mut f, 20, &huge[0]), None);
    assert!(f.buffered_bytes() <= 1000);
    // The datagram count cap evicts the oldest.
    let mut f = Defragmenter::new(DefragLimits { max_datagrams: 2, ..DefragLimits::default() });
    for id in 0..3 {
        push(&mut f, 0, &datagram(id)[0]);
    }
    assert_eq!((f.pending(), f.stats().evicted_capacity), (2, 1));
    let mut f = Defragmenter::new(DefragLimits { max_datagrams: 0, ..DefragLimits::default() });
    assert_eq!(push(&mut f, 0, &datagram(1)[0]), None);
    assert_eq!(f.pending(), 0);
}

#[test]
fn ipv6_reversed() {
    let frags = ipv6_fragments(PROTO_UDP, &udp(5060, 5060, &big_sip()), 300, 0xabcd);
    let mut f = Defragmenter::new(DefragLimits::default());
    let mut out = None;
    for p in frags.iter().rev() {
        out = push(&mut f, 0, p);
    }
    let r = out.unwrap();
    assert_eq!((r.ip.id, r.ip.proto, r.ip.version()), (0xabcd, PROTO_UDP, 6));
    assert_eq!(udp_payload(&r), big_sip());
}

#[test]
fn ipv6_fragment_with_destination_options_after_it() {
    // The fragmentable part starts with a destination options header.
    let whole = ipv6_options(PROTO_UDP, &udp(1, 2, b"hello"));
    let (a, b) = whole.split_at(8);
    let mut f = Defragmenter::new(DefragLimits::default());
    push(&mut f, 0, &ipv6(V6_SRC, V6_DST, PROTO_IPV6_FRAG, &ipv6_fragment(PROTO_IPV6_OPTS, 0, true, 5, a)));
    let r = push(&mut f, 0, &ipv6(V6_SRC, V6_DST, PROTO_IPV6_FRAG, &ipv6_fragment(PROTO_IPV6_OPTS, 8, false, 5, b)));
    let r = r.unwrap();
    let d = decode_ip_payload(Encap::default(), r.ip, &r.payload).unwrap();
    assert!(matches!(d.transport, Layer4::Udp(u) if u.payload == b"hello"));
    assert_eq!(d.ip.proto, PROTO_UDP);
}

#[test]
fn fragmented_gre_tunnel_is_decoded_after_reassembly() {
    let inner = ethernet_tagged(&[(0x8100, 7)], ETHERTYPE_IPV4, &ipv4(A, B, PROTO_UDP, &udp(5060, 5060, &big_sip())));
    let outer = Ipv4::new([198, 51, 100, 7], [198, 51, 100, 9], PROTO_GRE);
    let frames: Vec<Vec<u8>> = outer
        .fragments(&gre(GRE_ETHERNET, Some(77), None, false, &inner), 512)
        .iter()
        .map(|p| ethernet_tagged(&[(0x8100, 1)], ETHERTYPE_IPV4, p))
        .collect();
    let mut f = Defragmenter::new(DefragLimits::default());
    let mut done = None;
    for frame in &frames {
        let d = decode(LinkType::Ethernet, frame).unwrap();
        assert_eq!(d.transport, Layer4::Fragment);
        if let Some(r) = f.push(0, &d.ip, d.ip_payload) {
            done = Some((d.encap, r));
        }
    }
    let (encap, r) = done.unwrap();
    let d = decode_ip_payload(encap, r.ip, &r.payload).unwrap();
    assert!(matches!(d.transport, Layer4::Udp(u) if u.payload == big_sip()));
    assert_eq!(d.encap.tunnel.unwrap().kind, TunnelKind::Gre { key: Some(77), seq: None });
    assert_eq!(d.encap.vlans.as_slice(), [1, 7]);
    assert_eq!(d.encap.depth, 2);
}

proptest! {
    #[test]
    fn any_order_with_duplicates_reassembles(
        order in Just((0..6usize).collect::<Vec<_>>()).prop_shuffle(),
        dups in proptest::collection::vec(0..6usize, 0..4),
    ) {
        let message = big_sip();
        let frags = Ipv4::new(A, B, PROTO_UDP).fragments(&udp(5060, 5060, &message), 160);
        prop_assert_eq!(frags.len(), 6);
        let mut f = Defragmenter::new(DefragLimits::default());
        let mut seq: Vec<usize> = dups.clone();
        seq.extend(&order);
        let mut got = None;
        for (n, i) in seq.into_iter().enumerate() {
            if let Some(r) = push(&mut f, 0, &frags[i]) {
                prop_assert!(got.is_none());
                got = Some((n + 1, r));
            }
        }
        // Fragments pushed after completion start a datagram that stays pending.
        let (pushes, r) = got.unwrap();
        prop_assert_eq!(udp_payload(&r), message);
        prop_assert_eq!(r.fragments, pushes);
        prop_assert_eq!(r.overlapped, pushes > 6);
        prop_assert_eq!(f.stats().duplicates as usize, pushes - 6);
    }
}

proptest! {
    /// Arbitrary fragments never panic and never exceed the limits.
    #[test]
    fn arbitrary_fragments_stay_bounded(
        frags in proptest::collection::vec((0u16..6, 0u16..8192, 0usize..600, any::<bool>(), 0i64..3), 0..80),
    ) {
        let limits = DefragLimits {
            max_datagrams: 3, max_buffered_bytes: 1500, max_datagram_size: 4000, max_fragments: 5, timeout_ns: 20,
        };
        let mut f = Defragmenter::new(limits);
        let mut now = 0;
        for (id, offset_units, len, more, dt) in frags {
            now += dt;
            let ip = Ipv4 { id, offset: offset_units << 3, more_fragments: more, ..Ipv4::new(A, B, 253) };
            let packet = ip.build(&vec![7; len]);
            let d = decode(LinkType::Raw, &packet).unwrap();
            if let Some(r) = f.push(now, &d.ip, d.ip_payload) {
                prop_assert!(r.payload.len() <= 4000 && r.payload.iter().all(|&b| b == 7));
            }
            prop_assert!(f.buffered_bytes() <= 1500);
            prop_assert!(f.pending() <= 3);
        }
        f.expire(i64::MAX);
        prop_assert_eq!((f.pending(), f.buffered_bytes()), (0, 0));
    }
}
