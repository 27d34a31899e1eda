//! `/api/v1/sources/{ip}`: one attacker's whole story: when it came, what it did at each
//! node, its tools and agents, the numbers it called, the accounts and passwords it tried,
//! the alerts it raised and the decisions about it, with its country and AS.

use crate::act::Scope;
use crate::api::params::address;
use crate::api::server::{Failure, State};
use crate::api::shape::{self, int, opt_text, text, time};
use crate::output::json::JsonWriter;
use crate::store::{AlertQuery, Filter};
use axum::extract::{Path, RawQuery};
use axum::response::Response;
use std::net::IpAddr;
use std::sync::Arc;

/// Items of each list.
const LIST_LIMIT: u32 = 50;

/// Whether a decision's scope reaches `ip` (on any port).
pub(crate) fn reaches(scope: &Scope, ip: IpAddr) -> bool {
    match *scope {
        Scope::Address(a) | Scope::AddressPort(a, _) => a == ip,
        Scope::Prefix(p) => p.contains(ip),
    }
}

pub(crate) async fn one(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Path(ip): Path<String>,
    q: RawQuery,
) -> Result<Response, Failure> {
    let p = super::params(&q)?;
    let filter = p.filter()?;
    let ip = address(&ip)?;
    let source = ip.to_string();
    let (profile, alerts, decisions) = state
        .read(move |store| {
            let profile = store.source_profile(&filter, &source, LIST_LIMIT)?;
            let alerts = store.alerts(&AlertQuery {
                filter: filter.clone(),
                source: Some(source.clone()),
                after_id: None,
                limit: LIST_LIMIT,
            })?;
            let decisions: Vec<_> = store
                .decisions(&Filter { nodes: Vec::new(), ..filter }, 10_000)?
                .into_iter()
                .filter(|d| reaches(&d.decision.scope, ip))
                .take(LIST_LIMIT as usize)
                .collect();
            Ok((profile, alerts, decisions))
        })
        .await?;
    if profile.first_ns.is_none() && profile.stages.is_empty() && alerts.is_empty() && decisions.is_empty() {
        return Err(Failure::not_found("nothing is known about this address in the range"));
    }
    let geo = state.backend.geo.lookup(ip);
    let mut w = JsonWriter::new();
    w.begin_object();
    text(&mut w, "address", &ip.to_string());
    time(&mut w, "first_seen", profile.first_ns);
    time(&mut w, "last_seen", profile.last_ns);
    int(&mut w, "events", profile.messages);
    w.key("nodes");
    w.begin_array();
    let mut nodes: Vec<&str> = profile.stages.iter().map(|s| s.node.as_str()).collect();
    nodes.dedup();
    for node in nodes {
        w.begin_object();
        // '' is the source across all nodes.
        opt_text(&mut w, "node", Some(node).filter(|n| !n.is_empty()));
        w.key("stages");
        w.begin_array();
        for s in profile.stages.iter().filter(|s| s.node == node) {
            w.begin_object();
            text(&mut w, "stage", &s.stage);
            time(&mut w, "first_seen", Some(s.first_ns));
            time(&mut w, "last_seen", Some(s.last_ns));
            int(&mut w, "count", s.count);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    shape::counts(&mut w, "tools", &profile.tools);
    shape::counts(&mut w, "agents", &profile.agents);
    shape::counts(&mut w, "numbers", &profile.numbers);
    shape::counts(&mut w, "passwords", &profile.passwords);
    shape::counts(&mut w, "users", &profile.users);
    w.key("decisions");
    w.begin_array();
    for d in &decisions {
        w.value(&crate::sinks::eve::shape::decision_json(&d.decision));
    }
    w.end_array();
    w.key("alerts");
    w.begin_array();
    for a in &alerts {
        shape::alert(&mut w, a);
    }
    w.end_array();
    opt_text(&mut w, "country", geo.country.as_deref());
    w.key("asn");
    w.opt_number(geo.asn.map(u64::from));
    opt_text(&mut w, "as_org", geo.as_org.as_deref());
    w.end_object();
    Ok(shape::ok(w))
}
