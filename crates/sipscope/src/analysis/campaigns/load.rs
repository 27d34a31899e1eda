//! Reading what clustering needs from the store's analysis tables, across runs, through the
//! store's [`StoreReader`] (so any backend can be clustered), merged per source here.

use super::SourceActivity;
use crate::analysis::activity::day_of;
use crate::store::{StoreError, StoreReader};
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
