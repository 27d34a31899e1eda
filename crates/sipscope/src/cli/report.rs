//! `sipscope report [--config FILE] [--db PATH] [--from T] [--to T] [--node N]...
//! [--nodes FILE [--stored-nodes]] [--format text|json|csv|html] [--out FILE] [SECTION...]`.
//! Read-only: a nodes file given here is applied by analysing the stored events again into a
//! scratch store, never into the store reported on.

use anyhow::Context;
use sipscope::enrich::{Enricher, GeoConfig};
use sipscope::reports::config::ReportConfig;
use sipscope::reports::{self, render, HilbertChoice, Prefix22, ReportTimeNodes};
use sipscope::store::overlay::Reanalysed;
use sipscope::store::{Filter, SqliteReader, StoreReader};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Csv,
    Html,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Flags override the configuration file. Sections and formats: docs/reports.md; \
the configuration file: docs/configuration.md.")]
pub struct ReportArgs {
    /// Configuration file (TOML): `[geo]` country_db, asn_db; `[report]` db, nodes. Relative
    /// paths in it are taken from its directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The store (SQLite); `sipscope.db` unless the configuration names one.
    #[arg(long)]
    db: Option<PathBuf>,
    /// From this time (inclusive): `2026-11-30`, `2026-11-30T05:00:00Z`, or Unix seconds.
    #[arg(long, value_parser = sipscope::time::parse_time)]
    from: Option<i64>,
    /// Until this time (exclusive), same forms.
    #[arg(long, value_parser = sipscope::time::parse_time)]
    to: Option<i64>,
    /// Only these nodes (repeat for several).
    #[arg(long = "node", value_name = "NODE")]
    nodes: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Country database (MaxMind-format .mmdb) for source countries; docs/enrichment.md.
    #[arg(long)]
    country_db: Option<PathBuf>,
    /// ASN database (.mmdb) for source ASNs.
    #[arg(long)]
    asn_db: Option<PathBuf>,
    /// The nodes file (as for ingest and the honeypot), applied at report time: every stored
    /// event's node is derived again from its addresses and tunnel and the events are
    /// analysed again (into a scratch store; the store is only read), so the per-node sections
    /// are as if the file had been given at ingest. Also names node addresses and sites in
    /// `stages`.
    #[arg(long = "nodes", value_name = "FILE")]
    nodes_file: Option<PathBuf>,
    /// With --nodes: keep the nodes the store's analysis has (given at ingest, or by `analyze
    /// --nodes`); the nodes file then only names addresses and sites. No analysis at report time.
    #[arg(long)]
    stored_nodes: bool,
    /// For `compare`: a group of nodes, `NAME=node,node` (give two).
    #[arg(long = "group", value_name = "NAME=NODES")]
    groups: Vec<String>,
    /// For `compare`: another store to compare this one with.
    #[arg(long)]
    compare_db: Option<PathBuf>,
    /// For `strategies`: draw the Hilbert picture of this source's widest flow (default: the
    /// widest flow of all).
    #[arg(long, value_name = "IP")]
    scan_source: Option<IpAddr>,
    /// For `strategies`: draw this /22 (any address inside it, e.g. 198.51.100.0/22; default:
    /// the /22 the flow hit most). IPv4 only.
    #[arg(long, value_name = "A.B.C.D/22")]
    scan_prefix: Option<Prefix22>,
    /// Output file (a directory for csv: one file per table); standard output when absent.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sections to include (all when none): summary, daily, stages, spread, overlap, compare,
    /// sources, countries, country-pairs, user-agents, tools, tools-by-year, tools-by-country,
    /// strategies, numbers, campaigns, passwords.
    sections: Vec<String>,
}

fn comparison(args: &ReportArgs) -> anyhow::Result<Option<reports::Comparison>> {
    if let Some(other) = &args.compare_db {
        let reader = super::open_reader(other)?;
        return Ok(Some(reports::Comparison::Store(sipscope::sinks::store_name(other), reader)));
    }
    let parse = |g: &String| -> anyhow::Result<(String, Vec<String>)> {
        let (name, nodes) = g.split_once('=').context("--group takes NAME=node,node")?;
        Ok((name.to_owned(), nodes.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect()))
    };
    match &args.groups[..] {
        [] => Ok(None),
        [a, b] => Ok(Some(reports::Comparison::Groups(parse(a)?, parse(b)?))),
        _ => anyhow::bail!("--group: give exactly two groups"),
    }
}

/// GeoIP databases: each flag wins over the file; a file-named database that cannot be opened
/// is reported against the file.
fn enricher(args: &ReportArgs, config: &ReportConfig) -> anyhow::Result<Enricher> {
    let geo = GeoConfig {
        country_db: args.country_db.clone().or_else(|| config.geo.country_db.clone()),
        asn_db: args.asn_db.clone().or_else(|| config.geo.asn_db.clone()),
    };
    let from_file = (args.country_db.is_none() && config.geo.country_db.is_some())
        || (args.asn_db.is_none() && config.geo.asn_db.is_some());
    let opened = Enricher::open(&geo);
    match (&args.config, from_file) {
        (Some(file), true) => opened.with_context(|| file.display().to_string()),
        _ => Ok(opened?),
    }
}

/// The stored events analysed again with a nodes file given at report time: the reader of
/// that analysis, kept with its scratch directory (removed when this is dropped).
struct Reanalysis {
    reader: SqliteReader,
    applied: ReportTimeNodes,
    _scratch: sipscope::fsutil::ScratchDir,
}

fn reanalyse(
    store: &dyn StoreReader,
    db: &std::path::Path,
    path: &std::path::Path,
    nodes: sipscope::nodes::Nodes,
) -> anyhow::Result<Reanalysis> {
    let contents = store.contents()?;
    if !contents.events && contents.traffic {
        anyhow::bail!(
            "{} keeps no events (ingested with --events none), so nodes cannot be applied at report time: \
             ingest again with --nodes, or give --stored-nodes to use the file for addresses and sites only",
            sipscope::sinks::store_name(db)
        );
    }
    let messages_before = store.traffic_summary(&Filter::default())?.all_messages;
    let scratch = sipscope::fsutil::ScratchDir::create("sipscope-report").context("creating a scratch directory")?;
    let (reader, finished) = sipscope::sources::replay::reanalyse_into(
        scratch.path(),
        store,
        nodes,
        sipscope::analysis::engine::AnalysisConfig::default(),
    )
    .with_context(|| {
        format!("analysing the events of {} again with {}", sipscope::sinks::store_name(db), path.display())
    })?;
    let events = finished.analysis.map_or(0, |a| a.events);
    let applied = ReportTimeNodes { file: path.display().to_string(), events, messages_before };
    Ok(Reanalysis { reader, applied, _scratch: scratch })
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.as_deref().map(ReportConfig::load).transpose()?.unwrap_or_default();
    let db = args.db.clone().or_else(|| config.report.db.clone()).unwrap_or_else(|| PathBuf::from("sipscope.db"));
    let store = super::open_reader(&db)?;
    let store: &dyn StoreReader = &*store;
    let filter = Filter { from_ns: args.from, to_ns: args.to, nodes: args.nodes.clone() };
    let geo = enricher(&args, &config)?;
    let comparison = comparison(&args)?;
    let nodes = match (&args.nodes_file, &config.report.nodes, &args.config) {
        (Some(flag), _, _) => Some((flag, sipscope::nodes::Nodes::load(flag)?)),
        (None, Some(named), Some(file)) => Some((
            named,
            sipscope::nodes::Nodes::load(named).with_context(|| format!("{}: [report] nodes", file.display()))?,
        )),
        _ => None,
    };
    let reanalysed = match &nodes {
        Some((path, nodes)) if !(args.stored_nodes || config.report.stored_nodes) => {
            Some(reanalyse(store, &db, path, nodes.clone())?)
        }
        _ => None,
    };
    let overlay = reanalysed.as_ref().map(|r| Reanalysed { stored: store, analysis: &r.reader });
    let inputs = reports::Inputs {
        store: overlay.as_ref().map_or(store, |o| o as &dyn StoreReader),
        filter: &filter,
        geo: &geo,
        comparison: comparison.as_ref(),
        nodes: nodes.as_ref().map(|(_, n)| n),
        report_time_nodes: reanalysed.as_ref().map(|r| &r.applied),
        hilbert: HilbertChoice { source: args.scan_source, prefix: args.scan_prefix },
    };
    let report = reports::build(&inputs, &args.sections)?;
    // The scratch store is not needed for writing the output: removed now.
    drop(reanalysed);
    let single = match args.format {
        Format::Text => Some(render::text(&report)),
        Format::Json => Some(render::json(&report)),
        Format::Html => Some(render::html(&report)),
        Format::Csv => None,
    };
    match (single, &args.out) {
        (Some(text), None) => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
        (Some(text), Some(path)) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        (None, out) => {
            let dir = out.clone().unwrap_or_else(|| PathBuf::from("report-csv"));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, text) in render::csv(&report) {
                // Names come from section and table names (ours), never from data.
                std::fs::write(dir.join(&name), text).with_context(|| format!("writing {name}"))?;
            }
            eprintln!("sipscope: CSV files written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
