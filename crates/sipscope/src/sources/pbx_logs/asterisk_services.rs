//! Asterisk's other doors and FreePBX's dialplan: the manager interface (AMI, `manager.c`),
//! IAX2 (`chan_iax2.c`), and the warning FreePBX's `from-sip-external` context logs for a call
//! it rejects. fail2ban's Asterisk filter reads these lines, so an operator moving to
//! sipscope expects them read too; AMI and IAX2 attempts are stored and reach the rules, and
//! (not SIP) stay out of the message analysis, as security events of those services do.
//!
//! ```text
//! NOTICE[4242]: manager.c:2350 authenticate: 203.0.113.50 tried to authenticate with nonexistent user 'admin'
//! NOTICE[4242]: manager.c:2387 authenticate: 203.0.113.50 failed to authenticate as 'admin'
//! NOTICE[4242]: manager.c: 203.0.113.50 failed to pass IP ACL as 'admin'
//! NOTICE[4242]: chan_iax2.c: Host 203.0.113.51 failed to authenticate as '100'
//! NOTICE[4242]: chan_iax2.c: Host 203.0.113.51 failed MD5 authentication for '100' (… != …)
//! NOTICE[4242]: chan_iax2.c: No registration for peer '100' (from 203.0.113.51)
//! WARNING[4242][C-00000001]: Ext. s: "Rejecting unknown SIP connection from 203.0.113.52:5060"
//! ```
//!
//! Where the PBX's address is: `manager.c` and `Host %s` print it **before** the attacker's
//! account, so it is the word before the first marker (only the PBX's prefix precedes it);
//! `(from %s)` and FreePBX's warning print it **last**, after the attacker's peer name or
//! dialled extension, so the line must end with exactly the address and its closing text.

use super::stamp::{self, TimeContext};
use super::{addr, rfind, trim_end, Happened, LineKind, LogEvent, Parsed, Refusal};
use crate::event::Transport;
use memchr::memmem;
use std::net::{IpAddr, SocketAddr};

/// AMI's notices: marker, outcome.
const AMI: [(&[u8], &str); 3] = [
    (b" tried to authenticate with nonexistent user '", "unknown_user"),
    (b" failed to authenticate as '", "wrong_password"),
    (b" failed to pass IP ACL as '", "refused"),
];

/// IAX2's notices that print the address first, after `Host `: marker, outcome.
const IAX2_HOST: [(&[u8], &str); 3] = [
    (b" failed to authenticate as '", "wrong_password"),
    (b" failed MD5 authentication for '", "wrong_password"),
    (b" denied access to register peer '", "refused"),
];

fn event<'a>(
    kind: LineKind,
    name: &'a [u8],
    outcome: &'static str,
    ip: IpAddr,
    line: &[u8],
    time: &TimeContext,
) -> LogEvent<'a> {
    let mut e = LogEvent::new(kind, name, Happened::Attempt(outcome), SocketAddr::new(ip, 0));
    e.ts_ns = stamp::line_start(line, time);
    e
}

/// The earliest of `markers` in `msg`: (position, marker, outcome).
fn earliest<'m>(msg: &[u8], markers: &[(&'m [u8], &'static str)]) -> Option<(usize, &'m [u8], &'static str)> {
    markers.iter().filter_map(|&(m, o)| memmem::find(msg, m).map(|at| (at, m, o))).min_by_key(|&(at, _, _)| at)
}

/// The account quoted after a marker, up to the last `'` (the attacker's text).
fn quoted_after(msg: &[u8], start: usize) -> Option<&[u8]> {
    let rest = msg.get(start..)?;
    let end = rest.iter().rposition(|&b| b == b'\'')?;
    rest.get(..end).filter(|u| !u.is_empty())
}

/// A `manager.c` line; `at` is where `manager.c` starts.
pub(super) fn manager<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    let Some((marker_at, marker, outcome)) = earliest(msg, &AMI) else { return Parsed::Ignored };
    // The address is the word between the prefix's last `: ` and the marker.
    let head = msg.get(..marker_at).unwrap_or_default();
    let Some(word_start) = rfind(head, b": ").map(|p| p + 2) else { return Parsed::Refused(Refusal::Malformed) };
    let Some(ip) = head.get(word_start..).and_then(addr::ip) else { return Parsed::Refused(Refusal::Malformed) };
    let account = marker_at + marker.len();
    let mut e = event(LineKind::Manager, marker.get(1..marker.len() - 2).unwrap_or_default(), outcome, ip, line, time);
    e.method = Some(b"AMI");
    e.transport = Some(Transport::Tcp);
    e.username = quoted_after(msg, account);
    e.injected = earliest(msg.get(account..).unwrap_or_default(), &AMI).is_some();
    Parsed::Event(e)
}

/// A `chan_iax2.c` line; `at` is where `chan_iax2.c` starts.
pub(super) fn iax2<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    const PEER: &[u8] = b"No registration for peer '";
    const FROM: &[u8] = b"' (from ";
    if let Some(peer) = memmem::find(msg, PEER) {
        // The address ends the line: `(from ADDR)`, after the attacker's peer name.
        let Some(from) = rfind(msg, FROM).filter(|&f| f >= peer + PEER.len()) else {
            return Parsed::Refused(Refusal::Malformed);
        };
        let Some(ip) = msg.strip_suffix(b")").and_then(|m| m.get(from + FROM.len()..)).and_then(addr::ip) else {
            return Parsed::Refused(Refusal::Malformed);
        };
        let mut e = event(LineKind::Iax2, b"No registration for peer", "unknown_user", ip, line, time);
        e.method = Some(b"IAX2");
        e.username = msg.get(peer + PEER.len()..from).filter(|u| !u.is_empty());
        e.injected = memmem::find_iter(msg, FROM).nth(1).is_some();
        return Parsed::Event(e);
    }
    const HOST: &[u8] = b"Host ";
    let Some((marker_at, marker, outcome)) = earliest(msg, &IAX2_HOST) else { return Parsed::Ignored };
    let head = msg.get(..marker_at).unwrap_or_default();
    let Some(host) = rfind(head, HOST) else { return Parsed::Refused(Refusal::Malformed) };
    let Some(ip) = head.get(host + HOST.len()..).and_then(addr::ip) else { return Parsed::Refused(Refusal::Malformed) };
    let account = marker_at + marker.len();
    let mut e = event(LineKind::Iax2, marker.get(1..marker.len() - 2).unwrap_or_default(), outcome, ip, line, time);
    e.method = Some(b"IAX2");
    let rest = msg.get(account..).unwrap_or_default();
    // MD5's line continues after the account with the two hashes.
    e.username = match rfind(rest, b"' (") {
        Some(end) if marker == IAX2_HOST[1].0 => rest.get(..end).filter(|u| !u.is_empty()),
        _ => quoted_after(msg, account),
    };
    e.injected = earliest(rest, &IAX2_HOST).is_some();
    Parsed::Event(e)
}

/// FreePBX's `"Rejecting unknown SIP connection from ADDR"` (its `from-sip-external`
/// context refusing an anonymous call); `at` is where the dialplan line's `Ext. ` or the
/// warning starts. Any other dialplan line is ignored.
pub(super) fn freepbx_rejected<'a>(line: &'a [u8], _at: usize, time: &TimeContext) -> Parsed<'a> {
    const MARKER: &[u8] = b"Rejecting unknown SIP connection from ";
    let msg = trim_end(line);
    // The dialled extension (the attacker's) comes before: the last marker is the PBX's, and
    // the address ends the line (in the quotes the dialplan's Log() added, or without).
    let Some(from) = rfind(msg, MARKER) else { return Parsed::Ignored };
    let tail = msg.get(from + MARKER.len()..).unwrap_or_default();
    let tail = tail.strip_suffix(b"\"").unwrap_or(tail);
    // A bare address first: `2001:db8::1:2` is an IPv6 address, not `2001:db8::1` port 2 (an
    // address with a port is `1.2.3.4:5060` or `[2001:db8::1]:5060`).
    let Some(src) = addr::ip(tail).map(|ip| SocketAddr::new(ip, 0)).or_else(|| addr::host_port(tail)) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let mut e =
        LogEvent::new(LineKind::Dialplan, b"Rejecting unknown SIP connection", Happened::Attempt("refused"), src);
    e.ts_ns = stamp::line_start(line, time);
    e.method = Some(b"INVITE");
    e.injected = memmem::find_iter(msg, MARKER).nth(1).is_some();
    Parsed::Event(e)
}
