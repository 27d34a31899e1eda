//! Asterisk's notices about failed requests, from chan_sip and res_pjsip:
//!
//! ```text
//! NOTICE[4242]: chan_sip.c:28491 in handle_request_register: Registration from '"100" <sip:100@192.0.2.10>' failed for '203.0.113.5:5060' - Wrong password
//! NOTICE[4242][C-0000002a]: chan_sip.c:26154 in handle_request_invite: Call from '' (203.0.113.5:5070) to extension '0046701234567' rejected because extension not found in context 'public'.
//! NOTICE[4242]: res_pjsip/pjsip_distributor.c:676 in log_failed_request: Request 'REGISTER' from '<sip:100@192.0.2.10>' failed for '203.0.113.5:5060' (callid: 2f8c…) - No matching endpoint found after 5 tries in 0.214 ms
//! ```
//!
//! Where the attacker's text is, and how the PBX's address is told from it:
//! - **Registration** (`chan_sip.c`, `"Registration from '%s' failed for '%s' - %s"`): the To
//!   header comes first, then the address, then a reason of the PBX's (older releases: no
//!   reason). Only PBX text follows the address, so the **last** `' failed for '` is the PBX's.
//! - **Call rejected** (`"Call from '%s' (%s) to extension '%s' rejected because extension not
//!   found in context '%s'."`): the caller's name before the address and the extension after
//!   are both the attacker's, so every `' (address) to extension '` must agree, or the line is
//!   refused as ambiguous.
//! - **PJSIP** (`pjsip_distributor.c`, `"Request '%s' from '%s' failed for '%s:%d' (callid: %s)
//!   - %s"` with `" after %u tries in %.3f ms"`; Asterisk 13's first releases print no method,
//!   `"Request from '%s' failed for …"`): the method is a SIP token (no space, so the first
//!   `' from '` is the PBX's) and the From is printed by pjsip with its URI escaped, but a
//!   quoted display name (`"x' failed for '6.6.6.6:1' (callid: y" <sip:…>`) and the Call-ID
//!   may hold anything. The PBX's address is the one directly followed by `' (callid: `: the
//!   first such after the From's display name is the PBX's (only the Call-ID, after it, can
//!   hold another). The reason after the **last** `) - ` is the PBX's.
//! - **PJSIP calls** (`res_pjsip_session.c`): Asterisk 13 prints `"Call from '%s' (%s:%s) to
//!   extension '%s' rejected because extension not found in context '%s'."` with the endpoint's
//!   name (the PBX's) and `TRANSPORT:address` (read as chan_sip's line is, the transport kept);
//!   later releases `"%s: Call (%s:%s) to extension '%s' …"` with the session's name first, so
//!   the first `: Call (` is the PBX's and only the extension after it is the attacker's.

use super::stamp::{self, TimeContext};
use super::{addr, find_from, rfind, trim_end, uri_user, Happened, LineKind, LogEvent, Parsed, Refusal};
use crate::event::Transport;
use memchr::memmem;
use std::net::SocketAddr;

const REGISTRATION: &[u8] = b"Registration from '";
const FAILED_FOR: &[u8] = b"' failed for '";

/// chan_sip's registration failure reasons and what they mean; anything else is `refused`.
fn registration_outcome(reason: &[u8]) -> &'static str {
    match reason {
        b"Wrong password" => "wrong_password",
        b"No matching peer found" | b"Peer not found" => "unknown_user",
        _ => "refused",
    }
}

/// res_pjsip's failure reasons.
fn pjsip_outcome(reason: &[u8]) -> &'static str {
    match reason {
        b"Failed to authenticate" => "wrong_password",
        b"No matching endpoint found" => "unknown_user",
        _ => "refused",
    }
}

fn event<'a>(kind: LineKind, name: &'a [u8], outcome: &'static str, src: SocketAddr) -> LogEvent<'a> {
    LogEvent::new(kind, name, Happened::Attempt(outcome), src)
}

/// `Registration from '…' failed for '…' - reason`; `at` is where the marker starts.
pub(super) fn registration<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    // The reason is after the last `' - ` (reasons hold no quote); without one, the line
    // ends with the address's closing quote (older releases).
    let (address_end, reason) = match rfind(msg, b"' - ") {
        Some(p) if !msg.get(p + 4..).unwrap_or_default().contains(&b'\'') => (p, msg.get(p + 4..).unwrap_or_default()),
        _ if msg.ends_with(b"'") => (msg.len() - 1, &b""[..]),
        _ => return Parsed::Refused(Refusal::Malformed),
    };
    let head = msg.get(..address_end).unwrap_or_default();
    let Some(failed) = rfind(head, FAILED_FOR).filter(|&f| f >= REGISTRATION.len()) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let Some(src) = head.get(failed + FAILED_FOR.len()..).and_then(addr::host_port) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let to = head.get(REGISTRATION.len()..failed).unwrap_or_default();
    let mut e = event(LineKind::ChanSip, reason, registration_outcome(reason), src);
    e.ts_ns = stamp::line_start(line, time);
    e.method = Some(b"REGISTER");
    e.username = uri_user(to);
    e.injected = memmem::find_iter(head, FAILED_FOR).nth(1).is_some();
    Parsed::Event(e)
}

const CALL_FROM: &[u8] = b"Call from '";
const TO_EXTENSION: &[u8] = b") to extension '";
const NOT_FOUND: &[u8] = b"' rejected because extension not found in context '";

/// `Call from '…' (address) to extension '…' rejected because extension not found in
/// context '…'.`; `at` is where the marker starts.
pub(super) fn call_rejected<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    // The context is the PBX's: the last marker is the real one.
    let Some(tail) = rfind(msg, NOT_FOUND) else { return Parsed::Ignored };
    let body = msg.get(..tail).unwrap_or_default();
    // Every `' (address) to extension '`: the address runs back from `) to extension '` to
    // the nearest `' (`.
    let mut chosen = None::<(usize, usize, SocketAddr, Option<Transport>)>;
    let (mut count, mut agree) = (0usize, true);
    for to_ext in memmem::find_iter(body, TO_EXTENSION) {
        let head = body.get(..to_ext).unwrap_or_default();
        // The address (with a transport's name) is short: look for its `' (` just before, so
        // that a line of many markers costs linear time.
        let near = to_ext.saturating_sub(addr::MAX_ADDR_TEXT + addr::MAX_TRANSPORT_TEXT + 3);
        let Some(open) = rfind(head.get(near..).unwrap_or_default(), b"' (").map(|o| o + near) else { continue };
        if open < CALL_FROM.len() {
            continue;
        }
        let Some((src, transport)) = head.get(open + 3..).and_then(addr::transport_host_port) else { continue };
        count += 1;
        match chosen {
            None => chosen = Some((open, to_ext, src, transport)),
            Some((_, _, first, _)) => agree &= first == src,
        }
    }
    let Some((open, to_ext, src, transport)) = chosen else { return Parsed::Refused(Refusal::Malformed) };
    if !agree {
        return Parsed::Refused(Refusal::AmbiguousSource);
    }
    // With a transport it is res_pjsip's line, whose name is the endpoint's, not the caller's.
    let kind = if transport.is_some() { LineKind::Pjsip } else { LineKind::ChanSip };
    let mut e = event(kind, b"extension not found", "extension_not_found", src);
    e.ts_ns = stamp::line_start(line, time);
    e.method = Some(b"INVITE");
    e.transport = transport;
    e.username = body.get(CALL_FROM.len()..open).filter(|u| !u.is_empty() && transport.is_none());
    e.extension = body.get(to_ext + TO_EXTENSION.len()..);
    e.injected = count > 1;
    Parsed::Event(e)
}

const SESSION_CALL: &[u8] = b": Call (";

/// res_pjsip's `name: Call (TRANSPORT:address) to extension '…' rejected because extension not
/// found in context '…'.` (Asterisk 14 on); `at` is where `: Call (` starts. The session's
/// name before it is the PBX's, so the first marker is the real one.
pub(super) fn pjsip_call_rejected<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    let Some(tail) = rfind(msg, NOT_FOUND) else { return Parsed::Ignored };
    let body = msg.get(..tail).unwrap_or_default();
    let Some(to_ext) = find_from(body, SESSION_CALL.len(), TO_EXTENSION) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let Some((src, transport)) = body.get(SESSION_CALL.len()..to_ext).and_then(addr::transport_host_port) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let mut e = event(LineKind::Pjsip, b"extension not found", "extension_not_found", src);
    e.ts_ns = stamp::line_start(line, time);
    e.method = Some(b"INVITE");
    e.transport = transport;
    let extension = body.get(to_ext + TO_EXTENSION.len()..).unwrap_or_default();
    e.extension = Some(extension);
    e.injected = memmem::find(extension, SESSION_CALL).is_some();
    Parsed::Event(e)
}

const REQUEST: &[u8] = b"Request '";
const REQUEST_FROM: &[u8] = b"Request from '";
const FROM: &[u8] = b"' from '";
const CALLID: &[u8] = b"' (callid: ";

/// Where a From printed by pjsip ends its display name: after the closing quote of a quoted
/// display name (`\` escapes the next byte, as SIP's quoted-pair), else where it starts.
/// `None` when the quote never closes.
fn after_display_name(msg: &[u8], from: usize) -> Option<usize> {
    if msg.get(from) != Some(&b'"') {
        return Some(from);
    }
    let mut i = from + 1;
    loop {
        match *msg.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// PJSIP's `Request '…' from '…' failed for '…' (callid: …) - reason` (or Asterisk 13's
/// `Request from '…' failed for …`, no method); `at` is where the marker starts.
pub(super) fn pjsip_request<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    let (method, from_start) = if msg.starts_with(REQUEST_FROM) {
        (None, REQUEST_FROM.len())
    } else {
        let Some(from) = find_from(msg, REQUEST.len(), FROM) else { return Parsed::Ignored };
        let method = msg.get(REQUEST.len()..from).unwrap_or_default();
        if method.is_empty() || method.contains(&b' ') {
            return Parsed::Refused(Refusal::Malformed);
        }
        (Some(method), from + FROM.len())
    };
    let Some(search_from) = after_display_name(msg, from_start) else { return Parsed::Refused(Refusal::Malformed) };
    // The first `' failed for '` directly followed by an address and `' (callid: `.
    let mut found = None;
    let mut at_failed = search_from;
    while let Some(failed) = find_from(msg, at_failed, FAILED_FOR) {
        let address_start = failed + FAILED_FOR.len();
        // The address is short: its `' (callid: ` is looked for just after it (linear time
        // for a line of many markers).
        let window = msg.get(..(address_start + addr::MAX_ADDR_TEXT + CALLID.len()).min(msg.len())).unwrap_or(msg);
        if let Some(callid) = find_from(window, address_start, CALLID) {
            if let Some(src) = msg.get(address_start..callid).and_then(addr::host_port) {
                found = Some((failed, callid, src));
                break;
            }
        }
        at_failed = address_start;
    }
    let Some((failed, callid, src)) = found else { return Parsed::Refused(Refusal::Malformed) };
    let callid_start = callid + CALLID.len();
    let Some(dash) = rfind(msg, b") - ").filter(|&d| d >= callid_start) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let mut reason = msg.get(dash + 4..).unwrap_or_default();
    let mut tries = None;
    if let Some(after) = rfind(reason, b" after ") {
        let count = reason.get(after + 7..).unwrap_or_default();
        let digits = count.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && count.get(digits..).is_some_and(|rest| rest.starts_with(b" tries")) {
            tries = std::str::from_utf8(count.get(..digits).unwrap_or_default()).ok().and_then(|n| n.parse().ok());
            reason = reason.get(..after).unwrap_or_default();
        }
    }
    let mut e = event(LineKind::Pjsip, reason, pjsip_outcome(reason), src);
    e.ts_ns = stamp::line_start(line, time);
    e.method = method;
    e.username = msg.get(search_from..failed).and_then(uri_user);
    e.call_id = msg.get(callid_start..dash);
    e.tries = tries;
    e.injected = memmem::find_iter(msg.get(from_start..).unwrap_or_default(), FAILED_FOR).nth(1).is_some();
    Parsed::Event(e)
}
