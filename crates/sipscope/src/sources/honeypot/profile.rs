//! PBX profiles: what the emulated PBX answers in each situation, as data. Five ship with
//! sipscope (`profiles/*.toml`, compiled in); a user names one of them or points at a file of
//! their own with the same fields. Every field is documented in `docs/configuration.md`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The profiles compiled into the binary, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("asterisk-chan-sip", include_str!("profiles/asterisk-chan-sip.toml")),
    ("asterisk-pjsip", include_str!("profiles/asterisk-pjsip.toml")),
    ("freepbx", include_str!("profiles/freepbx.toml")),
    ("brekeke", include_str!("profiles/brekeke.toml")),
    ("proxy", include_str!("profiles/proxy.toml")),
];

/// A failure to load a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Neither a built-in name nor a readable file.
    #[error("profile {0:?} is neither a built-in profile ({1}) nor a readable file: {2}")]
    NotFound(String, String, std::io::Error),
    /// The file is not a valid profile.
    #[error("profile {0}: {1}")]
    Invalid(String, toml::de::Error),
    /// Valid TOML whose values do not make sense together.
    #[error("profile {0}: {1}")]
    Inconsistent(String, String),
}

/// A PBX's behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, shown in logs.
    pub name: String,
    /// What it imitates.
    #[serde(default)]
    pub description: String,
    /// `Server` header on every response; none when absent.
    #[serde(default)]
    pub server: Option<String>,
    /// `Allow` header (OPTIONS answers, 405s, REGISTER 200s).
    pub allow: String,
    /// `Supported` header, when any.
    #[serde(default)]
    pub supported: Option<String>,
    /// `Accept` header on OPTIONS answers, when any.
    #[serde(default)]
    pub accept: Option<String>,
    /// How To tags look.
    pub to_tag: TagFormat,
    /// Whether responses carry a `Date` header (chan_sip does on REGISTER 200).
    #[serde(default)]
    pub date_on_register: bool,
    /// Digest challenge details.
    pub auth: AuthProfile,
    /// OPTIONS.
    pub options: OptionsProfile,
    /// REGISTER.
    pub register: RegisterProfile,
    /// INVITE.
    pub invite: InviteProfile,
    /// Other methods the PBX knows (SUBSCRIBE, MESSAGE, INFO …), by upper-case name.
    #[serde(default)]
    pub methods: BTreeMap<String, Action>,
    /// Any method not handled above (PJSIP challenges strangers before it looks at the method).
    pub unknown_method: Action,
    /// BYE, CANCEL (and in-dialog requests) for no known transaction: 481.
    pub no_transaction: Reply,
    /// A request that cannot be parsed, or lacks Via, From, To, Call-ID or CSeq.
    pub malformed: Action,
}

/// A fixed answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Status code, 100–699.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
}

/// What to do in a situation: answer with a fixed status, ask for credentials, or stay silent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Action {
    /// `"challenge"` or `"silent"`.
    Keyword(Keyword),
    /// `{ status = 404, reason = "Not Found" }`.
    Reply(Reply),
}

/// The named actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keyword {
    /// Send a digest challenge (as for a known user).
    Challenge,
    /// Send nothing.
    Silent,
}

/// How a To tag is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagFormat {
    /// `as` and 8 hex digits (chan_sip).
    AsHex8,
    /// A UUID (PJSIP).
    Uuid,
    /// 16 hex digits.
    Hex16,
}

/// How nonces look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NonceFormat {
    /// 8 hex digits (chan_sip's `%08lx` of a random number).
    Hex8,
    /// 32 hex digits.
    Hex32,
    /// `<unix seconds>/<32 hex digits>` (PJSIP).
    TimeSlashHex,
}

/// Digest challenge details.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthProfile {
    /// `realm`.
    pub realm: String,
    /// Nonce shape.
    pub nonce: NonceFormat,
    /// Seconds a nonce stays valid; a later use gets `stale=true`.
    pub nonce_lifetime_seconds: u64,
    /// Write `algorithm=MD5` (first, as Asterisk does; nmap's sip-brute needs it).
    pub algorithm: bool,
    /// `qop` offered, e.g. `auth`; none when absent.
    #[serde(default)]
    pub qop: Option<String>,
    /// Send an `opaque` value.
    #[serde(default)]
    pub opaque: bool,
}

/// OPTIONS answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsProfile {
    /// Request-URI without a user, or with a configured extension.
    pub known: Action,
    /// Request-URI user that is not an extension (svwar's OPTIONS enumeration tells them apart).
    pub unknown_user: Action,
}

/// REGISTER answers. The user is the To user, or the credentials' username when present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterProfile {
    /// No credentials, user unknown: chan_sip says 404, PJSIP challenges like for anyone.
    pub unknown_user: Action,
    /// No credentials, user known.
    pub known_user: Action,
    /// Credentials that do not verify (or a non-lure account): 403, or a new challenge.
    pub rejected: Action,
    /// Registration accepted.
    pub accepted: Reply,
    /// Expiry granted when the request asks for none.
    pub default_expires: u64,
    /// Longest expiry granted.
    pub max_expires: u64,
    /// Bindings (Contacts) one extension holds at most: Asterisk PJSIP's `max_contacts` (an
    /// AOR with 0 refuses every registration); chan_sip keeps one Contact per peer. 1 when
    /// absent. One REGISTER can never add more than this many.
    #[serde(default = "one")]
    pub max_contacts: usize,
    /// When a REGISTER would take an extension past `max_contacts`: true replaces the bindings
    /// soonest to expire (PJSIP's `remove_existing = yes`; chan_sip always does), false
    /// refuses it with `too_many_contacts`. True when absent.
    #[serde(default = "yes")]
    pub remove_existing: bool,
    /// The answer to a REGISTER that would exceed `max_contacts` (PJSIP: 403; Kamailio: 503
    /// Too many registered contacts). `403 Forbidden` when absent.
    #[serde(default = "forbidden")]
    pub too_many_contacts: Reply,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn forbidden() -> Reply {
    Reply { status: 403, reason: "Forbidden".into() }
}

/// INVITE answers. Without credentials, the user is known when the From user or the
/// Request-URI user is an extension; with credentials, it is their username.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteProfile {
    /// No credentials, caller unknown.
    pub unknown_user: Action,
    /// No credentials, caller known.
    pub known_user: Action,
    /// Challenge with 407 Proxy-Authenticate (true) or 401 WWW-Authenticate.
    pub proxy_auth: bool,
    /// Credentials that do not verify: 403, or a new challenge.
    pub rejected: Action,
    /// The provisional answer after 100 Trying for an authenticated call: 180 or 183, or
    /// `"none"` (a busy or unavailable callee: straight to the final failure).
    pub progress: Progress,
    /// The final failure of an authenticated call (486, 480, 503, 403 …). The honeypot
    /// configuration can override it.
    pub final_reply: Reply,
    /// Milliseconds from the INVITE to `progress` (100 Trying is sent at once). 0 when absent.
    #[serde(default)]
    pub progress_after_ms: u64,
    /// Milliseconds from the INVITE to `final_reply`; at least `progress_after_ms`. 0 when
    /// absent.
    #[serde(default)]
    pub final_after_ms: u64,
    /// Each delay gets a random 0 to `jitter_ms` more, drawn per call: a delay that never
    /// varies is a tell. 0 when absent.
    #[serde(default)]
    pub jitter_ms: u64,
}

/// The provisional answer of an authenticated call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Progress {
    /// `"none"`.
    Keyword(NoProgress),
    /// `{ status = 180, reason = "Ringing" }`.
    Reply(Reply),
}

/// The one word a [`Progress`] may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoProgress {
    /// No provisional answer besides 100 Trying.
    None,
}

impl Progress {
    /// The answer, unless there is none.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Progress::Reply(r) => Some(r),
            Progress::Keyword(NoProgress::None) => None,
        }
    }
}

/// The longest delay a profile may give an answer, ms: RFC 3261 §13.3.1.1 asks a UAS that
/// takes longer than three minutes to refresh its provisional answer, which the honeypot does
/// not do.
pub const MAX_ANSWER_DELAY_MS: u64 = 180_000;

impl Profile {
    /// A built-in profile by name, or a profile file.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            return Profile::parse(text, name_or_path);
        }
        let text = std::fs::read_to_string(Path::new(name_or_path)).map_err(|e| {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            ProfileError::NotFound(name_or_path.to_owned(), names.join(", "), e)
        })?;
        Profile::parse(&text, name_or_path)
    }

    /// Parses profile TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Invalid(origin.to_owned(), e))?;
        profile.check().map_err(|why| ProfileError::Inconsistent(origin.to_owned(), why))?;
        Ok(profile)
    }

    /// What TOML cannot say: provisional and final statuses in their ranges, delays in order.
    fn check(&self) -> Result<(), String> {
        let i = &self.invite;
        if let Some(r) = i.progress.reply() {
            if !(101..200).contains(&r.status) {
                return Err(format!("[invite] progress must be 101-199 or \"none\", not {}", r.status));
            }
        }
        if !(300..700).contains(&i.final_reply.status) {
            return Err(format!(
                "[invite] final_reply must be 300-699 (a call is never answered), not {}",
                i.final_reply.status
            ));
        }
        if i.final_after_ms < i.progress_after_ms {
            return Err(format!(
                "[invite] final_after_ms ({}) comes before progress_after_ms ({})",
                i.final_after_ms, i.progress_after_ms
            ));
        }
        let longest = i.final_after_ms.saturating_add(i.jitter_ms);
        if longest > MAX_ANSWER_DELAY_MS {
            return Err(format!("[invite] final_after_ms + jitter_ms is {longest}, more than {MAX_ANSWER_DELAY_MS}"));
        }
        Ok(())
    }

    /// How to answer `method` when it is none of OPTIONS, REGISTER, INVITE, ACK, BYE, CANCEL.
    pub fn other_method(&self, method: &str) -> Action {
        self.methods.get(method).unwrap_or(&self.unknown_method).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_profile_parses_with_sane_codes() {
        for (name, text) in BUILT_IN {
            let p = Profile::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&p.name, name);
            let replies = [&p.no_transaction, &p.register.accepted, &p.invite.final_reply];
            for r in replies {
                assert!((100..700).contains(&r.status), "{name}: {r:?}");
            }
            assert!(p.invite.final_reply.status >= 300, "{name}: a call must never be answered");
        }
    }

    #[test]
    fn chan_sip_tells_unknown_users_apart_and_pjsip_does_not() {
        let chan = Profile::load("asterisk-chan-sip").unwrap();
        assert_eq!(chan.register.unknown_user, Action::Reply(Reply { status: 404, reason: "Not Found".into() }));
        let pjsip = Profile::load("asterisk-pjsip").unwrap();
        assert_eq!(pjsip.register.unknown_user, Action::Keyword(Keyword::Challenge));
    }

    #[test]
    fn provisional_answers_and_their_delays_are_checked() {
        let chan = Profile::load("asterisk-chan-sip").unwrap();
        assert_eq!(chan.invite.progress, Progress::Keyword(NoProgress::None), "a busy callee: no ringing");
        let text = BUILT_IN[0].1;
        let with = |line: &str| text.replace("progress = \"none\"", line);
        let ringing = Profile::parse(&with("progress = { status = 180, reason = \"Ringing\" }"), "x").unwrap();
        assert_eq!(ringing.invite.progress.reply().map(|r| r.status), Some(180));
        let bad = [
            "progress = { status = 200, reason = \"OK\" }",
            "progress = \"ringing\"",
            "progress = \"none\"\nprogress_after_ms = 2000\nfinal_after_ms = 1000",
            "progress = \"none\"\nfinal_after_ms = 180000\njitter_ms = 1",
        ];
        for line in bad {
            assert!(Profile::parse(&with(line), "x").is_err(), "{line}");
        }
        let text = text.replace("final_reply = { status = 486", "final_reply = { status = 200");
        assert!(matches!(Profile::parse(&text, "x"), Err(ProfileError::Inconsistent(..))));
    }

    #[test]
    fn unknown_fields_and_missing_files_are_errors() {
        let text = BUILT_IN[0].1.replace("name = ", "nmae = ");
        assert!(matches!(Profile::parse(&text, "x"), Err(ProfileError::Invalid(..))));
        assert!(matches!(Profile::load("/nonexistent/profile.toml"), Err(ProfileError::NotFound(..))));
    }
}
