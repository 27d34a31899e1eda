//! The tool library (004 §V.A, Table I): known scanners as data (`tools.toml`, compiled in;
//! users add or replace entries with their own file), and the attribution of a flow's
//! [`Fingerprint`] to one of them, to a tool derived from one, or to a custom tool.
//! See docs/fingerprints.md.

mod baseline;
mod pattern;
mod score;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fixtures;

pub use pattern::{FieldScore, Pattern};
pub use score::{Candidate, FieldResult, MatchCache, KNOWN_FLOOR, MAX_BASELINE, PRIOR_WEIGHT};

use crate::analysis::fingerprint::Fingerprint;
use serde::Deserialize;
use sipscope_sip::HeaderName;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The library shipped with sipscope.
pub const BUILTIN: &str = include_str!("tools.toml");

/// From this similarity (above the entry's baseline, see [`Candidate::similarity`]) up, a flow
/// is the entry's tool. Every recorded tool's own traffic scores 0.85 or more; svmap with only
/// its User-Agent changed scores 0.68 against svmap.
pub const EXACT_THRESHOLD: f64 = 0.75;
/// From this similarity up (and below [`EXACT_THRESHOLD`]), a flow is derived from the entry's
/// base tool; below it, a custom tool. Ordinary softphones and PBXs score 0.15 at most, tools
/// that changed their names but kept the rest of NMap or SIPVicious about 0.5.
pub const DERIVED_THRESHOLD: f64 = 0.35;

/// How a tool picks its targets (004 §V.B, Fig. 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanStrategy {
    /// The next address is the previous one plus one (SIPVicious).
    Sequential,
    /// Any address of the whole IPv4 space.
    Random,
    /// Random small blocks, each scanned whole (NMap).
    RandomSequential,
}

/// One tool (or one variant of a tool) in the library.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolEntry {
    /// Tool name (`SIPVicious`, `NMap`, `StarTrinity`).
    pub name: String,
    /// Variant (`svmap`, `Base`, `Changed user`); `(name, variant)` identifies the entry.
    pub variant: String,
    /// The open-source tool this one is (or derives from); none for custom tools.
    #[serde(default)]
    pub base: Option<String>,
    /// Version the entry was recorded from.
    #[serde(default)]
    pub version: Option<String>,
    /// Row of 004 Table I.
    #[serde(default)]
    pub table: Option<u8>,
    /// Year 004 first saw it.
    #[serde(default)]
    pub first_seen: Option<u16>,
    /// Scan strategy 004 observed.
    #[serde(default)]
    pub strategy: Option<ScanStrategy>,
    /// Whether 004 found the tool on the Internet.
    #[serde(default)]
    pub known: Option<bool>,
    /// Where the entry comes from (paper table, recorded fixture folder).
    #[serde(default)]
    pub source: String,
    /// Anything worth knowing.
    #[serde(default)]
    pub notes: String,
    /// Header names as the tool writes them, in its order (compared with the merged order).
    #[serde(default)]
    pub order: Vec<String>,
    /// Keys the tool never sends.
    #[serde(default)]
    pub absent: Vec<String>,
    /// Key → pattern the merged value should match; a missing key scores 0.
    pub fields: BTreeMap<String, String>,
    /// Key → pattern, scored only when the flow has the key (headers of some modes only).
    #[serde(default)]
    pub optional: BTreeMap<String, String>,
    /// Key → weight, replacing the default weight of that key (`order` for the order).
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LibraryFile {
    #[serde(default)]
    tool: Vec<ToolEntry>,
}

/// A library that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ToolLibraryError {
    /// The file cannot be read.
    #[error("tool library {0}: {1}")]
    Io(String, std::io::Error),
    /// The file is not valid TOML for the library.
    #[error("tool library {0}: {1}")]
    Invalid(String, toml::de::Error),
    /// An entry is inconsistent.
    #[error("tool library {0}: {1}")]
    Entry(String, String),
}

/// How a flow relates to the entry it resembles most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Similarity ≥ [`EXACT_THRESHOLD`]: this tool and variant.
    Exact,
    /// [`DERIVED_THRESHOLD`] ≤ similarity < [`EXACT_THRESHOLD`]: a modified copy of `from`
    /// (the entry's base, or its name for a custom tool).
    Derived {
        /// The tool it was derived from.
        from: String,
    },
    /// Resembles nothing: a custom tool, known by its fingerprint id.
    Custom {
        /// [`Fingerprint::id`] of the flow.
        fingerprint_id: String,
    },
}

/// The attribution of one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolMatch {
    /// The nearest entry's tool name (for `Custom`: only the nearest, not the tool).
    pub tool: String,
    /// The nearest entry's variant.
    pub variant: String,
    /// The nearest entry's base tool.
    pub base: Option<String>,
    /// The nearest entry's 004 Table I row.
    pub table: Option<u8>,
    /// Similarity to the nearest entry, 0..1.
    pub similarity: f64,
    /// What the similarity means.
    pub verdict: Verdict,
}

/// The known tools.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolLibrary {
    entries: Vec<ToolEntry>,
    /// The entries prepared for matching, with what an ordinary client scores on each
    /// (computed when entries change).
    compiled: Arc<score::Compiled>,
}

impl ToolLibrary {
    /// The library shipped with sipscope.
    pub fn builtin() -> ToolLibrary {
        // Parsed and its baselines computed once per process.
        static LIBRARY: OnceLock<ToolLibrary> = OnceLock::new();
        LIBRARY.get_or_init(|| ToolLibrary::from_toml(BUILTIN, "built-in").expect("valid (tested)")).clone()
    }

    /// The built-in library plus the entries of a user file: an entry with the same name and
    /// variant as a built-in one replaces it, others are added.
    pub fn load(path: &Path) -> Result<ToolLibrary, ToolLibraryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ToolLibraryError::Io(shown.clone(), e))?;
        let mut library = ToolLibrary::builtin();
        library.merge(ToolLibrary::from_toml(&text, &shown)?);
        Ok(library)
    }

    /// A library of exactly the entries in `text` (`origin` names it in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<ToolLibrary, ToolLibraryError> {
        let file: LibraryFile = toml::from_str(text).map_err(|e| ToolLibraryError::Invalid(origin.to_string(), e))?;
        let mut entries: Vec<ToolEntry> = Vec::with_capacity(file.tool.len());
        for mut entry in file.tool {
            let bad = |why: String| ToolLibraryError::Entry(origin.to_string(), why);
            let label = format!("{} / {}", entry.name, entry.variant);
            if entries.iter().any(|e| (&e.name, &e.variant) == (&entry.name, &entry.variant)) {
                return Err(bad(format!("{label}: defined twice")));
            }
            if entry.fields.is_empty() {
                return Err(bad(format!("{label}: no fields")));
            }
            if let Some((key, w)) = entry.weights.iter().find(|(_, w)| !(w.is_finite() && **w > 0.0)) {
                return Err(bad(format!("{label}: weight of {key} must be a positive number, not {w}")));
            }
            entry.fields = entry.fields.into_iter().map(|(k, v)| (normalize_key(&k), v)).collect();
            entry.optional = entry.optional.into_iter().map(|(k, v)| (normalize_key(&k), v)).collect();
            entry.weights = entry.weights.into_iter().map(|(k, v)| (normalize_key(&k), v)).collect();
            entry.absent = entry.absent.iter().map(|k| normalize_key(k)).collect();
            entries.push(entry);
        }
        let compiled = Arc::new(score::Compiled::new(&entries));
        Ok(ToolLibrary { entries, compiled })
    }

    /// Adds `other`'s entries, replacing those with the same name and variant.
    pub fn merge(&mut self, other: ToolLibrary) {
        for entry in other.entries {
            match self.entries.iter_mut().find(|e| (&e.name, &e.variant) == (&entry.name, &entry.variant)) {
                Some(existing) => *existing = entry,
                None => self.entries.push(entry),
            }
        }
        self.compiled = Arc::new(score::Compiled::new(&self.entries));
    }

    /// Every entry.
    pub fn entries(&self) -> &[ToolEntry] {
        &self.entries
    }

    /// Why entry `index` scores what it scores for `fp`: every term of its weighted mean.
    pub fn explain(&self, fp: &Fingerprint, index: usize) -> Vec<FieldResult> {
        self.compiled.score_fields(index, fp)
    }

    /// Every entry's score, best first (rank score, then literals matched, then library order).
    pub fn rank(&self, fp: &Fingerprint) -> Vec<Candidate> {
        let mut all = self.compiled.candidates(fp);
        all.sort_by(score::ranking);
        all
    }

    /// Attributes a flow: the best entry, and whether the flow is that tool, derived from it,
    /// or custom.
    pub fn match_fingerprint(&self, fp: &Fingerprint) -> ToolMatch {
        self.match_with(fp, || fp.id(), None)
    }

    /// [`ToolLibrary::match_fingerprint`] for a caller that has the fingerprint's id already,
    /// with field scores kept across flows.
    pub fn match_cached(&self, fp: &Fingerprint, id: impl FnOnce() -> String, cache: &mut MatchCache) -> ToolMatch {
        cache.attach(&self.compiled);
        self.match_with(fp, id, Some(cache))
    }

    fn match_with(&self, fp: &Fingerprint, id: impl FnOnce() -> String, cache: Option<&mut MatchCache>) -> ToolMatch {
        // The first of `rank`, without scoring what cannot change it.
        let best = self.compiled.best(fp, cache);
        let Some(best) = best else {
            let verdict = Verdict::Custom { fingerprint_id: id() };
            let none = String::new();
            return ToolMatch { tool: none.clone(), variant: none, base: None, table: None, similarity: 0.0, verdict };
        };
        let entry = &self.entries[best.entry];
        let verdict = if best.similarity >= EXACT_THRESHOLD {
            Verdict::Exact
        } else if best.similarity >= DERIVED_THRESHOLD {
            Verdict::Derived { from: entry.base.clone().unwrap_or_else(|| entry.name.clone()) }
        } else {
            Verdict::Custom { fingerprint_id: id() }
        };
        ToolMatch {
            tool: entry.name.clone(),
            variant: entry.variant.clone(),
            base: entry.base.clone(),
            table: entry.table,
            similarity: best.similarity,
            verdict,
        }
    }
}

/// Library keys as fingerprint keys: lower case, compact and known names canonical.
fn normalize_key(key: &str) -> String {
    match HeaderName::parse(key.trim().as_bytes()) {
        HeaderName::Other => key.trim().to_ascii_lowercase(),
        known => known.canonical().to_ascii_lowercase(),
    }
}
