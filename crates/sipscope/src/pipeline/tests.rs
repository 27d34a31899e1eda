//! The pipeline driven in process, as quinn's tests drive a pair of endpoints: messages and a
//! simulated clock in, a real SQLite store (on its writer thread, as the commands use it) out,
//! read back with SQL.

use super::*;
use crate::event::record::{AuthAttemptRecord, RecordContext};
use crate::sinks::sqlite::{BackgroundStore, Store};
use rusqlite::Connection;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_796_000_000 * S;

use crate::test_support::tool_message as fixture;

/// A pipeline over a fresh store in a temporary directory.
struct Harness {
    dir: tempfile::TempDir,
    pipeline: Option<Pipeline>,
}

impl Harness {
    fn new(configure: impl FnOnce(&mut PipelineSettings)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = BackgroundStore::spawn(Store::open(&dir.path().join("s.db")).unwrap()).unwrap();
        let nodes = Nodes::parse("[[node]]\nname = \"n1\"\naddresses = [\"198.51.100.0/24\"]\n", "test").unwrap();
        let mut settings = PipelineSettings::new("sensor".into(), nodes, RunKind::Capture);
        configure(&mut settings);
        let mut pipeline = Pipeline::new(settings, Box::new(store), Vec::new());
        pipeline.begin_analysis(T0).unwrap();
        Harness { dir, pipeline: Some(pipeline) }
    }

    fn pipeline(&mut self) -> &mut Pipeline {
        self.pipeline.as_mut().unwrap()
    }

    /// A request from `src` to 198.51.100.1 at `ts`.
    fn send(&mut self, ts: i64, src: &str, bytes: &[u8]) {
        self.pipeline().accept(arrival(ts, src, "198.51.100.1", Direction::Unknown, bytes));
    }

    fn finish(&mut self) -> Finished {
        self.pipeline.take().unwrap().finish(T0 + 3600 * S).unwrap()
    }

    fn db(&self) -> Connection {
        Store::open_read_only(&self.dir.path().join("s.db")).unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn arrival<'a>(ts: i64, src: &str, dst: &str, direction: Direction, bytes: &'a [u8]) -> Arrival<'a> {
    Arrival {
        ts_ns: ts,
        transport: Transport::Udp,
        src: (src.parse().unwrap(), 5061),
        dst: (dst.parse().unwrap(), 5060),
        tunnel: None,
        direction,
        packet: None,
        node: NodeOf::Lookup,
        sensor: None,
        bytes,
    }
}

/// svmap's OPTIONS with its agent replaced, so every message carries a text of its own.
fn options_with_agent(agent: &str) -> Vec<u8> {
    let svmap = String::from_utf8(fixture("svmap/0001.sip")).unwrap();
    let start = svmap.find("User-Agent:").unwrap();
    let end = start + svmap[start..].find("\r\n").unwrap();
    format!("{}User-Agent: {agent}{}", &svmap[..start], &svmap[end..]).into_bytes()
}

#[test]
fn every_message_becomes_an_event_with_its_node_and_fields() {
    let mut h = Harness::new(|_| {});
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.send(T0 + S, "203.0.113.5", &fixture("svcrack/0002.sip"));
    // Bytes that do not parse are counted and dropped by default (captures).
    h.send(T0 + 2 * S, "203.0.113.5", b"\xff\xfe not a start line");
    let finished = h.finish();
    assert_eq!(finished.counters.events_stored, 2);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE node = 'n1' AND sensor = 'sensor'"), 2);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE method = 'REGISTER' AND auth_username IS NOT NULL"), 1);
    assert_eq!((finished.counters.sip_messages, finished.counters.non_sip), (2, 1));
    // What is not SIP is not analysed either (the wire decoder drops it before the pipeline).
    assert_eq!(finished.analysis.unwrap().events, 2);
    assert_eq!(h.count("SELECT sum(messages) FROM traffic"), 2);
}

/// Regression: during `capture`, rows the engine handed over because its tables were full went
/// through a wrapper sink whose hand-over fell to the trait's default and were dropped. Every
/// path now reaches the store: with a tiny table, many hand-overs happen before the end and the
/// totals still count every message.
#[test]
fn hand_overs_when_the_engine_fills_reach_the_store() {
    let mut h = Harness::new(|s| {
        s.analysis = Some(AnalysisConfig { max_traffic_entries: 4, ..AnalysisConfig::default() });
        s.events = EventsMode::None;
    });
    let total = 40;
    for i in 0..total {
        let src = format!("203.0.113.{}", i + 1);
        h.send(T0 + i * S, &src, &options_with_agent(&format!("agent-{i}")));
        if i == total / 2 {
            // Hand-overs so far are visible once the store commits (a tick makes them durable).
            h.pipeline().tick(T0 + i * S).unwrap();
            let handed = h.count("SELECT coalesce(sum(messages), 0) FROM traffic");
            assert!(handed >= 16, "rows handed over when full must reach the store, saw {handed}");
        }
    }
    let finished = h.finish();
    assert_eq!(finished.counters.events_stored, 0);
    assert_eq!(h.count("SELECT sum(messages) FROM traffic"), total);
    assert_eq!(h.count("SELECT count(DISTINCT user_agent) FROM traffic"), total);
}

#[test]
fn ticks_hand_over_and_commit_at_their_interval_only() {
    let mut h = Harness::new(|s| s.tick_every_ns = 10 * S);
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.pipeline().tick(T0).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events"), 1);
    h.send(T0 + S, "203.0.113.5", &fixture("svmap/0001.sip"));
    // 1 s later: not due, nothing committed yet (the writer batches).
    h.pipeline().tick(T0 + S).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events"), 1);
    h.pipeline().tick(T0 + 11 * S).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM events"), 2);
    // A flow closed by event time (20 minutes of silence) is handed over on the next tick.
    h.send(T0 + 3000 * S, "203.0.113.9", &fixture("svmap/0001.sip"));
    h.pipeline().tick(T0 + 3000 * S).unwrap();
    assert_eq!(h.count("SELECT count(*) FROM flows WHERE src_ip = '203.0.113.5'"), 1);
    h.finish();
    assert_eq!(h.count("SELECT count(*) FROM flows"), 2);
}

#[test]
fn sampling_counts_everything_and_keeps_one_in_n() {
    let mut h = Harness::new(|s| s.events = EventsMode::Sample(3));
    for i in 0..10 {
        h.send(T0 + i * S, "203.0.113.5", &fixture("svmap/0001.sip"));
    }
    let finished = h.finish();
    assert_eq!((finished.counters.sip_messages, finished.counters.events_stored), (10, 4));
    assert_eq!(h.count("SELECT sum(messages) FROM traffic"), 10);
}

#[test]
fn counting_only_reads_start_lines_and_stores_nothing() {
    let mut h = Harness::new(|s| {
        s.events = EventsMode::None;
        s.analysis = None;
    });
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.send(T0, "203.0.113.5", b"SIP/2.0 404 Not Found\r\n\r\n");
    h.send(T0, "203.0.113.5", b"not sip at all");
    let finished = h.finish();
    let c = &finished.counters;
    assert_eq!((c.sip_messages, c.non_sip, c.events_stored), (2, 1, 0));
    assert_eq!(c.methods["OPTIONS"], 1);
    assert_eq!(c.status_classes["4xx"], 1);
    assert!(finished.analysis.is_none());
    assert_eq!(h.count("SELECT count(*) FROM events") + h.count("SELECT count(*) FROM analysis_runs"), 0);
}

#[test]
fn a_sensor_that_keeps_everything_stores_unparseable_bytes_and_its_answers() {
    let mut h = Harness::new(|s| s.unparsed = Unparsed::Keep);
    let request = fixture("svwar/0001.sip");
    h.pipeline().accept(arrival(T0, "203.0.113.5", "198.51.100.1", Direction::In, &request));
    let answer = b"SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP 203.0.113.5:5061;branch=z9hG4bK1\r\n\
From: <sip:100@x>;tag=1\r\nTo: <sip:100@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
    h.pipeline().accept(arrival(T0, "198.51.100.1", "203.0.113.5", Direction::Out, answer));
    h.pipeline().accept(arrival(T0, "203.0.113.5", "198.51.100.1", Direction::In, b""));
    h.pipeline().accept(arrival(T0, "203.0.113.5", "198.51.100.1", Direction::In, b"\x16\x03\x01garbage"));
    h.finish();
    let kinds: Vec<(String, String, Option<String>)> = h
        .db()
        .prepare("SELECT kind, direction, node FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let n1 = Some("n1".to_owned());
    assert_eq!(
        kinds,
        [
            ("request".into(), "in".into(), n1.clone()),
            ("response".into(), "out".into(), n1.clone()),
            ("keepalive".into(), "in".into(), n1.clone()),
            ("invalid".into(), "in".into(), n1),
        ]
    );
    assert_eq!(h.count("SELECT count(*) FROM traffic WHERE kind = 'invalid'"), 1);
}

#[test]
fn records_reach_the_store_in_order_with_events() {
    let mut h = Harness::new(|_| {});
    let id = h.pipeline().next_auth_attempt_id().unwrap();
    h.send(T0, "203.0.113.5", &fixture("svcrack/0001.sip"));
    let ctx = RecordContext {
        ts_ns: T0,
        sensor: "sensor".into(),
        node: Some("n1".into()),
        transport: Transport::Udp,
        src: "203.0.113.5:5061".parse().unwrap(),
        dst: "198.51.100.1:5060".parse().unwrap(),
        call_id: None,
        user_agent: None,
    };
    let attempt = AuthAttemptRecord { ctx, username: "101".into(), ..crate::test_support::auth_attempt(id, "sensor") };
    h.pipeline().record(Record::AuthAttempt(attempt));
    h.finish();
    assert_eq!(h.count("SELECT count(*) FROM auth_attempts WHERE outcome = 'wrong_password'"), 1);
}

#[test]
fn a_failed_store_stops_the_pipeline_and_reports_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path).unwrap();
    // Another connection drops the table under the writer: its next insert fails.
    Connection::open(&path).unwrap().execute_batch("DROP TABLE events;").unwrap();
    let settings = PipelineSettings::new("s".into(), Nodes::default(), RunKind::Capture);
    let mut pipeline = Pipeline::new(settings, Box::new(store), Vec::new());
    let svmap = fixture("svmap/0001.sip");
    pipeline.accept(arrival(T0, "203.0.113.5", "198.51.100.1", Direction::Unknown, &svmap));
    assert!(pipeline.failed());
    // Nothing more is taken; the error comes back from finish.
    pipeline.accept(arrival(T0, "203.0.113.5", "198.51.100.1", Direction::Unknown, &svmap));
    assert_eq!(pipeline.counters().sip_messages, 1);
    assert!(pipeline.finish(T0).is_err());
}

/// A long run is cut into analysis runs at the first tick a segment after each began: every
/// run is finished with the events it covers, and each event names its run, so the analysis of
/// the events of one segment can be recovered alone.
#[test]
fn a_long_run_is_analysed_in_segments_that_cover_their_events() {
    let mut h = Harness::new(|s| s.segment_every_ns = Some(10 * S));
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.pipeline().tick(T0 + 5 * S).unwrap();
    h.send(T0 + 6 * S, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.pipeline().tick(T0 + 10 * S).unwrap();
    h.send(T0 + 11 * S, "203.0.113.6", &fixture("svcrack/0002.sip"));
    h.finish();
    let runs = h
        .db()
        .prepare("SELECT id, covered, finished_ns IS NOT NULL FROM analysis_runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, bool>(2)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(runs.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(), vec![(2, true), (1, true)]);
    let first = runs[0].0;
    assert_eq!(h.count(&format!("SELECT count(*) FROM events WHERE run_id = {first}")), 2);
    assert_eq!(h.count("SELECT sum(messages) FROM traffic"), 3);
    assert_eq!(h.count("SELECT count(*) FROM sources"), 2, "each run lists its own sources");
}

/// An answer to `request` with `status`, as the node sends it (its Via, From, To, Call-ID and
/// CSeq copied).
fn answer_to(request: &[u8], status: &str) -> Vec<u8> {
    let text = String::from_utf8(request.to_vec()).unwrap();
    let copied: String = text
        .split("\r\n")
        .filter(|l| ["Via:", "From:", "To:", "Call-ID:", "CSeq:"].iter().any(|h| l.starts_with(h)))
        .map(|l| format!("{l}\r\n"))
        .collect();
    format!("SIP/2.0 {status}\r\n{copied}Content-Length: 0\r\n\r\n").into_bytes()
}

/// Regression (issue 13, item 2): a passive capture cannot tell who sent what, and answers
/// were looked up by their destination (the attacker), so they had no node and the per-node
/// stages lost their outcomes. An answer belongs to the node that sent it.
#[test]
fn a_captured_answer_belongs_to_the_node_that_sent_it() {
    let mut h = Harness::new(|_| {});
    let (attacker, node) = ("203.0.113.5", "198.51.100.1");
    // svwar asks for an extension (401: it exists), svcrack's credentials are accepted.
    let probe = fixture("svwar/0002.sip");
    let credentials = fixture("svcrack/0002.sip");
    let exchange = [
        (attacker, node, probe.clone()),
        (node, attacker, answer_to(&probe, "401 Unauthorized")),
        (attacker, node, credentials.clone()),
        (node, attacker, answer_to(&credentials, "200 OK")),
    ];
    for (i, (src, dst, bytes)) in exchange.iter().enumerate() {
        h.pipeline().accept(arrival(T0 + i as i64 * S, src, dst, Direction::Unknown, bytes));
    }
    h.finish();
    assert_eq!(h.count("SELECT count(*) FROM events WHERE node = 'n1'"), 4, "answers have their node too");
    let succeeded = "SELECT count(*) FROM stages WHERE stage = 'registration_hijacking' AND src_ip = '203.0.113.5' \
                     AND detail LIKE '%\"succeeded\":1%' AND node = ";
    assert_eq!(h.count(&format!("{succeeded} 'n1'")), 1, "the hijack succeeded at n1");
    assert_eq!(h.count(&format!("{succeeded} ''")), 1, "and overall");
    let answers = "SELECT sum(messages) FROM traffic WHERE kind = 'response' AND node = 'n1'";
    assert_eq!(h.count(answers), 2);
}

/// A forwarded message (HEP) is stored under the sensor that saw it; the rest under the
/// pipeline's, and both are analysed in the one run.
#[test]
fn a_forwarded_message_keeps_the_sensor_that_saw_it() {
    let mut h = Harness::new(|s| s.unparsed = Unparsed::Keep);
    let svmap = fixture("svmap/0001.sip");
    let forwarded = |bytes| Arrival {
        sensor: Some("edge-1"),
        ..arrival(T0, "203.0.113.5", "198.51.100.1", Direction::Unknown, bytes)
    };
    h.pipeline().accept(forwarded(&svmap));
    h.pipeline().accept(forwarded(b"\xff"));
    h.send(T0 + S, "203.0.113.6", &svmap);
    let finished = h.finish();
    assert_eq!(finished.counters.events_stored, 3);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE sensor = 'edge-1'"), 2);
    assert_eq!(h.count("SELECT count(*) FROM events WHERE sensor = 'sensor'"), 1);
    assert_eq!(finished.analysis.unwrap().events, 3);
}

/// What a test responder and a test alert output saw.
#[derive(Default)]
struct Seen {
    responder: Vec<(i64, String, u64)>,
    ticks: Vec<i64>,
    sink_alerts: Vec<(String, u64)>,
    sink_decisions: Vec<crate::act::Decision>,
}

type Shared = std::sync::Arc<std::sync::Mutex<Seen>>;

/// Bans every alert's source for a minute.
struct TestResponder(Shared);

impl crate::act::Responder for TestResponder {
    fn on_alert(&mut self, now_ns: i64, alert: &crate::act::Alert) -> Vec<crate::act::Decision> {
        self.0.lock().unwrap().responder.push((now_ns, alert.rule_id.clone(), alert.count));
        let ip = alert.src.unwrap().0;
        vec![crate::act::Decision {
            id: None,
            kind: crate::act::DecisionKind::Ban,
            scope: crate::act::Scope::Address(ip),
            start_ns: now_ns,
            until_ns: now_ns + 60 * S,
            reason: alert.name.clone(),
            origin: crate::act::DecisionOrigin::Rule { rule_id: alert.rule_id.clone() },
            offence: 0,
            proven: alert.proven,
            evidence: alert.evidence.clone(),
        }]
    }

    fn tick(&mut self, now_ns: i64) {
        self.0.lock().unwrap().ticks.push(now_ns);
    }
}

struct TestOutput(Shared);

impl crate::sinks::AlertSink for TestOutput {
    fn alert(&mut self, alert: &crate::act::Alert) -> Result<(), SinkError> {
        self.0.lock().unwrap().sink_alerts.push((alert.rule_id.clone(), alert.count));
        Ok(())
    }

    fn decision(&mut self, decision: &crate::act::Decision) -> Result<(), SinkError> {
        self.0.lock().unwrap().sink_decisions.push(decision.clone());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn with_rules(events: EventsMode) -> (Harness, Shared) {
    let mut h = Harness::new(|s| {
        s.rules = Some(std::sync::Arc::new(crate::rules::RuleSet::builtin()));
        s.events = events;
    });
    let seen = Shared::default();
    h.pipeline().set_responder(Box::new(TestResponder(seen.clone())));
    h.pipeline().add_alert_sink(Box::new(TestOutput(seen.clone())));
    (h, seen)
}

#[test]
fn alerts_are_stored_with_their_evidence_and_reach_the_responder_and_the_outputs() {
    let (mut h, seen) = with_rules(EventsMode::All);
    for i in 0..3 {
        h.send(T0 + i * S, "203.0.113.5", &fixture("svmap/0001.sip"));
    }
    let finished = h.finish();
    assert_eq!(finished.counters.alerts_raised, 1);
    let seen = seen.lock().unwrap();
    // Raised at the first message, updated with the final count at the end.
    assert_eq!(
        seen.responder,
        [(T0, "sipscope/attack-agent".into(), 1), (T0 + 2 * S, "sipscope/attack-agent".into(), 3)]
    );
    assert_eq!(seen.sink_alerts, [("sipscope/attack-agent".into(), 1), ("sipscope/attack-agent".into(), 3)]);
    assert_eq!(seen.sink_decisions.len(), 2, "each decision reaches the outputs");
    assert_eq!(
        h.count("SELECT count FROM alerts WHERE rule_id = 'sipscope/attack-agent' AND group_key = 'source=203.0.113.5' AND node = 'n1'"),
        3
    );
    assert_eq!(h.count("SELECT count(*) FROM alerts"), 1, "an update is not a second alert");
    // Every piece of evidence names its stored event (found by position: `Evidence::stored`).
    assert_eq!(
        h.count(
            "SELECT count(*) FROM alert_evidence e JOIN events v ON v.id = e.event_id AND v.ts_ns = e.ts_ns
             AND v.src_ip = e.src_ip AND v.src_port = e.src_port AND v.dst_ip = e.dst_ip AND v.dst_port = e.dst_port"
        ),
        3
    );
    assert_eq!(h.count("SELECT count(*) FROM alerts WHERE run_id IS NOT NULL"), 1, "under the analysis run");
}

#[test]
fn alerts_of_messages_not_stored_keep_their_evidence_without_ids() {
    let (mut h, _) = with_rules(EventsMode::None);
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.finish();
    assert_eq!(h.count("SELECT count(*) FROM alerts"), 1);
    assert_eq!(h.count("SELECT count(*) FROM alert_evidence WHERE event_id IS NULL AND src_ip = '203.0.113.5'"), 1);
}

#[test]
fn live_ticks_close_alerts_when_their_period_ends() {
    let (mut h, seen) = with_rules(EventsMode::All);
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.send(T0 + S, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.pipeline().tick(T0 + 2 * S).unwrap();
    assert_eq!(seen.lock().unwrap().responder.len(), 1, "still open");
    h.pipeline().tick(T0 + 3601 * S).unwrap();
    assert_eq!(seen.lock().unwrap().responder.len(), 2, "closed by the tick, with its count");
    assert_eq!(seen.lock().unwrap().ticks, [T0 + 2 * S, T0 + 3601 * S]);
    h.finish();
    assert_eq!(h.count("SELECT count FROM alerts"), 2);
}

/// Everything the responder and the alert outputs were told, in the order they were told.
type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

struct LogResponder(Log);

impl crate::act::Responder for LogResponder {
    fn on_alert(&mut self, now_ns: i64, alert: &crate::act::Alert) -> Vec<crate::act::Decision> {
        self.0.lock().unwrap().push(format!("alert {now_ns} {} {} {}", alert.rule_id, alert.group, alert.count));
        Vec::new()
    }

    fn tick(&mut self, now_ns: i64) {
        self.0.lock().unwrap().push(format!("tick {now_ns}"));
    }
}

struct LogOutput(Log);

impl crate::sinks::AlertSink for LogOutput {
    fn alert(&mut self, alert: &crate::act::Alert) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(format!("output {} {} {:?}", alert.rule_id, alert.count, alert.evidence));
        Ok(())
    }

    fn decision(&mut self, _: &crate::act::Decision) -> Result<(), SinkError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Every row of `sql`'s answer, its columns joined by `|`.
fn rows(db: &Connection, sql: &str) -> Vec<String> {
    use rusqlite::types::ValueRef;
    let mut statement = db.prepare(sql).unwrap();
    let columns = statement.column_count();
    let text = |v: ValueRef<'_>| match v {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    };
    let rows = statement
        .query_map([], |r| Ok((0..columns).map(|i| text(r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|")));
    rows.unwrap().map(Result::unwrap).collect()
}

/// A run of a few attackers (scans, extension probes and password guesses with the node's
/// answers, unparseable bytes, authentication records and ticks between them; more messages
/// than one batch of the analysis thread holds; four capture files, each an analysis run under
/// which the alerts passed on during it are stored) through the built-in rules on `on`'s
/// thread, with `kind`'s alert semantics: what the responder and the outputs were told, in order, the
/// alerts counted, and the `alerts` and `alert_evidence` tables.
fn rules_run(kind: RunKind, on: RulesOn) -> (Vec<String>, u64, Vec<String>, Vec<String>) {
    let mut h = Harness::new(|s| {
        s.run = (kind, false);
        s.rules = Some(std::sync::Arc::new(crate::rules::RuleSet::builtin()));
        s.rules_on = on;
        s.unparsed = Unparsed::Keep;
    });
    let log = Log::default();
    h.pipeline().set_responder(Box::new(LogResponder(log.clone())));
    h.pipeline().add_alert_sink(Box::new(LogOutput(log.clone())));
    let first_id = h.pipeline().next_auth_attempt_id().unwrap();
    let tools = ["svmap/0001.sip", "svwar/0002.sip", "svcrack/0002.sip", "sipsak-register-badpw/0001.sip"];
    for i in 0..3000i64 {
        let ts = T0 + i * S;
        let attacker = format!("203.0.113.{}", i % 7);
        let request = fixture(tools[(i % 4) as usize]);
        h.send(ts, &attacker, &request);
        if i % 4 == 2 {
            let answer = answer_to(&request, "401 Unauthorized");
            h.pipeline().accept(arrival(ts, "198.51.100.1", &attacker, Direction::Unknown, &answer));
        }
        if i % 97 == 0 {
            h.send(ts, &attacker, b"\x00\x01 not SIP at all");
        }
        if i % 5 == 0 {
            let mut attempt = crate::test_support::auth_attempt(first_id + i / 5, "sensor");
            attempt.ctx.ts_ns = ts;
            attempt.ctx.src = format!("192.0.2.{}:5060", i % 3).parse().unwrap();
            h.pipeline().record(Record::AuthAttempt(attempt));
        }
        if i % 450 == 0 {
            h.pipeline().tick(ts).unwrap();
        }
        if i % 750 == 749 {
            h.pipeline().finish_file(FileCounts::default(), ts).unwrap();
            let file =
                CaptureFile { sha256: format!("{i:064}"), path: format!("{i}.pcap"), size: 1, sensor: "sensor".into() };
            h.pipeline().begin_file(file, ts, false).unwrap();
        }
    }
    // A tick after every dedupe period: a live run closes its alerts here.
    h.pipeline().tick(T0 + 7200 * S).unwrap();
    let finished = h.finish();
    let db = h.db();
    let alerts = rows(&db, "SELECT * FROM alerts ORDER BY id");
    let evidence = rows(&db, "SELECT * FROM alert_evidence ORDER BY alert_id, position");
    let told = log.lock().unwrap().clone();
    (told, finished.counters.alerts_raised, alerts, evidence)
}

/// The rules on the analysis thread (files, replays) find exactly what they find in line: the
/// same alerts with the same evidence stored, and the responder and the outputs told the same
/// things in the same order, ticks included — for a file's alert semantics and a live one's.
#[test]
fn the_rules_beside_the_analysis_find_and_tell_what_they_find_in_line() {
    for kind in [RunKind::Ingest, RunKind::Capture] {
        let inline = rules_run(kind, RulesOn::Pipeline);
        let beside = rules_run(kind, RulesOn::Worker);
        assert!(inline.1 >= 10, "{kind:?}: the scenario raises alerts ({})", inline.1);
        assert!(inline.0.iter().any(|l| l.contains("pbx-failed-logins")), "{kind:?}: records raise alerts too");
        assert!(inline.3.iter().any(|e| !e.ends_with("|NULL")), "{kind:?}: evidence names stored events");
        let runs: std::collections::BTreeSet<_> =
            inline.2.iter().map(|a| a.split('|').nth(1).unwrap().to_owned()).collect();
        assert!(runs.len() >= 3, "{kind:?}: alerts stored under several runs ({runs:?})");
        assert_eq!(inline.0, beside.0, "{kind:?}: what the responder and the outputs were told");
        assert_eq!(inline.1, beside.1, "{kind:?}: alerts counted");
        assert_eq!(inline.2, beside.2, "{kind:?}: alerts stored");
        assert_eq!(inline.3, beside.3, "{kind:?}: evidence stored");
    }
}

/// A live source with the rules beside the analysis (the honeypot): a message waits in the
/// batch until the source flushes; then its alert reaches the responder, with the message's
/// time, on a poll — no batch filled and no tick needed.
#[test]
fn a_live_source_hears_of_the_alerts_of_what_it_flushed_without_a_tick() {
    let mut h = Harness::new(|s| {
        s.run = (RunKind::Honeypot, false);
        s.rules = Some(std::sync::Arc::new(crate::rules::RuleSet::builtin()));
        s.rules_on = RulesOn::Worker;
    });
    let log = Log::default();
    h.pipeline().set_responder(Box::new(LogResponder(log.clone())));
    h.send(T0, "203.0.113.5", &fixture("svmap/0001.sip"));
    h.pipeline().poll_alerts();
    assert!(log.lock().unwrap().is_empty(), "not flushed: the rules' thread has not seen it");
    h.pipeline().flush();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while log.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
        h.pipeline().poll_alerts();
    }
    let told = log.lock().unwrap().clone();
    assert!(!told.is_empty(), "the alert came back without a tick");
    assert!(told.iter().all(|l| l.starts_with(&format!("alert {T0} "))), "with its message's time: {told:?}");
    assert!(told.iter().any(|l| l.contains("203.0.113.5")), "{told:?}");
    h.finish();
}
