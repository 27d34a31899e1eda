//! API tokens: 32 random bytes shown once (`sipscope token add`), stored only as their SHA-256
//! in a tokens file (TOML, owner-only, replaced whole by rename), each with a name (who acts:
//! it signs the decisions it takes), a scope (`read` ⊂ `decisions` ⊂ `admin`), an optional
//! expiry and a revocation mark (revoked tokens stay listed). A presented token is hashed and
//! compared with every stored hash in constant time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Every GET.
    Read,
    /// Also add and delete decisions.
    Decisions,
    /// Everything.
    Admin,
}

impl TokenScope {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Decisions => "decisions",
            TokenScope::Admin => "admin",
        }
    }
}

/// One stored token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredToken {
    /// Who uses it (unique in the file; `who` of the decisions it takes).
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// SHA-256 of the token, hex.
    pub sha256: String,
    /// When it was made, Unix seconds.
    pub created: i64,
    /// When it stops working, Unix seconds; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Revoked: refused, kept for the record.
    #[serde(default)]
    pub revoked: bool,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// The tokens.
    #[serde(default)]
    pub token: Vec<StoredToken>,
}

/// Why the tokens file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing it.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// Not the format.
    #[error("{0}: {1}")]
    Format(PathBuf, String),
    /// A name given twice, an empty name, no such token.
    #[error("{0}")]
    Invalid(String),
}

/// Why a presented token was refused (the API answers 401 for every one: the reason is
/// logged, never told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No stored hash matches.
    Unknown,
    /// It expired.
    Expired,
    /// It was revoked.
    Revoked,
}

/// The SHA-256 of a token, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenFile {
    /// Reads `path`; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<TokenFile, TokenError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(e) => return Err(TokenError::Io(path.into(), e)),
        };
        toml::from_str(&text).map_err(|e| TokenError::Format(path.into(), e.message().to_owned()))
    }

    /// Writes the file whole (owner-only, by rename).
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let text = toml::to_string(self).map_err(|e| TokenError::Format(path.into(), e.to_string()))?;
        let text = format!("# sipscope API tokens (hashes only): `sipscope token add|list|revoke`.\n{text}");
        crate::fsutil::replace_file(path, text.as_bytes(), 0o600).map_err(|e| TokenError::Io(path.into(), e))
    }

    /// Makes a token named `name`: returns the token (shown once; only its hash is kept).
    pub fn add(
        &mut self,
        name: &str,
        scope: TokenScope,
        now_s: i64,
        expires: Option<i64>,
    ) -> Result<String, TokenError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(TokenError::Invalid("a token's name: 1 to 64 characters, no control characters".into()));
        }
        if self.token.iter().any(|t| t.name == name) {
            return Err(TokenError::Invalid(format!(
                "a token named {name:?} exists (revoke it, or pick another name)"
            )));
        }
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
        let token = format!("sst_{}", hex::encode(bytes));
        self.token.push(StoredToken {
            name: name.to_owned(),
            scope,
            sha256: hash(&token),
            created: now_s,
            expires,
            revoked: false,
        });
        Ok(token)
    }

    /// Revokes the token named `name`.
    pub fn revoke(&mut self, name: &str) -> Result<(), TokenError> {
        match self.token.iter_mut().find(|t| t.name == name) {
            Some(t) => {
                t.revoked = true;
                Ok(())
            }
            None => Err(TokenError::Invalid(format!("no token named {name:?}"))),
        }
    }

    /// The stored token `presented` is, if it may be used at `now_s`. Every stored hash is
    /// compared (in constant time), so the time taken does not tell which one was close.
    pub fn verify(&self, presented: &str, now_s: i64) -> Result<&StoredToken, Refusal> {
        let digest = hash(presented);
        let mut found = None;
        for t in &self.token {
            if bool::from(t.sha256.as_bytes().ct_eq(digest.as_bytes())) {
                found = Some(t);
            }
        }
        let t = found.ok_or(Refusal::Unknown)?;
        if t.revoked {
            return Err(Refusal::Revoked);
        }
        if t.expires.is_some_and(|e| now_s >= e) {
            return Err(Refusal::Expired);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_hashed_and_refused_when_expired_or_revoked() {
        let mut f = TokenFile::default();
        let a = f.add("alice", TokenScope::Decisions, 100, Some(200)).unwrap();
        let b = f.add("bob", TokenScope::Read, 100, None).unwrap();
        assert!(f.add("alice", TokenScope::Read, 100, None).is_err());
        assert!(f.add("\u{1b}[2J", TokenScope::Read, 100, None).is_err());
        assert_eq!(a.len(), 4 + 64);
        let text = toml::to_string(&f).unwrap();
        assert!(!text.contains(&a) && !text.contains(&b) && text.contains(&hash(&a)));
        assert_eq!(f.verify(&a, 150).unwrap().name, "alice");
        assert_eq!(f.verify(&a, 200).unwrap_err(), Refusal::Expired);
        assert_eq!(f.verify("sst_nope", 150).unwrap_err(), Refusal::Unknown);
        f.revoke("bob").unwrap();
        assert_eq!(f.verify(&b, 150).unwrap_err(), Refusal::Revoked);
        assert!(f.revoke("carol").is_err());
        assert!(TokenScope::Read < TokenScope::Decisions && TokenScope::Decisions < TokenScope::Admin);
    }

    #[test]
    fn the_file_round_trips_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        assert_eq!(TokenFile::load(&path).unwrap(), TokenFile::default());
        let mut f = TokenFile::default();
        f.add("ops", TokenScope::Admin, 1, None).unwrap();
        f.save(&path).unwrap();
        assert_eq!(TokenFile::load(&path).unwrap(), f);
        std::fs::write(&path, "[[token]]\nname = 1\n").unwrap();
        assert!(TokenFile::load(&path).is_err());
    }
}
