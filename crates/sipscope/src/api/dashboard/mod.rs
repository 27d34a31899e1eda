//! The dashboard's files, embedded in the binary (helper F's module replaces this
//! placeholder): `asset(path)` gives a file's bytes and content type, `None` when there is
//! no such file.

/// The file at `path` (`index.html`, `app.js` …) and its content type.
pub fn asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    let _ = path;
    None
}
