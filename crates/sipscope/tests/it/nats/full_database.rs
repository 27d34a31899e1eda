//! A collector whose PostgreSQL database is full (issue 16): the database lives in a tablespace
//! on a small tmpfs (its WAL on the ordinary disk, so the server itself stays up and refuses
//! with SQLSTATE 53100, `disk_full`), the test fills the tmpfs, and the collector must stop with
//! that error, acknowledge nothing it did not commit, and store everything once when started
//! again after the space is back. Broker on port 14233, PostgreSQL of its own on 55441.

use super::broker::Broker;
use super::{ok, per_sensor, sipscope};
use crate::postgres::server::OwnServer;
use crate::small_disk::SmallDisk;

fn pg_counts(client: &mut postgres::Client) -> Vec<(String, i64)> {
    client
        .query("SELECT sensor, count(*) FROM events GROUP BY sensor ORDER BY sensor", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn collect(url: &str, pg: &str) -> std::process::Output {
    sipscope(&["collect", "--nats", url, "--db", pg, "--sensor", "central", "--idle-exit", "3", "--json"])
}

#[test]
fn a_full_database_stops_the_collector_with_its_sqlstate_and_it_catches_up_after() {
    let Some(broker) = Broker::start(14233, &[]) else { return };
    let url = broker.url();
    let Some(disk) = SmallDisk::mount("32m") else { return };
    let pg_dir = tempfile::tempdir().unwrap();
    let Some(server) = OwnServer::start(pg_dir.path(), 55441) else { return };
    let space = disk.path().join("ts");
    std::fs::create_dir(&space).unwrap();
    let chown = std::process::Command::new("chown").arg("-R").arg("postgres:postgres").arg(disk.path()).status();
    assert!(chown.unwrap().success());
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute(&format!("CREATE TABLESPACE small LOCATION '{}'", space.display())).unwrap();
    admin.batch_execute("CREATE DATABASE central TABLESPACE small").unwrap();
    let pg = server.url("central");

    // Sensor a, collected while there is room.
    let dir = tempfile::tempdir().unwrap();
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let db = |s: &str| dir.path().join(format!("{s}.db"));
    ok(sipscope(&["ingest", "--db", db("a").to_str().unwrap(), "--sensor", "a", "--nats", &url, pcap]));
    ok(collect(&url, &pg));
    let mut central = postgres::Client::connect(&pg, postgres::NoTls).unwrap();
    assert_eq!(pg_counts(&mut central), per_sensor(&db("a")));

    // The database's disk fills; sensors b and c publish meanwhile.
    disk.fill();
    for s in ["b", "c"] {
        ok(sipscope(&["ingest", "--db", db(s).to_str().unwrap(), "--sensor", s, "--nats", &url, pcap]));
    }
    let out = collect(&url, &pg);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a collector that cannot commit stops: {stderr}");
    assert!(stderr.contains("SQLSTATE 53100"), "the error keeps PostgreSQL's SQLSTATE: {stderr}");
    eprintln!("the full database's error: {}", stderr.lines().last().unwrap_or(""));
    // Nothing of b or c half-stored (the broker keeps what was not committed: below).
    assert_eq!(pg_counts(&mut central), per_sensor(&db("a")));
    assert_eq!(stderr.matches("SQLSTATE 53100").count(), 1, "said once: {stderr}");

    // The space is back: the collector, started again, stores every event once.
    disk.free();
    let out = ok(collect(&url, &pg));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut expected: Vec<(String, i64)> = ["a", "b", "c"].iter().flat_map(|s| per_sensor(&db(s))).collect();
    expected.sort();
    assert_eq!(pg_counts(&mut central), expected, "{summary}");
    drop(central);
    drop(admin);
    drop(server);
}
