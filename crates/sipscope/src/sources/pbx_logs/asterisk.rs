//! Asterisk `res_security_log` events:
//!
//! ```text
//! [2024-01-10 12:34:56] SECURITY[4242] res_security_log.c: SecurityEvent="InvalidPassword",
//!   EventTV="2024-01-10T12:34:56.123+0000",Severity="Error",Service="PJSIP",EventVersion="2",
//!   AccountID="100",SessionID="a84b4c76e66710",LocalAddress="IPV4/UDP/192.0.2.10/5060",
//!   RemoteAddress="IPV4/UDP/203.0.113.5/5060",Challenge="…",ReceivedChallenge="…",ReceivedHash="…"
//! ```
//! (one line). `res_security_log.c` prints `,Key="value"` for the event's required fields in a
//! fixed order, then its optional ones, and escapes nothing (its own `\todo`). `AccountID`
//! and `SessionID` (PJSIP's Call-ID) come before the addresses and are the attacker's; some
//! events end with attacker text too (`Response`, `ReceivedHash`, `RequestParams`).
//!
//! The address pair is found where it is shaped exactly as Asterisk prints it:
//! `,LocalAddress="IPV4/UDP/a/p",RemoteAddress="IPV4/UDP/b/p"` followed by `,` or the end.
//! When only PBX text follows the pair in this event type, the **last** such pair is the
//! PBX's (an injected one can only stand in the attacker's fields before it). When attacker
//! text may also follow, every pair must agree, or the line is refused as ambiguous.

use super::stamp::{self, TimeContext};
use super::{addr, find_from, trim_end, Happened, LineKind, LogEvent, Parsed, Refusal};
use memchr::memmem;
use std::net::SocketAddr;

/// An event type: its name, what it means, and whether attacker text may follow its
/// addresses.
struct EventType {
    name: &'static [u8],
    happened: Happened,
    attacker_after_addresses: bool,
}

const fn ty(name: &'static [u8], happened: Happened, attacker_after_addresses: bool) -> EventType {
    EventType { name, happened, attacker_after_addresses }
}

/// `main/security_events.c`'s table, with the outcome each event means.
const EVENT_TYPES: &[EventType] = &[
    ty(b"FailedACL", Happened::Attempt("refused"), false),
    ty(b"InvalidAccountID", Happened::Attempt("unknown_user"), false),
    ty(b"SessionLimit", Happened::Other("SessionLimit"), false),
    ty(b"MemoryLimit", Happened::Other("MemoryLimit"), false),
    ty(b"LoadAverageLimit", Happened::Other("LoadAverageLimit"), false),
    ty(b"RequestNotSupported", Happened::Other("RequestNotSupported"), true),
    ty(b"RequestNotAllowed", Happened::Attempt("refused"), true),
    ty(b"AuthMethodNotAllowed", Happened::Attempt("refused"), true),
    ty(b"RequestBadFormat", Happened::Attempt("malformed"), true),
    ty(b"SuccessfulAuth", Happened::Attempt("accepted"), false),
    ty(b"UnexpectedAddress", Happened::Attempt("refused"), false),
    ty(b"ChallengeResponseFailed", Happened::Attempt("wrong_password"), true),
    ty(b"InvalidPassword", Happened::Attempt("wrong_password"), true),
    ty(b"ChallengeSent", Happened::Challenge, false),
    ty(b"InvalidTransport", Happened::Attempt("refused"), false),
];

/// An unknown event type (a newer Asterisk): counted, and read as carefully as the worst.
const UNKNOWN: EventType = ty(b"", Happened::Other("unknown_security_event"), true);

/// One `LocalAddress`/`RemoteAddress` pair shaped as Asterisk prints it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Pair {
    /// Where `,LocalAddress="` starts.
    at: usize,
    local: SocketAddr,
    remote: SocketAddr,
    transport: crate::event::Transport,
}

const LOCAL: &[u8] = b",LocalAddress=\"";
const REMOTE: &[u8] = b"\",RemoteAddress=\"";

/// The value of a field starting at `start` (after its `="`), to the next `"`.
fn quoted(msg: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let end = find_from(msg, start, b"\"")?;
    Some((msg.get(start..end)?, end))
}

fn pair_at(msg: &[u8], at: usize) -> Option<Pair> {
    let (local_text, local_end) = quoted(msg, at + LOCAL.len())?;
    let (local, _) = addr::security_event(local_text)?;
    if msg.get(local_end..local_end + REMOTE.len())? != REMOTE {
        return None;
    }
    let (remote_text, remote_end) = quoted(msg, local_end + REMOTE.len())?;
    let (remote, transport) = addr::security_event(remote_text)?;
    match msg.get(remote_end + 1) {
        None | Some(b',') => Some(Pair { at, local, remote, transport }),
        Some(_) => None,
    }
}

/// The value of the first `,Key="…"` in `msg[from..to]` (up to the next `"`).
fn field<'a>(msg: &'a [u8], key: &[u8], from: usize) -> Option<(&'a [u8], usize)> {
    let at = find_from(msg, from, key)?;
    quoted(msg, at + key.len())
}

/// Reads a security event; `at` is where `SecurityEvent="` starts in `line`.
pub(super) fn security_event<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    let Some((name, name_end)) = quoted(msg, b"SecurityEvent=\"".len()) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let ty = EVENT_TYPES.iter().find(|t| t.name == name).unwrap_or(&UNKNOWN);
    // The fields before AccountID are the PBX's: EventTV comes right after the name.
    let event_tv = msg
        .get(name_end..)
        .filter(|rest| rest.starts_with(b"\",EventTV=\""))
        .and_then(|_| quoted(msg, name_end + b"\",EventTV=\"".len()))
        .and_then(|(tv, _)| stamp::event_tv(tv, time));
    let ts_ns = event_tv.or_else(|| stamp::line_start(line, time));

    let (mut first, mut last, mut count, mut agree) = (None::<Pair>, None::<Pair>, 0usize, true);
    for at in memmem::find_iter(msg, LOCAL) {
        let Some(pair) = pair_at(msg, at) else { continue };
        count += 1;
        if let Some(f) = first {
            agree &= (f.local, f.remote, f.transport) == (pair.local, pair.remote, pair.transport);
        } else {
            first = Some(pair);
        }
        last = Some(pair);
    }
    let chosen = match (first, last) {
        (Some(_), Some(last)) if !ty.attacker_after_addresses => last,
        (Some(first), Some(_)) if agree => first,
        (Some(_), Some(_)) => return Parsed::Refused(Refusal::AmbiguousSource),
        _ => return Parsed::Refused(Refusal::Malformed),
    };

    // Service and the account come before the addresses; the session ID runs up to them.
    let before = msg.get(..chosen.at).unwrap_or_default();
    let service = field(before, b",Service=\"", 0).map(|(v, _)| v);
    let account = field(before, b",AccountID=\"", 0).map(|(v, end)| {
        // The account runs to `",SessionID="` (its own `"` may be the attacker's).
        let start = end - v.len();
        match find_from(before, start, b"\",SessionID=\"") {
            Some(session) => before.get(start..session).unwrap_or(v),
            None => v,
        }
    });
    // RequestBadFormat's AccountID is optional and comes after the addresses.
    let account = account.or_else(|| field(msg, b",AccountID=\"", chosen.at).map(|(v, _)| v));
    let session = memmem::rfind(before, b",SessionID=\"")
        .and_then(|s| before.get(s + b",SessionID=\"".len()..before.len().checked_sub(1)?));
    let call_id = session.filter(|_| service == Some(b"PJSIP".as_slice()));
    Parsed::Event(LogEvent {
        kind: LineKind::AsteriskSecurity,
        name,
        happened: ty.happened,
        ts_ns,
        src: chosen.remote,
        dst: Some(chosen.local),
        transport: Some(chosen.transport),
        method: service,
        username: account.filter(|a| !a.is_empty()),
        call_id,
        extension: None,
        tries: None,
        injected: count > 1,
    })
}
