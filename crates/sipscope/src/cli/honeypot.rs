//! `sipscope honeypot [--config FILE] [--metrics ADDR:PORT] [--json]` and `sipscope init [PATH] [--force]`.
//!
//! SIGINT or SIGTERM stops the honeypot cleanly: listeners stop, password recovery finishes,
//! every event is flushed, the summary is printed. A second signal exits at once.

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use sipscope::sources::honeypot::config::{HoneypotConfig, EXAMPLE};
use sipscope::sources::honeypot::net::Stop;
use sipscope::sources::honeypot::run;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct HoneypotArgs {
    /// Configuration file (TOML; `sipscope init` writes an annotated one). Without it: the
    /// defaults, UDP and TCP on 0.0.0.0:5060, the chan_sip profile, store sipscope.db.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Print the exit summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (overrides `[metrics] listen`;
    /// docs/metrics.md).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,
    /// Listen for SIP on UDP and TCP at this address and port only (instead of the
    /// configuration's listeners), e.g. `127.0.0.1:5060` to try it on this machine.
    #[arg(long, value_name = "ADDR:PORT")]
    sip: Option<std::net::SocketAddr>,
    /// Serve the REST API and live dashboard at this address (as `[api] listen`), e.g.
    /// `127.0.0.1:8080`; the URL with this run's token is printed at start.
    #[arg(long, value_name = "ADDR:PORT")]
    dashboard: Option<std::net::SocketAddr>,
    /// The store (as `store` in the configuration).
    #[arg(long)]
    db: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write the example configuration (`-` for standard output).
    #[arg(default_value = "honeypot.toml")]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    if args.path.as_os_str() == "-" {
        print!("{EXAMPLE}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.path.exists() && !args.force {
        anyhow::bail!("{} exists; use --force to overwrite it", args.path.display());
    }
    std::fs::write(&args.path, EXAMPLE).with_context(|| format!("writing {}", args.path.display()))?;
    eprintln!(
        "sipscope: wrote {}; start with: sipscope honeypot --config {}",
        args.path.display(),
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: HoneypotArgs) -> anyhow::Result<ExitCode> {
    crate::init_logging("info");
    let mut config = match &args.config {
        Some(path) => HoneypotConfig::load(path)?,
        None => HoneypotConfig::parse("", "defaults")?,
    };
    if let Some(sip) = args.sip {
        use sipscope::sources::honeypot::config::{Listen, ListenTransport};
        config.listen = [ListenTransport::Udp, ListenTransport::Tcp]
            .into_iter()
            .map(|transport| Listen { transport, address: sip.ip(), port: sip.port(), path: None })
            .collect();
    }
    if let Some(db) = &args.db {
        config.store = db.clone();
    }
    if args.dashboard.is_some() {
        config.api.listen = args.dashboard;
    }
    if config.api.tls_cert.is_some() != config.api.tls_key.is_some() {
        anyhow::bail!("[api]: give both tls_cert and tls_key, or neither");
    }
    let stop = Stop::default();
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stop.0))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop.0)).context("installing the signal handler")?;
    }
    let sensor = config.sensor.clone().unwrap_or_else(super::host_name);
    let bound = run::bind(&config)?;
    let live = config.api.listen.map(|_| sipscope::sinks::live::LiveFeed::default());
    let (core, store) = run::open_with(&config, sensor, live.clone())?;
    let _metrics = super::metrics_args::start(args.metrics.or(config.metrics.listen))?;
    // Bound before privileges are dropped, like the SIP listeners.
    let api = match (config.api.listen, live) {
        (Some(listen), Some(live)) => Some(super::serve::start(super::serve::Start {
            db: &config.store,
            listen,
            tls: config.api.tls_cert.clone().zip(config.api.tls_key.clone()),
            tokens: config.api.tokens.clone().unwrap_or_else(|| super::serve::default_tokens(&config.store)),
            metrics_public: config.api.metrics_public,
            session_token: true,
            limits: {
                let (a, d) = (&config.api, sipscope::api::ApiLimits::default());
                super::serve::limits(
                    a.requests_per_second.unwrap_or(d.requests_per_second),
                    a.burst.unwrap_or(d.burst),
                    a.anonymous_requests_per_second.unwrap_or(d.anonymous_requests_per_second),
                    a.anonymous_burst.unwrap_or(d.anonymous_burst),
                )
            },
            geo: sipscope::enrich::Enricher::none(),
            live: sipscope::api::LiveSource::Feed(live),
            clock: sipscope::api::ranges::Clock::System,
        })?),
        _ => None,
    };
    run::drop_privileges(&config)?;
    for (transport, addr) in bound.addresses() {
        tracing::info!("listening on {transport} {addr}");
    }
    tracing::info!(
        "profile {}, {} extensions, store {}",
        config.profile,
        config.extension.len(),
        sipscope::sinks::store_name(&config.store)
    );
    let summary = run::serve(&config, bound, core, &store, stop)?;
    if let Some(api) = api {
        api.stop();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    // The summary is printed first in any case; a failed finish still fails the run.
    Ok(if summary.finish_error.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
