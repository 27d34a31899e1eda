//! The alignment of a [`Pattern`] with a view column by column (a column per view cell),
//! keeping the columns of the last view: values of one key from flows of one tool often share
//! their start (`SIP/2.0/UDP SourceIP:SourcePort;branch=z9hG4bK-`) and differ after it (the
//! random branch), so the next value's alignment starts where the two part. Every state is
//! computed from the same three neighbours, with the same preference among equal moves, as in
//! [`Pattern::align`]'s rows: the same result to the bit.

use super::{horizontal, score_of, FieldScore, Pattern, Views, BLOCKED, GAP, MAX_PACKED, START};

/// The columns of the last view aligned with one pattern.
#[derive(Debug, Default)]
pub(in crate::analysis::tools) struct AlignMemo {
    cells: Vec<u16>,
    /// Column j (after j cells) is `columns[j * rows..(j + 1) * rows]`, rows = tokens + 1.
    columns: Vec<u64>,
}

impl AlignMemo {
    /// Heap bytes held.
    pub(in crate::analysis::tools) fn bytes(&self) -> usize {
        self.cells.capacity() * 2 + self.columns.capacity() * 8
    }
}

impl Pattern {
    /// [`Pattern::align`], starting from the columns `memo` kept for the view's longest
    /// common start with the last one.
    pub(in crate::analysis::tools) fn align_resume(&self, view: &[u16], memo: &mut AlignMemo) -> FieldScore {
        if self.toks.len() + view.len() > MAX_PACKED {
            return self.align(view);
        }
        let steps = &self.steps;
        let rows = steps.len() + 1;
        if memo.columns.len() < rows {
            // Column 0: tokens skipped before any cell.
            memo.cells.clear();
            memo.columns.clear();
            memo.columns.push(START);
            for (t, step) in steps.iter().enumerate() {
                let above = memo.columns[t];
                memo.columns.push(above.wrapping_add(step.skip));
            }
        }
        let keep = memo.cells.iter().zip(view).take_while(|(a, b)| a == b).count();
        memo.cells.truncate(keep);
        memo.cells.extend_from_slice(&view[keep..]);
        memo.columns.resize((view.len() + 1) * rows, 0);
        let first = steps.first();
        for j in keep + 1..=view.len() {
            let cell = view[j - 1];
            let (done, rest) = memo.columns.split_at_mut(j * rows);
            let prev = &done[(j - 1) * rows..];
            let cur = &mut rest[..rows];
            cur[0] = prev[0].wrapping_add(horizontal(first, cell));
            for (t, step) in steps.iter().enumerate() {
                let t = t + 1;
                let on_cell = if cell == GAP {
                    BLOCKED
                } else if cell == step.lit {
                    step.on_lit
                } else {
                    step.on_other
                };
                let diagonal = prev[t - 1].wrapping_add(on_cell);
                let skip = if cell == GAP { step.skip_after_gap } else { step.skip };
                let vertical = cur[t - 1].wrapping_add(skip);
                let best = if vertical >> 32 < diagonal >> 32 { vertical } else { diagonal };
                let across = prev[t].wrapping_add(horizontal(steps.get(t), cell));
                cur[t] = if across >> 32 < best >> 32 { across } else { best };
            }
        }
        score_of(memo.columns[view.len() * rows + rows - 1])
    }

    /// [`Pattern::score_views`] with a memo per view (head, tail, splice).
    pub(in crate::analysis::tools) fn score_views_resume(
        &self,
        views: &Views,
        memos: &mut [AlignMemo; 3],
    ) -> FieldScore {
        let [head, tail, splice] = memos;
        let mut best = self.align_resume(views.head(), head);
        if let (Some(tail_view), Some(splice_view)) = (views.tail(), views.splice()) {
            for (view, memo) in [(tail_view, tail), (splice_view, splice)] {
                let score = self.align_resume(view, memo);
                if (score.rank(), score.evidence) > (best.rank(), best.evidence) {
                    best = score;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fingerprint::MergedValue;
    use crate::analysis::test_rng::Rng;

    /// Random patterns against runs of values that share starts (and lengths that vary, so
    /// that tails and splices are aligned too): every resumed score equals the full one.
    #[test]
    fn resumed_alignments_score_like_full_ones() {
        let mut rng = Rng(5);
        let alphabet = b"ab1.;=<>@-";
        for _ in 0..300 {
            let text: String = (0..rng.below(30))
                .map(|_| match rng.below(12) {
                    0 => '*',
                    1 => '?',
                    _ => char::from(alphabet[rng.below(alphabet.len() as u64) as usize]),
                })
                .collect();
            let pattern = Pattern::parse(&text);
            let mut memos: [AlignMemo; 3] = Default::default();
            let mut base: Vec<u8> = (0..rng.below(40)).map(|_| alphabet[rng.below(10) as usize]).collect();
            for _ in 0..20 {
                // Keep a random start of the last value, then new bytes.
                base.truncate(rng.below(base.len() as u64 + 1) as usize);
                base.extend((0..rng.below(20)).map(|_| alphabet[rng.below(10) as usize]));
                let mut value = MergedValue::default();
                value.add(&base, 256);
                if rng.below(3) == 0 {
                    let other: Vec<u8> = base.iter().map(|&b| if rng.below(4) == 0 { b'x' } else { b }).collect();
                    value.add(&other[..other.len().saturating_sub(rng.below(3) as usize)], 256);
                }
                let mut views = Views::default();
                views.build(&value);
                assert_eq!(pattern.score_views_resume(&views, &mut memos), pattern.score_views(&views), "{text}");
            }
        }
    }
}
