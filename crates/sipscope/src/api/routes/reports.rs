//! `/api/v1/report` and `/api/v1/report/{section}`: the report `sipscope report --format json`
//! prints, built by `reports::` from the same reader.

use crate::api::server::{Failure, State};
use crate::reports::{self, render, sections, HilbertChoice};
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// Builds the `names` sections (all when empty) for the request's filter.
async fn build(state: &Arc<State>, q: &RawQuery, names: Vec<String>) -> Result<reports::model::Report, Failure> {
    let filter = super::params(q)?.filter()?;
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
            reports::build(&inputs, &names).map_err(|e| match e {
                reports::ReportError::UnknownSection(..) => Failure::not_found("no such section"),
                reports::ReportError::Store(e) => e.into(),
            })
        })
        .await
}

fn json(body: String) -> Response {
    crate::api::shape::json_response(StatusCode::OK, body.into_bytes())
}

pub(crate) async fn whole(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    q: RawQuery,
) -> Result<Response, Failure> {
    Ok(json(render::json(&build(&state, &q, Vec::new()).await?)))
}

pub(crate) async fn section(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    if !sections::ALL.iter().any(|(name, _)| *name == id) {
        return Err(Failure::not_found("no such section"));
    }
    let report = build(&state, &q, vec![id]).await?;
    let section = report.sections.first().ok_or_else(|| Failure::not_found("no such section"))?;
    Ok(json(serde_json::to_string_pretty(section).map_err(Failure::internal)?))
}
