//! Sensors publishing to NATS JetStream and `sipscope collect` (issue 16), against nats-server
//! instances the tests start themselves on ports 14222–14235 (`broker.rs`), honeypots on
//! 127.0.242.0/24; `collect --api` (`collect_api.rs`) serves on 127.0.242.60; `metrics.rs` scrapes
//! a publishing honeypot and `collect --metrics` on 127.0.242.3–4; `refusing.rs` (ports
//! 14231, 14232, 14234; honeypots on 127.0.242.70–75) a broker that refuses, and
//! `full_database.rs` (port 14233, PostgreSQL on 55441) a collector whose database is full,
//! `held_store.rs` (port 14235) one whose store holds it up for longer than a pull lasts,
//! `redelivered.rs` (port 14236) events published again into a PostgreSQL store.

mod broker;
mod collect_api;
mod decisions;
mod full_database;
mod held_store;
mod lab;
mod metrics;
mod outbox;
mod redelivered;
mod refusing;
mod three_sensors;

use rusqlite::Connection;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

pub fn sipscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipscope")).args(args).env("SIPSCOPE_LOG", "info").output().unwrap()
}

pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Events per sensor in a store.
pub fn per_sensor(db: &Path) -> Vec<(String, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT sensor, count(*) FROM events GROUP BY sensor ORDER BY sensor").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// Runs the collector until nothing arrived for 3 s; returns its JSON summary.
pub fn collect(url: &str, db: &Path, extra: &[&str]) -> serde_json::Value {
    let db = db.to_str().unwrap();
    let mut args = vec!["collect", "--nats", url, "--db", db, "--sensor", "central", "--idle-exit", "3", "--json"];
    args.extend_from_slice(extra);
    let out = ok(sipscope(&args));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Sends `n` OPTIONS to `hp:5060` from `from`; returns how many were answered.
pub fn probe(hp: &str, from: &str, n: usize, tag: &str) -> usize {
    let socket = UdpSocket::bind((from, 0)).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut answered = 0;
    for i in 0..n {
        let msg = format!(
            "OPTIONS sip:100@{hp} SIP/2.0\r\nVia: SIP/2.0/UDP {from}:5060;branch=z9hG4bK{tag}{i}\r\n\
             From: <sip:probe@{from}>;tag={tag}{i}\r\nTo: <sip:100@{hp}>\r\nCall-ID: r{tag}-{i}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        socket.send_to(msg.as_bytes(), (hp, 5060)).unwrap();
        let mut buf = [0u8; 4096];
        if socket.recv_from(&mut buf).is_ok() {
            answered += 1;
        }
    }
    answered
}

/// `sipscope sensor status --json` of a store.
pub fn sensor_status(db: &Path) -> serde_json::Value {
    let out = ok(sipscope(&["sensor", "status", "--db", db.to_str().unwrap(), "--json"]));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Publishes copies of the first `n` events of `db` with message ids the stream has not
/// seen, as a sensor that lost its acknowledged position beyond the duplicate window would.
pub fn publish_duplicates(url: &str, sensor: &str, db: &Path, n: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("DELETE FROM outbox_acks", []).unwrap();
    drop(conn);
    let outbox = sipscope::sinks::open_outbox(db).unwrap();
    let mut outbox = outbox;
    let items = outbox.pending(sipscope::sinks::nats::wire::Kind::Event, 0, n as usize).unwrap();
    assert_eq!(items.len() as i64, n);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        for item in items {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("replayed-{}", item.seq).as_str());
            let subject = format!("sipscope.events.{sensor}");
            js.publish_with_headers(subject, headers, item.payload.into()).await.unwrap().await.unwrap();
        }
    });
}
