//! The server's machinery: the shared state, the router, the runtime on its own threads, and
//! the accept loop (plain or TLS, bounded connections, a deadline for headers and handshakes).

use super::guard::{Buckets, Tokens};
use super::live::Hub;
use super::{routes, ApiConfig, ApiError, ApiLimits, Backend, LiveSource};
use crate::store::StoreReader;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A failed request: its status and what the client is told (JSON `{"error": …}`; never
/// in a header).
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, message)
    }
    /// A failure of the store or a thread: logged (rate-limited), the client told little.
    pub fn internal(what: impl std::fmt::Display) -> Failure {
        use std::sync::atomic::{AtomicU64, Ordering};
        static LOGGED: AtomicU64 = AtomicU64::new(0);
        let n = LOGGED.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::error!("API: {what} ({n} such failures so far)");
        }
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "the store could not answer")
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        Failure::internal(e)
    }
}

impl axum::response::IntoResponse for Failure {
    fn into_response(self) -> axum::response::Response {
        let mut w = crate::output::json::JsonWriter::new();
        w.begin_object();
        w.key("error");
        w.bytes(self.message.as_bytes());
        w.end_object();
        super::shape::json_response(self.status, w.take())
    }
}

/// Everything a handler reaches.
pub(crate) struct State {
    pub backend: Backend,
    pub tokens: Tokens,
    pub buckets: Buckets<String>,
    /// Requests without a valid token, per client address.
    pub anonymous: Buckets<std::net::IpAddr>,
    pub limits: ApiLimits,
    pub metrics_public: bool,
    pub hub: Hub,
    /// Reports kept between requests.
    pub reports: super::cache::ReportCache,
    /// The in-memory report index (`api/index.rs`).
    pub index: super::index::IndexSlot,
    /// Reports kept across restarts, in the store.
    pub keeper: super::kept::Keeper,
    /// The instant the dashboard's quick ranges count back from.
    pub clock: super::ranges::Clock,
    /// Whether the API itself pushes the decisions it takes to the live stream (embedded:
    /// they do not pass through the pipeline; polling finds them in the store anyway).
    pub push_decisions: bool,
    idle: Mutex<Vec<Box<dyn StoreReader + Send>>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Drop for State {
    /// The idle readers are dropped on a thread of their own: a PostgreSQL reader's client
    /// closes by blocking on a runtime of its own, which panics (and aborts the process, in a
    /// destructor) on a thread of the server's runtime, where the last task holding the state
    /// may drop it when the server stops.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(idle) => std::mem::take(idle),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if !idle.is_empty() {
            let _ = std::thread::Builder::new().name("api-close".into()).spawn(move || drop(idle)).map(|t| t.join());
        }
    }
}

impl State {
    /// Runs `f` with a reader on a blocking thread (at most `max_readers` at once).
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn StoreReader) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let permit = Arc::clone(&self.slots).acquire_owned().await.map_err(Failure::internal)?;
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let reader = match state.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                Some(r) => r,
                None => (state.backend.readers)()?,
            };
            let out = f(reader.as_ref());
            if let Ok(mut idle) = state.idle.lock() {
                idle.push(reader);
            }
            out
        })
        .await
        .map_err(Failure::internal)?
    }
}

fn router(state: Arc<State>) -> Router {
    use routes::*;
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::asset))
        .route("/api/v1/openapi.json", get(assets::openapi))
        .route("/metrics", get(assets::metrics))
        .route("/api/v1/report", get(reports::whole))
        .route("/api/v1/report/{section}", get(reports::section))
        .route("/api/v1/ranges", get(reports::ranges))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/sources/{ip}", get(sources::one))
        .route("/api/v1/numbers", get(lists::numbers))
        .route("/api/v1/passwords", get(lists::passwords))
        .route("/api/v1/tools", get(lists::tools))
        .route("/api/v1/campaigns", get(lists::campaigns))
        .route("/api/v1/alerts", get(lists::alerts))
        .route("/api/v1/decisions", get(decisions::list).post(decisions::add))
        .route("/api/v1/decisions/{id}", delete(decisions::remove))
        .route("/api/v1/live", get(super::live::stream))
        .route("/ip-addresses", get(compat::ip_addresses))
        .route("/ip-addresses/{ip}", get(compat::ip_address))
        .route("/numbers/{number}", get(compat::number))
        .route("/blocklist.txt", get(blocklist::plain))
        .route("/blocklist.json", get(blocklist::json))
        .fallback(|| async { Failure::not_found("no such resource") })
        .layer(axum::middleware::from_fn(super::params::strict_path))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), super::guard::authorize))
        .layer(axum::middleware::from_fn(super::recover::catch_panics))
        .layer(axum::extract::DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(axum::middleware::from_fn(super::guard::security_headers))
        .with_state(state)
}

/// A running server: stops when [`Handle::stop`] is called or it is dropped.
pub struct Handle {
    addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// Whether it speaks HTTPS.
    pub fn tls(&self) -> bool {
        self.tls
    }
    /// Stops accepting, ends open connections, waits for its threads.
    pub fn stop(mut self) {
        self.shutdown();
    }
    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<Arc<rustls::ServerConfig>, ApiError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = |p: &std::path::Path, e: rustls::pki_types::pem::Error| ApiError::Tls(format!("{}: {e}", p.display()));
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).and_then(Iterator::collect).map_err(|e| pem(cert, e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| ApiError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

pub(super) fn spawn(config: ApiConfig, backend: Backend, live: LiveSource) -> Result<Handle, ApiError> {
    let tls = config.tls.as_ref().map(|(c, k)| tls_config(c, k)).transpose()?;
    let tokens = Tokens::open(&config.tokens)?;
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| ApiError::Io(format!("binding {}", config.listen), e))?;
    listener.set_nonblocking(true).map_err(|e| ApiError::Io("a socket option".into(), e))?;
    let addr = listener.local_addr().map_err(|e| ApiError::Io("the bound address".into(), e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(config.limits.max_readers.max(1) + 2)
        .thread_name("api")
        .enable_all()
        .build()
        .map_err(|e| ApiError::Io("starting the API runtime".into(), e))?;
    let keeper = super::kept::Keeper::start(super::kept::format(&backend.geo), backend.kept_reports.clone());
    let state = Arc::new(State {
        backend,
        tokens,
        buckets: Buckets::new(usize::MAX),
        anonymous: Buckets::new(config.limits.max_anonymous_clients),
        limits: config.limits,
        metrics_public: config.metrics_public,
        hub: Hub::new(config.limits.max_watchers),
        reports: super::cache::ReportCache::default(),
        index: super::index::IndexSlot::default(),
        keeper,
        clock: config.clock,
        push_decisions: matches!(live, LiveSource::Feed(_)),
        idle: Mutex::new(Vec::new()),
        slots: Arc::new(tokio::sync::Semaphore::new(config.limits.max_readers.max(1))),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let limits = config.limits;
    let is_tls = tls.is_some();
    let thread = std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return tracing::error!("API: {e}"),
                };
                super::live::start(&state, live, stop_rx.clone());
                // The reports an earlier run kept, served until this run has built its own
                // (read before the first request is accepted: milliseconds).
                let restored = super::kept::restore(&state).await;
                if restored > 0 {
                    tracing::info!("API: {restored} reports kept by an earlier run, served until rebuilt");
                }
                // The overview a dashboard opens with and its quick ranges, built before anyone
                // asks (and the quick ranges again when the UTC hour turns).
                tokio::spawn(super::ranges::keep_ready(Arc::clone(&state)));
                serve(listener, router(Arc::clone(&state)), tls, limits, stop_rx).await;
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .map_err(|e| ApiError::Io("starting the API thread".into(), e))?;
    Ok(Handle { addr, tls: is_tls, stop: Some(stop_tx), thread: Some(thread) })
}

async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ApiLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let deadline = Duration::from_secs(limits.header_timeout_s.max(1));
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue }
            },
            _ = stop.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let (app, acceptor, mut stop) = (app.clone(), acceptor.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(super::guard::Peer(peer.ip()));
                tower_service::Service::call(&mut app.clone(), req)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(deadline)
                .max_buf_size(limits.max_head_bytes.max(8192))
                .max_headers(limits.max_headers.max(1));
            let done = async {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(Ok(stream)) = tokio::time::timeout(deadline, acceptor.accept(tcp)).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            };
            tokio::select! {
                _ = done => {}
                _ = stop.changed() => {}
            }
        });
    }
}
