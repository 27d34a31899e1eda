//! INVITE server transactions that still have answers to send (RFC 3261 §17.2.1), so that the
//! PBX stays sans-IO while answers leave later: the delayed provisional and final answers of a
//! call, and final answers retransmitted over UDP (timer G: T1, 2·T1, … at most T2 apart) until
//! the ACK comes or timer H (64·T1) fires. The shell asks, per channel (a listener socket or a
//! connection), when the next answer is due and for the answers due. The table is bounded by
//! count and by bytes: past either, the oldest transaction is forgotten (its remaining answers
//! are never sent) and counted.

use super::state::InviteKey;
use super::Route;
use crate::event::Transport;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

/// RFC 3261 T1, the round-trip estimate: the first retransmission interval.
pub const T1_NS: i64 = 500_000_000;
/// RFC 3261 T2: retransmission intervals of a final answer stop doubling here.
pub const T2_NS: i64 = 4_000_000_000;
/// RFC 3261 timer H (64·T1): how long a final answer waits for its ACK.
pub const TIMER_H_NS: i64 = 64 * T1_NS;

/// What an answer due now is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    /// A provisional answer sent later (ringing, progress).
    Provisional,
    /// The final answer, sent for the first time: the caller reports what it sent of it
    /// ([`OpenInvites::final_sent`]), which is what is retransmitted.
    Final,
    /// The final answer again (timer G): the bytes sent the first time, exactly.
    Retransmission,
}

/// An answer due now.
#[derive(Debug, Clone)]
pub struct Due {
    /// Its INVITE transaction.
    pub key: InviteKey,
    /// Where it goes: the INVITE's source.
    pub dest: SocketAddr,
    /// The way the INVITE came, which the answer leaves by.
    pub route: Route,
    /// What it is.
    pub kind: DueKind,
    /// The answer.
    pub bytes: Vec<u8>,
}

/// An answer not sent yet: when, what, and whether it is the final one.
pub type Later = (i64, Vec<u8>, bool);

struct Retransmit {
    bytes: Vec<u8>,
    next_ns: i64,
    interval_ns: i64,
}

struct Open {
    dest: SocketAddr,
    route: Route,
    /// A hash of the INVITE's top Via branch: an INVITE with the same key and branch is a
    /// retransmission (RFC 3261 §17.2.3).
    branch: u64,
    /// Its place in the age order (oldest forgotten first).
    created: u64,
    /// Answers not sent yet, in the order they are due (the final one last).
    later: VecDeque<Later>,
    /// The 487 that ends the call when a CANCEL comes before its final answer.
    terminated: Option<Vec<u8>>,
    /// The last answer sent: what a retransmitted INVITE gets.
    last: Vec<u8>,
    retransmit: Option<Retransmit>,
    /// Forgotten at this time whatever else happens (timer H, or a final answer never reported).
    expires_ns: i64,
    /// Its entry in the timer index: (channel, due, sequence).
    timer: (u64, i64, u64),
    /// Bytes held.
    size: usize,
}

impl Open {
    fn next_event(&self) -> i64 {
        let mut next = self.expires_ns;
        if let Some((due, _, _)) = self.later.front() {
            next = next.min(*due);
        }
        if let Some(r) = &self.retransmit {
            next = next.min(r.next_ns);
        }
        next
    }

    fn measure(&mut self) -> usize {
        let later: usize = self.later.iter().map(|(_, b, _)| b.len()).sum();
        let held = self.terminated.as_ref().map_or(0, Vec::len)
            + self.last.len()
            + self.retransmit.as_ref().map_or(0, |r| r.bytes.len());
        self.size = later + held;
        self.size
    }
}

/// The open INVITE transactions, bounded.
pub struct OpenInvites {
    max_count: usize,
    max_bytes: usize,
    open: HashMap<InviteKey, Open>,
    /// When each transaction next needs attention, by channel.
    timers: BTreeMap<(u64, i64, u64), InviteKey>,
    /// Transactions by creation, oldest first.
    age: BTreeMap<u64, InviteKey>,
    sequence: u64,
    bytes: usize,
    forgotten: u64,
}

/// The branch of a request's top Via, hashed.
pub fn branch_hash(branch: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    branch.hash(&mut h);
    h.finish()
}

impl OpenInvites {
    /// At most `max_count` transactions holding at most `max_bytes` of answers.
    pub fn new(max_count: usize, max_bytes: usize) -> OpenInvites {
        OpenInvites {
            max_count: max_count.max(1),
            max_bytes,
            open: HashMap::new(),
            timers: BTreeMap::new(),
            age: BTreeMap::new(),
            sequence: 0,
            bytes: 0,
            forgotten: 0,
        }
    }

    /// Transactions open now.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Transactions forgotten to stay within the bounds, so far.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// A call whose answers `later` are sent when due; `last` is the answer sent now (100
    /// Trying), `terminated` the 487 a CANCEL gets before the final answer.
    #[allow(clippy::too_many_arguments)]
    pub fn open_call(
        &mut self,
        key: InviteKey,
        dest: SocketAddr,
        route: Route,
        branch: u64,
        now_ns: i64,
        last: Vec<u8>,
        later: Vec<Later>,
        terminated: Vec<u8>,
    ) {
        let expires_ns = later.iter().map(|(due, _, _)| *due).max().unwrap_or(now_ns).saturating_add(TIMER_H_NS);
        let open = Open {
            dest,
            route,
            branch,
            created: 0,
            later: later.into(),
            terminated: Some(terminated),
            last,
            retransmit: None,
            expires_ns,
            timer: (0, 0, 0),
            size: 0,
        };
        self.insert(key, open);
    }

    /// An INVITE answered now with a final answer, whose sent form the caller reports
    /// ([`OpenInvites::final_sent`]); until then a retransmitted INVITE gets `last`.
    pub fn await_final(&mut self, key: InviteKey, dest: SocketAddr, route: Route, branch: u64, now_ns: i64) {
        let open = Open {
            dest,
            route,
            branch,
            created: 0,
            later: VecDeque::new(),
            terminated: None,
            last: Vec::new(),
            retransmit: None,
            expires_ns: now_ns.saturating_add(TIMER_H_NS),
            timer: (0, 0, 0),
            size: 0,
        };
        self.insert(key, open);
    }

    /// What was sent of `key`'s final answer (`None`: it was withheld). Over UDP that form is
    /// retransmitted until the ACK or timer H; otherwise the transaction is done.
    pub fn final_sent(&mut self, key: &InviteKey, form: Option<&[u8]>, now_ns: i64) {
        let Some(open) = self.open.get(key) else { return };
        let form = match form {
            Some(form) if open.route.transport == Transport::Udp && open.later.is_empty() => form,
            _ => {
                self.remove(key);
                return;
            }
        };
        self.update(key, |open| {
            // A retransmitted INVITE gets the retransmitted answer from now on.
            open.last = Vec::new();
            open.retransmit =
                Some(Retransmit { bytes: form.to_vec(), next_ns: now_ns.saturating_add(T1_NS), interval_ns: T1_NS });
            open.expires_ns = now_ns.saturating_add(TIMER_H_NS);
        });
    }

    /// The answer a retransmitted INVITE gets: the last one sent, when `key` is open with the
    /// same branch and has sent one.
    pub fn retransmitted(&self, key: &InviteKey, branch: u64) -> Option<Vec<u8>> {
        let open = self.open.get(key).filter(|o| o.branch == branch)?;
        let last = open.retransmit.as_ref().map_or(&open.last, |r| &r.bytes);
        (!last.is_empty()).then(|| last.clone())
    }

    /// The ACK of `key`'s final answer: retransmissions stop. Whether it was open.
    pub fn acked(&mut self, key: &InviteKey) -> bool {
        // An ACK before the final answer (there is none to acknowledge) changes nothing.
        if self.open.get(key).is_some_and(|o| o.later.is_empty()) {
            self.remove(key);
            return true;
        }
        false
    }

    /// A CANCEL of `key` before its final answer: what was still to be sent is dropped and the
    /// 487 that ends the call is returned (with the way it goes), for the caller to send now.
    pub fn cancel(&mut self, key: &InviteKey) -> Option<(Vec<u8>, Route, u64)> {
        let open = self.open.get(key)?;
        if !open.later.iter().any(|(_, _, last)| *last) {
            return None;
        }
        let (route, branch) = (open.route, open.branch);
        let removed = self.remove(key)?;
        removed.terminated.map(|t| (t, route, branch))
    }

    /// When the next answer on `channel` is due (or a transaction of it expires), if ever.
    pub fn next_due(&self, channel: u64) -> Option<i64> {
        self.timers.range((channel, i64::MIN, 0)..=(channel, i64::MAX, u64::MAX)).next().map(|((_, due, _), _)| *due)
    }

    /// The answers due on `channel` at `now_ns`, in order; transactions past timer H go.
    pub fn due(&mut self, channel: u64, now_ns: i64) -> Vec<Due> {
        let keys: Vec<InviteKey> =
            self.timers.range((channel, i64::MIN, 0)..=(channel, now_ns, u64::MAX)).map(|(_, k)| *k).collect();
        let mut out = Vec::new();
        for key in keys {
            let Some(open) = self.open.get(&key) else { continue };
            if open.expires_ns <= now_ns && open.later.is_empty() {
                self.remove(&key);
                continue;
            }
            let (dest, route) = (open.dest, open.route);
            self.update(&key, |open| {
                while open.later.front().is_some_and(|(due, _, _)| *due <= now_ns) {
                    let Some((_, bytes, last)) = open.later.pop_front() else { break };
                    let kind = if last { DueKind::Final } else { DueKind::Provisional };
                    if last {
                        // Kept until the caller reports what it sent (`final_sent`).
                        open.expires_ns = now_ns.saturating_add(TIMER_H_NS);
                        open.terminated = None;
                    } else {
                        open.last.clone_from(&bytes);
                    }
                    out.push(Due { key, dest, route, kind, bytes });
                }
                if let Some(r) = open.retransmit.as_mut().filter(|r| r.next_ns <= now_ns) {
                    out.push(Due { key, dest, route, kind: DueKind::Retransmission, bytes: r.bytes.clone() });
                    r.interval_ns = r.interval_ns.saturating_mul(2).min(T2_NS);
                    r.next_ns = r.next_ns.saturating_add(r.interval_ns).max(now_ns.saturating_add(1));
                }
            });
        }
        out
    }

    /// Forgets every transaction of a channel that closed (a connection): nothing can be sent
    /// on it any more.
    pub fn close_channel(&mut self, channel: u64) {
        let keys: Vec<InviteKey> =
            self.timers.range((channel, i64::MIN, 0)..=(channel, i64::MAX, u64::MAX)).map(|(_, k)| *k).collect();
        for key in keys {
            self.remove(&key);
        }
    }

    fn insert(&mut self, key: InviteKey, mut open: Open) {
        self.remove(&key);
        while self.open.len() >= self.max_count {
            self.forget_oldest();
        }
        self.sequence += 1;
        open.created = self.sequence;
        self.bytes += open.measure();
        open.timer = (open.route.channel, open.next_event(), open.created);
        self.age.insert(open.created, key);
        self.timers.insert(open.timer, key);
        self.open.insert(key, open);
        self.within_bytes();
    }

    /// Forgets the oldest transactions while the answers held are over the byte bound.
    fn within_bytes(&mut self) {
        while self.bytes > self.max_bytes && !self.open.is_empty() {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        let Some((_, oldest)) = self.age.first_key_value().map(|(c, k)| (*c, *k)) else { return };
        if self.remove(&oldest).is_some() {
            self.forgotten += 1;
        }
    }

    /// Changes a transaction, then files it again under its next event and its new size.
    fn update(&mut self, key: &InviteKey, change: impl FnOnce(&mut Open)) {
        let Some(open) = self.open.get_mut(key) else { return };
        self.timers.remove(&open.timer);
        self.bytes -= open.size;
        change(open);
        self.bytes += open.measure();
        self.sequence += 1;
        open.timer = (open.route.channel, open.next_event(), self.sequence);
        self.timers.insert(open.timer, *key);
        self.within_bytes();
    }

    fn remove(&mut self, key: &InviteKey) -> Option<Open> {
        let open = self.open.remove(key)?;
        self.timers.remove(&open.timer);
        self.age.remove(&open.created);
        self.bytes -= open.size;
        Some(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::honeypot::pbx::state::invite_key;

    const MS: i64 = 1_000_000;
    const T0: i64 = 1_796_000_000_000_000_000;

    fn route(channel: u64, transport: Transport) -> Route {
        Route { channel, transport, local: "127.0.0.1:5060".parse().unwrap() }
    }

    fn key(n: u64) -> InviteKey {
        invite_key([192, 0, 2, 1].into(), b"call", n)
    }

    fn dest() -> SocketAddr {
        "192.0.2.1:5061".parse().unwrap()
    }

    /// Every retransmission until `until`, as (time, kind) seen by a shell polling exactly
    /// when told.
    fn drive(t: &mut OpenInvites, channel: u64, until: i64) -> Vec<(i64, DueKind)> {
        let mut seen = Vec::new();
        while let Some(at) = t.next_due(channel).filter(|at| *at <= until) {
            for d in t.due(channel, at) {
                if d.kind == DueKind::Final {
                    t.final_sent(&d.key, Some(&d.bytes), at);
                }
                seen.push((at - T0, d.kind));
            }
        }
        seen
    }

    #[test]
    fn a_final_answer_over_udp_is_retransmitted_on_timer_g_until_timer_h() {
        let mut t = OpenInvites::new(10, 1 << 20);
        t.await_final(key(1), dest(), route(7, Transport::Udp), 1, T0);
        t.final_sent(&key(1), Some(b"SIP/2.0 407 x"), T0);
        let seen = drive(&mut t, 7, T0 + 60_000 * MS);
        let times: Vec<i64> = seen.iter().map(|(at, _)| at / MS).collect();
        // T1, then doubling, then every T2, until 64·T1 = 32 s.
        assert_eq!(times, [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
        assert!(seen.iter().all(|(_, k)| *k == DueKind::Retransmission));
        assert!(t.is_empty() && t.next_due(7).is_none(), "gone at timer H");
    }

    #[test]
    fn the_ack_stops_retransmissions_and_streams_get_none() {
        let mut t = OpenInvites::new(10, 1 << 20);
        t.await_final(key(1), dest(), route(7, Transport::Udp), 1, T0);
        t.final_sent(&key(1), Some(b"SIP/2.0 486 x"), T0);
        assert_eq!(t.due(7, T0 + 500 * MS).len(), 1);
        assert!(t.acked(&key(1)));
        assert!(t.due(7, T0 + 10_000 * MS).is_empty() && t.is_empty());
        t.await_final(key(2), dest(), route(8, Transport::Tcp), 1, T0);
        t.final_sent(&key(2), Some(b"SIP/2.0 486 x"), T0);
        assert!(t.is_empty(), "reliable transports are not retransmitted to");
        t.await_final(key(3), dest(), route(7, Transport::Udp), 1, T0);
        t.final_sent(&key(3), None, T0);
        assert!(t.is_empty(), "nothing to retransmit when the final answer was withheld");
    }

    #[test]
    fn delayed_answers_come_in_order_and_a_cancel_before_the_final_one_gets_the_487() {
        let mut t = OpenInvites::new(10, 1 << 20);
        let later = vec![(T0 + 300 * MS, b"180".to_vec(), false), (T0 + 5_000 * MS, b"480".to_vec(), true)];
        t.open_call(key(1), dest(), route(3, Transport::Udp), 9, T0, b"100".to_vec(), later.clone(), b"487".to_vec());
        assert_eq!(t.retransmitted(&key(1), 9), Some(b"100".to_vec()), "a retransmitted INVITE gets 100 again");
        assert_eq!(t.retransmitted(&key(1), 8), None, "another branch is another INVITE");
        assert_eq!(t.next_due(3), Some(T0 + 300 * MS));
        assert!(t.next_due(4).is_none(), "channels are apart");
        let seen = drive(&mut t, 3, T0 + 6_000 * MS);
        assert_eq!(
            seen,
            [(300 * MS, DueKind::Provisional), (5_000 * MS, DueKind::Final), (5_500 * MS, DueKind::Retransmission)]
        );
        assert!(t.cancel(&key(1)).is_none(), "too late to cancel: the final answer went");
        assert_eq!(t.retransmitted(&key(1), 9), Some(b"480".to_vec()));

        t.open_call(key(2), dest(), route(3, Transport::Udp), 9, T0, b"100".to_vec(), later, b"487".to_vec());
        drive(&mut t, 3, T0 + 400 * MS);
        assert!(!t.acked(&key(2)), "an ACK before the final answer changes nothing");
        let (terminated, _, branch) = t.cancel(&key(2)).unwrap();
        assert_eq!((terminated, branch), (b"487".to_vec(), 9));
        assert!(t.next_due(3).is_none_or(|at| at > T0 + 6_000 * MS) && t.due(3, T0 + 6_000 * MS).is_empty());
    }

    #[test]
    fn the_table_is_bounded_by_count_and_bytes_and_closed_channels_are_forgotten() {
        let mut t = OpenInvites::new(3, 1 << 20);
        for n in 0..10 {
            t.await_final(key(n), dest(), route(1, Transport::Udp), 1, T0);
            t.final_sent(&key(n), Some(b"SIP/2.0 407 x"), T0);
        }
        assert_eq!((t.len(), t.forgotten()), (3, 7));
        assert_eq!(t.due(1, T0 + 500 * MS).len(), 3, "the newest three remain");
        let mut t = OpenInvites::new(100, 1000);
        for n in 0..10 {
            t.await_final(key(n), dest(), route(1, Transport::Udp), 1, T0);
            t.final_sent(&key(n), Some(&[b'x'; 300]), T0);
        }
        assert!(t.bytes <= 1000 && t.len() == 3, "{} bytes in {}", t.bytes, t.len());
        t.close_channel(1);
        assert!(t.is_empty() && t.timers.is_empty() && t.age.is_empty() && t.bytes == 0);
    }
}
