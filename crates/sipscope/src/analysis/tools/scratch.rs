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
    let mut cache = MatchCache::default();
    for round in 0..2 {
        for flow in &flows {
            let fp = build(flow);
            if round == 0 {
                dump(&mut out, &library, &fp);
            }
            assert_eq!(library.match_cached(&fp, || fp.id(), &mut cache), library.match_fingerprint(&fp));
        }
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

#[test]
#[ignore]
fn scratch_match_only() {
    let library = ToolLibrary::builtin();
    let n: u64 = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let fps: Vec<Fingerprint> = (0..n).map(|k| build(&bench_flow(k))).collect();
    let t = Instant::now();
    let mut s = 0.0;
    for _ in 0..20 {
        for fp in &fps {
            s += library.match_fingerprint(fp).similarity;
        }
    }
    eprintln!("match only: {:.1} us/flow [{s}]", t.elapsed().as_secs_f64() * 1e6 / (20 * n) as f64);
}

mod old_subst {
    use std::net::{IpAddr, SocketAddr};
    pub struct Substitution {
        ips: Vec<(String, Option<String>, &'static str)>,
        ports: Vec<(String, &'static str)>,
    }
    impl Substitution {
        pub fn new(src: SocketAddr, dst: SocketAddr) -> Substitution {
            let mut ips = Vec::new();
            for (ip, token) in [(src.ip(), "SourceIP"), (dst.ip(), "DestIP")] {
                let ip = ip.to_canonical();
                if ip.is_unspecified() || ips.iter().any(|(text, _, _)| *text == ip.to_string()) {
                    continue;
                }
                let bracketed = matches!(ip, IpAddr::V6(_)).then(|| format!("[{ip}]"));
                ips.push((ip.to_string(), bracketed, token));
            }
            let mut ports = Vec::new();
            for (port, token) in [(src.port(), "SourcePort"), (dst.port(), "DestPort")] {
                if port != 0 && !ports.iter().any(|(text, _)| *text == port.to_string()) {
                    ports.push((port.to_string(), token));
                }
            }
            Substitution { ips, ports }
        }
        pub fn apply(&self, value: &[u8]) -> Vec<u8> {
            let mut out = value.to_vec();
            for (text, bracketed, token) in &self.ips {
                if let Some(bracketed) = bracketed {
                    out = replace(&out, bracketed.as_bytes(), token.as_bytes(), |_, _, _| true);
                }
                let is_v6 = bracketed.is_some();
                out = replace(&out, text.as_bytes(), token.as_bytes(), |hay, start, end| {
                    if is_v6 {
                        v6_boundary(hay, start, end)
                    } else {
                        number_boundary(hay, start, end)
                    }
                });
            }
            for (text, token) in &self.ports {
                out = replace(&out, text.as_bytes(), token.as_bytes(), number_boundary);
            }
            out
        }
    }
    fn is_word(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_'
    }
    fn number_boundary(hay: &[u8], start: usize, end: usize) -> bool {
        let before_ok = start == 0 || !(is_word(hay[start - 1]) || hay[start - 1] == b'.');
        let after_ok = match hay.get(end) {
            None => true,
            Some(&b) if is_word(b) => false,
            Some(b'.') => !hay.get(end + 1).is_some_and(u8::is_ascii_digit),
            Some(_) => true,
        };
        before_ok && after_ok
    }
    fn v6_boundary(hay: &[u8], start: usize, end: usize) -> bool {
        let before_ok = start == 0 || !(is_word(hay[start - 1]) || matches!(hay[start - 1], b':' | b'.'));
        let after_ok = hay.get(end).is_none_or(|&b| !(is_word(b) || b == b'.'));
        before_ok && after_ok
    }
    fn replace(hay: &[u8], needle: &[u8], token: &[u8], accept: impl Fn(&[u8], usize, usize) -> bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(hay.len());
        let mut i = 0;
        while i < hay.len() {
            let end = i + needle.len();
            if end <= hay.len() && hay[i..end].eq_ignore_ascii_case(needle) && accept(hay, i, end) {
                out.extend_from_slice(token);
                i = end;
            } else {
                out.push(hay[i]);
                i += 1;
            }
        }
        out
    }
}

#[test]
#[ignore]
fn scratch_subst_differential() {
    use crate::analysis::fingerprint::{Substitution, SubstitutionBuffers};
    let mut rng = StdRng::seed_from_u64(11);
    let addrs: Vec<IpAddr> = [
        "1.2.3.4", "1.2.3.44", "11.2.3.4", "127.0.0.1", "0.0.0.0", "10.0.0.1", "192.0.2.10", "::1", "::", "fe80::1",
        "2001:db8::1", "2001:db8::2", "2001:DB8::a:B", "::ffff:1.2.3.4", "::ffff:10.0.0.1", "1::", "abcd::ef",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let ports = [0u16, 1, 11, 5060, 5061, 506, 50600, 65535, 4, 44];
    let mut buffers = SubstitutionBuffers::default();
    let mut n = 0;
    for _ in 0..300_000 {
        let src = SocketAddr::new(addrs[rng.random_range(0..addrs.len())], ports[rng.random_range(0..ports.len())]);
        let dst = SocketAddr::new(addrs[rng.random_range(0..addrs.len())], ports[rng.random_range(0..ports.len())]);
        let old = old_subst::Substitution::new(src, dst);
        let new = Substitution::new(src, dst);
        // A value made of pieces of the addresses and separators.
        let mut v = Vec::new();
        for _ in 0..rng.random_range(0..8) {
            match rng.random_range(0..8) {
                0 => v.extend_from_slice(src.ip().to_string().as_bytes()),
                1 => v.extend_from_slice(dst.ip().to_string().as_bytes()),
                2 => v.extend_from_slice(src.port().to_string().as_bytes()),
                3 => v.extend_from_slice(dst.port().to_string().as_bytes()),
                4 => v.extend_from_slice(format!("[{}]", dst.ip()).to_uppercase().as_bytes()),
                5 => v.push(b"[]:._aZ09-@;x"[rng.random_range(0..13)]),
                6 => v.extend_from_slice(src.ip().to_canonical().to_string().as_bytes()),
                _ => v.extend_from_slice(format!("[{}]", src.ip()).as_bytes()),
            }
        }
        let a = old.apply(&v);
        let b = new.apply_in(&v, &mut buffers).to_vec();
        assert_eq!(a, b, "{src} {dst} {:?}", String::from_utf8_lossy(&v));
        assert_eq!(new.apply(&v), a);
        n += usize::from(a != v);
    }
    // IPv4 only, adversarial: shared prefixes, dots, digits.
    let v4: Vec<IpAddr> = ["1.2.3.4", "1.2.3.44", "11.2.3.4", "1.2.3.41", "4.1.2.3", "0.0.0.0", "::ffff:1.2.3.4"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let ports = [0u16, 1, 11, 4, 44, 41, 5060, 506, 50600, 3];
    for _ in 0..1_000_000 {
        let src = SocketAddr::new(v4[rng.random_range(0..v4.len())], ports[rng.random_range(0..ports.len())]);
        let dst = SocketAddr::new(v4[rng.random_range(0..v4.len())], ports[rng.random_range(0..ports.len())]);
        let old = old_subst::Substitution::new(src, dst);
        let new = Substitution::new(src, dst);
        let mut v = Vec::new();
        for _ in 0..rng.random_range(0..10) {
            match rng.random_range(0..6) {
                0 => v.extend_from_slice(src.ip().to_canonical().to_string().as_bytes()),
                1 => v.extend_from_slice(dst.ip().to_canonical().to_string().as_bytes()),
                2 => v.extend_from_slice(src.port().to_string().as_bytes()),
                3 => v.extend_from_slice(dst.port().to_string().as_bytes()),
                _ => v.push(b"0123456789..::_aZ;@ "[rng.random_range(0..20)]),
            }
        }
        let a = old.apply(&v);
        let b = new.apply_in(&v, &mut buffers).to_vec();
        assert_eq!(a, b, "{src} {dst} {:?}", String::from_utf8_lossy(&v));
        n += usize::from(a != v);
    }
    eprintln!("subst ok, {n} changed");
}

#[test]
#[ignore]
fn scratch_cells_differential() {
    let mut rng = StdRng::seed_from_u64(5);
    for round in 0..200_000 {
        let cap = [256usize, 64, 7, 300, 1][round % 5];
        let base: Vec<u8> = (0..rng.random_range(0..300)).map(|_| b"ab-c"[rng.random_range(0..4)]).collect();
        let mut old_f = Cells::default();
        let mut old_b = Cells::default();
        let mut new_f = Cells::default();
        let mut new_b = Cells::default();
        for k in 0..rng.random_range(1..6) {
            let mut v = base.clone();
            let len = if rng.random_range(0..3) == 0 { rng.random_range(0..320) } else { v.len() };
            v.resize(len, b'a');
            for _ in 0..rng.random_range(0..4) {
                if !v.is_empty() {
                    let p = rng.random_range(0..v.len());
                    v[p] = b"ab-cx"[rng.random_range(0..5)];
                }
            }
            if k == 0 {
                old_f.set(v.iter().copied(), cap);
                old_b.set(v.iter().rev().copied(), cap);
                new_f.set_front(&v, cap);
                new_b.set_back(&v, cap);
            } else {
                old_f.merge(v.iter().copied(), cap);
                old_b.merge(v.iter().rev().copied(), cap);
                new_f.merge_front(&v, cap);
                new_b.merge_back(&v, cap);
            }
            assert_eq!(old_f, new_f, "front round {round} k {k}");
            assert_eq!(old_b, new_b, "back round {round} k {k}");
        }
    }
    eprintln!("cells ok");
}

fn response(i: u64, status: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{i};received=198.51.0.1;rport=5060\r\n\
From: \"sipvicious\"<sip:100@1.1.1.1>;tag=6631{i:x}\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>;tag=as{i:x}\r\n\
Call-ID: {i}\r\nCSeq: 1 OPTIONS\r\nServer: Asterisk PBX 16.28.0\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE\r\n\
Supported: replaces, timer\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
#[ignore]
fn scratch_engine() {
    use crate::analysis::engine::{AnalysisConfig, Analyzer, Seen};
    use crate::event::Direction;
    let n: u64 = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let t0: i64 = 1_700_000_000_000_000_000;
    let mut analyzer = Analyzer::new(AnalysisConfig::default());
    let mut parse_t = std::time::Duration::ZERO;
    let start = Instant::now();
    for i in 0..n {
        let src = [198, 51, (i / 65_536 % 256) as u8, (i / 256 % 256) as u8];
        let dst = [192, 0, (i / 256 % 64) as u8, (i % 256) as u8];
        let payload = match i % 20 {
            0..=7 => options(i),
            8..=11 => register(i),
            12 | 13 => invite(i),
            14 => response(i, "200 OK"),
            15 => response(i, "401 Unauthorized"),
            16 => response(i, "404 Not Found"),
            17 => response(i, "407 Proxy Authentication Required"),
            _ => continue,
        };
        let (s, d) = if (14..=17).contains(&(i % 20)) { (dst, src) } else { (src, dst) };
        let p = Instant::now();
        let msg = sipscope_sip::parse(&payload).unwrap();
        parse_t += p.elapsed();
        let seen = Seen {
            ts_ns: t0 + i as i64 * 10_000,
            src: (IpAddr::from(s), 5060),
            dst: (IpAddr::from(d), 5060),
            node: None,
            direction: Direction::Unknown,
            bytes: payload.len(),
        };
        analyzer.observe_seen(&seen, Some(&msg));
    }
    let fed = start.elapsed();
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let f = Instant::now();
    let result = analyzer.finish();
    eprintln!(
        "fed {:?} (parse {:?}), finish {:?}, flows {}, statm {statm}",
        fed,
        parse_t,
        f.elapsed(),
        result.flows.len()
    );
    eprintln!("after finish statm {}", std::fs::read_to_string("/proc/self/statm").unwrap());
    drop(result);
}

#[test]
#[ignore]
fn scratch_add_only() {
    use crate::analysis::fingerprint::PacketBuffers;
    let n: u64 = std::env::var("N").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let flows: Vec<_> = (0..n).map(bench_flow).collect();
    let parsed: Vec<Vec<(sipscope_sip::Message<'_>, SocketAddr, SocketAddr)>> = flows
        .iter()
        .map(|f| f.iter().map(|(b, s, d)| (sipscope_sip::parse(b).unwrap(), *s, *d)).collect())
        .collect();
    let packets: usize = parsed.iter().map(|f| f.len()).sum();
    let mut buffers = PacketBuffers::default();
    let t = Instant::now();
    let mut total = 0;
    for _ in 0..5 {
        for flow in &parsed {
            let mut b = FingerprintBuilder::new();
            for (m, s, d) in flow {
                b.add_with(m, *s, *d, &mut buffers);
            }
            total += b.packets();
        }
    }
    eprintln!("add only: {:.3} us/packet [{total}]", t.elapsed().as_secs_f64() * 1e6 / (5 * packets) as f64);
}
