//! Checking digest credentials and naming the outcome of every attempt: the record password
//! intelligence and the attack-stage analysis build on.

use super::nonces::{NonceCheck, Nonces};
use crate::event::fields::lossless_text;
use crate::sources::honeypot::config::Extension;
use crate::sources::honeypot::intel::Recoverable;
use sipscope_sip::digest::VerifyError;
use sipscope_sip::Message;
use std::collections::HashMap;
use std::net::IpAddr;

/// What became of one set of credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthOutcome {
    /// Right password on a lure extension, fresh nonce: accepted.
    Accepted,
    /// Right password on an extension that is not a lure: refused all the same.
    Refused,
    /// The response does not match the extension's password.
    WrongPassword,
    /// No such (enabled) extension.
    UnknownUser,
    /// The nonce expired, was forgotten, was never ours, or was issued to another address.
    StaleNonce,
    /// The nonce was used before (a replay, or a cracker reusing one challenge).
    NonceReused,
    /// The realm is not ours.
    WrongRealm,
    /// Missing fields, not digest, an unsupported algorithm or qop.
    Malformed,
}

impl AuthOutcome {
    /// Stable name stored in `auth_attempts.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthOutcome::Accepted => "accepted",
            AuthOutcome::Refused => "refused",
            AuthOutcome::WrongPassword => "wrong_password",
            AuthOutcome::UnknownUser => "unknown_user",
            AuthOutcome::StaleNonce => "stale_nonce",
            AuthOutcome::NonceReused => "nonce_reused",
            AuthOutcome::WrongRealm => "wrong_realm",
            AuthOutcome::Malformed => "malformed",
        }
    }
}

/// How the PBX answers an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through (REGISTER 200, the call rings).
    Accept,
    /// The profile's `rejected` answer.
    Reject,
    /// A new challenge, with `stale=true` when the password was right and only the nonce was
    /// not (RFC 2617 §3.2.1).
    Rechallenge {
        /// Say `stale=true`.
        stale: bool,
    },
    /// The profile's answer for an unknown user.
    UnknownUser,
}

/// One authentication attempt, as recorded.
#[derive(Clone)]
pub struct AuthAttempt {
    /// The method the credentials were computed for.
    pub method: String,
    /// `username` as sent.
    pub username: String,
    /// `realm` as sent.
    pub realm: Option<String>,
    /// `uri` as sent.
    pub uri: Option<String>,
    /// `nonce` as sent.
    pub nonce: Option<String>,
    /// The outcome.
    pub outcome: AuthOutcome,
    /// The password tried, when the PBX knows it (it matched the extension's).
    pub password: Option<String>,
    /// The credentials prepared for wordlist recovery, when the password is not known and the
    /// response can be computed.
    pub recoverable: Option<Recoverable>,
}

impl std::fmt::Debug for AuthAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthAttempt")
            .field("method", &self.method)
            .field("username", &self.username)
            .field("outcome", &self.outcome)
            .field("password", &self.password)
            .field("recoverable", &self.recoverable.is_some())
            .finish()
    }
}

/// Checks the request's credentials, if it has any, sent from `source` at `now_ns`.
pub fn authenticate(
    msg: &Message<'_>,
    method: &str,
    realm: &str,
    extensions: &HashMap<String, Extension>,
    nonces: &mut Nonces,
    source: IpAddr,
    now_ns: i64,
) -> Option<(AuthAttempt, Verdict)> {
    let creds = msg.credentials()?;
    let text = |v: Option<&[u8]>| v.map(lossless_text);
    let mut attempt = AuthAttempt {
        method: method.to_owned(),
        username: text(creds.username).unwrap_or_default(),
        realm: text(creds.realm),
        uri: text(creds.uri),
        nonce: text(creds.nonce),
        outcome: AuthOutcome::Malformed,
        password: None,
        recoverable: None,
    };
    let recoverable = match Recoverable::new(&creds, method.as_bytes()) {
        Ok(p) => p,
        Err(VerifyError::Malformed(_) | VerifyError::Unsupported(_)) => return Some((attempt, Verdict::Reject)),
    };
    let nonce = nonces.check_and_use(creds.nonce.unwrap_or_default(), creds.nonce_count(), source, now_ns);
    let Some(ext) = extensions.get(attempt.username.as_str()).filter(|e| e.enabled) else {
        attempt.outcome = AuthOutcome::UnknownUser;
        attempt.recoverable = Some(recoverable);
        return Some((attempt, Verdict::UnknownUser));
    };
    let correct = recoverable.prepared.matches(ext.password.as_bytes());
    if correct {
        attempt.password = Some(ext.password.clone());
    } else {
        attempt.recoverable = Some(recoverable);
    }
    let realm_ok = creds.realm == Some(realm.as_bytes());
    let (outcome, verdict) = match (nonce, correct) {
        _ if !realm_ok => (AuthOutcome::WrongRealm, Verdict::Reject),
        (NonceCheck::Stale, _) => (AuthOutcome::StaleNonce, Verdict::Rechallenge { stale: correct }),
        (NonceCheck::Reused, true) => (AuthOutcome::NonceReused, Verdict::Rechallenge { stale: true }),
        (NonceCheck::Reused, false) => (AuthOutcome::NonceReused, Verdict::Reject),
        (NonceCheck::Fresh, true) if ext.lure => (AuthOutcome::Accepted, Verdict::Accept),
        (NonceCheck::Fresh, true) => (AuthOutcome::Refused, Verdict::Reject),
        (NonceCheck::Fresh, false) => (AuthOutcome::WrongPassword, Verdict::Reject),
    };
    attempt.outcome = outcome;
    Some((attempt, verdict))
}

#[cfg(test)]
mod tests {
    use super::AuthOutcome;

    #[test]
    fn every_outcome_is_one_records_carry() {
        let all = [
            AuthOutcome::Accepted,
            AuthOutcome::Refused,
            AuthOutcome::WrongPassword,
            AuthOutcome::UnknownUser,
            AuthOutcome::StaleNonce,
            AuthOutcome::NonceReused,
            AuthOutcome::WrongRealm,
            AuthOutcome::Malformed,
        ];
        for o in all {
            // A new variant must be added above (the match makes the compiler say so).
            match o {
                AuthOutcome::Accepted
                | AuthOutcome::Refused
                | AuthOutcome::WrongPassword
                | AuthOutcome::UnknownUser
                | AuthOutcome::StaleNonce
                | AuthOutcome::NonceReused
                | AuthOutcome::WrongRealm
                | AuthOutcome::Malformed => {}
            }
            assert!(crate::event::record::AUTH_ATTEMPT_OUTCOMES.contains(&o.as_str()), "{}", o.as_str());
        }
    }
}
