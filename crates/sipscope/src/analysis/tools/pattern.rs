//! Library patterns against merged values. A pattern is literal text with `*` (any run, what
//! 004 Table I writes as `[Random agent]`) and `?` (exactly one character: `[8 characters]` is
//! `????????`); `\` escapes the next character. The score is an alignment: literals that land
//! on the same constant byte count as matched, everything else as edits. Agreeing on what every
//! SIP message contains (`<sip:`, `;tag=`, `SIP/2.0/UDP`, `SourceIP`) is weak evidence, so such
//! literals count a quarter when matched; disagreeing on them (a missing quote, an extra
//! space) still counts fully, because those are the artifacts that tell tools apart.

use crate::analysis::fingerprint::{Cells, MergedValue, MAX_VALUE_LEN};

#[path = "pattern_resume.rs"]
mod resume;
pub(super) use resume::AlignMemo;

/// One pattern token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A literal byte, and its evidence when matched (quarters: 4, or 1 for boilerplate).
    Lit(u8, u32),
    One,
    Star,
}

/// Words every SIP client writes (compared ignoring case), plus the address tokens. Any other
/// run of letters and digits in a pattern is distinctive.
const BOILERPLATE: &[&str] = &[
    "sip",
    "sips",
    "tel",
    "tag",
    "branch",
    "z9hG4bK",
    "rport",
    "transport",
    "udp",
    "tcp",
    "tls",
    "sctp",
    "ws",
    "wss",
    "lr",
    "ob",
    "expires",
    "received",
    "maddr",
    "user",
    "phone",
    "Digest",
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "MD5",
    "qop",
    "auth",
    "cnonce",
    "nc",
    "opaque",
    "application",
    "sdp",
    "text",
    "plain",
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "INFO",
    "UPDATE",
    "IN",
    "IP4",
    "IP6",
    "RTP",
    "AVP",
    "audio",
    "video",
    "rtpmap",
    "PCMU",
    "PCMA",
    "sendrecv",
    "SourceIP",
    "DestIP",
    "SourcePort",
    "DestPort",
    "0",
    "2",
    "70",
];
const STRONG: u32 = 4;
const WEAK: u32 = 1;

/// One cell of a view of a merged value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Byte(u8),
    /// Packets disagreed here.
    Any,
    /// An unknown run of unknown length (between the constant start and end of a value whose
    /// length varied).
    Gap,
}

/// Costs in half units: a literal a gap may hide is neither confirmed nor contradicted, so it
/// costs half an edit when choosing the alignment and counts as unknown afterwards.
const EDIT: u32 = 2;
const UNKNOWN: u32 = 1;

/// The result for one field: the best alignment's matched, contradicted and unknown parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldScore {
    /// Literal characters that landed on the same constant byte.
    pub matched: u32,
    /// Their evidence, in quarters: 4 per distinctive character, 1 per boilerplate one.
    pub evidence: u32,
    /// Edits: literals on another byte or on a placeholder (randomized where the pattern
    /// expects a constant), missing or extra characters.
    pub edits: u32,
    /// Literals only a gap of unknown content could hold, and gaps left over.
    pub unknown: u32,
}

impl FieldScore {
    /// evidence / (evidence + edits), evidence in characters; 1 when there is neither (a
    /// pattern without literals that fits, or a value whose relevant part is all unknown).
    pub fn similarity(&self) -> f64 {
        let evidence = f64::from(self.evidence) / f64::from(STRONG);
        let all = evidence + f64::from(self.edits);
        if all == 0.0 {
            1.0
        } else {
            evidence / all
        }
    }

    /// The share of the evidence that is known: (matched + edits) / everything.
    pub fn known(&self) -> f64 {
        match self.matched + self.edits + self.unknown {
            0 => 1.0,
            all => f64::from(self.matched + self.edits) / f64::from(all),
        }
    }

    /// What alignments and views are chosen by: unknown parts count half.
    fn rank(&self) -> f64 {
        let evidence = f64::from(self.evidence) / f64::from(STRONG);
        let all = evidence + f64::from(self.edits) + f64::from(self.unknown) / 2.0;
        if all == 0.0 {
            1.0
        } else {
            evidence / all
        }
    }
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    toks: Vec<Tok>,
    /// Per token, its moves in the packed alignment (derived from `toks`).
    steps: Vec<Steps>,
    /// The literals as a multiset: (byte, how many, how many of them strong).
    bytes: Vec<(u8, u16, u16)>,
    /// The literal bytes as a set (bit b of word b / 64).
    set: [u64; 4],
    literals: usize,
}

impl Pattern {
    /// Parses pattern text; consecutive `*` are one.
    pub fn parse(text: &str) -> Pattern {
        let mut toks = Vec::with_capacity(text.len());
        let mut bytes = text.bytes();
        while let Some(b) = bytes.next() {
            let tok = match b {
                b'\\' => Tok::Lit(bytes.next().unwrap_or(b'\\'), WEAK),
                b'*' => Tok::Star,
                b'?' => Tok::One,
                b => Tok::Lit(b, WEAK),
            };
            if !(tok == Tok::Star && toks.last() == Some(&Tok::Star)) {
                toks.push(tok);
            }
        }
        // Runs of letters and digits that are not boilerplate words are strong evidence.
        let mut i = 0;
        while i < toks.len() {
            let run = toks[i..].iter().take_while(|t| matches!(t, Tok::Lit(b, _) if b.is_ascii_alphanumeric())).count();
            let word: Vec<u8> =
                toks[i..i + run].iter().filter_map(|t| if let Tok::Lit(b, _) = t { Some(*b) } else { None }).collect();
            if run > 0 && !BOILERPLATE.iter().any(|w| w.as_bytes().eq_ignore_ascii_case(&word)) {
                for tok in &mut toks[i..i + run] {
                    if let Tok::Lit(_, weight) = tok {
                        *weight = STRONG;
                    }
                }
            }
            i += run.max(1);
        }
        let steps = toks.iter().map(|&t| Steps::of(t)).collect();
        let mut bytes: Vec<(u8, u16, u16)> = Vec::new();
        for tok in &toks {
            let Tok::Lit(b, weight) = *tok else { continue };
            let strong = u16::from(weight == STRONG);
            match bytes.iter_mut().find(|(x, _, _)| *x == b) {
                Some((_, n, s)) => {
                    *n = n.saturating_add(1);
                    *s = s.saturating_add(strong);
                }
                None => bytes.push((b, 1, strong)),
            }
        }
        let literals = toks.iter().filter(|t| matches!(t, Tok::Lit(..))).count();
        let mut set = [0u64; 4];
        for &(b, _, _) in &bytes {
            set[usize::from(b / 64)] |= 1 << (b % 64);
        }
        Pattern { toks, steps, bytes, set, literals }
    }

    /// Tokens (literals, `?` and `*`): an alignment costs tokens × view cells.
    pub(super) fn tokens(&self) -> usize {
        self.toks.len()
    }

    /// Literal characters in the pattern.
    pub fn literals(&self) -> usize {
        self.literals
    }

    /// At most [`FieldScore::known`] × [`FieldScore::similarity`] of [`Pattern::score_views`],
    /// from the bytes alone, without aligning. Every literal is matched (on an equal byte:
    /// at most as many as the view holds of that byte), an edit, or unknown, so
    /// known × similarity ≤ matched / literals; without a gap nothing is unknown and the
    /// unmatched literals are edits, so similarity ≤ evidence / (evidence + unmatched).
    pub(super) fn bound(&self, views: &Views) -> f64 {
        if self.literals == 0 {
            return 1.0;
        }
        let literals = self.literals as f64;
        let mut most: f64 = 0.0;
        for (counts, gap) in views.counts() {
            let (mut matched, mut evidence) = (0u32, 0u32);
            for &(b, n, strong) in &self.bytes {
                let m = n.min(counts[usize::from(b)]);
                let s = strong.min(m);
                matched += u32::from(m);
                evidence += u32::from(s) * STRONG + u32::from(m - s) * WEAK;
            }
            let mut bound = f64::from(matched) / literals;
            if !gap {
                let evidence = f64::from(evidence) / f64::from(STRONG);
                let all = evidence + (literals - f64::from(matched));
                bound = bound.min(if all == 0.0 { 1.0 } else { evidence / all });
            }
            most = most.max(bound);
        }
        most.min(1.0)
    }

    /// The best score over the views of `value`: the paper's left-aligned row; and when the
    /// length varied (or was cut), the right-aligned row and the constant start + gap +
    /// constant end.
    pub fn score(&self, value: &MergedValue) -> FieldScore {
        let mut views = Views::default();
        views.build(value);
        self.score_views(&views)
    }

    /// [`Pattern::score`] on views built once for every pattern of a key.
    pub(super) fn score_views(&self, views: &Views) -> FieldScore {
        let mut best = self.align(views.head());
        if let (Some(tail), Some(splice)) = (views.tail(), views.splice()) {
            for view in [tail, splice] {
                let score = self.align(view);
                if (score.rank(), score.evidence) > (best.rank(), best.evidence) {
                    best = score;
                }
            }
        }
        best
    }

    /// Minimum-cost alignment (ties: most evidence) of the pattern with one view.
    fn align(&self, view: &[u16]) -> FieldScore {
        if self.toks.len() + view.len() > MAX_PACKED {
            let cells: Vec<Cell> = view
                .iter()
                .map(|&c| match c {
                    ANY => Cell::Any,
                    GAP => Cell::Gap,
                    b => Cell::Byte(b as u8),
                })
                .collect();
            return self.align_wide(&cells);
        }
        let mut buffers = [0u64; 2 * (VIEW_CAP + 1)];
        let mut heap = Vec::new();
        let (prev, cur) = if view.len() <= VIEW_CAP {
            buffers.split_at_mut(VIEW_CAP + 1)
        } else {
            heap.resize(2 * (view.len() + 1), 0);
            heap.split_at_mut(view.len() + 1)
        };
        let (mut prev, mut cur) = (&mut prev[..=view.len()], &mut cur[..=view.len()]);
        // Pattern prefix 0: only view cells skipped (free inside a leading `*`).
        let first = self.steps.first();
        prev[0] = START;
        for (j, &cell) in view.iter().enumerate() {
            prev[j + 1] = prev[j].wrapping_add(horizontal(first, cell));
        }
        for (i, step) in self.steps.iter().enumerate() {
            let next = self.steps.get(i + 1);
            cur[0] = prev[0].wrapping_add(step.skip);
            for j in 1..=view.len() {
                let cell = view[j - 1];
                // Candidates in the order the first minimum is kept: match the token with the
                // cell, skip the token, skip the cell.
                let on_cell = if cell == GAP {
                    BLOCKED
                } else if cell == step.lit {
                    step.on_lit
                } else {
                    step.on_other
                };
                let diagonal = prev[j - 1].wrapping_add(on_cell);
                let skip = if cell == GAP { step.skip_after_gap } else { step.skip };
                let vertical = prev[j].wrapping_add(skip);
                let best = if vertical >> 32 < diagonal >> 32 { vertical } else { diagonal };
                let across = cur[j - 1].wrapping_add(horizontal(next, cell));
                cur[j] = if across >> 32 < best >> 32 { across } else { best };
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        score_of(prev[view.len()])
    }

    /// The same alignment without the packed state's size limits (patterns and views of
    /// thousands of characters, which only a user's library could have).
    fn align_wide(&self, view: &[Cell]) -> FieldScore {
        let toks = &self.toks;
        // Per view prefix length, for the current pattern prefix: the best state so far.
        let none = State { cost: u32::MAX, ..State::default() };
        let mut row = vec![none; view.len() + 1];
        let mut next = row.clone();
        row[0] = State::default();
        for i in 0..=toks.len() {
            // Moves within this pattern prefix: skip a view cell.
            for j in 0..view.len() {
                if row[j].cost == u32::MAX {
                    continue;
                }
                let step = match (toks.get(i), view[j]) {
                    (Some(Tok::Star), _) => 0,
                    (_, Cell::Gap) => UNKNOWN,
                    _ => EDIT,
                };
                row[j + 1] = row[j + 1].best(row[j].then(step, 0));
            }
            let Some(&tok) = toks.get(i) else { break };
            // Moves to the next pattern prefix: match with a cell, or skip the token.
            next.fill(none);
            for j in 0..=view.len() {
                if row[j].cost == u32::MAX {
                    continue;
                }
                let after_gap = j > 0 && view[j - 1] == Cell::Gap;
                let skip = match tok {
                    Tok::Star => 0,
                    Tok::One if after_gap => 0,
                    Tok::Lit(..) if after_gap => UNKNOWN,
                    _ => EDIT,
                };
                next[j] = next[j].best(row[j].then(skip, 0));
                let Some(&cell) = view.get(j) else { continue };
                let (step, evidence) = match (tok, cell) {
                    (Tok::Star, _) | (_, Cell::Gap) => continue,
                    (Tok::One, _) => (0, 0),
                    (Tok::Lit(a, weight), Cell::Byte(b)) if a == b => (0, weight),
                    (Tok::Lit(..), _) => (EDIT, 0),
                };
                next[j + 1] = next[j + 1].best(row[j].then(step, evidence));
            }
            std::mem::swap(&mut row, &mut next);
        }
        let end = row[view.len()];
        FieldScore {
            matched: end.matched,
            evidence: end.evidence,
            edits: (end.cost - end.unknown * UNKNOWN) / EDIT,
            unknown: end.unknown,
        }
    }
}

/// The score of an alignment's final packed state.
fn score_of(end: u64) -> FieldScore {
    let cost = (end >> 48) as u32;
    let unknown = (end & 0xffff) as u32;
    FieldScore {
        matched: ((end >> 16) & 0xffff) as u32,
        evidence: 0xffff - ((end >> 32) & 0xffff) as u32,
        edits: (cost - unknown * UNKNOWN) / EDIT,
        unknown,
    }
}

/// The views of one merged value, as cells: a byte, [`ANY`] or [`GAP`].
#[derive(Debug)]
pub(super) struct Views {
    head: Vec<u16>,
    tail: Vec<u16>,
    splice: Vec<u16>,
    /// Whether the length varied (or was cut): only then are the tail and splice views used.
    varied: bool,
    /// How many cells of each byte each view has (head, tail, splice).
    counts: [[u16; 256]; 3],
}

impl Default for Views {
    fn default() -> Views {
        Views { head: Vec::new(), tail: Vec::new(), splice: Vec::new(), varied: false, counts: [[0; 256]; 3] }
    }
}

impl Views {
    /// The views of `value`, reusing the buffers.
    pub(super) fn build(&mut self, value: &MergedValue) {
        cells_into(value.head(), &mut self.head);
        count(&self.head, &mut self.counts[0]);
        self.varied = value.min_len() != value.max_len() || value.max_len() > MAX_VALUE_LEN;
        if !self.varied {
            return;
        }
        cells_into(&value.tail(), &mut self.tail);
        self.tail.reverse();
        let (head, tail) = (&self.head, &self.tail);
        let reliable = value.min_len().min(head.len()).min(tail.len());
        let prefix = head[..reliable].iter().take_while(|&&c| c < ANY).count();
        let suffix = tail.iter().rev().take(reliable - prefix).take_while(|&&c| c < ANY).count();
        self.splice.clear();
        self.splice.extend_from_slice(&head[..prefix]);
        self.splice.push(GAP);
        self.splice.extend_from_slice(&tail[tail.len() - suffix..]);
        count(&self.tail, &mut self.counts[1]);
        count(&self.splice, &mut self.counts[2]);
    }

    /// Appends what tells these views apart from any others (what a score depends on): whether
    /// the length varied, then the cells of each view used, a byte each, `0xff` followed by 0
    /// for the byte 0xff, 1 for a placeholder, 2 for the gap.
    pub(super) fn write_id(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.varied));
        let views: &[&Vec<u16>] = if self.varied { &[&self.head, &self.tail, &self.splice] } else { &[&self.head] };
        for view in views {
            out.extend_from_slice(&(view.len() as u32).to_le_bytes());
            for &cell in view.iter() {
                match cell {
                    0xff => out.extend_from_slice(&[0xff, 0]),
                    ANY => out.extend_from_slice(&[0xff, 1]),
                    GAP => out.extend_from_slice(&[0xff, 2]),
                    b => out.push(b as u8),
                }
            }
        }
    }

    /// Like [`Views::write_id`], for `pattern` alone: a byte that is none of its literals
    /// is written as a placeholder. The score of a pattern cannot tell such a byte from a
    /// placeholder (a literal meets either as an edit, `?` and `*` take either), so views
    /// that write the same text here get the same [`Pattern::score_views`]: random Call-IDs,
    /// tags and branches of one length all score alike against a pattern without digits.
    pub(super) fn write_projected_id(&self, pattern: &Pattern, out: &mut Vec<u8>) {
        out.push(u8::from(self.varied));
        let views: &[&Vec<u16>] = if self.varied { &[&self.head, &self.tail, &self.splice] } else { &[&self.head] };
        let literal = |b: u16| b < 256 && pattern.set[usize::from(b / 64)] & (1 << (b % 64)) != 0;
        for view in views {
            out.extend_from_slice(&(view.len() as u32).to_le_bytes());
            for &cell in view.iter() {
                match cell {
                    GAP => out.extend_from_slice(&[0xff, 2]),
                    0xff if literal(cell) => out.extend_from_slice(&[0xff, 0]),
                    b if literal(b) => out.push(b as u8),
                    _ => out.extend_from_slice(&[0xff, 1]),
                }
            }
        }
    }

    /// Per view used: how many cells of each byte it has, and whether it has a gap.
    fn counts(&self) -> impl Iterator<Item = (&[u16; 256], bool)> {
        let used = if self.varied { 3 } else { 1 };
        self.counts.iter().zip([false, false, true]).take(used)
    }

    fn head(&self) -> &[u16] {
        &self.head
    }

    fn tail(&self) -> Option<&[u16]> {
        self.varied.then_some(&self.tail[..])
    }

    fn splice(&self) -> Option<&[u16]> {
        self.varied.then_some(&self.splice[..])
    }
}

fn count(view: &[u16], counts: &mut [u16; 256]) {
    counts.fill(0);
    for &c in view {
        if let Some(n) = counts.get_mut(usize::from(c)) {
            *n += 1;
        }
    }
}

fn cells_into(row: &Cells, out: &mut Vec<u16>) {
    out.clear();
    out.extend(row.iter().map(|c| c.map_or(ANY, u16::from)));
}

/// View cells other than bytes.
const ANY: u16 = 256;
const GAP: u16 = 257;
/// Never equal to a cell.
const NO_LITERAL: u16 = u16::MAX;

/// Views up to this length align on the stack.
const VIEW_CAP: usize = 2 * MAX_VALUE_LEN + 1;
/// Larger alignments take the wide path: the packed state holds a cost below 2^15 (and evidence,
/// matched and unknown counts below 2^16).
const MAX_PACKED: usize = 16_000;

/// The packed alignment state, compared by its high half: cost (bits 48..64), then 0xffff -
/// evidence (bits 32..48), so lower is better; then matched (16..32) and unknown (0..16),
/// which are carried along. Moves add a [`delta`].
const START: u64 = 0xffff << 32;
/// Added when a move is not allowed: a cost above any real alignment's.
const BLOCKED: u64 = 0x8000 << 48;

const fn delta(cost: u32, evidence: u32) -> u64 {
    ((cost as u64) << 48)
        .wrapping_sub((evidence as u64) << 32)
        .wrapping_add(((evidence > 0) as u64) << 16)
        .wrapping_add((cost == UNKNOWN) as u64)
}

/// One token's moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Steps {
    /// The byte the token matches at no cost ([`NO_LITERAL`] for `?` and `*`).
    lit: u16,
    /// Matching that byte.
    on_lit: u64,
    /// Matching any other byte or a placeholder ([`BLOCKED`] for `*`).
    on_other: u64,
    /// Skipping the token.
    skip: u64,
    /// Skipping the token right after a gap.
    skip_after_gap: u64,
    /// `*`: view cells are skipped at no cost before matching the token after it.
    star: bool,
}

impl Steps {
    fn of(tok: Tok) -> Steps {
        match tok {
            Tok::Lit(a, weight) => Steps {
                lit: u16::from(a),
                on_lit: delta(0, weight),
                on_other: delta(EDIT, 0),
                skip: delta(EDIT, 0),
                skip_after_gap: delta(UNKNOWN, 0),
                star: false,
            },
            Tok::One => Steps {
                lit: NO_LITERAL,
                on_lit: 0,
                on_other: delta(0, 0),
                skip: delta(EDIT, 0),
                skip_after_gap: delta(0, 0),
                star: false,
            },
            Tok::Star => Steps {
                lit: NO_LITERAL,
                on_lit: 0,
                on_other: BLOCKED,
                skip: delta(0, 0),
                skip_after_gap: delta(0, 0),
                star: true,
            },
        }
    }
}

/// Skipping `cell` before matching `next` (none: the pattern is done).
fn horizontal(next: Option<&Steps>, cell: u16) -> u64 {
    match next {
        Some(s) if s.star => delta(0, 0),
        _ if cell == GAP => delta(UNKNOWN, 0),
        _ => delta(EDIT, 0),
    }
}

/// A partial alignment.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    cost: u32,
    evidence: u32,
    matched: u32,
    unknown: u32,
}

impl State {
    fn then(self, cost: u32, evidence: u32) -> State {
        State {
            cost: self.cost + cost,
            evidence: self.evidence + evidence,
            matched: self.matched + u32::from(evidence > 0),
            unknown: self.unknown + u32::from(cost == UNKNOWN),
        }
    }

    fn best(self, other: State) -> State {
        if (other.cost, u32::MAX - other.evidence) < (self.cost, u32::MAX - self.evidence) {
            other
        } else {
            self
        }
    }
}
