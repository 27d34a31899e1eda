//! The REST API and the dashboard's server (`sipscope serve`, and inside `honeypot` with
//! `--dashboard`): what the store knows, as JSON over HTTP(S), read only through
//! [`StoreReader`]s; decisions written through the same [`DecisionLog`] as `sipscope
//! decisions`; reports built by `reports::` exactly as `report --format json` builds them.
//! docs/api.md is the reference, `openapi.json` (embedded, served) the contract.
//!
//! The server is embeddable: [`spawn`] binds, starts a small tokio runtime on threads of its
//! own and returns a [`Handle`]; store reads run on blocking threads, a few at a time, each
//! with a reader of its own from the [`Backend`]'s factory. Nothing here blocks a caller's
//! pipeline: the live stream takes what the pipeline copies into a bounded broadcast
//! ([`crate::sinks::live::LiveFeed`]) or, without one, polls the store. Besides decisions, the
//! only thing it writes to the store is its last reports, kept for its next start
//! (`kept.rs`, through [`crate::sinks::kept::ReportKeeper`]).

mod cache;
pub mod dashboard;
mod guard;
mod index;
mod kept;
mod live;
pub mod params;
pub mod ranges;
mod recover;
mod routes;
mod server;
mod shape;
pub mod tokens;

use crate::enrich::Enricher;
use crate::sinks::decisions::DecisionLog;
use crate::sinks::SinkError;
use crate::store::{StoreError, StoreReader};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub use kept::KeeperFactory;
pub use server::Handle;

/// Opens a reader of the store (one per blocking thread that reads).
pub type ReaderFactory = Arc<dyn Fn() -> Result<Box<dyn StoreReader + Send>, StoreError> + Send + Sync>;

/// Opens the decision log of the store (per decision added or deleted).
pub type DecisionLogFactory = Arc<dyn Fn() -> Result<Box<dyn DecisionLog>, SinkError> + Send + Sync>;

/// What the server reads from and writes to.
#[derive(Clone)]
pub struct Backend {
    /// Readers of the store.
    pub readers: ReaderFactory,
    /// Where decisions are written.
    pub decisions: DecisionLogFactory,
    /// Where the reports built ahead of requests are kept across restarts (`None`: they are
    /// not written, only those kept earlier read back).
    pub kept_reports: Option<KeeperFactory>,
    /// GeoIP for source pages and the report's country sections.
    pub geo: Arc<Enricher>,
    /// Addresses no decision may reach (this host's).
    pub own_addresses: Vec<IpAddr>,
}

/// Where the live stream's items come from.
#[derive(Debug, Clone)]
pub enum LiveSource {
    /// The pipeline of this process copies them (honeypot, collect).
    Feed(crate::sinks::live::LiveFeed),
    /// Poll the store for new events, alerts and decisions (`serve`), every this often.
    Poll(std::time::Duration),
}

/// Named limits of the server, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApiLimits {
    /// Requests a second each token may make, sustained (token bucket refill). Default 20.
    pub requests_per_second: f64,
    /// Requests each token may make at once (bucket size). Default 100.
    pub burst: f64,
    /// Requests a second each client address (IPv6: its /64) may make without a valid token,
    /// sustained: the dashboard's page and assets, the OpenAPI document, public metrics, and
    /// requests whose token is missing or refused. Default 10.
    pub anonymous_requests_per_second: f64,
    /// Requests each client address may make at once without a valid token. Default 50.
    pub anonymous_burst: f64,
    /// Client addresses whose anonymous rate is remembered at once; beyond it the addresses
    /// that are back to a full bucket are forgotten first. Default 4096.
    pub max_anonymous_clients: usize,
    /// Connections open at once; more wait to be accepted. Default 256.
    pub max_connections: usize,
    /// Store reads at once (each on a blocking thread with a reader of its own). Default 4.
    pub max_readers: usize,
    /// Seconds a client may take to send a request's headers (and a TLS handshake). Default 10.
    pub header_timeout_s: u64,
    /// Live-stream watchers at once. Default 64.
    pub max_watchers: usize,
    /// Bytes of a request's line and headers together; beyond: 431 and the connection closed.
    /// Default 16384 (hyper's floor is 8192).
    pub max_head_bytes: usize,
    /// Header fields of a request; beyond: 431. Default 64.
    pub max_headers: usize,
    /// Bytes of a request's body (a decision); beyond: 413. Default 65536.
    pub max_body_bytes: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            requests_per_second: 20.0,
            burst: 100.0,
            anonymous_requests_per_second: 10.0,
            anonymous_burst: 50.0,
            max_anonymous_clients: 4096,
            max_connections: 256,
            max_readers: 4,
            header_timeout_s: 10,
            max_watchers: 64,
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// How the server is run.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Address and port to listen on (port 0: any free one, see [`Handle::local_addr`]).
    pub listen: SocketAddr,
    /// PEM certificate chain and key: HTTPS when given.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The tokens file (`sipscope token add`); re-read when it changes.
    pub tokens: PathBuf,
    /// `/metrics` without a token.
    pub metrics_public: bool,
    /// Limits.
    pub limits: ApiLimits,
    /// The instant the dashboard's quick ranges count back from (default: the system clock).
    pub clock: ranges::Clock,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Binding, the runtime, a thread.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The certificate or key.
    #[error("TLS: {0}")]
    Tls(String),
    /// The tokens file.
    #[error("{0}")]
    Tokens(#[from] tokens::TokenError),
}

/// Binds `config.listen` and serves on threads of its own until the handle is stopped or
/// dropped.
pub fn spawn(config: ApiConfig, backend: Backend, live: LiveSource) -> Result<Handle, ApiError> {
    server::spawn(config, backend, live)
}

/// The URL a browser opens: the dashboard with the token in the fragment (never sent to the
/// server, kept by the page).
pub fn dashboard_url(addr: SocketAddr, tls: bool, token: Option<&str>) -> String {
    let scheme = if tls { "https" } else { "http" };
    match token {
        Some(t) => format!("{scheme}://{addr}/#token={t}"),
        None => format!("{scheme}://{addr}/"),
    }
}
