//! `sipscope capture --iface IF [--filter BPF] [--promisc] [--db PATH] [--sensor NAME] [--nodes FILE]
//! [--events MODE] [--count N] [--duration SECS] [--metrics ADDR:PORT] [--json]`
//!
//! Ctrl-C (SIGINT) or SIGTERM stops cleanly: the decoder is drained, the store flushed and the
//! summary printed. A second signal exits at once (what was committed stays in the store).

use sipscope::sinks::RunKind;
use sipscope::sources::live::{self, LiveCapture, LiveOptions};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Network interface to capture on (`any` for all of them).
    #[arg(long, short, value_name = "IF")]
    iface: String,
    /// Capture filter (BPF, tcpdump syntax), e.g. "udp port 5060 or tcp port 5060".
    #[arg(long, short, value_name = "BPF")]
    filter: Option<String>,
    /// Put the interface into promiscuous mode.
    #[arg(long)]
    promisc: bool,
    #[command(flatten)]
    store: super::store_args::StoreArgs,
    #[command(flatten)]
    stop: super::StopArgs,
    #[command(flatten)]
    metrics: super::metrics_args::MetricsArgs,
}

pub fn run(args: CaptureArgs) -> anyhow::Result<ExitCode> {
    let settings = args.store.settings(RunKind::Capture)?;
    let opts = LiveOptions {
        iface: args.iface,
        filter: args.filter,
        promisc: args.promisc,
        count: args.stop.count,
        duration: args.stop.duration,
    };
    // The handle first: a wrong interface or filter leaves no store behind.
    let capture = LiveCapture::open(&opts)?;
    let pipeline = args.store.pipeline(settings)?;
    let _metrics = super::metrics_args::start(args.metrics.addr())?;

    // The capture loop sees the flag within one read timeout.
    let stop = super::stop_on_signals()?;

    eprintln!("sipscope: capturing on {} ({}); Ctrl-C stops", capture.iface(), capture.link_type_name());
    let summary = live::run(capture, pipeline, &opts, &stop)?;
    args.store.finish(&summary)
}
