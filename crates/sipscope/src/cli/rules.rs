//! `sipscope rules check FILE...` and `sipscope rules test [--rules FILE] CAPTURE...|--db STORE`,
//! and the `--rules FILE` / `--no-rules` flags of the commands that run the pipeline.

use anyhow::Context;
use sipscope::pipeline::{EventsMode, Pipeline, PipelineSettings};
use sipscope::reports::model::Report;
use sipscope::rules::{RuleSet, RulesConfig};
use sipscope::sinks::{RunKind, SinkConfig};
use sipscope::sources::files::{self, FilesOptions};
use sipscope::sources::replay::EventNodes;
use sipscope::store::{Filter, SqliteReader, StoreReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The flags that choose the rules of a command.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// A rule file added to the built-in pack (repeatable); its rules replace built-in rules
    /// of the same id.
    #[arg(long = "rules", value_name = "FILE")]
    rule_files: Vec<PathBuf>,
    /// Run no rules (no alerts).
    #[arg(long, conflicts_with = "rule_files")]
    no_rules: bool,
}

impl RulesArgs {
    /// The rules asked for; `None` with `--no-rules`.
    pub fn load(&self) -> anyhow::Result<Option<Arc<RuleSet>>> {
        let config = RulesConfig { enabled: !self.no_rules, files: self.rule_files.clone(), disable: Vec::new() };
        RuleSet::load(&config).map_err(|e| anyhow::anyhow!("rules:\n{e}"))
    }
}

#[derive(Debug, clap::Args)]
pub struct RulesCommand {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Check rule files: every problem with its file and line; exit status 1 when any.
    Check(CheckArgs),
    /// Backtest: run the rules (the built-in pack and --rules files) over captures or a store
    /// with event time and print, per rule, its alerts, sources, what it asks for and its
    /// first evidence. Nothing is written to the store; no decision is taken.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Rule files (TOML).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct TestArgs {
    #[command(flatten)]
    rules: RulesArgs,
    /// Replay the events of this store instead of captures.
    #[arg(long, value_name = "STORE", conflicts_with = "captures")]
    db: Option<PathBuf>,
    /// Nodes file (TOML), for rules about nodes.
    #[arg(long)]
    nodes: Option<PathBuf>,
    /// Print the alerts section as JSON.
    #[arg(long)]
    json: bool,
    /// pcap / pcapng files or directories of them.
    #[arg(value_name = "CAPTURE", required_unless_present = "db")]
    captures: Vec<PathBuf>,
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd.command {
        Sub::Check(args) => check(&args),
        Sub::Test(args) => test(&args),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in &args.files {
        match RuleSet::read_file(path, &Default::default()) {
            Ok(rules) => println!(
                "{}: {} rules ok",
                sipscope::output::escape::terminal(&path.display().to_string(), 200),
                rules.len()
            ),
            Err(e) => {
                failed = true;
                for problem in e.0 {
                    println!("{}", sipscope::output::escape::terminal(&problem.to_string(), 1000));
                }
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// A directory of our own for the backtest's scratch store, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let name = format!("sipscope-rules-test-{}-{}", std::process::id(), sipscope::time::now_ns());
        let dir = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a scratch directory left behind holds only the backtest's alerts.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let rules = args.rules.load()?.context("--no-rules: nothing to test")?;
    let scratch = Scratch::new()?;
    let store = scratch.0.join("backtest.db");
    let nodes = match &args.nodes {
        Some(path) => sipscope::nodes::Nodes::load(path)?,
        None => sipscope::nodes::Nodes::default(),
    };
    let sinks = sipscope::sinks::open(&SinkConfig {
        store: store.clone(),
        jsonl: None,
        hep_out: None,
        backlog: None,
        nats: None,
        retention_days: None,
    })?;
    match &args.db {
        Some(db) => {
            let mut settings = sipscope::sources::replay::settings(
                RunKind::Analyze,
                false,
                "backtest",
                Default::default(),
                Some(rules),
            );
            settings.analysis = None;
            // A nodes file given here wins over the stored nodes, as for `analyze --nodes`.
            let event_nodes = if args.nodes.is_some() { EventNodes::Derived } else { EventNodes::Stored };
            settings.nodes = nodes;
            let mut pipeline = Pipeline::new(settings, sinks.store, Vec::new());
            let reader = super::open_reader(db)?;
            reader.each_event(&mut |ev| sipscope::sources::replay::accept(&mut pipeline, &ev, event_nodes))?;
            pipeline.finish(sipscope::time::now_ns())?;
        }
        None => {
            let mut settings = PipelineSettings::new("backtest".into(), nodes, RunKind::Ingest);
            settings.events = EventsMode::None;
            settings.analysis = None;
            settings.rules = Some(rules);
            let inputs = files::collect_files(&args.captures).context("listing inputs")?;
            let opts = FilesOptions { force: true, quiet: true, sensor: "backtest".into() };
            let summary = files::run(&inputs, Pipeline::new(settings, sinks.store, Vec::new()), &opts)?;
            for p in &summary.problem_list {
                eprintln!("{}", sipscope::output::escape::terminal(p, 500));
            }
        }
    }
    print_alerts(&store, args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_alerts(store: &Path, json: bool) -> anyhow::Result<()> {
    let reader = SqliteReader::open(store)?;
    let inputs = sipscope::reports::Inputs {
        store: &reader as &dyn StoreReader,
        filter: &Filter::default(),
        geo: &sipscope::enrich::Enricher::none(),
        comparison: None,
        nodes: None,
        hilbert: Default::default(),
        report_time_nodes: None,
    };
    let report: Report = sipscope::reports::build(&inputs, &["alerts".to_owned()])?;
    if json {
        println!("{}", sipscope::reports::render::json(&report));
    } else {
        print!("{}", sipscope::reports::render::text(&report));
    }
    Ok(())
}
