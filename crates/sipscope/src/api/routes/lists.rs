//! `/api/v1/numbers`, `/passwords`, `/tools`, `/campaigns`, `/alerts`: `{"items": […]}`
//! lists over the request's range and nodes, from the same reader questions as the report.
//! Alerts carry their evidence (the messages that matched, with their stored events' ids;
//! the events themselves with `evidence_events=1`).

use crate::api::server::{Failure, State};
use crate::api::shape::{self, int, opt_text, text, time};
use crate::output::json::JsonWriter;
use crate::store::{AlertQuery, EventQuery, EventRecord};
use axum::extract::RawQuery;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 10_000;

fn items(write: impl FnOnce(&mut JsonWriter)) -> Response {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("items");
    w.begin_array();
    write(&mut w);
    w.end_array();
    w.end_object();
    shape::ok(w)
}

pub(crate) async fn numbers(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let (f, limit) = (p.filter()?, p.limit(DEFAULT_LIMIT, MAX_LIMIT)?);
    let rows = state.read(move |store| Ok(store.top_numbers(&f, limit)?)).await?;
    Ok(items(|w| {
        for n in &rows {
            w.begin_object();
            text(w, "number", &n.number);
            opt_text(w, "country", n.country.as_deref());
            w.key("country_inferred");
            w.boolean(n.country_inferred);
            text(w, "type", &n.number_type);
            int(w, "attempts", n.attempts);
            int(w, "invites", n.invites);
            int(w, "variants", n.variants);
            int(w, "sources", n.sources);
            w.key("spellings");
            w.begin_array();
            for s in &n.variant_samples {
                w.bytes(s.as_bytes());
            }
            w.end_array();
            w.end_object();
        }
    }))
}

pub(crate) async fn passwords(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let (f, limit) = (p.filter()?, p.limit(DEFAULT_LIMIT, MAX_LIMIT)?);
    let rows = state.read(move |store| Ok(store.top_passwords(&f, limit)?)).await?;
    Ok(items(|w| {
        for r in &rows {
            w.begin_object();
            text(w, "password", &r.password);
            int(w, "attempts", r.attempts);
            int(w, "extensions", r.extensions);
            int(w, "sources", r.sources);
            int(w, "accepted", r.accepted);
            w.end_object();
        }
    }))
}

pub(crate) async fn tools(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let (f, limit) = (p.filter()?, p.limit(DEFAULT_LIMIT, MAX_LIMIT)?);
    let rows = state.read(move |store| Ok(store.tool_flows(&f)?)).await?;
    Ok(items(|w| {
        for r in rows.iter().take(limit as usize) {
            w.begin_object();
            opt_text(w, "tool", r.tool.as_deref());
            opt_text(w, "variant", r.variant.as_deref());
            text(w, "verdict", &r.verdict);
            time(w, "first_seen", Some(r.first_ns));
            int(w, "packets", r.packets);
            int(w, "sources", r.sources);
            int(w, "flows", r.flows);
            opt_text(w, "strategy", r.strategy.as_deref());
            w.end_object();
        }
    }))
}

/// Campaigns are clustered when asked (HDBSCAN over daily activity): the report section's
/// table (kept like the report's), one object per row keyed by its columns.
pub(crate) async fn campaigns(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let f = super::params(&q)?.filter()?;
    let body = super::reports::cached(&state, f, Some("campaigns".to_owned())).await?;
    let section: serde_json::Value = serde_json::from_str(&body.body).map_err(Failure::internal)?;
    let table = &section["tables"][0];
    let columns: Vec<String> =
        table["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_owned)).collect();
    Ok(items(|w| {
        for row in table["rows"].as_array().into_iter().flatten() {
            let object: serde_json::Map<String, serde_json::Value> =
                columns.iter().zip(row.as_array().into_iter().flatten()).map(|(c, v)| (c.clone(), v.clone())).collect();
            w.value(&serde_json::Value::Object(object).to_string());
        }
    }))
}

pub(crate) async fn alerts(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let query = AlertQuery {
        filter: p.filter()?,
        source: p.address("source")?,
        after_id: None,
        limit: p.limit(DEFAULT_LIMIT, MAX_LIMIT)?,
    };
    let (with_events, raw) = (p.flag("evidence_events")?, p.flag("raw")?);
    let (rows, evidence, events) = state
        .read(move |store| {
            let alerts = store.alerts(&query)?;
            let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
            let evidence = store.alert_evidence(&ids)?;
            let events = if with_events {
                let ids: Vec<i64> = evidence.iter().filter_map(|e| e.event_id).collect();
                let q =
                    EventQuery { limit: u32::try_from(ids.len()).unwrap_or(u32::MAX), ids, raw, ..Default::default() };
                if q.ids.is_empty() {
                    Vec::new()
                } else {
                    store.events(&q)?
                }
            } else {
                Vec::new()
            };
            Ok((alerts, evidence, events))
        })
        .await?;
    let events: HashMap<i64, &EventRecord> = events.iter().map(|e| (e.id, e)).collect();
    let mut by_alert: HashMap<i64, Vec<shape::Evidence<'_>>> = HashMap::new();
    for row in &evidence {
        let event = row.event_id.and_then(|id| events.get(&id).copied());
        by_alert.entry(row.alert_id).or_default().push(shape::Evidence { row, event });
    }
    Ok(items(|w| {
        for a in &rows {
            shape::alert_with(w, a, Some(by_alert.get(&a.id).map_or(&[][..], Vec::as_slice)));
        }
    }))
}
