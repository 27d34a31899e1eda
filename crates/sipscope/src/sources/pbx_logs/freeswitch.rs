//! FreeSWITCH mod_sofia's authentication warnings (`sofia_reg.c`):
//!
//! ```text
//! 2024-01-10 12:34:56.123456 [WARNING] sofia_reg.c:1794 SIP auth failure (REGISTER) on sofia profile 'internal' for [100@192.0.2.10] from ip 203.0.113.5
//! 2024-01-10 12:34:56.123456 [WARNING] sofia_reg.c:1741 SIP auth challenge (INVITE) on sofia profile 'external' for [0046701234567@192.0.2.10] from ip 203.0.113.5
//! 2024-01-10 12:34:56.123456 [WARNING] sofia_reg.c:3210 Can't find user [100@192.0.2.10] from 203.0.113.5
//! ```
//!
//! The user and domain in brackets are the attacker's (the To or authorization user); the
//! address (`network_ip`, where the packet came from) ends the line. So the line must end
//! with exactly an address after the **last** ` from ip ` (` from `): text an attacker put in
//! the brackets never reaches the end of the line. (`Can't find user` continues on lines of
//! its own that repeat the attacker's user and domain; they end in FreeSWITCH's text, never
//! in an address, and are not read.)

use super::stamp::{self, TimeContext};
use super::{addr, rfind, trim_end, Happened, LineKind, LogEvent, Parsed, Refusal};
use std::net::SocketAddr;

fn event<'a>(
    name: &'a [u8],
    happened: Happened,
    ip: std::net::IpAddr,
    line: &[u8],
    time: &TimeContext,
) -> LogEvent<'a> {
    let mut e = LogEvent::new(LineKind::Sofia, name, happened, SocketAddr::new(ip, 0));
    e.ts_ns = stamp::line_start(line, time);
    e
}

/// `user@domain` → `user` (up to the last `@`).
fn user_of(bracketed: &[u8]) -> Option<&[u8]> {
    let at = bracketed.iter().rposition(|&b| b == b'@')?;
    bracketed.get(..at).filter(|u| !u.is_empty())
}

/// `SIP auth failure|challenge (METHOD) on sofia profile '…' for […] from ip …`; `at` is
/// where `SIP auth ` starts.
pub(super) fn auth<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    let rest = msg.get(b"SIP auth ".len()..).unwrap_or_default();
    let (name, happened, rest) = if let Some(r) = rest.strip_prefix(b"failure (") {
        (&b"SIP auth failure"[..], Happened::Attempt("wrong_password"), r)
    } else if let Some(r) = rest.strip_prefix(b"challenge (") {
        (&b"SIP auth challenge"[..], Happened::Challenge, r)
    } else {
        return Parsed::Ignored;
    };
    // The method is FreeSWITCH's word (REGISTER or INVITE).
    let Some(close) = rest.iter().position(|&b| b == b')') else { return Parsed::Refused(Refusal::Malformed) };
    let method = rest.get(..close).unwrap_or_default();
    let Some(from) = rfind(msg, b"] from ip ") else { return Parsed::Refused(Refusal::Malformed) };
    let Some(ip) = msg.get(from + b"] from ip ".len()..).and_then(addr::ip) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let mut e = event(name, happened, ip, line, time);
    e.method = Some(method).filter(|m| !m.is_empty() && m.iter().all(u8::is_ascii_uppercase));
    let for_user = memchr::memmem::find(msg, b" for [").filter(|&f| f < from);
    e.username = for_user.and_then(|f| msg.get(f + b" for [".len()..from)).and_then(user_of);
    e.injected = memchr::memmem::find_iter(msg, b"] from ip ").nth(1).is_some();
    Parsed::Event(e)
}

/// `Can't find user [user@domain] from address`; `at` is where the marker starts.
pub(super) fn unknown_user<'a>(line: &'a [u8], at: usize, time: &TimeContext) -> Parsed<'a> {
    let Some(msg) = line.get(at..).map(trim_end) else { return Parsed::Ignored };
    let marker = b"Can't find user [".len();
    let Some(from) = rfind(msg, b"] from ").filter(|&f| f >= marker) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let Some(ip) = msg.get(from + b"] from ".len()..).and_then(addr::ip) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let mut e = event(b"Can't find user", Happened::Attempt("unknown_user"), ip, line, time);
    e.username = msg.get(marker..from).and_then(user_of);
    e.injected = memchr::memmem::find_iter(msg, b"] from ").nth(1).is_some();
    Parsed::Event(e)
}
