//! The HEP benchmark's message mix, one file for the two examples that use it: `sipscope`'s
//! `examples/hep_send.rs` (the load `bench/hep-bench.sh` sends) and this crate's
//! `examples/check_loop.rs` (the same messages checked in a loop under callgrind). Included by
//! path (`#[path]`), since the two live in different crates.

/// Message `i` of the mix: scanner OPTIONS, digest REGISTERs and 401s from many sources.
pub fn message(i: u64) -> Vec<u8> {
    let target = format!("192.0.{}.{}", i / 256 % 64, i % 256);
    match i % 5 {
        0 | 1 => format!(
            "OPTIONS sip:100@{target} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\n\
Max-Forwards: 70\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\nFrom: \"sipvicious\"<sip:100@1.1.1.1>;tag=6631{i:x}\r\n\
User-Agent: friendly-scanner\r\nCall-ID: {}\r\nContact: sip:100@10.0.0.1:5060\r\nCSeq: 1 OPTIONS\r\n\
Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
            i.wrapping_mul(2_654_435_761)
        ),
        2 | 3 => format!(
            "REGISTER sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\n\
Max-Forwards: 70\r\nTo: <sip:{ext}@{target}>\r\nFrom: <sip:{ext}@{target}>;tag={i:x}\r\nCall-ID: r{i}\r\n\
CSeq: 2 REGISTER\r\nContact: <sip:{ext}@10.0.0.1:5060>\r\nUser-Agent: friendly-scanner\r\n\
Authorization: Digest username=\"{ext}\", realm=\"asterisk\", nonce=\"4f1a{i:x}\", uri=\"sip:{target}\", \
response=\"{:032x}\", algorithm=MD5\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
            u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ext = 100 + i % 900
        ),
        _ => format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\n\
From: <sip:100@{target}>;tag={i:x}\r\nTo: <sip:100@{target}>;tag=as{i:x}\r\nCall-ID: r{i}\r\nCSeq: 2 REGISTER\r\n\
Server: Asterisk PBX 16.28.0\r\nWWW-Authenticate: Digest algorithm=MD5, realm=\"asterisk\", nonce=\"4f1a{i:x}\"\r\n\
Content-Length: 0\r\n\r\n"
        ),
    }
    .into_bytes()
}
