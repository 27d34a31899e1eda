//! Who may ask what, how often, and the headers every answer carries. A request names its
//! token in `Authorization: Bearer …` (or, for the live stream only, `?token=`, since a
//! browser's EventSource cannot set headers); the path and method decide the scope it needs.
//! Each token has a token bucket (429 with `Retry-After` when empty). Every response gets a
//! CSP that allows only this origin, `nosniff`, frame denial and no caching; no CORS header
//! is ever sent, and no header carries anything a client or an attacker wrote.

use super::server::{Failure, State};
use super::tokens::{Refusal, TokenFile, TokenScope};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// The tokens file, re-read when it changes (checked at most once a second), so that `sipscope
/// token revoke` takes effect in a running server.
pub(crate) struct Tokens {
    path: PathBuf,
    cached: Mutex<(TokenFile, Option<SystemTime>, Instant)>,
}

impl Tokens {
    pub fn open(path: &Path) -> Result<Tokens, super::tokens::TokenError> {
        let file = TokenFile::load(path)?;
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(Tokens { path: path.to_owned(), cached: Mutex::new((file, mtime, Instant::now())) })
    }

    /// The name and scope of `presented`, or why it is refused.
    pub fn check(&self, presented: &str) -> Result<(String, TokenScope), Refusal> {
        let Ok(mut cached) = self.cached.lock() else { return Err(Refusal::Unknown) };
        if cached.2.elapsed().as_secs() >= 1 {
            cached.2 = Instant::now();
            let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
            if mtime != cached.1 {
                match TokenFile::load(&self.path) {
                    Ok(file) => *cached = (file, mtime, Instant::now()),
                    // A file being replaced or broken: keep what was read, say so once.
                    Err(e) => tracing::warn!("API: keeping the tokens read before: {e}"),
                }
            }
        }
        let now_s = crate::time::now_ns() / crate::time::SECOND_NS;
        cached.0.verify(presented, now_s).map(|t| (t.name.clone(), t.scope))
    }
}

/// One token bucket per token name (bounded by the tokens file).
#[derive(Default)]
pub(crate) struct Buckets(Mutex<HashMap<String, (f64, Instant)>>);

impl Buckets {
    /// Takes one request from `name`'s bucket; `Err(seconds)` until the next one is allowed.
    fn take(&self, name: &str, rate: f64, burst: f64) -> Result<(), u64> {
        let Ok(mut all) = self.0.lock() else { return Ok(()) };
        let now = Instant::now();
        let (level, at) = all.entry(name.to_owned()).or_insert((burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / rate.max(0.001)).ceil().max(1.0) as u64)
        }
    }
}

/// Who is asking (a request extension for the handlers).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token's name.
    pub name: String,
}

/// The scope a request needs; `None`: no token needed.
fn needed(state: &State, method: &Method, path: &str) -> Option<TokenScope> {
    match path {
        "/" | "/api/v1/openapi.json" => None,
        _ if path.starts_with("/assets/") => None,
        "/metrics" if state.metrics_public => None,
        _ if path.starts_with("/api/v1/decisions") && method != Method::GET && method != Method::HEAD => {
            Some(TokenScope::Decisions)
        }
        _ => Some(TokenScope::Read),
    }
}

/// The token the request presents: the bearer header, or `?token=` on the live stream.
fn presented(req: &Request) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    if req.uri().path() == "/api/v1/live" {
        let query = req.uri().query()?;
        return form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    }
    None
}

/// Authenticates, checks the scope and the rate.
pub(crate) async fn authorize(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(scope) = needed(&state, req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let unauthorized = || {
        let mut r = Failure::new(StatusCode::UNAUTHORIZED, "a valid token is needed").into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    };
    let Some(token) = presented(&req) else { return unauthorized() };
    let (name, has) = match state.tokens.check(&token) {
        Ok(found) => found,
        Err(why) => {
            tracing::debug!("API: token refused ({why:?})");
            return unauthorized();
        }
    };
    if has < scope {
        return Failure::new(StatusCode::FORBIDDEN, format!("this token's scope is not {}", scope.as_str()))
            .into_response();
    }
    if let Err(wait) = state.buckets.take(&name, state.limits.requests_per_second, state.limits.burst) {
        let mut r = Failure::new(StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return r;
    }
    req.extensions_mut().insert(Caller { name });
    next.run(req).await
}

/// The same safety headers on every response.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate() {
        let b = Buckets::default();
        assert!(b.take("a", 1.0, 2.0).is_ok());
        assert!(b.take("a", 1.0, 2.0).is_ok());
        assert_eq!(b.take("a", 1.0, 2.0), Err(1));
        assert!(b.take("b", 1.0, 2.0).is_ok(), "buckets are per token");
    }
}
