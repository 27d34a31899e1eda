use super::*;
use crate::sources::pcap::Frame;
use sipscope_packet::testutil as t;
use sipscope_packet::TcpFlags;

const SIP_A: &[u8] = b"OPTIONS sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5061;branch=z9hG4bK-1\r\n\
From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:100@192.0.2.2>\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";
const SIP_B: &[u8] = b"MESSAGE sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5061;branch=z9hG4bK-2\r\n\
From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:100@192.0.2.2>\r\nCall-ID: b\r\nCSeq: 2 MESSAGE\r\nMax-Forwards: 70\r\n\
Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

const ETH_IPV4: u16 = 0x0800;

fn udp_frame(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    t::ethernet(ETH_IPV4, &t::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, &t::udp(sport, dport, payload)))
}

fn tcp_frame(seq: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    t::ethernet(ETH_IPV4, &t::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 6, &t::tcp(40000, 5060, seq, 1, flags, payload)))
}

/// Runs frames through a decoder; returns the messages (bytes, tunnel, transport) and the summary.
/// (message bytes, tunnel, transport)
type Got = (Vec<u8>, Option<(IpAddr, IpAddr)>, Transport);

fn run(frames: &[Vec<u8>]) -> (Vec<Got>, CaptureSummary) {
    let mut decoder = WireDecoder::new();
    let mut summary = CaptureSummary::default();
    let mut out = Vec::new();
    let mut emit = |_: &mut CaptureSummary, m: WireMessage<'_>| out.push((m.bytes.to_vec(), m.tunnel, m.transport));
    for (i, data) in frames.iter().enumerate() {
        let frame = Frame { number: i as u64 + 1, ts_ns: i as i64, link_type: 1, data, orig_len: data.len() as u32 };
        decoder.push_frame(&frame, &mut summary, &mut emit);
    }
    decoder.finish(&mut summary, &mut emit);
    (out, summary)
}

#[test]
fn udp_sip_on_any_port_and_invalid_on_sip_ports() {
    let (msgs, summary) = run(&[
        udp_frame(5061, 5060, t::SIP_OPTIONS),
        udp_frame(40000, 12345, t::SIP_OPTIONS),
        udp_frame(40000, 5060, b""),
        udp_frame(40000, 5060, b"\x00\x01garbage"),
        udp_frame(53, 53, b"\x12\x34dns"),
    ]);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].0, t::SIP_OPTIONS);
    assert_eq!(summary.invalid_on_sip_ports, 2);
    assert_eq!(summary.non_sip_packets, 1);
}

#[test]
fn gre_tunnel_endpoints_are_kept() {
    let inner = t::ethernet_tagged(
        &[(0x8100, 42)],
        ETH_IPV4,
        &t::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, &t::udp(5060, 5060, SIP_A)),
    );
    let gre = t::gre(0x6558, Some(7), Some(1), false, &inner);
    let outer = t::ethernet(ETH_IPV4, &t::ipv4([203, 0, 113, 5], [198, 51, 100, 1], 47, &gre));
    let (msgs, _) = run(&[outer]);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1, Some(("203.0.113.5".parse().unwrap(), "198.51.100.1".parse().unwrap())));
}

#[test]
fn fragmented_datagram_is_reassembled() {
    let mut big = SIP_B.to_vec();
    big.truncate(big.len() - 5);
    let body = vec![b'x'; 3000];
    let big = String::from_utf8(big).unwrap().replace("Content-Length: 5", "Content-Length: 3000");
    let mut payload = big.into_bytes();
    payload.extend_from_slice(&body);
    let ip = t::Ipv4::new([192, 0, 2, 1], [192, 0, 2, 2], 17);
    let mut frames: Vec<Vec<u8>> =
        ip.fragments(&t::udp(5060, 5060, &payload), 1400).into_iter().map(|f| t::ethernet(ETH_IPV4, &f)).collect();
    frames.reverse();
    let (msgs, summary) = run(&frames);
    assert_eq!(summary.reassembled_datagrams, 1);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, payload);
}

#[test]
fn tcp_messages_split_and_joined() {
    let mut stream = SIP_A.to_vec();
    stream.extend_from_slice(SIP_B);
    let syn = tcp_frame(999, TcpFlags::SYN, b"");
    // Cut in odd places: mid start line, mid header, mid body.
    let cuts = [10, SIP_A.len() + 3, stream.len() - 2];
    let mut frames = vec![syn];
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        frames.push(tcp_frame(1000 + from as u32, TcpFlags::ACK | TcpFlags::PSH, &stream[from..cut]));
        from = cut;
    }
    // Deliver the second and third segments out of order, with a retransmission.
    frames.swap(2, 3);
    frames.push(frames[1].clone());
    let (msgs, summary) = run(&frames);
    let got: Vec<&[u8]> = msgs.iter().map(|m| m.0.as_slice()).collect();
    assert_eq!(got, vec![SIP_A, SIP_B]);
    assert!(msgs.iter().all(|m| m.2 == Transport::Tcp));
    assert_eq!(summary.tcp_streams, 1);
}

#[test]
fn tcp_tls_on_5061_is_invalid_and_truncated_sip_is_kept() {
    let tls = t::ethernet(
        ETH_IPV4,
        &t::ipv4(
            [192, 0, 2, 1],
            [192, 0, 2, 2],
            6,
            &t::tcp(40001, 5061, 1, 1, TcpFlags::ACK, &[0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3].repeat(8)),
        ),
    );
    let cut = tcp_frame(1, TcpFlags::ACK, &SIP_B[..SIP_B.len() - 3]);
    let (msgs, summary) = run(&[tls, cut]);
    assert_eq!(summary.invalid_on_sip_ports, 1);
    assert_eq!(msgs.len(), 1, "the truncated message is flushed at the end of the capture");
    assert_eq!(msgs[0].0, &SIP_B[..SIP_B.len() - 3]);
}

#[test]
fn looks_like_sip_by_start_line() {
    assert!(looks_like_sip(b"OPTIONS sip:x SIP/2.0\r\n"));
    assert!(looks_like_sip(b"\r\nSIP/2.0 200 OK\r\n"));
    assert!(!looks_like_sip(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_sip(b""));
    assert!(!looks_like_sip(&[0xff; 2000]));
}
