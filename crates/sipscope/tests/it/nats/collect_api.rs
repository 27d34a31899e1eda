//! `sipscope collect --api`: the REST API over the collector's store while it collects, its
//! live stream fed by the collector's pipeline. A sensor's events published before the start
//! are all served by `/api/v1/events`; the report is `sipscope report`'s over the same store;
//! alerts come with their evidence; a second sensor's events published while a client
//! watches arrive on the live stream. The API listens on 127.0.242.60.

use super::broker::Broker;
use super::{ok, per_sensor, sipscope};
use crate::api::{get_json, launch};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn collect_serves_the_api_over_its_store_with_a_live_stream() {
    let Some(broker) = Broker::start(14226, &[]) else { return };
    let url = broker.url();
    let dir = tempfile::tempdir().unwrap();
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rules/tools.pcap");
    let first = dir.path().join("a1.db");
    ok(sipscope(&["ingest", "--db", first.to_str().unwrap(), "--sensor", "a1", "--nats", &url, pcap]));
    let expected: i64 = per_sensor(&first).iter().map(|(_, n)| n).sum();
    assert!(expected > 0);

    let args = ["collect", "--nats", &url, "--db", "central.db", "--sensor", "central", "--api", "127.0.242.60:0"];
    let server = launch(dir, &args);
    let central = server.dir.path().join("central.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let page = get_json(&server, "/api/v1/events?limit=1000");
        let events = page["events"].as_array().unwrap().clone();
        if events.len() as i64 >= expected || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(events.len() as i64, expected, "every published event is served");
    assert!(events.iter().all(|e| e["sensor"] == "a1"), "under the sensor that published it");

    // The report is `sipscope report`'s over the collector's store (the API keeps a built
    // report for 10 s and then rebuilds it: asked again until it caught up).
    let cli = ok(sipscope(&["report", "--format", "json", "--db", central.to_str().unwrap()]));
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let api = loop {
        let api = get_json(&server, "/api/v1/report");
        if api["sections"]["summary"] == cli["sections"]["summary"] || Instant::now() > deadline {
            break api;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(api["sections"]["summary"], cli["sections"]["summary"]);
    assert_eq!(api["sections"]["stages"], cli["sections"]["stages"]);

    // Alerts the collector's rules raised, each with its evidence and the events it names.
    let alerts = get_json(&server, "/api/v1/alerts?evidence_events=1&raw=1");
    let alerts = alerts["items"].as_array().unwrap();
    assert!(!alerts.is_empty(), "the tools' capture raises alerts");
    for a in alerts {
        let evidence = a["sipscope"]["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty(), "{a}");
        for e in evidence {
            let id = e["event_id"].as_i64().expect("the collector stores every event");
            assert_eq!(e["event"]["id"].as_i64(), Some(id), "{e}");
            assert!(e["event"]["raw"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
            assert_eq!(e["event"]["src"], e["src_ip"], "{e}");
        }
    }

    // A client watches the live stream while a second sensor publishes.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    write!(stream, "GET /api/v1/live?token={} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", server.token)
        .unwrap();
    let mut live = BufReader::new(stream);
    let second = server.dir.path().join("a2.db");
    ok(sipscope(&["ingest", "--db", second.to_str().unwrap(), "--sensor", "a2", "--nats", &url, pcap]));
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut seen, mut current) = (String::new(), String::new());
    let pushed = loop {
        assert!(Instant::now() < deadline, "no event of sensor a2 on the live stream: {seen}");
        let mut line = String::new();
        match live.read_line(&mut line) {
            Ok(0) => panic!("the stream ended: {seen}"),
            Ok(_) => {
                seen.push_str(&line);
                if let Some(n) = line.trim().strip_prefix("event: ") {
                    current = n.to_owned();
                } else if let Some(data) = line.trim().strip_prefix("data: ") {
                    if current == "sip" && data.contains("\"a2\"") {
                        break data.to_owned();
                    }
                }
            }
            Err(_) => {}
        }
    };
    let pushed: serde_json::Value = serde_json::from_str(&pushed).unwrap();
    assert_eq!(pushed["sensor"], "a2", "{pushed}");
}
