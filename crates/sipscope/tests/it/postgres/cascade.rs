//! Schema 7: deleting a run still takes its analysis rows and alerts, and an alert its
//! evidence, through one trigger per parent instead of a foreign key checked at every inserted
//! row; and event ids come from the sequence a block at a time.

use super::TestDb;
use sipscope::sinks::postgres::schema::EVENT_ID_BLOCK;
use sipscope::sinks::postgres::{PgOptions, PgStore};

/// The tables whose rows belong to a run (`run_id`).
const RUN_TABLES: &[&str] = &[
    "alerts",
    "flows",
    "fingerprints",
    "stages",
    "numbers",
    "user_agents",
    "sources",
    "source_days",
    "traffic",
    "dialled",
    "rollup_traffic",
    "rollup_sources",
    "rollup_agents",
    "rollup_users",
    "rollup_countries",
];

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn deleting_runs_and_alerts_cascades_without_a_foreign_key() {
    let db = TestDb::create();
    crate::report_golden::build_store(std::path::Path::new(&db.url));
    let mut c = db.client();
    let keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f'
                AND confrelid IN ('analysis_runs'::regclass, 'alerts'::regclass)";
    assert_eq!(count(&mut c, keys), 0, "no row pays for a foreign key check");
    for table in ["alerts", "alert_evidence", "flows", "fingerprints", "traffic", "dialled", "rollup_traffic"] {
        assert!(count(&mut c, &format!("SELECT count(*) FROM {table}")) > 0, "the golden store has {table} rows");
    }
    // An alert outside any run, with evidence: no run's deletion may take it.
    c.batch_execute(
        "INSERT INTO alerts (run_id, sensor, rule_id, sid, name, severity, labels, group_key, first_ns, last_ns,
             count, proven, actions)
         VALUES (NULL, 'live', 'r', 1, 'n', 'low', '[]', 'g', 1, 2, 1, false, '[]');
         INSERT INTO alert_evidence (alert_id, position, ts_ns, src_ip, src_port, dst_ip, dst_port)
         SELECT id, 0, 1, '192.0.2.1', 5060, '192.0.2.2', 5060 FROM alerts WHERE sensor = 'live'",
    )
    .unwrap();
    let evidence_of_runs = "SELECT count(*) FROM alert_evidence e JOIN alerts a ON a.id = e.alert_id
                            WHERE a.run_id IS NOT NULL";
    assert!(count(&mut c, evidence_of_runs) > 0);

    // One alert of a run deleted by itself: its evidence goes, the others' stays.
    let (one, others): (i64, i64) = {
        let id = count(&mut c, "SELECT min(id) FROM alerts WHERE run_id IS NOT NULL");
        let mine = count(&mut c, &format!("SELECT count(*) FROM alert_evidence WHERE alert_id = {id}"));
        let all = count(&mut c, "SELECT count(*) FROM alert_evidence");
        c.batch_execute(&format!("DELETE FROM alerts WHERE id = {id}")).unwrap();
        assert!(mine > 0, "the alert had evidence");
        (id, all - mine)
    };
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM alert_evidence WHERE alert_id = {one}")), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM alert_evidence"), others);

    // Every run deleted: every row of theirs goes, alerts and their evidence included.
    c.batch_execute("DELETE FROM analysis_runs").unwrap();
    for table in RUN_TABLES {
        assert_eq!(
            count(&mut c, &format!("SELECT count(*) FROM {table} WHERE run_id IS NOT NULL")),
            0,
            "{table} keeps rows of a deleted run"
        );
    }
    assert_eq!(count(&mut c, evidence_of_runs), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM alerts"), 1, "the alert outside runs stays");
    assert_eq!(count(&mut c, "SELECT count(*) FROM alert_evidence"), 1, "with its evidence");
    assert!(count(&mut c, "SELECT count(*) FROM events") > 0, "events belong to no run's cascade");
}

/// The `i`-th event of these tests (one OPTIONS a nanosecond apart).
fn event(i: i64) -> (sipscope::event::SipEvent, sipscope::event::fields::SipFields) {
    super::failures::event(1_780_000_000_000_000_000 + i, "ids")
}

/// Two writers on one database, batches smaller and larger than a block: every id distinct,
/// growing in the order of writing, consecutive within a block, and no block taken that a
/// batch did not need.
#[test]
fn event_ids_come_a_block_at_a_time_and_never_collide() {
    let db = TestDb::create();
    let mut a = PgStore::open(&db.url, PgOptions::default()).unwrap();
    let mut b = PgStore::open(&db.url, PgOptions::default()).unwrap();
    let block = usize::try_from(EVENT_ID_BLOCK).unwrap();
    let mut i = 0i64;
    for size in [1, 3, block, block + 1, 2 * block + 5, 7] {
        for store in [&mut a, &mut b] {
            for _ in 0..size {
                let (ev, f) = event(i);
                i += 1;
                store.insert_event(ev, f).unwrap();
            }
            store.flush_now().unwrap();
        }
    }
    drop((a, b));
    let mut c = db.client();
    let increment = count(&mut c, "SELECT increment_by FROM pg_sequences WHERE sequencename = 'events_id_seq'");
    assert_eq!(increment, EVENT_ID_BLOCK, "migration 7 and the writer agree on the block");
    assert_eq!(count(&mut c, "SELECT count(*) FROM events"), i);
    assert_eq!(count(&mut c, "SELECT count(DISTINCT id) FROM events"), i, "no id twice");
    assert_eq!(count(&mut c, "SELECT count(*) FROM events WHERE id <> sequence"), 0);
    // Written in the order of `i` (the time); by time, each writer's ids only grow.
    let rows = c.query("SELECT id, ts_ns FROM events ORDER BY ts_ns", &[]).unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    for pair in ids.windows(2) {
        assert!(pair[1] > pair[0], "ids grow with the order of writing: {pair:?}");
        if pair[1] != pair[0] + 1 {
            assert_eq!((pair[1] - 1).rem_euclid(EVENT_ID_BLOCK), 0, "a gap only where a block starts: {pair:?}");
        }
    }
    // Each batch took only the blocks it needed: 1, 1, 1, 2, 3 and 1, for each writer.
    let blocks = count(&mut c, &format!("SELECT count(DISTINCT (id - 1) / {EVENT_ID_BLOCK}) FROM events"));
    assert_eq!(blocks, 18);
}

/// A store whose sequence was altered by hand (a restore, an operator) still gets distinct
/// ids: the writer takes blocks of the increment the sequence has, and refuses one that
/// counts down.
#[test]
fn event_ids_follow_the_sequence_as_it_is() {
    let db = TestDb::create();
    drop(PgStore::open(&db.url, PgOptions::default()).unwrap());
    let mut c = db.client();
    c.batch_execute("ALTER SEQUENCE events_id_seq INCREMENT BY 1").unwrap();
    let mut store = PgStore::open(&db.url, PgOptions::default()).unwrap();
    for i in 0..9 {
        let (ev, f) = event(i);
        store.insert_event(ev, f).unwrap();
        if i % 3 == 2 {
            store.flush_now().unwrap();
        }
    }
    drop(store);
    assert_eq!(count(&mut c, "SELECT count(DISTINCT id) FROM events"), 9, "no id twice");
    assert_eq!(count(&mut c, "SELECT max(id) - min(id) FROM events"), 8, "blocks of one id");
    c.batch_execute("ALTER SEQUENCE events_id_seq INCREMENT BY -1").unwrap();
    let refused = PgStore::open(&db.url, PgOptions::default()).err().expect("a sequence counting down is refused");
    assert!(refused.to_string().contains("counts down"), "{refused}");
}
