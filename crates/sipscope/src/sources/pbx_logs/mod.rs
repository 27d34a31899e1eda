//! PBX security logs as a source (`sipscope logs`). Operators already run fail2ban or
//! CrowdSec on these files; reading them puts what the PBX saw — accounts guessed, passwords
//! refused, calls to extensions it does not have — into the same store as the honeypot's
//! authentication attempts, so reports count both.
//!
//! The line parsers are sans-IO: [`LineParser::parse`] takes one line (without its line
//! end) and returns what it says, borrowing from it. They read:
//! - Asterisk `res_security_log` events (`SecurityEvent="…",EventTV="…",…`), chan_sip's
//!   `Registration from … failed for …` and `Call from … rejected because extension not found`,
//!   and res_pjsip's `Request '…' from '…' failed for '…' (callid: …) - …` and `Call (…) to
//!   extension … rejected because extension not found` (`asterisk.rs`, `asterisk_notice.rs`),
//!   the manager interface's and IAX2's authentication notices and FreePBX's `Rejecting unknown
//!   SIP connection from …` (`asterisk_services.rs`);
//! - FreeSWITCH sofia's `SIP auth failure (…) on sofia profile … from ip …` and `Can't find
//!   user […] from …` (`freeswitch.rs`);
//!
//! with or without syslog or journald prefixes, ANSI colour codes and `[C-…]` call tags.
//!
//! **The source address is taken from where the PBX put it.** Every format prints attacker
//! text (account names, From and To headers, Call-IDs, digest responses) beside the address,
//! unescaped; each parser anchors the address on text only the PBX writes (see each module),
//! and a line whose address cannot be told apart from an injected one is refused
//! ([`Refusal::AmbiguousSource`]), never attributed to an address an attacker chose.
//!
//! `read.rs` reads whole files into the pipeline and `follow.rs` tails them across rotation,
//! with positions persisted (`position.rs`).

mod addr;
mod asterisk;
mod asterisk_notice;
mod asterisk_services;
pub mod follow;
mod freeswitch;
pub mod position;
pub mod read;
pub mod record;
pub mod stamp;

#[cfg(test)]
mod tests;

use crate::event::Transport;
use memchr::memmem::Finder;
use stamp::TimeContext;
use std::net::SocketAddr;

pub use record::to_record;

/// Which PBX wrote a log (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Asterisk: security events; chan_sip, res_pjsip, manager and IAX2 notices; FreePBX's
    /// rejected calls.
    Asterisk,
    /// FreeSWITCH: mod_sofia's authentication warnings.
    FreeSwitch,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "asterisk" => Ok(LogFormat::Asterisk),
            "freeswitch" => Ok(LogFormat::FreeSwitch),
            _ => Err(format!("expected asterisk or freeswitch, not {s:?}")),
        }
    }
}

/// Which kind of line an event was read from (stored as the attempt's `origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `res_security_log`.
    AsteriskSecurity,
    /// chan_sip notices.
    ChanSip,
    /// res_pjsip notices.
    Pjsip,
    /// The manager interface's notices (`manager.c`).
    Manager,
    /// IAX2's notices (`chan_iax2.c`).
    Iax2,
    /// FreePBX's dialplan warning for a rejected anonymous call.
    Dialplan,
    /// FreeSWITCH mod_sofia warnings.
    Sofia,
}

impl LineKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::AsteriskSecurity => "asterisk_security",
            LineKind::ChanSip => "asterisk_chan_sip",
            LineKind::Pjsip => "asterisk_pjsip",
            LineKind::Manager => "asterisk_manager",
            LineKind::Iax2 => "asterisk_iax2",
            LineKind::Dialplan => "freepbx_dialplan",
            LineKind::Sofia => "freeswitch_sofia",
        }
    }
}

/// What a line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    /// An authentication (or call) attempt with its outcome, named as the honeypot names
    /// them (`accepted`, `wrong_password`, `unknown_user`, `refused`, `malformed`) or
    /// `extension_not_found`.
    Attempt(&'static str),
    /// The PBX challenged a request (Asterisk `ChallengeSent`, FreeSWITCH `SIP auth
    /// challenge`): not an attempt, counted.
    Challenge,
    /// A security event that is not about credentials (`SessionLimit`, `LoadAverageLimit` …):
    /// counted by name.
    Other(&'static str),
}

/// One event read from a line; text fields borrow the line (attacker bytes, not UTF-8 by
/// any promise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent<'a> {
    /// The kind of line.
    pub kind: LineKind,
    /// The event's name as the PBX wrote it (`InvalidPassword`, `Wrong password`, …).
    pub name: &'a [u8],
    /// What happened.
    pub happened: Happened,
    /// The line's own time (EventTV, else the stamp at its start).
    pub ts_ns: Option<i64>,
    /// The source, from where the PBX put it.
    pub src: SocketAddr,
    /// The PBX's own address, when the line says (security events).
    pub dst: Option<SocketAddr>,
    /// The transport, when the line says (security events).
    pub transport: Option<Transport>,
    /// The SIP method, or for a security event the service (`PJSIP`, `SIP`, `AMI`).
    pub method: Option<&'a [u8]>,
    /// Account or user tried.
    pub username: Option<&'a [u8]>,
    /// Call-ID, when the line has one.
    pub call_id: Option<&'a [u8]>,
    /// The extension dialled (chan_sip `Call from … to extension …`).
    pub extension: Option<&'a [u8]>,
    /// PJSIP's `after N tries`.
    pub tries: Option<u32>,
    /// The line holds more than one address-shaped field where the PBX writes one: an
    /// attacker injected fields (the PBX's own was still found).
    pub injected: bool,
}

impl<'a> LogEvent<'a> {
    /// An event with what every line has; the parsers fill in the rest.
    fn new(kind: LineKind, name: &'a [u8], happened: Happened, src: SocketAddr) -> LogEvent<'a> {
        LogEvent {
            kind,
            name,
            happened,
            ts_ns: None,
            src,
            dst: None,
            transport: None,
            method: None,
            username: None,
            call_id: None,
            extension: None,
            tries: None,
            injected: false,
        }
    }
}

/// Why a line that is one of ours gave no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Attacker text holds address fields shaped like the PBX's and the line's structure
    /// cannot tell which is the PBX's: not attributed to anyone.
    AmbiguousSource,
    /// The line starts like one of ours but is cut short or mangled.
    Malformed,
}

impl Refusal {
    /// Stable name (summaries, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::AmbiguousSource => "ambiguous_source",
            Refusal::Malformed => "malformed",
        }
    }
}

/// What one line gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// An event.
    Event(LogEvent<'a>),
    /// Not a line these parsers read (most lines of a log).
    Ignored,
    /// One of ours, refused.
    Refused(Refusal),
}

/// Bounds on what a line may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// Longest line read, bytes (default 16 KiB: Asterisk's own log lines are cut well
    /// before). Longer lines are skipped up to their end without being buffered, and counted.
    pub max_line_bytes: usize,
}

impl Default for LineLimits {
    fn default() -> Self {
        LineLimits { max_line_bytes: 16 * 1024 }
    }
}

/// A line parser: the line, where its marker starts, the time context.
type ParseAt = for<'a> fn(&'a [u8], usize, &TimeContext) -> Parsed<'a>;

/// Each format's markers, with the parser of the lines they mark. The marker found **first in
/// the line** decides: every marker is text the PBX writes before any attacker text of its
/// line (the message's first words, the source file in the prefix, a dialplan line's `Ext. `),
/// so a marker an attacker wrote into a field (a whole fake security event in a To header, a
/// PJSIP failure in a dialled extension) always comes after the line's own.
fn markers(format: LogFormat) -> Vec<(Finder<'static>, ParseAt)> {
    let table: &[(&'static [u8], ParseAt)] = match format {
        LogFormat::Asterisk => &[
            (b"SecurityEvent=\"", asterisk::security_event),
            (b"Registration from '", asterisk_notice::registration),
            (b"Request '", asterisk_notice::pjsip_request),
            (b"Request from '", asterisk_notice::pjsip_request),
            (b"Call from '", asterisk_notice::call_rejected),
            (b": Call (", asterisk_notice::pjsip_call_rejected),
            (b"manager.c:", asterisk_services::manager),
            (b"chan_iax2.c:", asterisk_services::iax2),
            // A dialplan line: the extension after `Ext. ` is the attacker's.
            (b"Ext. ", asterisk_services::freepbx_rejected),
            (b"Rejecting unknown SIP connection from ", asterisk_services::freepbx_rejected),
        ],
        LogFormat::FreeSwitch => &[(b"SIP auth ", freeswitch::auth), (b"Can't find user [", freeswitch::unknown_user)],
    };
    table.iter().map(|&(marker, parse)| (Finder::new(marker), parse)).collect()
}

/// A parser for one log format; keeps a scratch buffer for lines with colour codes.
pub struct LineParser {
    time: TimeContext,
    markers: Vec<(Finder<'static>, ParseAt)>,
    scratch: Vec<u8>,
}

impl LineParser {
    /// A parser for `format`, reading stamps against `time`.
    pub fn new(format: LogFormat, time: TimeContext) -> LineParser {
        LineParser { time, markers: markers(format), scratch: Vec::new() }
    }

    /// Sets the reference time (a new file's modification time).
    pub fn set_time(&mut self, time: TimeContext) {
        self.time = time;
    }

    /// Reads one line (without its line end).
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Parsed<'a> {
        let line = if memchr::memchr(0x1b, line).is_some() {
            strip_ansi(line, &mut self.scratch);
            &self.scratch[..]
        } else {
            line
        };
        let mut first: Option<(usize, ParseAt)> = None;
        for (marker, parse) in &self.markers {
            // Only a marker that starts before the one found so far can win.
            let end = first.map_or(line.len(), |(at, _)| (at + marker.needle().len()).min(line.len()));
            if let Some(at) = marker.find(line.get(..end).unwrap_or(line)) {
                if first.is_none_or(|(best, _)| at < best) {
                    first = Some((at, *parse));
                }
            }
        }
        match first {
            Some((at, parse)) => parse(line, at, &self.time),
            None => Parsed::Ignored,
        }
    }
}

/// Copies `line` into `out` without ANSI escape sequences (CSI `ESC [ … final`, and a lone
/// `ESC x`). The stored line keeps them; only the parsers read the stripped copy.
fn strip_ansi(line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        if b != 0x1b {
            out.push(b);
            i += 1;
            continue;
        }
        if line.get(i + 1) == Some(&b'[') {
            i += 2;
            while line.get(i).is_some_and(|c| (0x20..0x40).contains(c)) {
                i += 1;
            }
            i += 1; // the final byte
        } else {
            i += 2;
        }
    }
}

/// The last occurrence of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(hay, needle)
}

/// The first occurrence of `needle` in `hay` at or after `from`.
fn find_from(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| i + from)
}

/// `line` without trailing spaces, tabs and CRs.
fn trim_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\r')).map_or(0, |i| i + 1);
    line.get(..end).unwrap_or(line)
}

/// The user part of a URI-ish text (`"Bob" <sip:100@host>` → `100`): after the first `sip:`,
/// `sips:` or `tel:`, up to `@` (`;`, `>`, `?` or the end for `tel:`).
fn uri_user(text: &[u8]) -> Option<&[u8]> {
    let (start, tel) = [(&b"sip:"[..], false), (b"sips:", false), (b"tel:", true)]
        .iter()
        .filter_map(|(scheme, tel)| memchr::memmem::find(text, scheme).map(|i| (i + scheme.len(), *tel)))
        .min()?;
    let rest = text.get(start..)?;
    let end = rest.iter().position(|b| matches!(b, b'@' | b';' | b'>' | b'?')).unwrap_or(rest.len());
    let user = rest.get(..end).filter(|u| !u.is_empty())?;
    (tel || rest.get(end) == Some(&b'@')).then_some(user)
}
