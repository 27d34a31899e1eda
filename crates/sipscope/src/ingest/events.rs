//! From wire messages to events in a sink: parse, count, sample, attach sensor and node.
//! Shared by `ingest` (files) and `capture` (live).

use super::summary::Summary;
use super::EventsMode;
use crate::analysis::engine::{Analyzer, Seen};
use crate::event::fields::{lossless_text, SipFields};
use crate::event::{Direction, Origin, SipEvent};
use crate::nodes::Nodes;
use crate::sinks::{EventSink, SinkError};
use crate::sources::wire::WireMessage;
use sipscope_sip::StartLine;

/// What becomes of each SIP message.
pub struct EventOptions {
    /// Sensor name stored with every event.
    pub sensor: String,
    /// Node lookup.
    pub nodes: Nodes,
    /// Which events to keep.
    pub events: EventsMode,
    /// Run the analysis engine over every message (whatever `events` keeps).
    pub analysis: bool,
}

/// Turns wire messages into events in a sink. The first sink error stops it; the caller checks
/// [`EventWriter::failed`] and ends with [`EventWriter::finish`].
pub struct EventWriter<'s, S: EventSink> {
    sink: &'s mut S,
    opts: &'s EventOptions,
    file_id: Option<i64>,
    seen: u64,
    error: Option<SinkError>,
    /// The engine fed and its run in the store.
    analyzer: Option<(&'s mut Analyzer, i64)>,
}

impl<'s, S: EventSink> EventWriter<'s, S> {
    /// Writes into `sink`; `file_id` ties events to a capture file in the store.
    pub fn new(sink: &'s mut S, opts: &'s EventOptions, file_id: Option<i64>) -> Self {
        EventWriter { sink, opts, file_id, seen: 0, error: None, analyzer: None }
    }

    /// The analyzer fed, if any.
    pub fn analyzer(&mut self) -> Option<&mut Analyzer> {
        self.analyzer.as_mut().map(|(a, _)| &mut **a)
    }

    /// Also feeds every message to `analyzer`, whose rows go to run `run` of the sink.
    pub fn with_analyzer(mut self, analyzer: Option<(&'s mut Analyzer, i64)>) -> Self {
        self.analyzer = analyzer;
        self
    }

    /// True once the sink has failed.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Flushes the sink; returns the first error met.
    pub fn finish(mut self) -> Result<(), SinkError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.sink.flush()
    }

    /// Takes one message.
    pub fn accept(&mut self, summary: &mut Summary, m: WireMessage<'_>) {
        if self.error.is_some() {
            return;
        }
        if self.opts.events == EventsMode::None && self.analyzer.is_none() {
            // Counts only: the start line says everything the counters need, and a telescope
            // archive is read ten times faster without the full parse.
            count_start_line(summary, m.bytes);
            return;
        }
        let Ok(msg) = sipscope_sip::Message::parse_with(m.bytes, m.framing, sipscope_sip::Limits::default()) else {
            summary.non_sip_packets += 1;
            return;
        };
        let method = msg.method().map(lossless_text);
        // `--events none` counts by the start line alone (docs/ingest.md: violations stay 0),
        // also when the analysis needs the full parse: checking every header is a cost of its
        // own that only stored events need.
        let violates = self.opts.events != EventsMode::None && msg.violates_rfc3261();
        summary.sip(method.as_deref(), msg.status(), violates);
        self.seen += 1;
        let keep = match self.opts.events {
            EventsMode::All => true,
            EventsMode::None => false,
            EventsMode::Sample(n) => (self.seen - 1).is_multiple_of(n),
        };
        if !keep {
            // Only the analysis sees the message: no event (nor a copy of its bytes) is built.
            if let Some((analyzer, _)) = self.analyzer.as_mut() {
                let seen = Seen {
                    ts_ns: m.ts_ns,
                    src: m.src,
                    dst: m.dst,
                    node: self.opts.nodes.find(m.tunnel, m.dst.0).map(|n| n.name.as_str()),
                    direction: Direction::Unknown,
                    bytes: m.bytes.len(),
                };
                analyzer.observe_seen(&seen, Some(&msg));
            }
            self.hand_over_if_full();
            return;
        }
        let event = SipEvent {
            ts_ns: m.ts_ns,
            sensor: self.opts.sensor.clone(),
            node: self.opts.nodes.find(m.tunnel, m.dst.0).map(|n| n.name.clone()),
            transport: m.transport,
            src: m.src,
            dst: m.dst,
            tunnel: m.tunnel,
            direction: Direction::Unknown,
            origin: self.file_id.map(|file_id| Origin { file_id, packet: m.packet }),
            raw: m.bytes.to_vec(),
        };
        if let Some(analyzer) = self.analyzer() {
            analyzer.observe(&event, Some(&msg));
        }
        self.hand_over_if_full();
        match self.sink.write(&event, &SipFields::extract(&msg)) {
            Ok(()) => summary.events_stored += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

impl<S: EventSink> EventWriter<'_, S> {
    /// Hands the engine's rows to the sink once its tables are full, so one long capture
    /// file keeps memory bounded too.
    fn hand_over_if_full(&mut self) {
        let Some((analyzer, run)) = self.analyzer.as_mut() else { return };
        if !analyzer.should_hand_over() {
            return;
        }
        let (rows, run) = (analyzer.hand_over(), *run);
        if let Err(e) = self.sink.store_handover(run, rows) {
            self.error = Some(e);
        }
    }
}

/// Counts a message by its start line alone (`--events none`).
fn count_start_line(summary: &mut Summary, bytes: &[u8]) {
    match crate::sources::wire::start_line(bytes) {
        Some(StartLine::Request { method, .. }) => summary.sip(Some(&lossless_text(method)), None, false),
        Some(StartLine::Response { code, .. }) => summary.sip(None, code.or(Some(0)), false),
        None => summary.non_sip_packets += 1,
    }
}
