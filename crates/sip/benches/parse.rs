//! Parse throughput of `sipscope_sip::parse` against published Rust SIP parsers, on the same
//! realistic message mix (`benches/messages/*.sip`: SIPVicious scans, a toll-fraud INVITE and
//! the answers a PBX sends back).
//!
//! Every iteration parses the whole mix once. Two groups report the same work two ways:
//! `parse_msgs` (Throughput::Elements → messages/s) and `parse_bytes` (Throughput::Bytes).
//!
//! Two tiers per parser, so like is compared with like:
//! - `*_parse`: what the crate's message parser produces on its own —
//!   sipscope: `parse()` (start line, header index, validation, anomalies);
//!   rsip: `SipMessage::try_from(&[u8])` (request-URI parsed, headers as untyped Strings);
//!   ezk: start line (URI parsed) + `Headers` map + Content-Length body split, the way
//!   ezk-sip-core decodes a datagram with `PullParser` / `MessageLine` / `Line`.
//! - `*_typed`: the above plus typed CSeq, From, To and every Via.
//!
//! `sipscope_anomalies` is `parse()` plus `anomalies()`: every check sipscope runs (typed
//! From/To/Contact/Via/CSeq, digest credentials, SDP, …), which the other crates do not do.
//!
//! `bench/parse-compare.sh` runs this and prints a table. Before measuring, every message is
//! checked to parse with every crate and the crates are checked to agree on CSeq, tags and Via
//! count, so no parser is timed on an error path.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The message mix, in file-name order.
fn messages() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/messages");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .sip files in {}", dir.display());
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// sipscope

fn sipscope_parse(bytes: &[u8]) -> sipscope_sip::Message<'_> {
    sipscope_sip::parse(bytes).expect("sipscope parse")
}

/// What the typed tier extracts, so the crates can be checked to agree.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    request: bool,
    cseq: u64,
    from_tag: Option<String>,
    to_tag: Option<String>,
    vias: usize,
}

fn sipscope_typed(bytes: &[u8]) -> Summary {
    let msg = sipscope_parse(bytes);
    let cseq = msg.cseq().expect("sipscope cseq");
    let from = msg.from().expect("sipscope from");
    let to = msg.to().expect("sipscope to");
    let mut vias = 0;
    for v in msg.vias() {
        black_box(v);
        vias += 1;
    }
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Summary {
        request: msg.is_request(),
        cseq: cseq.seq.expect("sipscope cseq number"),
        from_tag: from.tag().map(s),
        to_tag: to.tag().map(s),
        vias,
    }
}

/// The typed tier as timed: the same accessors, results black-boxed, no allocation.
#[inline(always)]
fn sipscope_full(bytes: &[u8]) {
    let msg = sipscope_parse(bytes);
    black_box(msg.cseq());
    black_box(msg.from());
    black_box(msg.to());
    for v in msg.vias() {
        black_box(v);
    }
    black_box(&msg);
}

// ---------------------------------------------------------------------------------------------
// rsip 0.4

fn rsip_parse(bytes: &[u8]) -> rsip::SipMessage {
    rsip::SipMessage::try_from(bytes).expect("rsip parse")
}

fn rsip_typed(bytes: &[u8]) -> Summary {
    use rsip::prelude::*;
    let msg = rsip_parse(bytes);
    let cseq = msg.cseq_header().unwrap().typed().expect("rsip cseq");
    let from = msg.from_header().unwrap().typed().expect("rsip from");
    let to = msg.to_header().unwrap().typed().expect("rsip to");
    let mut vias = 0;
    for h in msg.headers().iter() {
        if let rsip::Header::Via(v) = h {
            black_box(v.typed().expect("rsip via"));
            vias += 1;
        }
    }
    let tag = |p: &[rsip::Param]| {
        p.iter().find_map(|p| match p {
            rsip::Param::Tag(t) => Some(t.to_string()),
            _ => None,
        })
    };
    Summary {
        request: matches!(msg, rsip::SipMessage::Request(_)),
        cseq: u64::from(cseq.seq),
        from_tag: tag(&from.params),
        to_tag: tag(&to.params),
        vias,
    }
}

#[inline(always)]
fn rsip_full(bytes: &[u8]) {
    use rsip::prelude::*;
    let msg = rsip_parse(bytes);
    black_box(msg.cseq_header().unwrap().typed().unwrap());
    black_box(msg.from_header().unwrap().typed().unwrap());
    black_box(msg.to_header().unwrap().typed().unwrap());
    for h in msg.headers().iter() {
        if let rsip::Header::Via(v) = h {
            black_box(v.typed().unwrap());
        }
    }
    black_box(msg);
}

// ---------------------------------------------------------------------------------------------
// ezk-sip-types 0.6

mod ezk {
    use bytes::Bytes;
    use ezk_sip_types::header::typed::{CSeq, ContentLength, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    pub struct Msg {
        pub line: MessageLine,
        pub headers: Headers,
        pub body: Bytes,
    }

    /// A whole datagram → start line + headers + body, with ezk-sip-types' public pieces.
    pub fn parse(buf: &Bytes) -> Msg {
        let mut parser = PullParser::new(buf, 0);
        let mut line = None;
        let mut headers = Headers::with_capacity(16);
        for item in &mut parser {
            let text = std::str::from_utf8(item.expect("ezk: incomplete")).expect("ezk: utf-8");
            if line.is_none() {
                let (_, l) = MessageLine::parse(buf)(text).expect("ezk: start line");
                line = Some(l);
            } else {
                let (_, l) = Line::parse(buf, text).expect("ezk: header line");
                headers.insert(l.name, l.value);
            }
        }
        let head_end = parser.head_end();
        let len = headers.get_named::<ContentLength>().expect("ezk: content-length").0;
        assert!(head_end + len <= buf.len(), "ezk: short body");
        let body = buf.slice(head_end..head_end + len);
        Msg { line: line.expect("ezk: start line"), headers, body }
    }

    pub struct Typed {
        pub cseq: CSeq,
        pub from: FromTo,
        pub to: FromTo,
        pub vias: Vec<Via>,
    }

    pub fn typed(msg: &Msg) -> Typed {
        Typed {
            cseq: msg.headers.get_named::<CSeq>().expect("ezk cseq"),
            from: msg.headers.get::<FromTo>(Name::FROM).expect("ezk from"),
            to: msg.headers.get::<FromTo>(Name::TO).expect("ezk to"),
            vias: msg.headers.get_named::<Vec<Via>>().expect("ezk via"),
        }
    }
}

fn ezk_typed(buf: &bytes::Bytes) -> Summary {
    let msg = ezk::parse(buf);
    let t = ezk::typed(&msg);
    Summary {
        request: msg.line.is_request(),
        cseq: u64::from(t.cseq.cseq),
        from_tag: t.from.tag.map(|t| t.to_string()),
        to_tag: t.to.tag.map(|t| t.to_string()),
        vias: t.vias.len(),
    }
}

#[inline(always)]
fn ezk_full(buf: &bytes::Bytes) {
    let msg = ezk::parse(buf);
    black_box(ezk::typed(&msg));
    black_box(msg);
}

// ---------------------------------------------------------------------------------------------

/// Fails loudly, before anything is timed, if a crate rejects a message or the crates disagree.
fn check(mix: &[(String, Vec<u8>)]) {
    for (name, bytes) in mix {
        let msg = sipscope_parse(bytes);
        assert!(
            msg.anomalies().is_empty(),
            "{name}: sipscope reports anomalies {:?} — the mix must be strictly compliant",
            msg.anomalies()
        );
        let cl = msg.content_length().expect("Content-Length") as usize;
        assert_eq!(cl, msg.body().len(), "{name}: Content-Length");
        let ours = sipscope_typed(bytes);
        let theirs_rsip = rsip_typed(bytes);
        let theirs_ezk = ezk_typed(&bytes::Bytes::copy_from_slice(bytes));
        assert_eq!(ours, theirs_rsip, "{name}: sipscope vs rsip");
        assert_eq!(ours, theirs_ezk, "{name}: sipscope vs ezk-sip-types");
        assert_eq!(rsip_parse(bytes).body().len(), cl, "{name}: rsip body");
        assert_eq!(ezk::parse(&bytes::Bytes::copy_from_slice(bytes)).body.len(), cl, "{name}: ezk body");
        eprintln!("mix: {name:<32} {:>5} bytes  ok (sipscope, rsip, ezk-sip-types)", bytes.len());
    }
}

fn bench(c: &mut Criterion) {
    let mix = messages();
    check(&mix);
    let raw: Vec<&[u8]> = mix.iter().map(|(_, b)| b.as_slice()).collect();
    // ezk-sip-types parses out of a `bytes::Bytes` buffer; build those once, outside the timing
    // (ezk-sip-core itself copies each datagram into a fresh `Bytes` first; we don't charge that).
    let ezk_bufs: Vec<bytes::Bytes> = raw.iter().map(|b| bytes::Bytes::copy_from_slice(b)).collect();
    let n = raw.len() as u64;
    let total: u64 = raw.iter().map(|b| b.len() as u64).sum();
    eprintln!("mix: {n} messages, {total} bytes (written to target/criterion/mix.json)");
    write_mix_info(n, total, &mix);

    for (group_name, throughput) in [("parse_msgs", Throughput::Elements(n)), ("parse_bytes", Throughput::Bytes(total))]
    {
        let mut g = c.benchmark_group(group_name);
        g.throughput(throughput);
        g.bench_function(BenchmarkId::from_parameter("sipscope_parse"), |b| {
            b.iter(|| {
                for m in &raw {
                    black_box(sipscope_sip::parse(black_box(m)).unwrap());
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("sipscope_typed"), |b| {
            b.iter(|| {
                for m in &raw {
                    sipscope_full(black_box(m));
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("sipscope_anomalies"), |b| {
            b.iter(|| {
                for m in &raw {
                    let msg = sipscope_sip::parse(black_box(m)).unwrap();
                    black_box(msg.anomalies().len());
                    black_box(&msg);
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("rsip_parse"), |b| {
            b.iter(|| {
                for m in &raw {
                    black_box(rsip::SipMessage::try_from(black_box(*m)).unwrap());
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("rsip_typed"), |b| {
            b.iter(|| {
                for m in &raw {
                    rsip_full(black_box(m));
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("ezk_parse"), |b| {
            b.iter(|| {
                for m in &ezk_bufs {
                    black_box(ezk::parse(black_box(m)));
                }
            })
        });
        g.bench_function(BenchmarkId::from_parameter("ezk_typed"), |b| {
            b.iter(|| {
                for m in &ezk_bufs {
                    ezk_full(black_box(m));
                }
            })
        });
        g.finish();
    }
}

/// Records the mix's size next to criterion's output, for `bench/parse-compare.sh`.
fn write_mix_info(n: u64, total: u64, mix: &[(String, Vec<u8>)]) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("criterion");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let files: Vec<String> =
        mix.iter().map(|(name, b)| format!("{{\"file\":\"{name}\",\"bytes\":{}}}", b.len())).collect();
    let json = format!("{{\"messages\":{n},\"bytes\":{total},\"files\":[{}]}}\n", files.join(","));
    let _ = std::fs::write(dir.join("mix.json"), json);
}

criterion_group!(benches, bench);
criterion_main!(benches);
