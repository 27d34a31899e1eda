//! A collector whose store holds it up for longer than a pull lasts: every event is stored
//! once all the same. Six sensors publish a message each; the test locks `event_counts`
//! (which every commit of events updates) for 8 s, so the collector's first commit waits that
//! long while the next messages are already delivered to it. The collector before this test
//! fetched a batch of messages at a time and lost what its client library dropped when the
//! fetch's own timer (its expiry and 5 s) ran out while a commit waited; acknowledging the
//! next message acknowledged those unread. Broker on port 14235; a database of its own on the
//! PostgreSQL service on 127.0.0.1:5432.

use super::broker::Broker;
use super::{ok, per_sensor, sipscope};
use crate::postgres::TestDb;
use std::time::Duration;

const SENSORS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

#[test]
fn a_collector_held_up_by_its_store_stores_every_event_once() {
    let Some(broker) = Broker::start(14235, &[]) else { return };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let db = |s: &str| dir.path().join(format!("{s}.db"));
    for s in SENSORS {
        ok(sipscope(&["ingest", "--db", db(s).to_str().unwrap(), "--sensor", s, "--nats", &url, pcap]));
    }
    let pg = TestDb::create();
    // The schema first, so that there is a table to lock.
    drop(sipscope::sinks::postgres::PgStore::open(&pg.url, Default::default()).unwrap());
    let mut locker = pg.client();
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut tx = locker.transaction().unwrap();
        tx.batch_execute("LOCK TABLE event_counts IN EXCLUSIVE MODE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(8));
        tx.commit().unwrap();
    });
    locked.recv().unwrap();
    // A commit every 100 rows: each message (one sensor's 180 events) is a commit of its own.
    let out = ok(sipscope(&[
        "collect",
        "--nats",
        &url,
        "--db",
        &pg.url,
        "--sensor",
        "central",
        "--batch",
        "100",
        "--idle-exit",
        "3",
        "--json",
    ]));
    holder.join().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut c = pg.client();
    let stored: Vec<(String, i64)> = c
        .query("SELECT sensor, count(*) FROM events GROUP BY sensor ORDER BY sensor", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(String, i64)> = SENSORS.iter().flat_map(|s| per_sensor(&db(s))).collect();
    assert_eq!(stored, expected, "every sensor's events stored once: {summary}");
    assert_eq!(summary["duplicates"], 0, "{summary}");
}
