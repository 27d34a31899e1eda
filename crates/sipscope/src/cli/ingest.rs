//! `sipscope ingest [--db PATH] [--sensor NAME] [--nodes FILE] [--events MODE] [--force] [--json] PATH...`

use anyhow::Context;
use sipscope::ingest::{self, EventOptions, EventsMode, IngestOptions};
use sipscope::nodes::Nodes;
use sipscope::sinks::sqlite::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The event store (SQLite), created when missing.
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// Sensor name stored with every event (default: this host's name).
    #[arg(long)]
    sensor: Option<String>,
    /// Nodes file (TOML): which node each event hit, by address or tunnel endpoint.
    #[arg(long)]
    nodes: Option<PathBuf>,
    /// Which events to store: all, none (counts only), or sample:N (one in N).
    #[arg(long, default_value = "all")]
    events: EventsMode,
    /// Ingest files again even when the same content was ingested before.
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    /// pcap / pcapng files (optionally gzip or zstd compressed) or directories of them.
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let nodes = match &args.nodes {
        Some(path) => Nodes::load(path)?,
        None => Nodes::default(),
    };
    let files = ingest::collect_files(&args.inputs).context("listing inputs")?;
    let mut store = Store::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let opts = IngestOptions {
        events: EventOptions { sensor: args.sensor.unwrap_or_else(super::host_name), nodes, events: args.events },
        force: args.force,
        quiet: args.quiet,
    };
    let summary = ingest::run(&files, &mut store, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(if summary.skipped_anything() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
