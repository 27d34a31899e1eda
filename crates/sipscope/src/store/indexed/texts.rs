//! Text interned for the index: each distinct byte string once, named by a number; compared
//! as bytes, handed out as the readers hand text out (invalid UTF-8 replaced).

use ahash::AHashMap;
use std::sync::Arc;

/// Distinct texts by number.
#[derive(Debug, Default)]
pub(super) struct Texts {
    names: Vec<Arc<[u8]>>,
    ids: AHashMap<Arc<[u8]>, u32>,
    bytes: usize,
}

impl Texts {
    /// The number of `bytes`, added when new; `None` past `u32::MAX` texts.
    pub fn intern(&mut self, bytes: &[u8]) -> Option<u32> {
        if let Some(&id) = self.ids.get(bytes) {
            return Some(id);
        }
        let id = u32::try_from(self.names.len()).ok()?;
        let kept: Arc<[u8]> = Arc::from(bytes);
        self.bytes += bytes.len() + 48;
        self.names.push(Arc::clone(&kept));
        self.ids.insert(kept, id);
        Some(id)
    }

    /// The number of `bytes`, when held.
    pub fn id(&self, bytes: &[u8]) -> Option<u32> {
        self.ids.get(bytes).copied()
    }

    /// The bytes of text `id` (empty for a number never handed out).
    pub fn bytes(&self, id: u32) -> &[u8] {
        self.names.get(id as usize).map_or(&[], |b| b)
    }

    /// Text `id` as the readers hand it out.
    pub fn lossy(&self, id: u32) -> String {
        String::from_utf8_lossy(self.bytes(id)).into_owned()
    }

    /// Bytes held, approximately.
    pub fn held(&self) -> usize {
        self.bytes
    }

    /// Compares two texts by their bytes (SQLite's BINARY collation).
    pub fn cmp(&self, a: u32, b: u32) -> std::cmp::Ordering {
        self.bytes(a).cmp(self.bytes(b))
    }

    /// Compares two optional texts, none first (SQL's NULLs in ascending order).
    pub fn cmp_opt(&self, a: Option<u32>, b: Option<u32>) -> std::cmp::Ordering {
        a.map(|a| self.bytes(a)).cmp(&b.map(|b| self.bytes(b)))
    }
}
