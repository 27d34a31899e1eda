//! A handler that panics must not take its connection down with it: the client would see a
//! reset and learn nothing, and a keep-alive client would lose its other requests. This layer
//! catches the panic while the handler's future is polled, answers 500 with the usual JSON
//! error, logs it (the first and then at powers of two: a request that panics can be sent in
//! a loop) and counts it (`sipscope_api_trouble_total{reason="handler_panic"}`). Store reads
//! run on blocking threads whose panics already come back as errors (`State::read`).

use super::server::Failure;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs the rest of the stack; a panic in it becomes a 500 answer.
pub(crate) async fn catch_panics(req: Request, next: Next) -> Response {
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            static PANICS: AtomicU64 = AtomicU64::new(0);
            crate::metrics::api_trouble(crate::metrics::ApiTrouble::HandlerPanic);
            let n = PANICS.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                // The payload is our own code's message, never request text; still escaped.
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let what = crate::output::escape::terminal(&what, 200);
                tracing::error!("API: a handler panicked ({what}); answered 500 ({n} such so far)");
            }
            Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "the server failed to answer this request").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower_service::Service;

    fn trouble() -> f64 {
        let text = crate::metrics::render();
        let parsed = crate::metrics::exposition::parse(&text).unwrap();
        parsed.sum("sipscope_api_trouble_total", &[("reason", "handler_panic")])
    }

    #[test]
    fn a_panicking_handler_answers_500_and_the_router_goes_on() {
        let mut app: axum::Router = axum::Router::new()
            .route(
                "/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("boom");
                    }
                    "unreached"
                }),
            )
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(catch_panics));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let before = trouble();
        let boom = rt.block_on(app.call(Request::get("/boom").body(Body::empty()).unwrap())).unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = rt.block_on(axum::body::to_bytes(boom.into_body(), 1 << 16)).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(json["error"].as_str().unwrap().contains("failed"), "{json}");
        assert!(trouble() - before >= 1.0, "the panic is counted");
        let fine = rt.block_on(app.call(Request::get("/fine").body(Body::empty()).unwrap())).unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
