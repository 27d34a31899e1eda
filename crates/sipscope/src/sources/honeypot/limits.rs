//! Safety limits, as pure functions of (time, source): per-source and global request rates
//! (token buckets) and the UDP amplification budget (never send a source more bytes than it
//! sent over a sliding window). The tables are bounded: past `tracked_sources`, the sources
//! idle longest are forgotten (a forgotten source starts afresh, with a full bucket but an
//! empty byte budget, so forgetting never allows amplification).

use super::config::HoneypotLimits;
use std::collections::HashMap;
use std::net::IpAddr;

/// Bytes an IPv4 / IPv6 + UDP header adds on the wire: counted both ways, so a source that
/// sends empty datagrams still earns the budget for what an answer costs on the wire.
pub fn udp_overhead(ip: IpAddr) -> u64 {
    if ip.is_ipv4() {
        28
    } else {
        48
    }
}

/// Amplification budget slots: the window is split into this many buckets.
const SLOTS: usize = 8;

struct SourceState {
    tokens: f64,
    refilled_ns: i64,
    last_seen_ns: i64,
    /// Bytes received and sent per slot of the window; `slot_start_ns` is slot 0's start.
    received: [u64; SLOTS],
    sent: [u64; SLOTS],
    slot_start_ns: i64,
}

/// What the limits decided for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handle it.
    Allowed,
    /// Over this source's rate.
    SourceRate,
    /// Over the global rate.
    GlobalRate,
}

/// Rate and amplification state.
pub struct Limiter {
    limits: HoneypotLimits,
    sources: HashMap<IpAddr, SourceState>,
    global_tokens: f64,
    global_refilled_ns: i64,
    slot_ns: i64,
}

impl Limiter {
    /// Limits as configured.
    pub fn new(limits: &HoneypotLimits) -> Limiter {
        let window_ns = (limits.amplification_window_seconds.max(1) as i64).saturating_mul(1_000_000_000);
        Limiter {
            global_tokens: limits.global_rate.max(1.0),
            global_refilled_ns: i64::MIN,
            slot_ns: (window_ns / SLOTS as i64).max(1),
            limits: limits.clone(),
            sources: HashMap::new(),
        }
    }

    /// Admits (or not) a request of `wire_bytes` from `source` at `now_ns`, and counts its
    /// bytes towards the source's amplification budget either way.
    pub fn admit(&mut self, source: IpAddr, wire_bytes: u64, now_ns: i64) -> Admission {
        self.evict_if_full();
        let (rate, burst) = (self.limits.per_source_rate, self.limits.per_source_burst);
        let slot_ns = self.slot_ns;
        let s = self.sources.entry(source).or_insert_with(|| SourceState {
            tokens: burst,
            refilled_ns: now_ns,
            last_seen_ns: now_ns,
            received: [0; SLOTS],
            sent: [0; SLOTS],
            slot_start_ns: now_ns,
        });
        s.last_seen_ns = now_ns;
        advance(s, now_ns, slot_ns);
        s.received[SLOTS - 1] = s.received[SLOTS - 1].saturating_add(wire_bytes);
        refill(&mut s.tokens, &mut s.refilled_ns, now_ns, rate, burst);
        if s.tokens < 1.0 {
            return Admission::SourceRate;
        }
        let global = self.limits.global_rate;
        if self.global_refilled_ns == i64::MIN {
            self.global_refilled_ns = now_ns;
        }
        // One second of burst for the global bucket.
        refill(&mut self.global_tokens, &mut self.global_refilled_ns, now_ns, global, global.max(1.0));
        if self.global_tokens < 1.0 {
            return Admission::GlobalRate;
        }
        s.tokens -= 1.0;
        self.global_tokens -= 1.0;
        Admission::Allowed
    }

    /// Whether `wire_bytes` more may be sent to `source` now (UDP: `amplification_factor`);
    /// if so they are counted as sent.
    pub fn may_send(&mut self, source: IpAddr, wire_bytes: u64, now_ns: i64) -> bool {
        self.may_send_within(source, wire_bytes, now_ns, self.limits.amplification_factor)
    }

    /// Whether `bytes` more may be sent to `source` on a stream (TCP/TLS) now, under
    /// `stream_amplification_factor` times what it sent over the window (its bytes on every
    /// transport count); if so they are counted as sent.
    pub fn may_send_stream(&mut self, source: IpAddr, bytes: u64, now_ns: i64) -> bool {
        self.may_send_within(source, bytes, now_ns, self.limits.stream_amplification_factor)
    }

    fn may_send_within(&mut self, source: IpAddr, wire_bytes: u64, now_ns: i64, factor: f64) -> bool {
        let slot_ns = self.slot_ns;
        let Some(s) = self.sources.get_mut(&source) else { return false };
        advance(s, now_ns, slot_ns);
        let received: u64 = s.received.iter().sum();
        let sent: u64 = s.sent.iter().sum();
        let budget = (received as f64 * factor) as u64;
        if sent.saturating_add(wire_bytes) > budget {
            return false;
        }
        s.sent[SLOTS - 1] = s.sent[SLOTS - 1].saturating_add(wire_bytes);
        true
    }

    /// Sources tracked now.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    fn evict_if_full(&mut self) {
        if self.sources.len() < self.limits.tracked_sources.max(1) {
            return;
        }
        // Forget the idlest tenth at once, so eviction's cost is amortised.
        let mut idle: Vec<(i64, IpAddr)> = self.sources.iter().map(|(ip, s)| (s.last_seen_ns, *ip)).collect();
        idle.sort_unstable();
        let n = (idle.len() / 10).max(1);
        for (_, ip) in idle.into_iter().take(n) {
            self.sources.remove(&ip);
        }
    }
}

fn refill(tokens: &mut f64, refilled_ns: &mut i64, now_ns: i64, rate: f64, burst: f64) {
    let elapsed = now_ns.saturating_sub(*refilled_ns).max(0) as f64 / 1e9;
    *tokens = (*tokens + elapsed * rate).min(burst);
    *refilled_ns = now_ns.max(*refilled_ns);
}

/// Shifts the window so that its last slot contains `now_ns`.
fn advance(s: &mut SourceState, now_ns: i64, slot_ns: i64) {
    let end = s.slot_start_ns.saturating_add(slot_ns.saturating_mul(SLOTS as i64));
    if now_ns < end {
        return;
    }
    let shift = ((now_ns - end) / slot_ns + 1).min(SLOTS as i64) as usize;
    s.received.rotate_left(shift);
    s.sent.rotate_left(shift);
    for i in SLOTS - shift..SLOTS {
        s.received[i] = 0;
        s.sent[i] = 0;
    }
    s.slot_start_ns = s.slot_start_ns.saturating_add(slot_ns.saturating_mul(shift as i64));
    if now_ns >= s.slot_start_ns.saturating_add(slot_ns.saturating_mul(SLOTS as i64)) {
        // Long silence: restart the window at now.
        s.slot_start_ns = now_ns - slot_ns * (SLOTS as i64 - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn limits(text: &str) -> HoneypotLimits {
        toml::from_str(text).unwrap()
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let mut l = Limiter::new(&limits("per_source_rate = 10.0\nper_source_burst = 5.0"));
        let t0 = 1_000 * S;
        let admitted = (0..20).filter(|_| l.admit(ip(1), 100, t0) == Admission::Allowed).count();
        assert_eq!(admitted, 5);
        // Half a second later: five more tokens.
        let admitted = (0..20).filter(|_| l.admit(ip(1), 100, t0 + S / 2) == Admission::Allowed).count();
        assert_eq!(admitted, 5);
        assert_eq!(l.admit(ip(2), 100, t0 + S / 2), Admission::Allowed, "other sources are not affected");
    }

    #[test]
    fn the_global_rate_caps_everyone() {
        let mut l = Limiter::new(&limits("global_rate = 3.0"));
        let got: Vec<Admission> = (1..=5).map(|i| l.admit(ip(i), 100, 0)).collect();
        assert_eq!(got.iter().filter(|a| **a == Admission::Allowed).count(), 3);
        assert_eq!(got[4], Admission::GlobalRate);
    }

    #[test]
    fn never_more_bytes_out_than_in_over_the_window() {
        let mut l = Limiter::new(&limits("amplification_factor = 1.0\namplification_window_seconds = 8"));
        l.admit(ip(1), 300, 0);
        assert!(l.may_send(ip(1), 200, 0));
        assert!(!l.may_send(ip(1), 200, 0), "would be 400 out for 300 in");
        l.admit(ip(1), 300, S);
        assert!(l.may_send(ip(1), 200, S));
        // After the window has passed, old bytes no longer count either way.
        l.admit(ip(1), 50, 20 * S);
        assert!(!l.may_send(ip(1), 100, 20 * S));
        assert!(l.may_send(ip(1), 50, 20 * S));
        assert!(!l.may_send(ip(9), 1, 0), "nothing for a source never heard from");
    }

    #[test]
    fn streams_have_their_own_factor_over_the_same_bytes() {
        let mut l = Limiter::new(&limits("amplification_factor = 1.0\nstream_amplification_factor = 4.0"));
        l.admit(ip(1), 100, 0);
        assert!(!l.may_send(ip(1), 150, 0), "UDP: 1x");
        assert!(l.may_send_stream(ip(1), 300, 0));
        assert!(!l.may_send_stream(ip(1), 101, 0), "would be 401 out for 100 in");
        assert!(l.may_send_stream(ip(1), 100, 0));
        assert!(!l.may_send_stream(ip(9), 1, 0), "nothing for a source never heard from");
    }

    #[test]
    fn tracked_sources_are_bounded() {
        let mut l = Limiter::new(&limits("tracked_sources = 100"));
        for i in 0..1000u32 {
            l.admit(IpAddr::from(i.to_be_bytes()), 10, i64::from(i));
        }
        assert!(l.tracked() <= 100);
    }
}
