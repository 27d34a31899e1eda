//! `sipscope hep --listen [udp:|tcp:|tls:]ADDR... (--keys FILE | --no-auth) [--tls-cert PEM
//! --tls-key PEM [--tls-client-ca PEM]] [--max-connections N] [--queue-mib MIB] [--count N]
//! [--duration SECS] [--metrics ADDR:PORT]` and the store flags.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops cleanly: what was received is stored, the analysis run
//! finished and the summary printed. A second signal exits at once.

use sipscope::pipeline::Unparsed;
use sipscope::sinks::RunKind;
use sipscope::sources::hep::ingest::Auth;
use sipscope::sources::hep::keys::Keys;
use sipscope::sources::hep::net::NetLimits;
use sipscope::sources::hep::run::{self, HepOptions, Listen, TlsFiles};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct HepArgs {
    /// Where to listen: `ADDR:PORT` (UDP and TCP), `udp:ADDR:PORT`, `tcp:ADDR:PORT` or
    /// `tls:ADDR:PORT`. Repeat for several.
    #[arg(long, value_name = "ADDR", required = true)]
    listen: Vec<Listen>,
    /// Keys file (TOML): the capture nodes allowed to send, their keys and sensor names.
    #[arg(long, value_name = "FILE", required_unless_present = "no_auth")]
    keys: Option<PathBuf>,
    /// Take packets from anyone, without a key (a collector on a network only trusted senders
    /// reach). The sensor is then the node's printable name, or hep-<id>.
    #[arg(long, conflicts_with = "keys")]
    no_auth: bool,
    /// Certificate chain (PEM) of `tls:` listeners.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `tls:` listeners.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require TLS senders to present a certificate signed by one of these CAs (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// TCP and TLS streams open at once.
    #[arg(long, default_value_t = NetLimits::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Memory (MiB) for packets received and not yet taken by the pipeline: a burst faster
    /// than the store writes is held here and stored as the pipeline catches up.
    #[arg(long, default_value_t = (NetLimits::default().queue_bytes >> 20) as u64, value_name = "MIB",
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    queue_mib: u64,
    #[command(flatten)]
    store: super::store_args::StoreArgs,
    #[command(flatten)]
    stop: super::StopArgs,
    #[command(flatten)]
    metrics: super::metrics_args::MetricsArgs,
}

pub fn run(args: HepArgs) -> anyhow::Result<ExitCode> {
    let auth = match &args.keys {
        Some(path) => Auth::Keys(Keys::load(path)?),
        None => Auth::Open,
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key, client_ca: args.tls_client_ca }),
        _ => None,
    };
    let opts = HepOptions {
        listen: args.listen,
        tls,
        auth,
        limits: sipscope_hep::Limits::default(),
        net: NetLimits {
            max_connections: args.max_connections,
            queue_bytes: usize::try_from(args.queue_mib << 20).unwrap_or(usize::MAX),
            ..NetLimits::default()
        },
        count: args.stop.count,
        duration: args.stop.duration,
    };
    let mut settings = args.store.settings(RunKind::Capture)?;
    settings.source = sipscope::metrics::Source::Hep;
    // A payload a capture node forwarded as SIP is kept even when it does not parse.
    settings.unparsed = Unparsed::Keep;
    // The sockets first: a wrong address leaves no store behind.
    let bound = run::bind(&opts)?;
    let pipeline = args.store.pipeline(settings)?;
    let _metrics = super::metrics_args::start(args.metrics.addr())?;

    let stop = super::stop_on_signals()?;
    let listening: Vec<String> = opts.listen.iter().map(ToString::to_string).collect();
    eprintln!("sipscope: HEP collector on {}; Ctrl-C stops", listening.join(", "));
    let summary = run::run(bound, pipeline, &opts, &stop)?;
    if args.store.json() {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
