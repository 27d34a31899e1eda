//! Live capture from a network interface (libpcap): frames go through the same wire decoder and
//! pipeline as capture files until a stop is asked for (the flag a signal handler sets), a
//! packet count or a duration is reached, or the interface fails.
//!
//! The handle is non-blocking: the loop reads until the ring is empty, then waits on the handle's
//! descriptor for at most [`WAIT`] (a signal cuts the wait short), so it notices a stop even on a
//! silent interface. (libpcap's own read timeout does not do that: from 1.10 on, a blocking read
//! on Linux keeps waiting until a packet comes.) The pipeline is ticked after every read, so the
//! store is flushed about once a second (`PipelineSettings::tick_every_ns`) and
//! readers see events while capturing; the analysis engine's finished rows are handed to the
//! store on the same tick (the pipeline's, so nothing the engine hands over is lost).

use crate::pipeline::{Arrival, Pipeline};
use crate::sinks::SinkError;
use crate::sources::pcap::Frame;
use crate::sources::summary::CaptureSummary;
use crate::sources::wire::WireDecoder;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes kept of each packet: enough for any SIP message in one frame.
pub const SNAPLEN: i32 = 65_535;
/// Kernel ring buffer for the capture: room for bursts while the loop writes to the store.
pub const BUFFER_BYTES: i32 = 32 << 20;
/// How long the loop waits for a packet before it checks its stop conditions again.
pub const WAIT: Duration = Duration::from_millis(200);

/// What to capture and when to stop.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Interface name (`eth0`, `any` …).
    pub iface: String,
    /// A BPF filter expression (tcpdump syntax), applied in the kernel.
    pub filter: Option<String>,
    /// Put the interface into promiscuous mode.
    pub promisc: bool,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// Why a capture could not start or had to stop without a summary.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface could not be opened (no such device, no permission …).
    #[error("cannot capture on {iface}")]
    Open {
        /// The interface.
        iface: String,
        /// What libpcap said.
        source: pcap::Error,
    },
    /// The BPF filter did not compile or could not be set.
    #[error("capture filter {filter:?}")]
    Filter {
        /// The expression.
        filter: String,
        /// What libpcap said.
        source: pcap::Error,
    },
    /// The sink failed: nothing more can be recorded.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// An open, filtered capture handle.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    iface: String,
    link_type: u32,
}

impl LiveCapture {
    /// Opens `opts.iface` (snap length [`SNAPLEN`], immediate mode, non-blocking) and sets the
    /// filter. Packets are buffered by the kernel from here on.
    pub fn open(opts: &LiveOptions) -> Result<LiveCapture, LiveError> {
        let open_error = |source| LiveError::Open { iface: opts.iface.clone(), source };
        let mut cap = pcap::Capture::from_device(opts.iface.as_str())
            .map_err(open_error)?
            .snaplen(SNAPLEN)
            .promisc(opts.promisc)
            .immediate_mode(true)
            .buffer_size(BUFFER_BYTES)
            .open()
            .and_then(pcap::Capture::setnonblock)
            .map_err(open_error)?;
        if let Some(filter) = &opts.filter {
            cap.filter(filter, true).map_err(|source| LiveError::Filter { filter: filter.clone(), source })?;
        }
        // Link types are small non-negative numbers; an impossible one is reported as undecodable.
        let link_type = u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX);
        Ok(LiveCapture { cap, iface: opts.iface.clone(), link_type })
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The pcap link type number of the interface.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Waits until a packet may be ready, a signal arrives, or `timeout` passed.
    fn wait(&self, timeout: Duration) {
        let mut fds = [rustix::event::PollFd::new(&self.cap, rustix::event::PollFlags::IN)];
        let timeout = rustix::event::Timespec::try_from(timeout).ok();
        // An error (EINTR from a signal) ends the wait like a timeout: the loop looks again.
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
    }

    /// The link type's libpcap name (`EN10MB`, `LINUX_SLL` …), or its number.
    pub fn link_type_name(&self) -> String {
        self.cap.get_datalink().get_name().unwrap_or_else(|_| self.link_type.to_string())
    }
}

/// Capture time from a packet header's seconds and microseconds, ns since the Unix epoch.
/// (Generic because `time_t` and `suseconds_t` differ between platforms.)
fn ts_ns(secs: impl Into<i64>, usecs: impl Into<i64>) -> i64 {
    let (secs, usecs): (i64, i64) = (secs.into(), usecs.into());
    secs.saturating_mul(1_000_000_000).saturating_add(usecs.saturating_mul(1_000))
}

/// Captures into `pipeline` until `stop` is set or a limit of `opts` is reached, then drains
/// the decoder, finishes the pipeline and returns what was seen. Events carry no capture file.
///
/// A read error (the interface went away) ends the capture as a problem in the summary; only a
/// store failure is an error.
pub fn run(
    mut capture: LiveCapture,
    mut pipeline: Pipeline,
    opts: &LiveOptions,
    stop: &AtomicBool,
) -> Result<CaptureSummary, LiveError> {
    let started = Instant::now();
    let mut summary = CaptureSummary::default();
    let mut wire = WireDecoder::new();
    let link_type = capture.link_type;
    let mut number = 0u64;
    pipeline.begin_analysis(crate::time::now_ns())?;
    loop {
        if stop.load(Ordering::Relaxed)
            || opts.count.is_some_and(|n| number >= n)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        match capture.cap.next_packet() {
            Ok(packet) => {
                number += 1;
                let frame = Frame {
                    number,
                    ts_ns: ts_ns(packet.header.ts.tv_sec, packet.header.ts.tv_usec),
                    link_type,
                    data: packet.data,
                    orig_len: packet.header.len,
                };
                summary.frame(&frame);
                wire.push_frame(&frame, &mut summary, &mut |_, m| {
                    pipeline.accept_with_note(Arrival::from(m), m.note())
                });
            }
            // Non-blocking: nothing is waiting.
            Err(pcap::Error::TimeoutExpired) => {
                let left = opts.duration.map_or(WAIT, |d| d.saturating_sub(started.elapsed()));
                capture.wait(left.min(WAIT));
            }
            Err(e) => {
                summary.problem(format!("{}: capture stopped: {e}", capture.iface));
                break;
            }
        }
        if pipeline.failed() {
            break;
        }
        // Closed flows and ended hours go to the store as they finish: memory stays bounded
        // however long the capture runs.
        pipeline.tick(crate::time::now_ns())?;
    }
    wire.finish(&mut summary, &mut |_, m| pipeline.accept_with_note(Arrival::from(m), m.note()));
    if let Ok(stats) = capture.cap.stats() {
        summary.kernel_dropped = u64::from(stats.dropped);
        summary.interface_dropped = u64::from(stats.if_dropped);
    }
    summary.absorb(&pipeline.finish(crate::time::now_ns())?.counters);
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_nanoseconds() {
        assert_eq!(ts_ns(1_700_000_000, 123_456), 1_700_000_000_123_456_000);
        assert_eq!(ts_ns(i64::MAX, 0), i64::MAX);
    }
}
