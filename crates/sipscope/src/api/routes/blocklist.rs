//! What firewall integrations pull: `/blocklist.txt` (the addresses and networks under a ban,
//! one a line: `decisions export --format plain`) and `/blocklist.json` with a `cursor`: given
//! back as `?since=`, the answer lists what was banned and what was lifted (deleted or
//! expired) since. Pulls overlap by a few seconds, so an item may come twice: apply them as a
//! set. Only typed values (addresses, prefixes, times) are written, never a reason.

use crate::act::{DecisionKind, Scope};
use crate::api::server::{Failure, State};
use crate::api::shape::{self, int, text};
use crate::output::json::JsonWriter;
use crate::store::{DecisionRow, Filter};
use crate::time::{now_ns, SECOND_NS};
use axum::extract::RawQuery;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

/// How far back a cursor reaches before the read it came from (decisions being written then).
const OVERLAP_NS: i64 = 5 * SECOND_NS;

async fn in_force(state: &Arc<State>) -> Result<Vec<DecisionRow>, Failure> {
    state.read(|store| Ok(store.decisions_in_force(now_ns())?)).await
}

pub(crate) async fn plain(axum::extract::State(state): S) -> Result<Response, Failure> {
    let now = now_ns();
    let rows = in_force(&state).await?;
    let decisions: Vec<_> = rows.into_iter().map(|r| r.decision).collect();
    let body = crate::act::export::export(crate::act::export::Format::Plain, &decisions, now, "")
        .map_err(Failure::internal)?;
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(r)
}

fn item(w: &mut JsonWriter, r: &DecisionRow) {
    let d = &r.decision;
    w.begin_object();
    w.key("id");
    w.int(d.id.unwrap_or(0));
    text(w, "scope", &d.scope.to_string());
    text(w, "address", &d.scope.address().to_string());
    w.key("prefix_len");
    w.number(u64::from(d.scope.as_prefix().len));
    w.key("port");
    match d.scope {
        Scope::AddressPort(_, p) => w.number(u64::from(p)),
        _ => w.null(),
    }
    shape::time(w, "until", Some(d.until_ns));
    w.end_object();
}

pub(crate) async fn json(axum::extract::State(state): S, q: RawQuery) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let since = p.int("since")?;
    let now = now_ns();
    let (in_force, changed) = state
        .read(move |store| {
            let in_force = store.decisions_in_force(now)?;
            let changed = match since {
                Some(s) => store.decisions(&Filter { from_ns: Some(s), ..Filter::default() }, 100_000)?,
                None => Vec::new(),
            };
            Ok((in_force, changed))
        })
        .await?;
    let bans = |r: &&DecisionRow| r.decision.kind == DecisionKind::Ban;
    let mut w = JsonWriter::new();
    w.begin_object();
    text(&mut w, "cursor", &(now - OVERLAP_NS).to_string());
    w.key("items");
    w.begin_array();
    for r in in_force.iter().filter(bans).filter(|r| since.is_none_or(|s| r.created_ns >= s)) {
        item(&mut w, r);
    }
    w.end_array();
    w.key("removed");
    w.begin_array();
    for r in changed.iter().filter(bans) {
        let lifted =
            r.deleted.as_ref().map(|d| d.at_ns).or((r.decision.until_ns <= now).then_some(r.decision.until_ns));
        if lifted.is_some_and(|at| since.is_some_and(|s| at >= s)) {
            item(&mut w, r);
        }
    }
    w.end_array();
    int(&mut w, "in_force", in_force.iter().filter(bans).count() as i64);
    w.end_object();
    Ok(shape::ok(w))
}
