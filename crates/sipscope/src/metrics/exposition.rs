//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines once per
//! family, then one sample per line, label values and help text escaped as the format says.
//! [`parse`] reads it back (strictly: what it refuses, Prometheus would too), for tests of
//! this crate and of anyone scraping it.

use std::fmt::Write;

/// The `Content-Type` of a scrape's answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    /// The name in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Text being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Empty.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its help and type lines.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample of an integer value.
    pub fn int(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<i128>) {
        self.name_and_labels(name, labels);
        let _ = writeln!(self.out, " {}", value.into());
    }

    /// One sample of a floating-point value.
    pub fn float(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.name_and_labels(name, labels);
        let _ = writeln!(self.out, " {}", format_float(value));
    }

    fn name_and_labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.out.push_str(name);
        if labels.is_empty() {
            return;
        }
        self.out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
        }
        self.out.push('}');
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value escaped: backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Help text escaped: backslash and line feed.
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A float as the format writes it (`+Inf`, `-Inf`, `NaN`, else Rust's shortest form).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// One sample read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its name (with `_bucket`, `_sum`, `_count` for histograms).
    pub name: String,
    /// Its labels in order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A parsed exposition: the families' types and every sample.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Family name and type, in order.
    pub types: Vec<(String, String)>,
    /// Family names that have a help line.
    pub helps: Vec<String>,
    /// Every sample.
    pub samples: Vec<Sample>,
}

impl Parsed {
    /// The sum of the samples named `name` whose labels include every pair of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
            .map(|s| s.value)
            .sum()
    }
}

/// Reads an exposition back, checking what Prometheus checks: names, one TYPE per family
/// before its samples, label syntax and escapes, values, and that every sample belongs to a
/// declared family. Timestamps are not written by sipscope and refused.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').ok_or_else(|| at("help without text".into()))?;
            check_name(name).map_err(at)?;
            if p.helps.iter().any(|h| h == name) {
                return Err(at("second HELP".into()));
            }
            p.helps.push(name.into());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| at("type without kind".into()))?;
            check_name(name).map_err(at)?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if p.types.iter().any(|(t, _)| t == name) || p.samples.iter().any(|s| family_of(&s.name, &p) == Some(name))
            {
                return Err(at("TYPE after its samples or twice".into()));
            }
            p.types.push((name.into(), kind.into()));
        } else if line.starts_with('#') {
            continue;
        } else {
            let sample = parse_sample(line).map_err(at)?;
            if family_of(&sample.name, &p).is_none() {
                return Err(at("sample of an undeclared family".into()));
            }
            p.samples.push(sample);
        }
    }
    Ok(p)
}

/// The declared family a sample name belongs to.
fn family_of<'a>(sample: &str, p: &'a Parsed) -> Option<&'a str> {
    p.types.iter().find_map(|(name, kind)| {
        let matches = sample == name
            || (kind == "histogram"
                && ["_bucket", "_sum", "_count"].iter().any(|s| sample.strip_suffix(s) == Some(name.as_str())));
        matches.then_some(name.as_str())
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let (name, mut rest) = line.split_at(end);
    check_name(name)?;
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("label without =")?;
            let key = &rest[..eq];
            check_name(key)?;
            if key.contains(':') || labels.iter().any(|(k, _): &(String, String)| k == key) {
                return Err(format!("bad or repeated label name {key:?}"));
            }
            rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let close = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        _ => return Err("bad escape in a label value".into()),
                    },
                    Some((_, '\n')) | None => return Err("unterminated label value".into()),
                    Some((_, c)) => value.push(c),
                }
            };
            labels.push((key.to_owned(), value));
            rest = &rest[close + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    if value.contains(' ') {
        return Err("a timestamp or trailing text".into());
    }
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse::<f64>().map_err(|_| format!("bad value {v:?}"))?,
    };
    Ok(Sample { name: name.to_owned(), labels, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_with_escapes() {
        let mut e = Exposition::new();
        e.family("x_total", "Lines with \\ and\nbreaks.", Kind::Counter);
        e.int("x_total", &[("a", "q\"uo\\te\nnl"), ("b", "plain")], 3u64);
        e.int("x_total", &[], 0u64);
        e.family("lag_seconds", "Lag.", Kind::Gauge);
        e.float("lag_seconds", &[], 0.125);
        e.float("lag_seconds", &[("k", "inf")], f64::INFINITY);
        let text = e.finish();
        assert!(text.contains("# HELP x_total Lines with \\\\ and\\nbreaks.\n"));
        assert!(text.contains("x_total{a=\"q\\\"uo\\\\te\\nnl\",b=\"plain\"} 3\n"));
        assert!(text.contains("lag_seconds{k=\"inf\"} +Inf\n"));
        let p = parse(&text).unwrap();
        assert_eq!(p.samples.len(), 4);
        assert_eq!(p.samples[0].label("a"), Some("q\"uo\\te\nnl"));
        assert_eq!(p.sum("x_total", &[("b", "plain")]), 3.0);
        assert_eq!(p.sum("lag_seconds", &[]), f64::INFINITY);
        assert_eq!(p.types, [("x_total".into(), "counter".into()), ("lag_seconds".into(), "gauge".into())]);
    }

    #[test]
    fn the_parser_refuses_what_prometheus_refuses() {
        for bad in [
            "x 1\n",                                     // no TYPE
            "# TYPE x counter\nx{a=b} 1\n",              // unquoted
            "# TYPE x counter\nx{a=\"b\\q\"} 1\n",       // bad escape
            "# TYPE x counter\nx{a=\"b\",a=\"c\"} 1\n",  // repeated label
            "# TYPE x counter\nx 1 1700000000\n",        // timestamp
            "# TYPE x counter\nx one\n",                 // value
            "# TYPE 1x counter\n",                       // name
            "# TYPE x counter\nx 1\n# TYPE x counter\n", // twice
            "# TYPE x wobbly\n",                         // type
            "# TYPE x counter\nx{a=\"b\"\n",             // unterminated
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        let ok = parse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n").unwrap();
        assert_eq!(ok.samples.len(), 3);
    }

    #[test]
    fn floats() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.0005), "0.0005");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
    }
}
