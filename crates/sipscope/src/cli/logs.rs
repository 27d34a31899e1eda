//! `sipscope logs --format asterisk|freeswitch [--follow [--metrics ADDR:PORT]] [--positions FILE] [--utc-offset ±HH:MM]
//! [--max-line-bytes N] [--poll-ms MS] [--db PATH] [--sensor NAME] [--json] FILE...`
//!
//! Reads PBX logs into the store as authentication attempts (docs/pbx-logs.md). Positions are
//! kept per file, so a second run reads only what was added; `--follow` keeps reading across
//! rotation until Ctrl-C or SIGTERM (a second signal exits at once).

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use sipscope::sinks::RunKind;
use sipscope::sources::pbx_logs::follow::Follower;
use sipscope::sources::pbx_logs::read::{LogIngest, LogSummary};
use sipscope::sources::pbx_logs::{LineLimits, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Which PBX wrote the logs: asterisk (security events; chan_sip, res_pjsip, manager and IAX2
    /// notices; FreePBX's rejected calls) or freeswitch (mod_sofia warnings).
    #[arg(long)]
    format: LogFormat,
    /// Keep reading as the files grow, across rotation, until Ctrl-C.
    #[arg(long)]
    follow: bool,
    /// With --follow: serve Prometheus metrics at http://ADDR:PORT/metrics (docs/metrics.md).
    #[arg(long, value_name = "ADDR:PORT", requires = "follow")]
    metrics: Option<std::net::SocketAddr>,
    /// Where reading stopped in each file [default: the store's path + `.log-positions`].
    #[arg(long, value_name = "FILE")]
    positions: Option<PathBuf>,
    /// The PBX's local time offset from UTC, for stamps without a zone (Asterisk writes
    /// local time).
    #[arg(long, default_value = "+00:00", value_name = "±HH:MM", value_parser = parse_offset, allow_hyphen_values = true)]
    utc_offset: i64,
    /// Longest line read; longer lines are skipped and counted.
    #[arg(long, default_value_t = LineLimits::default().max_line_bytes, value_name = "BYTES")]
    max_line_bytes: usize,
    /// How often the files are checked when following, milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..))]
    poll_ms: u64,
    #[command(flatten)]
    store: super::store_args::StoreArgs,
    /// The log files (followed by name: a rotated file's successor is read too).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// `+01:00`, `-0530`, `+2` → seconds.
fn parse_offset(s: &str) -> Result<i64, String> {
    let bad = || format!("expected an offset like +01:00 or -05:30, not {s:?}");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m) = if digits.len() <= 2 { (&digits[..], "0") } else { digits.split_at(digits.len() - 2) };
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let mut settings = args.store.settings(RunKind::Ingest)?;
    settings.source = sipscope::metrics::Source::Logs;
    // Attempts feed the analysis as the requests they describe (docs/analysis.md); a followed
    // log is a long run, stored in segments like a capture's, whose rules act at once.
    if args.follow {
        settings.segment_every_ns = Some(args.store.analysis_segment_ns());
        settings.rules_on = sipscope::pipeline::RulesOn::Pipeline;
    }
    let sensor = settings.sensor.clone();
    let positions =
        args.positions.clone().unwrap_or_else(|| sipscope::fsutil::with_suffix(args.store.db(), ".log-positions"));
    let limits = LineLimits { max_line_bytes: args.max_line_bytes };
    let mut follower = Follower::new(&args.files, positions, limits, args.utc_offset)?;
    let pipeline = args.store.pipeline(settings)?;
    let mut ingest = LogIngest::new(pipeline, args.format, args.utc_offset, sensor)?;
    let _metrics = super::metrics_args::start(args.metrics)?;
    let started = std::time::Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    if args.follow {
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stop))
                .context("installing the signal handler")?;
            signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
        }
        eprintln!("sipscope: following {} files; Ctrl-C stops", args.files.len());
    }
    loop {
        let before = (ingest.summary.lines, ingest.summary.oversized, ingest.summary.files);
        follower.poll(&mut ingest);
        if ingest.failed() {
            break;
        }
        if before != (ingest.summary.lines, ingest.summary.oversized, ingest.summary.files) {
            // Positions only after the store committed what they cover.
            ingest.commit().context("storing attempts")?;
            follower.save()?;
        }
        if !args.follow || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_millis(args.poll_ms));
        if stop.load(Ordering::Relaxed) {
            // One more poll: what was written before the signal is read.
            follower.poll(&mut ingest);
            ingest.commit().context("storing attempts")?;
            follower.save()?;
            break;
        }
    }
    let partial = follower.partial_lines();
    let mut summary: LogSummary = ingest.finish().context("storing attempts")?;
    follower.save()?;
    summary.partial_lines_left = partial;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    if args.store.json() {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprint!("{}", summary.to_text());
    }
    Ok(if summary.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets() {
        assert_eq!(super::parse_offset("+01:00"), Ok(3600));
        assert_eq!(super::parse_offset("-0530"), Ok(-(5 * 3600 + 30 * 60)));
        assert_eq!(super::parse_offset("+2"), Ok(7200));
        for bad in ["", "01:00", "+", "+25:00", "+01:60", "+1:2:3x", "+ü"] {
            assert!(super::parse_offset(bad).is_err(), "{bad}");
        }
    }
}
