//! Flags shared by the commands that write events (`ingest`, `capture`) and their ending.

use anyhow::Context;
use sipscope::ingest::summary::Summary;
use sipscope::ingest::{EventOptions, EventsMode};
use sipscope::nodes::Nodes;
use sipscope::sinks::sqlite::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
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
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Do not run the analysis engine (flows, tools, stages, numbers …); `sipscope analyze`
    /// can compute it later from stored events.
    #[arg(long)]
    no_analysis: bool,
}

impl StoreArgs {
    /// Reads the nodes file and settles the sensor name.
    pub fn event_options(&self) -> anyhow::Result<EventOptions> {
        let nodes = match &self.nodes {
            Some(path) => Nodes::load(path)?,
            None => Nodes::default(),
        };
        let sensor = self.sensor.clone().unwrap_or_else(super::host_name);
        Ok(EventOptions { sensor, nodes, events: self.events, analysis: !self.no_analysis })
    }

    /// Opens (creating and migrating) the store.
    pub fn open_store(&self) -> anyhow::Result<Store> {
        Store::open(&self.db).with_context(|| format!("opening {}", self.db.display()))
    }

    /// Prints the summary (text on stderr, or JSON on stdout) and picks the exit code.
    pub fn finish(&self, summary: &Summary) -> anyhow::Result<ExitCode> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(summary)?);
        } else {
            eprint!("{}", summary.to_text());
        }
        Ok(if summary.skipped_anything() { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }
}
