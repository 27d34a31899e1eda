//! The pipeline's side of the rules: where they run ([`RulesOn`]), and what becomes of their
//! alerts — stored, handed to the responder (which takes decisions) and to the alert outputs,
//! in the order the rules raised them, with the time of what raised them. Whether the rules
//! ran on the pipeline's thread or beside the analysis ([`super::worker`]), the same alerts
//! reach the same places in the same order; only when differs (a batch or a tick later).

use super::worker::{Raised, RulesStep, Taken};
use super::{Arrival, Outputs};
use crate::act::{Alert, Responder};
use crate::event::fields::Parsed;
use crate::metrics;
use crate::rules::{AlertChange, Observation, RulesEngine};
use crate::sinks::AlertSink;
use sipscope_sip::Message;

/// Which thread runs the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesOn {
    /// The pipeline's, on each message as it is taken: its alerts are stored and reach the
    /// responder and the outputs before the next message. Live sources other than the
    /// honeypot (capture, HEP, the collector, followed logs).
    Pipeline,
    /// The analysis thread, on the batches it already receives (one parse for both): the
    /// pipeline passes their alerts on when it next sends a batch, ticks or finishes, as if
    /// they had been raised in line (same order, same times). Files and replays (ingest,
    /// analyze, import, logs read to their end, `rules test`), whose wall time the rules then
    /// barely lengthen (docs/benchmarks.md, "The rules beside the analysis"); and the
    /// honeypot, whose recorder thread sends what it recorded whenever its queue runs dry
    /// ([`super::Pipeline::flush`]) and passes on what was raised a millisecond later
    /// ([`super::Pipeline::poll_alerts`]), so that its bans follow the deciding message
    /// before an attacker's next round trip.
    Worker,
}

/// Where the rules' alerts go: the store (through [`Outputs::store`]), the responder and the
/// alert outputs.
pub(super) struct Alerting {
    /// The rules when they run on the pipeline's thread (on the worker they are the worker's).
    pub(super) engine: Option<RulesEngine>,
    /// Rules run, on either thread.
    pub(super) enabled: bool,
    pub(super) responder: Option<Box<dyn Responder>>,
    pub(super) sinks: Vec<Box<dyn AlertSink>>,
    /// Changes of the current message (reused: no allocation per message).
    pub(super) changes: Vec<AlertChange>,
    /// Messages and records taken, for evidence.
    pub(super) ordinal: u64,
    /// Event time advances the rules' clock on ticks (live sources, whose event time is the
    /// wall clock), and alerts are stored when raised and again when they grew; files and
    /// replays close alerts by their own event time only, and store each alert once, when it
    /// closes (half the writes; nobody watches a file's alerts as they come).
    pub(super) live: bool,
    /// The message is an event of an interrupted run replayed into the run that continues it:
    /// its alerts are stored, but the responder and the alert outputs were told of them
    /// before the crash, and they are not counted again.
    pub(super) carrying: bool,
}

impl Outputs {
    /// Takes a message after its event was written (so that the store finds the evidence):
    /// the analysis, and the rules on whichever thread runs them; then passes on what they
    /// raised.
    pub(super) fn take<'m>(
        &mut self,
        a: &Arrival<'_>,
        node: Option<&'m str>,
        msg: Option<&'m Message<'m>>,
        parsed: &'m Parsed<'m>,
        stored: Option<u64>,
    ) {
        let ordinal = self.alerts.ordinal;
        self.alerts.ordinal += 1;
        self.observe(a, node, msg, Taken { ordinal, stored, carrying: self.alerts.carrying });
        if let Some(engine) = self.alerts.engine.as_mut() {
            let o = Observation {
                ts_ns: a.ts_ns,
                ordinal,
                stored,
                transport: a.transport,
                src: a.src,
                dst: a.dst,
                direction: a.direction,
                node,
                msg,
                parsed,
                blank: crate::event::fields::is_blank(a.bytes),
            };
            let mut changes = std::mem::take(&mut self.alerts.changes);
            engine.observe(&o, &mut changes);
            let carrying = self.alerts.carrying;
            self.dispatch(&mut changes, Some(a.ts_ns), carrying);
            self.alerts.changes = changes;
        }
        self.pass_on_raised();
    }

    /// Passes on what the rules on the worker raised and the pipeline has collected.
    pub(super) fn pass_on_raised(&mut self) {
        if !self.session.has_raised() {
            return;
        }
        for Raised { change, now, carrying } in self.session.take_raised() {
            self.dispatch_one(&change, now, carrying);
        }
    }

    /// Stores each alert, asks the responder, and hands alerts and decisions to the outputs.
    /// `now_ns`: the time of the message that caused them (else the alert's last match).
    pub(super) fn dispatch(&mut self, changes: &mut Vec<AlertChange>, now_ns: Option<i64>, carrying: bool) {
        for change in changes.drain(..) {
            self.dispatch_one(&change, now_ns, carrying);
        }
    }

    fn dispatch_one(&mut self, change: &AlertChange, now_ns: Option<i64>, carrying: bool) {
        let alert: &Alert = &change.alert;
        if change.raised && !carrying {
            self.counters.alerts_raised += 1;
            metrics::alert_raised(severity_label(alert.severity));
        }
        let store = if self.alerts.live { change.is_news() } else { !change.raised };
        if store && self.error.is_none() {
            if let Err(e) = self.store.alert(alert) {
                self.error = Some(e);
            }
        }
        if !change.is_news() || carrying {
            return;
        }
        let now = now_ns.unwrap_or(alert.last_ns);
        let decisions = match self.alerts.responder.as_mut() {
            Some(r) => r.on_alert(now, alert),
            None => Vec::new(),
        };
        for d in &decisions {
            metrics::decision(match d.kind {
                crate::act::DecisionKind::Ban => metrics::Action::Ban,
                crate::act::DecisionKind::RateLimit { .. } => metrics::Action::RateLimit,
                crate::act::DecisionKind::Watch => metrics::Action::Watch,
            });
        }
        for sink in &mut self.alerts.sinks {
            let failed = sink.alert(alert).is_err() as u64
                + decisions.iter().map(|d| sink.decision(d).is_err() as u64).sum::<u64>();
            for _ in 0..failed {
                metrics::alert_output_error();
            }
            if failed > 0 {
                self.counters.alert_sink_errors += failed;
                if self.counters.alert_sink_errors == failed {
                    tracing::error!("an alert output failed (counted from now on, not logged again)");
                }
            }
        }
    }

    /// Periodic work of the rules and the responder at `now_ns`. Rules on the worker are
    /// waited for, so that the responder hears of every alert raised before the tick first,
    /// as it would with the rules in line.
    pub(super) fn tick_alerts(&mut self, now_ns: i64) {
        let mut changes = std::mem::take(&mut self.alerts.changes);
        if let (Some(engine), true) = (self.alerts.engine.as_mut(), self.alerts.live) {
            engine.advance(now_ns, &mut changes);
        }
        self.dispatch(&mut changes, Some(now_ns), false);
        self.alerts.changes = changes;
        let step = if self.alerts.live { RulesStep::Advance(now_ns) } else { RulesStep::Sync };
        self.rules_step(step);
        if let Some(r) = self.alerts.responder.as_mut() {
            r.tick(now_ns);
        }
    }

    /// Closes every open alert (the end of the input).
    pub(super) fn finish_alerts(&mut self, now_ns: i64) {
        let mut changes = std::mem::take(&mut self.alerts.changes);
        if let Some(engine) = self.alerts.engine.as_mut() {
            engine.finish(&mut changes);
        }
        self.dispatch(&mut changes, None, false);
        self.rules_step(RulesStep::Finish);
        if let Some(r) = self.alerts.responder.as_mut() {
            r.tick(now_ns);
        }
    }

    /// A step of the rules on the worker (nothing when they run here), then what it raised.
    pub(super) fn rules_step(&mut self, step: RulesStep) {
        if let Err(e) = self.session.rules_step(step) {
            self.error.get_or_insert(e);
        }
        self.pass_on_raised();
    }
}

/// An alert's severity as the metrics label it.
fn severity_label(s: crate::act::Severity) -> metrics::Severity {
    match s {
        crate::act::Severity::Info => metrics::Severity::Info,
        crate::act::Severity::Low => metrics::Severity::Low,
        crate::act::Severity::Medium => metrics::Severity::Medium,
        crate::act::Severity::High => metrics::Severity::High,
        crate::act::Severity::Critical => metrics::Severity::Critical,
    }
}
