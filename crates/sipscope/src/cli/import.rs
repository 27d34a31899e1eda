//! `sipscope import sentrypeer [store flags] [--utc-offset ±HH:MM] [--force] FILE...`: records
//! another tool kept, into the store (docs/sentrypeer-import.md).

use anyhow::Context;
use sipscope::pipeline::Unparsed;
use sipscope::sinks::RunKind;
use sipscope::sources::sentrypeer::{self, row::ImportLimits, ImportOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    from: ImportFrom,
}

#[derive(Debug, clap::Subcommand)]
enum ImportFrom {
    /// SentryPeer's JSON log (`--json-log`) or SQLite database (its `honey` table).
    Sentrypeer(SentryPeerArgs),
}

#[derive(Debug, clap::Args)]
struct SentryPeerArgs {
    #[command(flatten)]
    store: super::store_args::StoreArgs,
    /// The SentryPeer host's offset from UTC: its `event_timestamp` is local time without a
    /// zone. (A missing `event_timestamp` falls back on the database's `created_at`, UTC.)
    #[arg(long, default_value = "+00:00", value_name = "±HH:MM", value_parser = parse_offset, allow_hyphen_values = true)]
    utc_offset: i64,
    /// Import files again even when the same content was imported before.
    #[arg(long)]
    force: bool,
    /// Longest JSON log line read, bytes.
    #[arg(long, default_value_t = ImportLimits::default().max_line_bytes, value_name = "BYTES")]
    max_line_bytes: usize,
    /// SentryPeer JSON logs and databases, or directories of them.
    #[arg(required = true, value_name = "FILE")]
    inputs: Vec<PathBuf>,
}

/// `+HH:MM`, `-HH:MM` or `Z` as seconds east of UTC.
fn parse_offset(s: &str) -> Result<i64, String> {
    let bad = || format!("expected an offset from UTC like +02:00, -05:30 or Z, not {s:?}");
    if s == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, s.get(1..).unwrap_or_default()),
        Some(b'-') => (-1, s.get(1..).unwrap_or_default()),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 || h < 0 || m < 0 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let ImportFrom::Sentrypeer(args) = args.from;
    let mut settings = args.store.settings(RunKind::Ingest)?;
    settings.source = sipscope::metrics::Source::Import;
    // Everything SentryPeer kept is stored, SIP or not, like the honeypot's own records.
    settings.unparsed = Unparsed::Keep;
    let sensor_per_node = !args.store.sensor_given();
    if sensor_per_node {
        settings.sensor = "sentrypeer".to_owned();
    }
    let files = sipscope::sources::files::collect_files(&args.inputs).context("listing inputs")?;
    let limits = ImportLimits { max_line_bytes: args.max_line_bytes.max(1), ..ImportLimits::default() };
    let opts = ImportOptions {
        force: args.force,
        utc_offset_s: args.utc_offset,
        sensor_per_node,
        sensor: settings.sensor.clone(),
        limits,
    };
    let pipeline = args.store.pipeline(settings)?;
    let summary = sentrypeer::run(&files, pipeline, &opts)?;
    if args.store.json() {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(if summary.skipped_anything() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets() {
        assert_eq!(super::parse_offset("+02:00"), Ok(7200));
        assert_eq!(super::parse_offset("-05:30"), Ok(-19800));
        assert_eq!(super::parse_offset("Z"), Ok(0));
        for bad in ["", "02:00", "+2", "+15:00", "+01:60", "+-1:00"] {
            assert!(super::parse_offset(bad).is_err(), "{bad}");
        }
    }
}
