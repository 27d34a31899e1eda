//! The dashboard's files, embedded in the binary (`include_bytes!`; no CDN, nothing fetched at
//! run time): the page (`static/index.html`), its scripts and style, and the vendored chart
//! library (`assets/charts/`, shared with the HTML report, see `scripts/update-chart-lib.sh`).
//! The server mounts [`asset`] at `/` (`index.html`) and `/assets/<name>`.
//!
//! The page is written for a strict Content-Security-Policy (`default-src 'self'`): no inline
//! script or style, no `eval`; it builds every element with `createElement` and puts attacker
//! text in with `textContent` only (`static/dom.js`), and charts draw on canvases.
//! docs/dashboard.md describes the pages.

/// (name under `/assets/`, bytes, content type).
const FILES: [(&str, &[u8], &str); 14] = [
    ("index.html", include_bytes!("static/index.html"), HTML),
    ("favicon.svg", include_bytes!("static/favicon.svg"), SVG),
    ("app.css", include_bytes!("static/app.css"), CSS),
    ("dom.js", include_bytes!("static/dom.js"), JS),
    ("api.js", include_bytes!("static/api.js"), JS),
    ("views.js", include_bytes!("static/views.js"), JS),
    ("source.js", include_bytes!("static/source.js"), JS),
    ("live.js", include_bytes!("static/live.js"), JS),
    ("app.js", include_bytes!("static/app.js"), JS),
    ("chart.umd.min.js", include_bytes!("../../../assets/charts/chart.umd.min.js"), JS),
    ("chartjs-plugin-zoom.min.js", include_bytes!("../../../assets/charts/chartjs-plugin-zoom.min.js"), JS),
    ("chartjs-chart-matrix.min.js", include_bytes!("../../../assets/charts/chartjs-chart-matrix.min.js"), JS),
    ("sipscope-charts.js", include_bytes!("../../../assets/charts/sipscope-charts.js"), JS),
    ("chart-licenses.txt", include_bytes!("../../../assets/charts/LICENSES.txt"), TEXT),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";
const TEXT: &str = "text/plain; charset=utf-8";

/// The file at `path` (`index.html`, `app.js` …) and its content type; `None` when there is
/// no such file (any other name, `..`, a leading `/`: names are compared exactly).
pub fn asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    FILES.iter().find(|(name, _, _)| *name == path).map(|(_, bytes, kind)| (*bytes, *kind))
}

/// Every file's name (for tests and docs).
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _, _)| *name)
}

#[cfg(test)]
mod tests;
