//! A broker that refuses while the connection stays up (issue 16): the stream at its limits
//! with `discard: new` (port 14231, honeypot 127.0.242.70), and a user denied publishing on the
//! sensors' subjects (port 14232, honeypot 127.0.242.71), and a stream at `max_bytes` that
//! refuses a message and accepts a smaller later one of the same window (port 14234,
//! honeypot 127.0.242.74). The honeypot attacked meanwhile keeps
//! answering and storing, says why in its log (rate-limited), in `sensor status` and in its
//! metrics, never counts a refused row as acknowledged, and once the operator makes room or
//! fixes the permission publishes everything it kept: every event once in the collector's store.

use super::broker::Broker;
use super::{collect, per_sensor, probe, sensor_status as status, sipscope};
use crate::honeypot::harness::Honeypot;
use crate::honeypot::metrics::scrape;
use async_nats::jetstream::stream::{Config, DiscardPolicy};
use std::path::Path;
use std::time::{Duration, Instant};

/// Polls `sensor status` until `done` holds (at most `secs`); returns the last answer.
fn status_until(db: &Path, secs: u64, what: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = status(db);
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn acked_events(s: &serde_json::Value) -> i64 {
    s["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "event").unwrap()["acked"].as_i64().unwrap()
}

/// The stream as an operator makes it: its subjects, at most `max_messages` (-1: no limit),
/// refusing new messages when full.
fn stream(max_messages: i64) -> Config {
    limited(max_messages, -1)
}

/// The stream with at most `max_messages` and `max_bytes` (-1: no limit), `discard: new`.
fn limited(max_messages: i64, max_bytes: i64) -> Config {
    Config {
        name: "SIPSCOPE".into(),
        subjects: vec!["sipscope.events.>".into()],
        max_messages,
        max_bytes,
        discard: DiscardPolicy::New,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

/// Creates (`create`) or updates the stream on the broker at `url`.
fn operator(url: &str, config: Config, create: bool) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        if create {
            js.create_stream(config).await.unwrap();
        } else {
            js.update_stream(config).await.unwrap();
        }
    });
}

/// How many times the log says `needle`.
fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_stream_at_its_limits_refuses_and_the_sensor_publishes_everything_once_room_is_made() {
    const HP: &str = "127.0.242.70";
    const METRICS: &str = "127.0.242.70:9464";
    let Some(broker) = Broker::start(14231, &[]) else { return };
    let url = broker.url();
    // Two messages fit; the sensor publishes more than two (one per commit at least).
    operator(&url, stream(2), true);
    let config = format!("[nats]\nurl = \"{url}\"\n[metrics]\nlisten = \"{METRICS}\"\n");
    let mut hp = Honeypot::start(&[("udp", HP, 5060)], &config);
    let db = hp.dir.path().join("hp.db");
    for round in 0..6 {
        assert_eq!(probe(HP, "127.0.242.72", 5, &format!("a{round}")), 5, "the honeypot stops answering");
        std::thread::sleep(Duration::from_millis(400));
    }
    let refused = status_until(&db, 30, "the refusal in sensor status", |s| !s["failing"].is_null());
    let why = refused["failing"]["last_error"].as_str().unwrap();
    assert!(why.contains("rejected") && why.contains("maximum messages exceeded"), "{why}");
    // Still answering and storing while refused.
    assert_eq!(probe(HP, "127.0.242.72", 10, "b"), 10);
    let m = scrape(METRICS);
    assert!(m.sum("sipscope_sink_errors_total", &[("sink", "nats")]) >= 1.0);
    let refused = status(&db);
    assert!(refused["waiting"].as_u64().unwrap() > 0, "{refused}");

    // Nothing refused counts as acknowledged: what the sensor calls acknowledged is what the
    // stream holds.
    let dir = tempfile::tempdir().unwrap();
    let early = dir.path().join("early.db");
    collect(&url, &early, &["--durable", "early"]);
    let in_stream: i64 = per_sensor(&early).iter().map(|(_, n)| n).sum();
    assert_eq!(in_stream, acked_events(&refused), "{refused}");
    assert!(in_stream > 0);

    // The operator makes room: the sensor catches up by itself (its pause is at most 30 s).
    operator(&url, stream(-1), false);
    let caught_up = status_until(&db, 60, "catching up", |s| s["waiting"] == 0 && s["failing"].is_null());
    assert!(acked_events(&caught_up) > in_stream);
    assert_eq!(probe(HP, "127.0.242.72", 5, "c"), 5);
    status_until(&db, 30, "the last probes", |s| s["waiting"] == 0);
    // Every failed attempt, the ones after the refusal was seen included.
    let failures = scrape(METRICS).sum("sipscope_sink_errors_total", &[("sink", "nats")]) as u64;
    let (_, log) = hp.stop();
    let said = lines_with(&log, "the broker rejected a publish");
    // Once per change of cause, then at powers of two.
    assert!(said >= 1 && said as u64 <= failures.ilog2() as u64 + 2, "{said} lines for {failures} failures:\n{log}");
    assert!(log.contains("acknowledges again"), "{log}");

    let central = dir.path().join("central.db");
    collect(&url, &central, &[]);
    assert_eq!(per_sensor(&central), per_sensor(&db));
}

#[test]
fn a_user_denied_publishing_keeps_its_events_until_the_permission_is_fixed() {
    const HP: &str = "127.0.242.71";
    let users = |deny: &str| {
        format!(
            "authorization {{\n users = [\n  {{ user: sensor, password: sensor-secret, permissions: {{ publish: {{ deny: [{deny}] }} }} }}\n  \
             {{ user: nojs, password: sensor-secret, permissions: {{ publish: {{ deny: [\"$JS.API.>\"] }} }} }}\n  \
             {{ user: central, password: central-secret }}\n ]\n}}\n"
        )
    };
    let Some(broker) = Broker::start_with_config(14232, &users("\"sipscope.events.>\"")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = broker.url();
    let (sensor_pw, central_pw) = (dir.path().join("sensor.pw"), dir.path().join("central.pw"));
    std::fs::write(&sensor_pw, "sensor-secret\n").unwrap();
    std::fs::write(&central_pw, "central-secret\n").unwrap();
    let config = format!(
        "[nats]\nurl = \"{url}\"\ntimeout_seconds = 2\n[nats.auth]\nuser = \"sensor\"\npassword_file = \"{}\"\n",
        sensor_pw.display()
    );
    let mut hp = Honeypot::start(&[("udp", HP, 5060)], &config);
    let db = hp.dir.path().join("hp.db");
    assert_eq!(probe(HP, "127.0.242.73", 20, "a"), 20);
    let denied = status_until(&db, 30, "the denial in sensor status", |s| !s["failing"].is_null());
    let why = denied["failing"]["last_error"].as_str().unwrap();
    assert!(why.contains("refused") && why.to_lowercase().contains("permissions violation"), "{why}");
    assert_eq!(acked_events(&denied), 0);
    assert_eq!(probe(HP, "127.0.242.73", 10, "b"), 10, "the honeypot stops answering while denied");
    // A user denied the JetStream API: its request only times out, the server's -ERR says why.
    let nojs = dir.path().join("nojs.db");
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let out = sipscope(&[
        "ingest",
        "--db",
        nojs.to_str().unwrap(),
        "--sensor",
        "nojs",
        "--nats",
        &url,
        "--nats-user",
        "nojs",
        "--nats-password-file",
        sensor_pw.to_str().unwrap(),
        pcap,
    ]);
    assert!(out.status.success(), "the store is written while the broker refuses");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("the server said") && log.contains("Permissions Violation"), "{log}");

    // The operator fixes the permission and reloads the server.
    broker.reconfigure(&users("\"nothing.>\""));
    status_until(&db, 60, "catching up", |s| s["waiting"] == 0 && s["failing"].is_null());
    let (_, log) = hp.stop();
    assert!(lines_with(&log, "Permissions Violation") >= 1, "{log}");
    assert!(!log.contains("sensor-secret"), "a secret in the log");

    let central = dir.path().join("central.db");
    let auth = ["--nats-user", "central", "--nats-password-file", central_pw.to_str().unwrap()];
    collect(&url, &central, &auth);
    let stored = per_sensor(&db);
    assert_eq!(stored[0].1, 60);
    assert_eq!(per_sensor(&central), stored);
}

#[test]
fn rows_refused_before_a_smaller_accepted_message_are_published_late_and_stored_once() {
    const HP: &str = "127.0.242.74";
    let Some(broker) = Broker::start(14234, &[]) else { return };
    let url = broker.url();
    // Nothing fits at first: the rows wait in the store.
    operator(&url, limited(-1, 1), true);
    // Uncompressed batches (wire version 2), whose sizes the room below is made from.
    let config = format!("[nats]\nurl = \"{url}\"\nmessage_rows = 10\ncompress = false\n");
    let mut hp = Honeypot::start(&[("udp", HP, 5060)], &config);
    let db = hp.dir.path().join("hp.db");
    // 21 requests and their answers: 42 rows, published as messages of 10, 10, 10, 10 and 2.
    assert_eq!(probe(HP, "127.0.242.75", 21, "a"), 21);
    status_until(&db, 30, "every row refused", |s| {
        !s["failing"].is_null() && s["kinds"][0]["newest"] == 42 && acked_events(s) == 0
    });
    // Room for the first message and the last (small) one, not for a second full one.
    let mut outbox = sipscope::sinks::open_outbox(&db).unwrap();
    let items = outbox.pending(sipscope::sinks::nats::wire::Kind::Event, 0, 100).unwrap();
    assert_eq!(items.len(), 42);
    let size = |rows: &[sipscope::sinks::nats::OutboxItem]| 5 + rows.iter().map(|i| 4 + i.payload.len()).sum::<usize>();
    let (first, second, last) = (size(&items[..10]), size(&items[10..20]), size(&items[40..]));
    // Per message the stream also keeps its subject, headers and a record's framing (< 150).
    let room = first + last + 2 * 150 + 100;
    assert!(first + second > room && second > last + 500, "sizes {first} {second} {last}");
    operator(&url, limited(-1, room as i64), false);
    let overtaken =
        status_until(&db, 60, "the small last message accepted", |s| acked_events(s) == 42 && s["waiting"] != 0);
    assert_eq!(overtaken["waiting"], 30, "the three refused messages wait as late rows: {overtaken}");

    operator(&url, limited(-1, -1), false);
    status_until(&db, 60, "the late rows published", |s| s["waiting"] == 0 && s["failing"].is_null());
    let (_, log) = hp.stop();
    assert!(log.contains("published again as late"), "{log}");
    let dir = tempfile::tempdir().unwrap();
    let central = dir.path().join("central.db");
    collect(&url, &central, &[]);
    assert_eq!(per_sensor(&central), vec![("test".to_owned(), 42)]);
}
