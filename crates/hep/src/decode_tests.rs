//! The decoder against hand-built packets: every chunk, HEPv2, hostile lengths, zip bombs,
//! and encode → decode round trips of arbitrary packets.

use super::*;
use crate::{encode, Version};
use proptest::prelude::*;
use std::io::Write;

const SIP: &[u8] = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nCall-ID: 1\r\n\r\n";

/// A HEPv3 packet built chunk by chunk, independently of the encoder.
fn hep3(chunks: &[(u16, u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (vendor, kind, value) in chunks {
        body.extend_from_slice(&vendor.to_be_bytes());
        body.extend_from_slice(&kind.to_be_bytes());
        body.extend_from_slice(&((value.len() + 6) as u16).to_be_bytes());
        body.extend_from_slice(value);
    }
    let mut out = b"HEP3".to_vec();
    out.extend_from_slice(&((body.len() + 6) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn full() -> Vec<u8> {
    hep3(&[
        (0, 1, &[2]),
        (0, 2, &[17]),
        (0, 3, &[192, 0, 2, 1]),
        (0, 4, &[198, 51, 100, 2]),
        (0, 7, &5062u16.to_be_bytes()),
        (0, 8, &5060u16.to_be_bytes()),
        (0, 9, &1_700_000_000u32.to_be_bytes()),
        (0, 10, &123_456u32.to_be_bytes()),
        (0, 11, &[1]),
        (0, 12, &2001u32.to_be_bytes()),
        (0, 14, b"s3cret"),
        (0, 15, SIP),
        (0, 17, b"1"),
        (0, 18, &42u16.to_be_bytes()),
        (0, 19, b"edge\xff1"),
        (0x0b, 0x99, b"vendor"),
        (0, 0x20, &[1, 2]),
    ])
}

#[test]
fn every_chunk_becomes_its_field_and_others_are_kept_in_order() {
    let bytes = full();
    let p = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(p.version, Version::V3);
    assert_eq!((p.ip_family, p.ip_proto), (Some(2), Some(17)));
    assert_eq!(p.src_addr, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(p.dst_addr, Some("198.51.100.2".parse().unwrap()));
    assert_eq!((p.src_port, p.dst_port), (Some(5062), Some(5060)));
    assert_eq!(p.time_ns(), Some(1_700_000_000_123_456_000));
    assert_eq!((p.payload_type, p.capture_id), (Some(1), Some(2001)));
    assert_eq!(p.auth_key, Some(&b"s3cret"[..]));
    assert_eq!(p.payload, Payload::Plain(SIP));
    assert_eq!((p.correlation_id, p.vlan), (Some(&b"1"[..]), Some(42)));
    assert_eq!(p.node_name, Some(&b"edge\xff1"[..]));
    assert_eq!(
        p.other,
        vec![Chunk { vendor: 0x0b, kind: 0x99, value: b"vendor" }, Chunk { vendor: 0, kind: 0x20, value: &[1, 2] }]
    );
    // And back: the encoder writes the same chunks (generic ones in type order, as built).
    assert_eq!(encode(&p).unwrap(), bytes);
}

#[test]
fn ipv6_addresses() {
    let (a, b) =
        ("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap(), "2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap());
    let bytes = hep3(&[(0, 1, &[10]), (0, 5, &a.octets()), (0, 6, &b.octets()), (0, 15, SIP)]);
    let p = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!((p.src_addr, p.dst_addr), (Some(a.into()), Some(b.into())));
    // A family that contradicts the addresses is refused.
    let bytes = hep3(&[(0, 1, &[2]), (0, 5, &a.octets()), (0, 15, SIP)]);
    assert_eq!(decode(&bytes, &Limits::default()), Err(DecodeError::FamilyMismatch { family: 2 }));
    let bytes = hep3(&[(0, 3, &[1, 2, 3, 4]), (0, 6, &b.octets())]);
    assert!(matches!(decode(&bytes, &Limits::default()), Err(DecodeError::FamilyMismatch { .. })));
}

#[test]
fn hostile_lengths_are_named_errors() {
    let l = Limits::default();
    let good = full();
    // Every truncation of a good packet is an error, never a panic.
    for cut in 0..good.len() {
        assert!(decode(&good[..cut], &l).is_err(), "cut at {cut}");
    }
    let mut long = good.clone();
    long.push(0);
    assert_eq!(decode(&long, &l), Err(DecodeError::TrailingBytes { len: good.len(), extra: 1 }));
    // A chunk length below its header, and one past the end.
    let mut short = hep3(&[(0, 15, SIP)]);
    short[10..12].copy_from_slice(&5u16.to_be_bytes());
    assert!(matches!(decode(&short, &l), Err(DecodeError::BadChunkLength { at: 6, len: 5, .. })));
    let mut past = hep3(&[(0, 15, SIP)]);
    past[10..12].copy_from_slice(&1000u16.to_be_bytes());
    assert!(matches!(decode(&past, &l), Err(DecodeError::BadChunkLength { len: 1000, .. })));
    // Fixed-size chunks with another size.
    let bytes = hep3(&[(0, 7, &[1, 2, 3])]);
    assert_eq!(decode(&bytes, &l), Err(DecodeError::WrongValueLength { kind: 7, len: 3, expected: "2" }));
    let bytes = hep3(&[(0, 3, &[1, 2, 3, 4, 5])]);
    assert!(matches!(decode(&bytes, &l), Err(DecodeError::WrongValueLength { kind: 3, .. })));
    // A stated total below the header.
    assert!(matches!(decode(b"HEP3\x00\x02", &l), Err(DecodeError::Truncated { .. })));
    assert!(matches!(decode(b"GET / HTTP/1.1\r\n", &l), Err(DecodeError::NotHep(_))));
    assert!(matches!(decode(b"", &l), Err(DecodeError::NotHep(_))));
}

#[test]
fn repeated_chunks_and_two_payloads_are_refused() {
    let l = Limits::default();
    let bytes = hep3(&[(0, 12, &1u32.to_be_bytes()), (0, 12, &2u32.to_be_bytes())]);
    assert_eq!(decode(&bytes, &l), Err(DecodeError::Repeated(12)));
    let bytes = hep3(&[(0, 15, SIP), (0, 16, SIP)]);
    assert_eq!(decode(&bytes, &l), Err(DecodeError::Repeated(16)));
    // An IPv4 and an IPv6 source.
    let bytes = hep3(&[(0, 3, &[1, 2, 3, 4]), (0, 5, &[0; 16])]);
    assert_eq!(decode(&bytes, &l), Err(DecodeError::Repeated(5)));
}

#[test]
fn unknown_chunks_are_bounded() {
    let chunks: Vec<(u16, u16, &[u8])> = (0..65).map(|i| (7u16, i as u16, &b""[..])).collect();
    let bytes = hep3(&chunks);
    assert_eq!(decode(&bytes, &Limits::default()), Err(DecodeError::TooManyChunks { limit: 64 }));
    assert_eq!(decode(&bytes, &Limits { max_other_chunks: 65, ..Limits::default() }).unwrap().other.len(), 65);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn compressed_payloads_inflate_within_the_limit() {
    let l = Limits::default();
    let z = gzip(SIP);
    let bytes = hep3(&[(0, 16, &z)]);
    let p = decode(&bytes, &l).unwrap();
    assert_eq!(p.payload, Payload::Compressed(&z));
    assert_eq!(&*p.payload_bytes(&l).unwrap(), SIP);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    zlib.write_all(SIP).unwrap();
    let zlib = zlib.finish().unwrap();
    let bytes = hep3(&[(0, 16, &zlib)]);
    assert_eq!(&*decode(&bytes, &l).unwrap().payload_bytes(&l).unwrap(), SIP);
    // A bomb: 32 MB of zeros in about 32 KB; it stops one byte past the limit.
    let bomb = gzip(&vec![0u8; 32 << 20]);
    assert!(bomb.len() < 40_000, "{}", bomb.len());
    let bytes = hep3(&[(0, 16, &bomb)]);
    let p = decode(&bytes, &l).unwrap();
    assert_eq!(p.payload_bytes(&l), Err(DecodeError::InflatedTooLarge { limit: l.max_inflated_bytes }));
    // Damaged or not compressed at all.
    let bytes = hep3(&[(0, 16, &z[..z.len() / 2])]);
    assert!(matches!(decode(&bytes, &l).unwrap().payload_bytes(&l), Err(DecodeError::Inflate(_))));
    let bytes = hep3(&[(0, 16, SIP)]);
    assert!(matches!(decode(&bytes, &l).unwrap().payload_bytes(&l), Err(DecodeError::Inflate(_))));
}

/// A HEPv2 datagram as Kamailio's siptrace writes it (C structs: ports and addresses in
/// network order, the time header in the host's, little-endian).
fn hep2(version: u8, v6: bool) -> Vec<u8> {
    let mut out = vec![version, if v6 { 40 } else { 16 }, if v6 { 10 } else { 2 }, 17];
    out.extend_from_slice(&5062u16.to_be_bytes());
    out.extend_from_slice(&5060u16.to_be_bytes());
    if v6 {
        out.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        out.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    } else {
        out.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
    }
    if version == 2 {
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&500_000u32.to_le_bytes());
        out.extend_from_slice(&7u16.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(SIP);
    out
}

#[test]
fn hepv1_and_hepv2_are_accepted() {
    let l = Limits::default();
    let v2 = hep2(2, false);
    let p = decode(&v2, &l).unwrap();
    assert_eq!(p.version, Version::V2);
    assert_eq!(p.src_addr, Some("192.0.2.1".parse().unwrap()));
    assert_eq!((p.src_port, p.dst_port, p.ip_proto), (Some(5062), Some(5060), Some(17)));
    assert_eq!((p.time_ns(), p.capture_id), (Some(1_700_000_000_500_000_000), Some(7)));
    assert_eq!(p.payload, Payload::Plain(SIP));
    let v6 = hep2(2, true);
    let p = decode(&v6, &l).unwrap();
    assert_eq!(p.dst_addr, Some("2001:db8::2".parse().unwrap()));
    let v1 = hep2(1, false);
    let p = decode(&v1, &l).unwrap();
    assert_eq!((p.version, p.ts_sec, p.payload), (Version::V1, None, Payload::Plain(SIP)));
    for cut in 0..28 {
        assert!(decode(&v2[..cut], &l).is_err(), "cut at {cut}");
    }
    let mut bad = v2.clone();
    bad[1] = 20;
    assert_eq!(decode(&bad, &l), Err(DecodeError::BadV2Header { version: 2, len: 20 }));
    bad[2] = 7;
    assert_eq!(decode(&bad, &l), Err(DecodeError::FamilyMismatch { family: 7 }));
}

#[test]
fn frames_in_a_stream() {
    let a = full();
    let b = hep3(&[(0, 15, SIP)]);
    let mut stream = a.clone();
    stream.extend_from_slice(&b);
    assert_eq!(frame(&stream), Framed::Complete(a.len()));
    assert_eq!(frame(&stream[a.len()..]), Framed::Complete(b.len()));
    for cut in 0..a.len() {
        assert_eq!(frame(&a[..cut]), Framed::NeedMore, "cut at {cut}");
    }
    assert!(matches!(frame(b"HEX"), Framed::Invalid(_)));
    assert!(matches!(frame(b"HEP3\x00\x03"), Framed::Invalid(_)));
    assert!(matches!(frame(&hep2(2, false)), Framed::Invalid(_)));
}

fn arb_chunk() -> impl Strategy<Value = (u16, u16, Vec<u8>)> {
    (1u16..4, any::<u16>(), proptest::collection::vec(any::<u8>(), 0..20))
}

/// The owned values of an arbitrary packet (a packet borrows them).
#[derive(Debug)]
struct Fields {
    v6: bool,
    a: [u8; 16],
    b: [u8; 16],
    ports: Option<(u16, u16)>,
    proto: Option<u8>,
    ts: Option<(u32, u32)>,
    ptype: Option<u8>,
    id: Option<u32>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    compressed: bool,
    cid: Option<Vec<u8>>,
    vlan: Option<u16>,
    name: Option<Vec<u8>>,
    other: Vec<(u16, u16, Vec<u8>)>,
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

prop_compose! {
    fn arb_fields()(
        (v6, a, b) in any::<(bool, [u8; 16], [u8; 16])>(),
        (ports, proto, ts, ptype, id) in any::<(Option<(u16, u16)>, Option<u8>, Option<(u32, u32)>, Option<u8>, Option<u32>)>(),
        key in proptest::option::of(bytes(40)), payload in bytes(300), compressed in any::<bool>(),
        cid in proptest::option::of(bytes(40)), vlan in any::<Option<u16>>(), name in proptest::option::of(bytes(30)),
        other in proptest::collection::vec(arb_chunk(), 0..5),
    ) -> Fields {
        Fields { v6, a, b, ports, proto, ts, ptype, id, key, payload, compressed, cid, vlan, name, other }
    }
}

proptest! {
    #[test]
    fn encode_then_decode_gives_the_packet_back(f in arb_fields()) {
        let mut p = Packet::v3();
        if f.v6 {
            p.ip_family = Some(crate::FAMILY_V6);
            p.src_addr = Some(std::net::Ipv6Addr::from(f.a).into());
            p.dst_addr = Some(std::net::Ipv6Addr::from(f.b).into());
        } else {
            p.ip_family = Some(crate::FAMILY_V4);
            p.src_addr = Some(std::net::Ipv4Addr::new(f.a[0], f.a[1], f.a[2], f.a[3]).into());
            p.dst_addr = Some(std::net::Ipv4Addr::new(f.b[0], f.b[1], f.b[2], f.b[3]).into());
        }
        (p.src_port, p.dst_port) = (f.ports.map(|p| p.0), f.ports.map(|p| p.1));
        p.ip_proto = f.proto;
        (p.ts_sec, p.ts_usec) = (f.ts.map(|t| t.0), f.ts.map(|t| t.1));
        p.payload_type = f.ptype;
        p.capture_id = f.id;
        p.auth_key = f.key.as_deref();
        p.payload = if f.compressed { Payload::Compressed(&f.payload) } else { Payload::Plain(&f.payload) };
        p.correlation_id = f.cid.as_deref();
        p.vlan = f.vlan;
        p.node_name = f.name.as_deref();
        p.other = f.other.iter().map(|(vendor, kind, value)| Chunk { vendor: *vendor, kind: *kind, value }).collect();
        let bytes = encode(&p).unwrap();
        prop_assert_eq!(frame(&bytes), Framed::Complete(bytes.len()));
        prop_assert_eq!(decode(&bytes, &Limits::default()), Ok(p));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let l = Limits::default();
        if let Ok(p) = decode(&bytes, &l) {
            let _ = p.payload_bytes(&l);
            let _ = p.time_ns();
            // What decodes as HEPv3 encodes back to the same packet.
            if p.version == Version::V3 {
                let again = encode(&p).unwrap();
                prop_assert_eq!(decode(&again, &l), Ok(p));
            }
        }
        let _ = frame(&bytes);
    }

    #[test]
    fn mutated_packets_never_panic(at in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
        let l = Limits::default();
        let mut bytes = full();
        let n = bytes.len();
        bytes[at % n] = byte;
        bytes.truncate(cut.max(1).min(n));
        if let Ok(p) = decode(&bytes, &l) {
            let _ = p.payload_bytes(&l);
        }
    }
}

#[test]
fn every_fixture_decodes_and_its_payload_is_sip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "hep") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let l = Limits::default();
        let p = decode(&bytes, &l).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let payload = p.payload_bytes(&l).unwrap();
        assert!(payload.ends_with(b"\r\n\r\n") || payload.windows(8).any(|w| w == b"SIP/2.0 "), "{}", path.display());
        assert!(p.time_ns().is_some() && p.src_addr.is_some(), "{}", path.display());
        n += 1;
    }
    assert!(n >= 4);
}
