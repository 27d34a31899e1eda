//! `sipscope hep --metrics` on 127.0.245.0/24: HEP packets in, the scraped counters must agree
//! with the store (messages in per transport, events stored, the payload that is not SIP).

use super::Collector;
use crate::honeypot::metrics::{http_get, scrape};
use sipscope_hep::{encode, Packet, Payload};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const METRICS: &str = "127.0.245.3:9465";

fn packet(n: u16, sip: &[u8]) -> Vec<u8> {
    let mut p = Packet::v3();
    p.ip_family = Some(sipscope_hep::FAMILY_V4);
    p.ip_proto = Some(17);
    p.src_addr = Some("203.0.113.9".parse().unwrap());
    p.dst_addr = Some("192.0.2.1".parse().unwrap());
    (p.src_port, p.dst_port) = (Some(40_000 + n), Some(5060));
    (p.ts_sec, p.ts_usec) = (Some(1_796_000_000 + u32::from(n)), Some(0));
    p.payload_type = Some(sipscope_hep::PAYLOAD_SIP);
    p.capture_id = Some(2001);
    p.payload = Payload::Plain(sip);
    encode(&p).unwrap()
}

#[test]
fn the_hep_collectors_metrics_agree_with_its_store() {
    let mut hep = Collector::start(None, &["--listen", "udp:127.0.245.3:9060", "--count", "13", "--metrics", METRICS]);
    let sender = UdpSocket::bind("127.0.245.3:0").unwrap();
    for n in 0..10u16 {
        let sip = format!("OPTIONS sip:{n}@192.0.2.1 SIP/2.0\r\nCall-ID: m{n}\r\nCSeq: 1 OPTIONS\r\n\r\n");
        sender.send_to(&packet(n, sip.as_bytes()), "127.0.245.3:9060").unwrap();
    }
    sender.send_to(&packet(10, b"\x00\x01 not SIP"), "127.0.245.3:9060").unwrap();
    sender.send_to(b"HEP3 but not really", "127.0.245.3:9060").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let m = scrape(METRICS);
        let stored: i64 = hep.db().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap_or(0);
        let committed = m.sum("sipscope_events_out_total", &[("sink", "sqlite")]);
        let taken = m.sum("sipscope_hep_packets_total", &[]);
        if stored == 11 && committed == 11.0 && taken == 12.0 {
            break m;
        }
        assert!(Instant::now() < deadline, "stored {stored}, metric {committed}, packets {taken}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(m.sum("sipscope_messages_in_total", &[("source", "hep"), ("transport", "udp")]), 11.0);
    assert_eq!(m.sum("sipscope_messages_in_total", &[]), 11.0);
    assert_eq!(m.sum("sipscope_parse_errors_total", &[("source", "hep"), ("outcome", "kept")]), 1.0);
    assert_eq!(m.sum("sipscope_queue_depth", &[("queue", "hep_channel")]), 0.0);
    assert_eq!(m.sum("sipscope_hep_packets_total", &[("outcome", "accepted")]), 11.0);
    assert_eq!(m.sum("sipscope_hep_packets_total", &[("outcome", "malformed")]), 1.0);
    assert_eq!(m.sum("sipscope_hep_packets_total", &[]), 12.0);
    assert!(http_get(METRICS, "/metrics/x").0.starts_with("HTTP/1.1 404"));
    sender.send_to(&packet(11, b"OPTIONS sip:x@192.0.2.1 SIP/2.0\r\n\r\n"), "127.0.245.3:9060").unwrap();
    let summary = hep.wait();
    assert_eq!(summary["messages"]["events_stored"], 12, "{summary}");
}
