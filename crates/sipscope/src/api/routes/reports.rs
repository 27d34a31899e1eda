//! `/api/v1/report` and `/api/v1/report/{section}`: the report `sipscope report --format json`
//! prints, built by `reports::` from the same reader, kept between requests and rebuilt in the
//! background when older than a few seconds (`api/cache.rs`); the whole report is built on two
//! readers at once. A whole report whose time range holds everything the store's sections
//! select by time (`reports::range_covers`: a dashboard's "last 30 days" over a younger store)
//! is the kept report without that range, with only the sections that depend on the range
//! itself (`reports::RANGE_DEPENDENT`) built for it (campaigns kept too, for every range wider
//! than the stored days: `reports::campaigns_alike`): the same JSON, tens of milliseconds
//! instead of a whole report's build. `/api/v1/ranges` lists the dashboard's quick ranges,
//! whose reports the server builds before anyone asks (`api/ranges.rs`).

use crate::api::cache::{Answer, Building, Lookup};
use crate::api::index::Loaded;
use crate::api::server::{Failure, State};
use crate::metrics::ApiReport;
use crate::reports::{self, render, sections, HilbertChoice};
use crate::store::indexed::Indexed;
use crate::store::{Filter, StoreReader};
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// The sections built on a second reader while the first builds the rest: together about
/// half the whole report's cost over 10 M events (docs/benchmarks.md "REST API": 1,893 M
/// instructions against 1,880 M for a range that cuts the 10 M store, after the merged
/// readers). `countries` and `country-pairs` share their rows, so they stay together (in the
/// first half).
const SECOND_HALF: &[&str] = &["summary", "alerts", "daily", "stages", "user-agents", "numbers"];

/// The same with the report index in front of the readers, where the costs differ
/// (docs/benchmarks.md, "The in-memory report index": about 66 ms of sections each for a range
/// that cuts the 10 M store; `campaigns`, 39 ms, and `countries` with `country-pairs`, 26 ms,
/// are most of the first half).
const SECOND_HALF_INDEXED: &[&str] = &[
    "summary",
    "alerts",
    "daily",
    "stages",
    "user-agents",
    "numbers",
    "sources",
    "tools",
    "tools-by-year",
    "tools-by-country",
    "strategies",
];

/// The report of the named sections (all when empty) for `filter`, on one reader (with the
/// in-memory report index in front of it when given: `api/index.rs`).
async fn report(
    state: &Arc<State>,
    filter: Filter,
    names: Vec<String>,
    index: Option<Arc<Loaded>>,
) -> Result<reports::model::Report, Failure> {
    let geo = Arc::clone(&state.backend.geo);
    state
        .read(move |reader| {
            with_index(index.as_deref(), reader, |store| {
                let inputs = reports::Inputs {
                    store,
                    filter: &filter,
                    geo: &geo,
                    comparison: None,
                    nodes: None,
                    report_time_nodes: None,
                    hilbert: HilbertChoice::default(),
                };
                reports::build(&inputs, &names).map_err(|e| match e {
                    reports::ReportError::UnknownSection(..) => Failure::not_found("no such section"),
                    reports::ReportError::Store(e) => e.into(),
                })
            })
        })
        .await
}

/// Calls `f` with `reader`, with the report index in front of it when given.
fn with_index<T>(index: Option<&Loaded>, reader: &dyn StoreReader, f: impl FnOnce(&dyn StoreReader) -> T) -> T {
    match index {
        Some(loaded) => f(&Indexed::new(&loaded.index, reader)),
        None => f(reader),
    }
}

/// The `section` (the whole report when `None`) for `filter`, as JSON. The whole report is
/// built in two halves side by side, on two readers, and put back in report order: the same
/// report, in about half the time on two cores.
///
/// With the in-memory report index (`api/index.rs`) when it holds what the store holds (the
/// answer then says the store as of the index's load, when that is not now).
async fn build(state: &Arc<State>, filter: Filter, section: Option<String>) -> Result<Answer, Failure> {
    let mut built_ns = crate::time::now_ns();
    let body = match section {
        None => {
            let index = crate::api::index::for_build(state).await;
            let loaded = index.as_ref().map(|(loaded, _)| Arc::clone(loaded));
            if let Some(wider) = covering(state, &filter, loaded).await? {
                return widened(state, filter, wider, built_ns).await;
            }
            let index = index.map(|(loaded, as_of)| {
                built_ns = as_of.unwrap_or(built_ns);
                loaded
            });
            let second_half = if index.is_some() { SECOND_HALF_INDEXED } else { SECOND_HALF };
            let (second, first): (Vec<String>, Vec<String>) =
                sections::ALL.iter().map(|(n, _)| (*n).to_owned()).partition(|n| second_half.contains(&n.as_str()));
            let (a, b) =
                tokio::join!(report(state, filter.clone(), first, index.clone()), report(state, filter, second, index));
            let (mut whole, rest) = (a?, b?);
            whole.sections.extend(rest.sections);
            let order = |name: &str| sections::ALL.iter().position(|(n, _)| *n == name).unwrap_or(usize::MAX);
            whole.sections.sort_by_key(|s| order(&s.name));
            render::json(&whole)
        }
        Some(name) => {
            let index = crate::api::index::for_build(state).await;
            let index = index.map(|(loaded, as_of)| {
                built_ns = as_of.unwrap_or(built_ns);
                loaded
            });
            let one = report(state, filter, vec![name], index).await?;
            let s = one.sections.first().ok_or_else(|| Failure::not_found("no such section"))?;
            let json = serde_json::to_string_pretty(s).map_err(Failure::internal)?;
            crate::output::json::inert(json)
        }
    };
    Ok(Answer { body: Arc::new(body), built_ns, earlier: false })
}

/// The filter without its range, and the store's extent, when the range holds everything the
/// store's sections select by time (read from the store now, so a row written since the kept
/// report was built is in the extent even if not yet in that report, which is the kept
/// answers' usual lag).
///
/// With the report index (`api/index.rs`), the extents of the tables it holds are its own (not
/// scanned again).
async fn covering(
    state: &Arc<State>,
    filter: &Filter,
    index: Option<Arc<Loaded>>,
) -> Result<Option<(Filter, Option<crate::store::TimeExtent>)>, Failure> {
    if filter.from_ns.is_none() && filter.to_ns.is_none() {
        return Ok(None);
    }
    let extent =
        state.read(move |reader| with_index(index.as_deref(), reader, |store| Ok(store.time_extent()?))).await?;
    Ok(reports::range_covers(filter, extent).map(|wider| (wider, extent)))
}

/// The whole report for `filter`, whose range selects the rows `wider` (no range) selects:
/// `wider`'s report (kept, or built and kept) with the range-dependent sections beside it:
/// `decisions` built for `filter`, `campaigns` too unless a kept answer serves every range
/// like it (`reports::campaigns_alike`). As old as the oldest of its parts.
async fn widened(
    state: &Arc<State>,
    filter: Filter,
    (wider, extent): (Filter, Option<crate::store::TimeExtent>),
    built_ns: i64,
) -> Result<Answer, Failure> {
    let alike = reports::campaigns_alike(&filter, extent);
    let own: Vec<String> = reports::RANGE_DEPENDENT
        .iter()
        .filter(|n| alike.is_none() || **n != "campaigns")
        .map(|n| (*n).to_owned())
        .collect();
    let scope = reports::model::Scope { from_ns: filter.from_ns, to_ns: filter.to_ns, nodes: filter.nodes.clone() };
    let campaigns = async {
        match alike {
            Some(alike) => kept(state, alike, Some("campaigns".to_owned())).await.map(Some),
            None => Ok(None),
        }
    };
    let (whole, own, campaigns) = tokio::join!(kept(state, wider, None), report(state, filter, own, None), campaigns);
    let (whole, own, campaigns) = (whole?, own?, campaigns?);
    let rendered: Vec<(&str, &str)> = campaigns.iter().map(|c| ("campaigns", c.body.as_str())).collect();
    let body = render::json_with(&whole.body, &scope, &own.sections, &rendered)
        .ok_or_else(|| Failure::internal("the kept report is no report"))?;
    let parts = std::iter::once(&whole).chain(campaigns.as_ref());
    Ok(Answer {
        body: Arc::new(body),
        built_ns: parts.clone().map(|a| a.built_ns).fold(built_ns, i64::min),
        earlier: parts.clone().any(|a| a.earlier),
    })
}

/// What the server builds when it starts, before anyone asks: the overview, then the
/// campaigns every range wider than the stored days shares (a dashboard's "last 30 days" over
/// a younger store). The dashboard's quick ranges follow (`api/ranges.rs`). Each one an
/// earlier run kept (`api/kept.rs`) is served while this is built.
pub(crate) async fn warm(state: &Arc<State>) {
    prebuild(state, Filter::default()).await;
    let wide = Filter { from_ns: Some(i64::MIN), ..Filter::default() };
    if let Ok(Some((_, extent))) = covering(state, &wide, None).await {
        if let Some(alike) = reports::campaigns_alike(&wide, extent) {
            let _ = answer(state, alike, Some("campaigns".to_owned()), Ask::Ahead).await;
        }
    }
}

/// The whole report for `filter` kept (built now unless kept or under way already, or kept by
/// an earlier run only), before anyone asks; a build counted as `prebuilt`.
pub(crate) async fn prebuild(state: &Arc<State>, filter: Filter) {
    if let Ok((_, ApiReport::Built)) = answer(state, filter, None, Ask::Ahead).await {
        crate::metrics::api_report(ApiReport::Prebuilt);
    }
}

/// [`cached`], boxed: `widened` is reached from `cached` itself (for other filters, which never
/// come back there: one without a range, and `campaigns` alone).
fn kept(
    state: &Arc<State>,
    filter: Filter,
    section: Option<String>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, Failure>> + Send + '_>> {
    Box::pin(cached(state, filter, section))
}

/// The answer for `section` and `filter`: kept, or built now (the first time), or kept and
/// rebuilt in the background (when stale).
pub(crate) async fn cached(state: &Arc<State>, filter: Filter, section: Option<String>) -> Result<Answer, Failure> {
    answer(state, filter, section, Ask::Request).await.map(|(found, _)| found)
}

/// Who asks for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// A request: served at once when anything is kept (a stale answer rebuilt in the
    /// background).
    Request,
    /// The server, ahead of requests: a stale answer is rebuilt now, one build at a time, and
    /// the answer is kept in the store too.
    Ahead,
}

/// [`cached`], and how the answer was found (for `sipscope_api_reports_total`).
async fn answer(
    state: &Arc<State>,
    filter: Filter,
    section: Option<String>,
    ask: Ask,
) -> Result<(Answer, ApiReport), Failure> {
    let key =
        format!("{}|{:?}|{:?}|{:?}", section.as_deref().unwrap_or("*"), filter.from_ns, filter.to_ns, filter.nodes);
    let served = |a: Answer| {
        let how = if a.earlier { ApiReport::Restored } else { ApiReport::Kept };
        Ok((a, how))
    };
    match state.reports.get(&key) {
        Lookup::Fresh(found) => served(found),
        Lookup::Stale(found) if ask == Ask::Request => {
            let state = Arc::clone(state);
            tokio::spawn(async move {
                match build(&state, filter, section).await {
                    Ok(fresh) => put(&state, key, fresh, None, false),
                    Err(_) => state.reports.failed(&key),
                }
            });
            served(found)
        }
        Lookup::Stale(_) => match build(state, filter, section).await {
            Ok(fresh) => {
                put(state, key, fresh.clone(), None, true);
                Ok((fresh, ApiReport::Built))
            }
            Err(e) => {
                state.reports.failed(&key);
                Err(e)
            }
        },
        Lookup::Missing(building) => match build(state, filter, section).await {
            Ok(fresh) => {
                put(state, key, fresh.clone(), Some(building), ask == Ask::Ahead);
                Ok((fresh, ApiReport::Built))
            }
            Err(e) => {
                state.reports.failed(&key);
                Err(e)
            }
        },
        Lookup::Pending(waiting) => match waiting.answer().await {
            Some(found) => Ok((found, ApiReport::Waited)),
            // The other build failed or its request went away: build it here, unkept.
            None => Ok((build(state, filter, section).await?, ApiReport::Built)),
        },
    }
}

/// Keeps `fresh` in the cache, and in the store when it is due there.
fn put(state: &Arc<State>, key: String, fresh: Answer, building: Option<Building>, ahead: bool) {
    if state.reports.put(key.clone(), fresh.clone(), building, ahead) {
        state.keeper.keep(&key, &fresh);
    }
}

/// A request's answer, counted by how it was found.
async fn counted(state: &Arc<State>, filter: Filter, section: Option<String>) -> Result<Response, Failure> {
    let (found, how) = answer(state, filter, section, Ask::Request).await?;
    crate::metrics::api_report(how);
    Ok(json(&found))
}

/// The answer as JSON, with when its build began (`Last-Modified`, and to the nanosecond in
/// `Sipscope-Report-Built`) and, for a report an earlier run of the server kept,
/// `Sipscope-Report-Earlier-Run: true`.
fn json(found: &Answer) -> Response {
    use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, LAST_MODIFIED};
    let mut r = Response::new(axum::body::Body::from(found.body.as_str().to_owned()));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&crate::time::http_date(found.built_ns)) {
        h.insert(LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::time::rfc3339_nanos(found.built_ns)) {
        h.insert(HeaderName::from_static(BUILT_HEADER), v);
    }
    if found.earlier {
        h.insert(HeaderName::from_static(EARLIER_HEADER), HeaderValue::from_static("true"));
    }
    r
}

/// When the answer's build began (RFC 3339, ns).
const BUILT_HEADER: &str = "sipscope-report-built";
/// Present (`true`) when an earlier run of the server built the answer.
const EARLIER_HEADER: &str = "sipscope-report-earlier-run";

pub(crate) async fn whole(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let filter = super::params(&q)?.filter()?;
    counted(&state, filter, None).await
}

pub(crate) async fn section(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    if !sections::ALL.iter().any(|(name, _)| *name == id) {
        return Err(Failure::not_found("no such section"));
    }
    let filter = super::params(&q)?.filter()?;
    counted(&state, filter, Some(id)).await
}

/// `/api/v1/ranges`: the dashboard's quick ranges with their starts now (`api/ranges.rs`), by
/// the server's clock: the ranges whose reports it keeps ready.
pub(crate) async fn ranges(axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    use crate::api::ranges;
    use crate::api::shape;
    let now = state.clock.now_ns();
    let mut w = crate::output::json::JsonWriter::new();
    w.begin_object();
    shape::int(&mut w, "align_seconds", ranges::ALIGN_NS / crate::time::SECOND_NS);
    shape::time(&mut w, "next_turn", Some(ranges::next_turn(now)));
    w.key("ranges");
    w.begin_array();
    for (range, from) in ranges::ranges_at(now) {
        w.begin_object();
        shape::text(&mut w, "label", range.label);
        shape::int(&mut w, "seconds", range.seconds);
        shape::time(&mut w, "from", from);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    shape::ok(w)
}
