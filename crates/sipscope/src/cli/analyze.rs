//! `sipscope analyze [--db PATH] [--config FILE] [--json]`: recomputes every analysis table
//! (flows, fingerprints and tools, stages, numbers, user agents, sources, daily activity) from
//! the stored events, replacing the results of earlier runs.

use anyhow::Context;
use sipscope::analysis::engine::{AnalysisConfig, Analyzer};
use sipscope::event::Transport;
use sipscope::sinks::sqlite::Store;
use sipscope::store::{SqliteReader, StoreReader};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The event store (SQLite).
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// Analysis settings (TOML, see docs/analysis.md); defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    json: bool,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let config: AnalysisConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None => AnalysisConfig::default(),
    };
    if !args.db.exists() {
        anyhow::bail!("{} does not exist", args.db.display());
    }
    let mut store = Store::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let started = sipscope::honeypot::net::now_ns();
    let mut analyzer = Analyzer::new(config);
    let reader = SqliteReader::open(&args.db)?;
    reader.each_event(&mut |ev| {
        let framing = if ev.transport == Transport::Udp {
            sipscope_sip::Transport::Datagram
        } else {
            sipscope_sip::Transport::Stream
        };
        let msg = sipscope_sip::Message::parse_with(&ev.raw, framing, sipscope_sip::Limits::default()).ok();
        analyzer.observe(&ev, msg.as_ref());
    })?;
    drop(reader);
    let result = analyzer.finish();
    let run = store.store_analysis("analyze", started, sipscope::honeypot::net::now_ns(), &result, true)?;
    let summary = sipscope::analysis::summary::Summary::of(&result, run);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
