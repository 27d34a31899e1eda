//! A self-contained HTML report: inline CSS, the vendored chart library (Chart.js with its
//! zoom and matrix plugins, `assets/charts/`, see `scripts/update-chart-lib.sh`) and the charts'
//! data inline, nothing fetched. Every text is HTML-escaped; chart data travels as JSON inside
//! a `<script type="application/json">` element with `<`, `>` and `&` escaped, read with
//! `JSON.parse` and drawn on canvases (labels and tooltips are canvas text, never markup).
//! A chart or table with nothing in it says "no data" instead of drawing an empty frame.

use crate::output::escape::html as esc;
use crate::reports::model::{Chart, Report, Table};

/// The vendored library and the shared drawing code, in load order: (name, text). The same
/// files the dashboard serves under `/assets/`.
pub const SCRIPTS: [(&str, &str); 4] = [
    ("chart.js 4.6.2", include_str!("../../../assets/charts/chart.umd.min.js")),
    ("chartjs-plugin-zoom 2.2.0", include_str!("../../../assets/charts/chartjs-plugin-zoom.min.js")),
    ("chartjs-chart-matrix 3.1.0", include_str!("../../../assets/charts/chartjs-chart-matrix.min.js")),
    ("sipscope-charts", include_str!("../../../assets/charts/sipscope-charts.js")),
];

const STYLE: &str =
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
    td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}td.n{text-align:right}th{background:#f0f0f0}\
    section{margin-bottom:2.5em}nav a{margin-right:1em}.note{color:#666;font-size:12px}\
    figure{margin:1em 0}.chart-box{position:relative;height:320px;max-width:900px}\
    .chart-box.square{height:420px;max-width:480px}.hint{color:#888;font-size:11px;margin:2px 0}\
    .no-data{color:#888;font-style:italic}";

/// The page.
pub fn html(report: &Report) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sipscope report</title>\n\
         <style>{STYLE}</style></head><body>\n<h1>sipscope report</h1>\n<nav>"
    );
    for s in &report.sections {
        out.push_str(&format!("<a href=\"#{0}\">{1}</a>", esc(&s.name), esc(&s.title)));
    }
    out.push_str("</nav>\n");
    let mut charts: Vec<&Chart> = Vec::new();
    for s in &report.sections {
        out.push_str(&format!("<section id=\"{}\" class=\"section\"><h2>{}</h2>\n", esc(&s.name), esc(&s.title)));
        for c in &s.charts {
            out.push_str(&figure(c, charts.len()));
            if has_data(c) {
                charts.push(c);
            }
        }
        for t in &s.tables {
            out.push_str(&table(t));
        }
        for n in &s.notes {
            out.push_str(&format!("<p class=\"note\">{}</p>\n", esc(n)));
        }
        for (name, text) in &s.attachments {
            out.push_str(&format!("<details><summary>{}</summary><pre>{}</pre></details>\n", esc(name), esc(text)));
        }
        out.push_str("</section>\n");
    }
    if !charts.is_empty() {
        out.push_str(&format!(
            "<script type=\"application/json\" id=\"sipscope-charts\">{}</script>\n",
            chart_json(&charts)
        ));
        for (name, text) in SCRIPTS {
            out.push_str(&format!("<script data-lib=\"{name}\">{text}</script>\n"));
        }
        out.push_str("<script data-lib=\"draw\">window.SipscopeCharts.drawAll(document);</script>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// The charts as JSON that cannot end its `<script>` element or open a comment: `<`, `>` and
/// `&` stand only inside strings, where `\u` escapes mean the same.
pub fn chart_json<T: serde::Serialize + ?Sized>(charts: &T) -> String {
    let json = crate::output::json::inert(serde_json::to_string(charts).unwrap_or_else(|_| "[]".into()));
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// Whether a chart has anything to draw (the same test as `hasData` in sipscope-charts.js).
pub fn has_data(c: &Chart) -> bool {
    match c {
        Chart::Bars { labels, series, .. } => {
            !labels.is_empty() && series.iter().any(|(_, v)| v.iter().any(|x| x.is_finite() && *x != 0.0))
        }
        Chart::Bubbles { points, .. } => !points.is_empty(),
        Chart::Matrix { labels, .. } => !labels.is_empty(),
        Chart::Hilbert { cells, .. } => !cells.is_empty(),
    }
}

fn title_of(c: &Chart) -> &str {
    match c {
        Chart::Bars { title, .. }
        | Chart::Bubbles { title, .. }
        | Chart::Matrix { title, .. }
        | Chart::Hilbert { title, .. } => title,
    }
}

/// A chart's place on the page: a canvas that the script fills with chart number `index`, or
/// "no data".
fn figure(c: &Chart, index: usize) -> String {
    let title = esc(title_of(c));
    if !has_data(c) {
        return format!("<p class=\"no-data\">{title}: no data</p>\n");
    }
    let hint = match c {
        Chart::Bars { labels, .. } if labels.len() > 1 && labels.iter().all(|l| is_date(l)) => {
            "drag or scroll to zoom, double-click to reset"
        }
        Chart::Bars { .. } | Chart::Matrix { .. } => "hover for values",
        Chart::Bubbles { .. } => "hover for values; drag or scroll to zoom, double-click to reset",
        Chart::Hilbert { .. } => {
            "blue: hit first, red: hit last; hover for values; drag or scroll to zoom, double-click to reset"
        }
    };
    format!(
        "<figure><figcaption>{title}</figcaption><div class=\"chart-box\"><canvas data-chart=\"{index}\" \
         role=\"img\" aria-label=\"{title}\"></canvas></div><p class=\"hint\">{hint}</p></figure>\n"
    )
}

fn is_date(label: &str) -> bool {
    let b = label.as_bytes();
    b.len() >= 10
        && b.iter().take(10).enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

fn table(t: &Table) -> String {
    let mut out = String::new();
    if !t.title.is_empty() {
        out.push_str(&format!("<h3>{}</h3>\n", esc(&t.title)));
    }
    if t.rows.is_empty() {
        out.push_str("<p class=\"no-data\">no data</p>\n");
        return out;
    }
    out.push_str("<table><tr>");
    for c in &t.columns {
        out.push_str(&format!("<th>{}</th>", esc(c)));
    }
    out.push_str("</tr>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = if cell.is_number() { " class=\"n\"" } else { "" };
            out.push_str(&format!("<td{class}>{}</td>", esc(&cell.display())));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests;
