//! What campaign clustering needs, read from the store's analysis tables across runs through
//! the [`StoreReader`] (so any backend can be clustered) and merged per source. Clustering
//! itself (`analysis::campaigns`) is a pure function of these rows; reading them belongs to
//! the reports, downstream of the store.

use crate::analysis::campaigns::SourceActivity;
use crate::store::{StoreError, StoreReader};
use crate::time::day_of;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Every source with at least one active day in `[from_ns, to_ns)` (all time when none):
/// its days from `source_days`, and the packets, mean packets per second and tools of its
/// flows that began in the range (`flows`; a NULL tool is `custom`). Days, packets and
/// tools are merged over every analysis run. Sorted by address.
pub fn load_activity(
    store: &dyn StoreReader,
    from_ns: Option<i64>,
    to_ns: Option<i64>,
) -> Result<Vec<SourceActivity>, StoreError> {
    let from = from_ns.unwrap_or(i64::MIN);
    let to = to_ns.unwrap_or(i64::MAX);
    let from_day = from_ns.map_or(i64::MIN, day_of);
    // The last day with a time before `to`.
    let to_day = to_ns.map_or(i64::MAX, |t| day_of(t.saturating_sub(1)));
    let mut by_source: BTreeMap<IpAddr, SourceActivity> = BTreeMap::new();
    for row in store.source_days(from_day, to_day)? {
        let Ok(source) = row.source.parse::<IpAddr>() else { continue };
        let entry = by_source.entry(source).or_insert_with(|| SourceActivity {
            source,
            days: Vec::new(),
            packets: 0,
            packets_per_second: 0.0,
            tools: Vec::new(),
        });
        entry.days.push(row.day);
    }
    // Per (source, tool): packets, summed packets/s and flows, to add up per source.
    let mut flows: BTreeMap<IpAddr, (f64, i64)> = BTreeMap::new();
    for row in store.source_tool_activity(from, to)? {
        let Ok(source) = row.source.parse::<IpAddr>() else { continue };
        let Some(entry) = by_source.get_mut(&source) else { continue };
        entry.tools.push(row.tool.unwrap_or_else(|| "custom".into()));
        entry.packets += u64::try_from(row.packets).unwrap_or(0);
        let f = flows.entry(source).or_insert((0.0, 0));
        f.0 += row.packets_per_second_sum;
        f.1 += row.flows;
    }
    for (source, (speed, n)) in flows {
        if let (Some(entry), true) = (by_source.get_mut(&source), n > 0) {
            entry.packets_per_second = speed / n as f64;
        }
    }
    for s in by_source.values_mut() {
        s.days.sort_unstable();
        s.days.dedup();
        s.tools.sort();
        s.tools.dedup();
    }
    Ok(by_source.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_activity_merges_runs() {
        use crate::analysis::result::{AnalysisResult, FlowRow};
        let flow = |source: IpAddr, first_ns: i64, packets: u64, pps: f64, tool: Option<&str>| FlowRow {
            source,
            first_ns,
            last_ns: first_ns + 1,
            packets,
            bytes: packets * 100,
            packets_per_second: pps,
            methods: std::collections::BTreeMap::new(),
            destinations: 1,
            dest_ports: 1,
            source_ports: "random".into(),
            users: 0,
            dialled: 0,
            responses: std::collections::BTreeMap::new(),
            fingerprint: None,
            tool: tool.map(str::to_owned),
            variant: None,
            tool_verdict: "exact".into(),
            similarity: 1.0,
            strategy: "random".into(),
            ua_class: "none".into(),
            user_agent: None,
        };
        const DAY: i64 = 86_400_000_000_000;
        let (a, b) = ("198.51.1.1".parse::<IpAddr>().unwrap(), "2001:db8::1".parse::<IpAddr>().unwrap());
        let run1 = AnalysisResult {
            flows: vec![flow(a, 10 * DAY, 100, 10.0, Some("SIPVicious")), flow(b, 12 * DAY, 5, 1.0, None)],
            days: vec![(a, 10, 100), (b, 12, 5)],
            ..AnalysisResult::default()
        };
        let run2 = AnalysisResult {
            flows: vec![flow(a, 10 * DAY + 5, 50, 20.0, Some("SIPVicious")), flow(a, 20 * DAY, 10, 30.0, Some("NMap"))],
            days: vec![(a, 10, 50), (a, 20, 10)],
            ..AnalysisResult::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::sinks::sqlite::Store::open(&dir.path().join("t.db")).unwrap();
        store.store_analysis("ingest", 0, 1, &run1, false).unwrap();
        store.store_analysis("ingest", 2, 3, &run2, false).unwrap();
        let reader = crate::store::SqliteReader::open(&dir.path().join("t.db")).unwrap();
        let all = load_activity(&reader, None, None).unwrap();
        let expected_a = SourceActivity {
            source: a,
            days: vec![10, 20],
            packets: 160,
            packets_per_second: 20.0,
            tools: vec!["NMap".into(), "SIPVicious".into()],
        };
        let expected_b = SourceActivity {
            source: b,
            days: vec![12],
            packets: 5,
            packets_per_second: 1.0,
            tools: vec!["custom".into()],
        };
        assert_eq!(all, [expected_a, expected_b]);
        // [day 13, day 21): only a's day 20 and its flow of that day.
        let some = load_activity(&reader, Some(13 * DAY), Some(21 * DAY)).unwrap();
        assert_eq!(some.len(), 1);
        assert_eq!(
            (some[0].days.as_slice(), some[0].packets, some[0].tools.as_slice()),
            (&[20][..], 10, &["NMap".to_owned()][..])
        );
        assert!(load_activity(&reader, Some(30 * DAY), None).unwrap().is_empty());
    }
}
