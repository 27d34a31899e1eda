//! Where reading of each log file stopped, kept across restarts so that neither a restart nor
//! the next run of `sipscope logs` reads a line twice or skips one.
//!
//! A file is known by its device and inode and by a digest of its first bytes (up to
//! [`HEAD_BYTES`]): the inode follows a file renamed by rotation, and the digest tells a
//! file truncated in place and written again (copy-truncate), or a new file that reused the
//! inode, from the one the offset belongs to. The positions file is written whole through
//! `fsutil::replace_file` (a fresh owner-only file renamed over the old one: never half
//! written, never through a link), and only after the store has committed every line read up
//! to it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// How many leading bytes identify a file's content.
pub const HEAD_BYTES: u64 = 256;

/// Largest positions file read (a few hundred bytes per followed file).
const MAX_POSITIONS_BYTES: u64 = 4 << 20;

/// Where one file was read up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// Device of the file.
    pub dev: u64,
    /// Its inode.
    pub ino: u64,
    /// Bytes read, through the last complete line.
    pub offset: u64,
    /// How many leading bytes `head` covers.
    pub head_len: u64,
    /// SHA-256 (hex) of the first `head_len` bytes.
    pub head: String,
    /// The file the name pointed to before a rename rotation, while it may still be written
    /// (its rest is read after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Box<FilePosition>>,
}

/// Every followed file's position, by the name it was given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    /// The positions.
    pub files: BTreeMap<String, FilePosition>,
}

/// Why the positions file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The positions file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Not a positions file (or a damaged one).
    #[error("{path}: not a positions file: {reason}")]
    Invalid {
        /// The positions file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Positions {
    /// Reads `path`; a missing file is no positions yet.
    pub fn load(path: &Path) -> Result<Positions, PositionsError> {
        let shown = || path.display().to_string();
        let bytes = match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Positions::default()),
            Err(source) => return Err(PositionsError::Io { path: shown(), source }),
            Ok(file) => {
                let mut bytes = Vec::new();
                io::Read::read_to_end(&mut io::Read::take(file, MAX_POSITIONS_BYTES + 1), &mut bytes)
                    .map_err(|source| PositionsError::Io { path: shown(), source })?;
                bytes
            }
        };
        if bytes.len() as u64 > MAX_POSITIONS_BYTES {
            return Err(PositionsError::Invalid { path: shown(), reason: "larger than 4 MiB".into() });
        }
        serde_json::from_slice(&bytes).map_err(|e| PositionsError::Invalid { path: shown(), reason: e.to_string() })
    }

    /// Writes `path` whole (owner-only, replaced by rename).
    pub fn save(&self, path: &Path) -> Result<(), PositionsError> {
        let shown = || path.display().to_string();
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| PositionsError::Invalid { path: shown(), reason: e.to_string() })?;
        crate::fsutil::replace_file(path, &text, crate::fsutil::PRIVATE_MODE)
            .map_err(|source| PositionsError::Io { path: shown(), source })
    }
}

/// The digest of `file`'s first `len` bytes (fewer when it is shorter now: then it cannot
/// match a digest of `len` bytes).
pub fn head_digest(file: &File, len: u64) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut buf = vec![0u8; usize::try_from(len.min(HEAD_BYTES)).unwrap_or(0)];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(buf.get_mut(filled..).unwrap_or_default(), filled as u64)? {
            0 => return Ok(String::new()),
            n => filled += n,
        }
    }
    Ok(hex::encode(Sha256::digest(&buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("positions.json");
        assert_eq!(Positions::load(&path).unwrap(), Positions::default());
        let mut p = Positions::default();
        let pos = FilePosition { dev: 1, ino: 2, offset: 3, head_len: 4, head: "ab".into(), previous: None };
        p.files
            .insert("/var/log/asterisk/security".into(), FilePosition { previous: Some(Box::new(pos.clone())), ..pos });
        p.save(&path).unwrap();
        assert_eq!(Positions::load(&path).unwrap(), p);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(&path, b"{\"files\": 3").unwrap();
        assert!(matches!(Positions::load(&path), Err(PositionsError::Invalid { .. })));
    }

    #[test]
    fn head_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"line one\nline two\n").unwrap();
        let file = File::open(&path).unwrap();
        let d = head_digest(&file, 9).unwrap();
        assert_eq!(d, head_digest(&file, 9).unwrap());
        assert_ne!(d, head_digest(&file, 10).unwrap());
        assert_eq!(head_digest(&file, 100).unwrap(), "");
    }
}
