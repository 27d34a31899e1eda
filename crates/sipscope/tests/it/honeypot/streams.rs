//! The honeypot's TCP shell under hostile clients, with plain sockets on 127.0.120.0/24 to
//! 127.0.127.0/24: slow clients cannot lock out a new one, the per-/24 cap, refused
//! connections, keep-alives, messages without an end or with an absurd Content-Length, and the
//! budget on what a stream is answered.

use super::harness::Honeypot;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

fn options(call_id: &str, host: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/TCP {host};branch=z9hG4bK{call_id}\r\n\
         From: <sip:probe@{host}>;tag={call_id}\r\nTo: <sip:{host}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A TCP connection from `source` (an address, port chosen by the kernel) to `to`.
fn connect_from(source: &str, to: &str) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&format!("{source}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    s.connect(&to.parse::<SocketAddr>().unwrap().into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Everything the server sends until it closes (a reset counts as a close).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Whether the server closed the connection (EOF or reset) rather than answering or waiting.
fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

#[test]
fn slow_clients_cannot_lock_out_a_new_client() {
    let extra = "[limits]\nmax_connections = 6\nmax_connections_per_source = 2\n";
    let mut hp = Honeypot::start(&[("tcp", "127.0.120.2", 5060)], extra);
    // Six slow clients take every slot and send their message a byte at a time.
    let mut slow: Vec<TcpStream> =
        (0..6).map(|i| connect_from(&format!("127.0.120.{}", 10 + i / 2), "127.0.120.2:5060")).collect();
    let message = options("slow", "127.0.120.2");
    for byte in &message[..8] {
        for s in &mut slow {
            let _ = s.write_all(std::slice::from_ref(byte));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Past a second without a complete message, the slowest makes room for a newcomer.
    let mut fresh = connect_from("127.0.120.20", "127.0.120.2:5060");
    fresh.write_all(&options("fresh", "127.0.120.2")).unwrap();
    let mut buf = [0u8; 4096];
    let n = fresh.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200 OK"), "the new client is served: {answer:?}");
    let evicted = slow.iter_mut().position(closed).expect("one slow client was closed");
    drop(slow.remove(evicted));
    let (summary, _) = hp.stop();
    assert_eq!(summary["connections_evicted"], 1, "{summary}");
    let rows = hp.rows("SELECT raw FROM events WHERE anomalies LIKE '%connection_evicted%'");
    assert_eq!(rows, [["OPTIONS "]], "what the evicted client sent is kept");
}

#[test]
fn a_message_trickled_a_byte_at_a_time_misses_its_deadline() {
    let extra = "[limits]\nmessage_deadline_seconds = 1\n";
    let mut hp = Honeypot::start(&[("tcp", "127.0.121.2", 5060)], extra);
    let mut s = connect_from("127.0.121.10", "127.0.121.2:5060");
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let message = options("trickle", "127.0.121.2");
    let mut sent = 0;
    // The idle timer (30 s) would restart on every byte; the deadline does not.
    let mut buf = [0u8; 64];
    while sent < message.len() {
        if s.write_all(&message[sent..=sent]).is_err() {
            break;
        }
        sent += 1;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(sent < message.len(), "closed before the message was complete");
    let (summary, _) = hp.stop();
    assert_eq!(summary["deadlines_missed"], 1, "{summary}");
    let raw: Vec<u8> = hp
        .db()
        .query_row("SELECT raw FROM events WHERE anomalies LIKE '%stream_deadline_missed%'", [], |r| r.get(0))
        .unwrap();
    assert!(!raw.is_empty() && message.starts_with(&raw), "{}", String::from_utf8_lossy(&raw));
}

#[test]
fn a_busy_24_is_capped_and_refused_connections_are_recorded_at_a_bounded_rate() {
    let extra =
        "[limits]\nmax_connections_per_source = 2\nmax_connections_per_ipv4_24 = 3\nrefused_records_per_second = 1.0\n";
    let mut hp = Honeypot::start(&[("tcp", "127.0.122.2", 5060)], extra);
    let held: Vec<TcpStream> = ["127.0.122.10", "127.0.122.10", "127.0.122.11"]
        .iter()
        .map(|source| connect_from(source, "127.0.122.2:5060"))
        .collect();
    // Served connections answer: they are in before the refusals below.
    for (i, s) in held.iter().enumerate() {
        let mut s = s;
        s.write_all(&options(&format!("held{i}"), "127.0.122.2")).unwrap();
        let mut buf = [0u8; 4096];
        assert!(s.read(&mut buf).unwrap() > 0);
    }
    for _ in 0..10 {
        let mut refused = connect_from("127.0.122.12", "127.0.122.2:5060");
        assert!(closed(&mut refused), "a fourth connection from the /24 is refused");
    }
    let mut other = connect_from("127.0.123.12", "127.0.122.2:5060");
    other.write_all(&options("other", "127.0.122.2")).unwrap();
    let mut buf = [0u8; 4096];
    let n = other.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200 OK"), "another /24 is served");
    let (summary, _) = hp.stop();
    assert_eq!(summary["connections_refused"], 10, "{summary}");
    let recorded = hp.rows(
        "SELECT src_ip, kind, length(raw), reason FROM events WHERE anomalies = 'connection_refused' AND direction = 'in'",
    );
    let not_recorded = summary["refusals_not_recorded"].as_u64().unwrap();
    assert_eq!(recorded.len() as u64 + not_recorded, 10, "{summary}");
    assert!((1..10).contains(&recorded.len()), "{recorded:?}");
    assert_eq!(recorded[0], ["127.0.122.12", "invalid", "0", "connection refused: 3 connections open from this /24"]);
}

#[test]
fn stream_answers_have_a_budget_and_a_size_cap_and_keep_alives_are_recorded() {
    // A tiny request buys at most its own size in answers (factor 1): the 200 OK is withheld,
    // and the keep-alive pong that follows is the first thing to come back.
    let extra = "[limits]\nstream_amplification_factor = 1.0\n";
    let mut hp = Honeypot::start(&[("tcp", "127.0.124.2", 5060)], extra);
    let mut s = connect_from("127.0.124.10", "127.0.124.2:5060");
    let tiny = b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:h>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
    s.write_all(tiny).unwrap();
    s.write_all(b"\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n", "only the pong");
    let (summary, _) = hp.stop();
    assert_eq!(summary["stream_answers_withheld"], 1, "{summary}");
    let rows = hp.rows("SELECT direction, kind, hex(raw) FROM events WHERE kind = 'keepalive' ORDER BY id");
    assert_eq!(rows, [["in", "keepalive", "0D0A0D0A"], ["out", "keepalive", "0D0A"]]);
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out'"), 1);

    // No answer is larger than max_answer_bytes, even when the budget allows it.
    let extra = "[limits]\nmax_answer_bytes = 100\n";
    let mut hp = Honeypot::start(&[("tcp", "127.0.124.3", 5060)], extra);
    let mut s = connect_from("127.0.124.10", "127.0.124.3:5060");
    s.write_all(&options("big", "127.0.124.3")).unwrap();
    s.write_all(b"\r\n\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n", "only the pong");
    let (summary, _) = hp.stop();
    assert_eq!(summary["answers_over_size"], 1, "{summary}");
}

#[test]
fn a_header_without_its_end_is_recorded_up_to_the_limit_with_an_anomaly() {
    let mut hp = Honeypot::start(&[("tcp", "127.0.125.2", 5060)], "[limits]\nmax_message_bytes = 1000\n");
    let mut s = connect_from("127.0.125.10", "127.0.125.2:5060");
    let mut endless = b"OPTIONS sip:h SIP/2.0\r\nX-Pad: ".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 40_000));
    let _ = s.write_all(&endless);
    let _ = s.shutdown(Shutdown::Write);
    assert!(read_to_close(&mut s).is_empty(), "not answered");
    hp.stop();
    let rows = hp.rows("SELECT length(raw), anomalies FROM events WHERE direction = 'in'");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "1001", "the limit and one byte past it, whatever the reads");
    assert!(rows[0][1].contains("headers_not_terminated") && rows[0][1].ends_with("stream_over_limit"), "{rows:?}");
}

#[test]
fn an_unframeable_message_is_recorded_and_never_answered() {
    let mut hp = Honeypot::start(&[("tcp", "127.0.126.2", 5060)], "");
    let mut s = connect_from("127.0.126.10", "127.0.126.2:5060");
    let huge = String::from_utf8(options("huge", "127.0.126.2"))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 1000000000000");
    s.write_all(huge.as_bytes()).unwrap();
    let got = read_to_close(&mut s);
    assert!(got.is_empty(), "answered: {}", String::from_utf8_lossy(&got));
    hp.stop();
    assert_eq!(hp.count("SELECT count(*) FROM events WHERE direction = 'out'"), 0);
    let rows = hp.rows("SELECT method, anomalies FROM events WHERE direction = 'in'");
    assert_eq!(rows.len(), 1);
    assert!(rows[0][0] == "OPTIONS" && rows[0][1].ends_with("stream_unframeable"), "{rows:?}");
}
