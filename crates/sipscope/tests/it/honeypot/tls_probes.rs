//! What scanners send to a TLS port without completing a handshake (plaintext SIP, random
//! bytes, an SSLv2 hello, a truncated or unacceptable ClientHello) is recorded with its first
//! bytes and what the ClientHello offered. On 127.0.127.0/24.

use super::harness::Honeypot;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const TARGET: &str = "127.0.127.2:5061";

/// A ClientHello for `sni` offering TLS 1.3 and 1.2, without the key shares and signature
/// algorithms a server needs (a scanner's probe).
fn client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut list = vec![0u8];
    list.extend((name.len() as u16).to_be_bytes());
    list.extend(name);
    let mut server_name = (list.len() as u16).to_be_bytes().to_vec();
    server_name.extend(list);
    let mut ext = 0u16.to_be_bytes().to_vec();
    ext.extend((server_name.len() as u16).to_be_bytes());
    ext.extend(server_name);
    ext.extend([0, 43, 0, 5, 4, 0x03, 0x04, 0x03, 0x03]);
    let mut body = vec![0x03, 0x03];
    body.extend([7u8; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![1u8];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![22u8, 3, 1];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// Sends `bytes`, closes its side, and reads until the honeypot closes.
fn probe(bytes: &[u8]) {
    let mut s = TcpStream::connect(TARGET).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(Shutdown::Write);
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

#[test]
fn the_tls_port_records_what_fails_the_handshake() {
    let mut hp = Honeypot::start(&[("tls", "127.0.127.2", 5061)], "");
    let plaintext = b"OPTIONS sip:127.0.127.2 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.127.1;branch=z9hG4bKp\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: plain\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let random: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
    let sslv2 = [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10];
    let hello = client_hello("pbx.example");
    let probes: [(&str, &[u8]); 5] = [
        ("plaintext", plaintext),
        ("random", &random),
        ("sslv2", &sslv2),
        ("truncated", &hello[..60]),
        ("hello", &hello),
    ];
    for (_, bytes) in probes {
        probe(bytes);
    }
    let (summary, _) = hp.stop();
    assert_eq!(summary["tls_handshakes_failed"], 5, "{summary}");
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out'"), 0, "nothing answered");
    let rows = hp.rows(
        "SELECT raw, kind, coalesce(reason, '') FROM events WHERE transport = 'tls' AND direction = 'in' \
         AND anomalies LIKE '%tls_handshake_failed' ORDER BY id",
    );
    assert_eq!(rows.len(), 5, "{rows:?}");
    let raws: Vec<Vec<u8>> = {
        let db = hp.db();
        let mut stmt = db.prepare("SELECT raw FROM events WHERE direction = 'in' ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    for ((name, bytes), raw) in probes.iter().zip(&raws) {
        assert_eq!(raw.as_slice(), *bytes, "{name}: the first bytes as received");
    }
    assert_eq!(rows[0][1], "request", "plaintext SIP is a request all the same");
    assert!(rows[1][2].contains("not a TLS ClientHello (64 bytes)"), "{:?}", rows[1]);
    assert!(rows[2][2].contains("SSLv2-format ClientHello (truncated), version TLS 1.0"), "{:?}", rows[2]);
    assert!(rows[3][2].contains("closed by the client; TLS ClientHello (truncated)"), "{:?}", rows[3]);
    assert!(
        rows[4][2].contains(
            "TLS ClientHello, record TLS 1.0, version TLS 1.2, supported_versions TLS 1.3 TLS 1.2, SNI \"pbx.example\""
        ),
        "{:?}",
        rows[4]
    );
}
