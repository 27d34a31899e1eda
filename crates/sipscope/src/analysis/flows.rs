//! Flows (004 §IV.B): all messages from one source address, closed after an inactivity timeout
//! (20 minutes by default). A flow keeps counters and bounded sets only, so memory per flow is
//! fixed whatever the attacker sends; the table of open flows is capped, evicting the flow idle
//! longest (counted). The attacker's text is kept as little as it can be: users and numbers as
//! 8-byte hashes (only their count is reported), methods cut to the value limit and at most
//! [`MAX_METHODS`] of them.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;

/// Distinct values remembered per set before only counting stops being exact.
const SET_CAP: usize = 4096;
/// Distinct methods counted per flow; further ones are counted under [`OTHER_METHODS`].
pub const MAX_METHODS: usize = 32;
/// Where a flow counts the requests of methods beyond [`MAX_METHODS`] (no method token can be
/// written with parentheses, so it names no real method).
pub const OTHER_METHODS: &str = "(other)";
/// Values a set keeps in a plain vector before it builds a hash set: most flows try a few
/// users, ports and destinations, and a vector of those costs a fraction of a hash set.
const SMALL_SET: usize = 8;

/// A set that stops growing at a cap and then says it saturated.
#[derive(Debug, Clone)]
pub struct CappedSet<T: Hash + Eq> {
    items: Items<T>,
    saturated: bool,
}

/// The items of a [`CappedSet`]: a vector while there are at most [`SMALL_SET`], then a
/// hash set (boxed: every flow has five sets, few of them large).
#[derive(Debug, Clone)]
enum Items<T: Hash + Eq> {
    Small(Vec<T>),
    // Boxed on purpose: the set's 48 bytes would be in every flow's five sets.
    #[allow(clippy::box_collection)]
    Large(Box<HashSet<T>>),
}

impl<T: Hash + Eq> Default for CappedSet<T> {
    fn default() -> Self {
        CappedSet { items: Items::Small(Vec::new()), saturated: false }
    }
}

impl<T: Hash + Eq> CappedSet<T> {
    /// Adds `item` (dropped once the cap is reached).
    pub fn insert(&mut self, item: T) {
        if self.contains(&item) {
            return;
        }
        self.add_new(item);
    }

    /// [`CappedSet::insert`] of an owned copy of `item`, made only when the set takes it.
    pub fn insert_ref<Q>(&mut self, item: &Q)
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = T> + ?Sized,
    {
        let known = match &self.items {
            Items::Small(v) => v.iter().any(|x| x.borrow() == item),
            Items::Large(set) => set.contains(item),
        };
        if !known {
            self.add_new(item.to_owned());
        }
    }

    /// Adds an item known not to be in the set.
    fn add_new(&mut self, item: T) {
        if self.len() >= SET_CAP {
            self.saturated = true;
            return;
        }
        match &mut self.items {
            Items::Small(v) if v.len() < SMALL_SET => {
                if v.capacity() == 0 {
                    // Most sets never hold more than one or two items.
                    v.reserve_exact(2);
                }
                v.push(item);
            }
            Items::Small(v) => {
                let mut set: HashSet<T> = std::mem::take(v).into_iter().collect();
                set.insert(item);
                self.items = Items::Large(Box::new(set));
            }
            Items::Large(set) => {
                set.insert(item);
            }
        }
    }

    /// Distinct items seen (a lower bound when saturated).
    pub fn len(&self) -> usize {
        match &self.items {
            Items::Small(v) => v.len(),
            Items::Large(set) => set.len(),
        }
    }

    /// Whether none were seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether items were dropped at the cap.
    pub fn saturated(&self) -> bool {
        self.saturated
    }

    /// The items kept, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let (small, large) = match &self.items {
            Items::Small(v) => (Some(v.iter()), None),
            Items::Large(set) => (None, Some(set.iter())),
        };
        small.into_iter().flatten().chain(large.into_iter().flatten())
    }

    /// Whether `item` was seen (false may be wrong when saturated).
    pub fn contains(&self, item: &T) -> bool {
        match &self.items {
            Items::Small(v) => v.contains(item),
            Items::Large(set) => set.contains(item),
        }
    }

    /// Heap bytes held, about; `item` tells what an item holds beyond its own size.
    pub fn heap_bytes(&self, item: impl Fn(&T) -> usize) -> usize {
        let slot = std::mem::size_of::<T>();
        match &self.items {
            Items::Small(v) => v.capacity() * slot + v.iter().map(&item).sum::<usize>(),
            Items::Large(set) => {
                std::mem::size_of::<HashSet<T>>() + set.capacity() * (slot + 1) + set.iter().map(&item).sum::<usize>()
            }
        }
    }
}

/// Requests by method: a vector sorted by method while there are at most [`SMALL_SET`]
/// methods (a map's first node is ten times the size of one entry), a map beyond. Methods are
/// the attacker's text: the caller cuts them to the value limit, and beyond [`MAX_METHODS`]
/// distinct ones they are counted under [`OTHER_METHODS`].
#[derive(Debug, Clone)]
pub enum MethodCounts {
    /// Up to [`SMALL_SET`] methods, sorted.
    Small(Vec<(String, u64)>),
    /// More.
    Large(BTreeMap<String, u64>),
}

impl Default for MethodCounts {
    fn default() -> Self {
        MethodCounts::Small(Vec::new())
    }
}

impl MethodCounts {
    /// Counts one request of `method` (copied only the first time).
    pub fn add(&mut self, method: &str) {
        match self {
            MethodCounts::Small(v) => match v.binary_search_by(|(m, _)| m.as_str().cmp(method)) {
                Ok(i) => v[i].1 += 1,
                Err(_) if v.len() >= SMALL_SET => {
                    let mut map: BTreeMap<String, u64> = std::mem::take(v).into_iter().collect();
                    map.insert(method.to_owned(), 1);
                    *self = MethodCounts::Large(map);
                }
                Err(i) => {
                    if v.len() == v.capacity() {
                        v.reserve_exact(v.len().max(1));
                    }
                    v.insert(i, (method.to_owned(), 1));
                }
            },
            MethodCounts::Large(map) => {
                if let Some(n) = map.get_mut(method) {
                    *n += 1;
                } else if map.len() >= MAX_METHODS {
                    *map.entry(OTHER_METHODS.to_owned()).or_insert(0) += 1;
                } else {
                    map.insert(method.to_owned(), 1);
                }
            }
        }
    }

    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(String, u64)>();
        match self {
            MethodCounts::Small(v) => v.capacity() * slot + v.iter().map(|(m, _)| m.capacity()).sum::<usize>(),
            // A B-tree node holds up to 11 entries plus pointers: about twice the entries.
            MethodCounts::Large(map) => map.keys().map(|m| 2 * slot + m.capacity()).sum(),
        }
    }

    /// The counts as a map.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        match self {
            MethodCounts::Small(v) => v.iter().cloned().collect(),
            MethodCounts::Large(map) => map.clone(),
        }
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
    pub methods: MethodCounts,
    /// Destination addresses.
    pub destinations: CappedSet<IpAddr>,
    /// Destination ports.
    pub dest_ports: CappedSet<u16>,
    /// Source ports.
    pub source_ports: CappedSet<u16>,
    /// Users tried (To user of REGISTER/OPTIONS, Request-URI user otherwise), as
    /// [`super::bounded::value_hash`]es: only their number is reported.
    pub users: CappedSet<u64>,
    /// Request-URI users of INVITEs (numbers dialled), as hashes.
    pub dialled: CappedSet<u64>,
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
            methods: MethodCounts::default(),
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

    /// Heap bytes held beyond the struct, about.
    pub fn heap_bytes(&self) -> usize {
        self.methods.heap_bytes()
            + self.destinations.heap_bytes(|_| 0)
            + self.dest_ports.heap_bytes(|_| 0)
            + self.source_ports.heap_bytes(|_| 0)
            + self.users.heap_bytes(|_| 0)
            + self.dialled.heap_bytes(|_| 0)
            + self.responses.len() * 2 * std::mem::size_of::<(u32, u64)>()
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

/// Open flows, by source, with the per-flow state of type `S` next to the counters. The flows
/// are also kept in a list ordered by their last message, so that the idlest is found at once
/// when the table is full, and the timed-out ones without looking at the others.
///
/// Messages come in time order from one capture, so a flow's place is nearly always the end
/// of the list. A collector interleaves several sensors' messages (each in order, the sensors
/// not: a sensor catching up after an outage is minutes behind the others), and a walk back
/// from the end then passed every flow of the sensors ahead, for each message (a fifth of the
/// analysis thread in `bench/nats-pipeline.sh`). The places of the last few insertions are
/// kept ([`FINGERS`]): each interleaved stream finds its place from its own last one. Other
/// places are looked for from both ends at once, so that times going backwards (new sources
/// ever earlier, as a hostile capture can have) do not walk past every open flow each time.
pub struct FlowTable<S> {
    timeout_ns: i64,
    cap: usize,
    /// Slot of each open flow.
    index: super::FastMap<IpAddr, u32>,
    /// The flows, boxed: the table moves slots (a closed flow's slot takes the last one),
    /// never flows.
    slots: Vec<Slot<S>>,
    /// The list by last message, idlest first ([`NIL`]: none).
    head: u32,
    tail: u32,
    /// Flows closed early because the table was full.
    pub evicted: u64,
    /// Slots placed last before the end (any may since have moved, closed or been reused:
    /// checked before use).
    fingers: [u32; FINGERS],
    /// The finger the next placement replaces.
    next_finger: usize,
    /// Tests: place every flow by the walk from the end alone.
    #[cfg(test)]
    walk_only: bool,
    /// Tests: list entries stepped over while placing flows.
    #[cfg(test)]
    stepped: u64,
}

/// Places of recent insertions kept as starting points.
const FINGERS: usize = 4;

/// No slot.
const NIL: u32 = u32::MAX;

struct Slot<S> {
    flow: Box<(FlowStats, S)>,
    /// The flow's last message (a copy, so that walking the list reads no flow).
    last_ns: i64,
    prev: u32,
    next: u32,
}

impl<S> FlowTable<S> {
    /// Flows closed after `timeout_ns` of silence; at most `cap` open.
    pub fn new(timeout_ns: i64, cap: usize) -> FlowTable<S> {
        FlowTable {
            timeout_ns,
            // Slots are numbered with u32.
            cap: cap.clamp(1, NIL as usize - 1),
            index: Default::default(),
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            evicted: 0,
            fingers: [NIL; FINGERS],
            next_finger: 0,
            #[cfg(test)]
            walk_only: false,
            #[cfg(test)]
            stepped: 0,
        }
    }

    /// The open flow of `source` at `ts_ns`, starting one (and closing its timed-out
    /// predecessor, or the idlest flow when full, into `closed`) as needed.
    pub fn flow(
        &mut self,
        source: IpAddr,
        ts_ns: i64,
        new_state: impl FnOnce() -> S,
        closed: &mut Vec<Box<(FlowStats, S)>>,
    ) -> &mut (FlowStats, S) {
        let mut at = self.index.get(&source).copied();
        if let Some(slot) = at {
            if ts_ns.saturating_sub(self.slots[slot as usize].last_ns) > self.timeout_ns {
                self.close(slot, closed);
                at = None;
            }
        }
        let slot = match at {
            Some(slot) => slot,
            None => {
                if self.index.len() >= self.cap && self.head != NIL {
                    self.evicted += 1;
                    self.close(self.head, closed);
                }
                let flow = Box::new((FlowStats::new(source, ts_ns), new_state()));
                self.slots.push(Slot { flow, last_ns: ts_ns, prev: NIL, next: NIL });
                let slot = (self.slots.len() - 1) as u32;
                self.index.insert(source, slot);
                slot
            }
        };
        let last = self.slots[slot as usize].last_ns.max(ts_ns);
        self.touch(slot, last);
        let flow = &mut *self.slots[slot as usize].flow;
        flow.0.last_ns = last;
        flow
    }

    /// The open flow of `source`, if any (answers to it are counted there).
    pub fn get_mut(&mut self, source: &IpAddr) -> Option<&mut (FlowStats, S)> {
        let slot = *self.index.get(source)?;
        Some(&mut *self.slots[slot as usize].flow)
    }

    /// Closes every flow silent for longer than the timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: i64, closed: &mut Vec<Box<(FlowStats, S)>>) {
        while self.head != NIL && now_ns.saturating_sub(self.slots[self.head as usize].last_ns) > self.timeout_ns {
            self.close(self.head, closed);
        }
    }

    /// Closes every open flow (end of input).
    pub fn drain(&mut self, closed: &mut Vec<Box<(FlowStats, S)>>) {
        self.close_idlest(usize::MAX, closed);
    }

    /// Closes the `n` idlest flows (at the end of input, a few at a time).
    pub fn close_idlest(&mut self, n: usize, closed: &mut Vec<Box<(FlowStats, S)>>) {
        for _ in 0..n {
            if self.head == NIL {
                break;
            }
            self.close(self.head, closed);
        }
    }

    /// The open flows, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &(FlowStats, S)> {
        self.slots.iter().map(|slot| &*slot.flow)
    }

    /// Bytes of the table itself (slots and index), about; the flows' own state is not counted.
    pub fn table_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<S>>()
            + self.index.capacity() * (std::mem::size_of::<(IpAddr, u32)>() + 1)
            + self.slots.len() * std::mem::size_of::<(FlowStats, S)>()
    }

    /// Flows open now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether none are open.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Takes a flow out of the table into `closed`; the last slot moves into its place.
    fn close(&mut self, slot: u32, closed: &mut Vec<Box<(FlowStats, S)>>) {
        self.unlink(slot);
        let gone = self.slots.swap_remove(slot as usize);
        self.index.remove(&gone.flow.0.source);
        closed.push(gone.flow);
        if let Some(moved) = self.slots.get(slot as usize) {
            let (source, prev, next) = (moved.flow.0.source, moved.prev, moved.next);
            self.index.insert(source, slot);
            match prev {
                NIL => self.head = slot,
                p => self.slots[p as usize].next = slot,
            }
            match next {
                NIL => self.tail = slot,
                n => self.slots[n as usize].prev = slot,
            }
        }
    }

    /// Puts `slot` (linked or not) at its place in the list for a last message at `last_ns`:
    /// after every flow whose last message is not later. Messages come in time order, so
    /// that is nearly always the end of the list.
    fn touch(&mut self, slot: u32, last_ns: i64) {
        let linked = self.head == slot || self.slots[slot as usize].prev != NIL;
        if linked {
            if self.tail == slot {
                self.slots[slot as usize].last_ns = last_ns;
                return;
            }
            self.unlink(slot);
        }
        self.slots[slot as usize].last_ns = last_ns;
        let after = self.place(last_ns);
        if after != self.tail && !self.fingers.contains(&slot) {
            // Not the end: the place of a stream behind the others, kept for its next message.
            // Once only: a flow whose messages follow each other would otherwise fill every
            // finger, and each of its messages takes it out of the list before its place is
            // looked for.
            self.fingers[self.next_finger] = slot;
            self.next_finger = (self.next_finger + 1) % FINGERS;
        }
        let before = if after == NIL { self.head } else { self.slots[after as usize].next };
        self.slots[slot as usize].prev = after;
        self.slots[slot as usize].next = before;
        match after {
            NIL => self.head = slot,
            a => self.slots[a as usize].next = slot,
        }
        match before {
            NIL => self.tail = slot,
            b => self.slots[b as usize].prev = slot,
        }
    }

    /// The slot after which a flow whose last message is at `last_ns` goes (`NIL`: first):
    /// the last one whose last message is not later. From the end when the end is not later
    /// (messages in time order). Else two walks in step, whichever arrives first: forward from
    /// the latest finger that is not later (or from the start of the list), and back from the
    /// end. A place near either end or a recent place is found in a few steps, so times going
    /// backwards (a hostile capture's, a sensor far behind) cost no walk past the whole list.
    fn place(&mut self, last_ns: i64) -> u32 {
        let last_of = |slots: &[Slot<S>], at: u32| slots[at as usize].last_ns;
        if self.tail == NIL || last_of(&self.slots, self.tail) <= last_ns {
            return self.tail;
        }
        #[cfg(test)]
        if self.walk_only {
            return self.walk_back(last_ns);
        }
        // Forward: the place is at or after `ahead` (NIL: before the first flow).
        let mut ahead = NIL;
        for finger in self.fingers {
            // Only a flow in the list now (a finger may name a closed slot, or one reused).
            let listed = (finger as usize) < self.slots.len()
                && (self.head == finger || self.slots[finger as usize].prev != NIL);
            if listed
                && last_of(&self.slots, finger) <= last_ns
                && (ahead == NIL || last_of(&self.slots, finger) > last_of(&self.slots, ahead))
            {
                ahead = finger;
            }
        }
        // Back: the place is before `behind`, whose last message is later.
        let mut behind = self.tail;
        loop {
            let next = if ahead == NIL { self.head } else { self.slots[ahead as usize].next };
            if next == NIL || last_of(&self.slots, next) > last_ns {
                return ahead;
            }
            ahead = next;
            let prev = self.slots[behind as usize].prev;
            if prev == NIL || last_of(&self.slots, prev) <= last_ns {
                return prev;
            }
            behind = prev;
            #[cfg(test)]
            {
                self.stepped += 2;
            }
        }
    }

    /// Tests: [`FlowTable::place`] by the walk back from the end alone (the model).
    #[cfg(test)]
    fn walk_back(&mut self, last_ns: i64) -> u32 {
        let mut after = self.tail;
        while after != NIL && self.slots[after as usize].last_ns > last_ns {
            after = self.slots[after as usize].prev;
            self.stepped += 1;
        }
        after
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = (self.slots[slot as usize].prev, self.slots[slot as usize].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
        self.slots[slot as usize].prev = NIL;
        self.slots[slot as usize].next = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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

    /// The table against a plain map that looks for the idlest and the timed-out flows by
    /// scanning, with messages out of order and a small cap.
    #[test]
    fn the_ordered_list_closes_the_same_flows_as_a_scan() {
        let mut rng = crate::analysis::test_rng::Rng(7);
        let (timeout, cap) = (50, 16);
        let mut t: FlowTable<()> = FlowTable::new(timeout, cap);
        let mut model: HashMap<IpAddr, (i64, i64, u64)> = HashMap::new();
        let (mut closed, mut model_closed) = (Vec::new(), Vec::new());
        let mut evicted = 0;
        for step in 0..20_000i64 {
            // Mostly forward in time, sometimes back; distinct times so that the idlest is one.
            let ts = step * 10 - if rng.below(8) == 0 { rng.below(300) as i64 * 10 + 5 } else { 0 };
            let source = ip(rng.below(40) as u8);
            if step % 97 == 0 {
                t.expire(ts, &mut closed);
                let stale: Vec<IpAddr> =
                    model.iter().filter(|(_, f)| ts.saturating_sub(f.1) > timeout).map(|(s, _)| *s).collect();
                for s in stale {
                    model_closed.extend(model.remove(&s).map(|f| (s, f)));
                }
            }
            if model.get(&source).is_some_and(|f| ts.saturating_sub(f.1) > timeout) {
                model_closed.extend(model.remove(&source).map(|f| (source, f)));
            }
            if !model.contains_key(&source) && model.len() >= cap {
                let idlest = model.iter().min_by_key(|(_, f)| f.1).map(|(s, _)| *s);
                if let Some(s) = idlest {
                    evicted += 1;
                    model_closed.extend(model.remove(&s).map(|f| (s, f)));
                }
            }
            let f = model.entry(source).or_insert((ts, ts, 0));
            f.1 = f.1.max(ts);
            f.2 += 1;
            let flow = &mut t.flow(source, ts, || (), &mut closed).0;
            flow.packets += 1;
            assert_eq!((flow.first_ns, flow.last_ns, flow.packets), *f);
        }
        t.drain(&mut closed);
        model_closed.extend(model.drain());
        let mut got: Vec<_> = closed.iter().map(|f| (f.0.source, (f.0.first_ns, f.0.last_ns, f.0.packets))).collect();
        got.sort();
        model_closed.sort();
        assert_eq!(got, model_closed);
        assert_eq!(t.evicted, evicted);
        assert!(t.is_empty() && evicted > 0);
    }

    /// The list in order, checked: every open flow once, by last message.
    fn listed<S>(t: &FlowTable<S>) -> Vec<u32> {
        let mut order = Vec::new();
        let mut at = t.head;
        while at != NIL {
            order.push(at);
            at = t.slots[at as usize].next;
        }
        assert_eq!(order.len(), t.len());
        assert!(order.windows(2).all(|w| t.slots[w[0] as usize].last_ns <= t.slots[w[1] as usize].last_ns));
        order
    }

    #[test]
    fn flows_take_the_same_places_from_a_finger_as_by_the_walk() {
        let mut rng = crate::analysis::test_rng::Rng(11);
        // Three sensors' messages interleaved, each in time order, hours apart; now and then
        // one message from anywhere; times repeat (ties keep the order of arrival).
        for (timeout, cap, sources) in [(5_000, 64, 200u32), (1_000_000, 4096, 3000), (50, 16, 40)] {
            let mut fast: FlowTable<()> = FlowTable::new(timeout, cap);
            let mut walk: FlowTable<()> = FlowTable::new(timeout, cap);
            walk.walk_only = true;
            let (mut closed_fast, mut closed_walk) = (Vec::new(), Vec::new());
            let mut clocks = [0i64, 3_600_000, 7_200_000];
            for step in 0..30_000u32 {
                let stream = rng.below(3) as usize;
                clocks[stream] += rng.below(3) as i64;
                let ts = if rng.below(50) == 0 { rng.below(8_000_000) as i64 } else { clocks[stream] };
                let source =
                    IpAddr::from(std::net::Ipv4Addr::from((10u32 << 24) + rng.below(u64::from(sources)) as u32));
                fast.flow(source, ts, || (), &mut closed_fast).0.packets += 1;
                walk.flow(source, ts, || (), &mut closed_walk).0.packets += 1;
                if step % 499 == 0 {
                    let now = clocks[rng.below(3) as usize];
                    fast.expire(now, &mut closed_fast);
                    walk.expire(now, &mut closed_walk);
                }
                if step % 1000 == 0 {
                    let (a, b) = (listed(&fast), listed(&walk));
                    let key = |t: &FlowTable<()>, v: Vec<u32>| -> Vec<IpAddr> {
                        v.into_iter().map(|s| t.slots[s as usize].flow.0.source).collect()
                    };
                    assert_eq!(key(&fast, a), key(&walk, b));
                }
            }
            fast.drain(&mut closed_fast);
            walk.drain(&mut closed_walk);
            let summary = |c: &[Box<(FlowStats, ())>]| -> Vec<(IpAddr, i64, i64, u64)> {
                c.iter().map(|f| (f.0.source, f.0.first_ns, f.0.last_ns, f.0.packets)).collect()
            };
            // The same flows closed in the same order: the lists were the same throughout.
            assert_eq!(summary(&closed_fast), summary(&closed_walk));
            assert_eq!(fast.evicted, walk.evicted);
        }
    }

    #[test]
    fn interleaved_sensors_find_their_places_without_walking_past_the_others() {
        // Three sensors, each in time order, seconds apart; a sensor's attacker sends four
        // messages in eight (one flow over and over), its targets answer (many flows).
        let steps = |walk_only: bool| {
            let mut t: FlowTable<()> = FlowTable::new(60_000_000_000, 100_000);
            t.walk_only = walk_only;
            let mut closed = Vec::new();
            for i in 0..MESSAGES {
                let sensor = (i / 256 % 3) as u8;
                let n = i / 768 * 256 + i % 256;
                let ts = i64::from(sensor) * 3_000_000_000 + i64::from(n) * 10_000;
                let source = if n % 8 == 7 {
                    IpAddr::from([192, sensor, (n / 256 % 64) as u8, (n % 256) as u8])
                } else {
                    IpAddr::from([198, 51, sensor, (n / 1024 % 256) as u8])
                };
                t.flow(source, ts, || (), &mut closed);
            }
            listed(&t);
            t.stepped
        };
        const MESSAGES: u32 = 60_000;
        let (fingers, walk) = (steps(false), steps(true));
        // The walk from the end steps past the flows of the sensors ahead for every message.
        assert!(walk > u64::from(MESSAGES) * 1000, "the walk: {walk} steps");
        // From the fingers: about 30 a message here (2 M against 73 M); a flow that fills every
        // finger with itself sends each of its messages back to the walk (28 M).
        assert!(fingers * 20 < walk, "from the fingers {fingers} steps, the walk {walk}");
    }

    #[test]
    fn times_going_backwards_find_their_place_from_the_start() {
        // Flows opened in time order, then new sources with ever earlier times (a hostile
        // capture's): each new flow's place is the start of the list. The walk back from the
        // end alone passes every open flow for each of them.
        let run = |walk_only: bool, n: u32| {
            let mut t: FlowTable<()> = FlowTable::new(i64::MAX / 4, 1_000_000);
            t.walk_only = walk_only;
            let mut closed = Vec::new();
            for i in 0..n {
                t.flow(IpAddr::from(i.to_be_bytes()), 1_000_000_000 + i64::from(i), || (), &mut closed);
            }
            for i in 0..n {
                t.flow(IpAddr::from((i + n).to_be_bytes()), 1_000_000_000 - i64::from(i) - 1, || (), &mut closed);
            }
            let order: Vec<IpAddr> = listed(&t).into_iter().map(|s| t.slots[s as usize].flow.0.source).collect();
            (t.stepped, order)
        };
        let (walked, by_walk) = run(true, 2_000);
        let (stepped, by_place) = run(false, 2_000);
        assert_eq!(by_place, by_walk, "the same list");
        assert!(walked > 2_000 * 2_000, "the walk: {walked} steps");
        assert!(stepped < 4 * 2_000, "from the start: {stepped} steps");
        // At a size where the walk took 600 M steps (seconds), still a few per message.
        let (stepped, _) = run(false, 20_000);
        assert!(stepped < 4 * 20_000, "from the start: {stepped} steps");
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
    fn methods_beyond_the_cap_are_counted_together() {
        let mut m = MethodCounts::default();
        for i in 0..100 {
            m.add(&format!("X{i}"));
            m.add("INVITE");
        }
        let map = m.to_map();
        assert_eq!(map.len(), MAX_METHODS + 1);
        assert_eq!(map["INVITE"], 100);
        assert_eq!(map[OTHER_METHODS], 100 - (MAX_METHODS as u64 - 1));
        assert_eq!(map.values().sum::<u64>(), 200, "every request counted");
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
