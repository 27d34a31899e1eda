//! Issue 16's big test: three honeypots in network namespaces (`lab.rs`, 10.216.0.0/24),
//! attacked by the real tools from two attacker namespaces (attacker 1 hits sensors 1 and 3),
//! each storing to its own SQLite and publishing to a nats-server in the hub namespace;
//! `sipscope collect` into a PostgreSQL server of the test's own (127.0.0.1:55440), with its
//! rules, policy and shared decisions. Mid-run the collector is killed with SIGKILL and
//! started again, the broker is restarted on its store, sensor 2 loses the broker for 30 s
//! (an nft drop rule in its namespace) while it is attacked and answers, and sensor 2 is
//! stopped and started again on its store. Afterwards:
//! - every event of every sensor is in PostgreSQL exactly once (per sensor, the count equals
//!   the sensor's own store, no (sensor, sequence) twice), and so are the authentication
//!   attempts and registrations;
//! - the collector's report equals the report of `analyze` over the union of the three SQLite
//!   stores, section by section, but for the sections that only the collector can have (its
//!   rules' alerts and its decisions; docs/collector.md says why): the restarted collector
//!   continued its interrupted run, so flows spanning the kill are one flow, as in the union;
//! - the ban the collector decided from svcrack on sensor 1 reached sensor 3 through the KV
//!   bucket: attacker 1's later requests are stored there and not answered.

use super::lab::{sensor_addr, HubBroker, Lab, Sensor, ATTACKERS, SIPSCOPE};
use crate::honeypot::harness::text;
use crate::postgres::server::OwnServer;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PG_PORT: u16 = 55440;

/// The collector, a child process that the test kills and starts again.
struct Collector {
    db: String,
    log: std::path::PathBuf,
    child: Option<Child>,
}

impl Collector {
    fn start(db: &str, log: &Path) -> Collector {
        let mut c = Collector { db: db.to_owned(), log: log.to_path_buf(), child: None };
        c.launch();
        c
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(SIPSCOPE)
            .args(["collect", "--nats", &HubBroker::url(), "--db", &self.db, "--sensor", "central"])
            .args(["--batch", "64", "--decisions", "--share-decisions", "--json"])
            .env("SIPSCOPE_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM: the batch in hand stored, the analysis run finished.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        assert!(status.success(), "collector exited with {status}: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `(sensor, count)` of a query grouped by sensor, in a SQLite store.
fn sqlite_counts(db: &Path, table: &str) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = format!("SELECT sensor, count(*) FROM {table} GROUP BY sensor ORDER BY sensor");
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn pg_counts(pg: &mut postgres::Client, table: &str) -> Vec<(String, i64)> {
    let sql = format!("SELECT sensor, count(*) FROM {table} GROUP BY sensor ORDER BY sensor");
    pg.query(&sql, &[]).map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect()).unwrap_or_default()
}

/// One text column of a query, for failure messages.
fn pg_rows(url: &str, sql: &str) -> Vec<String> {
    let mut pg = postgres::Client::connect(url, postgres::NoTls).unwrap();
    pg.query(sql, &[]).map(|rows| rows.iter().map(|r| r.get(0)).collect()).unwrap_or_else(|e| vec![e.to_string()])
}

fn waiting(db: &Path) -> u64 {
    let out = Command::new(SIPSCOPE).args(["sensor", "status", "--json", "--db"]).arg(db).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["waiting"].as_u64().unwrap_or(u64::MAX)
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    done()
}

/// A store holding every event, attempt and registration of `sensors`' stores (copied in
/// their order, each sensor's rows in row-id order).
fn union_store(sensors: &[&Path], to: &Path) {
    let first = rusqlite::Connection::open(sensors[0]).unwrap();
    first.execute("VACUUM INTO ?1", [to.to_str().unwrap()]).unwrap();
    drop(first);
    let conn = rusqlite::Connection::open(to).unwrap();
    for (i, other) in sensors.iter().enumerate().skip(1) {
        conn.execute(&format!("ATTACH DATABASE ?1 AS s{i}"), [other.to_str().unwrap()]).unwrap();
        for table in ["events", "auth_attempts", "registrations"] {
            let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap();
            let cols: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .filter(|c| c != "id")
                .collect();
            let cols = cols.join(", ");
            conn.execute(&format!("INSERT INTO main.{table} ({cols}) SELECT {cols} FROM s{i}.{table} ORDER BY id"), [])
                .unwrap();
        }
        conn.execute(&format!("DETACH DATABASE s{i}"), []).unwrap();
    }
    // Rows inserted by hand: the number of stored events the writer keeps is counted again.
    conn.execute("UPDATE event_count SET events = (SELECT count(*) FROM events)", []).unwrap();
}

fn report(db: &str) -> serde_json::Value {
    let out = Command::new(SIPSCOPE).args(["report", "--format", "json", "--db", db]).output().unwrap();
    assert!(out.status.success(), "report --db {db}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The report's sections by id.
fn sections(report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    match &report["sections"] {
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        serde_json::Value::Array(items) => {
            items.iter().map(|s| (s["id"].as_str().unwrap_or_default().to_owned(), s.clone())).collect()
        }
        other => panic!("no sections: {other}"),
    }
}

/// Sections only the collector has: its rules' alerts and its decisions (the sensors' stores
/// run no rules of theirs into the union).
const COLLECTOR_ONLY: &[&str] = &["alerts", "decisions"];

#[test]
fn three_sensors_one_view_through_faults_and_a_ban_shared_from_sensor_1_to_sensor_3() {
    let started = Instant::now();
    let Some(lab) = Lab::create() else { return };
    let Some(mut broker) = HubBroker::start(&lab.hub) else { return };
    let pg_dir = tempfile::tempdir().unwrap();
    let Some(server) = OwnServer::start(pg_dir.path(), PG_PORT) else { return };
    let mut admin = postgres::Client::connect(&server.url("postgres"), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE DATABASE central").unwrap();
    let pg_url = server.url("central");
    let dir = tempfile::tempdir().unwrap();
    let mut collector = Collector::start(&pg_url, &dir.path().join("collect.log"));

    // Sensor 3 enforces what the collector shares; no sensor decides by itself (sensor 3's
    // policy needs the rules on, and every built-in rule is left out).
    let watch =
        "watch_decisions = true\n[rules]\nenabled = true\ndisable = [\"sipscope/*\"]\n[decisions]\nenabled = true\n";
    let mut sensors: Vec<Sensor> = (1..=3).map(|i| Sensor::start(&lab, i, if i == 3 { watch } else { "" })).collect();
    let (a1, a2) = (&lab.attackers[0], &lab.attackers[1]);
    let answered = |out: &std::process::Output, i: usize| text(out).contains(&format!("{}:5060", sensor_addr(i)));

    // Round 1: attacker 1 maps sensors 3 and 1, enumerates and cracks sensor 1; attacker 2
    // maps sensor 2 and probes it with sipsak and nmap.
    let out = lab.output(a1, 60, "sipvicious_svmap", &[&sensor_addr(3)]);
    assert!(answered(&out, 3), "sensor 3 answers attacker 1 before the ban: {}", text(&out));
    let out = lab.output(a1, 60, "sipvicious_svmap", &[&sensor_addr(1)]);
    assert!(answered(&out, 1), "{}", text(&out));
    let out = lab.output(a1, 60, "sipvicious_svwar", &["-e100-130", &sensor_addr(1)]);
    assert!(text(&out).contains("reqauth"), "{}", text(&out));
    let out = lab.output(a2, 60, "sipvicious_svmap", &[&sensor_addr(2)]);
    assert!(answered(&out, 2), "{}", text(&out));
    let target2 = format!("sip:100@{}", sensor_addr(2));
    let sipsak = |tag: &str| {
        let out = lab.output(a2, 30, "sipsak", &["-k", ATTACKERS[1], "-H", ATTACKERS[1], "-s", &target2]);
        assert!(out.status.success(), "sipsak ({tag}) is answered: {}", text(&out));
    };
    sipsak("round 1");
    // svcrack guesses extension 200's password ("password", not in the range) 61 times.
    lab.output(a1, 60, "sipvicious_svcrack", &["-u200", "-r5000-5060", &sensor_addr(1)]);

    // The collector dies without a word mid-run, and comes back.
    collector.kill9();
    let out = lab.output(a2, 60, "sipvicious_svwar", &["-e100-120", &sensor_addr(2)]);
    assert!(text(&out).contains("reqauth"), "{}", text(&out));
    collector.launch();

    // The broker restarts on its store; the sensors keep answering meanwhile.
    broker.kill();
    sipsak("broker down");
    let out = lab.output(a2, 90, "nmap", &["-n", "-Pn", "-sU", "-p5060", "--script", "sip-methods", &sensor_addr(3)]);
    assert!(text(&out).contains("sip-methods"), "{}", text(&out));
    broker.restart();

    // Sensor 2 loses the broker for 30 s while it is attacked, answering all along.
    lab.block_broker(2, true);
    let cut = Instant::now();
    let mut rounds = 0;
    while cut.elapsed() < Duration::from_secs(30) {
        sipsak("broker unreachable");
        let out = lab.output(a2, 30, "sipvicious_svmap", &[&sensor_addr(2)]);
        assert!(answered(&out, 2), "{}", text(&out));
        rounds += 1;
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(waiting(&sensors[1].db()) > 0, "sensor 2 stored what it could not publish");
    lab.block_broker(2, false);
    assert!(rounds >= 3);

    // Sensor 2 restarts on its store.
    sensors[1].stop();
    sensors[1].launch();
    sipsak("after the restart");

    // The ban decided at the collector from svcrack on sensor 1 reaches sensor 3.
    let attacker = ATTACKERS[0];
    let shared = format!(
        "SELECT count(*) FROM decisions WHERE address = '{attacker}' AND kind = 'ban' AND deleted_ns IS NULL \
         AND reason LIKE '%shared by central%'"
    );
    assert!(
        wait_until(Duration::from_secs(60), || sensors[2].count(&shared) > 0),
        "the collector's ban reached sensor 3; collector's alerts {:?}, decisions {:?}; log: {}\nsensor 3's log: {}",
        pg_rows(&pg_url, "SELECT rule_id || ' ' || coalesce(src_ip, '-') || ' ' || count FROM alerts"),
        pg_rows(&pg_url, "SELECT kind || ' ' || address || ' ' || reason FROM decisions"),
        collector.log_text(),
        sensors[2].log()
    );
    let own = "SELECT count(*) FROM decisions WHERE reason NOT LIKE '%shared by%'";
    assert_eq!(sensors[2].count(own), 0, "sensor 3 did not decide by itself");
    // Its responder reads the store within a second.
    std::thread::sleep(Duration::from_secs(2));
    let since = sensors[2].count("SELECT coalesce(max(ts_ns), 0) FROM events");
    let out = lab.output(a1, 60, "sipvicious_svmap", &[&sensor_addr(3)]);
    assert!(!answered(&out, 3), "sensor 3 no longer answers attacker 1: {}", text(&out));
    let out = lab.output(a2, 60, "sipvicious_svmap", &[&sensor_addr(3)]);
    assert!(answered(&out, 3), "sensor 3 still answers attacker 2: {}", text(&out));

    // Every sensor's outbox drains; then the sensors stop.
    for s in &sensors {
        assert!(wait_until(Duration::from_secs(60), || waiting(&s.db()) == 0), "sensor {} drained", s.name);
    }
    for s in &mut sensors {
        s.stop();
    }
    let after_ban = |direction: &str, column: &str| {
        sensors[2].count(&format!(
            "SELECT count(*) FROM events WHERE ts_ns > {since} AND direction = '{direction}' AND {column} = '{attacker}'"
        ))
    };
    let (later_requests, later_answers) = (after_ban("in", "src_ip"), after_ban("out", "dst_ip"));
    let sensor3 = sensors[2].texts(&format!(
        "SELECT ts_ns || ' ' || direction || ' ' || src_ip || ' ' || dst_ip || ' ' || coalesce(method, status) \
         FROM events WHERE src_ip = '{attacker}' OR dst_ip = '{attacker}' OR ts_ns > {since}"
    ));
    let sensor3_log = sensors[2].summary() + &sensors[2].log();
    for s in &sensors {
        assert_eq!(waiting(&s.db()), 0, "sensor {} published everything", s.name);
    }

    // Every event of every sensor in PostgreSQL exactly once.
    let mut pg = postgres::Client::connect(&pg_url, postgres::NoTls).unwrap();
    let mut expected = Vec::new();
    for s in &sensors {
        expected.extend(sqlite_counts(&s.db(), "events"));
    }
    assert!(expected.len() == 3 && expected.iter().all(|(_, n)| *n > 0), "{expected:?}");
    assert!(
        wait_until(Duration::from_secs(60), || pg_counts(&mut pg, "events") == expected),
        "events per sensor {:?} != {expected:?}; collector log: {}",
        pg_counts(&mut pg, "events"),
        collector.log_text()
    );
    // Passwords recovered after their attempt was published reach the collector too.
    let recovered = "(SELECT * FROM auth_attempts WHERE password IS NOT NULL) recovered";
    let mut want = Vec::new();
    for s in &sensors {
        want.extend(sqlite_counts(&s.db(), recovered));
    }
    assert!(
        wait_until(Duration::from_secs(60), || pg_counts(&mut pg, recovered) == want),
        "attempts with a password per sensor {:?} != {want:?}",
        pg_counts(&mut pg, recovered)
    );
    collector.stop();
    let twice: i64 = pg
        .query_one(
            "SELECT count(*) FROM (SELECT sensor, sequence FROM events GROUP BY 1, 2 HAVING count(*) > 1) t",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(twice, 0, "no (sensor, sequence) twice");
    for table in ["auth_attempts", "registrations"] {
        let mut want = Vec::new();
        for s in &sensors {
            want.extend(sqlite_counts(&s.db(), table));
        }
        assert_eq!(pg_counts(&mut pg, table), want, "{table} per sensor");
    }
    let log = collector.log_text();
    assert!(log.contains("continuing analysis run"), "the killed run was continued: {log}");

    // The collector's cross-sensor analysis equals `analyze` over the union of the stores.
    let union = dir.path().join("union.db");
    let dbs: Vec<_> = sensors.iter().map(|s| s.db()).collect();
    union_store(&dbs.iter().map(|p| p.as_path()).collect::<Vec<_>>(), &union);
    let union_db = union.to_str().unwrap();
    let out = Command::new(SIPSCOPE).args(["analyze", "--db", union_db]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (by_union, by_collector) = (report(union_db), report(&pg_url));
    let (u, c) = (sections(&by_union), sections(&by_collector));
    assert_eq!(
        u.iter().map(|s| &s.0).collect::<Vec<_>>(),
        c.iter().map(|s| &s.0).collect::<Vec<_>>(),
        "the same sections"
    );
    let mut differ = Vec::new();
    for ((name, a), (_, b)) in u.iter().zip(&c) {
        if a == b || COLLECTOR_ONLY.contains(&name.as_str()) {
            continue;
        }
        differ.push(format!("section {name}:\n union: {a}\n collector: {b}"));
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    eprintln!("three sensors: {:?} events, {} s", expected, started.elapsed().as_secs());
    // Checked last, so that a failure here leaves the rest checked.
    assert_eq!(later_answers, 0, "attacker 1's later requests are not answered on sensor 3");
    assert!(
        later_requests > 0,
        "attacker 1's later requests are stored on sensor 3 (after {since}): {sensor3:?}\n{sensor3_log}"
    );
}
