//! Library patterns against merged values. A pattern is literal text with `*` (any run, what
//! 004 Table I writes as `[Random agent]`) and `?` (exactly one character: `[8 characters]` is
//! `????????`); `\` escapes the next character. The score is an alignment: literals that land
//! on the same constant byte count as matched, everything else as edits. Agreeing on what every
//! SIP message contains (`<sip:`, `;tag=`, `SIP/2.0/UDP`, `SourceIP`) is weak evidence, so such
//! literals count a quarter when matched; disagreeing on them (a missing quote, an extra
//! space) still counts fully, because those are the artifacts that tell tools apart.

use crate::analysis::fingerprint::{Cells, MergedValue, MAX_VALUE_LEN};

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
pub struct Pattern(Vec<Tok>);

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
        Pattern(toks)
    }

    /// Literal characters in the pattern.
    pub fn literals(&self) -> usize {
        self.0.iter().filter(|t| matches!(t, Tok::Lit(..))).count()
    }

    /// The best score over the views of `value`: the paper's left-aligned row; and when the
    /// length varied (or was cut), the right-aligned row and the constant start + gap +
    /// constant end.
    pub fn score(&self, value: &MergedValue) -> FieldScore {
        let head: Vec<Cell> = cells(value.head()).collect();
        let mut best = self.align(&head);
        if value.min_len() != value.max_len() || value.max_len() > MAX_VALUE_LEN {
            let mut tail: Vec<Cell> = cells(value.tail()).collect();
            tail.reverse();
            let reliable = value.min_len().min(head.len()).min(value.tail().len());
            let prefix = head[..reliable].iter().take_while(|c| matches!(c, Cell::Byte(_))).count();
            let suffix = tail.iter().rev().take(reliable - prefix).take_while(|c| matches!(c, Cell::Byte(_))).count();
            let mut splice = head[..prefix].to_vec();
            splice.push(Cell::Gap);
            splice.extend_from_slice(&tail[tail.len() - suffix..]);
            for view in [tail, splice] {
                let score = self.align(&view);
                if (score.rank(), score.evidence) > (best.rank(), best.evidence) {
                    best = score;
                }
            }
        }
        best
    }

    /// Minimum-cost alignment (ties: most evidence) of the pattern with one view.
    fn align(&self, view: &[Cell]) -> FieldScore {
        let toks = &self.0;
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

fn cells(row: &Cells) -> impl Iterator<Item = Cell> + '_ {
    row.iter().map(|c| c.map_or(Cell::Any, Cell::Byte))
}
