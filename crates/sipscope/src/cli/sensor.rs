//! `sipscope sensor status --db PATH [--nats-stream NAME] [--json]`: how far the broker has
//! acknowledged what this sensor's store holds (its outbox): per kind the newest row, the
//! last acknowledged, how many wait (the lag) and when the last ack came; and, while the
//! publisher fails (a broker away or refusing), since when and why.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SensorArgs {
    #[command(subcommand)]
    command: SensorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SensorCommand {
    /// The outbox: rows stored, acknowledged by the broker, waiting; the last ack's time.
    Status(StatusArgs),
    /// Publishes what waits in a store's outbox and exits (a store written without --nats, or
    /// left behind while the broker was away).
    Publish(Box<PublishArgs>),
}

#[derive(Debug, clap::Args)]
struct PublishArgs {
    /// The sensor's store.
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// The sensor name it publishes as (the subject and message ids; default: this host's
    /// name): the name the store's writer used.
    #[arg(long)]
    sensor: Option<String>,
    /// Give up after SECS seconds with rows still waiting (exit status 1).
    #[arg(long, default_value = "60", value_parser = super::parse_secs, value_name = "SECS")]
    timeout: std::time::Duration,
    #[command(flatten)]
    nats: super::nats_args::NatsArgs,
}

fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    crate::init_logging("warn,async_nats=off");
    let config = args.nats.config().context("sensor publish needs --nats URL")?;
    let stream = config.stream.name.clone();
    let sensor = args.sensor.clone().unwrap_or_else(super::host_name);
    let outbox = sipscope::sinks::open_outbox(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let mut publisher = sipscope::sinks::nats::Publisher::spawn(config, sensor, outbox)?;
    let deadline = std::time::Instant::now() + args.timeout;
    let waiting = loop {
        let waiting: u64 = sipscope::sinks::outbox_state(&args.db, &stream)?.iter().map(|s| s.waiting).sum();
        if waiting == 0 || std::time::Instant::now() >= deadline {
            break waiting;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let status = publisher.status();
    publisher.stop();
    eprintln!("published {} messages; {waiting} waiting", status.acked);
    if waiting > 0 {
        if let Some(e) = status.last_error {
            eprintln!("sipscope: the broker: {e}");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The sensor's store.
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// The stream it publishes to.
    #[arg(long, default_value = "SIPSCOPE", value_name = "NAME")]
    nats_stream: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SensorArgs) -> anyhow::Result<ExitCode> {
    let args = match args.command {
        SensorCommand::Status(args) => args,
        SensorCommand::Publish(args) => return publish(*args),
    };
    let state = sipscope::sinks::outbox_state(&args.db, &args.nats_stream)
        .with_context(|| format!("reading {}", args.db.display()))?;
    let failure = sipscope::sinks::outbox_failure(&args.db, &args.nats_stream)
        .with_context(|| format!("reading {}", args.db.display()))?;
    let now = sipscope::time::now_ns();
    let ago = |t: i64| now.saturating_sub(t) as f64 / 1e9;
    if args.json {
        let kinds: Vec<serde_json::Value> = state
            .iter()
            .map(|s| {
                serde_json::json!({
                    "kind": s.kind.as_str(),
                    "newest": s.newest,
                    "acked": s.acked,
                    "waiting": s.waiting,
                    "last_ack_ns": s.acked_ns,
                    "last_ack_age_seconds": s.acked_ns.map(|t| now.saturating_sub(t) as f64 / 1e9),
                })
            })
            .collect();
        let waiting: u64 = state.iter().map(|s| s.waiting).sum();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "stream": args.nats_stream,
                "waiting": waiting,
                "kinds": kinds,
                "failing": failure.as_ref().map(|f| serde_json::json!({
                    "failures": f.failures,
                    "last_error": f.last_error,
                    "last_error_age_seconds": ago(f.last_ns),
                    "failing_for_seconds": ago(f.since_ns),
                })),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("stream {}", sipscope::output::escape::terminal(&args.nats_stream, 64));
    println!("{:<13} {:>12} {:>12} {:>10} {:>14}", "kind", "newest", "acked", "waiting", "last ack ago s");
    for s in &state {
        let ago = s.acked_ns.map_or("never".to_owned(), |t| format!("{:.1}", now.saturating_sub(t) as f64 / 1e9));
        println!("{:<13} {:>12} {:>12} {:>10} {:>14}", s.kind.as_str(), s.newest, s.acked, s.waiting, ago);
    }
    if let Some(f) = failure {
        println!(
            "publishing fails for {:.0} s ({} failures), last {:.0} s ago: {}",
            ago(f.since_ns),
            f.failures,
            ago(f.last_ns),
            sipscope::output::escape::terminal(&f.last_error, 512)
        );
    }
    Ok(ExitCode::SUCCESS)
}
