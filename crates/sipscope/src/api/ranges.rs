//! The dashboard's quick ranges ("1 h", "24 h", "7 d", "all"), one list for the server and the
//! page: the page draws its buttons from `GET /api/v1/ranges`, and the server keeps those
//! ranges' reports ready. A range counted back from the instant of a click would be new at every
//! click, and a new range that cuts the stored times costs a whole report build (about half a
//! second over 10 M events, docs/benchmarks.md); so each quick range starts at the beginning of
//! the UTC hour it reaches back to (the report's message counts are hourly anyway, and a range
//! on whole hours carries no hour note) and stays the same for a whole hour. The server builds
//! those few reports in the background when it starts (after the plain overview) and again when
//! the UTC hour turns, one at a time, through the report cache (`api/cache.rs`): a request
//! during such a build waits for it instead of starting another one.
//!
//! Which ranges an instant has is a pure function of that instant ([`ranges_at`]); only the
//! server's task ([`keep_ready`]) reads the clock, or the fixed instant `serve --now` gives.

use super::server::State;
use crate::store::Filter;
use crate::time::HOUR_NS;
use std::sync::Arc;
use std::time::Duration;

/// Quick ranges start on whole multiples of this (UTC hours).
pub const ALIGN_NS: i64 = HOUR_NS;

/// A quick range of the dashboard: the last `seconds` (0: all the store), from the start of
/// the UTC hour that reaches back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuickRange {
    /// The button's label.
    pub label: &'static str,
    /// How far back it reaches, in seconds; 0 for no range at all.
    pub seconds: i64,
}

/// The dashboard's quick ranges, in the order of its buttons.
pub const QUICK: [QuickRange; 4] = [
    QuickRange { label: "1 h", seconds: 3_600 },
    QuickRange { label: "24 h", seconds: 86_400 },
    QuickRange { label: "7 d", seconds: 604_800 },
    QuickRange { label: "all", seconds: 0 },
];

/// The start (ns) of `range` at `now_ns`: the beginning of the UTC hour `range.seconds` before
/// now; `None` for "all" (and for an instant so far from 1970 that it has no such hour).
pub fn from_at(range: &QuickRange, now_ns: i64) -> Option<i64> {
    if range.seconds <= 0 {
        return None;
    }
    let back = now_ns.checked_sub(range.seconds.checked_mul(crate::time::SECOND_NS)?)?;
    back.checked_sub(back.rem_euclid(ALIGN_NS))
}

/// Every quick range with its start at `now_ns`.
pub fn ranges_at(now_ns: i64) -> [(QuickRange, Option<i64>); QUICK.len()] {
    QUICK.map(|r| (r, from_at(&r, now_ns)))
}

/// The next instant after `now_ns` at which the ranges change (the next whole UTC hour).
pub fn next_turn(now_ns: i64) -> i64 {
    let start = now_ns - now_ns.rem_euclid(ALIGN_NS);
    start.saturating_add(ALIGN_NS)
}

/// The instant quick ranges count back from: the clock, or a fixed one (`serve --now`, for a
/// store recorded earlier: an archived capture, a benchmark's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// This instant (ns since 1970), always.
    Fixed(i64),
}

impl Clock {
    /// Now, by this clock.
    pub fn now_ns(self) -> i64 {
        match self {
            Clock::System => crate::time::now_ns(),
            Clock::Fixed(ns) => ns,
        }
    }
}

/// Builds the overview (`reports::warm`), then the quick ranges' reports, then those again
/// whenever the UTC hour turns (never for a fixed clock), one build at a time; runs until the
/// server's runtime ends.
pub(crate) async fn keep_ready(state: Arc<State>) {
    use super::routes::reports;
    // The report index loads beside the start-up build (`api/index.rs`).
    super::index::reload(&state);
    reports::warm(&state).await;
    let mut built_for = None;
    loop {
        let now = state.clock.now_ns();
        let ranges = ranges_at(now);
        if built_for != Some(ranges) {
            for from in ranges.iter().filter_map(|(_, from)| *from) {
                reports::prebuild(&state, Filter { from_ns: Some(from), ..Filter::default() }).await;
            }
            built_for = Some(ranges);
        }
        if matches!(state.clock, Clock::Fixed(_)) {
            return;
        }
        // Woken early (the wall clock moved back), the ranges are the same and it sleeps again.
        let wait = u64::try_from(next_turn(now).saturating_sub(now)).unwrap_or(0);
        tokio::time::sleep(Duration::from_nanos(wait).max(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;

    fn at(s: &str) -> i64 {
        parse_time(s).unwrap()
    }

    #[test]
    fn quick_ranges_start_on_whole_utc_hours_and_change_when_the_hour_turns() {
        let starts = |now: &str| ranges_at(at(now)).map(|(_, from)| from);
        let expect = |times: [Option<&str>; 4]| times.map(|t| t.map(at));
        let before_turn = starts("2026-12-06T20:59:59.999999999Z");
        assert_eq!(
            before_turn,
            expect([Some("2026-12-06T19:00:00Z"), Some("2026-12-05T20:00:00Z"), Some("2026-11-29T20:00:00Z"), None])
        );
        // The same all hour long, from its first nanosecond.
        assert_eq!(starts("2026-12-06T20:00:00Z"), before_turn);
        assert_eq!(starts("2026-12-06T20:31:07Z"), before_turn);
        // The hour turns: every range moves on by an hour.
        assert_eq!(
            starts("2026-12-06T21:00:00Z"),
            expect([Some("2026-12-06T20:00:00Z"), Some("2026-12-05T21:00:00Z"), Some("2026-11-29T21:00:00Z"), None])
        );
        // Across a day and a year: 00:10 on 1 January reaches back into the year before.
        assert_eq!(
            starts("2027-01-01T00:10:00Z"),
            expect([Some("2026-12-31T23:00:00Z"), Some("2026-12-31T00:00:00Z"), Some("2026-12-25T00:00:00Z"), None])
        );
        // Every start is on a whole hour and at least its length back.
        for now in [at("2026-12-06T20:31:07.5Z"), 0, -1, 1_700_000_111 * crate::time::SECOND_NS] {
            for (range, from) in ranges_at(now) {
                let Some(from) = from else { continue };
                assert_eq!(from.rem_euclid(HOUR_NS), 0);
                let reach = now - from;
                assert!(reach >= range.seconds * crate::time::SECOND_NS, "{range:?} at {now}");
                assert!(reach < range.seconds * crate::time::SECOND_NS + HOUR_NS, "{range:?} at {now}");
                assert!(Filter { from_ns: Some(from), ..Filter::default() }.hour_aligned());
            }
        }
    }

    #[test]
    fn the_next_turn_is_the_next_whole_hour() {
        assert_eq!(next_turn(at("2026-12-06T20:59:59Z")), at("2026-12-06T21:00:00Z"));
        assert_eq!(next_turn(at("2026-12-06T21:00:00Z")), at("2026-12-06T22:00:00Z"));
        assert_eq!(next_turn(at("2026-12-31T23:30:00Z")), at("2027-01-01T00:00:00Z"));
        assert_eq!(next_turn(-1), 0);
        // The ranges stay the same until the next turn and change at it.
        let now = at("2026-12-06T20:17:00Z");
        assert_eq!(ranges_at(next_turn(now) - 1), ranges_at(now));
        assert_ne!(ranges_at(next_turn(now)), ranges_at(now));
    }

    #[test]
    fn extreme_instants_have_no_range_rather_than_a_panic() {
        assert!(ranges_at(i64::MIN).iter().all(|(_, from)| from.is_none()));
        assert_eq!(next_turn(i64::MAX), i64::MAX);
        assert_eq!(Clock::Fixed(5).now_ns(), 5);
    }
}
