//! `/api/v1/report` and `/api/v1/report/{section}`: the report `sipscope report --format json`
//! prints, built by `reports::` from the same reader, kept between requests and rebuilt in the
//! background when older than a few seconds (`api/cache.rs`).

use crate::api::cache::Lookup;
use crate::api::server::{Failure, State};
use crate::reports::{self, render, sections, HilbertChoice};
use crate::store::Filter;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// The JSON of the `section` (the whole report when `None`) for `filter`.
async fn build(state: &Arc<State>, filter: Filter, section: Option<String>) -> Result<String, Failure> {
    let geo = Arc::clone(&state.backend.geo);
    state
        .read(move |store| {
            let inputs = reports::Inputs {
                store,
                filter: &filter,
                geo: &geo,
                comparison: None,
                nodes: None,
                report_time_nodes: None,
                hilbert: HilbertChoice::default(),
            };
            let names: Vec<String> = section.iter().cloned().collect();
            let report = reports::build(&inputs, &names).map_err(|e| match e {
                reports::ReportError::UnknownSection(..) => Failure::not_found("no such section"),
                reports::ReportError::Store(e) => e.into(),
            })?;
            match section {
                None => Ok(render::json(&report)),
                Some(_) => {
                    let s = report.sections.first().ok_or_else(|| Failure::not_found("no such section"))?;
                    let json = serde_json::to_string_pretty(s).map_err(Failure::internal)?;
                    Ok(crate::output::json::inert(json))
                }
            }
        })
        .await
}

/// The answer for `section` and `filter`: kept, or built now (the first time), or kept and
/// rebuilt in the background (when stale).
pub(crate) async fn cached(
    state: &Arc<State>,
    filter: Filter,
    section: Option<String>,
) -> Result<Arc<String>, Failure> {
    let key =
        format!("{}|{:?}|{:?}|{:?}", section.as_deref().unwrap_or("*"), filter.from_ns, filter.to_ns, filter.nodes);
    match state.reports.get(&key) {
        Lookup::Fresh(body) => Ok(body),
        Lookup::Stale(body) => {
            let state = Arc::clone(state);
            tokio::spawn(async move {
                match build(&state, filter, section).await {
                    Ok(fresh) => state.reports.put(key, Arc::new(fresh)),
                    Err(_) => state.reports.failed(&key),
                }
            });
            Ok(body)
        }
        Lookup::Missing => {
            let body = Arc::new(build(state, filter, section).await?);
            state.reports.put(key, Arc::clone(&body));
            Ok(body)
        }
    }
}

fn json(body: &str) -> Response {
    let mut r = Response::new(axum::body::Body::from(body.to_owned()));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    r
}

pub(crate) async fn whole(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let filter = super::params(&q)?.filter()?;
    Ok(json(&cached(&state, filter, None).await?))
}

pub(crate) async fn section(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    if !sections::ALL.iter().any(|(name, _)| *name == id) {
        return Err(Failure::not_found("no such section"));
    }
    let filter = super::params(&q)?.filter()?;
    Ok(json(&cached(&state, filter, Some(id)).await?))
}
