//! HEPv3 over TCP (packets cut anywhere by the writes) and TLS with client certificates; a
//! stream that is not HEP is closed and counted; a TLS sender without a certificate is refused.

use super::{rows, Collector};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sipscope_hep::{encode, Packet, Payload};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

const KEYS: &str = "[[node]]\nsensor = \"edge-1\"\nid = 2001\nkey = \"0123456789abcdef\"\n";

fn packet(n: u16) -> Vec<u8> {
    let sip = format!("OPTIONS sip:{n}@192.0.2.1 SIP/2.0\r\nCall-ID: {n}\r\nCSeq: 1 OPTIONS\r\n\r\n");
    let mut p = Packet::v3();
    p.ip_family = Some(sipscope_hep::FAMILY_V4);
    p.ip_proto = Some(6);
    p.src_addr = Some("203.0.113.9".parse().unwrap());
    p.dst_addr = Some("192.0.2.1".parse().unwrap());
    (p.src_port, p.dst_port) = (Some(40_000 + n), Some(5060));
    (p.ts_sec, p.ts_usec) = (Some(1_796_000_000 + u32::from(n)), Some(0));
    p.payload_type = Some(sipscope_hep::PAYLOAD_SIP);
    p.capture_id = Some(2001);
    p.auth_key = Some(b"0123456789abcdef");
    p.payload = Payload::Plain(sip.as_bytes());
    encode(&p).unwrap()
}

use crate::pki::{pki, Pki};

fn tls_client(pki: &Pki, with_cert: bool) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_cert {
        let chain = vec![CertificateDer::from_pem_slice(pki.client.0.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(pki.client.1.as_bytes()).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let name = ServerName::try_from("127.0.230.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect("127.0.230.1:9067").unwrap();
    // A collector that accepted an anonymous sender would leave its read waiting: a timeout,
    // which the test tells apart from a refusal.
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

use rustls::pki_types::pem::PemObject;

#[test]
fn tcp_and_tls_streams_frame_packets_and_refuse_what_is_not_hep_or_not_certified() {
    let pki = pki("127.0.230.1", "edge-1.sensors.test");
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (ca, cert, key) = (file("ca.pem", &pki.ca), file("cert.pem", &pki.server.0), file("key.pem", &pki.server.1));
    let args = [
        "--listen",
        "tcp:127.0.230.1:9066",
        "--listen",
        "tls:127.0.230.1:9067",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
        "--count",
        "4",
    ];
    let mut hep = Collector::start(Some(KEYS), &args);

    // Not HEP: the collector closes the stream (read gives EOF or a reset).
    let mut junk = TcpStream::connect("127.0.230.1:9066").unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let _ = junk.read_to_end(&mut Vec::new());
    // TLS without a client certificate: the handshake fails, nothing is read.
    let mut anonymous = tls_client(&pki, false);
    let refused = anonymous.write_all(&packet(99)).and_then(|()| anonymous.flush()).and_then(|()| {
        let mut buf = [0u8; 16];
        anonymous.read(&mut buf)
    });
    let refusal = refused.expect_err("a sender without a certificate must be refused");
    assert!(
        !matches!(refusal.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        "refused by the handshake, not left waiting: {refusal}"
    );

    // Three packets over TCP in writes that cut them anywhere.
    let stream: Vec<u8> = [packet(1), packet(2), packet(3)].concat();
    let mut tcp = TcpStream::connect("127.0.230.1:9066").unwrap();
    tcp.set_nodelay(true).unwrap();
    for piece in stream.chunks(37) {
        tcp.write_all(piece).unwrap();
    }
    // One over TLS with the client certificate.
    let mut tls = tls_client(&pki, true);
    tls.write_all(&packet(4)).unwrap();
    tls.flush().unwrap();
    let summary = hep.wait();
    drop((tcp, tls));
    assert_eq!(summary["hep"]["accepted"], 4, "{summary}");
    assert_eq!(summary["hep"]["streams_not_hep"], 1, "{summary}");
    let events = rows(&hep.db(), "SELECT sensor, transport, src_port, call_id FROM events ORDER BY ts_ns");
    let want: Vec<Vec<String>> = (1..=4)
        .map(|n| {
            vec![
                "Text(\"edge-1\")".into(),
                "Text(\"tcp\")".into(),
                format!("Integer({})", 40_000 + n),
                format!("Text(\"{n}\")"),
            ]
        })
        .collect();
    assert_eq!(events, want);
}
