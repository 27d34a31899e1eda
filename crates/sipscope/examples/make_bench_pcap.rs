//! Writes a large capture with a realistic attack mix, for `bench/ingest-compare.sh`:
//! `cargo run --release -p sipscope --example make_bench_pcap -- OUT.pcap PACKETS`
//!
//! Mix per 20 packets: 8 scanner OPTIONS (SIPVicious style, many sources, sequential targets),
//! 4 REGISTER brute-force attempts with digest credentials, 2 INVITEs with SDP to international
//! numbers, 4 responses (200, 401, 404, 407), 1 empty UDP probe to 5060, 1 DNS packet.
//! Deterministic: the same arguments give the same bytes.

use sipscope::sources::pcap::writer::PcapWriter;
use sipscope_packet::testutil as t;
use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "bench.pcap".into());
    let packets: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(5_000_000);
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let mut w = PcapWriter::new(file, 1, false)?;
    let t0: i64 = 1_700_000_000_000_000_000;
    for i in 0..packets {
        let src = [198, 51, (i / 65_536 % 256) as u8, (i / 256 % 256) as u8];
        let dst = [192, 0, (i / 256 % 64) as u8, (i % 256) as u8];
        let payload = match i % 20 {
            0..=7 => options(i),
            8..=11 => register(i),
            12 | 13 => invite(i),
            14 => response(i, "200 OK"),
            15 => response(i, "401 Unauthorized"),
            16 => response(i, "404 Not Found"),
            17 => response(i, "407 Proxy Authentication Required"),
            18 => Vec::new(),
            _ => {
                let dns = t::ipv4(
                    src,
                    [192, 0, 2, 53],
                    17,
                    &t::udp(40000, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
                );
                w.write(t0 + i as i64 * 10_000, &t::ethernet(0x0800, &dns), None)?;
                continue;
            }
        };
        let (s, d) = if (14..=17).contains(&(i % 20)) { (dst, src) } else { (src, dst) };
        let frame = t::ethernet(0x0800, &t::ipv4(s, d, 17, &t::udp(5060, 5060, &payload)));
        w.write(t0 + i as i64 * 10_000, &frame, None)?;
    }
    w.into_inner().into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

fn options(i: u64) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@192.0.{}.{} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\n\
Max-Forwards: 70\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\nFrom: \"sipvicious\"<sip:100@1.1.1.1>;tag=6631{i:x}\r\n\
User-Agent: friendly-scanner\r\nCall-ID: {}\r\nContact: sip:100@10.0.0.1:5060\r\nCSeq: 1 OPTIONS\r\n\
Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
        i / 256 % 64,
        i % 256,
        i.wrapping_mul(2_654_435_761)
    )
    .into_bytes()
}

fn register(i: u64) -> Vec<u8> {
    let ext = 100 + i % 900;
    format!(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\nMax-Forwards: 70\r\n\
To: \"{ext}\" <sip:{ext}@192.0.2.1>\r\nFrom: \"{ext}\" <sip:{ext}@192.0.2.1>;tag=31{i:x}\r\nUser-Agent: friendly-scanner\r\n\
Call-ID: {i}\r\nContact: sip:{ext}@10.0.0.1\r\nCSeq: 2 REGISTER\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\
Authorization: Digest username=\"{ext}\",realm=\"asterisk\",nonce=\"{i:08x}\",uri=\"sip:192.0.2.1\",algorithm=MD5,\
response=\"{:032x}\"\r\n\r\n",
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
    .into_bytes()
}

fn invite(i: u64) -> Vec<u8> {
    let body = format!(
        "v=0\r\no=- {i} {i} IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    format!(
        "INVITE sip:00972592{:06}@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i}\r\nMax-Forwards: 70\r\n\
From: \"100\" <sip:100@192.0.2.1>;tag=as{i:x}\r\nTo: <sip:00972592{:06}@192.0.2.1>\r\nCall-ID: inv{i}@10.0.0.1\r\n\
CSeq: 102 INVITE\r\nUser-Agent: pplsip\r\nContact: <sip:100@10.0.0.1:5060>\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        i % 1_000_000,
        i % 1_000_000,
        body.len()
    )
    .into_bytes()
}

fn response(i: u64, status: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};received=198.51.0.1;rport=5060\r\n\
From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6631{i:x}\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>;tag=as{i:x}\r\n\
Call-ID: {i}\r\nCSeq: 1 OPTIONS\r\nServer: Asterisk PBX 16.28.0\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE\r\n\
Supported: replaces, timer\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}
