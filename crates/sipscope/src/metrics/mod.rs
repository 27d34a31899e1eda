//! Prometheus metrics (helper G's module replaces this placeholder): `render()` gives the
//! text exposition of every metric.

/// The metrics in the Prometheus text exposition format.
pub fn render() -> String {
    String::new()
}
