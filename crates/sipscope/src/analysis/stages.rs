//! The four attack stages (001, 003), per source and per (source, node): server scan,
//! extension scan, registration hijacking, toll fraud. Each stage a source reaches keeps its
//! evidence: first and last time, a count of requests, and a few sample messages. The rules and
//! their thresholds are in `docs/analysis.md`; every threshold is in [`StageThresholds`]. Toll
//! fraud takes call attempts only: an INVITE towards an external number from a caller who is
//! not the callee (the engine decides, [`Request::call_attempt`]); probes and enumeration
//! INVITEs (svwar's calibration call to a random number, nmap's sip-call-spoof) are extension
//! scanning. The texts of a [`Request`] come cut to the value limit
//! (`super::bounded`); users and Call-IDs are kept as hashes, samples as the texts given.

use super::bounded::value_hash;
use super::flows::CappedSet;
use serde::{Deserialize, Serialize};

/// A stage of an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Probing for SIP servers (OPTIONS, or single requests that enumerate nothing).
    ServerScan,
    /// Requests for many distinct users on one server, without credentials.
    ExtensionScan,
    /// REGISTER with credentials for an extension (brute force; success when accepted).
    RegistrationHijacking,
    /// INVITE towards an external or international number, from a caller who is not the callee.
    TollFraud,
}

impl Stage {
    /// All four, in attack order.
    pub const ALL: [Stage; 4] =
        [Stage::ServerScan, Stage::ExtensionScan, Stage::RegistrationHijacking, Stage::TollFraud];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ServerScan => "server_scan",
            Stage::ExtensionScan => "extension_scan",
            Stage::RegistrationHijacking => "registration_hijacking",
            Stage::TollFraud => "toll_fraud",
        }
    }
}

/// When a stage counts as reached.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StageThresholds {
    /// Server scan: at most this many distinct users asked for on the node, without
    /// credentials (more is an extension scan).
    pub server_scan_max_users: usize,
    /// Extension scan: at least this many distinct users (extensions, not external numbers)
    /// asked for on one node without credentials.
    pub extension_scan_min_users: usize,
    /// Registration hijacking: at least this many REGISTERs with credentials (one accepted
    /// registration is enough on its own).
    pub hijack_min_attempts: u64,
    /// Toll fraud: at least this many INVITEs that are call attempts to external numbers.
    pub toll_fraud_min_invites: u64,
}

impl Default for StageThresholds {
    fn default() -> Self {
        StageThresholds {
            server_scan_max_users: 1,
            extension_scan_min_users: 3,
            hijack_min_attempts: 1,
            toll_fraud_min_invites: 1,
        }
    }
}

/// A sample message kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Its time.
    pub ts_ns: i64,
    /// Method.
    pub method: String,
    /// The user or number it was about.
    pub user: Option<String>,
    /// Call-ID.
    pub call_id: Option<String>,
}

/// Evidence for one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// First message, ns.
    pub first_ns: i64,
    /// Last message, ns.
    pub last_ns: i64,
    /// Messages counted as evidence.
    pub count: u64,
    /// Up to [`SAMPLES`] of them, the first ones.
    pub samples: Vec<Sample>,
}

/// Samples kept per stage.
pub const SAMPLES: usize = 3;

impl Evidence {
    /// Counts a message at `ts_ns`; `sample` builds its sample only while samples are still
    /// kept (three strings per request otherwise, on every request of a flood).
    fn add(slot: &mut Option<Evidence>, ts_ns: i64, sample: impl FnOnce() -> Sample) {
        let e = slot.get_or_insert_with(|| Evidence { first_ns: ts_ns, last_ns: ts_ns, count: 0, samples: Vec::new() });
        e.first_ns = e.first_ns.min(ts_ns);
        e.last_ns = e.last_ns.max(ts_ns);
        e.count += 1;
        if e.samples.len() < SAMPLES {
            // One at a time: a source is kept for the whole run, and most send one message.
            e.samples.reserve_exact(1);
            e.samples.push(sample());
        }
    }

    /// Combines two (per-node evidence into per-source).
    pub fn merge(a: &Option<Evidence>, b: &Option<Evidence>) -> Option<Evidence> {
        match (a, b) {
            (None, x) | (x, None) => x.clone(),
            (Some(a), Some(b)) => {
                let mut samples: Vec<Sample> = a.samples.iter().chain(&b.samples).cloned().collect();
                samples.sort_by_key(|s| s.ts_ns);
                samples.truncate(SAMPLES);
                Some(Evidence {
                    first_ns: a.first_ns.min(b.first_ns),
                    last_ns: a.last_ns.max(b.last_ns),
                    count: a.count + b.count,
                    samples,
                })
            }
        }
    }
}

/// What one request says, as far as stages go.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Time.
    pub ts_ns: i64,
    /// Method.
    pub method: &'a str,
    /// The user asked for: To user for REGISTER, Request-URI user otherwise.
    pub user: Option<&'a str>,
    /// Whether it carried digest credentials.
    pub credentials: bool,
    /// For an INVITE: a call attempt, i.e. its Request-URI user is an external number (see
    /// `numbers`) and its caller (From user) is neither that user nor the To user. svwar's
    /// calibration INVITE (Request-URI, From and To users the same random number) is not.
    pub call_attempt: bool,
    /// Call-ID.
    pub call_id: Option<&'a str>,
}

/// What one answer to the source says, as far as stages go.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// Time.
    pub ts_ns: i64,
    /// Status code.
    pub status: u32,
    /// The method of its CSeq (the request it answers).
    pub cseq_method: &'a str,
    /// Its To user: the user the request asked for (an answer copies the request's To).
    pub user: Option<&'a str>,
    /// Call-ID.
    pub call_id: Option<&'a str>,
}

/// Stage state of one (source, node).
#[derive(Debug, Clone, Default)]
pub struct StageState {
    probes: Option<Evidence>,
    /// Users asked for, as [`value_hash`]es (only their number matters).
    users: CappedSet<u64>,
    unauthenticated: Option<Evidence>,
    /// Distinct users the server's answers said exist (200/401/407), by the To user of the
    /// answer (which copies the request's), as [`value_hash`]es.
    found: CappedSet<u64>,
    /// Distinct users the server said do not exist (404/604).
    missing: CappedSet<u64>,
    hijack_attempts: Option<Evidence>,
    hijack_accepted: Option<Evidence>,
    fraud: Option<Evidence>,
    /// Call-IDs of credentialed REGISTERs, to recognise their acceptance: the last
    /// [`CREDENTIALED_CALL_IDS`], as [`value_hash`]es.
    credentialed: std::collections::VecDeque<u64>,
}

/// Call-IDs of credentialed REGISTERs remembered per (source, node).
pub const CREDENTIALED_CALL_IDS: usize = 64;

impl Evidence {
    /// Heap bytes held, about.
    fn heap_bytes(&self) -> usize {
        let text = |s: &Sample| {
            s.method.capacity()
                + s.user.as_ref().map_or(0, String::capacity)
                + s.call_id.as_ref().map_or(0, String::capacity)
        };
        self.samples.capacity() * std::mem::size_of::<Sample>() + self.samples.iter().map(text).sum::<usize>()
    }
}

impl StageState {
    /// Takes a request.
    pub fn request(&mut self, r: &Request<'_>) {
        let sample = || Sample {
            ts_ns: r.ts_ns,
            method: r.method.to_owned(),
            user: r.user.map(str::to_owned),
            call_id: r.call_id.map(str::to_owned),
        };
        match (r.method, r.credentials) {
            ("REGISTER", true) => {
                Evidence::add(&mut self.hijack_attempts, r.ts_ns, sample);
                if let Some(c) = r.call_id {
                    if self.credentialed.len() >= CREDENTIALED_CALL_IDS {
                        self.credentialed.pop_front();
                    }
                    self.credentialed.push_back(value_hash(c));
                }
            }
            ("ACK" | "CANCEL" | "BYE", _) => {}
            (_, false) => {
                // A call attempt is not a probe for an extension; a probe INVITE to a number
                // (svwar's calibration) is.
                if let Some(u) = r.user.filter(|_| !r.call_attempt) {
                    self.users.insert(value_hash(u));
                }
                if r.method == "OPTIONS" {
                    Evidence::add(&mut self.probes, r.ts_ns, sample);
                }
                Evidence::add(&mut self.unauthenticated, r.ts_ns, sample);
            }
            _ => {}
        }
        if r.method == "INVITE" && r.call_attempt {
            Evidence::add(&mut self.fraud, r.ts_ns, sample);
        }
    }

    /// Takes a request a PBX logged (docs/analysis.md, "Attempts from PBX logs"): `r` as the
    /// log describes it (`method` the log's word, `credentials` whether the PBX checked a
    /// password), `register` whether it counts as a REGISTER (it says so, or names no SIP
    /// method), `exists` what the PBX's refusal said of the user, `accepted` whether the
    /// credentials were. A credentialed REGISTER is what a hijacking attempt is on the wire;
    /// an accepted one is the 200 the wire would show; anything else is taken as
    /// [`StageState::request`] takes it.
    pub fn logged_request(&mut self, r: &Request<'_>, register: bool, exists: Option<bool>, accepted: bool) {
        let sample = || Sample {
            ts_ns: r.ts_ns,
            method: r.method.to_owned(),
            user: r.user.map(str::to_owned),
            call_id: r.call_id.map(str::to_owned),
        };
        if r.credentials && register {
            Evidence::add(&mut self.hijack_attempts, r.ts_ns, sample);
            if accepted {
                Evidence::add(&mut self.hijack_accepted, r.ts_ns, sample);
            }
        } else {
            self.request(r);
        }
        if let (Some(exists), Some(user)) = (exists, r.user) {
            let set = if exists { &mut self.found } else { &mut self.missing };
            set.insert(value_hash(user));
        }
    }

    /// Takes an answer sent to the source: `status` to a request of `cseq_method`, about
    /// `user` (the To user of the answer).
    pub fn answer(&mut self, a: &Answer<'_>) {
        let found = match (a.cseq_method, a.status) {
            ("REGISTER", 200..=299) if a.call_id.is_some_and(|c| self.credentialed.contains(&value_hash(c))) => {
                let sample = || Sample {
                    ts_ns: a.ts_ns,
                    method: "REGISTER".into(),
                    user: a.user.map(str::to_owned),
                    call_id: a.call_id.map(str::to_owned),
                };
                Evidence::add(&mut self.hijack_accepted, a.ts_ns, sample);
                Some(true)
            }
            ("REGISTER" | "INVITE" | "OPTIONS", 404 | 604) => Some(false),
            ("REGISTER" | "INVITE" | "OPTIONS", 200 | 401 | 407) => Some(true),
            _ => None,
        };
        if let (Some(found), Some(user)) = (found, a.user) {
            let set = if found { &mut self.found } else { &mut self.missing };
            set.insert(value_hash(user));
        }
    }

    /// The stages reached under `t`, with their evidence.
    pub fn reached(&self, t: &StageThresholds) -> Vec<(Stage, Evidence)> {
        let mut out = Vec::new();
        let few_users = self.users.len() <= t.server_scan_max_users;
        // Few users and no credentials: every unauthenticated request probed the server
        // (OPTIONS among them). Many users: only the OPTIONS did, the rest enumerated. With
        // credentials, unauthenticated REGISTERs fetched challenges for the guesses.
        let probing = few_users && self.hijack_attempts.is_none();
        let scan = if probing { self.unauthenticated.clone() } else { self.probes.clone() };
        if let Some(e) = scan {
            out.push((Stage::ServerScan, e));
        }
        if self.users.len() >= t.extension_scan_min_users {
            if let Some(e) = &self.unauthenticated {
                out.push((Stage::ExtensionScan, e.clone()));
            }
        }
        let attempts = self.hijack_attempts.as_ref().map_or(0, |e| e.count);
        if attempts >= t.hijack_min_attempts || self.hijack_accepted.is_some() {
            // Times and samples include the acceptance; the count is of requests only (an
            // answer is not an attempt).
            if let Some(mut e) = Evidence::merge(&self.hijack_attempts, &self.hijack_accepted) {
                e.count = attempts;
                out.push((Stage::RegistrationHijacking, e));
            }
        }
        if let Some(e) = self.fraud.as_ref().filter(|e| e.count >= t.toll_fraud_min_invites) {
            out.push((Stage::TollFraud, e.clone()));
        }
        out
    }

    /// Whether a registration with credentials was accepted (the account is hijacked).
    pub fn hijack_succeeded(&self) -> bool {
        self.hijack_accepted.is_some()
    }

    /// Distinct users asked for without credentials.
    pub fn users_asked(&self) -> usize {
        self.users.len()
    }

    /// Distinct users the server's answers said exist.
    pub fn users_found(&self) -> usize {
        self.found.len()
    }

    /// Distinct users the server's answers said do not exist.
    pub fn users_missing(&self) -> usize {
        self.missing.len()
    }

    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let evidence = [&self.probes, &self.unauthenticated, &self.hijack_attempts, &self.hijack_accepted, &self.fraud];
        evidence.iter().filter_map(|e| e.as_ref()).map(Evidence::heap_bytes).sum::<usize>()
            + self.users.heap_bytes(|_| 0)
            + self.found.heap_bytes(|_| 0)
            + self.missing.heap_bytes(|_| 0)
            + self.credentialed.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(ts: i64, method: &'a str, user: Option<&'a str>, creds: bool, call_id: &'a str) -> Request<'a> {
        Request { ts_ns: ts, method, user, credentials: creds, call_attempt: false, call_id: Some(call_id) }
    }

    fn answer<'a>(ts: i64, status: u32, method: &'a str, user: &'a str, call_id: &'a str) -> Answer<'a> {
        Answer { ts_ns: ts, status, cseq_method: method, user: Some(user), call_id: Some(call_id) }
    }

    fn stages(s: &StageState) -> Vec<Stage> {
        s.reached(&StageThresholds::default()).into_iter().map(|(st, _)| st).collect()
    }

    #[test]
    fn an_options_ping_is_a_server_scan_only() {
        let mut s = StageState::default();
        s.request(&req(1, "OPTIONS", Some("100"), false, "a"));
        assert_eq!(stages(&s), [Stage::ServerScan]);
        let (_, e) = &s.reached(&StageThresholds::default())[0];
        assert_eq!((e.first_ns, e.count, e.samples.len()), (1, 1, 1));
    }

    #[test]
    fn many_users_without_credentials_is_an_extension_scan() {
        let mut s = StageState::default();
        for (i, u) in ["1735949730", "100", "101", "102"].iter().enumerate() {
            s.request(&req(i as i64, "REGISTER", Some(u), false, u));
            s.answer(&answer(i as i64, if *u == "100" { 401 } else { 404 }, "REGISTER", u, u));
        }
        assert_eq!(stages(&s), [Stage::ExtensionScan]);
        assert_eq!((s.users_found(), s.users_missing()), (1, 3));
    }

    #[test]
    fn users_found_are_distinct_users_not_answers() {
        // Six users, each answered four times (retransmissions, several probes, a 401 then a
        // 407): six found, not 24 (issue 13).
        let mut s = StageState::default();
        for round in 0..4 {
            for u in ["100", "101", "102", "103", "104", "105"] {
                s.request(&req(round, "REGISTER", Some(u), false, u));
                s.answer(&answer(round, if round % 2 == 0 { 401 } else { 407 }, "REGISTER", u, u));
            }
        }
        assert_eq!((s.users_asked(), s.users_found(), s.users_missing()), (6, 6, 0));
        // An answer without a To user counts for no user; other statuses and methods for none.
        s.answer(&Answer { ts_ns: 9, status: 404, cseq_method: "REGISTER", user: None, call_id: None });
        s.answer(&answer(9, 403, "REGISTER", "106", "x"));
        s.answer(&answer(9, 404, "BYE", "107", "y"));
        assert_eq!((s.users_found(), s.users_missing()), (6, 0));
    }

    #[test]
    fn credentialed_registers_are_hijacking_and_acceptance_is_success() {
        let mut s = StageState::default();
        s.request(&req(1, "REGISTER", Some("101"), false, "c1"));
        s.request(&req(2, "REGISTER", Some("101"), true, "c1"));
        s.answer(&answer(2, 403, "REGISTER", "101", "c1"));
        assert!(!s.hijack_succeeded());
        s.request(&req(3, "REGISTER", Some("101"), true, "c2"));
        s.answer(&answer(3, 200, "REGISTER", "101", "c2"));
        assert!(s.hijack_succeeded());
        // An unrelated 200 (another Call-ID) is not success.
        let mut t = StageState::default();
        t.answer(&answer(1, 200, "REGISTER", "101", "zz"));
        assert!(!t.hijack_succeeded());
        // The unauthenticated REGISTER only fetched a challenge for the guesses: no server scan.
        assert_eq!(stages(&s), [Stage::RegistrationHijacking]);
        // Two credentialed REGISTERs: the count is of requests, the 200 is not one (issue 13).
        let (_, e) = &s.reached(&StageThresholds::default())[0];
        assert_eq!((e.count, e.first_ns, e.last_ns), (2, 2, 3));
    }

    #[test]
    fn call_attempts_to_external_numbers_are_toll_fraud() {
        let mut s = StageState::default();
        let mut r = req(5, "INVITE", Some("0046701234567"), true, "x");
        r.call_attempt = true;
        s.request(&r);
        assert_eq!(stages(&s), [Stage::TollFraud]);
        let mut internal = StageState::default();
        internal.request(&req(5, "INVITE", Some("100"), true, "x"));
        assert!(!stages(&internal).contains(&Stage::TollFraud));
    }

    #[test]
    fn probe_invites_to_numbers_are_users_asked_not_toll_fraud() {
        // svwar -m INVITE: a calibration INVITE to a random number, then the range; none a call.
        let mut s = StageState::default();
        for (i, u) in ["4047666786", "46701234560", "46701234561", "46701234562"].iter().enumerate() {
            s.request(&req(i as i64, "INVITE", Some(u), false, u));
        }
        assert_eq!(stages(&s), [Stage::ExtensionScan]);
        assert_eq!(s.users_asked(), 4);
    }

    #[test]
    fn logged_attempts_count_as_the_requests_they_describe() {
        // A failed password (the method unnamed, as security events do) is a hijacking attempt;
        // a success, a hijacked account; a PJSIP INVITE with credentials is neither.
        let mut s = StageState::default();
        let mut r = req(1, "PJSIP", Some("100"), true, "a");
        s.logged_request(&r, true, None, false);
        assert_eq!(stages(&s), [Stage::RegistrationHijacking]);
        assert!(!s.hijack_succeeded());
        r.ts_ns = 2;
        s.logged_request(&r, true, None, true);
        assert!(s.hijack_succeeded());
        let (_, e) = &s.reached(&StageThresholds::default())[0];
        assert_eq!((e.count, e.first_ns, e.last_ns, e.samples[0].method.as_str()), (2, 1, 2, "PJSIP"));
        let mut invite = StageState::default();
        invite.logged_request(&req(1, "INVITE", Some("100"), true, "b"), false, None, false);
        assert!(stages(&invite).is_empty());
        // Users the PBX does not have, asked for without credentials: an extension scan.
        let mut scan = StageState::default();
        for (i, u) in ["100", "101", "102"].iter().enumerate() {
            scan.logged_request(&req(i as i64, "REGISTER", Some(u), false, u), true, Some(false), false);
        }
        assert_eq!(stages(&scan), [Stage::ExtensionScan]);
        assert_eq!((scan.users_asked(), scan.users_missing()), (3, 3));
    }

    #[test]
    fn evidence_merges_keep_the_earliest_samples() {
        let a = Some(Evidence { first_ns: 5, last_ns: 9, count: 2, samples: vec![] });
        let b = Some(Evidence { first_ns: 1, last_ns: 7, count: 3, samples: vec![] });
        let m = Evidence::merge(&a, &b).unwrap();
        assert_eq!((m.first_ns, m.last_ns, m.count), (1, 9, 5));
    }
}
