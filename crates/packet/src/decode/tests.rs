use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use crate::testutil::*;
use crate::*;

const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [192, 0, 2, 2];
const SENSOR: [u8; 4] = [198, 51, 100, 7];
const COLLECTOR: [u8; 4] = [198, 51, 100, 9];

fn sip_v4() -> Vec<u8> {
    ipv4(A, B, PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS))
}

fn sip_eth() -> Vec<u8> {
    ethernet(ETHERTYPE_IPV4, &sip_v4())
}

fn outer(payload_proto: u8, payload: &[u8]) -> Vec<u8> {
    ethernet(ETHERTYPE_IPV4, &ipv4(SENSOR, COLLECTOR, payload_proto, payload))
}

fn udp_of<'a>(d: &Decoded<'a>) -> Udp<'a> {
    match d.transport {
        Layer4::Udp(u) => u,
        other => panic!("expected UDP, got {other:?}"),
    }
}

fn assert_sip(d: &Decoded<'_>) {
    let u = udp_of(d);
    assert_eq!((u.sport, u.dport), (5061, 5060));
    assert_eq!(u.payload, SIP_OPTIONS);
    assert_eq!(d.ip.src, IpAddr::from(A));
    assert_eq!(d.ip.dst, IpAddr::from(B));
}

fn tunnel(d: &Decoded<'_>) -> Tunnel {
    let t = d.encap.tunnel.expect("a tunnel");
    assert_eq!((t.src, t.dst), (IpAddr::from(SENSOR), IpAddr::from(COLLECTOR)));
    t
}

#[test]
fn ethernet_ipv4_udp() {
    let mut frame = sip_eth();
    frame.extend_from_slice(&[0; 6]); // padding / FCS
    let d = decode(LinkType::Ethernet, &frame).unwrap();
    assert_sip(&d);
    assert_eq!((d.ip.proto, d.ip.ttl, d.ip.id, d.ip.version()), (PROTO_UDP, 64, 0x1234, 4));
    assert_eq!(d.ip.fragment, None);
    assert_eq!(d.encap, Encap { depth: 1, ..Encap::default() });
    assert_eq!(d.ip_payload.len(), SIP_OPTIONS.len() + 8);
}

#[test]
fn ipv4_options_and_flags() {
    let ip = Ipv4 { options: vec![0x94, 4, 0, 0, 1], dont_fragment: true, tos: 0xb8, ..Ipv4::new(A, B, PROTO_UDP) };
    let bytes = ip.build(&udp(5061, 5060, SIP_OPTIONS));
    let d = decode(LinkType::Ipv4, &bytes).unwrap();
    assert_sip(&d);
    assert!(d.ip.dont_fragment);
    assert_eq!(d.ip.tos, 0xb8);
}

#[test]
fn ipv4_total_length_zero_is_segmentation_offload() {
    let mut p = sip_v4();
    p[2..4].copy_from_slice(&[0, 0]);
    assert_sip(&decode(LinkType::Raw, &p).unwrap());
}

#[test]
fn vlan_tags() {
    for tags in [vec![(0x8100, 10)], vec![(0x88a8, 100), (0x8100, 200)], vec![(0x9100, 7), (0x8100, 8), (0x8100, 9)]] {
        let frame = ethernet_tagged(&tags, ETHERTYPE_IPV4, &sip_v4());
        let d = decode(LinkType::Ethernet, &frame).unwrap();
        assert_sip(&d);
        assert_eq!(d.encap.vlans.as_slice(), tags.iter().map(|t| t.1).collect::<Vec<_>>());
    }
    let tags = [(0x8100, 1); MAX_VLAN_TAGS + 1];
    let frame = ethernet_tagged(&tags, ETHERTYPE_IPV4, &sip_v4());
    let err = decode(LinkType::Ethernet, &frame).unwrap_err();
    assert_eq!(err, DecodeError::TooDeep { layer: Layer::Vlan, limit: MAX_VLAN_TAGS });
}

#[test]
fn mpls_label_stacks() {
    let bytes = ethernet(ETHERTYPE_MPLS, &mpls(&[16, 17], &sip_v4()));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_sip(&d);
    let v6 = ipv6(V6_SRC, V6_DST, PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS));
    let bytes = ethernet(ETHERTYPE_MPLS_MULTICAST, &mpls(&[3], &v6));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(d.ip.src, IpAddr::from(V6_SRC));
    // Ethernet pseudowire with a control word.
    let pw = [&[0u8, 0, 0, 1][..], &ethernet_tagged(&[(0x8100, 42)], ETHERTYPE_IPV4, &sip_v4())].concat();
    let bytes = ethernet(ETHERTYPE_MPLS, &mpls(&[100, 200], &pw));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_sip(&d);
    assert_eq!(d.encap.vlans.as_slice(), [42]);
    let err = decode(LinkType::Ethernet, &ethernet(ETHERTYPE_MPLS, &mpls(&[1], &[0x90; 30]))).unwrap_err();
    assert_eq!(err, DecodeError::Unsupported { layer: Layer::Mpls, value: 9 });
    let deep: Vec<u32> = (0..=MAX_MPLS_LABELS as u32).collect();
    let err = decode(LinkType::Ethernet, &ethernet(ETHERTYPE_MPLS, &mpls(&deep, &sip_v4()))).unwrap_err();
    assert_eq!(err, DecodeError::TooDeep { layer: Layer::Mpls, limit: MAX_MPLS_LABELS });
}

#[test]
fn ipv6_extension_headers() {
    let chain = ipv6_options(
        PROTO_IPV6_ROUTE,
        &ipv6_routing(PROTO_IPV6_OPTS, &ipv6_options(PROTO_AH, &ah(PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS)))),
    );
    let bytes = ipv6(V6_SRC, V6_DST, PROTO_HOPOPT, &chain);
    let d = decode(LinkType::Ipv6, &bytes).unwrap();
    let u = udp_of(&d);
    assert_eq!(u.payload, SIP_OPTIONS);
    assert_eq!((d.ip.proto, d.ip.version(), d.ip.ttl), (PROTO_UDP, 6, 64));
    assert_eq!(d.ip.dst, IpAddr::from(V6_DST));
    // AH in IPv4 too.
    let bytes = ipv4(A, B, PROTO_AH, &ah(PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS)));
    let d = decode(LinkType::Raw, &bytes).unwrap();
    assert_sip(&d);
}

#[test]
fn ipv6_fragment_headers() {
    let atomic = ipv6_fragment(PROTO_UDP, 0, false, 77, &udp(5061, 5060, SIP_OPTIONS));
    let bytes = ipv6(V6_SRC, V6_DST, PROTO_IPV6_FRAG, &atomic);
    let d = decode(LinkType::Raw, &bytes).unwrap();
    assert_eq!(udp_of(&d).payload, SIP_OPTIONS);
    assert_eq!((d.ip.id, d.ip.fragment), (77, None));
    let first = ipv6_fragment(PROTO_UDP, 0, true, 78, &udp(5061, 5060, SIP_OPTIONS)[..64]);
    let bytes = ipv6(V6_SRC, V6_DST, PROTO_IPV6_FRAG, &first);
    let d = decode(LinkType::Raw, &bytes).unwrap();
    assert_eq!(d.transport, Layer4::Fragment);
    assert_eq!((d.ip.id, d.ip.proto, d.ip_payload.len()), (78, PROTO_UDP, 64));
    assert_eq!(d.ip.fragment, Some(Fragment { offset: 0, more: true }));
}

#[test]
fn ipv4_fragment_stops_the_walk() {
    let frags = Ipv4::new(A, B, PROTO_UDP).fragments(&udp(5061, 5060, SIP_OPTIONS), 64);
    let bytes = &frags[1];
    let d = decode(LinkType::Raw, bytes).unwrap();
    assert_eq!(d.transport, Layer4::Fragment);
    assert_eq!(d.ip.fragment, Some(Fragment { offset: 64, more: true }));
    assert_eq!(d.ip_payload.len(), 64);
}

#[test]
fn gre_key_seq_ethernet_vlan_ipv4_udp() {
    let inner = ethernet_tagged(&[(0x8100, 300)], ETHERTYPE_IPV4, &sip_v4());
    let frame = outer(PROTO_GRE, &gre(GRE_ETHERNET, Some(0xdead_beef), Some(41), false, &inner));
    let d = decode(LinkType::Ethernet, &frame).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::Gre { key: Some(0xdead_beef), seq: Some(41) });
    assert_eq!(d.encap.vlans.as_slice(), [300]);
    assert_eq!(d.encap.depth, 2);
}

#[test]
fn gre_ip_payloads_and_unsupported_versions() {
    let bytes = outer(PROTO_GRE, &gre(ETHERTYPE_IPV4, None, None, true, &sip_v4()));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::Gre { key: None, seq: None });
    let v6 = ipv6(V6_SRC, V6_DST, PROTO_UDP, &udp(1, 2, b"x"));
    let bytes = outer(PROTO_GRE, &gre(ETHERTYPE_IPV6, Some(1), None, false, &v6));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(udp_of(&d).payload, b"x");
    let mpls_in_gre = gre(ETHERTYPE_MPLS, None, None, false, &mpls(&[5], &sip_v4()));
    assert_sip(&decode(LinkType::Ethernet, &outer(PROTO_GRE, &mpls_in_gre)).unwrap());
    let mut pptp = gre(ETHERTYPE_IPV4, None, None, false, &sip_v4());
    pptp[1] |= 1;
    let err = decode(LinkType::Ethernet, &outer(PROTO_GRE, &pptp)).unwrap_err();
    assert_eq!(err, DecodeError::Unsupported { layer: Layer::Gre, value: 1 });
    let arp = gre(0x0806, None, None, false, &[0; 28]);
    let err = decode(LinkType::Ethernet, &outer(PROTO_GRE, &arp)).unwrap_err();
    assert_eq!(err, DecodeError::Unsupported { layer: Layer::Gre, value: 0x0806 });
}

#[test]
fn erspan_types() {
    let inner = ethernet_tagged(&[(0x8100, 12)], ETHERTYPE_IPV4, &sip_v4());
    let ii = gre(GRE_ERSPAN2, None, Some(9), false, &erspan2(513, 12, &inner));
    let bytes = outer(PROTO_GRE, &ii);
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::Erspan { version: 2, session: 513 });
    assert_eq!(d.encap.vlans.as_slice(), [12]);
    let i = gre(GRE_ERSPAN2, None, None, false, &inner);
    let bytes = outer(PROTO_GRE, &i);
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(tunnel(&d).kind, TunnelKind::Erspan { version: 1, session: 0 });
    for sub in [false, true] {
        let iii = gre(GRE_ERSPAN3, None, Some(10), false, &erspan3(1023, sub, &inner));
        let bytes = outer(PROTO_GRE, &iii);
        let d = decode(LinkType::Ethernet, &bytes).unwrap();
        assert_sip(&d);
        assert_eq!(tunnel(&d).kind, TunnelKind::Erspan { version: 3, session: 1023 });
    }
}

#[test]
fn vxlan() {
    let inner = ethernet(ETHERTYPE_IPV4, &sip_v4());
    let frame = outer(PROTO_UDP, &udp(49152, VXLAN_PORT, &testutil::vxlan(0x00ab_cdef, &inner)));
    let d = decode(LinkType::Ethernet, &frame).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::Vxlan { vni: 0x00ab_cdef });
    // SIP sent to the VXLAN port stays SIP.
    let frame = outer(PROTO_UDP, &udp(5060, VXLAN_PORT, SIP_OPTIONS));
    let d = decode(LinkType::Ethernet, &frame).unwrap();
    assert_eq!(udp_of(&d).payload, SIP_OPTIONS);
    assert_eq!(d.encap.tunnel, None);
}

#[test]
fn ip_in_ip() {
    let bytes = outer(PROTO_IPIP, &sip_v4());
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::IpInIp);
    let v6 = ipv6(V6_SRC, V6_DST, PROTO_UDP, &udp(1, 2, b"six"));
    let bytes = outer(PROTO_IPV6, &v6);
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!((udp_of(&d).payload, d.ip.src), (&b"six"[..], IpAddr::from(V6_SRC)));
    let bytes = ipv6(V6_SRC, V6_DST, PROTO_IPIP, &sip_v4());
    let d = decode(LinkType::Raw, &bytes).unwrap();
    assert_sip(&d);
    assert_eq!(d.encap.tunnel.unwrap().src, IpAddr::from(V6_SRC));
}

#[test]
fn nested_tunnels_keep_the_outermost() {
    let innermost = ethernet(ETHERTYPE_IPV4, &sip_v4());
    let vx = ipv4([10, 0, 0, 1], [10, 0, 0, 2], PROTO_UDP, &udp(1, VXLAN_PORT, &testutil::vxlan(5, &innermost)));
    let mid = ethernet_tagged(&[(0x8100, 55)], ETHERTYPE_IPV4, &vx);
    let frame = outer(PROTO_GRE, &gre(GRE_ETHERNET, Some(3), None, false, &mid));
    let d = decode(LinkType::Ethernet, &frame).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::Gre { key: Some(3), seq: None });
    assert_eq!(d.encap.vlans.as_slice(), [55]);
    assert_eq!(d.encap.depth, 3);
}

#[test]
fn nesting_depth_is_bounded() {
    let nest = |n: usize| (1..n).fold(sip_v4(), |p, _| ipv4(SENSOR, COLLECTOR, PROTO_IPIP, &p));
    assert_eq!(decode(LinkType::Raw, &nest(MAX_IP_HEADERS)).unwrap().encap.depth as usize, MAX_IP_HEADERS);
    let err = decode(LinkType::Raw, &nest(MAX_IP_HEADERS + 1)).unwrap_err();
    assert_eq!(err, DecodeError::TooDeep { layer: Layer::Ipv4, limit: MAX_IP_HEADERS });
    // Pseudowires nest without IP headers: the header count bounds them.
    let pw =
        (0..MAX_HEADERS).fold(sip_eth(), |f, _| ethernet(ETHERTYPE_MPLS, &mpls(&[1], &[&[0u8; 4][..], &f].concat())));
    assert!(matches!(decode(LinkType::Ethernet, &pw), Err(DecodeError::TooDeep { limit: MAX_HEADERS, .. })));
}

#[test]
fn tcp_and_sctp() {
    let seg = tcp(5060, 40000, 7, 9, TcpFlags::PSH | TcpFlags::ACK, SIP_OPTIONS);
    let bytes = ipv4(A, B, PROTO_TCP, &seg);
    let d = decode(LinkType::Raw, &bytes).unwrap();
    let Layer4::Tcp(t) = d.transport else { panic!("{:?}", d.transport) };
    assert_eq!((t.sport, t.dport, t.seq, t.ack, t.window), (5060, 40000, 7, 9, 0xffff));
    assert!(t.flags.contains(TcpFlags::ACK) && !t.flags.contains(TcpFlags::SYN));
    assert_eq!(format!("{:?}", t.flags), "PSH|ACK");
    assert_eq!(t.payload, SIP_OPTIONS);
    let bytes = ipv4(A, B, PROTO_SCTP, &sctp_data(5060, 5060, 0, SIP_OPTIONS));
    let d = decode(LinkType::Raw, &bytes).unwrap();
    let Layer4::Sctp(s) = d.transport else { panic!("{:?}", d.transport) };
    let chunks: Vec<_> = s.data().collect();
    assert_eq!((s.sport, s.vtag, chunks.len()), (5060, 7, 1));
    assert_eq!((chunks[0].payload, chunks[0].tsn, chunks[0].flags), (SIP_OPTIONS, 1, 3));
    let bytes = ipv4(A, B, 1, &[8, 0, 0, 0]);
    let d = decode(LinkType::Raw, &bytes).unwrap();
    assert_eq!(d.transport, Layer4::Other { proto: 1, payload: &[8, 0, 0, 0] });
}

#[test]
fn link_types() {
    let v4 = sip_v4();
    let v6 = ipv6(V6_SRC, V6_DST, PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS));
    let cases: Vec<(LinkType, Vec<u8>, bool)> = vec![
        (LinkType::Raw, v4.clone(), true),
        (LinkType::Raw, v6.clone(), false),
        (LinkType::Ipv4, v4.clone(), true),
        (LinkType::Ipv6, v6.clone(), false),
        (LinkType::LinuxSll, sll(ETHERTYPE_IPV4, &v4), true),
        (LinkType::LinuxSll, sll(0x8100, &[&[0, 9, 0x86, 0xdd][..], &v6].concat()), false),
        (LinkType::LinuxSll2, sll2(ETHERTYPE_IPV6, &v6), false),
        (LinkType::Null, null(2, true, &v4), true),
        (LinkType::Null, null(2, false, &v4), true),
        (LinkType::Null, null(30, true, &v6), false),
        (LinkType::Null, null(24, false, &v6), false),
        (LinkType::Loop, loopback(2, &v4), true),
        (LinkType::Loop, loopback(28, &v6), false),
        (LinkType::Ethernet, ethernet(ETHERTYPE_PPPOE_SESSION, &pppoe(0x0021, &v4)), true),
        (LinkType::Ethernet, ethernet(ETHERTYPE_PPPOE_SESSION, &pppoe(0x0057, &v6)), false),
    ];
    for (link, frame, is_v4) in cases {
        let d = decode(link, &frame).unwrap_or_else(|e| panic!("{link:?}: {e}"));
        assert_eq!(udp_of(&d).payload, SIP_OPTIONS, "{link:?}");
        assert_eq!(d.ip.src.is_ipv4(), is_v4, "{link:?}");
    }
    for link in LinkType::ALL {
        assert_eq!(LinkType::from_pcap(link.to_pcap()), Some(link));
    }
    assert_eq!(LinkType::from_pcap(12), Some(LinkType::Raw));
    assert_eq!(LinkType::from_pcap(14), Some(LinkType::Raw));
    assert_eq!(LinkType::from_pcap(0x1000_0001), Some(LinkType::Ethernet));
    assert_eq!(LinkType::from_pcap(127), None);
}

#[test]
fn unsupported_and_malformed() {
    let arp = ethernet(0x0806, &[0; 28]);
    assert_eq!(
        decode(LinkType::Ethernet, &arp),
        Err(DecodeError::Unsupported { layer: Layer::Ethernet, value: 0x806 })
    );
    assert_eq!(decode(LinkType::Ethernet, &ethernet(46, &[0; 46])).unwrap_err().kind_name(), "unsupported");
    assert_eq!(decode(LinkType::Null, &null(7, true, &sip_v4())).unwrap_err().layer(), Layer::Null);
    let mut bad = sip_v4();
    bad[0] = 0x44;
    assert!(matches!(decode(LinkType::Raw, &bad), Err(DecodeError::Malformed { layer: Layer::Ipv4, .. })));
    bad[0] = 0x75;
    assert!(matches!(decode(LinkType::Raw, &bad), Err(DecodeError::Malformed { layer: Layer::Ip, .. })));
    assert!(matches!(decode(LinkType::Ipv6, &sip_v4()), Err(DecodeError::Malformed { layer: Layer::Ipv6, .. })));
    let mut seg = tcp(1, 2, 0, 0, TcpFlags::ACK, b"");
    seg[12] = 0x40;
    assert!(matches!(
        decode(LinkType::Raw, &ipv4(A, B, 6, &seg)),
        Err(DecodeError::Malformed { layer: Layer::Tcp, .. })
    ));
    let mut dgram = udp(1, 2, b"abc");
    dgram[4..6].copy_from_slice(&5u16.to_be_bytes());
    assert!(matches!(
        decode(LinkType::Raw, &ipv4(A, B, 17, &dgram)),
        Err(DecodeError::Malformed { layer: Layer::Udp, .. })
    ));
    dgram[4..6].copy_from_slice(&99u16.to_be_bytes());
    assert_eq!(decode(LinkType::Raw, &ipv4(A, B, 17, &dgram)), Err(DecodeError::Truncated { layer: Layer::Udp }));
    let e = DecodeError::Truncated { layer: Layer::Ipv6Ext };
    assert_eq!(e.to_string(), "ipv6_ext truncated");
}

/// Every prefix of `frame` decodes to `Truncated`, or to `Ok` marked `truncated` (an IP
/// header declared more than the prefix holds: decoded as far as the bytes go); returns the
/// layers reported.
fn every_cut(link: LinkType, frame: &[u8]) -> Vec<Layer> {
    let mut layers = Vec::new();
    for n in 0..frame.len() {
        match decode(link, &frame[..n]) {
            Ok(d) => assert!(d.truncated, "{link:?} cut at {n} is not marked truncated"),
            Err(DecodeError::Truncated { layer }) => {
                if !layers.contains(&layer) {
                    layers.push(layer)
                }
            }
            Err(e) => panic!("{link:?} cut at {n}: {e:?}"),
        }
    }
    decode(link, frame).unwrap();
    layers
}

#[test]
fn truncation_at_every_byte() {
    let inner = ethernet_tagged(&[(0x8100, 300)], ETHERTYPE_IPV4, &sip_v4());
    let frame = outer(PROTO_GRE, &gre(GRE_ETHERNET, Some(1), Some(2), true, &inner));
    assert_eq!(
        every_cut(LinkType::Ethernet, &frame),
        [Layer::Ethernet, Layer::Ipv4, Layer::Gre, Layer::Vlan, Layer::Udp]
    );
    // Cut the inner frame, wrapped in consistent outer headers, to reach every inner layer.
    let wrap = |inner: &[u8]| outer(PROTO_GRE, &gre(GRE_ETHERNET, Some(1), Some(2), true, inner));
    let mut seen = Vec::new();
    for n in 0..inner.len() {
        match decode(LinkType::Ethernet, &wrap(&inner[..n])) {
            Err(DecodeError::Truncated { layer }) if !seen.contains(&layer) => seen.push(layer),
            Err(DecodeError::Truncated { .. }) => {}
            Ok(d) if d.truncated => {}
            other => panic!("cut at {n}: {other:?}"),
        }
    }
    assert_eq!(seen, [Layer::Ethernet, Layer::Vlan, Layer::Ipv4, Layer::Udp]);
    let bytes = outer(PROTO_GRE, &gre(GRE_ETHERNET, Some(1), Some(2), true, &inner)[..13]);
    assert_eq!(decode(LinkType::Ethernet, &bytes), Err(DecodeError::Truncated { layer: Layer::Gre }));
    let ext = ipv6_options(PROTO_AH, &ah(PROTO_TCP, &tcp(1, 2, 3, 4, TcpFlags::ACK, b"x")));
    for n in 0..ext.len() - 1 {
        let bytes = ipv6(V6_SRC, V6_DST, PROTO_HOPOPT, &ext[..n]);
        let r = decode(LinkType::Ipv6, &bytes);
        assert!(
            matches!(r, Err(DecodeError::Truncated { layer: Layer::Ipv6Ext | Layer::Ah | Layer::Tcp })),
            "{n}: {r:?}"
        );
    }
    let vx = udp(1, VXLAN_PORT, &testutil::vxlan(5, &ethernet(ETHERTYPE_IPV4, &sip_v4())));
    every_cut(LinkType::Ethernet, &outer(PROTO_UDP, &vx));
    let erspan = gre(GRE_ERSPAN3, None, Some(1), false, &erspan3(1, true, &inner));
    every_cut(LinkType::LinuxSll2, &sll2(ETHERTYPE_IPV4, &ipv4(SENSOR, COLLECTOR, PROTO_GRE, &erspan)));
    every_cut(LinkType::Ethernet, &ethernet(ETHERTYPE_MPLS, &mpls(&[1, 2], &sip_v4())));
    every_cut(LinkType::Null, &null(2, true, &sip_v4()));
}

#[test]
fn ip_lengths_beyond_the_capture_are_decoded_as_far_as_the_bytes_go() {
    let whole = sip_v4();
    let d = decode(LinkType::Raw, &whole).unwrap();
    assert!(!d.truncated);
    let cut = &whole[..whole.len() - 100];
    let d = decode(LinkType::Raw, cut).unwrap();
    assert!(d.truncated);
    assert_eq!(udp_of(&d).payload, &SIP_OPTIONS[..SIP_OPTIONS.len() - 100]);
    // A total length the frame never had (crafted), through a tunnel: the inner one is cut too.
    let mut crafted = outer(PROTO_GRE, &gre(ETHERTYPE_IPV4, None, None, false, &whole));
    crafted[14 + 2..14 + 4].copy_from_slice(&9000u16.to_be_bytes());
    let d = decode(LinkType::Ethernet, &crafted).unwrap();
    assert!(d.truncated);
    assert_eq!(udp_of(&d).payload, SIP_OPTIONS);
    // IPv6 alike.
    let v6 = ipv6(V6_SRC, V6_DST, PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS));
    let d = decode(LinkType::Raw, &v6[..v6.len() - 10]).unwrap();
    assert!(d.truncated);
    assert_eq!(udp_of(&d).payload.len(), SIP_OPTIONS.len() - 10);
    // A cut fragment cannot be placed in its datagram: still an error.
    let frags = Ipv4::new(A, B, PROTO_UDP).fragments(&udp(5061, 5060, SIP_OPTIONS), 64);
    let f = &frags[1];
    assert_eq!(decode(LinkType::Raw, &f[..f.len() - 1]), Err(DecodeError::Truncated { layer: Layer::Ipv4 }));
    let f6 = ipv6_fragments(PROTO_UDP, &udp(5061, 5060, SIP_OPTIONS), 64, 9);
    let f = &f6[1];
    assert_eq!(decode(LinkType::Raw, &f[..f.len() - 1]), Err(DecodeError::Truncated { layer: Layer::Ipv6 }));
    // A UDP length beyond an IP packet that was not cut is still an error (the packet lies).
    let mut dgram = udp(1, 2, b"abc");
    dgram[4..6].copy_from_slice(&99u16.to_be_bytes());
    assert_eq!(decode(LinkType::Raw, &ipv4(A, B, 17, &dgram)), Err(DecodeError::Truncated { layer: Layer::Udp }));
}

#[test]
fn gre_carrying_ppp() {
    // PPTP: with sequence and acknowledgement numbers, then compressed address/control and
    // protocol fields (ACFC, PFC), then IPv6.
    let framings = [ppp(0x0021, &sip_v4()), [&[0x00, 0x21][..], &sip_v4()].concat(), [&[0x21][..], &sip_v4()].concat()];
    for (i, frame) in framings.iter().enumerate() {
        let (seq, ack) = [(Some(5), Some(4)), (Some(6), None), (None, None)][i];
        let bytes = outer(PROTO_GRE, &pptp_gre(0x4242, seq, ack, frame));
        let d = decode(LinkType::Ethernet, &bytes).unwrap();
        assert_sip(&d);
        assert_eq!(tunnel(&d).kind, TunnelKind::Pptp { call_id: 0x4242, seq });
        assert_eq!(d.encap.depth, 2);
    }
    let v6 = ipv6(V6_SRC, V6_DST, PROTO_UDP, &udp(1, 2, b"six"));
    let bytes = outer(PROTO_GRE, &pptp_gre(1, None, None, &[&[0x57][..], &v6].concat()));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_eq!(udp_of(&d).payload, b"six");
    // Plain GRE (version 0) with PPP inside.
    let bytes = outer(PROTO_GRE, &gre(GRE_PPP, Some(9), None, false, &ppp(0x0021, &sip_v4())));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert_sip(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::Gre { key: Some(9), seq: None });
    // An acknowledgement alone carries nothing: a tunnel packet, not an error.
    let bytes = outer(PROTO_GRE, &pptp_gre(7, None, Some(3), b""));
    let d = decode(LinkType::Ethernet, &bytes).unwrap();
    assert!(matches!(d.transport, Layer4::Other { proto: PROTO_GRE, .. }));
    // LCP and compressed (CCP) data are not decoded; an enhanced GRE without its key, or of
    // another protocol, is refused; PPP cut after its address/control bytes is truncated.
    let lcp = outer(PROTO_GRE, &pptp_gre(7, Some(1), None, &ppp(0xc021, &[1, 1, 0, 4])));
    assert_eq!(decode(LinkType::Ethernet, &lcp), Err(DecodeError::Unsupported { layer: Layer::Ppp, value: 0xc021 }));
    let ccp = outer(PROTO_GRE, &pptp_gre(7, Some(1), None, &[0xfd, 0x90, 0x00, 0x12]));
    assert_eq!(decode(LinkType::Ethernet, &ccp), Err(DecodeError::Unsupported { layer: Layer::Ppp, value: 0xfd }));
    let mut keyless = pptp_gre(7, None, None, &ppp(0x0021, &sip_v4()));
    keyless[0] &= !0x20;
    assert!(matches!(
        decode(LinkType::Ethernet, &outer(PROTO_GRE, &keyless)),
        Err(DecodeError::Malformed { layer: Layer::Gre, .. })
    ));
    let mut not_ppp = pptp_gre(7, None, None, &sip_v4());
    not_ppp[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    assert_eq!(
        decode(LinkType::Ethernet, &outer(PROTO_GRE, &not_ppp)),
        Err(DecodeError::Unsupported { layer: Layer::Gre, value: 1 })
    );
    let cut = outer(PROTO_GRE, &pptp_gre(7, None, None, &[0xff, 0x03]));
    assert_eq!(decode(LinkType::Ethernet, &cut), Err(DecodeError::Truncated { layer: Layer::Ppp }));
    // Every cut of a PPTP frame is truncated or decoded as far as it goes.
    every_cut(LinkType::Ethernet, &outer(PROTO_GRE, &pptp_gre(1, Some(2), Some(3), &ppp(0x0021, &sip_v4()))));
}

#[test]
fn ipv4_addresses_are_read_in_order() {
    let bytes = ipv4([1, 2, 3, 4], [5, 6, 7, 8], 200, b"");
    let d = decode(LinkType::Raw, &bytes).unwrap();
    assert_eq!(d.ip.src, IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
    assert_eq!(d.transport, Layer4::Other { proto: 200, payload: b"" });
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for link in LinkType::ALL {
            let _ = decode(link, &bytes);
        }
    }

    #[test]
    fn mutated_frames_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let inner = ethernet_tagged(&[(0x8100, 300)], ETHERTYPE_IPV4, &sip_v4());
        let mut frame = match which {
            0 => outer(PROTO_GRE, &gre(GRE_ETHERNET, Some(1), Some(2), true, &inner)),
            1 => outer(PROTO_UDP, &udp(1, VXLAN_PORT, &testutil::vxlan(5, &inner))),
            2 => outer(PROTO_GRE, &gre(GRE_ERSPAN3, None, Some(1), false, &erspan3(1, true, &inner))),
            _ => ethernet(ETHERTYPE_IPV6, &ipv6(V6_SRC, V6_DST, PROTO_HOPOPT, &ipv6_options(PROTO_AH, &ah(PROTO_TCP, &tcp(1, 2, 3, 4, TcpFlags::ACK, b"x"))))),
        };
        for (at, v) in edits {
            let n = frame.len();
            frame[at % n] = v;
        }
        frame.truncate(cut % (frame.len() + 1));
        for link in LinkType::ALL {
            let _ = decode(link, &frame);
        }
        if let Ok(d) = decode(LinkType::Ethernet, &frame) {
            let _ = decode_ip_payload(d.encap, d.ip, d.ip_payload);
        }
    }
}
