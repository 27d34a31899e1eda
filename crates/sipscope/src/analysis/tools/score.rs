//! An entry's score for a flow: a weighted mean of per-field similarities (004 §V.A: the
//! fields tools set on purpose weigh most), measured above what an ordinary client scores.

use super::baseline;
use super::pattern::{AlignMemo, FieldScore, Pattern, Views};
use super::ToolEntry;
use crate::analysis::fingerprint::{
    Fingerprint, MergedValue, DEST_IP, DEST_PORT, MAX_VALUE_LEN, METHODS_KEY, REQUEST_URI_KEY, SOURCE_IP, SOURCE_PORT,
};
use std::collections::HashMap;
use std::sync::Arc;

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

/// The library prepared for matching: every pattern parsed once for each reading of the
/// address tokens, a pattern that several entries share (`max-forwards = "70"`) scored once per
/// flow, the terms of every entry in the order they are summed, and the baselines.
#[derive(Debug, PartialEq)]
pub(super) struct Compiled {
    /// Every key the library names (fields, optional fields, absent keys).
    keys: Vec<String>,
    patterns: Vec<SharedPattern>,
    entries: Vec<EntryTerms>,
}

/// One distinct (key, pattern text) of the library.
#[derive(Debug, PartialEq)]
struct SharedPattern {
    key: usize,
    /// Parsed as written (0), with `DestIP` read as `SourceIP` (1), `DestPort` as `SourcePort`
    /// (2), or both (3): see [`rewrite`].
    readings: [Pattern; 4],
}

/// One entry's terms, in the order of [`FieldResult`]s.
#[derive(Debug, PartialEq)]
struct EntryTerms {
    terms: Vec<Term>,
    order: Vec<String>,
    baseline: f64,
}

#[derive(Debug, PartialEq)]
struct Term {
    weight: f64,
    kind: TermKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TermKind {
    /// A field (`required`: from `fields`, else from `optional`).
    Field { key: usize, pattern: usize, required: bool },
    /// A key that must be absent.
    Absent { key: usize },
    /// The header order.
    Order,
}

/// A term's value for a flow.
#[derive(Debug, Clone, Copy)]
struct TermValue {
    weight: f64,
    similarity: f64,
    known: f64,
    matched: u32,
}

impl TermValue {
    fn plain(weight: f64, similarity: f64) -> TermValue {
        TermValue { weight, similarity, known: 1.0, matched: 0 }
    }

    /// What it adds to the weighted mean's numerator and denominator.
    fn parts(&self) -> (f64, f64) {
        (self.weight * self.known * self.similarity, self.weight * self.known.max(KNOWN_FLOOR))
    }
}

/// Bounds are compared with this much slack, so that rounding never drops an entry that could
/// tie with the best one.
const SLACK: f64 = 1e-9;
/// A field whose alignments take at most this many cells is scored before the entries are
/// ordered (the rest only for entries that may still win).
const CHEAP_CELLS: usize = 200;

impl Compiled {
    /// Prepares `entries` and computes their baselines.
    pub(super) fn new(entries: &[ToolEntry]) -> Compiled {
        let mut compiled = Compiled { keys: Vec::new(), patterns: Vec::new(), entries: Vec::new() };
        let mut texts: Vec<(usize, &str)> = Vec::new();
        for entry in entries {
            let mut terms = Vec::new();
            let required = entry.fields.iter().map(|f| (f, true));
            for ((key, text), required) in required.chain(entry.optional.iter().map(|f| (f, false))) {
                let key_index = compiled.key(key);
                let pattern = match texts.iter().position(|&(k, t)| (k, t) == (key_index, text.as_str())) {
                    Some(p) => p,
                    None => {
                        texts.push((key_index, text));
                        let readings = [(false, false), (true, false), (false, true), (true, true)]
                            .map(|(ip, port)| Pattern::parse(&rewrite(text, ip, port)));
                        compiled.patterns.push(SharedPattern { key: key_index, readings });
                        compiled.patterns.len() - 1
                    }
                };
                // Rewriting the address tokens never makes a pattern literal-free.
                let weight = weight(entry, key, Some(&compiled.patterns[pattern].readings[0]));
                terms.push(Term { weight, kind: TermKind::Field { key: key_index, pattern, required } });
            }
            for key in &entry.absent {
                let kind = TermKind::Absent { key: compiled.key(key) };
                terms.push(Term { weight: weight(entry, key, None), kind });
            }
            if !entry.order.is_empty() {
                terms.push(Term { weight: weight(entry, "order", None), kind: TermKind::Order });
            }
            compiled.entries.push(EntryTerms { terms, order: entry.order.clone(), baseline: 0.0 });
        }
        let clients = baseline::fingerprints();
        let baselines: Vec<f64> = (0..compiled.entries.len())
            .map(|index| {
                let raw = clients.iter().map(|fp| compiled.raw_score(index, &mut Flow::new(&compiled, fp)).0);
                raw.fold(0.0, f64::max).min(MAX_BASELINE)
            })
            .collect();
        for (entry, baseline) in compiled.entries.iter_mut().zip(baselines) {
            entry.baseline = baseline;
        }
        compiled
    }

    fn key(&mut self, key: &str) -> usize {
        self.keys.iter().position(|k| k == key).unwrap_or_else(|| {
            self.keys.push(key.to_string());
            self.keys.len() - 1
        })
    }

    /// Every term of entry `index`'s score.
    pub(super) fn score_fields(&self, index: usize, fp: &Fingerprint) -> Vec<FieldResult> {
        let mut flow = Flow::new(self, fp);
        let entry = &self.entries[index];
        let mut out = Vec::new();
        for term in &entry.terms {
            let Some(v) = flow.term(entry, term) else { continue };
            let key = match term.kind {
                TermKind::Field { key, .. } => self.keys[key].clone(),
                TermKind::Absent { key } => format!("absent:{}", self.keys[key]),
                TermKind::Order => "order".into(),
            };
            out.push(FieldResult {
                key,
                weight: v.weight,
                similarity: v.similarity,
                known: v.known,
                matched: v.matched,
            });
        }
        out
    }

    /// Every entry's candidate, in library order.
    pub(super) fn candidates(&self, fp: &Fingerprint) -> Vec<Candidate> {
        let mut flow = Flow::new(self, fp);
        (0..self.entries.len()).map(|index| self.candidate(index, &mut flow)).collect()
    }

    /// The raw weighted mean, the total effective weight and the literals matched.
    fn raw_score(&self, index: usize, flow: &mut Flow<'_>) -> (f64, f64, u32) {
        let entry = &self.entries[index];
        let mut values = std::mem::take(&mut flow.values);
        values.clear();
        values.extend(entry.terms.iter().filter_map(|term| flow.term(entry, term)));
        let weights: f64 = values.iter().map(|f| f.weight * f.known.max(KNOWN_FLOOR)).sum();
        let total: f64 = values.iter().map(|f| f.weight * f.known * f.similarity).sum();
        let matched = values.iter().map(|f| f.matched).sum();
        flow.values = values;
        (if weights > 0.0 { total / weights } else { 0.0 }, weights, matched)
    }

    fn candidate(&self, index: usize, flow: &mut Flow<'_>) -> Candidate {
        let baseline = self.entries[index].baseline;
        let (raw, weights, matched) = self.raw_score(index, flow);
        let similarity = ((raw - baseline) / (1.0 - baseline)).clamp(0.0, 1.0);
        let rank_score = (similarity * weights + PRIOR_WEIGHT / 2.0) / (weights + PRIOR_WEIGHT);
        Candidate { entry: index, similarity, raw, baseline, rank_score, matched }
    }

    /// The best candidate (as the first of [`Compiled::candidates`] sorted by rank score,
    /// matched literals and library order), scoring only what can change the outcome. Every
    /// entry gets a bound on the rank score it can reach: cheap terms are scored, the others
    /// bounded from the bytes their pattern needs and the value has ([`Pattern::bound`]). The
    /// entries are then scored in order of that bound, each abandoned as soon as its bound
    /// falls below the best so far, and the first whose bound is below it ends the search.
    pub(super) fn best(&self, fp: &Fingerprint, cache: Option<&mut MatchCache>) -> Option<Candidate> {
        let mut flow = Flow::new(self, fp);
        flow.cache = cache;
        let mut pending: Vec<Partial> = Vec::with_capacity(self.entries.len());
        // The terms left open (index, optimistic numerator and denominator), per entry a range.
        let mut open: Vec<(usize, f64, f64)> = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let start = open.len();
            let mut partial = Partial { entry: index, ..Partial::default() };
            for (t, term) in entry.terms.iter().enumerate() {
                if flow.is_cheap(term) {
                    partial.add(flow.term(entry, term));
                } else {
                    let (scored, weighed) = partial.add_open(term.weight, flow.bound(term));
                    open.push((t, scored, weighed));
                }
            }
            // Heaviest first: they move the bound most.
            open[start..].sort_by(|a, b| entry.terms[b.0].weight.total_cmp(&entry.terms[a.0].weight));
            partial.terms = start..open.len();
            partial.bound = partial.bound(entry.baseline);
            pending.push(partial);
        }
        pending.sort_by(|a, b| b.bound.total_cmp(&a.bound).then(a.entry.cmp(&b.entry)));
        let beaten = |bound: f64, best: &Option<Candidate>| best.is_some_and(|b| bound + SLACK < b.rank_score);
        let mut best: Option<Candidate> = None;
        'entries: for mut partial in pending {
            if beaten(partial.bound, &best) {
                break;
            }
            let entry = &self.entries[partial.entry];
            for &(t, scored, weighed) in &open[partial.terms.clone()] {
                let term = &entry.terms[t];
                partial.close(term.weight, scored, weighed);
                partial.add(flow.term(entry, term));
                if beaten(partial.bound(entry.baseline), &best) {
                    continue 'entries;
                }
            }
            let candidate = self.candidate(partial.entry, &mut flow);
            if best.is_none_or(|b| better(&candidate, &b)) {
                best = Some(candidate);
            }
        }
        best
    }
}

/// The ranking order: rank score, then literals matched, then library order.
pub(super) fn ranking(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.rank_score.total_cmp(&a.rank_score).then(b.matched.cmp(&a.matched)).then(a.entry.cmp(&b.entry))
}

fn better(a: &Candidate, b: &Candidate) -> bool {
    ranking(a, b) == std::cmp::Ordering::Less
}

/// An entry partly scored: the weighted mean's numerator and denominator over the terms
/// scored, plus, for the open terms, the most they can add.
#[derive(Default)]
struct Partial {
    entry: usize,
    /// Numerator: scored terms exactly, open ones at most.
    scored: f64,
    /// Denominator, with open terms at the value that maximizes the mean.
    weighed: f64,
    /// Denominator of the scored terms alone.
    weighed_exactly: f64,
    /// Weight of the open terms.
    open: f64,
    bound: f64,
    /// Where the open terms are.
    terms: std::ops::Range<usize>,
}

impl Partial {
    fn add(&mut self, value: Option<TermValue>) {
        if let Some(v) = value {
            let (scored, weighed) = v.parts();
            self.scored += scored;
            self.weighed += weighed;
            self.weighed_exactly += weighed;
        }
    }

    /// Adds an open term of `weight` whose known share × similarity is at most `most`; returns
    /// what it added. Its numerator is at most `weight × most` and at most its denominator,
    /// which lies between a quarter and all of its weight: the mean is highest with the
    /// denominator at `weight × most` within those limits (more adds as much to both, a mean
    /// below 1 rises; beyond, only the denominator grows).
    fn add_open(&mut self, weight: f64, most: f64) -> (f64, f64) {
        let scored = weight * most;
        let weighed = scored.max(weight * KNOWN_FLOOR);
        self.scored += scored;
        self.weighed += weighed;
        self.open += weight;
        (scored, weighed)
    }

    /// Takes an open term out again (before adding its score).
    fn close(&mut self, weight: f64, scored: f64, weighed: f64) {
        self.scored -= scored;
        self.weighed -= weighed;
        self.open -= weight;
    }

    /// The highest rank score the entry can still reach: the highest mean, then the total
    /// weight at whichever end of its range gives the higher rank score (it is monotonic in
    /// the weight).
    fn bound(&self, baseline: f64) -> f64 {
        let raw = if self.weighed > 0.0 { self.scored / self.weighed } else { 0.0 };
        let similarity = ((raw - baseline) / (1.0 - baseline)).clamp(0.0, 1.0);
        let rank = |w: f64| (similarity * w + PRIOR_WEIGHT / 2.0) / (w + PRIOR_WEIGHT);
        let (least, most) = (self.weighed_exactly + KNOWN_FLOOR * self.open, self.weighed_exactly + self.open);
        rank(least).max(rank(most))
    }
}

/// One flow as the terms see it, with what was computed for it so far.
struct Flow<'a> {
    compiled: &'a Compiled,
    fp: &'a Fingerprint,
    /// `same_ip` | `same_port` << 1: which reading of the patterns applies.
    reading: usize,
    /// The methods as a value (`start:method`).
    methods: MergedValue,
    /// Per library key: the index of the flow's key ([`REQUEST_URI_SLOT`], [`METHODS_SLOT`]),
    /// or none when the flow lacks it.
    slots: Vec<Option<usize>>,
    /// Per library key: its views, built when first needed.
    views: Vec<Option<Views>>,
    /// Per shared pattern: its score, once computed.
    scores: Vec<Option<FieldScore>>,
    /// The header names as written, for the order (non-SDP keys in merged order).
    names: Option<Vec<String>>,
    /// Scratch for an entry's term values.
    values: Vec<TermValue>,
    /// Scores kept across flows, and per library key what they are kept under.
    cache: Option<&'a mut MatchCache>,
    cache_ids: Vec<Option<Box<[u8]>>>,
}

/// Field scores kept across flows (by the engine): flows of one tool share most of their merged
/// values, and a score depends on nothing but the pattern and the value's views. Bounded: when
/// the kept bytes pass [`MatchCache::MAX_BYTES`], it starts over.
#[derive(Debug, Default)]
pub struct MatchCache {
    /// The library the scores belong to (pattern indices are its own).
    library: Option<Arc<Compiled>>,
    /// By reading, key and views: the scores of that key's patterns computed so far.
    values: HashMap<Box<[u8]>, Vec<(usize, FieldScore)>>,
    /// By pattern, reading and the views as that pattern sees them
    /// ([`Views::write_projected_id`]): scores of fields whose values differ only in bytes
    /// the pattern does not name (random tags, branches, Call-IDs).
    projected: HashMap<Box<[u8]>, FieldScore>,
    /// The id being made (reused).
    scratch: Vec<u8>,
    bytes: usize,
    /// Per pattern and reading, the alignments of the last views scored
    /// ([`Pattern::score_views_resume`]), at most [`MatchCache::MAX_MEMO_BYTES`] in all.
    memos: HashMap<(usize, usize), Box<[AlignMemo; 3]>>,
    memo_bytes: usize,
}

impl MatchCache {
    /// Bytes of keys and scores kept at most.
    pub const MAX_BYTES: usize = 8 << 20;
    /// Bytes of kept alignments at most; when passed, they start over.
    pub const MAX_MEMO_BYTES: usize = 16 << 20;

    /// Scores of `library`: what belonged to another one is dropped.
    pub(super) fn attach(&mut self, library: &Arc<Compiled>) {
        if !self.library.as_ref().is_some_and(|l| Arc::ptr_eq(l, library)) {
            self.clear();
            self.library = Some(Arc::clone(library));
        }
    }

    /// Bytes held, as counted against [`MatchCache::MAX_BYTES`] and
    /// [`MatchCache::MAX_MEMO_BYTES`].
    pub fn approx_bytes(&self) -> usize {
        self.bytes + self.memo_bytes + self.scratch.capacity()
    }

    fn clear(&mut self) {
        self.values.clear();
        self.projected.clear();
        self.bytes = 0;
        self.memos.clear();
        self.memo_bytes = 0;
    }

    /// [`Pattern::score_views`], resuming the alignments of the last views scored.
    fn resumed_score(&mut self, index: usize, reading: usize, pattern: &Pattern, views: &Views) -> FieldScore {
        let memos = self.memos.entry((index, reading)).or_default();
        let before: usize = memos.iter().map(AlignMemo::bytes).sum();
        let score = pattern.score_views_resume(views, memos);
        let after: usize = memos.iter().map(AlignMemo::bytes).sum();
        self.memo_bytes = (self.memo_bytes + after).saturating_sub(before);
        if self.memo_bytes > Self::MAX_MEMO_BYTES {
            self.memos.clear();
            self.memo_bytes = 0;
        }
        score
    }

    /// The score of `pattern` (reading `reading`) on `views`, computed or remembered.
    fn projected_score(&mut self, index: usize, reading: usize, pattern: &Pattern, views: &Views) -> FieldScore {
        let mut id = std::mem::take(&mut self.scratch);
        id.clear();
        id.extend_from_slice(&(index as u32).to_le_bytes());
        id.push(reading as u8);
        views.write_projected_id(pattern, &mut id);
        let score = match self.projected.get(&id[..]) {
            Some(&score) => score,
            None => {
                let score = self.resumed_score(index, reading, pattern, views);
                let entry = id.len() + std::mem::size_of::<FieldScore>();
                if self.bytes + entry > Self::MAX_BYTES {
                    self.clear();
                }
                self.projected.insert(id[..].into(), score);
                self.bytes += entry;
                score
            }
        };
        self.scratch = id;
        score
    }

    fn insert(&mut self, id: &[u8], pattern: usize, score: FieldScore) {
        let entry = std::mem::size_of::<(usize, FieldScore)>();
        if let Some(scores) = self.values.get_mut(id) {
            scores.push((pattern, score));
            self.bytes += entry;
            return;
        }
        if self.bytes + id.len() + entry > Self::MAX_BYTES {
            self.clear();
        }
        self.values.insert(id.into(), vec![(pattern, score)]);
        self.bytes += id.len() + entry;
    }
}

const REQUEST_URI_SLOT: usize = usize::MAX;
const METHODS_SLOT: usize = usize::MAX - 1;

impl<'a> Flow<'a> {
    fn new(compiled: &'a Compiled, fp: &'a Fingerprint) -> Flow<'a> {
        let methods = MergedValue::constant(fp.methods().collect::<Vec<_>>().join(",").as_bytes(), MAX_VALUE_LEN);
        let slots = compiled
            .keys
            .iter()
            .map(|key| match key.as_str() {
                METHODS_KEY => Some(METHODS_SLOT),
                REQUEST_URI_KEY => (fp.request_uri().present() > 0).then_some(REQUEST_URI_SLOT),
                key => fp.keys().iter().position(|k| k.key == key),
            })
            .collect();
        Flow {
            compiled,
            fp,
            reading: usize::from(fp.same_ip()) | usize::from(fp.same_port()) << 1,
            methods,
            values: Vec::new(),
            slots,
            views: (0..compiled.keys.len()).map(|_| None).collect(),
            scores: vec![None; compiled.patterns.len()],
            names: None,
            cache: None,
            cache_ids: Vec::new(),
        }
    }

    fn value(&self, key: usize) -> Option<&MergedValue> {
        match self.slots[key]? {
            METHODS_SLOT => Some(&self.methods),
            REQUEST_URI_SLOT => Some(self.fp.request_uri()),
            i => Some(&self.fp.keys()[i].value),
        }
    }

    /// Whether the term costs next to nothing (or was already scored, in this flow or, with
    /// a cache, in another with the same value).
    fn is_cheap(&mut self, term: &Term) -> bool {
        let TermKind::Field { key, pattern, .. } = term.kind else { return true };
        if self.value(key).is_none() {
            return true;
        }
        if self.cache.is_some() {
            self.views(key);
        }
        let value = self.value(key).expect("checked");
        if self.scores[pattern].is_some() {
            return true;
        }
        let views = if value.min_len() != value.max_len() || value.max_len() > MAX_VALUE_LEN { 3 } else { 1 };
        let tokens = self.compiled.patterns[pattern].readings[self.reading].tokens();
        (tokens + 1) * (value.head().len() + 1) * views <= CHEAP_CELLS
    }

    /// At most the known share × similarity of an open term (a field the flow has).
    fn bound(&mut self, term: &Term) -> f64 {
        let TermKind::Field { key, pattern, .. } = term.kind else { return 1.0 };
        let (compiled, reading) = (self.compiled, self.reading);
        compiled.patterns[pattern].readings[reading].bound(self.views(key))
    }

    /// The views of a key the flow has, built once; with a cache, the scores it keeps for
    /// them are taken over.
    fn views(&mut self, key: usize) -> &Views {
        if self.views[key].is_none() {
            let mut views = Views::default();
            views.build(self.value(key).expect("checked by the caller"));
            if let Some(cache) = self.cache.as_deref_mut() {
                let mut id = vec![self.reading as u8];
                id.extend_from_slice(&(key as u32).to_le_bytes());
                views.write_id(&mut id);
                for &(pattern, score) in cache.values.get(&id[..]).into_iter().flatten() {
                    self.scores[pattern] = Some(score);
                }
                if self.cache_ids.is_empty() {
                    self.cache_ids.resize(self.compiled.keys.len(), None);
                }
                self.cache_ids[key] = Some(id.into());
            }
            self.views[key] = Some(views);
        }
        self.views[key].as_ref().expect("built")
    }

    /// The term's value; none for an optional field the flow lacks (left out of the mean).
    fn term(&mut self, entry: &EntryTerms, term: &Term) -> Option<TermValue> {
        let weight = term.weight;
        match term.kind {
            TermKind::Field { key, pattern, required } => {
                if self.value(key).is_none() {
                    return required.then(|| TermValue::plain(weight, 0.0));
                }
                let score = self.field(key, pattern);
                let (similarity, known, matched) = (score.similarity(), score.known(), score.matched);
                Some(TermValue { weight, similarity, known, matched })
            }
            TermKind::Absent { key } => {
                Some(TermValue::plain(weight, if self.value(key).is_none() { 1.0 } else { 0.0 }))
            }
            TermKind::Order => {
                let names = self.names.get_or_insert_with(|| {
                    self.fp.keys().iter().filter(|k| !k.key.starts_with("sdp:")).map(|k| k.name.text()).collect()
                });
                Some(TermValue::plain(weight, sequence_similarity(&entry.order, names)))
            }
        }
    }

    fn field(&mut self, key: usize, pattern: usize) -> FieldScore {
        if let Some(score) = self.scores[pattern] {
            return score;
        }
        let compiled = self.compiled;
        let reading = self.reading;
        let parsed = &compiled.patterns[pattern].readings[reading];
        self.views(key);
        let (Some(views), Some(value)) = (self.views[key].as_ref(), self.value(key)) else {
            return FieldScore::default();
        };
        let rows = if value.min_len() != value.max_len() || value.max_len() > MAX_VALUE_LEN { 3 } else { 1 };
        let cheap = (parsed.tokens() + 1) * (value.head().len() + 1) * rows <= CHEAP_CELLS;
        let score = match self.cache.as_deref_mut() {
            Some(cache) if !cheap => cache.projected_score(pattern, reading, parsed, views),
            Some(cache) => cache.resumed_score(pattern, reading, parsed, views),
            None => parsed.score_views(views),
        };
        self.scores[pattern] = Some(score);
        if let Some(cache) = self.cache.as_deref_mut() {
            if let Some(id) = self.cache_ids.get(key).and_then(Option::as_deref) {
                cache.insert(id, pattern, score);
            }
        }
        score
    }
}

/// Where the flow's packets went to their own address (or port), the fingerprint says
/// `SourceIP` (`SourcePort`) for both: a pattern's `DestIP` (`DestPort`) must then read the same.
fn rewrite(pattern: &str, same_ip: bool, same_port: bool) -> String {
    let mut text = pattern.to_string();
    if same_ip {
        text = text.replace(DEST_IP, SOURCE_IP);
    }
    if same_port {
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
