//! What needs no token: the dashboard's files (`dashboard::asset`), the OpenAPI document; and
//! `/metrics` (a token unless `--metrics-public`).

use crate::api::server::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The OpenAPI 3.1 document of this API.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

fn bytes(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut r = Response::new(axum::body::Body::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Shown at `/` until the dashboard's files are built in.
const PLACEHOLDER: &str = "<!doctype html><meta charset=utf-8><title>sipscope</title>\
<p>sipscope API: see <a href=/api/v1/openapi.json>/api/v1/openapi.json</a>.</p>\n";

pub(crate) async fn index() -> Response {
    match crate::api::dashboard::asset("index.html") {
        Some((body, content_type)) => bytes(content_type, body),
        None => bytes("text/html; charset=utf-8", PLACEHOLDER.as_bytes()),
    }
}

pub(crate) async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match crate::api::dashboard::asset(&path) {
        Some((body, content_type)) => bytes(content_type, body),
        None => crate::api::server::Failure::not_found("no such asset").into_response(),
    }
}

pub(crate) async fn openapi() -> Response {
    bytes("application/json", OPENAPI.as_bytes())
}

pub(crate) async fn metrics(axum::extract::State(_state): axum::extract::State<Arc<State>>) -> Response {
    let mut r = (StatusCode::OK, crate::metrics::render()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}
