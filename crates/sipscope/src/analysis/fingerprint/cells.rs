//! The position-by-position merge of 004 §IV.B: a value is a row of cells, each either a byte
//! every packet agreed on or a placeholder. Merging is an intersection per position, so the
//! result depends only on the set of values merged, never on their order.

use std::fmt::Write as _;

/// The placeholder in readable text (the paper's dash). Structured access
/// ([`Cells::get`]) keeps it apart from a literal `-`.
pub const PLACEHOLDER: char = '-';

/// A merged row of at most `cap` cells. Bytes at placeholder positions are `-`; the bit set
/// says which positions are placeholders (bytes + bits: ~1.1 byte per cell, where an
/// `Option<u8>` would take two). Words of the bit set past its end are zero: a row without
/// placeholders (most rows of a short flow) holds no bit set at all.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    bytes: Vec<u8>,
    holes: Vec<u64>,
}

impl PartialEq for Cells {
    fn eq(&self, other: &Cells) -> bool {
        let words = self.holes.len().max(other.holes.len());
        self.bytes == other.bytes && (0..words).all(|w| self.word(w) == other.word(w))
    }
}

impl Eq for Cells {}

impl Cells {
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.holes.capacity() * 8
    }

    /// Cells of one value, no placeholder.
    pub fn from_bytes(value: &[u8]) -> Cells {
        Cells { bytes: value.to_vec(), holes: Vec::new() }
    }

    /// Word `w` of the bit set.
    fn word(&self, w: usize) -> u64 {
        self.holes.get(w).copied().unwrap_or(0)
    }

    /// The bit set long enough for position `i`.
    fn holes_to(&mut self, i: usize) -> &mut [u64] {
        if self.holes.len() <= i / 64 {
            self.holes.resize(i / 64 + 1, 0);
        }
        &mut self.holes
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when there is no position at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The byte at `i`; `None` for a placeholder or past the end.
    pub fn get(&self, i: usize) -> Option<u8> {
        let b = *self.bytes.get(i)?;
        (self.word(i / 64) & (1 << (i % 64)) == 0).then_some(b)
    }

    /// Every position in order (`None`: placeholder).
    pub fn iter(&self) -> impl Iterator<Item = Option<u8>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Number of placeholder positions.
    pub fn holes(&self) -> usize {
        self.holes.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn punch(&mut self, i: usize) {
        self.holes_to(i)[i / 64] |= 1 << (i % 64);
        self.bytes[i] = b'-';
    }

    /// Merges one more value, given as its bytes in position order (front to back for the
    /// paper's left-aligned merge, back to front for the right-aligned one), keeping at most
    /// `cap` of them. A position only some values reach becomes a placeholder.
    pub fn merge(&mut self, value: impl Iterator<Item = u8>, cap: usize) {
        let old = self.bytes.len();
        let mut n = 0;
        for (i, b) in value.take(cap).enumerate() {
            n = i + 1;
            if i >= old {
                self.bytes.push(b);
                // Earlier values were shorter: they disagree here.
                self.punch(i);
            } else if self.get(i) != Some(b) {
                self.punch(i);
            }
        }
        for i in n..old {
            self.punch(i);
        }
    }

    /// Whether the row is `value` itself: no placeholder, the same bytes. Merging that value
    /// again changes nothing.
    fn is_exactly(&self, value: &[u8]) -> bool {
        // A placeholder rules it out at once: rows of values that vary have them.
        self.holes.iter().all(|&w| w == 0) && self.bytes == value
    }

    /// [`Cells::merge`] of `value` front to back, eight bytes at a time.
    pub fn merge_front(&mut self, value: &[u8], cap: usize) {
        let value = &value[..value.len().min(cap)];
        if self.is_exactly(value) {
            return;
        }
        self.merge_with(value.len(), |i| word(value, i), |i| value[i]);
    }

    /// [`Cells::merge`] of `value` back to front (position 0 is its last byte).
    pub fn merge_back(&mut self, value: &[u8], cap: usize) {
        let n = value.len().min(cap);
        let last = value.len();
        // Position i holds value[last - 1 - i]: the eight positions from i are the eight bytes
        // ending at last - i, reversed.
        self.merge_with(n, |i| word(value, last - i - 8).swap_bytes(), |i| value[last - 1 - i]);
    }

    /// The merge of a value of `n` bytes (after the cap), read eight positions at a time by
    /// `word(i)` (positions i..i + 8, the first in the low byte) or one by `byte(i)`. A position
    /// whose byte differs becomes a placeholder: a placeholder's byte is `-`, so a value with
    /// `-` there leaves it as it is, and any other byte punches it again, which changes nothing.
    fn merge_with(&mut self, n: usize, word: impl Fn(usize) -> u64, byte: impl Fn(usize) -> u8) {
        let old = self.bytes.len();
        let common = old.min(n);
        let mut i = 0;
        while i + 8 <= common {
            let differ = differing_bytes(word(i) ^ u64::from_le_bytes(self.bytes[i..i + 8].try_into().expect("8")));
            // Only positions that are not placeholders yet (i is a multiple of 8: one word).
            let fresh = differ & !((self.word(i / 64) >> (i % 64)) & 0xff) as u8;
            if fresh != 0 {
                self.holes_to(i)[i / 64] |= u64::from(fresh) << (i % 64);
                for k in 0..8 {
                    if fresh & (1 << k) != 0 {
                        self.bytes[i + k] = b'-';
                    }
                }
            }
            i += 8;
        }
        for i in i..common {
            if self.bytes[i] != byte(i) {
                self.punch(i);
            }
        }
        if n > old {
            // Earlier values were shorter: they disagree here.
            self.bytes.resize(n, b'-');
            self.punch_range(old, n);
        } else {
            self.punch_range(n, old);
        }
    }

    /// Makes positions `from..to` placeholders.
    fn punch_range(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        self.bytes[from..to].fill(b'-');
        let holes = self.holes_to(to - 1);
        for i in from..to {
            holes[i / 64] |= 1 << (i % 64);
        }
    }

    /// Replaces the contents by `value`'s first `cap` bytes (the first value merged).
    pub fn set_front(&mut self, value: &[u8], cap: usize) {
        let value = &value[..value.len().min(cap)];
        self.bytes.clear();
        self.bytes.extend_from_slice(value);
        self.holes.clear();
    }

    /// Replaces the contents by `value`'s last `cap` bytes, back to front.
    pub fn set_back(&mut self, value: &[u8], cap: usize) {
        let value = &value[value.len() - value.len().min(cap)..];
        self.bytes.clear();
        self.bytes.extend(value.iter().rev());
        self.holes.clear();
    }

    /// The same cells back to front.
    fn reversed(&self) -> Cells {
        let n = self.len();
        let mut out = Cells { bytes: self.bytes.iter().rev().copied().collect(), holes: Vec::new() };
        for i in (0..n).filter(|&i| self.get(i).is_none()) {
            out.punch(n - 1 - i);
        }
        out
    }

    /// Replaces the contents by one value (the first one merged).
    pub fn set(&mut self, value: impl Iterator<Item = u8>, cap: usize) {
        self.bytes.clear();
        self.bytes.extend(value.take(cap));
        self.holes.clear();
    }

    /// Readable text: printable ASCII as is, `\\` for a backslash, `\xNN` for any other byte,
    /// [`PLACEHOLDER`] for a placeholder. Every byte survives; only a literal `-` and a
    /// placeholder look alike, as in the paper.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.len());
        for cell in self.iter() {
            match cell {
                None => out.push(PLACEHOLDER),
                Some(b'\\') => out.push_str("\\\\"),
                Some(b @ 0x20..=0x7e) => out.push(char::from(b)),
                Some(b) => {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
        }
        out
    }
}

/// Eight bytes of `value` from `i`, the first in the low byte.
fn word(value: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(value[i..i + 8].try_into().expect("8 bytes"))
}

/// Bit k set when byte k of `x` is not zero.
fn differing_bytes(x: u64) -> u8 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte: set when the byte is not zero.
    let high = (((x & LOW7) + LOW7) | x) & !LOW7;
    // Gather the eight high bits into one byte.
    ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// One key's values merged over a flow: the paper's left-aligned row plus a right-aligned row,
/// because a field of varying length (an extension, a random decimal) turns everything after it
/// into placeholders in the left-aligned row while its end is still constant (`@DestIP>`).
#[derive(Debug, Clone, Default)]
pub struct MergedValue {
    head: Cells,
    /// Stored back to front: position 0 is the last byte. None while every value had the
    /// same length within the cap: the right-aligned row is then the left-aligned one
    /// reversed, and is not kept twice.
    tail: Option<Box<Cells>>,
    min_len: usize,
    max_len: usize,
    present: u64,
}

impl PartialEq for MergedValue {
    fn eq(&self, other: &MergedValue) -> bool {
        (self.head == other.head && self.min_len == other.min_len && self.max_len == other.max_len)
            && (self.present == other.present && *self.tail() == *other.tail())
    }
}

impl Eq for MergedValue {}

impl MergedValue {
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.head.heap_bytes() + self.tail.as_ref().map_or(0, |t| std::mem::size_of::<Cells>() + t.heap_bytes())
    }

    /// A value seen once, unchanged (what the matcher compares a library pattern with when the
    /// fingerprint has no merged row for it, e.g. the method list).
    pub fn constant(value: &[u8], cap: usize) -> MergedValue {
        let mut merged = MergedValue::default();
        merged.add(value, cap);
        merged
    }

    /// Merges one packet's value, keeping `cap` positions at each end.
    pub fn add(&mut self, value: &[u8], cap: usize) {
        if self.present == 0 {
            self.head.set_front(value, cap);
            self.tail = (value.len() > cap).then(|| {
                let mut tail = Cells::default();
                tail.set_back(value, cap);
                Box::new(tail)
            });
            (self.min_len, self.max_len) = (value.len(), value.len());
        } else if self.tail.is_none() && value.len() == self.max_len && self.head.is_exactly(value) {
            // Every value so far was this one (one length within the cap, no placeholder):
            // merging it again changes no cell.
        } else {
            if self.tail.is_none() && (value.len() != self.max_len || value.len() > cap) {
                // The values so far had one length within the cap: the tail is the head
                // reversed, until now.
                self.tail = Some(Box::new(self.head.reversed()));
            }
            self.head.merge_front(value, cap);
            if let Some(tail) = &mut self.tail {
                tail.merge_back(value, cap);
            }
            self.min_len = self.min_len.min(value.len());
            self.max_len = self.max_len.max(value.len());
        }
        self.present += 1;
    }

    /// The paper's row: merged from the front.
    pub fn head(&self) -> &Cells {
        &self.head
    }

    /// The row merged from the back, in back-to-front order.
    pub fn tail(&self) -> std::borrow::Cow<'_, Cells> {
        match &self.tail {
            Some(tail) => std::borrow::Cow::Borrowed(tail),
            None => std::borrow::Cow::Owned(self.head.reversed()),
        }
    }

    /// The readable text of the paper's row.
    pub fn text(&self) -> String {
        self.head.text()
    }

    /// Packets that carried this key.
    pub fn present(&self) -> u64 {
        self.present
    }

    /// Shortest value seen, in bytes after address substitution (before the cap).
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// Longest value seen, in bytes after address substitution (before the cap).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// True when every packet had exactly the same value (within the cap).
    pub fn is_constant(&self) -> bool {
        self.min_len == self.max_len && self.head.holes() == 0
    }
}
