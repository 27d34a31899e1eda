//! Non-overlapping byte ranges keyed by offset, filled first-wins: shared by IP
//! defragmentation and TCP reassembly.

use std::collections::BTreeMap;

/// How new data met what was already held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overlap {
    /// No byte was already held.
    None,
    /// Some bytes were already held (those were kept).
    Partial,
    /// Every byte was already held: a duplicate.
    Full,
}

#[derive(Debug, Default)]
pub(crate) struct Pieces {
    map: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
}

impl Pieces {
    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of pieces held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The ranges of `[start, start + len)` not yet held, and how the range overlaps.
    pub(crate) fn missing(&self, start: u64, len: usize) -> (Vec<(u64, u64)>, Overlap) {
        let end = start.saturating_add(len as u64);
        let mut holes = Vec::new();
        let mut cursor = start;
        let mut covered = false;
        let before = self.map.range(..start).next_back();
        for (&s, d) in before.into_iter().chain(self.map.range(start..end)) {
            let e = s.saturating_add(d.len() as u64);
            if e <= cursor {
                continue;
            }
            covered = true;
            if s > cursor {
                holes.push((cursor, s));
            }
            cursor = e;
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            holes.push((cursor, end));
        }
        let overlap = match (covered, holes.is_empty()) {
            (false, _) => Overlap::None,
            (true, true) => Overlap::Full,
            (true, false) => Overlap::Partial,
        };
        (holes, overlap)
    }

    /// Stores `data` at `start`, keeping bytes already held (first wins). Returns the number of
    /// new bytes and how the data overlapped.
    pub(crate) fn insert(&mut self, start: u64, data: &[u8]) -> (usize, Overlap) {
        let (holes, overlap) = self.missing(start, data.len());
        let mut added = 0;
        for (s, e) in holes {
            let from = (s - start) as usize;
            let to = (e - start) as usize;
            if let Some(part) = data.get(from..to) {
                added += part.len();
                self.map.insert(s, part.to_vec());
            }
        }
        self.bytes += added;
        (added, overlap)
    }

    /// Offset of the first piece.
    pub(crate) fn first_start(&self) -> Option<u64> {
        self.map.first_key_value().map(|(&s, _)| s)
    }

    /// End of the last piece.
    pub(crate) fn last_end(&self) -> Option<u64> {
        self.map.last_key_value().map(|(&s, d)| s.saturating_add(d.len() as u64))
    }

    /// Removes and returns the first piece.
    pub(crate) fn pop_first(&mut self) -> Option<(u64, Vec<u8>)> {
        let (s, d) = self.map.pop_first()?;
        self.bytes -= d.len();
        Some((s, d))
    }

    /// Removes and returns the last piece.
    pub(crate) fn pop_last(&mut self) -> Option<(u64, Vec<u8>)> {
        let (s, d) = self.map.pop_last()?;
        self.bytes -= d.len();
        Some((s, d))
    }

    /// Is `[0, total)` held completely (and nothing beyond it)?
    pub(crate) fn complete(&self, total: u64) -> bool {
        self.bytes as u64 == total && self.last_end().unwrap_or(0) <= total
    }

    /// All pieces concatenated in order.
    pub(crate) fn concat(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes);
        for d in self.map.into_values() {
            out.extend_from_slice(&d);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_wins_and_overlap_kinds() {
        let mut p = Pieces::default();
        assert_eq!(p.insert(10, b"abcde"), (5, Overlap::None));
        assert_eq!(p.insert(10, b"XXXXX"), (0, Overlap::Full));
        assert_eq!(p.insert(8, b"12345678"), (3, Overlap::Partial));
        assert_eq!(p.insert(0, b"01234567"), (8, Overlap::None));
        assert!(p.complete(16));
        assert!(!p.complete(17));
        assert_eq!(p.concat(), b"0123456712abcde8");
    }

    #[test]
    fn spans_several_holes() {
        let mut p = Pieces::default();
        p.insert(2, b"b");
        p.insert(5, b"e");
        assert_eq!(p.insert(0, b"0123456"), (5, Overlap::Partial));
        assert_eq!(p.len(), 5);
        assert_eq!(p.concat(), b"01b34e6");
    }
}
