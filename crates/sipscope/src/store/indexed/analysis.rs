//! Stage, number and campaign-day questions from the index: the reader's `stage_totals`
//! (`store/sqlite/analysis.rs`), `unified_number_count`, `top_numbers` and
//! `number_countries` (`store/sqlite/numbers.rs`) and `source_days` (`store/sqlite/flows.rs`).

use super::{in_range, ReportIndex};
use crate::store::rows::*;
use crate::store::Filter;
use ahash::{AHashMap, AHashSet};

/// An overall stage row (node ''), as the index keeps it.
#[derive(Debug, Clone, Copy)]
pub(super) struct StageRow {
    pub src: u32,
    pub stage: u32,
    pub first_ns: i64,
    pub count: i64,
}

/// One analysis run's row of a unified number.
#[derive(Debug, Clone)]
pub(super) struct NumberRow {
    pub number: u32,
    pub last_ns: i64,
    pub attempts: i64,
    pub invites: i64,
    pub country: Option<u32>,
    pub inferred: i64,
    pub kind: u32,
    pub variants: i64,
    pub sources: i64,
    /// The run's spellings (a JSON array), as stored.
    pub samples: Box<[u8]>,
    pub run: i64,
}

/// A source active on a day (distinct pairs, by source then day).
#[derive(Debug, Clone, Copy)]
pub(super) struct SourceDayRow {
    pub src: u32,
    pub day: i64,
}

/// One country's numbers in the range.
#[derive(Default)]
struct CountryMerge {
    numbers: AHashSet<u32>,
    attempts: i64,
    invites: i64,
}

impl ReportIndex {
    pub(super) fn stage_totals(&self, f: &Filter) -> Option<Vec<StageTotals>> {
        let t = &self.texts;
        let mut out: Vec<(u32, StageTotals, u32)> = Vec::new();
        for r in self.stages.as_ref()?.iter().filter(|r| in_range(f, r.first_ns)) {
            if out.last().is_none_or(|(stage, _, _)| *stage != r.stage) {
                out.push((r.stage, StageTotals { stage: t.lossy(r.stage), sources: 1, messages: 0 }, r.src));
            } else if let Some((_, totals, source)) = out.last_mut() {
                if *source != r.src {
                    (totals.sources, *source) = (totals.sources + 1, r.src);
                }
            }
            let (_, totals, _) = out.last_mut()?;
            totals.messages = totals.messages.checked_add(r.count)?;
        }
        out.sort_unstable_by(|a, b| t.cmp(a.0, b.0));
        Some(out.into_iter().map(|(_, totals, _)| totals).collect())
    }

    fn numbers_in<'a>(&'a self, f: &'a Filter) -> Option<impl Iterator<Item = &'a NumberRow> + 'a> {
        Some(self.numbers.as_ref()?.iter().filter(move |r| in_range(f, r.last_ns)))
    }

    pub(super) fn unified_number_count(&self, f: &Filter) -> Option<i64> {
        let distinct: AHashSet<u32> = self.numbers_in(f)?.map(|r| r.number).collect();
        Some(distinct.len() as i64)
    }

    /// `top_numbers`: each number's rows over the runs merged as the SQL's aggregates do
    /// (`max` of texts by bytes, NULLs left out; the runs' spellings joined in run order).
    pub(super) fn top_numbers(&self, f: &Filter, limit: u32) -> Option<Vec<NumberAttempts>> {
        let t = &self.texts;
        // Attempts per number first; the rows of the top numbers only then.
        let mut attempts: AHashMap<u32, i64> = AHashMap::new();
        for r in self.numbers_in(f)? {
            let sum = attempts.entry(r.number).or_default();
            *sum = sum.checked_add(r.attempts)?;
        }
        // The SQL's order: attempts, most first, then the number.
        let order = |a: &(u32, i64), b: &(u32, i64)| b.1.cmp(&a.1).then_with(|| t.cmp(a.0, b.0));
        let top = crate::store::rank::first_in_order(attempts.into_iter().collect(), limit, order);
        let mut rows_of: AHashMap<u32, Vec<&NumberRow>> = top.iter().map(|(n, _)| (*n, Vec::new())).collect();
        for r in self.numbers_in(f)? {
            if let Some(rows) = rows_of.get_mut(&r.number) {
                rows.push(r);
            }
        }
        let mut ranked: Vec<(u32, i64, Vec<&NumberRow>)> = Vec::with_capacity(top.len());
        for (number, sum) in top {
            ranked.push((number, sum, rows_of.remove(&number).unwrap_or_default()));
        }
        let mut out = Vec::with_capacity(ranked.len());
        for (number, attempts, mut rows) in ranked {
            rows.sort_unstable_by_key(|r| r.run);
            let invites = rows.iter().try_fold(0i64, |sum, r| sum.checked_add(r.invites))?;
            let country = rows.iter().filter_map(|r| r.country).max_by(|a, b| t.cmp(*a, *b));
            let kind = rows.iter().map(|r| r.kind).max_by(|a, b| t.cmp(*a, *b))?;
            let mut samples: Vec<u8> = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    samples.push(b'\n');
                }
                samples.extend_from_slice(&r.samples);
            }
            out.push(NumberAttempts {
                number: t.lossy(number),
                country: country.map(|c| t.lossy(c)),
                country_inferred: rows.iter().map(|r| r.inferred).max()? != 0,
                number_type: t.lossy(kind),
                attempts,
                invites,
                variants: rows.iter().map(|r| r.variants).max()?,
                sources: rows.iter().map(|r| r.sources).max()?,
                variant_samples: NumberAttempts::merge_samples(&String::from_utf8_lossy(&samples)),
            });
        }
        Some(out)
    }

    pub(super) fn number_countries(&self, f: &Filter) -> Option<Vec<CountryAttempts>> {
        let t = &self.texts;
        let mut merged: AHashMap<Option<u32>, CountryMerge> = AHashMap::new();
        for r in self.numbers_in(f)? {
            let m = merged.entry(r.country).or_default();
            (m.attempts, m.invites) = (m.attempts.checked_add(r.attempts)?, m.invites.checked_add(r.invites)?);
            m.numbers.insert(r.number);
        }
        let mut out: Vec<(Option<u32>, CountryMerge)> = merged.into_iter().collect();
        out.sort_unstable_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then_with(|| t.cmp_opt(a.0, b.0)));
        Some(
            out.into_iter()
                .map(|(country, m)| CountryAttempts {
                    country: country.map(|c| t.lossy(c)),
                    numbers: m.numbers.len() as i64,
                    attempts: m.attempts,
                    invites: m.invites,
                })
                .collect(),
        )
    }

    pub(super) fn source_days(&self, from_day: i64, to_day: i64) -> Option<Vec<SourceDay>> {
        let t = &self.texts;
        let rows = self.source_days.as_ref()?;
        Some(
            rows.iter()
                .filter(|r| r.day >= from_day && r.day <= to_day)
                .map(|r| SourceDay { source: t.lossy(r.src), day: r.day })
                .collect(),
        )
    }
}
