//! Flows (004 §IV.B): all messages from one source address, closed after an inactivity timeout
//! (20 minutes by default). A flow keeps counters and bounded sets only, so memory per flow is
//! fixed whatever the attacker sends; the table of open flows is capped, evicting the flow idle
//! longest (counted).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;

/// Distinct values remembered per set before only counting stops being exact.
const SET_CAP: usize = 4096;

/// A set that stops growing at a cap and then says it saturated.
#[derive(Debug, Clone)]
pub struct CappedSet<T: Hash + Eq> {
    items: HashSet<T>,
    saturated: bool,
}

impl<T: Hash + Eq> Default for CappedSet<T> {
    fn default() -> Self {
        CappedSet { items: HashSet::new(), saturated: false }
    }
}

impl<T: Hash + Eq> CappedSet<T> {
    /// Adds `item` (dropped once the cap is reached).
    pub fn insert(&mut self, item: T) {
        if self.items.len() < SET_CAP {
            self.items.insert(item);
        } else if !self.items.contains(&item) {
            self.saturated = true;
        }
    }

    /// [`CappedSet::insert`] of an owned copy of `item`, made only when the set takes it.
    pub fn insert_ref<Q>(&mut self, item: &Q)
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = T> + ?Sized,
    {
        if self.items.contains(item) {
            return;
        }
        if self.items.len() < SET_CAP {
            self.items.insert(item.to_owned());
        } else {
            self.saturated = true;
        }
    }

    /// Distinct items seen (a lower bound when saturated).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none were seen.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether items were dropped at the cap.
    pub fn saturated(&self) -> bool {
        self.saturated
    }

    /// The items kept.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Whether `item` was seen (false may be wrong when saturated).
    pub fn contains(&self, item: &T) -> bool {
        self.items.contains(item)
    }
}

/// What one flow did.
#[derive(Debug, Clone)]
pub struct FlowStats {
    /// The attacker's address.
    pub source: IpAddr,
    /// First and last message, ns.
    pub first_ns: i64,
    /// Last message, ns.
    pub last_ns: i64,
    /// Messages from the source.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Requests by method.
    pub methods: BTreeMap<String, u64>,
    /// Destination addresses.
    pub destinations: CappedSet<IpAddr>,
    /// Destination ports.
    pub dest_ports: CappedSet<u16>,
    /// Source ports.
    pub source_ports: CappedSet<u16>,
    /// Users tried (To user of REGISTER/OPTIONS, Request-URI user otherwise).
    pub users: CappedSet<String>,
    /// Request-URI users of INVITEs (numbers dialled).
    pub dialled: CappedSet<String>,
    /// Answers sent to the source, by status.
    pub responses: BTreeMap<u32, u64>,
}

impl FlowStats {
    fn new(source: IpAddr, ts_ns: i64) -> FlowStats {
        FlowStats {
            source,
            first_ns: ts_ns,
            last_ns: ts_ns,
            packets: 0,
            bytes: 0,
            methods: BTreeMap::new(),
            destinations: CappedSet::default(),
            dest_ports: CappedSet::default(),
            source_ports: CappedSet::default(),
            users: CappedSet::default(),
            dialled: CappedSet::default(),
            responses: BTreeMap::new(),
        }
    }

    /// Messages per second over the flow's duration, counted as at least one second (a burst
    /// of a few messages within microseconds is not a rate of millions per second).
    pub fn packets_per_second(&self) -> f64 {
        let secs = ((self.last_ns - self.first_ns) as f64 / 1e9).max(1.0);
        self.packets as f64 / secs
    }

    /// How the source chose its ports: `fixed:5060`, `fixed:5061`, `fixed:<port>`, or
    /// `random` (several ports).
    pub fn source_port_kind(&self) -> String {
        match self.source_ports.len() {
            0 => "none".into(),
            1 => format!("fixed:{}", self.source_ports.iter().next().copied().unwrap_or(0)),
            _ => "random".into(),
        }
    }
}

/// Open flows, by source, with the per-flow state of type `S` next to the counters.
pub struct FlowTable<S> {
    timeout_ns: i64,
    cap: usize,
    open: HashMap<IpAddr, (FlowStats, S)>,
    /// Flows closed early because the table was full.
    pub evicted: u64,
}

impl<S> FlowTable<S> {
    /// Flows closed after `timeout_ns` of silence; at most `cap` open.
    pub fn new(timeout_ns: i64, cap: usize) -> FlowTable<S> {
        FlowTable { timeout_ns, cap: cap.max(1), open: HashMap::new(), evicted: 0 }
    }

    /// The open flow of `source` at `ts_ns`, starting one (and closing its timed-out
    /// predecessor, or the idlest flow when full, into `closed`) as needed.
    pub fn flow(
        &mut self,
        source: IpAddr,
        ts_ns: i64,
        new_state: impl FnOnce() -> S,
        closed: &mut Vec<(FlowStats, S)>,
    ) -> &mut (FlowStats, S) {
        let expired = self.open.get(&source).is_some_and(|(f, _)| ts_ns.saturating_sub(f.last_ns) > self.timeout_ns);
        if expired {
            if let Some(old) = self.open.remove(&source) {
                closed.push(old);
            }
        }
        if !self.open.contains_key(&source) && self.open.len() >= self.cap {
            let idlest = self.open.iter().min_by_key(|(_, (f, _))| f.last_ns).map(|(ip, _)| *ip);
            if let Some(ip) = idlest.and_then(|ip| self.open.remove(&ip).map(|f| (ip, f))) {
                self.evicted += 1;
                closed.push(ip.1);
            }
        }
        let entry = self.open.entry(source).or_insert_with(|| (FlowStats::new(source, ts_ns), new_state()));
        entry.0.last_ns = entry.0.last_ns.max(ts_ns);
        entry
    }

    /// The open flow of `source`, if any (answers to it are counted there).
    pub fn get_mut(&mut self, source: &IpAddr) -> Option<&mut (FlowStats, S)> {
        self.open.get_mut(source)
    }

    /// Closes every flow silent for longer than the timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: i64, closed: &mut Vec<(FlowStats, S)>) {
        let timeout = self.timeout_ns;
        let stale: Vec<IpAddr> = self
            .open
            .iter()
            .filter(|(_, (f, _))| now_ns.saturating_sub(f.last_ns) > timeout)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in stale {
            if let Some(f) = self.open.remove(&ip) {
                closed.push(f);
            }
        }
    }

    /// Closes every open flow (end of input).
    pub fn drain(&mut self, closed: &mut Vec<(FlowStats, S)>) {
        closed.extend(self.open.drain().map(|(_, f)| f));
    }

    /// Flows open now.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none are open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn silence_longer_than_the_timeout_starts_a_new_flow() {
        let mut t: FlowTable<()> = FlowTable::new(20 * MIN, 10);
        let mut closed = Vec::new();
        t.flow(ip(1), 0, || (), &mut closed).0.packets += 1;
        t.flow(ip(1), 19 * MIN, || (), &mut closed).0.packets += 1;
        t.flow(ip(1), 38 * MIN, || (), &mut closed).0.packets += 1; // 19 min after the last: same flow
        assert!(closed.is_empty());
        t.flow(ip(1), 59 * MIN, || (), &mut closed).0.packets += 1; // 21 min of silence
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].0.packets, closed[0].0.first_ns, closed[0].0.last_ns), (3, 0, 38 * MIN));
        t.expire(80 * MIN, &mut closed);
        assert_eq!(closed.len(), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn a_full_table_evicts_the_idlest_flow_and_counts_it() {
        let mut t: FlowTable<u8> = FlowTable::new(20 * MIN, 2);
        let mut closed = Vec::new();
        t.flow(ip(1), 1, || 1, &mut closed);
        t.flow(ip(2), 2, || 2, &mut closed);
        t.flow(ip(1), 3, || 1, &mut closed);
        t.flow(ip(3), 4, || 3, &mut closed);
        assert_eq!((t.len(), t.evicted), (2, 1));
        assert_eq!(closed[0].0.source, ip(2));
    }

    #[test]
    fn sets_are_capped_and_say_so() {
        let mut s = CappedSet::default();
        for i in 0..(SET_CAP as u32 + 10) {
            s.insert(i);
        }
        assert_eq!(s.len(), SET_CAP);
        assert!(s.saturated());
    }

    #[test]
    fn port_kinds_and_rates() {
        let mut f = FlowStats::new(ip(1), 0);
        f.source_ports.insert(5060);
        assert_eq!(f.source_port_kind(), "fixed:5060");
        f.source_ports.insert(40000);
        assert_eq!(f.source_port_kind(), "random");
        f.packets = 10;
        f.last_ns = 2_000_000_000;
        assert_eq!(f.packets_per_second(), 5.0);
        f.last_ns = 1_000;
        assert_eq!(f.packets_per_second(), 10.0, "under a second counts as one");
    }
}
