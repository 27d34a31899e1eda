//! `sipscope ingest [--db PATH] [--sensor NAME] [--nodes FILE] [--events MODE] [--force] [--json] PATH...`

use anyhow::Context;
use sipscope::ingest::{self, IngestOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    store: super::store_args::StoreArgs,
    /// Ingest files again even when the same content was ingested before.
    #[arg(long)]
    force: bool,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    /// pcap / pcapng files (optionally gzip or zstd compressed) or directories of them.
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let events = args.store.event_options()?;
    let files = ingest::collect_files(&args.inputs).context("listing inputs")?;
    let store = args.store.open_store()?;
    let opts = IngestOptions { events, force: args.force, quiet: args.quiet };
    let summary = ingest::run(&files, store, &opts)?;
    args.store.finish(&summary)
}
