//! Idempotency and failures: a re-delivered event is stored once; the collector's commits are
//! synchronous; a read-only database is a clear error (fail-fast) or an outage the writer
//! rides out (resilient); a password in the URL never reaches a message.

use super::{sipscope, TestDb};
use crate::small_disk::SmallDisk;
use sipscope::event::fields::SipFields;
use sipscope::event::{Direction, SipEvent, Transport};
use sipscope::sinks::postgres::{PgBackground, PgOptions, PgStore};
use sipscope::sinks::{Sink, SinkConfig, SinkError};

pub(super) fn event(ts_ns: i64, sensor: &str) -> (SipEvent, SipFields) {
    let raw = b"OPTIONS sip:100@192.0.2.2 SIP/2.0\r\nCall-ID: pg\r\nUser-Agent: nul\0byte\r\n\r\n".to_vec();
    let fields = SipFields::extract(&sipscope_sip::parse(&raw).unwrap());
    let ev = SipEvent {
        ts_ns,
        sensor: sensor.into(),
        node: None,
        transport: Transport::Udp,
        src: ("192.0.2.1".parse().unwrap(), 5060),
        dst: ("2001:db8::2".parse().unwrap(), 5060),
        tunnel: None,
        direction: Direction::In,
        origin: None,
        raw,
    };
    (ev, fields)
}

const DAY: i64 = 86_400_000_000_000;
const T: i64 = 1_780_000_000_000_000_000;

#[test]
fn events_land_in_their_daily_partitions_with_their_ids_as_sequence() {
    let db = TestDb::create();
    let store = PgStore::open(&db.url, PgOptions::default()).unwrap();
    let mut bg = PgBackground::spawn(store, false).unwrap();
    for day in 1..=5i64 {
        let (ev, f) = event(T + day * DAY, "sensor-a");
        bg.write(ev, f).unwrap();
    }
    let (ev, f) = event(T + DAY, "sensor-b");
    bg.write(ev, f).unwrap();
    let (ev, f) = event(T, "local");
    bg.write(ev, f).unwrap();
    bg.flush().unwrap();
    assert_eq!(bg.call(|s| s.event_count()).unwrap(), 7);
    drop(bg);
    let mut c = db.client();
    let differ: i64 = c.query_one("SELECT count(*) FROM events WHERE id <> sequence", &[]).unwrap().get(0);
    assert_eq!(differ, 0, "an event's sequence is its id");
    assert_eq!(kept_count(&mut c), 7);
    let partitions: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname = 'events'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(partitions, 7, "six days and the default partition");
    let ua: String = c.query_one("SELECT user_agent FROM events LIMIT 1", &[]).unwrap().get(0);
    assert_eq!(ua, "nul\\x00byte", "NUL, which text cannot hold, in the lossless notation");
    let raw: Vec<u8> = c.query_one("SELECT raw FROM events LIMIT 1", &[]).unwrap().get(0);
    assert!(raw.windows(8).any(|w| w == b"nul\0byte"), "the raw bytes keep it");
    let dst: String = c.query_one("SELECT host(dst_ip) FROM events LIMIT 1", &[]).unwrap().get(0);
    assert_eq!(dst, "2001:db8::2");
}

/// Migration 6 drops the unique key of re-delivered events and the index by run from a store
/// written before it, partitions included; the events stay.
#[test]
fn a_store_of_schema_5_loses_the_two_indexes_every_event_paid_for() {
    let db = TestDb::create();
    let mut store = PgStore::open(&db.url, PgOptions::default()).unwrap();
    for day in 0..3i64 {
        let (ev, f) = event(T + day * DAY, "s");
        store.insert_event(ev, f).unwrap();
    }
    store.flush_now().unwrap();
    drop(store);
    let mut c = db.client();
    // Back to schema 5 as its migrations made it.
    c.batch_execute(
        "ALTER TABLE events ADD UNIQUE (sensor, sequence, ts_ns);
         CREATE INDEX events_run ON events (run_id) WHERE run_id IS NOT NULL;
         DELETE FROM sipscope_schema WHERE version >= 6;",
    )
    .unwrap();
    let count = |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    let unique = "SELECT count(*) FROM pg_constraint WHERE contype = 'u' AND conname LIKE 'events%'";
    let by_run = "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'events%run%'";
    assert_eq!(count(&mut c, unique), 5, "the parent's key and its four partitions' (three days, the default)");
    assert_eq!(count(&mut c, by_run), 5);
    let mut store = PgStore::open(&db.url, PgOptions::default()).unwrap();
    assert_eq!(store.event_count().unwrap(), 3);
    drop(store);
    assert_eq!(count(&mut c, unique), 0);
    assert_eq!(count(&mut c, by_run), 0);
    assert_eq!(
        count(&mut c, "SELECT max(version) FROM sipscope_schema"),
        sipscope::sinks::postgres::schema::SCHEMA_VERSION
    );
}

#[test]
fn retention_drops_old_partitions_only() {
    let db = TestDb::create();
    let now = T + 10 * DAY;
    let mut store = PgStore::open(&db.url, PgOptions { retention_days: Some(3), ..Default::default() }).unwrap();
    for d in 0..10 {
        let (ev, f) = event(T + d * DAY, "s");
        store.insert_event(ev, f).unwrap();
    }
    store.flush_now().unwrap();
    assert_eq!(store.event_count().unwrap(), 10);
    store.apply_retention(now).unwrap();
    let left: Vec<i64> = store
        .client()
        .query("SELECT ts_ns FROM events ORDER BY ts_ns", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let cutoff_day = (now / DAY) - 3;
    assert!(left.iter().all(|t| t / DAY >= cutoff_day), "{left:?}");
    assert_eq!(left.len(), 10 - (cutoff_day - T / DAY) as usize);
    assert_eq!(kept_count(store.client()), left.len() as i64, "the dropped partitions' events are subtracted");
}

/// The number of stored events the writers kept (what reports read instead of counting).
fn kept_count(c: &mut postgres::Client) -> i64 {
    c.query_one("SELECT coalesce(sum(events), 0)::bigint FROM event_counts", &[]).unwrap().get(0)
}

#[test]
fn a_read_only_database_is_a_clear_error_and_a_resilient_writer_rides_it_out() {
    let db = TestDb::create();
    // Created and migrated while writable.
    drop(PgStore::open(&db.url, PgOptions::default()).unwrap());
    db.client().batch_execute(&format!("ALTER DATABASE {} SET default_transaction_read_only = on", db.name)).unwrap();
    // Fail-fast (ingest): the error says what happened, and names the database without secrets.
    let mut bg = PgBackground::spawn(PgStore::open(&db.url, PgOptions::default()).unwrap(), false).unwrap();
    let (ev, f) = event(T, "s");
    bg.write(ev, f).unwrap();
    let err = bg.flush().unwrap_err();
    assert!(matches!(err, SinkError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("read-only"), "{err}");
    drop(bg);
    // Resilient (honeypot): no error, the outage and what was dropped are reported.
    let config = SinkConfig {
        store: db.url.clone().into(),
        backlog: Some(sipscope::sinks::health::StoreBacklog::default()),
        ..Default::default()
    };
    let mut sinks = sipscope::sinks::open(&config).unwrap();
    for i in 0..3 {
        let (ev, f) = event(T + i, "s");
        sinks.store.write(ev, f).unwrap();
    }
    sinks.store.flush().unwrap();
    let status = sinks.health.status();
    assert!(status.unavailable && status.dropped_events == 3, "{status:?}");
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("read-only")), "{status:?}");
    // Writable again: the next batch is stored and the outage over.
    let mut admin = super::admin();
    admin.batch_execute(&format!("ALTER DATABASE {} SET default_transaction_read_only = off", db.name)).unwrap();
    // The setting applies to new sessions: the writer's is replaced.
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db.name
        ))
        .unwrap();
    let (ev, f) = event(T + 10, "s");
    sinks.store.write(ev, f).unwrap();
    sinks.store.flush().unwrap();
    // The first batch after the restart may meet the closed connection; the next one writes.
    let (ev, f) = event(T + 11, "s");
    sinks.store.write(ev, f).unwrap();
    sinks.store.flush().unwrap();
    let status = sinks.health.status();
    assert!(!status.unavailable, "{status:?}");
    drop(sinks);
    let n: i64 = db.client().query_one("SELECT count(*) FROM events WHERE ts_ns >= $1", &[&(T + 10)]).unwrap().get(0);
    assert!(n >= 1, "writing resumed");
}

#[test]
fn a_password_in_the_url_never_reaches_a_message() {
    let url = "postgres://sipscope:s3cret-pw@127.0.0.1:55439/nowhere";
    let (code, _, stderr) = sipscope(&["report", "--db", url]);
    assert_ne!(code, 0);
    assert!(stderr.contains("postgres://sipscope@127.0.0.1:55439/nowhere"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    let (code, _, stderr) = sipscope(&["analyze", "--db", url]);
    assert_ne!(code, 0);
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn a_full_database_disk_is_a_clear_error_and_ingest_stops() {
    let Some(disk) = SmallDisk::mount("96m") else { return };
    let Some(server) = super::server::OwnServer::start(disk.path(), 55432) else { return };
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE full_disk").unwrap();
    let url = server.url("full_disk");
    let mut bg = PgBackground::spawn(PgStore::open(&url, PgOptions::default()).unwrap(), false).unwrap();
    for i in 0..100 {
        let (ev, f) = event(T + i, "s");
        bg.write(ev, f).unwrap();
    }
    bg.flush().unwrap();
    disk.fill();
    // Enough to need new pages and WAL: the database cannot write them.
    let mut failed = None;
    for i in 0..200_000 {
        let (ev, f) = event(T + 1_000 + i, "s");
        if let Err(e) = bg.write(ev, f) {
            failed = Some(e);
            break;
        }
        if i % 20_000 == 0 {
            if let Err(e) = bg.flush() {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.or_else(|| bg.flush().err()).expect("a full disk is an error");
    assert!(matches!(err, SinkError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    eprintln!("the full disk's error: {text}");
    assert!(text.contains("PostgreSQL store"), "{text}");
    assert!(
        text.contains("53100") || text.contains("space") || text.contains("closed") || text.contains("connection"),
        "the error says what happened: {text}"
    );
    drop(bg);
    drop(server);
}

#[test]
fn the_collectors_commits_are_synchronous_whatever_the_database_says() {
    let db = TestDb::create();
    db.client().batch_execute(&format!("ALTER DATABASE {} SET synchronous_commit = off", db.name)).unwrap();
    let mut store = PgStore::open(&db.url, PgOptions::default()).unwrap();
    let show = |s: &mut PgStore| -> String { s.client().query_one("SHOW synchronous_commit", &[]).unwrap().get(0) };
    assert_eq!(show(&mut store), "off", "the database's own setting");
    let positions = [("s1".to_owned(), "event".to_owned(), 5), ("s1".to_owned(), "event".to_owned(), 3)];
    store.set_collected(&positions, 1).unwrap();
    assert_eq!(show(&mut store), "on", "the batch the collector acknowledges once committed");
    store.flush_now().unwrap();
    assert_eq!(show(&mut store), "off", "only that batch");
    assert_eq!(store.collected_positions().unwrap(), vec![("s1".to_owned(), "event".to_owned(), 5)]);
}
