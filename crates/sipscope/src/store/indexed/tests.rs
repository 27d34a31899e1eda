//! The index against the plain SQLite reader.
