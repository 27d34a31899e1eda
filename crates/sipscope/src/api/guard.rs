//! Who may ask what, how often, and the headers every answer carries. A request names its
//! token in `Authorization: Bearer …` (or, for the live stream only, `?token=`, since a
//! browser's EventSource cannot set headers); the path and method decide the scope it needs.
//! Each token has a token bucket (429 with `Retry-After` when empty); requests without a valid
//! token (the dashboard's assets, the OpenAPI document, missing or refused tokens) take from
//! their client address's bucket instead. Every response gets a
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

/// Token buckets by key: per token name (bounded by the tokens file) or, for requests without
/// a valid token, per client address (bounded by `max_keys`).
pub(crate) struct Buckets<K> {
    all: Mutex<HashMap<K, (f64, Instant)>>,
    max_keys: usize,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    pub fn new(max_keys: usize) -> Buckets<K> {
        Buckets { all: Mutex::new(HashMap::new()), max_keys: max_keys.max(1) }
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)` until the next one is allowed.
    fn take(&self, key: &K, rate: f64, burst: f64) -> Result<(), u64> {
        let Ok(mut all) = self.all.lock() else { return Ok(()) };
        let now = Instant::now();
        let rate = rate.max(0.001);
        if all.len() >= self.max_keys && !all.contains_key(key) {
            // Forget the keys whose buckets have refilled (they lose nothing); if every one
            // is still draining, forget them all rather than grow.
            all.retain(|_, (level, at)| *level + now.duration_since(*at).as_secs_f64() * rate < burst);
            if all.len() >= self.max_keys {
                all.clear();
            }
        }
        let (level, at) = all.entry(key.clone()).or_insert((burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// The client's address (a request extension the accept loop sets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub std::net::IpAddr);

/// The key of a client without a token: its address, an IPv6 address's /64.
fn client_key(peer: Option<&Peer>) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match peer.map(|p| p.0) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

/// 429 with `Retry-After` (a number we computed: never client text).
fn too_many(wait: u64, trouble: crate::metrics::ApiTrouble) -> Response {
    crate::metrics::api_trouble(trouble);
    let mut r = Failure::new(StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    r
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
    let limits = &state.limits;
    let anonymous = |req: &Request| {
        let key = client_key(req.extensions().get::<Peer>());
        state.anonymous.take(&key, limits.anonymous_requests_per_second, limits.anonymous_burst)
    };
    let Some(scope) = needed(&state, req.method(), req.uri().path()) else {
        if let Err(wait) = anonymous(&req) {
            return too_many(wait, crate::metrics::ApiTrouble::RateLimitedAnonymous);
        }
        return next.run(req).await;
    };
    let unauthorized = || {
        let mut r = Failure::new(StatusCode::UNAUTHORIZED, "a valid token is needed").into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    };
    // A request without a valid token is an anonymous one: guessing tokens is rate-limited.
    let refused = |req: &Request| match anonymous(req) {
        Ok(()) => unauthorized(),
        Err(wait) => too_many(wait, crate::metrics::ApiTrouble::RateLimitedAnonymous),
    };
    let Some(token) = presented(&req) else { return refused(&req) };
    let (name, has) = match state.tokens.check(&token) {
        Ok(found) => found,
        Err(why) => {
            tracing::debug!("API: token refused ({why:?})");
            return refused(&req);
        }
    };
    if has < scope {
        return Failure::new(StatusCode::FORBIDDEN, format!("this token's scope is not {}", scope.as_str()))
            .into_response();
    }
    if let Err(wait) = state.buckets.take(&name, limits.requests_per_second, limits.burst) {
        return too_many(wait, crate::metrics::ApiTrouble::RateLimitedToken);
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
        let b = Buckets::new(16);
        let (a, bb) = ("a".to_owned(), "b".to_owned());
        assert!(b.take(&a, 1.0, 2.0).is_ok());
        assert!(b.take(&a, 1.0, 2.0).is_ok());
        assert_eq!(b.take(&a, 1.0, 2.0), Err(1));
        assert_eq!(b.take(&a, 0.25, 2.0), Err(4), "the wait follows the rate");
        assert!(b.take(&bb, 1.0, 2.0).is_ok(), "buckets are per token");
    }

    #[test]
    fn anonymous_buckets_are_bounded_and_keyed_by_address_or_its_64() {
        let b = Buckets::new(2);
        for i in 0..100u8 {
            let key = client_key(Some(&Peer(std::net::IpAddr::from([192, 0, 2, i]))));
            assert!(b.take(&key, 1.0, 1.0).is_ok());
            assert!(b.all.lock().unwrap().len() <= 2);
        }
        let one = client_key(Some(&Peer("2001:db8::1".parse().unwrap())));
        let two = client_key(Some(&Peer("2001:db8::ffff:2".parse().unwrap())));
        assert_eq!(one, two);
        let mapped = client_key(Some(&Peer("::ffff:192.0.2.7".parse().unwrap())));
        assert_eq!(mapped, std::net::IpAddr::from([192, 0, 2, 7]));
    }
}
