//! `sipscope sensor status --db PATH [--nats-stream NAME] [--json]`: how far the broker has
//! acknowledged what this sensor's store holds (its outbox): per kind the newest row, the
//! last acknowledged, how many wait (the lag) and when the last ack came.

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
    let SensorCommand::Status(args) = args.command;
    let state = sipscope::sinks::outbox_state(&args.db, &args.nats_stream)
        .with_context(|| format!("reading {}", args.db.display()))?;
    let now = sipscope::time::now_ns();
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
            serde_json::to_string_pretty(
                &serde_json::json!({ "stream": args.nats_stream, "waiting": waiting, "kinds": kinds })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("stream {}", sipscope::output::escape::terminal(&args.nats_stream, 64));
    println!("{:<13} {:>12} {:>12} {:>10} {:>14}", "kind", "newest", "acked", "waiting", "last ack ago s");
    for s in &state {
        let ago = s.acked_ns.map_or("never".to_owned(), |t| format!("{:.1}", now.saturating_sub(t) as f64 / 1e9));
        println!("{:<13} {:>12} {:>12} {:>10} {:>14}", s.kind.as_str(), s.newest, s.acked, s.waiting, ago);
    }
    Ok(ExitCode::SUCCESS)
}
