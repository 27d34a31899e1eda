//! Which row each event of a store writer got (SQLite's and PostgreSQL's: both number their
//! rows themselves). An alert's evidence names its message by the position at which the
//! pipeline handed that message's event to the store (`act::Evidence::stored`: the n-th
//! `write` is position n), and the writer, which gave the rows their ids, answers from here
//! instead of searching the events by time and addresses — which read event pages back from
//! disk, was most of an alert's write (docs/benchmarks.md, "Rules overhead: evidence without
//! a search"), and could only guess among events alike (it took the newest).
//!
//! Consecutive positions stored under consecutive ids are one range, so the map holds a few
//! entries however many events were written (one, in the usual case). It is forgotten
//! whenever this writer deletes events or rolls a batch back — an id could then be given to
//! another event — and evidence whose position is not here is looked up as before, so an
//! answer from here is never a guess.

/// The positions a sink hands out, one per `Sink::write` (failed ones too), from 0.
#[derive(Debug, Default)]
pub(crate) struct Positions(u64);

impl Positions {
    /// The position of the event being written now.
    pub(crate) fn next(&mut self) -> u64 {
        let position = self.0;
        self.0 += 1;
        position
    }
}

/// Ranges kept at most; the oldest half goes when full (its evidence is then looked up).
const MAX_RANGES: usize = 4096;

/// Positions `position .. position + len` were stored as ids `id .. id + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    position: u64,
    id: i64,
    len: u64,
}

/// The ids of the events this writer stored, by position.
#[derive(Debug, Default)]
pub(crate) struct EventIds {
    /// Ascending by position, not overlapping.
    ranges: Vec<Range>,
}

impl EventIds {
    /// Event `position` was stored as row `id` (in the open transaction).
    pub(crate) fn note(&mut self, position: u64, id: i64) {
        if let Some(last) = self.ranges.last_mut() {
            let next_position = last.position.saturating_add(last.len);
            if position == next_position && id == last.id.saturating_add(last.len as i64) {
                last.len += 1;
                return;
            }
            if position < next_position {
                // Positions only grow between two forgettings; anything else is not trusted.
                self.forget();
            }
        }
        if self.ranges.len() >= MAX_RANGES {
            self.ranges.drain(..MAX_RANGES / 2);
        }
        self.ranges.push(Range { position, id, len: 1 });
    }

    /// The id of the event stored at `position`, when this writer knows it.
    pub(crate) fn id(&self, position: u64) -> Option<i64> {
        let after = self.ranges.partition_point(|r| r.position <= position);
        let r = self.ranges.get(after.checked_sub(1)?)?;
        let offset = position - r.position;
        (offset < r.len).then(|| r.id.saturating_add(offset as i64))
    }

    /// Forgets every id (events were deleted or a batch rolled back).
    pub(crate) fn forget(&mut self) {
        self.ranges.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_events_are_one_range_and_gaps_start_another() {
        let mut ids = EventIds::default();
        for p in 0..1000 {
            ids.note(p, 501 + p as i64);
        }
        assert_eq!(ids.ranges.len(), 1);
        assert_eq!((ids.id(0), ids.id(999), ids.id(1000)), (Some(501), Some(1500), None));
        // Position 1000 was refused (never noted); 1001 got the next id; ids jump later.
        ids.note(1001, 1501);
        ids.note(1002, 9000);
        assert_eq!(ids.ranges.len(), 3);
        assert_eq!((ids.id(1000), ids.id(1001), ids.id(1002)), (None, Some(1501), Some(9000)));
    }

    #[test]
    fn positions_going_back_forget_everything_and_forgetting_forgets() {
        let mut ids = EventIds::default();
        ids.note(5, 10);
        ids.note(6, 11);
        ids.note(6, 40);
        assert_eq!((ids.id(5), ids.id(6)), (None, Some(40)));
        ids.forget();
        assert_eq!(ids.id(6), None);
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut ids = EventIds::default();
        for p in 0..(MAX_RANGES as u64 * 3) {
            ids.note(p * 2, p as i64 * 3);
        }
        assert!(ids.ranges.len() <= MAX_RANGES);
        let last = MAX_RANGES as u64 * 3 - 1;
        assert_eq!(ids.id(last * 2), Some(last as i64 * 3));
        assert_eq!(ids.id(0), None);
    }
}
