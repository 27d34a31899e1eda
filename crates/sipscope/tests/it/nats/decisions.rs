//! A ban decided at the collector (an operator's, in the collector's store) is shared through
//! the KV bucket and recorded as in force by a honeypot that watches it; one that reaches the
//! honeypot's allowlist is not applied there.

use super::broker::Broker;
use super::{collect, ok, sipscope};
use crate::honeypot::harness::Honeypot;
use std::time::{Duration, Instant};

#[test]
fn a_ban_decided_at_the_collector_is_in_force_on_a_watching_sensor_unless_allowlisted() {
    let Some(broker) = Broker::start(14224, &[]) else { return };
    let url = broker.url();
    let config = format!(
        "[rules]\nenabled = true\n[decisions]\nenabled = true\nallowlist = [\"203.0.113.0/24\"]\n\
         [nats]\nurl = \"{url}\"\nwatch_decisions = true\n"
    );
    let mut hp = Honeypot::start(&[("udp", "127.0.242.2", 5060)], &config);
    let dir = tempfile::tempdir().unwrap();
    let central = dir.path().join("central.db");
    let db = central.to_str().unwrap();
    for scope in ["198.51.100.7", "203.0.113.9"] {
        ok(sipscope(&[
            "decisions",
            "--db",
            db,
            "add",
            scope,
            "--duration",
            "1h",
            "--reason",
            "seen at sensor 1",
            "--who",
            "ops",
        ]));
    }
    let summary = collect(&url, &central, &["--share-decisions"]);
    assert_eq!(summary["decisions_shared"], 2);
    let in_force = |scope: &str| {
        hp.count(&format!("SELECT count(*) FROM decisions WHERE address = '{scope}' AND deleted_ns IS NULL"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while in_force("198.51.100.7") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let list = ok(sipscope(&["decisions", "--db", hp.dir.path().join("hp.db").to_str().unwrap(), "list"]));
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(list.contains("198.51.100.7") && list.contains("shared by central"), "{list}");
    assert_eq!(in_force("203.0.113.9"), 0, "the allowlist is the sensor's own");
    // Restarted, the sensor does not take the same decision twice.
    hp.stop();
    let mut hp = Honeypot::start_again(
        std::mem::replace(&mut hp.dir, tempfile::tempdir().unwrap()),
        &[("udp", "127.0.242.2", 5060)],
        &config,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hp.count("SELECT count(*) FROM decisions WHERE address = '198.51.100.7'"), 1);
    hp.stop();
}
