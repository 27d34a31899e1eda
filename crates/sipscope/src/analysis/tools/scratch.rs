//! SCRATCH (to be removed): equivalence dump and timing.

use super::*;
use crate::analysis::fingerprint::{Cells, FingerprintBuilder, MergedValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sip/tests/fixtures/tools/");

fn options(i: u64) -> Vec<u8> {
    format!(
        "OPTIONS sip:100@192.0.{}.{} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\n\
Max-Forwards: 70\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\nFrom: \"sipvicious\"<sip:100@1.1.1.1>;tag=6631{i:x}\r\n\
User-Agent: friendly-scanner\r\nCall-ID: {}\r\nContact: sip:100@10.0.0.1:5060\r\nCSeq: 1 OPTIONS\r\n\
Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
        i / 256 % 64,
        i % 256,
        i.wrapping_mul(2_654_435_761)
    )
    .into_bytes()
}

fn register(i: u64) -> Vec<u8> {
    let ext = 100 + i % 900;
    format!(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};rport\r\nMax-Forwards: 70\r\n\
To: \"{ext}\" <sip:{ext}@192.0.2.1>\r\nFrom: \"{ext}\" <sip:{ext}@192.0.2.1>;tag=31{i:x}\r\nUser-Agent: friendly-scanner\r\n\
Call-ID: {i}\r\nContact: sip:{ext}@10.0.0.1\r\nCSeq: 2 REGISTER\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\
Authorization: Digest username=\"{ext}\",realm=\"asterisk\",nonce=\"{i:08x}\",uri=\"sip:192.0.2.1\",algorithm=MD5,\
response=\"{:032x}\"\r\n\r\n",
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
    .into_bytes()
}

fn invite(i: u64) -> Vec<u8> {
    let body = format!(
        "v=0\r\no=- {i} {i} IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    format!(
        "INVITE sip:00972592{:06}@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i}\r\nMax-Forwards: 70\r\n\
From: \"100\" <sip:100@192.0.2.1>;tag=as{i:x}\r\nTo: <sip:00972592{:06}@192.0.2.1>\r\nCall-ID: inv{i}@10.0.0.1\r\n\
CSeq: 102 INVITE\r\nUser-Agent: pplsip\r\nContact: <sip:100@10.0.0.1:5060>\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        i % 1_000_000,
        i % 1_000_000,
        body.len()
    )
    .into_bytes()
}

/// Requests of benchmark flow `k` (packets 256k .. 256k+256), with addresses.
fn bench_flow(k: u64) -> Vec<(Vec<u8>, SocketAddr, SocketAddr)> {
    let mut out = Vec::new();
    for i in 256 * k..256 * (k + 1) {
        let payload = match i % 20 {
            0..=7 => options(i),
            8..=11 => register(i),
            12 | 13 => invite(i),
            _ => continue,
        };
        let src = [198, 51, (i / 65_536 % 256) as u8, (i / 256 % 256) as u8];
        let dst = [192, 0, (i / 256 % 64) as u8, (i % 256) as u8];
        out.push((payload, SocketAddr::new(IpAddr::from(src), 5060), SocketAddr::new(IpAddr::from(dst), 5060)));
    }
    out
}

fn build(msgs: &[(Vec<u8>, SocketAddr, SocketAddr)]) -> Fingerprint {
    let mut b = FingerprintBuilder::new();
    for (bytes, src, dst) in msgs {
        if let Ok(msg) = sipscope_sip::parse(bytes) {
            b.add(&msg, *src, *dst);
        }
    }
    b.fingerprint()
}

fn folder_msgs(folder: &str) -> Vec<(Vec<u8>, SocketAddr, SocketAddr)> {
    let mut files: Vec<_> = std::fs::read_dir(format!("{DIR}{folder}"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(msg) = sipscope_sip::parse(&bytes) else { continue };
        let Some(uri) = msg.request_uri() else { continue };
        let host = std::str::from_utf8(uri.host).unwrap_or("").trim_start_matches('[').trim_end_matches(']');
        let dst_ip: IpAddr = host.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let src_ip: IpAddr = if dst_ip.is_ipv6() { "::1".parse().unwrap() } else { "127.0.0.1".parse().unwrap() };
        let port = msg.vias().next().and_then(|v| v.port).unwrap_or(5061);
        out.push((bytes.clone(), SocketAddr::new(src_ip, port), SocketAddr::new(dst_ip, 5060)));
    }
    out
}

fn folders() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn mutate(rng: &mut StdRng, bytes: &[u8]) -> Vec<u8> {
    let text = bytes.to_vec();
    // Split head / body.
    let split = text.windows(4).position(|w| w == b"\r\n\r\n").map_or(text.len(), |p| p + 4);
    let (head, body) = text.split_at(split);
    let mut lines: Vec<Vec<u8>> = head.split(|&b| b == b'\n').map(|l| l.to_vec()).collect();
    let n = rng.random_range(0..6);
    for _ in 0..n {
        if lines.len() < 3 {
            break;
        }
        let li = rng.random_range(1..lines.len() - 2);
        match rng.random_range(0..7) {
            0 => {
                lines.remove(li);
            }
            1 => {
                let l = lines[li].clone();
                lines.insert(li, l);
            }
            2 => {
                lines.insert(li, b"User-Agent: xq7Zk2 ab\r".to_vec());
            }
            3 | 4 => {
                let l = &mut lines[li];
                if l.len() > 4 {
                    let p = rng.random_range(2..l.len() - 1);
                    let chars = b"abcXYZ0123456789-.:;@<>\" 127.0.0.15060";
                    l[p] = chars[rng.random_range(0..chars.len())];
                }
            }
            5 => {
                let l = &mut lines[li];
                if l.len() > 4 {
                    let p = rng.random_range(2..l.len() - 1);
                    let ins: Vec<u8> = (0..rng.random_range(1..12)).map(|_| rng.random_range(b'0'..=b'z')).collect();
                    l.splice(p..p, ins);
                }
            }
            _ => {
                let l = &mut lines[li];
                if l.len() > 8 {
                    let p = rng.random_range(2..l.len() - 4);
                    let q = rng.random_range(p..l.len() - 1);
                    l.drain(p..q);
                }
            }
        }
    }
    let mut out = lines.join(&b'\n');
    out.extend_from_slice(body);
    out
}

fn cells_dump(out: &mut String, c: &Cells) {
    for x in c.iter() {
        match x {
            Some(b) => {
                let _ = write!(out, "{b:02x}");
            }
            None => out.push_str("__"),
        }
    }
    out.push('|');
}

fn value_dump(out: &mut String, v: &MergedValue) {
    cells_dump(out, v.head());
    cells_dump(out, v.tail());
    let _ = write!(out, "{} {} {}", v.min_len(), v.max_len(), v.present());
}

fn dump(out: &mut String, library: &ToolLibrary, fp: &Fingerprint) {
    let _ = writeln!(out, "== {}\n{}", fp.id(), fp.text());
    let _ = writeln!(
        out,
        "p={} ov={} si={} sp={} tr={} dk={} dm={}",
        fp.packets(),
        fp.order_varied(),
        fp.same_ip(),
        fp.same_port(),
        fp.truncated_values(),
        fp.dropped_keys(),
        fp.dropped_methods()
    );
    value_dump(out, fp.request_uri());
    out.push('\n');
    for k in fp.keys() {
        let _ = write!(out, "{} ", k.key);
        cells_dump(out, &k.name);
        value_dump(out, &k.value);
        let _ = writeln!(out, " opt={}", fp.is_optional(&k.key));
    }
    let methods: Vec<&str> = fp.methods().collect();
    let _ = writeln!(out, "methods {methods:?}");
    let ranked = library.rank(fp);
    for c in &ranked {
        let _ = writeln!(
            out,
            "  {} {:x} {:x} {:x} {:x} {}",
            c.entry,
            c.similarity.to_bits(),
            c.raw.to_bits(),
            c.baseline.to_bits(),
            c.rank_score.to_bits(),
            c.matched
        );
    }
    for c in ranked.iter().take(3) {
        for f in library.explain(fp, c.entry) {
            let _ = writeln!(
                out,
                "    {} {:x} {:x} {:x} {}",
                f.key,
                f.weight.to_bits(),
                f.similarity.to_bits(),
                f.known.to_bits(),
                f.matched
            );
        }
    }
    let _ = writeln!(out, "{:?}", library.match_fingerprint(fp));
}

/// All test flows.
fn flows() -> Vec<Vec<(Vec<u8>, SocketAddr, SocketAddr)>> {
    let mut all = Vec::new();
    for k in (0..3900).step_by(37) {
        all.push(bench_flow(k));
    }
    let mut rng = StdRng::seed_from_u64(7);
    let folders = folders();
    for f in &folders {
        let msgs = folder_msgs(f);
        all.push(msgs.clone());
        let mut rev = msgs.clone();
        rev.reverse();
        all.push(rev);
        for n in 1..msgs.len().min(8) {
            all.push(msgs[..n].to_vec());
            all.push(vec![msgs[n].clone()]);
        }
        // Same ports, same addresses.
        let same: Vec<_> = msgs.iter().map(|(b, s, d)| (b.clone(), SocketAddr::new(s.ip(), d.port()), *d)).collect();
        all.push(same);
        let loop_: Vec<_> = msgs.iter().map(|(b, s, _)| (b.clone(), *s, *s)).collect();
        all.push(loop_);
        for _ in 0..25 {
            let n = rng.random_range(1..5);
            let mut flow = Vec::new();
            for _ in 0..n {
                let (b, s, d) = &msgs[rng.random_range(0..msgs.len())];
                flow.push((mutate(&mut rng, b), *s, *d));
            }
            all.push(flow);
        }
    }
    // Mixed folders.
    for i in 0..folders.len() {
        let j = (i * 7 + 3) % folders.len();
        let mut m = folder_msgs(&folders[i]);
        m.extend(folder_msgs(&folders[j]).into_iter().take(3));
        all.push(m);
    }
    // Baseline-like clients and table one.
    for entry in ToolLibrary::builtin().entries() {
        let headers: Vec<String> = entry
            .fields
            .iter()
            .filter(|(key, _)| !key.starts_with("start:"))
            .map(|(key, pattern)| {
                format!(
                    "{key}: {}",
                    pattern
                        .replace('*', "x")
                        .replace('?', "a")
                        .replace("SourceIP", "203.0.113.5")
                        .replace("DestIP", "198.51.100.20")
                        .replace("SourcePort", "5062")
                        .replace("DestPort", "5060")
                )
            })
            .collect();
        let text = format!("OPTIONS sip:100@198.51.100.20 SIP/2.0\r\n{}\r\n\r\n", headers.join("\r\n"));
        let s: SocketAddr = "203.0.113.5:5062".parse().unwrap();
        let d: SocketAddr = "198.51.100.20:5060".parse().unwrap();
        all.push(vec![(text.clone().into_bytes(), s, d)]);
        all.push(vec![(mutate(&mut rng, text.as_bytes()), s, d), (mutate(&mut rng, text.as_bytes()), s, d)]);
    }
    all
}

#[test]
#[ignore]
fn scratch_dump() {
    let library = ToolLibrary::builtin();
    let mut out = String::new();
    let flows = flows();
    for flow in &flows {
        let fp = build(flow);
        dump(&mut out, &library, &fp);
    }
    std::fs::write(std::env::var("OUT").unwrap(), out).unwrap();
    eprintln!("{} flows", flows.len());
}

#[test]
#[ignore]
fn scratch_time() {
    let library = ToolLibrary::builtin();
    let n: u64 = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let flows: Vec<_> = (0..n).map(bench_flow).collect();
    let t = Instant::now();
    let fps: Vec<Fingerprint> = flows.iter().map(|f| build(f)).collect();
    let build_t = t.elapsed();
    let t = Instant::now();
    let mut s = 0.0;
    for fp in &fps {
        s += library.match_fingerprint(fp).similarity;
    }
    let match_t = t.elapsed();
    let t = Instant::now();
    let mut ids = 0;
    for fp in &fps {
        ids += fp.id().len();
    }
    let id_t = t.elapsed();
    eprintln!(
        "{n} flows: build {:?} ({:.1} us/flow), match {:?} ({:.1} us/flow), id {:?}  [{s} {ids}]",
        build_t,
        build_t.as_secs_f64() * 1e6 / n as f64,
        match_t,
        match_t.as_secs_f64() * 1e6 / n as f64,
        id_t
    );
}
