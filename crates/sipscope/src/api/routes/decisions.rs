//! `/api/v1/decisions`: list (in force, or `all=1`), add (201, the token's name as who, the
//! body's reason as why) and delete (recorded, never erased) through the store's
//! [`DecisionLog`](crate::sinks::decisions::DecisionLog), as `sipscope decisions` does: a
//! running sensor picks the change up within a second. The same safety rules as the command:
//! never this host, loopback, or a network wider than /8 (/16 for IPv6).

use crate::act::policy::{DecisionsConfig, Policy};
use crate::act::{Decision, DecisionKind, DecisionOrigin, Scope};
use crate::api::guard::Caller;
use crate::api::server::{Failure, State};
use crate::api::shape;
use crate::output::json::JsonWriter;
use crate::sinks::decisions::Deletion;
use crate::time::{now_ns, SECOND_NS};
use axum::extract::{Extension, Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

/// The longest decision the API takes: a year.
const MAX_DURATION_S: u64 = 365 * 86_400;
/// The longest reason kept.
const MAX_REASON: usize = 1024;

pub(crate) async fn list(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let (all, f, limit) = (p.flag("all")?, p.filter()?, p.limit(1000, 100_000)?);
    let rows = state
        .read(move |store| {
            let rows = if all { store.decisions(&f, limit)? } else { store.decisions_in_force(now_ns())? };
            Ok(rows)
        })
        .await?;
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("items");
    w.begin_array();
    for r in &rows {
        w.value(&crate::sinks::eve::shape::decision_json(&r.decision));
    }
    w.end_array();
    w.end_object();
    Ok(shape::ok(w))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDecision {
    scope: String,
    action: String,
    duration_seconds: serde_json::Number,
    reason: String,
    #[serde(default)]
    per_second: Option<serde_json::Number>,
}

/// A JSON integer in `range` (`60.0` is the integer 60, as JSON Schema has it).
fn integer(n: &serde_json::Number, range: std::ops::RangeInclusive<u64>, what: &str) -> Result<u64, Failure> {
    let value =
        n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 1e15).map(|f| f as u64));
    value
        .filter(|v| range.contains(v))
        .ok_or_else(|| Failure::bad_request(format!("{what}: an integer from {} to {}", range.start(), range.end())))
}

/// Refuses what no operator may decide through the API.
fn refuse_unsafe(scope: &Scope, own: &[std::net::IpAddr]) -> Result<(), Failure> {
    let policy = Policy::new(DecisionsConfig::default(), own, &[]).map_err(Failure::internal)?;
    if policy.protection(scope, true).is_some() {
        return Err(Failure::new(StatusCode::UNPROCESSABLE_ENTITY, "the scope reaches this host or loopback"));
    }
    let widest = if scope.address().is_ipv4() { 8 } else { 16 };
    if scope.as_prefix().len < widest {
        return Err(Failure::new(StatusCode::UNPROCESSABLE_ENTITY, format!("the scope is wider than /{widest}")));
    }
    Ok(())
}

fn decision(body: &[u8], who: &str, own: &[std::net::IpAddr], now: i64) -> Result<Decision, Failure> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Failure::bad_request(format!("body: {e}")))?;
    if value.get("per_second").is_some_and(serde_json::Value::is_null) {
        return Err(Failure::bad_request("per_second: an integer (or absent)"));
    }
    let d: NewDecision = serde_json::from_value(value).map_err(|e| Failure::bad_request(format!("body: {e}")))?;
    let scope: Scope =
        d.scope.parse().map_err(|_| Failure::bad_request("scope: an address, address:port or prefix"))?;
    refuse_unsafe(&scope, own)?;
    let kind = match d.action.as_str() {
        "ban" => DecisionKind::Ban,
        "watch" => DecisionKind::Watch,
        "rate_limit" => DecisionKind::RateLimit { per_second: 10 },
        _ => return Err(Failure::bad_request("action: ban, rate_limit or watch")),
    };
    let per_second = d.per_second.as_ref().map(|n| integer(n, 1..=u64::from(u32::MAX), "per_second")).transpose()?;
    let kind = match (kind, per_second) {
        (DecisionKind::RateLimit { .. }, Some(n)) => DecisionKind::RateLimit { per_second: n as u32 },
        (kind, _) => kind,
    };
    let duration_seconds = integer(&d.duration_seconds, 1..=MAX_DURATION_S, "duration_seconds")?;
    let length = d.reason.chars().count();
    if length == 0 || length > MAX_REASON {
        return Err(Failure::bad_request(format!("reason: 1 to {MAX_REASON} characters")));
    }
    Ok(Decision {
        id: None,
        kind,
        scope,
        start_ns: now,
        until_ns: now.saturating_add(duration_seconds as i64 * SECOND_NS),
        reason: d.reason,
        origin: DecisionOrigin::Operator { who: who.to_owned() },
        offence: 0,
        proven: true,
        evidence: Vec::new(),
    })
}

/// Runs `f` with the decision log on a blocking thread.
async fn with_log<T: Send + 'static>(
    state: &Arc<State>,
    f: impl FnOnce(&mut dyn crate::sinks::decisions::DecisionLog) -> Result<T, crate::sinks::SinkError> + Send + 'static,
) -> Result<T, Failure> {
    let open = Arc::clone(&state.backend.decisions);
    tokio::task::spawn_blocking(move || {
        let mut log = open()?;
        f(log.as_mut())
    })
    .await
    .map_err(Failure::internal)?
    .map_err(Failure::internal)
}

pub(crate) async fn add(
    axum::extract::State(state): S,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    let now = now_ns();
    let mut d = decision(&body, &caller.name, &state.backend.own_addresses, now)?;
    let stored = d.clone();
    let id = with_log(&state, move |log| log.insert(&stored, None, now)).await?;
    d.id = Some(id);
    let json = crate::sinks::eve::shape::decision_json(&d);
    if state.push_decisions {
        state.hub.send("decision", json.clone());
    }
    Ok(shape::json_response(StatusCode::CREATED, json.into_bytes()))
}

pub(crate) async fn remove(
    axum::extract::State(state): S,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let id: i64 = id.parse().map_err(|_| Failure::bad_request("a decision's id"))?;
    let p = super::params(&q)?;
    let why = p.one("reason").unwrap_or("deleted through the API").chars().take(MAX_REASON).collect();
    let deletion = Deletion { at_ns: now_ns(), who: caller.name, why };
    if with_log(&state, move |log| log.delete_id(id, &deletion)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Failure::not_found("no such decision in force"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_before_anything_is_written() {
        let own = ["198.51.100.1".parse().unwrap()];
        let ok = br#"{"scope":"203.0.113.7","action":"ban","duration_seconds":60,"reason":"x"}"#;
        let d = decision(ok, "alice", &own, 0).unwrap();
        assert_eq!((d.kind, d.until_ns), (DecisionKind::Ban, 60 * SECOND_NS));
        assert_eq!(d.origin, DecisionOrigin::Operator { who: "alice".into() });
        let float =
            br#"{"scope":"203.0.113.7","action":"rate_limit","per_second":5.0,"duration_seconds":60.0,"reason":"x"}"#;
        assert_eq!(decision(float, "a", &own, 0).unwrap().kind, DecisionKind::RateLimit { per_second: 5 });
        for bad in [
            &br#"{"scope":"127.0.0.1","action":"ban","duration_seconds":60,"reason":"x"}"#[..],
            br#"{"scope":"198.51.100.1","action":"ban","duration_seconds":60,"reason":"x"}"#,
            br#"{"scope":"10.0.0.0/7","action":"ban","duration_seconds":60,"reason":"x"}"#,
            br#"{"scope":"203.0.113.7","action":"nuke","duration_seconds":60,"reason":"x"}"#,
            br#"{"scope":"203.0.113.7","action":"ban","duration_seconds":0,"reason":"x"}"#,
            br#"{"scope":"203.0.113.7","action":"ban","duration_seconds":60,"reason":""}"#,
            br#"{"scope":"203.0.113.7","action":"rate_limit","per_second":0,"duration_seconds":60,"reason":"x"}"#,
            br#"{"scope":"203.0.113.7","action":"ban","duration_seconds":1.5,"reason":"x"}"#,
            br#"{"scope":"203.0.113.7","action":"ban","duration_seconds":60,"reason":"x","extra":1}"#,
            b"not json",
        ] {
            assert!(decision(bad, "alice", &own, 0).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
