//! Nonces the PBX issued: fresh random values with an expiry, and what was done with each, so a
//! stale or replayed nonce is told apart from a wrong password. Bounded: the oldest are
//! forgotten first, and a forgotten nonce reads as stale, like an expired one. A nonce is bound
//! to the address it was issued to (PJSIP hashes the source address into its nonces): used from
//! another address it reads as stale, and that use does not count.

use super::super::profile::NonceFormat;
use rand::Rng;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// What a nonce in credentials turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by us, unexpired, first use (or a higher `nc` with qop).
    Fresh,
    /// Issued by us and already used with the same or a lower `nc`: a replay, or a cracker
    /// reusing one challenge for many guesses.
    Reused,
    /// Expired, forgotten, never issued by us, or issued to another address.
    Stale,
}

struct Issued {
    issued_ns: i64,
    /// The address the challenge went to (ports may change: NAT, a new TCP connection).
    to: IpAddr,
    uses: u32,
    last_nc: Option<u32>,
}

/// The issued nonces.
pub struct Nonces {
    format: NonceFormat,
    lifetime_ns: i64,
    cap: usize,
    by_value: HashMap<String, Issued>,
    order: VecDeque<String>,
}

impl Nonces {
    /// Nonces in `format` valid for `lifetime_s`, remembering at most `cap`.
    pub fn new(format: NonceFormat, lifetime_s: u64, cap: usize) -> Nonces {
        let lifetime_ns = i64::try_from(lifetime_s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
        Nonces { format, lifetime_ns, cap: cap.max(1), by_value: HashMap::new(), order: VecDeque::new() }
    }

    /// A new nonce issued at `now_ns` to address `to`.
    pub fn issue(&mut self, now_ns: i64, to: IpAddr, rng: &mut impl Rng) -> String {
        let nonce = match self.format {
            NonceFormat::Hex8 => format!("{:08x}", rng.random::<u32>()),
            NonceFormat::Hex32 => format!("{:032x}", rng.random::<u128>()),
            NonceFormat::TimeSlashHex => format!("{}/{:032x}", now_ns.div_euclid(1_000_000_000), rng.random::<u128>()),
        };
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.by_value.remove(&old);
            }
        }
        self.order.push_back(nonce.clone());
        self.by_value
            .insert(nonce.clone(), Issued { issued_ns: now_ns, to: to.to_canonical(), uses: 0, last_nc: None });
        nonce
    }

    /// Checks `nonce` (with the credentials' `nc`, when any) sent from `from` at `now_ns`, and
    /// records the use (not when it came from another address than the one it was issued to).
    pub fn check_and_use(&mut self, nonce: &[u8], nc: Option<u32>, from: IpAddr, now_ns: i64) -> NonceCheck {
        let Some(issued) = std::str::from_utf8(nonce).ok().and_then(|n| self.by_value.get_mut(n)) else {
            return NonceCheck::Stale;
        };
        if issued.to != from.to_canonical() {
            return NonceCheck::Stale;
        }
        if now_ns.saturating_sub(issued.issued_ns) > self.lifetime_ns {
            return NonceCheck::Stale;
        }
        let advanced = match (nc, issued.last_nc) {
            (Some(nc), Some(last)) => nc > last,
            _ => false,
        };
        let check = if issued.uses == 0 || advanced { NonceCheck::Fresh } else { NonceCheck::Reused };
        issued.uses = issued.uses.saturating_add(1);
        if let Some(nc) = nc {
            issued.last_nc = Some(issued.last_nc.map_or(nc, |l| l.max(nc)));
        }
        check
    }

    /// Nonces remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_value.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const S: i64 = 1_000_000_000;
    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn formats_look_like_the_pbx_they_imitate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let hex8 = Nonces::new(NonceFormat::Hex8, 30, 10).issue(0, A, &mut rng);
        assert_eq!(hex8.len(), 8);
        assert!(hex8.bytes().all(|b| b.is_ascii_hexdigit()));
        let pj = Nonces::new(NonceFormat::TimeSlashHex, 30, 10).issue(1_700_000_000 * S, A, &mut rng);
        assert!(pj.starts_with("1700000000/") && pj.len() == 43, "{pj}");
    }

    #[test]
    fn first_use_is_fresh_then_reused_and_expiry_makes_it_stale() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut n = Nonces::new(NonceFormat::Hex32, 30, 10);
        let nonce = n.issue(100 * S, A, &mut rng);
        assert_eq!(n.check_and_use(nonce.as_bytes(), None, A, 101 * S), NonceCheck::Fresh);
        assert_eq!(n.check_and_use(nonce.as_bytes(), None, A, 102 * S), NonceCheck::Reused);
        assert_eq!(n.check_and_use(nonce.as_bytes(), None, A, 131 * S), NonceCheck::Stale);
        assert_eq!(n.check_and_use(b"not-ours", None, A, 101 * S), NonceCheck::Stale);
    }

    #[test]
    fn an_increasing_nonce_count_is_legitimate_reuse() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut n = Nonces::new(NonceFormat::Hex32, 30, 10);
        let nonce = n.issue(0, A, &mut rng);
        assert_eq!(n.check_and_use(nonce.as_bytes(), Some(1), A, S), NonceCheck::Fresh);
        assert_eq!(n.check_and_use(nonce.as_bytes(), Some(2), A, S), NonceCheck::Fresh);
        assert_eq!(n.check_and_use(nonce.as_bytes(), Some(2), A, S), NonceCheck::Reused);
    }

    #[test]
    fn a_nonce_is_good_only_from_the_address_it_was_issued_to() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut n = Nonces::new(NonceFormat::Hex32, 30, 10);
        let nonce = n.issue(0, A, &mut rng);
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(n.check_and_use(nonce.as_bytes(), None, other, S), NonceCheck::Stale);
        assert_eq!(n.check_and_use(nonce.as_bytes(), None, other, S), NonceCheck::Stale, "still not theirs");
        // The stranger's tries did not use it up; the IPv4-mapped form is the same address.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(n.check_and_use(nonce.as_bytes(), None, mapped, S), NonceCheck::Fresh);
    }

    #[test]
    fn memory_is_bounded_and_forgotten_nonces_are_stale() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let mut n = Nonces::new(NonceFormat::Hex32, 30, 3);
        let first = n.issue(0, A, &mut rng);
        for _ in 0..10 {
            n.issue(0, A, &mut rng);
        }
        assert_eq!(n.len(), 3);
        assert_eq!(n.check_and_use(first.as_bytes(), None, A, 0), NonceCheck::Stale);
    }
}
