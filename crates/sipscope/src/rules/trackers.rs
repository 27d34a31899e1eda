//! What the rules know about a client beyond one message, updated for every message before any
//! rule runs, each table bounded by a named limit ([`TrackerLimits`]):
//!
//! - **Proven sources.** An address is proven once it completed a stream exchange (a request
//!   over TCP/TLS that the sensor's own stack accepted, or, in a passive capture, a request on
//!   a connection that had been answered), or echoed a token that was only sent to it: a digest
//!   nonce from a 401/407, or a To-tag from any answer, sent to that address. Spoofed UDP never
//!   gets there: the answers go to the forged address, whose owner echoes nothing.
//! - **Requests awaiting answers** (REGISTER and INVITE, by address, Call-ID and CSeq), so an
//!   answer tells whether its request carried credentials: `auth_outcome`.
//! - **Stage reached** per client: the furthest of server scan, extension scan, registration
//!   hijacking and toll fraud that one of its requests showed (a per-message reading of the
//!   analysis' stages, without its thresholds).
//! - **Accounts' sources**: which addresses registered an account successfully, so a success
//!   from a new address is told from the account's usual one (`account_source`).

use super::facts::{kind_bit, Derived, Observation, AUTH_OUTCOMES};
use super::genmap::GenMap;
use crate::analysis::numbers::{self, Dialled};
use crate::analysis::stages::Stage;
use crate::event::record::Record;
use crate::event::Direction;
use serde::Deserialize;
use sipscope_sip::{Framing, HeaderName, Message};
use std::net::IpAddr;
use std::sync::Arc;

/// The trackers' limits; every table forgets its oldest half when full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerLimits {
    /// To-tags remembered as sent to an address (and a quarter as many addresses' latest
    /// nonces). Default 200,000.
    pub max_sent_tokens: usize,
    /// Proven addresses remembered. Default 100,000.
    pub max_proven: usize,
    /// REGISTER and INVITE requests awaiting their answer. Default 100,000.
    pub max_pending_requests: usize,
    /// Clients whose stage is remembered. Default 100,000.
    pub max_clients: usize,
    /// Accounts whose registering addresses are remembered. Default 20,000.
    pub max_accounts: usize,
    /// Addresses remembered per account. Default 8.
    pub max_sources_per_account: usize,
}

impl Default for TrackerLimits {
    fn default() -> TrackerLimits {
        TrackerLimits {
            max_sent_tokens: 200_000,
            max_proven: 100_000,
            max_pending_requests: 100_000,
            max_clients: 100_000,
            max_accounts: 20_000,
            max_sources_per_account: 8,
        }
    }
}

/// Nonces remembered per address (the latest challenges sent to it).
const NONCES_PER_ADDRESS: usize = 4;
/// Bytes of a nonce remembered at most (longer ones are not tracked).
const MAX_NONCE_BYTES: usize = 256;

/// The trackers.
pub struct Trackers {
    limits: TrackerLimits,
    hasher: ahash::RandomState,
    /// Track the stage of each client (only when a rule asks for it).
    track_stages: bool,
    /// To-tags sent to an address, as hashes of (address, tag).
    sent: GenMap<u64, ()>,
    /// The latest nonces challenged to each address: an echo is found in the credentials'
    /// header by a substring search, without parsing them.
    nonces: GenMap<IpAddr, Vec<Box<[u8]>>>,
    answered_streams: GenMap<u64, ()>,
    proven: GenMap<IpAddr, ()>,
    requests: GenMap<u64, bool>,
    stages: GenMap<IpAddr, Stage>,
    accounts: GenMap<u64, Vec<u64>>,
    /// The search for `tag=` in a To header, built once (building it was most of a search's
    /// cost, on every request).
    tag_finder: memchr::memmem::Finder<'static>,
}

impl Trackers {
    /// Empty trackers; the stages of clients are tracked when `track_stages`.
    pub fn new(limits: TrackerLimits, track_stages: bool) -> Trackers {
        Trackers {
            limits,
            hasher: ahash::RandomState::new(),
            track_stages,
            sent: GenMap::new(limits.max_sent_tokens),
            nonces: GenMap::new(limits.max_sent_tokens / NONCES_PER_ADDRESS),
            answered_streams: GenMap::new(limits.max_sent_tokens),
            proven: GenMap::new(limits.max_proven),
            requests: GenMap::new(limits.max_pending_requests),
            stages: GenMap::new(limits.max_clients),
            accounts: GenMap::new(limits.max_accounts),
            tag_finder: memchr::memmem::Finder::new(b"tag="),
        }
    }

    /// Whether `ip` is proven.
    pub fn is_proven(&self, ip: IpAddr) -> bool {
        self.proven.contains(&ip)
    }

    /// The furthest stage `ip` reached (none when stages are not tracked: no lookup then).
    fn stage_of(&self, ip: IpAddr) -> Option<Stage> {
        if self.track_stages {
            self.stages.get(&ip).copied()
        } else {
            None
        }
    }

    fn token(&self, ip: IpAddr, token: &[u8]) -> u64 {
        self.hasher.hash_one((ip, token))
    }

    /// Updates the trackers with one message and says what they know of it, with the To user
    /// of an answer (parsed here; the rules' facts reuse it rather than parsing it again).
    pub fn observe<'a>(&mut self, o: &Observation<'a>) -> (Derived, Option<Option<&'a [u8]>>) {
        let unparsed = Derived {
            client: o.src,
            server: o.dst,
            kind: if o.blank { "keepalive" } else { "invalid" },
            kind_bit: kind_bit(if o.blank { "keepalive" } else { "invalid" }),
            credentials: false,
            register: false,
            auth_outcome: None,
            proven: self.is_proven(o.src.0),
            stage: self.stage_of(o.src.0),
            account_source: None,
        };
        let Some(msg) = o.msg else { return (unparsed, None) };
        match (msg.method(), msg.status()) {
            (Some(method), _) => (self.request(o, msg, method), None),
            (None, Some(status)) => {
                let (derived, to_user) = self.answer(o, msg, status);
                (derived, Some(to_user))
            }
            (None, None) => (unparsed, None),
        }
    }

    fn request<'a>(&mut self, o: &Observation<'a>, msg: &'a Message<'a>, method: &[u8]) -> Derived {
        let (ip, port) = o.src;
        let authorization = msg.value(HeaderName::Authorization).or_else(|| msg.value(HeaderName::ProxyAuthorization));
        let mut proven = self.is_proven(ip);
        if !proven {
            let stream = o.transport.framing() == Framing::Stream;
            // The sensor's own stack accepted the connection: the handshake completed.
            proven = stream
                && (o.direction == Direction::In
                    || self.answered_streams.contains(&self.hasher.hash_one((ip, port, o.transport.as_str()))));
            if let (Some(value), Some(nonces), false) = (authorization, self.nonces.get(&ip), proven) {
                proven = nonces.iter().any(|n| memchr::memmem::find(value, n).is_some());
            }
            let tagged = msg.value(HeaderName::To).is_some_and(|v| self.tag_finder.find(v).is_some());
            if tagged && !proven {
                let to_tag = o.parsed.to(msg).and_then(|t| t.tag());
                proven = to_tag.is_some_and(|t| self.sent.contains(&self.token(ip, t)));
            }
            if proven {
                self.proven.insert(ip, ());
            }
        }
        let with_credentials = authorization.is_some();
        if method == b"REGISTER" || method == b"INVITE" {
            if let (Some(call_id), Some(cseq)) = (msg.call_id(), msg.cseq()) {
                let key = self.hasher.hash_one((ip, call_id, cseq.seq_raw));
                self.requests.insert(key, with_credentials);
            }
        }
        let stage = if self.track_stages {
            let ruri_user = o.parsed.request_uri(msg).and_then(|u| u.user);
            let to_user = if method == b"REGISTER" { o.parsed.to(msg).and_then(|t| t.user()) } else { None };
            let now = request_stage(method, with_credentials, ruri_user, to_user);
            let stage = self.stages.entry(ip, || now);
            *stage = (*stage).max(now);
            Some(*stage)
        } else {
            None
        };
        Derived {
            client: o.src,
            server: o.dst,
            kind: "request",
            kind_bit: kind_bit("request"),
            credentials: with_credentials,
            register: method == b"REGISTER",
            auth_outcome: None,
            proven,
            stage,
            account_source: None,
        }
    }

    fn answer<'a>(&mut self, o: &Observation<'a>, msg: &'a Message<'a>, status: u32) -> (Derived, Option<&'a [u8]>) {
        let (ip, port) = o.dst;
        if matches!(status, 401 | 407) {
            // The nonce alone is read (a whole challenge parse was a third of the trackers' work).
            if let Some(nonce) = msg.challenge_param(b"nonce").map(|p| p.value) {
                if !nonce.is_empty() && nonce.len() <= MAX_NONCE_BYTES {
                    let list = self.nonces.entry(ip, Vec::new);
                    if !list.iter().any(|n| **n == *nonce) {
                        if list.len() >= NONCES_PER_ADDRESS {
                            list.remove(0);
                        }
                        list.push(nonce.into());
                    }
                }
            }
        }
        let to = o.parsed.to(msg);
        if let Some(tag) = to.as_ref().and_then(|t| t.tag()) {
            self.sent.insert(self.token(ip, tag), ());
        }
        if o.transport.framing() == Framing::Stream {
            self.answered_streams.insert(self.hasher.hash_one((ip, port, o.transport.as_str())), ());
        }
        let cseq = msg.cseq();
        let register = cseq.as_ref().is_some_and(|c| c.method == b"REGISTER");
        let auth_method = register || cseq.as_ref().is_some_and(|c| c.method == b"INVITE");
        let paired = match (msg.call_id(), &cseq) {
            (Some(call_id), Some(c)) if auth_method => {
                self.requests.get(&self.hasher.hash_one((ip, call_id, c.seq_raw))).copied()
            }
            _ => None,
        };
        let auth_outcome = if auth_method { answer_outcome(status, paired) } else { None };
        let to_user = to.as_ref().and_then(|t| t.user());
        let account_source = match (auth_outcome, register, to_user) {
            (Some("accepted"), true, Some(user)) => Some(self.account_source(user, ip)),
            _ => None,
        };
        let derived = Derived {
            client: o.dst,
            server: o.src,
            kind: "response",
            kind_bit: kind_bit("response"),
            credentials: paired.unwrap_or(false),
            register,
            auth_outcome,
            proven: self.is_proven(ip),
            stage: self.stage_of(ip),
            account_source,
        };
        (derived, to_user)
    }

    /// `first` (no address registered the account before), `known` (this one did) or `new`.
    fn account_source(&mut self, user: &[u8], ip: IpAddr) -> &'static str {
        let max = self.limits.max_sources_per_account.max(1);
        let source = self.hasher.hash_one(ip);
        let seen = self.accounts.entry(self.hasher.hash_one(user), Vec::new);
        let verdict = if seen.is_empty() {
            "first"
        } else if seen.contains(&source) {
            return "known";
        } else {
            "new"
        };
        if seen.len() >= max {
            seen.remove(0);
        }
        seen.push(source);
        verdict
    }

    /// What the trackers know of a record's client (records change nothing here: the messages
    /// they were made from already went through [`Trackers::observe`]).
    pub fn record(&self, record: &Record) -> Option<Derived> {
        let (ctx, kind, outcome) = match record {
            Record::AuthAttempt(a) => (&a.ctx, "auth_attempt", AUTH_OUTCOMES.iter().copied().find(|o| *o == a.outcome)),
            Record::Registration(r) => (&r.ctx, "registration", None),
            Record::Recovered(_) => return None,
        };
        let client = (ctx.src.ip(), ctx.src.port());
        Some(Derived {
            client,
            server: (ctx.dst.ip(), ctx.dst.port()),
            kind,
            kind_bit: kind_bit(kind),
            credentials: kind == "auth_attempt",
            register: false,
            auth_outcome: outcome,
            proven: self.is_proven(client.0),
            stage: self.stage_of(client.0),
            account_source: None,
        })
    }
}

/// The outcome an answer tells about a REGISTER or INVITE, given whether its request carried
/// credentials (`None`: the request was not seen).
fn answer_outcome(status: u32, credentials: Option<bool>) -> Option<&'static str> {
    match (status, credentials) {
        (200..=299, Some(_)) => Some("accepted"),
        (401 | 403 | 407, Some(true)) => Some("failed"),
        (401 | 407, _) => Some("challenged"),
        _ => None,
    }
}

/// What one request shows: credentials on a REGISTER are a hijack attempt, an INVITE to a
/// number is toll fraud, a request naming a user is an extension scan, anything else a scan
/// for servers.
fn request_stage(method: &[u8], credentials: bool, ruri_user: Option<&[u8]>, to_user: Option<&[u8]>) -> Stage {
    if method == b"REGISTER" && credentials {
        return Stage::RegistrationHijacking;
    }
    if let (b"INVITE", Some(user)) = (method, ruri_user) {
        if numbers::kind_of(&String::from_utf8_lossy(user)) == "number" {
            return Stage::TollFraud;
        }
    }
    let user = if method == b"REGISTER" { to_user } else { ruri_user };
    if user.is_some() {
        Stage::ExtensionScan
    } else {
        Stage::ServerScan
    }
}

/// [`numbers::classify`] of a Request-URI user, remembered by value (the process-wide memo
/// the analysis engine shares: it classifies the same INVITEs on its own thread).
pub fn dialled(user: &str) -> Arc<Dialled> {
    numbers::classify_shared(user)
}
