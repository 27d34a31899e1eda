//! An entry's score for a flow: a weighted mean of per-field similarities (004 §V.A: the
//! fields tools set on purpose weigh most), measured above what an ordinary client scores.

use super::baseline;
use super::pattern::Pattern;
use super::ToolEntry;
use crate::analysis::fingerprint::{
    Fingerprint, MergedValue, DEST_IP, DEST_PORT, MAX_VALUE_LEN, METHODS_KEY, SOURCE_IP, SOURCE_PORT,
};

/// Ranking pulls every entry's similarity towards 1/2 with this much weight, so that an
/// entry checking few fields (Table I gives four) needs a better fit to beat one checking a
/// dozen (a full recording of the tool) that the flow also fits.
pub const PRIOR_WEIGHT: f64 = 4.0;
/// A field whose value is mostly unknown (hidden by a varying length) still weighs at least
/// this share of its weight, so that unknown content is not free.
pub const KNOWN_FLOOR: f64 = 0.25;

/// Weight of keys that tools set on purpose and rarely share (004 §V.A names them).
const DISTINCTIVE_WEIGHT: f64 = 3.0;
const DISTINCTIVE: &[&str] = &["server", "from", "to", "contact", "call-id"];
/// The User-Agent weighs most: it is the field 004 found tools change first, so a changed one
/// must be enough to make a flow "derived" rather than the tool itself.
const USER_AGENT_WEIGHT: f64 = 4.0;
/// Weight of the Request-URI and of the header order.
const SHAPE_WEIGHT: f64 = 2.0;
/// Weight of any other key, and of each key that must be absent.
const PLAIN_WEIGHT: f64 = 1.0;
/// An entry that ordinary clients fit this well or better cannot tell them apart from its
/// tool; its baseline is capped here so that its scale does not collapse.
pub const MAX_BASELINE: f64 = 0.8;

/// One entry's score for a flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Index into [`super::ToolLibrary::entries`].
    pub entry: usize,
    /// The similarity above the entry's baseline, `(raw - baseline) / (1 - baseline)` clamped
    /// to 0..1: what the verdict thresholds apply to.
    pub similarity: f64,
    /// Weighted mean of the field similarities, 0..1.
    pub raw: f64,
    /// The best raw similarity of an ordinary client (see `baseline.rs`).
    pub baseline: f64,
    /// What entries are ranked by: the similarity pulled towards 1/2 by [`PRIOR_WEIGHT`].
    pub rank_score: f64,
    /// Literal characters matched over all fields (breaks ties).
    pub matched: u32,
}

/// The entry's weight for `key`, else the default: a pattern without literals (`*`) only
/// checks presence and weighs like a plain key.
fn weight(entry: &ToolEntry, key: &str, pattern: Option<&Pattern>) -> f64 {
    entry.weights.get(key).copied().unwrap_or(match key {
        _ if pattern.is_some_and(|p| p.literals() == 0) => PLAIN_WEIGHT,
        "order" | "start:uri" => SHAPE_WEIGHT,
        "user-agent" => USER_AGENT_WEIGHT,
        k if DISTINCTIVE.contains(&k) => DISTINCTIVE_WEIGHT,
        _ => PLAIN_WEIGHT,
    })
}

/// One term of an entry's score.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldResult {
    /// The key; `order` for the header order, `absent:<key>` for a key that must be absent.
    pub key: String,
    /// Its weight.
    pub weight: f64,
    /// Its similarity, 0..1 (0 for a required key the flow lacks).
    pub similarity: f64,
    /// The share of its evidence that is known (not hidden in a gap); it weighs
    /// `weight × max(known, KNOWN_FLOOR)`.
    pub known: f64,
    /// Literal characters matched.
    pub matched: u32,
}

impl FieldResult {
    fn plain(key: String, weight: f64, similarity: f64) -> FieldResult {
        FieldResult { key, weight, similarity, known: 1.0, matched: 0 }
    }
}

/// Every term of the entry's score: its fields, the optional fields the flow has, the keys
/// that must be absent, and the order.
pub(super) fn score_fields(entry: &ToolEntry, fp: &Fingerprint) -> Vec<FieldResult> {
    let methods = MergedValue::constant(fp.methods().collect::<Vec<_>>().join(",").as_bytes(), MAX_VALUE_LEN);
    let lookup = |key: &str| if key == METHODS_KEY { Some(&methods) } else { fp.value(key) };
    let mut out = Vec::new();
    let required = entry.fields.iter().map(|f| (f, true));
    for ((key, text), required) in required.chain(entry.optional.iter().map(|f| (f, false))) {
        let value = lookup(key);
        if value.is_none() && !required {
            continue;
        }
        let pattern = Pattern::parse(&rewrite(text, fp));
        let weight = weight(entry, key, Some(&pattern));
        let Some(value) = value else {
            out.push(FieldResult::plain(key.clone(), weight, 0.0));
            continue;
        };
        let score = pattern.score(value);
        let (similarity, known, matched) = (score.similarity(), score.known(), score.matched);
        out.push(FieldResult { key: key.clone(), weight, similarity, known, matched });
    }
    for key in &entry.absent {
        let similarity = if lookup(key).is_none() { 1.0 } else { 0.0 };
        out.push(FieldResult::plain(format!("absent:{key}"), weight(entry, key, None), similarity));
    }
    if !entry.order.is_empty() {
        let names: Vec<String> =
            fp.keys().iter().filter(|k| !k.key.starts_with("sdp:")).map(|k| k.name.text()).collect();
        let similarity = sequence_similarity(&entry.order, &names);
        out.push(FieldResult::plain("order".into(), weight(entry, "order", None), similarity));
    }
    out
}

/// The raw weighted mean and the total effective weight.
fn raw_score(entry: &ToolEntry, fp: &Fingerprint) -> (f64, f64, u32) {
    let fields = score_fields(entry, fp);
    let weights: f64 = fields.iter().map(|f| f.weight * f.known.max(KNOWN_FLOOR)).sum();
    let total: f64 = fields.iter().map(|f| f.weight * f.known * f.similarity).sum();
    let matched = fields.iter().map(|f| f.matched).sum();
    (if weights > 0.0 { total / weights } else { 0.0 }, weights, matched)
}

/// The best raw similarity an ordinary client reaches on `entry`.
pub(super) fn baselines(entries: &[ToolEntry]) -> Vec<f64> {
    let clients = baseline::fingerprints();
    entries.iter().map(|e| clients.iter().map(|fp| raw_score(e, fp).0).fold(0.0, f64::max).min(MAX_BASELINE)).collect()
}

pub(super) fn score_entry(index: usize, entry: &ToolEntry, baseline: f64, fp: &Fingerprint) -> Candidate {
    let (raw, weights, matched) = raw_score(entry, fp);
    let similarity = ((raw - baseline) / (1.0 - baseline)).clamp(0.0, 1.0);
    let rank_score = (similarity * weights + PRIOR_WEIGHT / 2.0) / (weights + PRIOR_WEIGHT);
    Candidate { entry: index, similarity, raw, baseline, rank_score, matched }
}

/// Where the flow's packets went to their own address (or port), the fingerprint says
/// `SourceIP` (`SourcePort`) for both: a pattern's `DestIP` (`DestPort`) must then read the same.
fn rewrite(pattern: &str, fp: &Fingerprint) -> String {
    let mut text = pattern.to_string();
    if fp.same_ip() {
        text = text.replace(DEST_IP, SOURCE_IP);
    }
    if fp.same_port() {
        text = text.replace(DEST_PORT, SOURCE_PORT);
    }
    text
}

/// 2·LCS / (|a| + |b|): 1 for the same names in the same order.
fn sequence_similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diag = 0;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    2.0 * row[b.len()] as f64 / (a.len() + b.len()) as f64
}
