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
    let config = match &args.config {
        Some(path) => HoneypotConfig::load(path)?,
        None => HoneypotConfig::parse("", "defaults")?,
    };
    let stop = Stop::default();
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stop.0))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop.0)).context("installing the signal handler")?;
    }
    let sensor = config.sensor.clone().unwrap_or_else(super::host_name);
    let bound = run::bind(&config)?;
    let (core, store) = run::open(&config, sensor)?;
    let _metrics = super::metrics_args::start(args.metrics.or(config.metrics.listen))?;
    run::drop_privileges(&config)?;
    for (transport, addr) in bound.addresses() {
        tracing::info!("listening on {transport} {addr}");
    }
    tracing::info!(
        "profile {}, {} extensions, store {}",
        config.profile,
        config.extension.len(),
        config.store.display()
    );
    let summary = run::serve(&config, bound, core, &store, stop)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    // The summary is printed first in any case; a failed finish still fails the run.
    Ok(if summary.finish_error.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
