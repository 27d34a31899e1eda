//! Recognising records ingested before under another file: the same capture compressed, or
//! the finished version of a capture that was ingested while it still grew. Both differ from
//! the known file by their bytes (so the file hash cannot tell), not by their decoded records.
//!
//! While a file is read, its records are hashed one after another (link type, time, original
//! length, bytes). After record *k*, the running digest is compared with every complete file
//! of *k* records: equal means that file's records are exactly this file's first *k*, so
//! this file supersedes it (its events and analysis go; this file's cover them). The digest
//! of the whole file is stored with it for later files to compare against.

use crate::sinks::ContentDigest;
use crate::sources::pcap::Frame;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The running digest of one file and the known files it could contain.
pub struct ContentTracker {
    hasher: Sha256,
    records: u64,
    /// Known complete files by their record count: (id, digest).
    known: HashMap<u64, Vec<(i64, [u8; 32])>>,
}

impl ContentTracker {
    /// A tracker comparing against these known files (`(id, digest)`), except `this` (the
    /// file being read, when it was known before).
    pub fn new(known: Vec<(i64, ContentDigest)>, this: i64) -> ContentTracker {
        let mut by_records: HashMap<u64, Vec<(i64, [u8; 32])>> = HashMap::new();
        for (id, digest) in known {
            if id != this && digest.records > 0 {
                by_records.entry(digest.records).or_default().push((id, digest.sha256));
            }
        }
        ContentTracker { hasher: Sha256::new(), records: 0, known: by_records }
    }

    /// Takes the next record; returns the ids of known files whose records are exactly the
    /// records taken so far.
    pub fn record(&mut self, frame: &Frame<'_>) -> Vec<i64> {
        self.hasher.update(frame.link_type.to_le_bytes());
        self.hasher.update(frame.ts_ns.to_le_bytes());
        self.hasher.update(frame.orig_len.to_le_bytes());
        self.hasher.update((frame.data.len() as u64).to_le_bytes());
        self.hasher.update(frame.data);
        self.records += 1;
        let Some(candidates) = self.known.get(&self.records) else { return Vec::new() };
        let digest: [u8; 32] = self.hasher.clone().finalize().into();
        candidates.iter().filter(|(_, d)| *d == digest).map(|(id, _)| *id).collect()
    }

    /// The digest of every record taken.
    pub fn finish(self) -> ContentDigest {
        ContentDigest { records: self.records, sha256: self.hasher.finalize().into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64, data: &[u8]) -> Frame<'_> {
        Frame { number: n, ts_ns: n as i64 * 1000, link_type: 1, data, orig_len: data.len() as u32 }
    }

    fn digest_of(frames: &[Frame<'_>]) -> ContentDigest {
        let mut t = ContentTracker::new(Vec::new(), 0);
        for f in frames {
            t.record(f);
        }
        t.finish()
    }

    #[test]
    fn a_prefix_is_recognised_at_its_last_record_and_nowhere_else() {
        let frames: Vec<Frame<'_>> = (1..=5).map(|n| frame(n, b"packet")).collect();
        let prefix = digest_of(&frames[..3]);
        let whole = digest_of(&frames);
        let other = digest_of(&[frame(1, b"packet"), frame(2, b"packet"), frame(3, b"other!")]);
        let mut t = ContentTracker::new(vec![(7, prefix), (8, whole), (9, other)], 0);
        let found: Vec<Vec<i64>> = frames.iter().map(|f| t.record(f)).collect();
        assert_eq!(found, vec![vec![], vec![], vec![7], vec![], vec![8]]);
        assert_eq!(t.finish(), whole);
    }

    #[test]
    fn the_file_itself_and_empty_files_match_nothing() {
        let frames = [frame(1, b"x")];
        let d = digest_of(&frames);
        let empty = digest_of(&[]);
        let mut t = ContentTracker::new(vec![(3, d), (4, empty)], 3);
        assert!(t.record(&frames[0]).is_empty());
    }

    #[test]
    fn time_and_length_are_part_of_a_record() {
        let a = digest_of(&[frame(1, b"x")]);
        let mut moved = frame(1, b"x");
        moved.ts_ns += 1;
        assert_ne!(a, digest_of(&[moved]));
        let mut cut = frame(1, b"x");
        cut.orig_len = 100;
        assert_ne!(a, digest_of(&[cut]));
    }
}
