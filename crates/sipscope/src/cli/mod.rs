//! Command-line interface: one module per subcommand, dispatched from [`run`].

mod parse;

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
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Parse(args) => parse::run(args),
    }
}
