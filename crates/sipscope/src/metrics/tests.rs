//! The exposition of the whole registry read back, what increments do to it, and the example
//! Grafana dashboard against it.

use super::exposition::parse;
use super::*;

#[test]
fn render_parses_and_declares_every_family_once() {
    let text = render();
    let p = parse(&text).unwrap();
    assert!(p.types.len() >= 15, "{:?}", p.types);
    for (name, _) in &p.types {
        assert!(p.helps.contains(name), "{name} has no HELP line");
        assert!(name.starts_with("sipscope_"), "{name}");
    }
    // Families with fixed labels show every series from the start, at zero or more.
    let in_series = p.samples.iter().filter(|s| s.name == "sipscope_messages_in_total").count();
    assert_eq!(in_series, Source::COUNT * Transport::COUNT);
    let buckets = p.samples.iter().filter(|s| s.name == "sipscope_store_commit_seconds_bucket").count();
    assert_eq!(buckets, Backend::COUNT * (LATENCY_BUCKETS.len() + 1));
    assert!(text.ends_with('\n'));
}

#[test]
fn increments_show_in_the_exposition() {
    let before = parse(&render()).unwrap();
    let get = |p: &exposition::Parsed, name: &str, labels: &[(&str, &str)]| p.sum(name, labels);
    message_in(Source::Collector, Transport::Sctp);
    message_in(Source::Collector, Transport::Sctp);
    events_out(Sink::Postgres, 5);
    answer_sent(699);
    answer_sent(42);
    anomaly(AnomalyClass::Sensor);
    observe_commit(Backend::Postgres, std::time::Duration::from_millis(30));
    set_publish_lag(Sink::Nats, f64::NAN);
    let after = parse(&render()).unwrap();
    let delta = |name: &str, labels: &[(&str, &str)]| get(&after, name, labels) - get(&before, name, labels);
    assert_eq!(delta("sipscope_messages_in_total", &[("source", "collector"), ("transport", "sctp")]), 2.0);
    assert_eq!(delta("sipscope_events_out_total", &[("sink", "postgres")]), 5.0);
    assert_eq!(delta("sipscope_answers_sent_total", &[("code", "699")]), 1.0);
    assert_eq!(delta("sipscope_answers_sent_total", &[("code", "other")]), 1.0);
    assert_eq!(delta("sipscope_anomalies_total", &[("class", "sensor")]), 1.0);
    let le_50ms = [("backend", "postgres"), ("le", "0.05")];
    assert_eq!(delta("sipscope_store_commit_seconds_bucket", &le_50ms), 1.0);
    let le_25ms = [("backend", "postgres"), ("le", "0.025")];
    assert_eq!(delta("sipscope_store_commit_seconds_bucket", &le_25ms), 0.0);
    assert_eq!(delta("sipscope_store_commit_seconds_count", &[("backend", "postgres")]), 1.0);
    assert_eq!(get(&after, "sipscope_publish_lag_seconds", &[("sink", "nats")]), 0.0, "NaN is not a lag");
}

#[test]
fn a_depth_tracker_adds_its_changes_and_takes_them_away_when_dropped() {
    let depth = || parse(&render()).unwrap().sum("sipscope_queue_depth", &[("queue", "nats_publish")]);
    let base = depth();
    let mut a = DepthTracker::new(Queue::NatsPublish);
    let mut b = DepthTracker::new(Queue::NatsPublish);
    a.set(3);
    b.set(4);
    a.set(1);
    assert_eq!(depth() - base, 5.0);
    drop(b);
    assert_eq!(depth() - base, 1.0);
    drop(a);
    assert_eq!(depth() - base, 0.0);
}

#[test]
fn label_values_are_bounded_names() {
    let p = parse(&render()).unwrap();
    for s in &p.samples {
        for (k, v) in &s.labels {
            let ok = v.chars().all(|c| c.is_ascii_alphanumeric() || "_-.+".contains(c)) && !v.is_empty();
            assert!(ok, "{}: {k}={v:?}", s.name);
        }
    }
}

/// Every metric the example dashboard queries exists in the exposition, and the file is JSON
/// with panels.
#[test]
fn the_grafana_dashboard_uses_only_metrics_that_exist() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/sipscope.json");
    let text = std::fs::read_to_string(path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    let families: Vec<String> = parse(&render()).unwrap().types.into_iter().map(|(n, _)| n).collect();
    let mut referenced = 0;
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names(expr) {
                referenced += 1;
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| families.iter().any(|x| x == f)))
                    .unwrap_or(&name);
                assert!(families.iter().any(|f| f == family), "{name} in {expr:?} is not exposed");
            }
        }
    }
    assert!(referenced >= 10);
}

fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("sipscope_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}
