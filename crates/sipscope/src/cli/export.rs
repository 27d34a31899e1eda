//! `sipscope export --format parquet --out DIR [--db PATH] [--from T] [--to T] [--node N]...
//! [--events-only]`: the store's events and analysis tables as Parquet for big-data engines
//! (docs/export.md). Read-only.

use anyhow::Context;
use sipscope::enrich::Enricher;
use sipscope::reports::{self, HilbertChoice};
use sipscope::store::{Filter, SqliteReader, StoreReader};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Apache Parquet, one file per table.
    Parquet,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Schemas of the files: docs/export.md.")]
pub struct ExportArgs {
    /// The store (SQLite).
    #[arg(long, default_value = "sipscope.db")]
    db: PathBuf,
    /// Archive format.
    #[arg(long, value_enum, default_value = "parquet")]
    format: Format,
    /// Output directory, created when missing; the files it would write must not exist.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// From this time (inclusive): `2026-11-30`, `2026-11-30T05:00:00Z`, or Unix seconds.
    #[arg(long, value_parser = sipscope::time::parse_time)]
    from: Option<i64>,
    /// Until this time (exclusive), same forms.
    #[arg(long, value_parser = sipscope::time::parse_time)]
    to: Option<i64>,
    /// Only these nodes (repeat for several).
    #[arg(long = "node", value_name = "NODE")]
    nodes: Vec<String>,
    /// Only `events.parquet`, not the analysis tables.
    #[arg(long)]
    events_only: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let Format::Parquet = args.format;
    if !args.db.exists() {
        anyhow::bail!("{} does not exist", args.db.display());
    }
    let store = SqliteReader::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let filter = Filter { from_ns: args.from, to_ns: args.to, nodes: args.nodes.clone() };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let report = if args.events_only {
        None
    } else {
        let geo = Enricher::none();
        let inputs = reports::Inputs {
            store: &store as &dyn StoreReader,
            filter: &filter,
            geo: &geo,
            comparison: None,
            nodes: None,
            report_time_nodes: None,
            hilbert: HilbertChoice::default(),
        };
        Some(reports::build(&inputs, &[])?)
    };
    let exported = sipscope::archive::write(&store, &filter, report.as_ref(), &args.out)?;
    for (name, rows) in &exported.files {
        eprintln!("sipscope: {} rows → {}", rows, args.out.join(name).display());
    }
    Ok(ExitCode::SUCCESS)
}
