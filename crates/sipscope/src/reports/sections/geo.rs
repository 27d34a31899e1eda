//! Sections by country (003 Table 4, Fig. 5): where the sources are (GeoIP) and which
//! countries the numbers they dialled belong to (calling codes).

use super::{title, Result, Shared};
use crate::enrich::{Enricher, UNKNOWN};
use crate::reports::model::{Cell, Section, Table};
use crate::store::{Filter, StoreReader};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Distinct source countries and ASNs; `None` when the database is missing.
pub fn source_countries_and_asns(
    store: &dyn StoreReader,
    f: &Filter,
    geo: &Enricher,
) -> Result<(Option<i64>, Option<i64>)> {
    if !geo.has_country_db() && !geo.has_asn_db() {
        return Ok((None, None));
    }
    let ips = store.request_sources(f)?;
    let (mut countries, mut asns) = (BTreeSet::new(), BTreeSet::new());
    for ip in ips.iter().filter_map(|i| i.parse().ok()) {
        let g = geo.lookup(ip);
        countries.extend(g.country);
        asns.extend(g.asn);
    }
    Ok((geo.has_country_db().then_some(countries.len() as i64), geo.has_asn_db().then_some(asns.len() as i64)))
}

/// (source country, destination country) → (INVITEs, distinct sources).
pub(crate) type Pairs = BTreeMap<(String, String), (i64, usize)>;

/// The pairs, computed once per report: `countries` and `country-pairs` both need them and
/// they are the costliest rows of a large store (a million `dialled` rows).
fn shared_pairs<'s>(store: &dyn StoreReader, f: &Filter, geo: &Enricher, shared: &'s Shared) -> Result<&'s Pairs> {
    if let Some(p) = shared.pairs.get() {
        return Ok(p);
    }
    let p = pairs(store, f, geo)?;
    Ok(shared.pairs.get_or_init(|| p))
}

fn pairs(store: &dyn StoreReader, f: &Filter, geo: &Enricher) -> Result<Pairs> {
    // A million rows over 10 M events: each source is looked up once (sources call many
    // numbers) and countries are numbered, so that a row costs two hash lookups and no
    // allocation.
    let mut countries = Names::default();
    let mut sources: HashMap<Box<str>, (u32, u32)> = HashMap::new();
    let mut out: HashMap<(u32, u32), (i64, HashSet<u32>)> = HashMap::new();
    store.each_dialled_country(f, &mut |row| {
        let src = row.source;
        let (id, from) = match sources.get(src) {
            Some(found) => *found,
            None => {
                let country = src.parse().ok().and_then(|ip| geo.lookup(ip).country);
                let found = (sources.len() as u32, countries.id(country.as_deref().unwrap_or(UNKNOWN)));
                sources.insert(src.into(), found);
                found
            }
        };
        let to = countries.id(if row.country.is_empty() { UNKNOWN } else { row.country });
        let e = out.entry((from, to)).or_default();
        e.0 += row.invites;
        e.1.insert(id);
    })?;
    Ok(out.into_iter().map(|((from, to), (n, s))| ((countries.name(from), countries.name(to)), (n, s.len()))).collect())
}

/// Country names numbered in order of first appearance.
#[derive(Default)]
struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        id
    }

    fn name(&self, id: u32) -> String {
        self.names.get(id as usize).map_or_else(String::new, |n| n.to_string())
    }
}

pub fn countries(store: &dyn StoreReader, f: &Filter, geo: &Enricher, shared: &Shared) -> Result<Section> {
    let mut s = Section::new("countries", title("countries"));
    let mut rows: Vec<_> = shared_pairs(store, f, geo, shared)?.iter().collect();
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(b.0)));
    let mut t = Table::new(
        "countries",
        "INVITEs by source country and dialled country",
        &["source country", "dialled country", "INVITEs", "sources"],
    );
    for ((from, to), (n, sources)) in rows.into_iter().take(25) {
        t.push(vec![from.as_str().into(), to.as_str().into(), Cell::Int(*n), Cell::Int(*sources as i64)]);
    }
    s.tables.push(t);
    if !geo.has_country_db() {
        s.notes.push("Source countries are unknown without a country database (--country-db).".into());
    }
    Ok(s)
}

pub fn country_pairs(store: &dyn StoreReader, f: &Filter, geo: &Enricher, shared: &Shared) -> Result<Section> {
    let mut s = Section::new("country-pairs", title("country-pairs"));
    let pairs = shared_pairs(store, f, geo, shared)?;
    let mut per_source: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut dot = String::from("digraph country_pairs {\n  rankdir=LR;\n");
    for ((from, to), (n, _)) in pairs {
        per_source.entry(from.clone()).or_default().insert(to.clone());
        dot.push_str(&format!(
            "  \"src {}\" -> \"dst {}\" [label=\"{n}\", penwidth={:.1}];\n",
            dot_id(from),
            dot_id(to),
            1.0 + (*n as f64).ln_1p()
        ));
    }
    dot.push_str("}\n");
    let mut t = Table::new(
        "country_pairs",
        "Destination countries per source country",
        &["source country", "destination countries", "dialled"],
    );
    for (from, tos) in &per_source {
        t.push(vec![
            from.clone().into(),
            Cell::Int(tos.len() as i64),
            tos.iter().cloned().collect::<Vec<_>>().join(" ").into(),
        ]);
    }
    s.tables.push(t);
    s.attachments.push(("country-pairs.dot".into(), dot));
    Ok(s)
}

/// Country codes and "unknown" only: anything else is reduced to letters so the DOT stays valid.
fn dot_id(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).take(16).collect()
}
