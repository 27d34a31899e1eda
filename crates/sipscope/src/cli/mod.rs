//! Command-line interface: one module per subcommand, dispatched from [`run`].

mod analyze;
#[cfg(feature = "live")]
mod capture;
mod decisions;
mod enforce;
mod export;
mod hep;
mod honeypot;
mod import;
mod ingest;
mod logs;
mod metrics_args;
mod parse;
mod report;
mod response_args;
mod rules;
mod store_args;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// See, understand and stop attacks on SIP (VoIP) systems.
#[derive(Debug, Parser)]
#[command(name = "sipscope", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse SIP messages from files (or `-` for standard input) and print one JSON object per
    /// message (JSON Lines).
    Parse(parse::ParseArgs),
    /// Read pcap / pcapng captures into the event store.
    Ingest(ingest::IngestArgs),
    /// Capture live from a network interface into the event store, until Ctrl-C (or --count /
    /// --duration); prints the same summary as ingest.
    #[cfg(feature = "live")]
    Capture(capture::CaptureArgs),
    /// Import records another tool kept (SentryPeer's JSON log or database) into the event
    /// store, through the same analysis as captured messages.
    Import(import::ImportArgs),
    /// Take SIP forwarded in HEP (HOMER's encapsulation: Kamailio siptrace, OpenSIPS,
    /// Asterisk res_hep, heplify, sngrep) on UDP, TCP or TLS into the event store, each
    /// capture node a sensor, every packet authenticated by its key; until Ctrl-C.
    Hep(hep::HepArgs),
    /// Read PBX security logs (Asterisk, FreeSWITCH) into the store as authentication
    /// attempts; --follow tails them across rotation until Ctrl-C.
    Logs(logs::LogsArgs),
    /// Run the honeypot: a PBX (Asterisk-like by default) on UDP, TCP and TLS that records
    /// every request and every answer, until Ctrl-C.
    Honeypot(honeypot::HoneypotArgs),
    /// Write an annotated example honeypot configuration.
    Init(honeypot::InitArgs),
    /// Recompute the analysis (flows, fingerprints and tools, attack stages, numbers, user
    /// agents, daily activity) from every stored event.
    Analyze(analyze::AnalyzeArgs),
    /// Report tables and figures (text, JSON, CSV or HTML) for a time range and set of nodes.
    Report(report::ReportArgs),
    /// Archive the store's events and analysis tables for big-data engines (Parquet, read by
    /// DuckDB, Spark, Trino, pandas/pyarrow).
    Export(export::ExportArgs),
    /// Apply a file of decisions to nftables directly (tests, trying enforcement by hand).
    #[command(hide = true)]
    Enforce(enforce::EnforceArgs),
    /// Decisions (bans, rate limits, watches): list, add, delete, flush, export for nftables
    /// or fail2ban. A running sensor picks changes up within a second.
    Decisions(decisions::DecisionsArgs),
    /// Detection rules: check rule files, backtest rules on captures or a store.
    Rules(rules::RulesCommand),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Ingest(args) => ingest::run(args),
        #[cfg(feature = "live")]
        Command::Capture(args) => capture::run(args),
        Command::Hep(args) => hep::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Import(args) => import::run(args),
        Command::Honeypot(args) => honeypot::run(args),
        Command::Init(args) => honeypot::init(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Report(args) => report::run(args),
        Command::Export(args) => export::run(args),
        Command::Enforce(args) => enforce::run(args),
        Command::Decisions(args) => decisions::run(args),
        Command::Rules(args) => rules::run(args),
    }
}

/// This host's name (the default sensor name), from /etc/hostname or the environment.
fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "sensor".to_owned())
}

/// This host's addresses (every interface's), which no decision may reach.
fn own_addresses() -> Vec<std::net::IpAddr> {
    sipscope::act::policy::responder::host_addresses()
}

/// When a run that reads until stopped (`capture`, `hep`) stops by itself.
#[derive(Debug, clap::Args)]
struct StopArgs {
    /// Stop after N packets (captured after the filter, or received).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop after SECS seconds (decimals allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    duration: Option<std::time::Duration>,
}

/// A `--duration` in seconds (decimals allowed), above zero.
fn parse_secs(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>().ok().and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("expected a number of seconds > 0, not {s:?}")),
    }
}

/// A flag SIGINT and SIGTERM set, for run loops that stop cleanly; a second signal (flag
/// already set) exits at once with the shell's 128 + signal status.
fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use anyhow::Context;
    use std::sync::Arc;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let status = 128 + signal;
        signal_hook::flag::register_conditional_shutdown(signal, status, Arc::clone(&stop))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    Ok(stop)
}

#[cfg(test)]
mod tests {
    /// clap checks a command line's consistency (argument ids unique across flattened flag
    /// groups, conflicts naming real arguments) only when it is built: every subcommand is
    /// built here, so a clash fails a test instead of `sipscope SUBCOMMAND` at run time.
    #[test]
    fn every_subcommands_arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
