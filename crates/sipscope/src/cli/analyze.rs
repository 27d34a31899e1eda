//! `sipscope analyze [--db PATH] [--config FILE] [--json]`: recomputes every analysis table
//! (flows, fingerprints and tools, stages, numbers, user agents, sources, daily activity) from
//! the stored events, replacing the results of earlier runs.

use anyhow::Context;
use sipscope::analysis::engine::AnalysisConfig;
use sipscope::pipeline::Pipeline;
use sipscope::sinks::{RunKind, SinkConfig};
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
    if !args.db.exists() {
        anyhow::bail!("{} does not exist", args.db.display());
    }
    let sinks = sipscope::sinks::open(&SinkConfig { store: args.db.clone(), jsonl: None, backlog: None })
        .with_context(|| format!("opening {}", args.db.display()))?;
    // A replay: every stored event goes through the same pipeline as when it arrived, with
    // its stored node and nothing stored again; the results replace every earlier run.
    let settings = sipscope::sources::replay::settings(RunKind::Analyze, true, "", config, args.rules.load()?);
    let mut pipeline = Pipeline::new(settings, sinks.store, Vec::new());
    let started = sipscope::time::now_ns();
    pipeline.begin_analysis(started)?;
    let reader = SqliteReader::open(&args.db)?;
    reader.each_event(&mut |ev| sipscope::sources::replay::accept(&mut pipeline, &ev))?;
    drop(reader);
    let finished = pipeline.finish(sipscope::time::now_ns())?;
    let summary = finished.analysis.context("the analysis run was not recorded")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
