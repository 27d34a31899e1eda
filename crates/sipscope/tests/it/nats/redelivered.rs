//! Events published again reach a PostgreSQL store once: `events` has no unique key since
//! schema 6, so what recognises them is the collector's positions, committed with its rows
//! (`sources/collect/`). A sensor publishes a capture; the collector stores it; the sensor's
//! first 25 events are published again under new message ids (as after a lost acknowledged
//! position) and the collector, started again, takes them as duplicates. Broker on port 14236;
//! a database of its own on the PostgreSQL service on 127.0.0.1:5432.

use super::broker::Broker;
use super::{collect, ok, per_sensor, publish_duplicates, sipscope};
use crate::postgres::TestDb;
use std::path::Path;

fn stored(db: &TestDb) -> Vec<(String, i64)> {
    db.client()
        .query("SELECT sensor, count(*) FROM events GROUP BY sensor ORDER BY sensor", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn events_published_again_are_stored_once_in_postgresql() {
    let Some(broker) = Broker::start(14236, &[]) else { return };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let s1 = dir.path().join("s1.db");
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    ok(sipscope(&["ingest", "--db", s1.to_str().unwrap(), "--sensor", "s1", "--nats", &url, pcap]));
    let expected = per_sensor(&s1);
    assert!(expected.len() == 1 && expected[0].1 > 25, "{expected:?}");
    let pg = TestDb::create();
    let first = collect(&url, Path::new(&pg.url), &[]);
    assert_eq!(first["duplicates"], 0, "{first}");
    assert_eq!(stored(&pg), expected);

    publish_duplicates(&url, "s1", &s1, 25);
    let second = collect(&url, Path::new(&pg.url), &[]);
    assert_eq!(second["received"], 25, "{second}");
    assert_eq!(second["duplicates"], 25, "{second}");
    assert_eq!(stored(&pg), expected, "nothing stored twice");
}
