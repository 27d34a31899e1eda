//! `sipscope capture --iface IF [--filter BPF] [--promisc] [--db PATH] [--sensor NAME] [--nodes FILE]
//! [--events MODE] [--count N] [--duration SECS] [--json]`
//!
//! Ctrl-C (SIGINT) or SIGTERM stops cleanly: the decoder is drained, the store flushed and the
//! summary printed. A second signal exits at once (what was committed stays in the store).

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use sipscope::sinks::RunKind;
use sipscope::sources::live::{self, LiveCapture, LiveOptions};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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
    /// Stop after N packets (after the filter).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop after SECS seconds (decimals allowed).
    #[arg(long, value_name = "SECS", value_parser = super::parse_secs)]
    duration: Option<Duration>,
}

pub fn run(args: CaptureArgs) -> anyhow::Result<ExitCode> {
    let settings = args.store.settings(RunKind::Capture)?;
    let opts = LiveOptions {
        iface: args.iface,
        filter: args.filter,
        promisc: args.promisc,
        count: args.count,
        duration: args.duration,
    };
    // The handle first: a wrong interface or filter leaves no store behind.
    let capture = LiveCapture::open(&opts)?;
    let pipeline = args.store.pipeline(settings)?;

    // The handlers only set the flag; the capture loop sees it within one read timeout. A second
    // signal (flag already set) exits at once with the shell's 128 + signal status.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        let status = 128 + signal;
        signal_hook::flag::register_conditional_shutdown(signal, status, Arc::clone(&stop))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }

    eprintln!("sipscope: capturing on {} ({}); Ctrl-C stops", capture.iface(), capture.link_type_name());
    let summary = live::run(capture, pipeline, &opts, &stop)?;
    args.store.finish(&summary)
}
