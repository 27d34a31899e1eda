//! What the readers that merge rows in Rust share. SQLite's GROUP BY, ORDER BY and
//! `count(DISTINCT …)` over tens of thousands of rows go through temporary B-trees, which were
//! most of a whole report's build for a time range never asked before (docs/benchmarks.md);
//! those readers read the rows once and merge them in hash maps or in index order instead.
//! They compare text as bytes, as SQLite's BINARY collation does, and only take values of the
//! types the writers store: anything else (`None` here) sends the question back to the SQL,
//! so the answers are always the SQL's.

use rusqlite::types::ValueRef;

/// The bytes of a text value; `None` for anything else.
pub(super) fn text_of(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Text(t) => Some(t),
        _ => None,
    }
}

/// A text or NULL value (`Some(None)` for NULL); `None` for anything else.
pub(super) fn nullable_text_of(v: ValueRef<'_>) -> Option<Option<&[u8]>> {
    match v {
        ValueRef::Null => Some(None),
        ValueRef::Text(t) => Some(Some(t)),
        _ => None,
    }
}

/// An integer value; `None` for anything else.
pub(super) fn integer_of(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    }
}

/// Text as the readers hand it out (invalid UTF-8 replaced, as `super::text` does).
pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
