//! Feedback while ingesting: a progress bar with packets/s and ETA on a terminal, a plain line
//! every few seconds otherwise (logs, CI), nothing when asked for quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Seconds between plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Progress over a known number of input bytes.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    total: u64,
    started: Instant,
    last_plain: Instant,
}

impl Progress {
    /// Progress over `total_bytes` of capture files; `quiet` shows nothing.
    pub fn new(total_bytes: u64, quiet: bool) -> Progress {
        let now = Instant::now();
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress { bar, plain: !quiet && !terminal, total: total_bytes, started: now, last_plain: now }
    }

    /// Reports bytes read so far (over all files) and packets.
    pub fn update(&mut self, bytes: u64, packets: u64) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = packets as f64 / elapsed;
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{packets} packets, {rate:.0}/s"));
        } else if self.plain && self.last_plain.elapsed() >= PLAIN_EVERY {
            self.last_plain = Instant::now();
            let share = if self.total > 0 { 100.0 * bytes as f64 / self.total as f64 } else { 0.0 };
            eprintln!("ingest: {share:.1}% of {} bytes, {packets} packets ({rate:.0}/s)", self.total);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
