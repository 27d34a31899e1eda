//! "Stale credentials": a device behind an address (often a whole office behind NAT) that
//! keeps failing with one account and one user agent at a regular interval is a phone with an
//! old password re-registering, not an attacker guessing. fail2ban bans the office for it; the
//! policy turns such a ban into a watch that says so. A pure function of the attempts.

use super::config::StaleConfig;
use crate::time::SECOND_NS;

/// One failed attempt of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When, ns.
    pub ts_ns: i64,
    /// The account tried.
    pub user: String,
    /// The User-Agent.
    pub agent: Option<String>,
}

/// What the test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The one account.
    pub user: String,
    /// The one agent.
    pub agent: Option<String>,
    /// Rounds of failures seen.
    pub rounds: usize,
    /// The typical interval between rounds, ns.
    pub interval_ns: i64,
}

/// Whether `attempts` (any order) look like a stale device: every attempt for one account with
/// one agent, at least `min_rounds` rounds, a typical interval of at least
/// `min_interval_seconds`, and every interval within `tolerance` of that interval or of a
/// multiple of it (a round the sensor missed).
pub fn classify(attempts: &[Attempt], config: &StaleConfig) -> Option<Stale> {
    let first = attempts.first()?;
    if attempts.iter().any(|a| a.user != first.user || a.agent != first.agent) {
        return None;
    }
    let mut times: Vec<i64> = attempts.iter().map(|a| a.ts_ns).collect();
    times.sort_unstable();
    times.dedup();
    let round_ns = i64::try_from(config.round_seconds).unwrap_or(i64::MAX / SECOND_NS).saturating_mul(SECOND_NS);
    let mut starts: Vec<i64> = Vec::new();
    let mut last = i64::MIN;
    for t in times {
        if starts.is_empty() || t.saturating_sub(last) > round_ns {
            starts.push(t);
        }
        last = t;
    }
    if starts.len() < config.min_rounds as usize {
        return None;
    }
    let mut intervals: Vec<i64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort_unstable();
    let typical = *intervals.get(intervals.len() / 2)?;
    let min_ns = i64::try_from(config.min_interval_seconds).unwrap_or(i64::MAX / SECOND_NS).saturating_mul(SECOND_NS);
    if typical < min_ns || typical <= 0 {
        return None;
    }
    let regular = intervals.iter().all(|&d| {
        let multiple = ((d as f64) / (typical as f64)).round().max(1.0);
        (d as f64 - multiple * typical as f64).abs() <= config.tolerance * typical as f64
    });
    regular.then(|| Stale {
        user: first.user.clone(),
        agent: first.agent.clone(),
        rounds: starts.len(),
        interval_ns: typical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempts(times_s: &[f64], user: &str, agent: &str) -> Vec<Attempt> {
        times_s
            .iter()
            .map(|t| Attempt { ts_ns: (t * 1e9) as i64, user: user.into(), agent: Some(agent.into()) })
            .collect()
    }

    #[test]
    fn a_phone_retrying_every_minute_is_stale() {
        let config = StaleConfig::default();
        // Each round: the attempt and an immediate retry with a fresh nonce; one round missed.
        let a = attempts(&[0.0, 0.2, 60.0, 60.3, 121.0, 240.0, 240.1, 300.5], "102", "Yealink SIP-T46S");
        let stale = classify(&a, &config).expect("stale");
        assert_eq!((stale.user.as_str(), stale.rounds), ("102", 5));
        assert!((59 * SECOND_NS..=61 * SECOND_NS).contains(&stale.interval_ns));
    }

    #[test]
    fn guessing_fast_many_accounts_or_agents_or_irregularly_is_not() {
        let config = StaleConfig::default();
        let fast: Vec<f64> = (0..50).map(|i| f64::from(i) * 0.5).collect();
        assert_eq!(classify(&attempts(&fast, "100", "friendly-scanner"), &config), None);
        let mut two_users = attempts(&[0.0, 60.0, 120.0, 180.0], "100", "a");
        two_users[2].user = "101".into();
        assert_eq!(classify(&two_users, &config), None);
        let mut two_agents = attempts(&[0.0, 60.0, 120.0, 180.0], "100", "a");
        two_agents[3].agent = None;
        assert_eq!(classify(&two_agents, &config), None);
        assert_eq!(classify(&attempts(&[0.0, 60.0, 95.0, 300.0, 310.0], "100", "a"), &config), None);
        assert_eq!(classify(&attempts(&[0.0, 60.0, 120.0], "100", "a"), &config), None, "too few rounds");
        assert_eq!(classify(&[], &config), None);
    }
}
