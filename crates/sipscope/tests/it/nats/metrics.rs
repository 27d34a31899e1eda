//! The publisher's and the collector's Prometheus metrics: a honeypot publishing to a broker
//! of the test's own (port 14227) counts what the broker acknowledged and shows its publish
//! lag (0 when caught up, the age of the oldest unacknowledged row while the broker is gone);
//! `collect --metrics` counts what it took in and stored. Honeypot on 127.0.242.3, its metrics
//! on 127.0.242.3:9464, the collector's on 127.0.242.4:9464.

use super::broker::Broker;
use super::per_sensor;
use crate::honeypot::harness::Honeypot;
use crate::honeypot::metrics::scrape;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

const HP: &str = "127.0.242.3";
const HP_METRICS: &str = "127.0.242.3:9464";
const COLLECTOR_METRICS: &str = "127.0.242.4:9464";

/// Sends `n` OPTIONS from 127.0.242.12 and waits for each answer.
fn probe(n: usize, tag: &str) {
    let socket = UdpSocket::bind("127.0.242.12:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for i in 0..n {
        let msg = format!(
            "OPTIONS sip:100@{HP} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.242.12:5060;branch=z9hG4bK{tag}{i}\r\n\
             From: <sip:m@127.0.242.12>;tag={tag}{i}\r\nTo: <sip:100@{HP}>\r\nCall-ID: m{tag}-{i}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        socket.send_to(msg.as_bytes(), (HP, 5060)).unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.recv_from(&mut buf);
    }
}

/// Polls `addr`'s metrics until `done` holds (at most 30 s); returns the last pair it saw.
fn until(addr: &str, what: &str, done: impl Fn(f64, f64) -> bool) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = scrape(addr);
        let seen = (
            m.sum("sipscope_events_out_total", &[("sink", "nats")]),
            m.sum("sipscope_publish_lag_seconds", &[("sink", "nats")]),
        );
        if done(seen.0, seen.1) {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: acknowledged {}, lag {}", seen.0, seen.1);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_publishers_and_the_collectors_metrics_follow_the_broker() {
    let Some(mut broker) = Broker::start(14227, &[]) else { return };
    let url = broker.url();
    let config = format!("[nats]\nurl = \"{url}\"\n[metrics]\nlisten = \"{HP_METRICS}\"\n");
    let mut hp = Honeypot::start(&[("udp", HP, 5060)], &config);
    probe(20, "a");
    // Every stored event (20 requests, 20 answers) acknowledged, and nothing waiting.
    until(HP_METRICS, "caught up", |acked, lag| acked >= 40.0 && lag == 0.0);

    broker.kill();
    std::thread::sleep(Duration::from_millis(1500));
    probe(10, "b");
    let (_, lag) = until(HP_METRICS, "behind while the broker is gone", |_, lag| lag > 0.5);
    assert!(lag < 120.0, "the age of rows stored a moment ago: {lag}");

    broker.restart();
    until(HP_METRICS, "caught up again", |acked, lag| acked >= 60.0 && lag == 0.0);
    hp.stop();
    let hp_db = hp.dir.path().join("hp.db");
    let stored: i64 = per_sensor(&hp_db).iter().map(|(_, n)| n).sum();
    // `messages_in` counts what arrived at a sensor (direction `in`), not its answers.
    let arrived: i64 = rusqlite::Connection::open(&hp_db)
        .unwrap()
        .query_row("SELECT count(*) FROM events WHERE direction = 'in'", [], |r| r.get(0))
        .unwrap();
    assert!(arrived > 0 && arrived < stored);

    // The collector's own metrics while it takes them in.
    let dir = tempfile::tempdir().unwrap();
    let central = dir.path().join("central.db");
    let mut collector = Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["collect", "--nats", &url, "--db", central.to_str().unwrap(), "--sensor", "central"])
        .args(["--idle-exit", "30", "--metrics", COLLECTOR_METRICS])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (taken, written) = loop {
        let seen = match std::net::TcpStream::connect(COLLECTOR_METRICS) {
            Ok(_) => {
                let m = scrape(COLLECTOR_METRICS);
                (
                    m.sum("sipscope_messages_in_total", &[("source", "collector")]),
                    m.sum("sipscope_events_out_total", &[("sink", "sqlite")]),
                )
            }
            Err(_) => (0.0, 0.0),
        };
        if seen.0 >= arrived as f64 && seen.1 >= stored as f64 {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "the collector's metrics: in {} of {arrived}, stored {} of {stored}",
            seen.0,
            seen.1
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = collector.kill();
    let _ = collector.wait();
    assert_eq!((taken, written), (arrived as f64, stored as f64));
}
