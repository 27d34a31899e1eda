//! How a campaign comes back (004 §VI: some campaigns scan every month, others sporadically).

use serde::Serialize;

/// A campaign's return pattern, from the days any member was active.
///
/// A burst is a run of consecutive active days. The interval between two bursts is the
/// number of days from the start of one to the start of the next. The pattern is
/// - `once`: one burst;
/// - `periodic`: at least three bursts, and every interval is within a tolerance of a
///   whole multiple (1×, 2×, …) of the median interval, so that a skipped cycle still
///   counts; the tolerance is 20 % of the median, at least one day;
/// - `sporadic`: anything else (two bursts, or irregular intervals).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recurrence {
    /// Runs of consecutive active days.
    pub bursts: usize,
    /// Median days from one burst's start to the next's; none for a single burst.
    pub median_gap_days: Option<f64>,
    /// `once`, `periodic` or `sporadic`.
    pub pattern: &'static str,
}

/// Share of the median interval an interval may be off a whole multiple of it.
const TOLERANCE: f64 = 0.2;

/// The recurrence of sorted, distinct active days.
pub fn recurrence(days: &[i64]) -> Recurrence {
    let mut starts: Vec<i64> = Vec::new();
    for (i, &d) in days.iter().enumerate() {
        if i == 0 || d - days[i - 1] > 1 {
            starts.push(d);
        }
    }
    let mut intervals: Vec<i64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort_unstable();
    let median = match intervals.len() {
        0 => None,
        n if n % 2 == 1 => Some(intervals[n / 2] as f64),
        n => Some((intervals[n / 2 - 1] + intervals[n / 2]) as f64 / 2.0),
    };
    let pattern = match (starts.len(), median) {
        (0 | 1, _) | (_, None) => "once",
        (2, _) => "sporadic",
        (_, Some(m)) => {
            let tolerance = (m * TOLERANCE).max(1.0);
            let regular = intervals.iter().all(|&i| {
                let multiple = (i as f64 / m).round().max(1.0);
                (i as f64 - multiple * m).abs() <= tolerance
            });
            if regular {
                "periodic"
            } else {
                "sporadic"
            }
        }
    };
    Recurrence { bursts: starts.len(), median_gap_days: median, pattern }
}

#[cfg(test)]
mod tests {
    use super::recurrence;

    #[test]
    fn patterns() {
        let once = recurrence(&[10, 11, 12]);
        assert_eq!((once.bursts, once.median_gap_days, once.pattern), (1, None, "once"));
        assert_eq!(recurrence(&[]).pattern, "once");
        // Monthly (28–31 days apart), one month skipped.
        let monthly = recurrence(&[0, 1, 31, 59, 60, 120, 151]);
        assert_eq!((monthly.bursts, monthly.pattern), (5, "periodic"));
        assert_eq!(monthly.median_gap_days, Some(31.0));
        let weekly = recurrence(&[3, 10, 17, 25, 31]);
        assert_eq!((weekly.bursts, weekly.median_gap_days, weekly.pattern), (5, Some(7.0), "periodic"));
        let two = recurrence(&[5, 40]);
        assert_eq!((two.bursts, two.median_gap_days, two.pattern), (2, Some(35.0), "sporadic"));
        let irregular = recurrence(&[0, 3, 40, 52, 130]);
        assert_eq!((irregular.bursts, irregular.pattern), (5, "sporadic"));
        // Every other day is periodic with a 2-day interval.
        assert_eq!(recurrence(&[0, 2, 4, 6]).pattern, "periodic");
    }
}
