//! One function per method: what the PBX answers, following its profile.

use super::auth::{authenticate, Verdict};
use super::open_invites::branch_hash;
use super::registrar::{ContactPolicy, TooManyContacts};
use super::reply::status_of;
use super::state::{invite_key, Binding, InviteKey, INVITE_LINGER_NS};
use super::{Handled, Incoming, Pbx};
use crate::event::fields::lossless_text;
use crate::event::Transport;
use crate::sources::honeypot::profile::{Action, Keyword};
use crate::time::http_date;
use rand::Rng;
use sipscope_sip::Message;

pub(super) fn dispatch(pbx: &mut Pbx, msg: &Message<'_>, method: &str, incoming: Incoming<'_>) -> Handled {
    match method {
        "OPTIONS" => options(pbx, msg, incoming),
        "REGISTER" => register(pbx, msg, incoming),
        "INVITE" => invite(pbx, msg, incoming),
        // The ACK of a non-2xx final answer belongs to the INVITE transaction: it stops the
        // answer's retransmissions and is absorbed.
        "ACK" => {
            let (key, _) = transaction(msg, incoming);
            pbx.open.acked(&key);
            Handled { note: "ack", ..Handled::default() }
        }
        "CANCEL" => cancel(pbx, msg, incoming),
        // No call is ever answered, so no dialog exists for a BYE to end.
        "BYE" => no_transaction(pbx, msg, incoming),
        other => other_method(pbx, msg, other, incoming),
    }
}

fn options(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>) -> Handled {
    let user = msg.request_uri().and_then(|u| u.user);
    let action = if user.is_some() && !pbx.extension_exists(user) {
        &pbx.profile.options.unknown_user
    } else {
        &pbx.profile.options.known
    };
    let replies = match action.clone() {
        Action::Reply(r) if r.status == 200 => {
            let p = &pbx.profile;
            let allow = p.allow.clone();
            let supported = p.supported.clone();
            let accept = p.accept.clone();
            let mut extra: Vec<(&str, &[u8])> = vec![("Allow", allow.as_bytes())];
            if let Some(s) = &supported {
                extra.push(("Supported", s.as_bytes()));
            }
            if let Some(a) = &accept {
                extra.push(("Accept", a.as_bytes()));
            }
            vec![pbx.answer(msg, incoming.source, 200, &r.reason, &extra)]
        }
        action => pbx.act(&action, msg, incoming, false),
    };
    Handled { replies, ..Handled::default() }
}

fn register(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>) -> Handled {
    let realm = pbx.profile.auth.realm.clone();
    let Some((attempt, verdict)) =
        authenticate(msg, "REGISTER", &realm, &pbx.extensions, &mut pbx.nonces, incoming.source.ip(), incoming.now_ns)
    else {
        let user = msg.to().and_then(|t| t.user());
        let p = &pbx.profile.register;
        let action = if pbx.extension_exists(user) { p.known_user.clone() } else { p.unknown_user.clone() };
        return Handled { replies: pbx.act(&action, msg, incoming, false), ..Handled::default() };
    };
    let mut handled = match verdict {
        Verdict::Accept => registered(pbx, msg, incoming, &attempt.username),
        refused => {
            let (rejected, unknown) =
                (pbx.profile.register.rejected.clone(), pbx.profile.register.unknown_user.clone());
            Handled { replies: refuse(pbx, msg, incoming, refused, rejected, unknown, false), ..Handled::default() }
        }
    };
    handled.auth = Some(attempt);
    handled
}

/// The answer to an accepted REGISTER and the bindings it changed. The registrar keeps at
/// most the profile's `max_contacts` per extension (replacing the bindings soonest to expire,
/// or refusing with `too_many_contacts`); a Contact URI over `max_contact_bytes` is a 400.
/// The 200 lists the extension's bindings with their expiry, the request's own first, at most
/// `max_listed_contacts`. `Contact: *` with expiry 0 removes them all. The Expires header is
/// what was granted to the (first) Contact, 0 when it was removed, as chan_sip writes it:
/// baresip asks with `;expires=60` on its Contact and no Expires header, and unregisters with
/// `;expires=0`.
fn registered(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>, user: &str) -> Handled {
    let p = &pbx.profile.register;
    let header_expires = msg.expires();
    let grant = |asked: Option<u64>| asked.or(header_expires).unwrap_or(p.default_expires).min(p.max_expires);
    let mut request = Vec::new();
    for contact in msg.contacts() {
        if contact.uri_raw.len() > pbx.limits.max_contact_bytes {
            return pbx.malformed(msg, incoming, "Contact Too Long");
        }
        let asked = contact.param("expires").and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok());
        let uri = lossless_text(contact.uri_raw);
        request.push(Binding { user: user.to_owned(), contact: uri, expires: grant(asked), source: incoming.source });
    }
    // A query (no Contact) is told the default; `Contact: *` removed everything.
    let granted = match request.first() {
        Some(b) => b.expires,
        None if msg.contact_is_star() => 0,
        None => grant(None),
    };
    let policy = ContactPolicy { max_contacts: p.max_contacts, remove_existing: p.remove_existing };
    let bindings = if msg.contact_is_star() {
        pbx.registrar.remove_all(user);
        Vec::new()
    } else {
        match pbx.registrar.register(user, &request, policy, incoming.now_ns) {
            Ok(changed) => changed,
            Err(TooManyContacts) => {
                let r = pbx.profile.register.too_many_contacts.clone();
                let replies = vec![pbx.answer(msg, incoming.source, r.status, &r.reason, &[])];
                return Handled { replies, note: "too-many-contacts", ..Handled::default() };
            }
        }
    };
    let own: Vec<String> = request.iter().map(|b| b.contact.clone()).collect();
    let listed = pbx.registrar.listed(user, &own, pbx.limits.max_listed_contacts, incoming.now_ns);
    let contacts: Vec<String> = listed.iter().map(|(uri, left)| format!("<{uri}>;expires={left}")).collect();
    let expires = granted.to_string();
    let date = http_date(incoming.now_ns);
    let mut extra: Vec<(&str, &[u8])> = vec![("Expires", expires.as_bytes())];
    for c in &contacts {
        extra.push(("Contact", c.as_bytes()));
    }
    if pbx.profile.date_on_register {
        extra.push(("Date", date.as_bytes()));
    }
    let accepted = pbx.profile.register.accepted.clone();
    let reply = pbx.answer(msg, incoming.source, accepted.status, &accepted.reason, &extra);
    Handled { replies: vec![reply], bindings, ..Handled::default() }
}

/// The INVITE transaction a request belongs to (by source address, Call-ID and CSeq number,
/// as CANCEL and ACK repeat them) and the hash of its top Via branch.
fn transaction(msg: &Message<'_>, incoming: Incoming<'_>) -> (InviteKey, u64) {
    let cseq = msg.cseq().and_then(|c| c.seq).unwrap_or(0);
    let key = invite_key(incoming.source.ip(), msg.call_id().unwrap_or_default(), cseq);
    let branch = msg.vias().next().and_then(|v| v.branch()).unwrap_or_default();
    (key, branch_hash(branch))
}

fn invite(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>) -> Handled {
    let (key, branch) = transaction(msg, incoming);
    // A retransmission of an INVITE still answering gets the last answer again (RFC 3261
    // §17.2.1), not a new challenge or a second call.
    if let Some(last) = pbx.open.retransmitted(&key, branch) {
        return Handled { replies: vec![last], note: "retransmission", ..Handled::default() };
    }
    pbx.invites.insert(key, incoming.now_ns);
    let proxy = pbx.profile.invite.proxy_auth;
    let realm = pbx.profile.auth.realm.clone();
    let Some((attempt, verdict)) =
        authenticate(msg, "INVITE", &realm, &pbx.extensions, &mut pbx.nonces, incoming.source.ip(), incoming.now_ns)
    else {
        // Known when the caller (From) or the callee (Request-URI) is an extension: svwar puts
        // the extension in both, a fraudster calls out from a cracked one.
        let caller = msg.from().and_then(|f| f.user());
        let callee = msg.request_uri().and_then(|u| u.user);
        let known = pbx.extension_exists(caller) || pbx.extension_exists(callee);
        let p = &pbx.profile.invite;
        let action = if known { p.known_user.clone() } else { p.unknown_user.clone() };
        let handled = Handled { replies: pbx.act(&action, msg, incoming, proxy), ..Handled::default() };
        return final_now(pbx, key, branch, incoming, handled);
    };
    let handled = match verdict {
        Verdict::Accept => call(pbx, msg, incoming, key, branch),
        refused => {
            let (rejected, unknown) = (pbx.profile.invite.rejected.clone(), pbx.profile.invite.unknown_user.clone());
            let replies = refuse(pbx, msg, incoming, refused, rejected, unknown, proxy);
            final_now(pbx, key, branch, incoming, Handled { replies, ..Handled::default() })
        }
    };
    Handled { auth: Some(attempt), ..handled }
}

/// An authenticated call, never answered: 100 Trying now, then the profile's provisional
/// answer (if any) and the final failure, each now or after its delay (with jitter). Answers
/// not due yet wait in the open transaction for the shell to send.
fn call(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>, key: InviteKey, branch: u64) -> Handled {
    let now = incoming.now_ns;
    let mut trying = sipscope_sip::builder::ResponseBuilder::new(msg, 100, "Trying")
        .source(incoming.source.ip(), incoming.source.port());
    if let Some(server) = &pbx.profile.server {
        trying = trying.header("Server", server.as_bytes());
    }
    let p = pbx.profile.invite.clone();
    let mut replies = vec![trying.build()];
    let mut later = Vec::new();
    let mut progress_due = now;
    if let Some(progress) = p.progress.reply() {
        progress_due = pbx.delayed(now, p.progress_after_ms, p.jitter_ms);
        let answer = pbx.answer(msg, incoming.source, progress.status, &progress.reason, &[]);
        if progress_due > now {
            later.push((progress_due, answer, false));
        } else {
            replies.push(answer);
        }
    }
    let fail = pbx.final_reply.clone();
    let final_due = pbx.delayed(now, p.final_after_ms, p.jitter_ms).max(progress_due);
    let answer = pbx.answer(msg, incoming.source, fail.status, &fail.reason, &[]);
    if final_due <= now {
        replies.push(answer);
        return final_now(pbx, key, branch, incoming, Handled { replies, ..Handled::default() });
    }
    later.push((final_due, answer, true));
    let terminated = pbx.answer(msg, incoming.source, 487, "Request Terminated", &[]);
    let last = replies.last().cloned().unwrap_or_default();
    pbx.open.open_call(key, incoming.source, incoming.route, branch, now, last, later, terminated);
    Handled { replies, ..Handled::default() }
}

/// An INVITE answered now: when the last answer is final and the transport is UDP, it is
/// retransmitted until the ACK once the caller reports what it sent.
fn final_now(pbx: &mut Pbx, key: InviteKey, branch: u64, incoming: Incoming<'_>, handled: Handled) -> Handled {
    let is_final = handled.replies.last().and_then(|r| status_of(r)).is_some_and(|s| s >= 200);
    if !is_final || incoming.route.transport != Transport::Udp {
        return handled;
    }
    pbx.open.await_final(key, incoming.source, incoming.route, branch, incoming.now_ns);
    Handled { final_of: Some(key), ..handled }
}

impl Pbx {
    /// `now_ns` plus `ms` and a random 0 to `jitter_ms` more; `now_ns` itself when `ms` is 0
    /// (an answer a PBX sends at once is not delayed by jitter).
    fn delayed(&mut self, now_ns: i64, ms: u64, jitter_ms: u64) -> i64 {
        if ms == 0 {
            return now_ns;
        }
        let ms = ms.saturating_add(self.rng.random_range(0..=jitter_ms));
        now_ns.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX).saturating_mul(1_000_000))
    }
}

/// The answer to credentials that were not accepted: a new challenge (stale or not), the
/// profile's `rejected` action, or for an unknown user its `unknown_user` action (which, when
/// it is itself "challenge", the credentials already answered: then `rejected`).
fn refuse(
    pbx: &mut Pbx,
    msg: &Message<'_>,
    incoming: Incoming<'_>,
    verdict: Verdict,
    rejected: Action,
    unknown_user: Action,
    proxy: bool,
) -> Vec<Vec<u8>> {
    let action = match verdict {
        Verdict::Rechallenge { stale } => return vec![pbx.challenge(msg, incoming, proxy, stale)],
        Verdict::UnknownUser if unknown_user != Action::Keyword(Keyword::Challenge) => unknown_user,
        Verdict::Accept | Verdict::Reject | Verdict::UnknownUser => rejected,
    };
    pbx.act(&action, msg, incoming, proxy)
}

/// CANCEL: 200 when its INVITE transaction exists, 481 when not. A call whose final answer
/// is still to come ends with 487 Request Terminated, sent now (RFC 3261 §9.2); when the final
/// answer was already sent nothing else changes.
fn cancel(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>) -> Handled {
    let (key, _) = transaction(msg, incoming);
    if let Some((terminated, route, branch)) = pbx.open.cancel(&key) {
        let ok = pbx.answer(msg, incoming.source, 200, "OK", &[]);
        let handled = Handled { replies: vec![ok, terminated], note: "cancelled", ..Handled::default() };
        return final_now(pbx, key, branch, Incoming { route, ..incoming }, handled);
    }
    let known = pbx.invites.get(&key).is_some_and(|t| incoming.now_ns.saturating_sub(*t) <= INVITE_LINGER_NS);
    if !known {
        return no_transaction(pbx, msg, incoming);
    }
    Handled { replies: vec![pbx.answer(msg, incoming.source, 200, "OK", &[])], ..Handled::default() }
}

fn no_transaction(pbx: &mut Pbx, msg: &Message<'_>, incoming: Incoming<'_>) -> Handled {
    let r = pbx.profile.no_transaction.clone();
    Handled { replies: vec![pbx.answer(msg, incoming.source, r.status, &r.reason, &[])], ..Handled::default() }
}

/// Methods the profile lists (SUBSCRIBE, MESSAGE …) and unknown ones. A challenged method
/// that comes back with credentials has its attempt recorded; nothing exists to subscribe to
/// or deliver a message to, so even good credentials end in 404.
fn other_method(pbx: &mut Pbx, msg: &Message<'_>, method: &str, incoming: Incoming<'_>) -> Handled {
    let action = pbx.profile.other_method(method);
    if action != Action::Keyword(Keyword::Challenge) {
        let note = if action == Action::Keyword(Keyword::Silent) { "silent" } else { "" };
        return Handled { replies: pbx.act(&action, msg, incoming, false), note, ..Handled::default() };
    }
    let realm = pbx.profile.auth.realm.clone();
    match authenticate(msg, method, &realm, &pbx.extensions, &mut pbx.nonces, incoming.source.ip(), incoming.now_ns) {
        None => Handled { replies: vec![pbx.challenge(msg, incoming, false, false)], ..Handled::default() },
        Some((attempt, verdict)) => {
            let replies = match verdict {
                Verdict::Accept => vec![pbx.answer(msg, incoming.source, 404, "Not Found", &[])],
                Verdict::Rechallenge { stale } => vec![pbx.challenge(msg, incoming, false, stale)],
                Verdict::Reject | Verdict::UnknownUser => vec![pbx.answer(msg, incoming.source, 403, "Forbidden", &[])],
            };
            Handled { replies, auth: Some(attempt), ..Handled::default() }
        }
    }
}
