//! The outbox: a honeypot and an ingest publish their stores; the broker is killed mid-run
//! and restarted, the honeypot restarted; duplicates published on purpose are not doubled;
//! every event of each sensor's store is in the collector's store exactly once. Wrong
//! credentials are a clear error while the sensor keeps storing.

use super::broker::Broker;
use super::{collect, ok, per_sensor, publish_duplicates, sipscope};
use crate::honeypot::harness::Honeypot;
use std::path::Path;
use std::time::Duration;

const HP: &str = "127.0.242.1";

/// Sends `n` OPTIONS to the honeypot from 127.0.242.10; returns how many were answered.
fn probe(n: usize, tag: &str) -> usize {
    super::probe(HP, "127.0.242.10", n, tag)
}

fn waiting(db: &Path) -> u64 {
    super::sensor_status(db)["waiting"].as_u64().unwrap()
}

#[test]
fn every_event_reaches_the_collector_once_through_broker_and_sensor_restarts() {
    let Some(mut broker) = Broker::start(14222, &[]) else { return };
    let url = broker.url();
    let nats = format!("[nats]\nurl = \"{url}\"\n");
    let listen = [("udp", HP, 5060)];
    let mut hp = Honeypot::start(&listen, &nats);
    assert_eq!(probe(40, "a"), 40);
    // The broker dies mid-run: the honeypot keeps answering and storing.
    broker.kill();
    assert_eq!(probe(40, "b"), 40, "the honeypot stops answering without its broker");
    broker.restart();
    assert_eq!(probe(40, "c"), 40);
    hp.stop();
    // Restarted on the same store, it goes on from the acknowledged position.
    let mut hp = Honeypot::start_again(std::mem::replace(&mut hp.dir, tempfile::tempdir().unwrap()), &listen, &nats);
    assert_eq!(probe(40, "d"), 40);
    hp.stop();
    let hp_db = hp.dir.path().join("hp.db");
    // Whatever the exit's drain did not send goes now.
    ok(sipscope(&["sensor", "publish", "--db", hp_db.to_str().unwrap(), "--sensor", "test", "--nats", &url]));
    assert_eq!(waiting(&hp_db), 0);
    // A second sensor: an ingest.
    let dir = tempfile::tempdir().unwrap();
    let s2 = dir.path().join("s2.db");
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    ok(sipscope(&["ingest", "--db", s2.to_str().unwrap(), "--sensor", "s2", "--nats", &url, pcap]));
    assert_eq!(waiting(&s2), 0, "ingest drains its outbox before it exits");

    let central = dir.path().join("central.db");
    let first = collect(&url, &central, &[]);
    let mut expected = per_sensor(&hp_db);
    expected.extend(per_sensor(&s2));
    expected.sort();
    assert_eq!(per_sensor(&central), expected);
    assert!(expected.iter().all(|(_, n)| *n > 0));
    assert_eq!(first["duplicates"], 0);

    // The same events again under new message ids (the stream cannot drop them): the
    // collector recognises them by sequence.
    publish_duplicates(&url, "s2", &s2, 25);
    let second = collect(&url, &central, &[]);
    assert_eq!(second["received"], 25);
    assert_eq!(second["duplicates"], 25);
    assert_eq!(per_sensor(&central), expected);

    // Restarted collector, nothing new: nothing stored twice.
    let third = collect(&url, &central, &[]);
    assert_eq!(third["received"], 0);
    assert_eq!(per_sensor(&central), expected);

    let status = ok(sipscope(&["collect", "status", "--db", central.to_str().unwrap(), "--json", "--nats", &url]));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["pending"], 0);
    let sensors: Vec<&str> =
        status["sensors"].as_array().unwrap().iter().map(|s| s["sensor"].as_str().unwrap()).collect();
    assert!(sensors.contains(&"s2") && sensors.contains(&"test"), "{status}");
}

#[test]
fn wrong_credentials_are_a_clear_error_and_the_sensor_keeps_storing() {
    let Some(broker) = Broker::start(14223, &["--user", "sensor", "--pass", "right-secret"]) else { return };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let (wrong, right) = (dir.path().join("wrong"), dir.path().join("right"));
    std::fs::write(&wrong, "wrong-secret\n").unwrap();
    std::fs::write(&right, "right-secret\n").unwrap();
    let db = dir.path().join("s.db");
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let auth = |file: &Path| {
        vec![
            "--nats".to_owned(),
            url.clone(),
            "--nats-user".into(),
            "sensor".into(),
            "--nats-password-file".into(),
            file.to_str().unwrap().to_owned(),
        ]
    };
    let mut args: Vec<String> =
        ["ingest", "--db", db.to_str().unwrap(), "--sensor", "s1", pcap].map(String::from).to_vec();
    args.extend(auth(&wrong));
    let out = sipscope(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "the store is written even when the broker refuses");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("authorization violation"), "{log}");
    assert!(!log.contains("wrong-secret") && !log.contains("right-secret"), "a secret in the log: {log}");
    let stored = per_sensor(&db);
    assert!(stored[0].1 > 0);
    assert_eq!(waiting(&db), stored[0].1 as u64);

    let mut args: Vec<String> =
        ["sensor", "publish", "--db", db.to_str().unwrap(), "--sensor", "s1"].map(String::from).to_vec();
    args.extend(auth(&right));
    ok(sipscope(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(waiting(&db), 0);
    let central = dir.path().join("central.db");
    let mut extra: Vec<String> = vec!["--nats-user".into(), "sensor".into(), "--nats-password-file".into()];
    extra.push(right.to_str().unwrap().to_owned());
    collect(&url, &central, &extra.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(per_sensor(&central), stored);
}

#[test]
fn a_collector_killed_mid_run_stores_every_event_once_after_its_restart() {
    let Some(broker) = Broker::start(14225, &[]) else { return };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let mut expected = Vec::new();
    for sensor in ["k1", "k2", "k3", "k4", "k5"] {
        let db = dir.path().join(format!("{sensor}.db"));
        ok(sipscope(&["ingest", "--db", db.to_str().unwrap(), "--sensor", sensor, "--nats", &url, pcap]));
        expected.extend(per_sensor(&db));
    }
    let central = dir.path().join("central.db");
    // Small batches, so that the kill lands between two of them or inside one.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["collect", "--nats", &url, "--db", central.to_str().unwrap(), "--sensor", "central", "--batch", "7"])
        // A short ack wait, though the restarted collector makes its consumer again from the
        // committed position and does not wait for the redelivery.
        .args(["--ack-wait", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let stored = || {
        rusqlite::Connection::open(&central)
            .and_then(|c| {
                c.query_row("SELECT coalesce(sum(seq), 0) FROM collector_positions", [], |r| r.get::<_, i64>(0))
            })
            .unwrap_or(0)
    };
    while stored() == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let db = central.to_str().unwrap();
    let out =
        ok(sipscope(&["collect", "--nats", &url, "--db", db, "--sensor", "central", "--idle-exit", "6", "--json"]));
    assert_eq!(per_sensor(&central), expected, "{}", String::from_utf8_lossy(&out.stdout));
}
