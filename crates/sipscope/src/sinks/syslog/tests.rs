//! Against real receivers on loopback (this helper's block, 127.0.220.0/24): a UDP and a TCP
//! listener in the test, a receiver that is not there yet, one that drops the connection.

use super::*;
use crate::act::Action;
use std::io::BufRead;
use std::net::TcpListener;

fn config(url: &str) -> SyslogConfig {
    SyslogConfig {
        endpoint: Endpoint::parse(url, SCHEMES).unwrap(),
        facility: 16,
        host: "sensor-1".into(),
        timeout: Duration::from_secs(5),
        limits: DeliveryLimits {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            attempts: 1000,
            ..DeliveryLimits::default()
        },
    }
}

fn sample() -> Alert {
    crate::test_support::alert("192.0.2.7", false, 1_796_017_906_000_000_000, vec![Action::Alert])
}

/// Reads one octet-counted frame.
fn frame(reader: &mut impl BufRead) -> String {
    let mut len = Vec::new();
    reader.read_until(b' ', &mut len).unwrap();
    let n: usize = std::str::from_utf8(&len[..len.len() - 1]).unwrap().parse().unwrap();
    let mut body = vec![0; n];
    reader.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

#[test]
fn alerts_and_decisions_arrive_over_udp() {
    let receiver = UdpSocket::bind("127.0.220.1:0").unwrap();
    let url = format!("udp://{}", receiver.local_addr().unwrap());
    let mut sink = Syslog::open(config(&url)).unwrap();
    sink.alert(&sample()).unwrap();
    let d = crate::act::Decision {
        id: Some(9),
        kind: crate::act::DecisionKind::Ban,
        scope: "192.0.2.7".parse().unwrap(),
        start_ns: 0,
        until_ns: 60_000_000_000,
        reason: "why".into(),
        origin: crate::act::DecisionOrigin::Rule { rule_id: "r".into() },
        offence: 0,
        proven: true,
        evidence: vec![],
    };
    sink.decision(&d).unwrap();
    let mut buf = [0u8; 8192];
    let n = receiver.recv(&mut buf).unwrap();
    let first = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(first.starts_with("<132>1 2026-11-30T05:51:46.000000+00:00 test sipscope "), "{first}");
    assert!(first.contains("proven=\"false\""), "{first}");
    let n = receiver.recv(&mut buf).unwrap();
    let second = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(second.starts_with("<132>1 1970-01-01T00:00:00.000000+00:00 sensor-1 sipscope "), "{second}");
    assert!(second.contains("[decision@32473 id=\"9\" kind=\"ban\" scope=\"192.0.2.7\""), "{second}");
}

#[test]
fn tcp_frames_count_octets_and_the_sender_reconnects() {
    let listener = TcpListener::bind("127.0.220.1:0").unwrap();
    let mut sink = Syslog::open(config(&format!("tcp://{}", listener.local_addr().unwrap()))).unwrap();
    let mut a = sample();
    a.sip.user_agent = Some("ünïcode agent".into());
    sink.alert(&a).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let mut reader = std::io::BufReader::new(conn);
    let got = frame(&mut reader);
    assert!(got.contains("user_agent=\"ünïcode agent\""), "{got}");
    // The receiver goes away; the next messages go over a new connection.
    drop(reader);
    sink.alert(&sample()).unwrap();
    sink.alert(&sample()).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let mut reader = std::io::BufReader::new(conn);
    assert!(frame(&mut reader).contains("[alert@32473 "));
    assert!(frame(&mut reader).contains("[alert@32473 "));
    assert_eq!(sink.counters().failed, 0);
}

#[test]
fn an_unreachable_receiver_never_blocks_and_is_reached_once_it_listens() {
    // A port that nothing listens on yet: taken, noted, released.
    let addr = TcpListener::bind("127.0.220.2:0").unwrap().local_addr().unwrap();
    let mut sink = Syslog::open(config(&format!("tcp://{addr}"))).unwrap();
    for _ in 0..50 {
        sink.alert(&sample()).unwrap();
    }
    while sink.counters().retries < 2 {
        std::thread::yield_now();
    }
    let listener = TcpListener::bind(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let mut reader = std::io::BufReader::new(conn);
    for _ in 0..50 {
        assert!(frame(&mut reader).contains("sipscope/register-guessing"));
    }
    let c = sink.counters();
    assert_eq!((c.failed, c.dropped), (0, 0), "{c:?}");
}
