//! `/api/v1/events`: pages of events, newest first, with filters; `next_cursor` continues
//! after the last one shown (pagination on `(time, id)`, stable while events arrive).

use crate::api::params::{cursor, parse_cursor};
use crate::api::server::{Failure, State};
use crate::api::shape;
use crate::output::json::JsonWriter;
use crate::store::{EventQuery, Filter, StoreReader};
use axum::extract::RawQuery;
use axum::response::Response;
use std::sync::Arc;

/// Default and largest page.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// The spellings a number was dialled in (unified over dialling prefixes), itself included.
pub(crate) fn spellings(
    store: &dyn StoreReader,
    f: &Filter,
    number: &str,
) -> Result<(Option<String>, Vec<String>), Failure> {
    let key = match crate::analysis::numbers::classify(number) {
        crate::analysis::numbers::Dialled::Number(n) => n.key().to_owned(),
        _ => number.to_owned(),
    };
    let found = store.number(&f.with_nodes(&[]), &key)?;
    let mut all = vec![number.to_owned()];
    if let Some(n) = &found {
        for s in n.variant_samples.iter().chain(std::iter::once(&n.number)) {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        let plain = n.number.trim_start_matches('+').to_owned();
        if !all.contains(&plain) {
            all.push(plain);
        }
    }
    Ok((found.map(|n| n.number), all))
}

pub(crate) async fn list(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let mut query = EventQuery {
        filter: p.filter()?,
        source: p.address("source")?,
        method: p.one("method").map(str::to_owned),
        status: match p.int("status")? {
            Some(s) if !(0..=999_999).contains(&s) => return Err(Failure::bad_request("status: 0 to 999999")),
            s => s,
        },
        user: p.one("user").map(str::to_owned),
        ruri_users: Vec::new(),
        tool: p.one("tool").map(str::to_owned),
        before: p.raw("cursor").map(parse_cursor).transpose()?,
        after_id: None,
        ids: Vec::new(),
        limit: p.limit(DEFAULT_LIMIT, MAX_LIMIT)?,
        raw: p.flag("raw")?,
    };
    let number = p.one("number").map(str::to_owned);
    let events = state
        .read(move |store| {
            if let Some(n) = &number {
                query.ruri_users = spellings(store, &query.filter, n)?.1;
            }
            let events = store.events(&query)?;
            let next =
                (events.len() == query.limit as usize).then(|| events.last().map(|e| cursor(e.ts_ns, e.id))).flatten();
            Ok((events, next))
        })
        .await?;
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("events");
    w.begin_array();
    for e in &events.0 {
        shape::event(&mut w, e);
    }
    w.end_array();
    shape::opt_text(&mut w, "next_cursor", events.1.as_deref());
    w.end_object();
    Ok(shape::ok(w))
}
