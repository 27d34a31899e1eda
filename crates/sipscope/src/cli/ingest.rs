//! `sipscope ingest [--db PATH] [--sensor NAME] [--nodes FILE] [--events MODE] [--force] [--json] PATH...`

use anyhow::Context;
use sipscope::sinks::RunKind;
use sipscope::sources::files::{self, FilesOptions};
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
    let settings = args.store.settings(RunKind::Ingest)?;
    let files = files::collect_files(&args.inputs).context("listing inputs")?;
    let opts = FilesOptions { force: args.force, quiet: args.quiet, sensor: settings.sensor.clone() };
    let pipeline = args.store.pipeline(settings)?;
    let summary = files::run(&files, pipeline, &opts)?;
    args.store.finish(&summary)
}
