//! Command-line interface: one module per subcommand, dispatched from [`run`].

mod analyze;
#[cfg(feature = "live")]
mod capture;
mod enforce;
mod honeypot;
mod ingest;
mod logs;
mod parse;
mod report;
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
    /// Apply a file of decisions to nftables directly (tests, trying enforcement by hand).
    #[command(hide = true)]
    Enforce(enforce::EnforceArgs),
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Ingest(args) => ingest::run(args),
        #[cfg(feature = "live")]
        Command::Capture(args) => capture::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Honeypot(args) => honeypot::run(args),
        Command::Init(args) => honeypot::init(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Report(args) => report::run(args),
        Command::Enforce(args) => enforce::run(args),
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
