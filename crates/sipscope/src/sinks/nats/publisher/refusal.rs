//! What the publisher does when the broker refuses (docs/collector.md, "A broker that
//! refuses"): says why (a negative ack, a permissions `-ERR`, no stream, no answer), awaits
//! the rest of a window after a rejection to find messages accepted after a refused one, keeps
//! the refused rows of such a window as late runs, and publishes late runs again, marked.

use super::{messages, unavailable, Run};
use crate::sinks::nats::wire::Kind;
use crate::sinks::nats::{OutboxItem, ServerErrors, LATE_HEADER};
use crate::sinks::SinkError;
use std::collections::VecDeque;

pub(super) type AckFuture = async_nats::jetstream::context::PublishAckFuture;
pub(super) type PublishError = async_nats::jetstream::context::PublishError;

/// The broker's negative acknowledgement inside a publish error, if that is what it is.
fn negative_ack(e: &PublishError) -> Option<&async_nats::jetstream::Error> {
    std::error::Error::source(e).and_then(|s| s.downcast_ref::<async_nats::jetstream::Error>())
}

impl Run {
    /// Says why the publish to `subject` was not acknowledged: the broker rejected it (a
    /// negative ack: the stream at its limits with `discard: new`, a message too large …), the
    /// server refused it on the connection (`-ERR`, a permissions violation: no ack ever
    /// comes, so it shows as a timeout), no stream takes the subject, or no answer came.
    pub(super) fn refused(&self, e: &PublishError, subject: &str, errors: &ServerErrors) -> SinkError {
        use async_nats::jetstream::context::PublishErrorKind as K;
        let stream = &self.config.stream.name;
        let server = errors.lock().ok().and_then(|mut s| s.take());
        let server = server.map(|s| crate::output::escape::terminal(&s, 256));
        let message = match (negative_ack(e), e.kind(), server) {
            (Some(nak), _, _) => format!(
                "the broker rejected a publish to {subject} (stream {stream}): {}; the stream is at its \
                 limits with discard new, or refuses it otherwise",
                crate::output::escape::terminal(&nak.to_string(), 256)
            ),
            (None, K::TimedOut, Some(server)) => {
                format!("the broker refused a publish to {subject}: {server} (a permission of this user?)")
            }
            (None, K::StreamNotFound, _) => format!("no stream takes {subject} (stream {stream} is gone?)"),
            (None, K::TimedOut, None) => {
                format!("no acknowledgement of a publish to {subject} within {} s", self.config.timeout_seconds.max(1))
            }
            (None, _, _) => format!("awaiting the acknowledgement of a publish to {subject}: {e}"),
        };
        unavailable(message)
    }

    /// Awaits up to `n` acks from the front of `in_flight`, raising `acked` through the
    /// unbroken run of acknowledged messages. At a rejection, the broker still answers the
    /// messages sent after it: their acks are awaited too (after a timeout nothing more is) to
    /// find any it accepted after one it rejected (a smaller message that still fit
    /// `max_bytes`, room freed by `max_age` in between). The collector keeps the highest
    /// sequence per sensor and would take the refused rows for duplicates when they come
    /// after: so they are saved as late runs (published again apart, marked late), and
    /// `acked` moves to the last accepted message. Returns the rejection, if any.
    pub(super) async fn settle(
        &mut self,
        in_flight: &mut VecDeque<(i64, i64, AckFuture)>,
        n: usize,
        kind: Kind,
        acked: &mut i64,
        late_rows: &mut u64,
    ) -> Result<(), PublishError> {
        for _ in 0..n {
            let Some((first, last, ack)) = in_flight.pop_front() else { return Ok(()) };
            let e = match ack.await {
                Ok(_) => {
                    *acked = last;
                    continue;
                }
                Err(e) => e,
            };
            let mut refused = Vec::new();
            if negative_ack(&e).is_some() {
                // The refused message's own rows, then the rest of the window.
                refused.push((first, last));
                let mut accepted = None;
                while let Some((first, last, ack)) = in_flight.pop_front() {
                    match ack.await {
                        Ok(_) => accepted = Some(last),
                        Err(e) if negative_ack(&e).is_some() => refused.push((first, last)),
                        Err(_) => break,
                    }
                }
                if let Some(accepted) = accepted {
                    let stream = self.config.stream.name.clone();
                    let mut saved = true;
                    for (first, last) in refused.iter().copied().filter(|(_, last)| *last < accepted) {
                        saved &= self.outbox.save_late(&stream, kind, first, last).is_ok();
                        *late_rows += u64::try_from(last - first + 1).unwrap_or(0);
                    }
                    if saved {
                        tracing::warn!(
                            kind = kind.as_str(),
                            "publishing: the broker refused rows after row {acked} and accepted later ones up to \
                             row {accepted}: the refused rows are kept and published again as late",
                            acked = *acked
                        );
                        *acked = accepted;
                    } else {
                        *late_rows = 0;
                    }
                }
            }
            in_flight.clear();
            return Err(e);
        }
        Ok(())
    }

    /// Publishes the late runs (rows refused below the acknowledged position), one message at
    /// a time, each with the header `Sipscope-Late` (the collector takes their rows although
    /// it stored later ones) and an id of its own; a run is forgotten once acknowledged.
    pub(super) async fn publish_late(
        &mut self,
        js: &async_nats::jetstream::Context,
        subject: &str,
        errors: &ServerErrors,
    ) -> Result<(), SinkError> {
        let stream = self.config.stream.name.clone();
        for (kind, first, last) in self.outbox.late(&stream)? {
            let span = usize::try_from(last - first + 1).unwrap_or(1).clamp(1, self.config.batch.max(1));
            let items: Vec<OutboxItem> =
                self.outbox.pending(kind, first - 1, span)?.into_iter().filter(|item| item.seq <= last).collect();
            let rows = items.len() as u64;
            for m in messages(&self.sensor, kind, items, &self.config) {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("{}:late", m.id).as_str());
                headers.insert(LATE_HEADER, "1");
                let ack = js
                    .publish_with_headers(subject.to_owned(), headers, m.payload.into())
                    .await
                    .map_err(|e| unavailable(format!("publishing to {subject}: {e}")))?;
                ack.await.map_err(|e| self.refused(&e, subject, errors))?;
            }
            self.outbox.clear_late(&stream, kind, first)?;
            if kind == Kind::Event {
                crate::metrics::events_out(crate::metrics::Sink::Nats, rows);
            }
            self.with_status(|s| s.acked += rows);
            self.progressed = true;
        }
        Ok(())
    }
}
