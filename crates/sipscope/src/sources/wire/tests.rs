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

/// (message bytes, tunnel, transport, notes)
type Got = (Vec<u8>, Option<(IpAddr, IpAddr)>, Transport, &'static [&'static str]);

/// Runs frames through a decoder; returns the messages and the summary.
fn run(frames: &[Vec<u8>]) -> (Vec<Got>, CaptureSummary) {
    let mut decoder = WireDecoder::new();
    let mut summary = CaptureSummary::default();
    let mut out = Vec::new();
    let mut emit =
        |_: &mut CaptureSummary, m: WireMessage<'_>| out.push((m.bytes.to_vec(), m.tunnel, m.transport, m.notes));
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

/// A TCP segment between 192.0.2.1:40000 (the client) and 192.0.2.2:`port`, either way.
fn seg(port: u16, to_server: bool, seq: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let (c, srv) = ([192, 0, 2, 1], [192, 0, 2, 2]);
    let (src, dst, sport, dport) = if to_server { (c, srv, 40000, port) } else { (srv, c, port, 40000) };
    t::ethernet(ETH_IPV4, &t::ipv4(src, dst, 6, &t::tcp(sport, dport, seq, 1, flags, payload)))
}

/// The bytes of one direction cut at `cuts` into segments from `seq`, with a SYN first.
fn segments(port: u16, to_server: bool, seq: u32, bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = vec![seg(port, to_server, seq - 1, TcpFlags::SYN, b"")];
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        out.push(seg(port, to_server, seq + from as u32, TcpFlags::ACK | TcpFlags::PSH, &bytes[from..cut]));
        from = cut;
    }
    out
}

const MASK: Option<[u8; 4]> = Some([9, 8, 7, 6]);

#[test]
fn websocket_after_an_upgrade_both_directions_fragmented_across_segments() {
    for port in [80u16, 443, 5062, 8089] {
        // Client: upgrade, a masked message in one frame, one in three frames with a ping between.
        let mut client = t::WS_UPGRADE_REQUEST.to_vec();
        client.extend(t::ws_frame(true, 1, MASK, SIP_A));
        client.extend(t::ws_frame(false, 1, MASK, &SIP_B[..30]));
        client.extend(t::ws_frame(true, 9, MASK, b""));
        client.extend(t::ws_frame(false, 0, MASK, &SIP_B[30..90]));
        client.extend(t::ws_frame(true, 0, MASK, &SIP_B[90..]));
        // Server: 101, then an unmasked response.
        let ok =
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK-1\r\nContent-Length: 0\r\n\r\n";
        let mut server = t::WS_UPGRADE_RESPONSE.to_vec();
        server.extend(t::ws_frame(true, 1, None, ok));
        let head = t::WS_UPGRADE_REQUEST.len();
        let mut frames =
            segments(port, true, 1000, &client, &[5, head - 1, head + 1, head + 7, head + 200, client.len() - 3]);
        frames.extend(segments(port, false, 5000, &server, &[t::WS_UPGRADE_RESPONSE.len() + 1]));
        let (msgs, summary) = run(&frames);
        let got: Vec<&[u8]> = msgs.iter().map(|m| m.0.as_slice()).collect();
        assert_eq!(got, vec![SIP_A, SIP_B, &ok[..]], "port {port}");
        assert!(msgs.iter().all(|m| m.2 == Transport::Ws && m.3.is_empty()));
        assert_eq!((summary.websocket_streams, summary.tcp_streams), (2, 2));
        assert_eq!(
            (summary.invalid_on_sip_ports, summary.non_sip_packets, summary.websocket_messages_skipped),
            (0, 0, 0)
        );
    }
}

#[test]
fn websocket_without_the_handshake_in_the_capture() {
    let mut client = t::ws_frame(true, 1, MASK, SIP_A);
    client.extend(t::ws_frame(true, 2, MASK, SIP_B));
    let frames: Vec<Vec<u8>> = segments(5066, true, 10, &client, &[3, 40])[1..].to_vec();
    let (msgs, summary) = run(&frames);
    let got: Vec<&[u8]> = msgs.iter().map(|m| m.0.as_slice()).collect();
    assert_eq!(got, vec![SIP_A, SIP_B]);
    assert_eq!(summary.websocket_streams, 1);
    // Frames whose payload is not SIP, without a handshake, are not taken for WebSocket.
    let json = t::ws_frame(true, 1, MASK, &[b"{\"type\":\"hello\"}".as_slice(), &[b' '; 80]].concat());
    let (msgs, summary) = run(&segments(5060, true, 10, &json, &[])[1..]);
    assert!(msgs.is_empty());
    assert_eq!((summary.websocket_streams, summary.invalid_on_sip_ports), (0, 1));
}

#[test]
fn websocket_hostile_streams() {
    let mut client = t::WS_UPGRADE_REQUEST.to_vec();
    client.extend(t::ws_frame(true, 1, MASK, b"{\"not\": \"sip\"}"));
    client.extend(t::ws_frame(true, 1, MASK, SIP_A));
    client.extend(t::ws_frame(true, 1, MASK, &[0xff, 0xfe, 0x00]));
    // 300 KiB declared: over the limit, skipped while the segments come.
    let big = vec![b'x'; 300 << 10];
    client.extend(t::ws_frame(true, 1, MASK, &big));
    client.extend(t::ws_frame(true, 1, MASK, SIP_B));
    client.extend([0x83, 0x00]); // a reserved opcode: lost in the frames
    client.extend(t::ws_frame(true, 1, MASK, SIP_A));
    let cuts: Vec<usize> = (1..client.len() / 1400).map(|i| i * 1400).collect();
    let (msgs, summary) = run(&segments(80, true, 1, &client, &cuts));
    let got: Vec<&[u8]> = msgs.iter().map(|m| m.0.as_slice()).collect();
    assert_eq!(got, vec![SIP_A, SIP_B]);
    assert_eq!(summary.websocket_messages_skipped, 1);
    assert_eq!(summary.non_sip_packets, 3, "two messages that are not SIP and the stream lost");
    // A fragmented message the capture cut: what there is goes out at the end.
    let mut cut = t::WS_UPGRADE_REQUEST.to_vec();
    cut.extend(t::ws_frame(false, 1, MASK, &SIP_B[..50]));
    let (msgs, _) = run(&segments(80, true, 1, &cut, &[]));
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].0.as_slice(), msgs[0].2), (&SIP_B[..50], Transport::Ws));
    // Plain HTTP is not WebSocket, nor SIP.
    let http = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n";
    let (msgs, summary) = run(&segments(5060, true, 1, http, &[]));
    assert!(msgs.is_empty());
    assert_eq!((summary.invalid_on_sip_ports, summary.websocket_streams), (1, 0));
}

fn sctp_frame(chunks: &[Vec<u8>]) -> Vec<u8> {
    t::ethernet(ETH_IPV4, &t::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 132, &t::sctp(5060, 5060, 0x1234, chunks)))
}

#[test]
fn sctp_chunks_and_fragmented_user_messages() {
    let frags = t::data_fragments(10, 1, 0, 0, SIP_B, 40);
    let n = frags.len();
    let later: Vec<Vec<u8>> = frags[1..n].iter().rev().filter(|&f| f != &frags[3]).cloned().collect();
    let frames = vec![
        sctp_frame(&[t::data_chunk(3, 1, 0, 0, 0, SIP_A), t::sack_chunk(0), t::data_chunk(3, 2, 0, 1, 0, SIP_A)]),
        sctp_frame(&[frags[3].clone(), frags[0].clone()]),
        sctp_frame(&[t::data_chunk(3, 3, 2, 0, 46, b"\x01\x00\x00\x14diameter")]),
        sctp_frame(&later),
        sctp_frame(&[t::sack_chunk(10 + n as u32)]),
        sctp_frame(&[t::data_fragments(20, 0, 0, 0, SIP_A, 100)[0].clone()]),
    ];
    let (msgs, summary) = run(&frames);
    let got: Vec<&[u8]> = msgs.iter().map(|m| m.0.as_slice()).collect();
    assert_eq!(got, vec![SIP_A, SIP_A, SIP_B]);
    assert!(msgs.iter().all(|m| m.2 == Transport::Sctp));
    assert_eq!((summary.sctp_reassembled_messages, summary.sctp_fragments_dropped), (1, 1));
    assert_eq!((summary.invalid_on_sip_ports, summary.non_sip_packets), (1, 0));
}

#[test]
fn packets_the_capture_cut_are_decoded_with_a_notice() {
    let whole = udp_frame(5060, 5060, SIP_A);
    let (msgs, summary) = run(&[whole[..whole.len() - 20].to_vec(), whole.clone()]);
    assert_eq!(msgs.len(), 2);
    assert_eq!((msgs[0].0.as_slice(), msgs[0].3), (&SIP_A[..SIP_A.len() - 20], &[notes::IP_TRUNCATED][..]));
    assert!(msgs[1].3.is_empty());
    assert_eq!(summary.ip_truncated, 1);
    // TCP: the message holding the cut segment's bytes carries the notice, the next does not.
    let mut stream = SIP_A.to_vec();
    stream.extend_from_slice(SIP_B);
    let cut = tcp_frame(1, TcpFlags::ACK, &stream[..100]);
    let rest = tcp_frame(101, TcpFlags::ACK, &stream[100..]);
    let (msgs, _) = run(&[cut[..cut.len() - 1].to_vec(), tcp_frame(100, TcpFlags::ACK, &stream[99..100]), rest]);
    let notes: Vec<_> = msgs.iter().map(|m| m.3).collect();
    assert_eq!(notes, vec![&[notes::IP_TRUNCATED][..], &[][..]]);
    assert_eq!(msgs[0].0, SIP_A);
}
