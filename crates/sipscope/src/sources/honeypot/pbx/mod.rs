//! The emulated PBX, sans IO: bytes and a time in, answers and records out. No sockets and no
//! clock, so every behaviour is tested with real messages and a simulated time; the network
//! shell (`honeypot::net`) only moves bytes. Randomness (nonces) comes from a seeded generator.

mod auth;
mod methods;
mod nonces;
pub mod open_invites;
mod registrar;
mod reply;
pub mod state;

pub use auth::{AuthAttempt, AuthOutcome, Verdict};
pub use open_invites::{Due, DueKind};
pub use reply::compacted;
pub use state::{Binding, InviteKey};

use super::config::{Extension, HoneypotLimits};
use super::profile::{Action, Keyword, Profile, Reply};
use crate::event::Transport;
use nonces::Nonces;
use open_invites::OpenInvites;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use registrar::Registrar;
use sipscope_sip::{Message, ParseLimits};
use state::Bounded;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Nonces, transactions and bindings remembered at most (each).
const STATE_CAP: usize = 65_536;

/// The configured limits the PBX applies itself (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PbxLimits {
    /// Longest Contact URI a REGISTER may bind, bytes.
    pub max_contact_bytes: usize,
    /// Contacts a REGISTER 200 lists at most.
    pub max_listed_contacts: usize,
    /// INVITE transactions with answers still to send (later answers, retransmissions until
    /// the ACK) at most; past it the oldest is forgotten.
    pub max_open_invites: usize,
    /// … and the bytes of answers they hold at most.
    pub max_open_invite_bytes: usize,
}

impl From<&HoneypotLimits> for PbxLimits {
    fn from(l: &HoneypotLimits) -> Self {
        PbxLimits {
            max_contact_bytes: l.max_contact_bytes,
            max_listed_contacts: l.max_listed_contacts.max(1),
            max_open_invites: l.max_open_invites,
            max_open_invite_bytes: l.max_open_invite_bytes,
        }
    }
}

impl Default for PbxLimits {
    /// The configuration's defaults.
    fn default() -> Self {
        PbxLimits::from(&HoneypotLimits::default())
    }
}

/// The way a message came, which every answer to it leaves by, also one sent later: the
/// listener socket or connection (a number the shell gives it), the transport, and the
/// honeypot address the message reached. The PBX only keeps it and hands it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The listener socket or connection, as the shell numbers them.
    pub channel: u64,
    /// How the message came: final answers to INVITE are retransmitted over UDP only.
    pub transport: Transport,
    /// The honeypot address it reached; answers leave from it.
    pub local: SocketAddr,
}

/// A message the PBX received.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Receive time, nanoseconds since the Unix epoch.
    pub now_ns: i64,
    /// Datagram or stream (decides how the message is framed and parsed).
    pub framing: sipscope_sip::Framing,
    /// Where it came from; answers go back there (never to an address named in the message).
    pub source: SocketAddr,
    /// The message.
    pub bytes: &'a [u8],
    /// The way it came.
    pub route: Route,
}

/// What the PBX did with a message.
#[derive(Debug, Default)]
pub struct Handled {
    /// Answers to send, in order.
    pub replies: Vec<Vec<u8>>,
    /// The authentication attempt the message carried.
    pub auth: Option<AuthAttempt>,
    /// Bindings a successful REGISTER created, refreshed or removed (expires 0).
    pub bindings: Vec<Binding>,
    /// Why no answer was sent or what was answered, in a word (`keepalive`, `response`,
    /// `unparseable`, `ack`, `silent`, `retransmission` …); empty when it answered normally.
    pub note: &'static str,
    /// The INVITE transaction whose final answer is the last of `replies`: the caller reports
    /// what it sent of it ([`Pbx::final_sent`]), which is retransmitted over UDP until the ACK.
    pub final_of: Option<InviteKey>,
}

/// The PBX.
pub struct Pbx {
    profile: Profile,
    extensions: HashMap<String, Extension>,
    final_reply: Reply,
    rng: StdRng,
    secret: [u8; 16],
    nonces: Nonces,
    invites: Bounded<InviteKey, i64>,
    open: OpenInvites,
    registrar: Registrar,
    limits: PbxLimits,
}

impl Pbx {
    /// A PBX with this profile and these extensions; `final_reply` ends authenticated calls
    /// (the profile's when `None`); `seed` drives nonces and tags (random in production, fixed
    /// in tests).
    pub fn new(profile: Profile, extensions: &[Extension], final_reply: Option<Reply>, seed: u64) -> Pbx {
        let mut rng = StdRng::seed_from_u64(seed);
        let secret = rng.random();
        let nonces = Nonces::new(profile.auth.nonce, profile.auth.nonce_lifetime_seconds, STATE_CAP);
        let limits = PbxLimits::default();
        Pbx {
            final_reply: final_reply.unwrap_or_else(|| profile.invite.final_reply.clone()),
            extensions: extensions.iter().map(|e| (e.user.clone(), e.clone())).collect(),
            profile,
            rng,
            secret,
            nonces,
            invites: Bounded::new(STATE_CAP),
            open: OpenInvites::new(limits.max_open_invites, limits.max_open_invite_bytes),
            registrar: Registrar::new(STATE_CAP),
            limits,
        }
    }

    /// The same PBX with these limits (the defaults otherwise). Called before any message.
    pub fn with_limits(mut self, limits: PbxLimits) -> Pbx {
        self.limits = limits;
        self.open = OpenInvites::new(limits.max_open_invites, limits.max_open_invite_bytes);
        self
    }

    /// When the next answer on `channel` is due, nanoseconds, if any is.
    pub fn next_due(&self, channel: u64) -> Option<i64> {
        self.open.next_due(channel)
    }

    /// The answers due on `channel` at `now_ns`, in order: delayed provisional and final
    /// answers of calls, and final answers retransmitted until their ACK. For each
    /// [`DueKind::Final`] the caller reports what it sent ([`Pbx::final_sent`]).
    pub fn due(&mut self, channel: u64, now_ns: i64) -> Vec<Due> {
        self.open.due(channel, now_ns)
    }

    /// What the caller sent of the final answer to the INVITE `key` (`None`: it was
    /// withheld): over UDP that form is retransmitted until the ACK or timer H.
    pub fn final_sent(&mut self, key: &InviteKey, sent: Option<&[u8]>, now_ns: i64) {
        self.open.final_sent(key, sent, now_ns);
    }

    /// Forgets the answers still to send on a channel that closed.
    pub fn close_channel(&mut self, channel: u64) {
        self.open.close_channel(channel);
    }

    /// INVITE transactions forgotten with answers still to send, to stay within the limits.
    pub fn open_invites_forgotten(&self) -> u64 {
        self.open.forgotten()
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Registrations of `user` in force at `now_ns` (contact, seconds left).
    pub fn bindings_of(&self, user: &str, now_ns: i64) -> Vec<(String, u64)> {
        self.registrar.active(user, now_ns)
    }

    /// Handles one message.
    pub fn handle(&mut self, incoming: Incoming<'_>) -> Handled {
        let bytes = incoming.bytes;
        // nmap probes with empty datagrams; RFC 5626 keep-alives are CRLFs. Neither is a request.
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Handled { note: "keepalive", ..Handled::default() };
        }
        match Message::parse_with(bytes, incoming.framing, ParseLimits::default()) {
            Ok(msg) => self.handle_parsed(&msg, incoming),
            // Without a parsed Via there is nowhere to send a 400.
            Err(_) => Handled { note: "unparseable", ..Handled::default() },
        }
    }

    /// Handles a message the caller already parsed from `incoming.bytes` (the core parses
    /// once for the PBX and the store).
    pub fn handle_parsed(&mut self, msg: &Message<'_>, incoming: Incoming<'_>) -> Handled {
        let Some(method) = msg.method() else {
            return Handled { note: "response", ..Handled::default() };
        };
        let method = String::from_utf8_lossy(method).into_owned();
        if let Some(defect) = missing_header(msg, &method) {
            return self.malformed(msg, incoming, defect);
        }
        methods::dispatch(self, msg, &method, incoming)
    }

    fn malformed(&mut self, msg: &Message<'_>, incoming: Incoming<'_>, defect: &str) -> Handled {
        match self.profile.malformed.clone() {
            Action::Reply(r) if msg.vias().next().is_some() => {
                let reason = r.reason.replace("{defect}", defect);
                let answer = self.answer(msg, incoming.source, r.status, &reason, &[]);
                Handled { replies: vec![answer], note: "malformed", ..Handled::default() }
            }
            _ => Handled { note: "malformed-silent", ..Handled::default() },
        }
    }

    /// An answer with the profile's Server header and a stable To tag.
    fn answer(
        &self,
        msg: &Message<'_>,
        source: SocketAddr,
        status: u16,
        reason: &str,
        extra: &[(&str, &[u8])],
    ) -> Vec<u8> {
        let tag = reply::to_tag(self.profile.to_tag, &self.secret, msg);
        reply::simple(&self.profile, msg, source, &tag, status, reason, extra)
    }

    /// A digest challenge (401 or 407) with a new nonce.
    fn challenge(&mut self, msg: &Message<'_>, incoming: Incoming<'_>, proxy: bool, stale: bool) -> Vec<u8> {
        let nonce = self.nonces.issue(incoming.now_ns, incoming.source.ip(), &mut self.rng);
        let opaque = self.profile.auth.opaque.then(|| format!("{:016x}", self.rng.random::<u64>()));
        let (name, value) = reply::challenge_header(&self.profile, &nonce, opaque.as_deref(), proxy, stale);
        let (status, reason) = if proxy { (407, "Proxy Authentication Required") } else { (401, "Unauthorized") };
        self.answer(msg, incoming.source, status, reason, &[(name, &value)])
    }

    /// Carries out a profile action; `challenge` decides 401 or 407.
    fn act(&mut self, action: &Action, msg: &Message<'_>, incoming: Incoming<'_>, proxy: bool) -> Vec<Vec<u8>> {
        match action {
            Action::Reply(r) => {
                let allow = self.profile.allow.clone();
                // 405 must list what is allowed (RFC 3261 §21.4.6); chan_sip lists it on 501 too.
                let with_allow = r.status == 405 || r.status == 501;
                let extra: &[(&str, &[u8])] = if with_allow { &[("Allow", allow.as_bytes())] } else { &[] };
                vec![self.answer(msg, incoming.source, r.status, &r.reason, extra)]
            }
            Action::Keyword(Keyword::Challenge) => vec![self.challenge(msg, incoming, proxy, false)],
            Action::Keyword(Keyword::Silent) => Vec::new(),
        }
    }

    fn extension_exists(&self, user: Option<&[u8]>) -> bool {
        user.and_then(|u| std::str::from_utf8(u).ok()).and_then(|u| self.extensions.get(u)).is_some_and(|e| e.enabled)
    }
}

/// The first mandatory header a request lacks (RFC 3261 §8.1.1), in words for a 400 reason.
fn missing_header(msg: &Message<'_>, method: &str) -> Option<&'static str> {
    if msg.vias().next().is_none() {
        return Some("Missing Via");
    }
    if msg.from().is_none() {
        return Some("Missing From");
    }
    if msg.to().is_none() {
        return Some("Missing To");
    }
    if msg.call_id().is_none_or(|c| c.is_empty()) {
        return Some("Missing Call-ID");
    }
    match msg.cseq() {
        None => Some("Missing CSeq"),
        Some(c) if !c.method.eq_ignore_ascii_case(method.as_bytes()) => Some("CSeq Method Mismatch"),
        Some(_) => None,
    }
}

#[cfg(test)]
mod bindings_tests;
#[cfg(test)]
mod call_tests;
#[cfg(test)]
mod tests;
