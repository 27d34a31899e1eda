//! `/api/v1/live`: Server-Sent Events (`sip`, `alert`, `decision`). Items reach the [`Hub`]
//! from the pipeline's [`LiveFeed`] when the server is embedded, or by polling the store for
//! ids above the last seen (`serve`); either way only while someone watches. Each item is
//! turned into JSON once, then fanned out through a bounded broadcast: a watcher that falls
//! behind is dropped (its browser reconnects), the pipeline and the other watchers never wait.

use super::server::{Failure, State};
use super::shape;
use super::LiveSource;
use crate::output::json::{inert, JsonWriter};
use crate::sinks::live::{LiveFeed, LiveItem};
use crate::store::{AlertQuery, EventQuery, Filter};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// One SSE message: its event name and JSON data.
#[derive(Debug)]
pub(crate) struct Frame {
    name: &'static str,
    data: String,
}

/// The fan-out to watchers.
pub(crate) struct Hub {
    tx: broadcast::Sender<Arc<Frame>>,
    watchers: Arc<tokio::sync::Semaphore>,
    /// Told when a watcher joins, so that the feed is taken (or the store polled) at once, not
    /// at the next check: what happens right after a client connects reaches it.
    joined: tokio::sync::Notify,
}

/// How many frames a watcher may fall behind before it is dropped.
const WATCHER_BACKLOG: usize = 1024;

impl Hub {
    pub fn new(max_watchers: usize) -> Hub {
        Hub {
            tx: broadcast::channel(WATCHER_BACKLOG).0,
            watchers: Arc::new(tokio::sync::Semaphore::new(max_watchers.max(1))),
            joined: tokio::sync::Notify::new(),
        }
    }
    fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }
    /// Sends a frame to every watcher (the API's own decisions go out this way too).
    pub fn send(&self, name: &'static str, data: String) {
        if self.watched() {
            let _ = self.tx.send(Arc::new(Frame { name, data: inert(data) }));
        }
    }
}

fn event_frame(e: &crate::store::EventRecord) -> String {
    let mut w = JsonWriter::new();
    shape::event(&mut w, e);
    String::from_utf8_lossy(&w.take()).into_owned()
}

/// The stream of one watcher.
pub(crate) async fn stream(axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    let Ok(permit) = Arc::clone(&state.hub.watchers).try_acquire_owned() else {
        return Failure::new(StatusCode::SERVICE_UNAVAILABLE, "too many live watchers").into_response();
    };
    let rx = state.hub.tx.subscribe();
    state.hub.joined.notify_one();
    let frames = futures_util::stream::unfold((rx, permit), |(mut rx, permit)| async move {
        match rx.recv().await {
            Ok(frame) => {
                let event = Event::default().event(frame.name).data(frame.data.clone());
                Some((Ok::<Event, std::convert::Infallible>(event), (rx, permit)))
            }
            // Fell behind, or the server stops: the stream ends, the browser reconnects.
            Err(_) => None,
        }
    });
    Sse::new(frames).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// Starts feeding the hub from `source`.
pub(crate) fn start(state: &Arc<State>, source: LiveSource, stop: tokio::sync::watch::Receiver<bool>) {
    let state = Arc::clone(state);
    match source {
        LiveSource::Feed(feed) => drop(tokio::spawn(forward(state, feed, stop))),
        LiveSource::Poll(every) => drop(tokio::spawn(poll(state, every, stop))),
    }
}

/// Converts the pipeline's items while someone watches (subscribed only then, so the
/// pipeline copies nothing for nobody).
async fn forward(state: Arc<State>, feed: LiveFeed, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        while !state.hub.watched() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = state.hub.joined.notified() => {}
                _ = stop.changed() => return,
            }
        }
        let mut rx = feed.subscribe();
        while state.hub.watched() {
            let item = tokio::select! {
                item = tokio::time::timeout(Duration::from_secs(1), rx.recv()) => item,
                _ = stop.changed() => return,
            };
            match item {
                Ok(Ok(item)) => match &*item {
                    LiveItem::Event(e) => state.hub.send("sip", event_frame(&shape::record_of(&e.0, &e.1))),
                    LiveItem::Alert(a) => state.hub.send("alert", crate::sinks::eve::shape::alert_json(a)),
                    LiveItem::Decision(d) => state.hub.send("decision", crate::sinks::eve::shape::decision_json(d)),
                },
                Ok(Err(broadcast::error::RecvError::Closed)) => return,
                // Lagged (items lost for every watcher) or a quiet second: go on.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) | Err(_) => {}
            }
        }
    }
}

/// Where the poller has read up to.
#[derive(Debug, Clone, Copy)]
struct Seen {
    event: i64,
    alert: i64,
    decision_ns: i64,
}

/// Polls the store every `every` while someone watches.
async fn poll(state: Arc<State>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut seen: Option<Seen> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            // A new watcher: its first poll (where it starts from) now, not a period later.
            _ = state.hub.joined.notified(), if seen.is_none() => {}
            _ = stop.changed() => return,
        }
        if !state.hub.watched() {
            seen = None;
            continue;
        }
        let from = seen;
        let read = state
            .read(move |store| {
                let newest = |limit| EventQuery { limit, ..EventQuery::default() };
                let Some(from) = from else {
                    // The first poll with a watcher: start from what is there now.
                    let event = store.events(&newest(1))?.first().map_or(0, |e| e.id);
                    let alert = store.alerts(&AlertQuery { limit: 1, ..AlertQuery::default() })?;
                    let alert = alert.first().map_or(0, |a| a.id);
                    return Ok((Seen { event, alert, decision_ns: crate::time::now_ns() }, Vec::new()));
                };
                let mut frames = Vec::new();
                let mut next = from;
                for e in store.events(&EventQuery { after_id: Some(from.event), ..newest(500) })? {
                    next.event = next.event.max(e.id);
                    frames.push(("sip", event_frame(&e)));
                }
                for a in
                    store.alerts(&AlertQuery { after_id: Some(from.alert), limit: 100, ..AlertQuery::default() })?
                {
                    next.alert = next.alert.max(a.id);
                    let mut w = JsonWriter::new();
                    shape::alert(&mut w, &a);
                    frames.push(("alert", String::from_utf8_lossy(&w.take()).into_owned()));
                }
                let recent = Filter { from_ns: Some(from.decision_ns), ..Filter::default() };
                for d in store.decisions(&recent, 100)?.into_iter().rev() {
                    if d.created_ns > from.decision_ns {
                        next.decision_ns = next.decision_ns.max(d.created_ns);
                        frames.push(("decision", crate::sinks::eve::shape::decision_json(&d.decision)));
                    }
                }
                Ok((next, frames))
            })
            .await;
        if let Ok((next, frames)) = read {
            seen = Some(next);
            for (name, data) in frames {
                state.hub.send(name, data);
            }
        }
    }
}
