//! Live capture from a network interface (libpcap): frames go through the same pipeline as
//! capture files (wire decoder → event writer → sink) until a stop is asked for (the flag a
//! signal handler sets), a packet count or a duration is reached, or the interface fails.
//!
//! The handle is non-blocking: the loop reads until the ring is empty, then waits on the handle's
//! descriptor for at most [`WAIT`] (a signal cuts the wait short), so it notices a stop even on a
//! silent interface. (libpcap's own read timeout does not do that: from 1.10 on, a blocking read
//! on Linux keeps waiting until a packet comes.) The sink is flushed every [`FLUSH_INTERVAL`] so
//! readers see events while capturing.

use crate::event::fields::SipFields;
use crate::event::SipEvent;
use crate::ingest::summary::Summary;
use crate::ingest::{EventOptions, EventWriter};
use crate::sinks::{EventSink, SinkError};
use crate::sources::pcap::Frame;
use crate::sources::wire::WireDecoder;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes kept of each packet: enough for any SIP message in one frame.
pub const SNAPLEN: i32 = 65_535;
/// Kernel ring buffer for the capture: room for bursts while the loop writes to the store.
pub const BUFFER_BYTES: i32 = 32 << 20;
/// How long the loop waits for a packet before it checks its stop conditions again.
pub const WAIT: Duration = Duration::from_millis(200);
/// How often the sink is flushed while capturing.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

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

/// Lets the capture loop flush the sink while the event writer holds it: both go through a
/// `RefCell`, and the loop only flushes between frames, never while the writer writes.
struct Shared<'c, 's, S>(&'c RefCell<&'s mut S>);

impl<S: EventSink> EventSink for Shared<'_, '_, S> {
    fn write(&mut self, event: &SipEvent, fields: &SipFields) -> Result<(), SinkError> {
        self.0.borrow_mut().write(event, fields)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.borrow_mut().flush()
    }
}

/// Capture time from a packet header's seconds and microseconds, ns since the Unix epoch.
/// (Generic because `time_t` and `suseconds_t` differ between platforms.)
fn ts_ns(secs: impl Into<i64>, usecs: impl Into<i64>) -> i64 {
    let (secs, usecs): (i64, i64) = (secs.into(), usecs.into());
    secs.saturating_mul(1_000_000_000).saturating_add(usecs.saturating_mul(1_000))
}

/// Captures into `sink` until `stop` is set or a limit of `opts` is reached, then drains the
/// decoder, flushes the sink and returns what was seen. Events carry no capture file.
///
/// A read error (the interface went away) ends the capture as a problem in the summary; only a
/// sink failure is an error.
pub fn run<S: EventSink>(
    mut capture: LiveCapture,
    sink: &mut S,
    events: &EventOptions,
    opts: &LiveOptions,
    stop: &AtomicBool,
    analysis: Option<&mut crate::analysis::engine::Session>,
) -> Result<Summary, LiveError> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let sink = RefCell::new(sink);
    let mut shared = Shared(&sink);
    let run = analysis.as_ref().map(|a| a.run);
    let mut writer =
        EventWriter::new(&mut shared, events, None).with_analyzer(analysis.map(|a| (&mut a.analyzer, a.run)));
    let mut wire = WireDecoder::new();
    let mut last_flush = Instant::now();
    let link_type = capture.link_type;
    let mut number = 0u64;
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
                summary.packets += 1;
                summary.bytes += frame.data.len() as u64;
                if (frame.data.len() as u64) < u64::from(frame.orig_len) {
                    summary.snaplen_cut += 1;
                }
                wire.push_frame(&frame, &mut summary, &mut |s, m| writer.accept(s, m));
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
        if writer.failed() {
            break;
        }
        if last_flush.elapsed() >= FLUSH_INTERVAL {
            // Closed flows go to the store as they close: memory stays bounded however long
            // the capture runs.
            if let (Some(run), Some(analyzer)) = (run, writer.analyzer()) {
                let rows = analyzer.hand_over();
                if !rows.is_empty() {
                    sink.borrow_mut().store_handover(run, rows)?;
                }
            }
            sink.borrow_mut().flush()?;
            last_flush = Instant::now();
        }
    }
    wire.finish(&mut summary, &mut |s, m| writer.accept(s, m));
    if let Ok(stats) = capture.cap.stats() {
        summary.kernel_dropped = u64::from(stats.dropped);
        summary.interface_dropped = u64::from(stats.if_dropped);
    }
    writer.finish()?;
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
