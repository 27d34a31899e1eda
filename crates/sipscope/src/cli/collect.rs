//! `sipscope collect --nats URL [--durable NAME] [--share-decisions] [--api ADDR:PORT] [store
//! flags]`: what the sensors publish to NATS JetStream into one store, through the same
//! analysis and rules (docs/collector.md), with the REST API and dashboard over that store
//! when `--api` is given (its live stream fed by this pipeline). `sipscope collect status --db PATH [--nats URL]` prints what it
//! stored per sensor and, with a broker, its consumer's backlog.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops cleanly: the batch in hand is stored and acknowledged,
//! the analysis run finished. A second signal exits at once (the broker delivers the
//! unacknowledged batch again; the positions recognise what was stored).

use anyhow::Context;
use sipscope::pipeline::Unparsed;
use sipscope::sinks::RunKind;
use sipscope::sources::collect::{self, CollectConfig, DecisionShare};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CollectArgs {
    #[command(subcommand)]
    command: Option<CollectCommand>,
    /// The durable consumer's name: give each collector store its own.
    #[arg(long, default_value = "sipscope-collector", value_name = "NAME")]
    durable: String,
    /// Rows stored and acknowledged at once (committed at the first message boundary at or
    /// past N, while the next rows are taken).
    #[arg(long, default_value_t = collect::DEFAULT_BATCH, value_name = "N")]
    batch: usize,
    /// Put the decisions in force of this store in the shared KV bucket that sensors with
    /// `[nats] watch_decisions` enforce.
    #[arg(long)]
    share_decisions: bool,
    /// The shared decisions' KV bucket.
    #[arg(long, default_value = "sipscope-decisions", value_name = "NAME")]
    decisions_bucket: String,
    /// How long a delivered batch may stay unacknowledged before the broker delivers it
    /// again (a collector killed mid-batch), seconds; set when the consumer is created.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    ack_wait: u64,
    /// Stop after N rows received (events and records; tests, benchmarks).
    #[arg(long, value_name = "N")]
    max_messages: Option<u64>,
    /// Stop when nothing arrived for SECS seconds (tests, benchmarks).
    #[arg(long, value_name = "SECS", value_parser = super::parse_secs)]
    idle_exit: Option<std::time::Duration>,
    #[command(flatten)]
    api: super::serve::ApiArgs,
    #[command(flatten)]
    metrics: super::metrics_args::MetricsArgs,
    #[command(flatten)]
    store: super::store_args::StoreArgs,
}

#[derive(Debug, clap::Subcommand)]
enum CollectCommand {
    /// What the collector stored per sensor (highest sequence, when) and, with --nats, its
    /// consumer's backlog.
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The collector's store.
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// The durable consumer's name.
    #[arg(long, default_value = "sipscope-collector", value_name = "NAME")]
    durable: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    nats: super::nats_args::NatsArgs,
}

pub fn run(mut args: CollectArgs) -> anyhow::Result<ExitCode> {
    if let Some(CollectCommand::Status(status)) = args.command {
        return print_status(status);
    }
    crate::init_logging("info,async_nats=off");
    let nats = args.store.consume_from_nats().context("collect needs --nats URL: the broker to consume from")?;
    let mut settings = args.store.settings(RunKind::Capture)?;
    // Sensors keep what does not parse (the honeypot does); so does the collector.
    settings.unparsed = Unparsed::Keep;
    settings.source = sipscope::metrics::Source::Collector;
    let by = settings.sensor.clone();
    let live = args.api.requested().then(sipscope::sinks::live::LiveFeed::default);
    let mut pipeline = args.store.pipeline_watched(settings, live.clone())?;
    pipeline.begin_analysis(sipscope::time::now_ns())?;
    let api = match live {
        Some(live) => args.api.start(args.store.db(), live)?,
        None => None,
    };
    let mut config = CollectConfig::new(nats);
    config.durable = args.durable.clone();
    config.batch = args.batch.max(1);
    config.max_messages = args.max_messages;
    config.ack_wait_seconds = args.ack_wait.max(1);
    config.idle_exit = args.idle_exit;
    if args.share_decisions {
        config.share_decisions =
            Some(DecisionShare { bucket: args.decisions_bucket.clone(), store: args.store.db().to_path_buf(), by });
    }
    let _metrics = super::metrics_args::start(args.metrics.addr())?;
    let stop = super::stop_on_signals()?;
    eprintln!(
        "sipscope: collecting from {} (stream {}); Ctrl-C stops",
        config.nats.display_url(),
        config.nats.stream.name
    );
    let result = collect::run(&config, &mut pipeline, &stop);
    if let Some(api) = api {
        api.stop();
    }
    let finished = pipeline.finish(sipscope::time::now_ns());
    let summary = result?;
    finished?;
    if args.store.json() {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprintln!(
            "collected {} rows in {} messages: {} events, {} records stored; {} duplicates and {} malformed \
             dropped; {} reconnects; {} decisions shared",
            summary.received,
            summary.messages,
            summary.events,
            summary.records,
            summary.duplicates,
            summary.malformed,
            summary.reconnects,
            summary.decisions_shared
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut status = collect::collector_status(&args.db).with_context(|| format!("reading {}", args.db.display()))?;
    if let Some(nats) = args.nats.config() {
        match collect::consumer_backlog(&nats, &args.durable) {
            Ok((pending, ack_pending)) => {
                status.pending = Some(pending);
                status.ack_pending = Some(ack_pending);
            }
            Err(e) => eprintln!("sipscope: the broker's backlog is unknown: {e}"),
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    let now = sipscope::time::now_ns();
    println!("{:<24} {:<13} {:>12} {:>14}", "sensor", "kind", "stored seq", "stored ago s");
    for p in &status.sensors {
        let ago = now.saturating_sub(p.stored_ns) as f64 / 1e9;
        let sensor = sipscope::output::escape::terminal(&p.sensor, 64);
        println!("{sensor:<24} {:<13} {:>12} {ago:>14.1}", p.kind, p.seq);
    }
    if let (Some(pending), Some(ack_pending)) = (status.pending, status.ack_pending) {
        println!("broker: {pending} messages waiting, {ack_pending} delivered and not yet acknowledged");
    }
    Ok(ExitCode::SUCCESS)
}
