//! A packet as the merge sees it, in one buffer: its method, its Request-URI and every key
//! with the name as written and the value, addresses already replaced. Every packet is merged
//! from such a record, and a flow keeps its first packet as one until a second comes (or the
//! flow ends): most flows of a telescope have a single packet, whose record is about its own
//! size where its merged form takes five times that.
//!
//! Layout: a flag byte, the number of keys (u32), then the end offsets (u32, into the data that
//! follows) of the method, the Request-URI and, per key, its key text, name and value; then the
//! data. All little-endian.

use std::ops::Range;

/// The packet was sent to its own address.
const SAME_IP: u8 = 1;
/// The packet's ports were equal.
const SAME_PORT: u8 = 2;
/// The packet has a Request-URI.
const HAS_URI: u8 = 4;
/// Bytes before the offsets.
const HEADER: usize = 5;

/// Builds a record in a reused buffer.
#[derive(Debug, Clone, Default)]
pub(super) struct RecordWriter {
    ends: Vec<u32>,
    data: Vec<u8>,
    flags: u8,
    keys: u32,
    /// The finished record.
    out: Vec<u8>,
}

impl RecordWriter {
    /// Starts a record.
    pub(super) fn start(&mut self, same_ip: bool, same_port: bool, method: &[u8], uri: Option<&[u8]>) {
        self.ends.clear();
        self.data.clear();
        self.keys = 0;
        self.flags = if same_ip { SAME_IP } else { 0 } | if same_port { SAME_PORT } else { 0 };
        self.push(method);
        if let Some(uri) = uri {
            self.flags |= HAS_URI;
            self.push(uri);
        } else {
            self.push(b"");
        }
    }

    /// Adds a key.
    pub(super) fn key(&mut self, key: &[u8], name: &[u8], value: &[u8]) {
        self.keys += 1;
        self.push(key);
        self.push(name);
        self.push(value);
    }

    fn push(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len() as u32);
    }

    /// The record.
    pub(super) fn finish(&mut self) -> &[u8] {
        self.out.clear();
        self.out.push(self.flags);
        self.out.extend_from_slice(&self.keys.to_le_bytes());
        for end in &self.ends {
            self.out.extend_from_slice(&end.to_le_bytes());
        }
        self.out.extend_from_slice(&self.data);
        &self.out
    }
}

/// A record read back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'a> {
    bytes: &'a [u8],
    keys: usize,
}

impl<'a> Record<'a> {
    /// The record in `bytes` (made by [`RecordWriter::finish`]); none if it is not one.
    pub(super) fn read(bytes: &'a [u8]) -> Option<Record<'a>> {
        let keys = u32::from_le_bytes(bytes.get(1..HEADER)?.try_into().ok()?) as usize;
        let record = Record { bytes, keys };
        // Every piece must be there: the accessors then only look up what was checked.
        (0..2 + 3 * keys).all(|i| record.piece(i).is_some()).then_some(record)
    }

    fn flags(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }

    /// Same address on both ends.
    pub(super) fn same_ip(&self) -> bool {
        self.flags() & SAME_IP != 0
    }

    /// Same port on both ends.
    pub(super) fn same_port(&self) -> bool {
        self.flags() & SAME_PORT != 0
    }

    /// The method (or status code).
    pub(super) fn method(&self) -> &'a [u8] {
        self.piece(0).unwrap_or_default()
    }

    /// The Request-URI, addresses replaced.
    pub(super) fn uri(&self) -> Option<&'a [u8]> {
        (self.flags() & HAS_URI != 0).then(|| self.piece(1).unwrap_or_default())
    }

    /// Keys in the packet.
    pub(super) fn keys(&self) -> usize {
        self.keys
    }

    /// Key `k`'s text.
    pub(super) fn key(&self, k: usize) -> &'a [u8] {
        self.piece(2 + 3 * k).unwrap_or_default()
    }

    /// Key `k`'s name as written and its value.
    pub(super) fn name_value(&self, k: usize) -> (&'a [u8], &'a [u8]) {
        (self.piece(3 + 3 * k).unwrap_or_default(), self.piece(4 + 3 * k).unwrap_or_default())
    }

    /// Piece `i` of the data.
    fn piece(&self, i: usize) -> Option<&'a [u8]> {
        let data = HEADER + 4 * (2 + 3 * self.keys);
        let start = if i == 0 { 0 } else { self.end(i - 1)? };
        let range: Range<usize> = data + start..data + self.end(i)?;
        self.bytes.get(range)
    }

    fn end(&self, i: usize) -> Option<usize> {
        let at = HEADER + 4 * i;
        Some(u32::from_le_bytes(self.bytes.get(at..at + 4)?.try_into().ok()?) as usize)
    }
}
