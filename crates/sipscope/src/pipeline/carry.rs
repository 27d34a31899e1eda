//! A long run continued across a crash: the run a gone process of the same kind and sensor
//! left unfinished becomes the new process's open run, and its stored events are replayed
//! into the engine and the rules before new input is taken, so that a flow spanning the crash
//! is one flow, as if the process had never stopped (`sources/replay.rs` drives it; docs/ingest.md,
//! "Interrupted runs").

use super::{node_of, Arrival, Pipeline};
use crate::event::fields::{MessageKind, Parsed};
use crate::sinks::{InterruptedRun, SinkError};
use sipscope_sip::Message;

impl Pipeline {
    /// Continues `run`, a run of this pipeline's kind and sensor that a gone process left
    /// unfinished, as the open analysis run instead of beginning a new one: the store takes it
    /// over (its results deleted, its events kept under it), and the source then replays its
    /// events with [`Pipeline::accept_carried`] before taking new input, so that flows spanning
    /// the crash are one flow (`sources/replay.rs`). False: nothing was taken over (analysis
    /// is off, a run is open, or another process took the run), and the source begins a run
    /// of its own as usual.
    pub fn continue_analysis(&mut self, run: &InterruptedRun) -> Result<bool, SinkError> {
        self.out.take_error()?;
        if self.out.session.open_run().is_some() {
            return Ok(false);
        }
        let continued = self.out.session.continue_run(self.out.store.as_mut(), run)?;
        if continued {
            self.out.stored_at_run = self.out.counters.events_stored;
            self.out.carried = 0;
        }
        Ok(continued)
    }

    /// Takes one stored event of the run being continued: the analysis and the rules see it
    /// as they did before the crash (unparseable bytes too, as `analyze` does), nothing is
    /// stored again or copied to the extra sinks, nothing is counted again, and its alerts
    /// are stored without reaching the responder or the alert outputs a second time.
    pub fn accept_carried(&mut self, a: Arrival<'_>) {
        if self.out.error.is_some() {
            return;
        }
        let parsed = if crate::event::fields::is_blank(a.bytes) {
            None
        } else {
            Message::parse_with(a.bytes, a.transport.framing(), sipscope_sip::ParseLimits::default()).ok()
        };
        let kind = match &parsed {
            Some(msg) if msg.method().is_some() => MessageKind::Request,
            Some(_) => MessageKind::Response,
            None => MessageKind::Invalid,
        };
        let node = node_of(&self.settings.nodes, &a, kind);
        self.out.carried += 1;
        self.out.alerts.carrying = true;
        self.out.take(&a, node, parsed.as_ref(), &Parsed::default(), None);
        self.out.alerts.carrying = false;
    }
}
