//! A self-contained HTML report: inline CSS and SVG, no scripts, no external assets. Every
//! text is HTML-escaped.

use crate::output::escape::html as esc;
use crate::reports::model::{Chart, Report, Table};

const PALETTE: [&str; 8] = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"];

/// The page.
pub fn html(report: &Report) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sipscope report</title>\n<style>\
         body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
         td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}td.n{text-align:right}th{background:#f0f0f0}\
         section{margin-bottom:2.5em}nav a{margin-right:1em}.note{color:#666;font-size:12px}\
         </style></head><body>\n<h1>sipscope report</h1>\n<nav>",
    );
    for s in &report.sections {
        out.push_str(&format!("<a href=\"#{0}\">{1}</a>", esc(&s.name), esc(&s.title)));
    }
    out.push_str("</nav>\n");
    for s in &report.sections {
        out.push_str(&format!("<section id=\"{}\" class=\"section\"><h2>{}</h2>\n", esc(&s.name), esc(&s.title)));
        for c in &s.charts {
            out.push_str(&chart(c));
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
    out.push_str("</body></html>\n");
    out
}

fn table(t: &Table) -> String {
    let mut out = String::new();
    if !t.title.is_empty() {
        out.push_str(&format!("<h3>{}</h3>\n", esc(&t.title)));
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

fn chart(c: &Chart) -> String {
    match c {
        Chart::Bars { title, labels, series } => bars(title, labels, series),
        Chart::Matrix { title, labels, values } => matrix(title, labels, values),
        Chart::Bubbles { title, axes, points } => bubbles(title, axes, points),
        Chart::Hilbert { title, side, cells } => hilbert(title, *side, cells),
    }
}

fn hilbert(title: &str, side: u32, cells: &[(u32, u32, f64)]) -> String {
    let px = 12.0;
    let size = f64::from(side) * px;
    let mut out = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" role=\"img\">\n\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#eee\"/>\n",
        esc(title)
    );
    for (x, y, t) in cells {
        // First hits blue, last red.
        let (r, b) = ((t * 255.0) as u8, ((1.0 - t) * 255.0) as u8);
        out.push_str(&format!(
            "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{px}\" height=\"{px}\" fill=\"rgb({r},60,{b})\"/>\n",
            f64::from(*x) * px,
            f64::from(*y) * px
        ));
    }
    out.push_str("</svg><br><span style=\"color:rgb(0,60,255)\">■ first</span> <span style=\"color:rgb(255,60,0)\">■ last</span></figure>\n");
    out
}

fn bubbles(title: &str, axes: &(String, String), points: &[(String, f64, f64, f64)]) -> String {
    let (w, h, pad) = (720.0, 300.0, 40.0);
    let range = |f: fn(&(String, f64, f64, f64)) -> f64| {
        let lo = points.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (lo.min(0.0), lo.max(0.0) + 1.0)
        }
    };
    let ((x0, x1), (y0, y1)) = (range(|p| p.1), range(|p| p.2));
    let smax = points.iter().map(|p| p.3).fold(0.0, f64::max).max(1.0);
    let mut out = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">\n\
         <text x=\"{pad}\" y=\"{:.0}\" font-size=\"11\">{} →</text><text x=\"2\" y=\"12\" font-size=\"11\">↑ {}</text>\n",
        esc(title),
        h - 4.0,
        esc(&axes.0),
        esc(&axes.1)
    );
    for (label, x, y, size) in points {
        let cx = pad + (x - x0) / (x1 - x0) * (w - 2.0 * pad);
        let cy = h - pad - (y - y0) / (y1 - y0) * (h - 2.0 * pad);
        let r = 4.0 + 20.0 * (size / smax).sqrt();
        out.push_str(&format!(
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{r:.1}\" fill=\"#3366cc\" fill-opacity=\"0.5\"><title>{}</title></circle>\n",
            esc(label)
        ));
    }
    out.push_str("</svg></figure>\n");
    out
}

fn bars(title: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let (w, h, left, bottom) = (720.0, 260.0, 50.0, 60.0);
    let n = labels.len().max(1) as f64;
    let totals: Vec<f64> =
        (0..labels.len()).map(|i| series.iter().map(|(_, v)| v.get(i).copied().unwrap_or(0.0)).sum()).collect();
    let max = totals.iter().cloned().fold(0.0, f64::max).max(1.0);
    let bw = (w - left) / n;
    let mut out = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" role=\"img\">\n",
        esc(title),
        h + bottom
    );
    out.push_str(&format!("<text x=\"0\" y=\"12\" font-size=\"11\">{max:.0}</text><line x1=\"{left}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#999\"/>\n"));
    for (i, label) in labels.iter().enumerate() {
        let mut y = h;
        for (k, (name, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let bh = v / max * (h - 10.0);
            y -= bh;
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: {} {v}</title></rect>\n",
                left + i as f64 * bw + 1.0,
                (bw - 2.0).max(1.0),
                PALETTE[k % PALETTE.len()],
                esc(label),
                esc(name)
            ));
        }
        if labels.len() <= 40 || i % (labels.len() / 40 + 1) == 0 {
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(60 {:.1} {:.1})\">{}</text>\n",
                left + i as f64 * bw + 2.0,
                h + 12.0,
                left + i as f64 * bw + 2.0,
                h + 12.0,
                esc(label)
            ));
        }
    }
    out.push_str("</svg>");
    for (k, (name, _)) in series.iter().enumerate() {
        out.push_str(&format!("<span style=\"color:{}\">■ {}</span> ", PALETTE[k % PALETTE.len()], esc(name)));
    }
    out.push_str("</figure>\n");
    out
}

fn matrix(title: &str, labels: &[String], values: &[Vec<f64>]) -> String {
    let (cell, left, top) = (28.0, 120.0, 90.0);
    let width = left + cell * labels.len() as f64 + 10.0;
    let height = top + cell * labels.len() as f64 + 10.0;
    let max = values.iter().flatten().cloned().fold(0.0, f64::max).max(1.0);
    let mut out = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\">\n",
        esc(title)
    );
    for (c, label) in labels.iter().enumerate() {
        let x = left + c as f64 * cell + 18.0;
        out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(-60 {x:.1} {:.1})\">{}</text>\n",
            top - 4.0,
            top - 4.0,
            esc(label)
        ));
    }
    for (r, row) in values.iter().enumerate() {
        let y = top + r as f64 * cell;
        out.push_str(&format!("<text x=\"0\" y=\"{:.1}\" font-size=\"10\">{}</text>\n", y + 18.0, esc(&labels[r])));
        for (c, v) in row.iter().enumerate() {
            let shade = 255 - (v / max * 200.0) as u8;
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({shade},{shade},255)\" stroke=\"#fff\"><title>{} × {}: {v}</title></rect>\n",
                left + c as f64 * cell,
                esc(&labels[r]),
                esc(&labels[c])
            ));
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{v}</text>\n",
                left + c as f64 * cell + cell / 2.0,
                y + 18.0
            ));
        }
    }
    out.push_str("</svg></figure>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacker_text_cannot_open_tags() {
        assert_eq!(esc("<script>alert('x')</script>&"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;");
        assert_eq!(esc("a\u{1b}b"), "a&#x1b;b");
    }
}
