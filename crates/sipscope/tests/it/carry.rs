//! A long run continued across crashes (`sources/replay.rs`, `carry_into`): the pipeline is
//! driven in process with a simulated clock, as `capture`, the honeypot or `collect` drive it,
//! and "killed" after a tick (dropped, its run's owner then named as a gone process, as the
//! next start finds it). The next pipeline of the same kind and sensor continues the run: its
//! events replayed into the live engine and rules, new input joining it. Whatever the crash
//! points (one, two, one right after the take-over), the store ends with one run covering every
//! event once, and every report section equals that of the same input never interrupted — on
//! SQLite and on PostgreSQL.

use crate::postgres::TestDb;
use sipscope::analysis::engine::AnalysisConfig;
use sipscope::event::{Direction, Transport};
use sipscope::nodes::Nodes;
use sipscope::pipeline::{Arrival, NodeOf, Pipeline, PipelineSettings};
use sipscope::rules::RuleSet;
use sipscope::sinks::{RunKind, SinkConfig};
use sipscope::sources::replay::{self, OwnScope, Recovery};
use std::path::PathBuf;
use std::sync::Arc;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;
const SENSOR: &str = "sensor-1";

fn tool_message(path: &str) -> Vec<u8> {
    let full = format!("{}/../sip/tests/fixtures/tools/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

/// The input, in time order: svmap's OPTIONS from 203.0.113.5 to 30 addresses one a second
/// (one flow, a sweep), svcrack's REGISTER from 203.0.113.6 every two seconds (a password
/// guess the rules raise an alert on), an unparseable datagram.
fn input() -> Vec<(i64, &'static str, String, Vec<u8>)> {
    let (svmap, svcrack) = (tool_message("svmap/0001.sip"), tool_message("svcrack/0002.sip"));
    let mut out = Vec::new();
    for i in 0..30 {
        out.push((T0 + i * S, "203.0.113.5", format!("198.51.100.{}", i + 1), svmap.clone()));
        if i % 2 == 1 {
            out.push((T0 + i * S + S / 2, "203.0.113.6", "198.51.100.1".to_owned(), svcrack.clone()));
        }
        if i == 17 {
            out.push((T0 + i * S + S / 4, "203.0.113.7", "198.51.100.2".to_owned(), b"\xff\xfe junk".to_vec()));
        }
    }
    out
}

/// A store: SQLite file or PostgreSQL database, and plain SQL against it.
enum Db {
    Sqlite(PathBuf),
    Pg(TestDb),
}

impl Db {
    fn path(&self) -> PathBuf {
        match self {
            Db::Sqlite(p) => p.clone(),
            Db::Pg(db) => PathBuf::from(&db.url),
        }
    }

    fn execute(&self, sql: &str) {
        match self {
            Db::Sqlite(p) => {
                rusqlite::Connection::open(p).unwrap().execute_batch(sql).unwrap();
            }
            Db::Pg(db) => db.client().batch_execute(sql).unwrap(),
        }
    }

    fn number(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(p) => rusqlite::Connection::open(p).unwrap().query_row(sql, [], |r| r.get(0)).unwrap(),
            Db::Pg(db) => db.client().query_one(sql, &[]).unwrap().get(0),
        }
    }
}

/// The pipeline a long-running command opens at `now`: recovery first, its own interrupted
/// run continued (`collect`, `capture` and the honeypot do the same through `store_args.rs`
/// and `honeypot/run.rs`). Returns the pipeline and what recovery did.
fn open(db: &Db, now: i64) -> (Pipeline, Recovery, Option<u64>) {
    open_with(db, now, replay::MAX_STOPPED_REPLAY)
}

/// [`open`] with a bound on the events a stopped run's replay may read.
fn open_with(db: &Db, now: i64, max_stopped_replay: u64) -> (Pipeline, Recovery, Option<u64>) {
    let path = db.path();
    let mut settings = PipelineSettings::new(SENSOR.into(), Nodes::default(), RunKind::Capture);
    settings.segment_every_ns = Some(3600 * S);
    settings.unparsed = sipscope::pipeline::Unparsed::Keep;
    settings.rules = Some(Arc::new(RuleSet::builtin()));
    let own = OwnScope { kind: RunKind::Capture, sensor: SENSOR, segment_ns: 3600 * S, max_stopped_replay };
    let recovery =
        replay::recover_interrupted(&path, &AnalysisConfig::default(), settings.rules.as_ref(), now, Some(own))
            .unwrap();
    let sinks = sipscope::sinks::open(&SinkConfig {
        store: path.clone(),
        jsonl: None,
        hep_out: None,
        backlog: None,
        nats: None,
        retention_days: None,
    })
    .unwrap();
    let mut pipeline = Pipeline::new(settings, sinks.store, Vec::new());
    let carried = match &recovery.to_continue {
        Some(run) => replay::carry_into(&mut pipeline, &path, run).unwrap(),
        None => None,
    };
    pipeline.begin_analysis(now).unwrap();
    (pipeline, recovery, carried)
}

fn feed(pipeline: &mut Pipeline, (ts, src, dst, bytes): &(i64, &'static str, String, Vec<u8>)) {
    pipeline.accept(Arrival {
        ts_ns: *ts,
        transport: Transport::Udp,
        src: (src.parse().unwrap(), 5061),
        dst: (dst.parse().unwrap(), 5060),
        tunnel: None,
        direction: Direction::In,
        packet: None,
        node: NodeOf::Lookup,
        sensor: None,
        bytes,
    });
}

/// A kill: what the last tick committed stays, the process is gone. (Dropping the pipeline
/// stands for the kill; the run's owner is then named as a process that no longer runs.)
fn crash(db: &Db, mut pipeline: Pipeline, now: i64) {
    pipeline.tick(now).unwrap();
    drop(pipeline);
    gone(db);
}

/// A graceful stop: the run finished, the process gone.
fn stop(db: &Db, pipeline: Pipeline, now: i64) {
    pipeline.finish(now).unwrap();
    gone(db);
}

/// Names every run's process as one that no longer runs (this one, with another start).
fn gone(db: &Db) {
    let me = sipscope::owner::this_process().expect("a Linux /proc");
    let (rest, start) = me.rsplit_once(':').unwrap();
    let gone = format!("{rest}:{}", start.parse::<u64>().unwrap() + 1);
    db.execute(&format!("UPDATE analysis_runs SET owner = '{gone}'"));
}

/// How a process ends before the next starts.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Killed after this many messages.
    Kill(usize),
    /// Stopped gracefully after this many messages.
    Stop(usize),
}

/// Feeds `input` into `db`, ending the process at each of `ends` and starting the next (an
/// index repeated: ended again right after the restart, before any new input). Returns the
/// events replayed by each continuation.
fn run_with_crashes(db: &Db, ends: &[End]) -> Vec<u64> {
    let input = input();
    let end = input.last().unwrap().0 + S;
    let (mut pipeline, _, _) = open(db, T0);
    let mut carried = Vec::new();
    let mut next = 0;
    for &end in ends {
        let at = match end {
            End::Kill(at) | End::Stop(at) => at,
        };
        for m in &input[next..at] {
            feed(&mut pipeline, m);
        }
        next = at;
        let now = input[at - 1].0 + S / 10;
        match end {
            End::Kill(_) => crash(db, pipeline, now),
            End::Stop(_) => stop(db, pipeline, now),
        }
        let (p, recovery, replayed) = open(db, now);
        assert_eq!(recovery.runs_recovered, 0, "the run is continued, not recovered apart");
        carried.push(replayed.expect("the interrupted run is continued"));
        pipeline = p;
    }
    for m in &input[next..] {
        feed(&mut pipeline, m);
    }
    pipeline.finish(end).unwrap();
    carried
}

fn report(db: &Db) -> serde_json::Value {
    let path = db.path();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipscope"))
        .args(["report", "--format", "json", "--db"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every section of `crashed`'s report equals `whole`'s, one by one.
fn assert_same_reports(whole: &serde_json::Value, crashed: &serde_json::Value) {
    let (a, b) = (whole["sections"].as_object().unwrap(), crashed["sections"].as_object().unwrap());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, section) in a {
        assert_eq!(section, &b[name], "section {name} differs");
    }
}

/// The store after the run: one finished run, covering every event, each event naming it.
fn assert_one_run_covering_everything(db: &Db) {
    let events = db.number("SELECT count(*) FROM events");
    assert_eq!(events, input().len() as i64);
    assert_eq!(db.number("SELECT count(*) FROM analysis_runs"), 1);
    assert_eq!(db.number("SELECT count(*) FROM analysis_runs WHERE finished_ns IS NOT NULL"), 1);
    assert_eq!(db.number("SELECT CAST(sum(covered) AS BIGINT) FROM analysis_runs"), events, "covered once each");
    assert_eq!(db.number("SELECT count(*) FROM events WHERE run_id = (SELECT id FROM analysis_runs)"), events);
    assert_eq!(db.number("SELECT count(*) FROM flows WHERE src_ip = '203.0.113.5'"), 1, "one flow of the sweep");
    assert!(db.number("SELECT count(*) FROM alerts") > 0, "the rules raised alerts");
}

/// One crash mid-flow, two crashes with one right after the restart's take-over, a crash
/// after the first event and one near the end, graceful stops (one right after a restart) and
/// a crash after one.
const CRASH_POINTS: &[&[End]] = &[
    &[End::Kill(20)],
    &[End::Kill(12), End::Kill(12), End::Kill(31)],
    &[End::Kill(1), End::Kill(44)],
    &[End::Stop(15), End::Kill(30)],
    &[End::Stop(25), End::Stop(25)],
];

fn every_crash_pattern_equals_the_uninterrupted_run(new_db: impl Fn(&str) -> Db) {
    let whole = new_db("whole");
    assert!(run_with_crashes(&whole, &[]).is_empty());
    let expected = report(&whole);
    for crashes in CRASH_POINTS {
        let db = new_db("crashed");
        let carried = run_with_crashes(&db, crashes);
        // Each continuation replayed every event stored before its crash, once.
        let stored_before: Vec<u64> = crashes
            .iter()
            .map(|end| match end {
                End::Kill(at) | End::Stop(at) => *at as u64,
            })
            .collect();
        assert_eq!(carried, stored_before, "crashes at {crashes:?}");
        assert_one_run_covering_everything(&db);
        assert_same_reports(&expected, &report(&db));
    }
}

#[test]
fn a_flow_spanning_crashes_is_one_flow_equal_to_the_uninterrupted_run_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicU32::new(0);
    every_crash_pattern_equals_the_uninterrupted_run(|name| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Db::Sqlite(dir.path().join(format!("{name}-{i}.db")))
    });
}

#[test]
fn a_flow_spanning_crashes_is_one_flow_equal_to_the_uninterrupted_run_postgres() {
    every_crash_pattern_equals_the_uninterrupted_run(|_| Db::Pg(TestDb::create()));
}

/// Runs of another scope keep today's recovery: an interrupted run of another sensor is
/// analysed again into a finished run of its own, and the command begins its own run.
#[test]
fn an_interrupted_run_of_another_sensor_is_recovered_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("s.db"));
    let input = input();
    let (mut pipeline, _, _) = open(&db, T0);
    for m in &input[..10] {
        feed(&mut pipeline, m);
    }
    crash(&db, pipeline, T0 + 10 * S);
    db.execute("UPDATE analysis_runs SET sensor = 'another'");
    let (pipeline, recovery, carried) = open(&db, T0 + 11 * S);
    assert_eq!((recovery.runs_recovered, recovery.events_replayed, carried), (1, 10, None));
    pipeline.finish(T0 + 12 * S).unwrap();
    assert_eq!(db.number("SELECT count(*) FROM analysis_runs WHERE finished_ns IS NOT NULL"), 2);
    assert_eq!(db.number("SELECT CAST(sum(covered) AS BIGINT) FROM analysis_runs"), 10);
}

/// A run stopped gracefully is continued while its segment lasts; once it is over, the next
/// start begins a run of its own (the stopped one would close at once).
#[test]
fn a_stopped_run_is_continued_only_within_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::Sqlite(dir.path().join("s.db"));
    let input = input();
    let (mut pipeline, _, _) = open(&db, T0);
    for m in &input[..10] {
        feed(&mut pipeline, m);
    }
    stop(&db, pipeline, T0 + 10 * S);
    let (pipeline, recovery, carried) = open(&db, T0 + 3600 * S);
    assert_eq!((recovery.runs_recovered, carried), (0, None));
    pipeline.finish(T0 + 3601 * S).unwrap();
    assert_eq!(db.number("SELECT count(*) FROM analysis_runs WHERE finished_ns IS NOT NULL"), 2);
    assert_eq!(db.number("SELECT CAST(sum(covered) AS BIGINT) FROM analysis_runs"), 10);
}

/// A run stopped gracefully is continued only when its replay reads at most
/// `max_stopped_replay` events (a routine restart does not wait long); past that, the next
/// start begins a run of its own, as a restart did before runs were continued.
#[test]
fn a_stopped_run_too_large_to_replay_is_not_continued() {
    for (max, continued) in [(9, false), (10, true)] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::Sqlite(dir.path().join("s.db"));
        let input = input();
        let (mut pipeline, _, _) = open(&db, T0);
        for m in &input[..10] {
            feed(&mut pipeline, m);
        }
        stop(&db, pipeline, T0 + 10 * S);
        assert_eq!(db.number("SELECT count(*) FROM events"), 10);
        let (pipeline, recovery, carried) = open_with(&db, T0 + 20 * S, max);
        assert_eq!(recovery.runs_recovered, 0);
        assert_eq!(carried, continued.then_some(10), "bound {max}");
        pipeline.finish(T0 + 21 * S).unwrap();
        let runs = if continued { 1 } else { 2 };
        assert_eq!(db.number("SELECT count(*) FROM analysis_runs WHERE finished_ns IS NOT NULL"), runs, "bound {max}");
        assert_eq!(db.number("SELECT CAST(sum(covered) AS BIGINT) FROM analysis_runs"), 10, "bound {max}");
    }
}
