//! `--metrics ADDR:PORT`, for the commands that run until stopped (`capture`, `hep`,
//! `logs --follow`, `collect`; the honeypot has it and its `[metrics]` key): Prometheus metrics served at
//! `http://ADDR:PORT/metrics` while the command runs (docs/metrics.md).

use anyhow::Context;
use sipscope::metrics::http::{self, HttpLimits, MetricsServer};
use std::net::SocketAddr;

#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics while running (docs/metrics.md).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
}

impl MetricsArgs {
    /// The address asked for.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.metrics
    }
}

/// Starts the metrics listener on `addr`, when one is asked for; it stops when dropped.
pub fn start(addr: Option<SocketAddr>) -> anyhow::Result<Option<MetricsServer>> {
    let Some(addr) = addr else { return Ok(None) };
    let server = http::serve(addr, HttpLimits::default()).context("starting the metrics listener")?;
    tracing::info!("metrics on http://{}/metrics", server.local_addr());
    Ok(Some(server))
}
