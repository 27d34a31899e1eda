//! SentryPeer's REST API shapes (its `http_*_route.c`): `GET /ip-addresses`
//! → `{"ip_addresses_total": N, "ip_addresses": [{"ip_address": …}]}`, `GET
//! /ip-addresses/{ip}` → `{"bad_actor_found": ip}`, `GET /numbers/{n}` →
//! `{"phone_number_found": n}`, and its 404 bodies (`{"message": "No bad actor found"}` …), so
//! its clients work unchanged. `/numbers/{n}` matches across dialling prefixes (`0046…`,
//! `+46…`, `9011 46…` are one number), which SentryPeer does not.

use crate::api::server::{Failure, State};
use crate::api::shape;
use crate::output::json::JsonWriter;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

fn message(status: StatusCode, text: &str) -> Response {
    let mut w = JsonWriter::new();
    w.begin_object();
    shape::text(&mut w, "message", text);
    w.end_object();
    shape::json_response(status, w.take())
}

fn one(key: &str, value: &str) -> Response {
    let mut w = JsonWriter::new();
    w.begin_object();
    shape::text(&mut w, key, value);
    w.end_object();
    shape::ok(w)
}

pub(crate) async fn ip_addresses(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let (f, limit) = (p.filter()?, p.limit(100_000, 1_000_000)?);
    let rows = state.read(move |store| Ok(store.top_sources(&f, limit)?)).await?;
    if rows.is_empty() {
        return Ok(message(StatusCode::NOT_FOUND, "No bad actors found"));
    }
    let mut w = JsonWriter::new();
    w.begin_object();
    shape::int(&mut w, "ip_addresses_total", rows.len() as i64);
    w.key("ip_addresses");
    w.begin_array();
    for r in &rows {
        w.begin_object();
        shape::text(&mut w, "ip_address", &r.source);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    Ok(shape::ok(w))
}

pub(crate) async fn ip_address(
    axum::extract::State(state): S,
    Path(ip): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let f = super::params(&q)?.filter()?;
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return Ok(message(StatusCode::NOT_FOUND, "No bad actor found"));
    };
    let source = ip.to_string();
    let known = state.read(move |store| Ok(store.source_profile(&f, &source, 1)?.first_ns.is_some())).await?;
    Ok(if known {
        one("bad_actor_found", &ip.to_string())
    } else {
        message(StatusCode::NOT_FOUND, "No bad actor found")
    })
}

pub(crate) async fn number(
    axum::extract::State(state): S,
    Path(number): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let f = super::params(&q)?.filter()?;
    if number.len() > 128 {
        return Ok(message(StatusCode::NOT_FOUND, "No phone number found"));
    }
    let found = state.read(move |store| Ok(super::events::spellings(store, &f, &number)?.0)).await?;
    Ok(match found {
        Some(n) => one("phone_number_found", &n),
        None => message(StatusCode::NOT_FOUND, "No phone number found"),
    })
}
