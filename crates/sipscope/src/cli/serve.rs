//! `sipscope serve --db STORE [--listen ADDR] [--tls-cert F --tls-key F] [--tokens FILE]`: the
//! REST API and dashboard over a store (SQLite or PostgreSQL), until Ctrl-C; `sipscope token
//! add|list|revoke`: the tokens file. [`start`] is shared with `honeypot --dashboard` and
//! `collect --api`: it opens the store's readers and decision log, makes this run's dashboard
//! token, starts the server and prints the URL with the token in its fragment (as Jupyter
//! does). [`ApiArgs`] are `collect`'s `--api*` flags.

use anyhow::Context;
use sipscope::api::tokens::{TokenFile, TokenScope};
use sipscope::api::{self, ApiConfig, ApiLimits, Backend, LiveSource};
use sipscope::enrich::{Enricher, GeoConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The name of the token each start makes for its printed dashboard URL (the previous one is
/// replaced).
const SESSION_TOKEN: &str = "dashboard";
/// How long that token works, seconds (30 days; the next start replaces it anyway).
const SESSION_TOKEN_SECONDS: i64 = 30 * 86_400;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The store: a SQLite file or a PostgreSQL URL (`postgres://user@host/db`).
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PEM certificate chain: HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The tokens file (`sipscope token add`); default: the store's path with `.tokens`.
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Serve /metrics without a token.
    #[arg(long)]
    metrics_public: bool,
    /// Requests a second each token may make, sustained.
    #[arg(long, default_value_t = ApiLimits::default().requests_per_second, value_name = "N")]
    rate: f64,
    /// Requests each token may make at once.
    #[arg(long, default_value_t = ApiLimits::default().burst, value_name = "N")]
    burst: f64,
    /// Requests a second each client address may make without a valid token, sustained.
    #[arg(long, default_value_t = ApiLimits::default().anonymous_requests_per_second, value_name = "N")]
    anonymous_rate: f64,
    /// Requests each client address may make at once without a valid token.
    #[arg(long, default_value_t = ApiLimits::default().anonymous_burst, value_name = "N")]
    anonymous_burst: f64,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, default_value_t = ApiLimits::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Seconds a client may take to send a request's headers (and a TLS handshake).
    #[arg(long, default_value_t = ApiLimits::default().header_timeout_s, value_name = "SECS")]
    header_timeout: u64,
    /// Do not make a dashboard token for this run (use tokens from `sipscope token add`).
    #[arg(long)]
    no_session_token: bool,
    /// Country database (.mmdb) for source pages and the report's country sections.
    #[arg(long)]
    country_db: Option<PathBuf>,
    /// ASN database (.mmdb).
    #[arg(long)]
    asn_db: Option<PathBuf>,
    /// The instant the dashboard's quick ranges ("last 1 h/24 h/7 d") count back from, instead
    /// of the clock (which moves them on every UTC hour): for a store recorded earlier, e.g. an
    /// archived capture or a benchmark's. YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds.
    #[arg(long, value_parser = sipscope::time::parse_time, value_name = "TIME")]
    now: Option<i64>,
}

/// The tokens file of a store when none is given: the SQLite file's path with `.tokens`, or
/// `sipscope.tokens` in the working directory for a PostgreSQL store.
pub fn default_tokens(db: &Path) -> PathBuf {
    if sipscope::sinks::postgres_url(db).is_some() {
        return PathBuf::from("sipscope.tokens");
    }
    sipscope::fsutil::with_suffix(db, ".tokens")
}

/// The rate limits, each clamped to something that lets a request through eventually.
pub fn limits(rate: f64, burst: f64, anonymous_rate: f64, anonymous_burst: f64) -> ApiLimits {
    let sane = |v: f64, min: f64| if v.is_finite() { v.max(min) } else { min };
    ApiLimits {
        requests_per_second: sane(rate, 0.001),
        burst: sane(burst, 1.0),
        anonymous_requests_per_second: sane(anonymous_rate, 0.001),
        anonymous_burst: sane(anonymous_burst, 1.0),
        ..ApiLimits::default()
    }
}

/// `collect`'s REST API: off unless `--api` is given.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Serve the REST API and live dashboard over the collector's store at this address, e.g.
    /// `127.0.0.1:8080`; the URL with this run's token is printed at start (docs/api.md).
    #[arg(long, value_name = "ADDR:PORT")]
    api: Option<SocketAddr>,
    /// PEM certificate chain: HTTPS (with --api-tls-key).
    #[arg(long, requires = "api_tls_key", value_name = "FILE")]
    api_tls_cert: Option<PathBuf>,
    /// PEM private key of --api-tls-cert.
    #[arg(long, requires = "api_tls_cert", value_name = "FILE")]
    api_tls_key: Option<PathBuf>,
    /// The tokens file; default: a SQLite store's path with `.tokens`, `sipscope.tokens` for
    /// PostgreSQL.
    #[arg(long, value_name = "FILE")]
    api_tokens: Option<PathBuf>,
    /// Serve /metrics without a token.
    #[arg(long)]
    api_metrics_public: bool,
    /// Requests a second each token may make, sustained.
    #[arg(long, default_value_t = ApiLimits::default().requests_per_second, value_name = "N")]
    api_rate: f64,
    /// Requests each token may make at once.
    #[arg(long, default_value_t = ApiLimits::default().burst, value_name = "N")]
    api_burst: f64,
    /// Requests a second each client address may make without a valid token, sustained.
    #[arg(long, default_value_t = ApiLimits::default().anonymous_requests_per_second, value_name = "N")]
    api_anonymous_rate: f64,
    /// Requests each client address may make at once without a valid token.
    #[arg(long, default_value_t = ApiLimits::default().anonymous_burst, value_name = "N")]
    api_anonymous_burst: f64,
}

impl ApiArgs {
    /// Whether the API is asked for.
    pub fn requested(&self) -> bool {
        self.api.is_some()
    }

    /// Starts the API over `db`, its live stream fed by `live` (the collector's pipeline).
    pub fn start(&self, db: &Path, live: sipscope::sinks::live::LiveFeed) -> anyhow::Result<Option<api::Handle>> {
        let Some(listen) = self.api else { return Ok(None) };
        start(Start {
            db,
            listen,
            tls: self.api_tls_cert.clone().zip(self.api_tls_key.clone()),
            tokens: self.api_tokens.clone().unwrap_or_else(|| default_tokens(db)),
            metrics_public: self.api_metrics_public,
            session_token: true,
            limits: limits(self.api_rate, self.api_burst, self.api_anonymous_rate, self.api_anonymous_burst),
            geo: Enricher::none(),
            live: LiveSource::Feed(live),
            clock: api::ranges::Clock::System,
        })
        .map(Some)
    }
}

/// What [`start`] needs.
pub struct Start<'a> {
    pub db: &'a Path,
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub tokens: PathBuf,
    pub metrics_public: bool,
    pub session_token: bool,
    pub limits: ApiLimits,
    pub geo: Enricher,
    pub live: LiveSource,
    pub clock: api::ranges::Clock,
}

/// Starts the API over the store at `db` (SQLite or PostgreSQL) and prints its URL.
pub fn start(s: Start<'_>) -> anyhow::Result<api::Handle> {
    let token = if s.session_token {
        let mut file = TokenFile::load(&s.tokens)?;
        file.token.retain(|t| t.name != SESSION_TOKEN);
        let now_s = sipscope::time::now_ns() / sipscope::time::SECOND_NS;
        let token = file.add(SESSION_TOKEN, TokenScope::Decisions, now_s, Some(now_s + SESSION_TOKEN_SECONDS))?;
        file.save(&s.tokens)?;
        Some(token)
    } else {
        None
    };
    let (reader_db, log_db, kept_db) = (s.db.to_owned(), s.db.to_owned(), s.db.to_owned());
    let backend = Backend {
        readers: Arc::new(move || sipscope::store::open(&reader_db)),
        decisions: Arc::new(move || sipscope::sinks::open_decision_log(&log_db)),
        kept_reports: Some(Arc::new(move || sipscope::sinks::open_report_keeper(&kept_db))),
        geo: Arc::new(s.geo),
        own_addresses: super::own_addresses(),
    };
    let tls = s.tls.is_some();
    let config = ApiConfig {
        listen: s.listen,
        tls: s.tls,
        tokens: s.tokens,
        metrics_public: s.metrics_public,
        limits: s.limits,
        clock: s.clock,
    };
    let handle = api::spawn(config, backend, s.live).context("starting the API")?;
    // The token goes to the terminal of whoever started this, never into a log line.
    eprintln!("sipscope: dashboard at {}", api::dashboard_url(handle.local_addr(), tls, token.as_deref()));
    Ok(handle)
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::init_logging("info");
    let store = sipscope::sinks::store_name(&args.db);
    if sipscope::sinks::postgres_url(&args.db).is_none() && !args.db.exists() {
        anyhow::bail!("{store} does not exist");
    }
    // Opened once here, so a store that cannot be read (newer schema) fails now, not per request.
    sipscope::store::open(&args.db).with_context(|| format!("opening {store}"))?;
    let geo = Enricher::open(&GeoConfig { country_db: args.country_db.clone(), asn_db: args.asn_db.clone() })?;
    let stop = super::stop_on_signals()?;
    let handle = start(Start {
        db: &args.db,
        listen: args.listen,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        tokens: args.tokens.clone().unwrap_or_else(|| default_tokens(&args.db)),
        metrics_public: args.metrics_public,
        session_token: !args.no_session_token,
        limits: ApiLimits {
            max_connections: args.max_connections.max(1),
            header_timeout_s: args.header_timeout.max(1),
            ..limits(args.rate, args.burst, args.anonymous_rate, args.anonymous_burst)
        },
        geo,
        live: LiveSource::Poll(std::time::Duration::from_millis(500)),
        clock: args.now.map_or(api::ranges::Clock::System, api::ranges::Clock::Fixed),
    })?;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    handle.stop();
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The tokens file; default: the store's path with `.tokens`.
    #[arg(long, global = true, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// The store whose tokens file is meant (when --tokens is not given).
    #[arg(long, global = true, default_value = "sipscope.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Make a token and print it (once: only its hash is kept).
    Add {
        /// Its name (who: decisions taken with it carry it).
        name: String,
        /// read, decisions (read and add/delete decisions) or admin.
        #[arg(long, value_enum, default_value = "read")]
        scope: TokenScope,
        /// How long it works (`90s`, `15m`, `2h`, `30d`); forever when absent.
        #[arg(long, value_parser = sipscope::time::parse_duration)]
        expires: Option<i64>,
    },
    /// List the tokens (names, scopes, expiry; never the tokens).
    List,
    /// Revoke a token by name (kept in the file, refused from now on).
    Revoke {
        /// Its name.
        name: String,
    },
}

pub fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let path = args.tokens.unwrap_or_else(|| default_tokens(&args.db));
    let mut file = TokenFile::load(&path)?;
    let now_s = sipscope::time::now_ns() / sipscope::time::SECOND_NS;
    match args.command {
        TokenCommand::Add { name, scope, expires } => {
            let expires = expires.map(|ns| now_s + ns / sipscope::time::SECOND_NS);
            let token = file.add(&name, scope, now_s, expires)?;
            file.save(&path)?;
            println!("{token}");
            eprintln!(
                "sipscope: token {name:?} ({}) added to {}; it is shown only now",
                scope.as_str(),
                path.display()
            );
        }
        TokenCommand::List => {
            println!("{:<24} {:<10} {:<21} state", "name", "scope", "expires");
            for t in &file.token {
                let expires =
                    t.expires.map_or("never".to_owned(), |e| sipscope::time::iso_time(e * sipscope::time::SECOND_NS));
                let state = match (t.revoked, t.expires.is_some_and(|e| now_s >= e)) {
                    (true, _) => "revoked",
                    (false, true) => "expired",
                    _ => "valid",
                };
                let name = sipscope::output::escape::terminal(&t.name, 24);
                println!("{name:<24} {:<10} {expires:<21} {state}", t.scope.as_str());
            }
        }
        TokenCommand::Revoke { name } => {
            file.revoke(&name)?;
            file.save(&path)?;
            eprintln!("sipscope: token {name:?} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
