//! The API's JSON: events, alerts, source pages, lists. Every string goes through
//! [`JsonWriter`] (attacker bytes as lossless text, controls escaped) and every body through
//! [`inert`] (bidirectional overrides and C1 controls escaped too), so what an attacker sent
//! can be shown by any client without acting on it. Decisions and live alerts use the
//! EVE-like objects of `sinks/eve/shape.rs`, the same the webhook sends.

use crate::event::fields::SipFields;
use crate::event::SipEvent;
use crate::output::json::{inert, JsonWriter};
use crate::store::{AlertEvidence, EventRecord, NamedCount, StoredAlert};
use crate::time::rfc3339_nanos;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let body = inert(String::from_utf8_lossy(&body).into_owned());
    let mut r = Response::new(axum::body::Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A 200 JSON response of a finished writer.
pub(crate) fn ok(mut w: JsonWriter) -> Response {
    json_response(StatusCode::OK, w.take())
}

pub(crate) fn text(w: &mut JsonWriter, key: &str, value: &str) {
    w.key(key);
    w.bytes(value.as_bytes());
}

pub(crate) fn opt_text(w: &mut JsonWriter, key: &str, value: Option<&str>) {
    w.key(key);
    w.opt_bytes(value.map(str::as_bytes));
}

pub(crate) fn int(w: &mut JsonWriter, key: &str, value: i64) {
    w.key(key);
    w.int(value);
}

pub(crate) fn time(w: &mut JsonWriter, key: &str, ts_ns: Option<i64>) {
    w.key(key);
    match ts_ns {
        Some(t) => w.bytes(rfc3339_nanos(t).as_bytes()),
        None => w.null(),
    }
}

/// An event the pipeline built, as the API shows it (no store id yet: 0; no tool: that is
/// the analysis' once its flow ends).
pub(crate) fn record_of(event: &SipEvent, fields: &SipFields) -> EventRecord {
    EventRecord {
        id: 0,
        ts_ns: event.ts_ns,
        sensor: event.sensor.clone(),
        node: event.node.clone(),
        transport: event.transport.as_str().to_owned(),
        src: (event.src.0.to_string(), i64::from(event.src.1)),
        dst: (event.dst.0.to_string(), i64::from(event.dst.1)),
        direction: event.direction.as_str().to_owned(),
        kind: fields.kind.as_str().to_owned(),
        method: fields.method.as_deref().map(str::to_owned),
        status: fields.status.map(i64::from),
        call_id: fields.call_id.as_deref().map(str::to_owned),
        from_user: fields.from.0.as_deref().map(str::to_owned),
        to_user: fields.to.0.as_deref().map(str::to_owned),
        ruri_user: fields.ruri_user.as_deref().map(str::to_owned),
        user_agent: fields.user_agent.as_deref().map(str::to_owned),
        tool: None,
        anomalies: fields.anomalies.clone(),
        raw: None,
    }
}

/// One event object.
pub(crate) fn event(w: &mut JsonWriter, e: &EventRecord) {
    w.begin_object();
    w.key("id");
    if e.id > 0 {
        w.int(e.id);
    } else {
        w.null();
    }
    time(w, "time", Some(e.ts_ns));
    text(w, "sensor", &e.sensor);
    opt_text(w, "node", e.node.as_deref());
    text(w, "transport", &e.transport);
    text(w, "src", &e.src.0);
    int(w, "src_port", e.src.1);
    text(w, "dst", &e.dst.0);
    int(w, "dst_port", e.dst.1);
    text(w, "direction", &e.direction);
    text(w, "kind", &e.kind);
    opt_text(w, "method", e.method.as_deref());
    w.key("status");
    match e.status {
        Some(s) => w.int(s),
        None => w.null(),
    }
    opt_text(w, "call_id", e.call_id.as_deref());
    opt_text(w, "from_user", e.from_user.as_deref());
    opt_text(w, "to_user", e.to_user.as_deref());
    opt_text(w, "ruri_user", e.ruri_user.as_deref());
    opt_text(w, "user_agent", e.user_agent.as_deref());
    opt_text(w, "tool", e.tool.as_deref());
    w.key("anomalies");
    w.begin_array();
    for a in e.anomalies.split_whitespace() {
        w.bytes(a.as_bytes());
    }
    w.end_array();
    if let Some(raw) = &e.raw {
        w.key("raw");
        w.bytes(raw);
    }
    w.end_object();
}

/// A stored alert as the EVE-like object the alert outputs write (`sinks/eve/shape.rs`),
/// with its store id in `sipscope.id` (evidence is not repeated here).
pub(crate) fn alert(w: &mut JsonWriter, a: &StoredAlert) {
    alert_with(w, a, None);
}

/// One piece of an alert's evidence, with its stored event when it was asked for and found.
pub(crate) struct Evidence<'a> {
    pub row: &'a AlertEvidence,
    pub event: Option<&'a EventRecord>,
}

/// An alert, and under `sipscope.evidence` the messages that are its evidence when given.
pub(crate) fn alert_with(w: &mut JsonWriter, a: &StoredAlert, evidence: Option<&[Evidence<'_>]>) {
    w.begin_object();
    text(w, "timestamp", &crate::time::rfc3339_micros(a.last_ns));
    text(w, "event_type", "alert");
    text(w, "host", &a.sensor);
    for (prefix, at) in [("src", &a.src), ("dest", &a.dst)] {
        if let Some((ip, port)) = at {
            text(w, &format!("{prefix}_ip"), ip);
            int(w, &format!("{prefix}_port"), *port);
        }
    }
    if let Some(t) = &a.transport {
        text(
            w,
            "proto",
            if t == "udp" {
                "UDP"
            } else if t == "sctp" {
                "SCTP"
            } else {
                "TCP"
            },
        );
    }
    text(w, "app_proto", "sip");
    w.key("alert");
    w.begin_object();
    text(w, "action", "allowed");
    int(w, "signature_id", a.signature_id);
    text(w, "signature", &a.name);
    let severity = a.severity.parse::<crate::act::Severity>().map_or(3, |s| i64::from(s.eve_number()));
    int(w, "severity", severity);
    w.key("metadata");
    w.begin_object();
    for (key, values) in
        [("rule_id", std::slice::from_ref(&a.rule_id)), ("severity", std::slice::from_ref(&a.severity))]
    {
        w.key(key);
        w.begin_array();
        w.bytes(values.first().map_or(&b""[..], |v| v.as_bytes()));
        w.end_array();
    }
    w.key("labels");
    w.begin_array();
    for l in &a.labels {
        w.bytes(l.as_bytes());
    }
    w.end_array();
    w.end_object();
    w.end_object();
    w.key("sip");
    w.begin_object();
    for (key, value) in [
        ("method", &a.method),
        ("user_agent", &a.user_agent),
        ("from_user", &a.from_user),
        ("to_user", &a.to_user),
        ("ruri_user", &a.ruri_user),
        ("call_id", &a.call_id),
    ] {
        if let Some(v) = value {
            text(w, key, v);
        }
    }
    if let Some(s) = a.status {
        int(w, "status", s);
    }
    w.end_object();
    w.key("sipscope");
    w.begin_object();
    int(w, "id", a.id);
    text(w, "rule_id", &a.rule_id);
    text(w, "group", &a.group);
    int(w, "count", a.count);
    w.key("proven");
    w.boolean(a.proven);
    text(w, "first", &crate::time::rfc3339_micros(a.first_ns));
    text(w, "last", &crate::time::rfc3339_micros(a.last_ns));
    if let Some(node) = &a.node {
        text(w, "node", node);
    }
    if let Some(t) = &a.transport {
        text(w, "transport", t);
    }
    if let Some(evidence) = evidence {
        w.key("evidence");
        w.begin_array();
        for e in evidence {
            w.begin_object();
            int(w, "position", e.row.position);
            text(w, "time", &rfc3339_nanos(e.row.ts_ns));
            text(w, "src_ip", &e.row.src.0);
            int(w, "src_port", e.row.src.1);
            text(w, "dest_ip", &e.row.dst.0);
            int(w, "dest_port", e.row.dst.1);
            w.key("event_id");
            match e.row.event_id {
                Some(id) => w.int(id),
                None => w.null(),
            }
            if let Some(event) = e.event {
                w.key("event");
                self::event(w, event);
            }
            w.end_object();
        }
        w.end_array();
    }
    w.end_object();
    w.end_object();
}

/// `[{"name": …, "count": …}, …]`.
pub(crate) fn counts(w: &mut JsonWriter, key: &str, items: &[NamedCount]) {
    w.key(key);
    w.begin_array();
    for c in items {
        w.begin_object();
        opt_text(w, "name", c.name.as_deref());
        int(w, "count", c.count);
        w.end_object();
    }
    w.end_array();
}
