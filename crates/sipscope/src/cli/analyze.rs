//! `sipscope analyze [--db PATH] [--config FILE] [--nodes FILE] [--json]`: recomputes every
//! analysis table (flows, fingerprints and tools, stages, numbers, user agents, sources, daily
//! activity) from the stored events, replacing the results of earlier runs; with `--nodes`,
//! every event's node is derived again from its addresses and tunnel.

use anyhow::Context;
use sipscope::analysis::engine::AnalysisConfig;
use sipscope::sinks::SinkConfig;
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
    /// Nodes file (TOML): the node of every event is derived again from its addresses and
    /// tunnel with this file, which wins over the node stored at ingest (the stored events
    /// keep theirs; a later `analyze` without `--nodes` goes back to them).
    #[arg(long, value_name = "FILE")]
    nodes: Option<PathBuf>,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rules: super::rules::RulesArgs,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let config: AnalysisConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None => AnalysisConfig::default(),
    };
    let nodes = args.nodes.as_deref().map(sipscope::nodes::Nodes::load).transpose()?;
    let name = sipscope::sinks::store_name(&args.db);
    if !args.db.exists() && sipscope::sinks::postgres_url(&args.db).is_none() {
        anyhow::bail!("{name} does not exist");
    }
    let sinks = sipscope::sinks::open(&SinkConfig {
        store: args.db.clone(),
        jsonl: None,
        hep_out: None,
        backlog: None,
        nats: None,
        retention_days: None,
    })
    .with_context(|| format!("opening {name}"))?;
    // A replay: every stored event goes through the same pipeline as when it arrived, with
    // its stored node (or the nodes file's) and nothing stored again; the results replace
    // every earlier run.
    let started = sipscope::time::now_ns();
    let reader = sipscope::store::open(&args.db)?;
    let finished =
        sipscope::sources::replay::analyse_all(&*reader, sinks.store, config, args.rules.load()?, nodes, started)?;
    drop(reader);
    let summary = finished.analysis.context("the analysis run was not recorded")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
