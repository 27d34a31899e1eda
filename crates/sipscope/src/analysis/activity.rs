//! Daily activity per source (004 §VI): which days (UTC) a source was seen, with its message
//! count per day. Campaign clustering builds a binary vector per source from it.

use std::net::IpAddr;

pub use crate::time::day_of;

/// Messages per (source, day), for a bounded number of sources.
#[derive(Debug, Default)]
pub struct DailyActivity {
    /// Per source, (day, messages) in day order: a vector, since most sources are seen on one
    /// day and a map's first node is ten times the size.
    days: super::FastMap<IpAddr, Vec<(i64, u64)>>,
    cap: usize,
    /// Messages from sources beyond the cap, not tracked.
    pub untracked: u64,
}

impl DailyActivity {
    /// Tracks at most `cap` sources.
    pub fn new(cap: usize) -> DailyActivity {
        DailyActivity { days: Default::default(), cap, untracked: 0 }
    }

    /// Counts a message of `source` at `ts_ns`.
    pub fn observe(&mut self, source: IpAddr, ts_ns: i64) {
        if !self.days.contains_key(&source) && self.days.len() >= self.cap {
            self.untracked += 1;
            return;
        }
        let days = self.days.entry(source).or_default();
        let day = day_of(ts_ns);
        // Events come in time order: the day is nearly always the last one.
        match days.last_mut() {
            Some((last, n)) if *last == day => *n += 1,
            _ => match days.binary_search_by_key(&day, |&(d, _)| d) {
                Ok(i) => days[i].1 += 1,
                Err(i) => {
                    if days.len() == days.capacity() {
                        days.reserve_exact(days.len().max(1));
                    }
                    days.insert(i, (day, 1));
                }
            },
        }
    }

    /// Every (source, day, messages).
    pub fn rows(&self) -> impl Iterator<Item = (IpAddr, i64, u64)> + '_ {
        self.days.iter().flat_map(|(ip, days)| days.iter().map(move |&(d, n)| (*ip, d, n)))
    }

    /// Every (source, day, messages), the table emptied as they are made.
    pub fn take_rows(&mut self) -> Vec<(IpAddr, i64, u64)> {
        let mut rows = Vec::with_capacity(self.days.len());
        for (ip, days) in std::mem::take(&mut self.days) {
            rows.extend(days.into_iter().map(|(d, n)| (ip, d, n)));
        }
        rows
    }

    /// Bytes held, about.
    pub fn approx_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(IpAddr, Vec<(i64, u64)>)>() + 1;
        self.days.capacity() * slot + self.days.values().map(|d| d.capacity() * 16).sum::<usize>()
    }

    /// The days `source` was active, in order.
    pub fn days_of(&self, source: &IpAddr) -> Vec<i64> {
        self.days.get(source).map(|d| d.iter().map(|&(day, _)| day).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::DAY_NS;

    #[test]
    fn days_are_utc_and_counted_per_source() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mut act = DailyActivity::new(10);
        act.observe(a, 0);
        act.observe(a, DAY_NS - 1);
        act.observe(a, 3 * DAY_NS);
        assert_eq!(act.days_of(&a), [0, 3]);
        let mut rows: Vec<_> = act.rows().collect();
        rows.sort();
        assert_eq!(rows, [(a, 0, 2), (a, 3, 1)]);
        assert_eq!(day_of(-1), -1, "before 1970 still works");
    }

    #[test]
    fn sources_beyond_the_cap_are_counted_not_kept() {
        let mut act = DailyActivity::new(1);
        act.observe("192.0.2.1".parse().unwrap(), 0);
        act.observe("192.0.2.2".parse().unwrap(), 0);
        assert_eq!(act.untracked, 1);
    }
}
