//! A copy of what the pipeline writes, for people watching it happen: events, alerts and
//! decisions go into a bounded broadcast that the REST API's live stream (`/api/v1/live`)
//! subscribes to. Sending never blocks and never fails the pipeline: with nobody watching
//! nothing is copied, and a watcher that falls behind by more than the capacity loses its
//! place (the API then drops it), never the pipeline its pace.

use super::{AlertSink, Sink, SinkError};
use crate::act::{Alert, Decision};
use crate::analysis::result::Handover;
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use std::sync::Arc;

/// How many items a watcher may fall behind before it is dropped (default of
/// [`LiveFeed::new`]).
pub const DEFAULT_CAPACITY: usize = 4096;

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum LiveItem {
    /// An event with its fields, as the pipeline built it (its store id is not known yet).
    Event(Box<(SipEvent, SipFields)>),
    /// An alert raised or updated.
    Alert(Box<Alert>),
    /// A decision taken.
    Decision(Box<Decision>),
}

/// The sending side, cheap to clone: one clone in the pipeline's extra sinks, one among its
/// alert sinks, one in the API.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    tx: tokio::sync::broadcast::Sender<Arc<LiveItem>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed::new(DEFAULT_CAPACITY)
    }
}

impl LiveFeed {
    /// A feed on which a watcher may fall `capacity` items behind.
    pub fn new(capacity: usize) -> LiveFeed {
        LiveFeed { tx: tokio::sync::broadcast::channel(capacity.max(1)).0 }
    }

    /// A new watcher, from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<LiveItem>> {
        self.tx.subscribe()
    }

    /// Whether anybody watches (nothing is copied otherwise).
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends `item` to every watcher (dropped when there is none).
    pub fn send(&self, item: LiveItem) {
        if self.watched() {
            let _ = self.tx.send(Arc::new(item));
        }
    }
}

impl Sink for LiveFeed {
    fn write(&mut self, event: SipEvent, fields: SipFields) -> Result<(), SinkError> {
        if self.watched() {
            self.send(LiveItem::Event(Box::new((event, fields))));
        }
        Ok(())
    }
    /// Records are not streamed: the API serves them from the store.
    fn record(&mut self, _record: Record) -> Result<(), SinkError> {
        Ok(())
    }
    /// Analysis results are not streamed: the API serves them from the store.
    fn hand_over(&mut self, _run: i64, _rows: Handover) -> Result<(), SinkError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl AlertSink for LiveFeed {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        if self.watched() {
            self.send(LiveItem::Alert(Box::new(alert.clone())));
        }
        Ok(())
    }
    fn decision(&mut self, decision: &Decision) -> Result<(), SinkError> {
        if self.watched() {
            self.send(LiveItem::Decision(Box::new(decision.clone())));
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_copied_without_watchers_and_a_slow_watcher_loses_its_place() {
        let mut feed = LiveFeed::new(2);
        let event = SipEvent {
            ts_ns: 1,
            sensor: "s".into(),
            node: None,
            transport: crate::event::Transport::Udp,
            src: ("192.0.2.1".parse().unwrap(), 5060),
            dst: ("192.0.2.2".parse().unwrap(), 5060),
            tunnel: None,
            direction: crate::event::Direction::In,
            origin: None,
            raw: b"OPTIONS sip:x SIP/2.0\r\n\r\n".to_vec(),
        };
        Sink::write(&mut feed, event.clone(), SipFields::default()).unwrap();
        let mut rx = feed.subscribe();
        for _ in 0..3 {
            Sink::write(&mut feed, event.clone(), SipFields::default()).unwrap();
        }
        assert!(matches!(rx.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Lagged(1))));
        assert!(matches!(rx.try_recv().map(|i| matches!(*i, LiveItem::Event(_))), Ok(true)));
    }
}
