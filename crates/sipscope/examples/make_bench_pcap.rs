//! Writes a large capture with a realistic attack mix, for `bench/ingest-compare.sh` and the
//! analysis benchmarks of docs/benchmarks.md:
//! `cargo run --release -p sipscope --example make_bench_pcap -- OUT.pcap PACKETS [--mix MIX]
//! [--step-us N]`
//!
//! `--mix bench` (the default): per 20 packets, 8 scanner OPTIONS (SIPVicious style, many
//! sources, sequential targets), 4 REGISTER brute-force attempts with digest credentials, 2
//! INVITEs with SDP to international numbers, 4 responses (200, 401, 404, 407), 1 empty UDP
//! probe to 5060, 1 DNS packet.
//!
//! `--mix telescope`: what a darknet sees (no answers): tens of thousands of sources sending
//! one to a few packets each (svmap, sipcli, sundayddr, random agents, nmap), a few heavy
//! scanners sweeping the telescope's /16 sequentially, nmap `-sV` probes (`Call-ID: 50000`)
//! after empty UDP datagrams, digest brute force, and INVITEs to a pool of international
//! numbers behind several dial prefixes (see [`telescope`]).
//!
//! `--step-us N`: packets N µs apart (default 10: 10 M packets within two minutes, one UTC hour;
//! 80,000 spreads 11 M packets over ten days, so that ranges on whole hours or days cut them).
//!
//! Deterministic: the same arguments give the same bytes.

use sipscope::sources::pcap::writer::PcapWriter;
use sipscope_packet::testutil as t;
use std::io::{BufWriter, Write};

type Writer = PcapWriter<BufWriter<std::fs::File>>;

/// Event time of the first packet; packets are `--step-us` apart (10 µs by default).
const T0: i64 = 1_700_000_000_000_000_000;

fn main() -> std::io::Result<()> {
    let mut positional = Vec::new();
    let mut mix = String::from("bench");
    let mut step_us: i64 = 10;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mix" => mix = args.next().unwrap_or_default(),
            "--step-us" => {
                step_us =
                    args.next().and_then(|n| n.parse().ok()).filter(|n| (1..=1_000_000_000).contains(n)).unwrap_or(10)
            }
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let out = positional.next().unwrap_or_else(|| "bench.pcap".into());
    let packets: u64 = positional.next().and_then(|n| n.parse().ok()).unwrap_or(5_000_000);
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let mut w = PcapWriter::new(file, 1, false)?;
    match mix.as_str() {
        "bench" => bench(&mut w, packets, step_us * 1_000)?,
        "telescope" => telescope(&mut w, packets, step_us * 1_000)?,
        other => {
            let why = format!("--mix {other:?}: expected bench or telescope");
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        }
    }
    w.into_inner().into_inner().map_err(|e| e.into_error())?.flush()
}

fn bench(w: &mut Writer, packets: u64, step_ns: i64) -> std::io::Result<()> {
    let t0 = T0;
    for i in 0..packets {
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
            18 => Vec::new(),
            _ => {
                let dns = t::ipv4(
                    src,
                    [192, 0, 2, 53],
                    17,
                    &t::udp(40000, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
                );
                w.write(t0 + i as i64 * step_ns, &t::ethernet(0x0800, &dns), None)?;
                continue;
            }
        };
        let (s, d) = if (14..=17).contains(&(i % 20)) { (dst, src) } else { (src, dst) };
        let frame = t::ethernet(0x0800, &t::ipv4(s, d, 17, &t::udp(5060, 5060, &payload)));
        w.write(t0 + i as i64 * step_ns, &frame, None)?;
    }
    Ok(())
}

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

// ------------------------------------------------------------------------- telescope mix

/// A deterministic generator (splitmix64): the same stream on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `n` characters of `alphabet`.
    fn text(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| char::from(alphabet[self.below(alphabet.len() as u64) as usize])).collect()
    }

    fn digits(&mut self, n: usize) -> String {
        self.text(n, b"0123456789")
    }

    fn hex(&mut self, n: usize) -> String {
        self.text(n, b"0123456789abcdef")
    }

    fn alnum(&mut self, n: usize) -> String {
        self.text(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    }

    /// A public-looking IPv4 address outside the telescope.
    fn address(&mut self) -> [u8; 4] {
        loop {
            let [a, b, c, d] = (self.next() as u32).to_be_bytes();
            if !matches!(a, 0 | 10 | 44 | 100 | 127 | 169 | 172 | 192 | 198 | 203 | 224..=255) {
                return [a, b, c, d];
            }
        }
    }
}

/// The telescope: 44.12.0.0/16.
fn telescope_address(n: u64) -> [u8; 4] {
    [44, 12, (n >> 8) as u8, n as u8]
}

/// What one source sends.
#[derive(Clone, Copy)]
enum Tool {
    Svmap,
    Sipcli,
    Sundayddr,
    RandomAgent,
    NmapSv,
    Svcrack,
    /// INVITEs to numbers; the User-Agent by number (friendly-scanner, sipcli, pplsip, none).
    TollFraud(u8),
}

/// A source and where it is in its run.
#[derive(Clone, Copy)]
struct Source {
    ip: [u8; 4],
    port: u16,
    tool: Tool,
    /// Packets sent so far (small sources: packets left).
    sent: u64,
    /// The target: an offset in the telescope.
    target: u64,
}

/// Dial prefixes toll-fraud tools put in front of one number (none, `+`, IDDs, PBX line
/// prefixes).
const DIAL_PREFIXES: [&str; 8] = ["", "+", "00", "011", "9011", "000", "900", "0011"];
/// Calling codes of the numbers dialled, and the subscriber digits after them.
const COUNTRIES: [(&str, usize); 12] = [
    ("972", 9),
    ("44", 10),
    ("1", 10),
    ("49", 11),
    ("33", 9),
    ("7", 10),
    ("234", 10),
    ("63", 10),
    ("880", 10),
    ("252", 8),
    ("370", 8),
    ("882", 8),
];
/// Numbers the toll-fraud sources share (attackers dial the same premium ranges).
const NUMBER_POOL: u64 = 2_000;
/// Small sources sending at the same time.
const ACTIVE_SMALL: usize = 64;

/// The telescope mix, per 100 packets on average: 40 from four heavy scanners sweeping the
/// /16 (svmap, sundayddr, sipcli, random agents), 30 from small sources (one to four packets
/// each, about 15 new sources: svmap, sipcli, sundayddr, random agents, nmap), 8 from eight
/// nmap sources (an empty datagram, then the `-sV` OPTIONS with `Call-ID: 50000`, per target,
/// in random /24 blocks), 10 from six svcrack brute-forcers (REGISTER with Authorization, a
/// challenge fetch before every fourth), 12 INVITEs from sixteen toll-fraud sources (a number
/// of the pool behind each of [`DIAL_PREFIXES`] in turn).
fn telescope(w: &mut Writer, packets: u64, step_ns: i64) -> std::io::Result<()> {
    let mut rng = Rng(0x5eed_7e1e_5c0e);
    let source =
        |rng: &mut Rng, port: u16, tool: Tool, target: u64| Source { ip: rng.address(), port, tool, sent: 0, target };
    let tools = [Tool::Svmap, Tool::Sundayddr, Tool::Sipcli, Tool::RandomAgent];
    let mut heavy: Vec<Source> =
        tools.iter().enumerate().map(|(k, &tool)| source(&mut rng, 5060, tool, k as u64 * 16_411)).collect();
    let mut nmap: Vec<Source> = (0..8).map(|_| source(&mut rng, 40_000, Tool::NmapSv, 0)).collect();
    let mut crack: Vec<Source> = (0..6).map(|k| source(&mut rng, 5061, Tool::Svcrack, 1_000 * k)).collect();
    let mut fraud: Vec<Source> =
        (0..16u8).map(|k| source(&mut rng, 5070, Tool::TollFraud(k % 4), u64::from(k) * 3_001)).collect();
    let mut small: Vec<Source> = Vec::new();
    for i in 0..packets {
        let (s, empty) = match rng.below(100) {
            0..=39 => {
                let s = &mut heavy[rng.below(4) as usize];
                s.target += 1;
                (*s, false)
            }
            40..=69 => {
                if small.len() < ACTIVE_SMALL || rng.below(2) == 0 {
                    let tool = match rng.below(20) {
                        0..=7 => Tool::Svmap,
                        8..=10 => Tool::Sipcli,
                        11..=12 => Tool::Sundayddr,
                        13..=16 => Tool::RandomAgent,
                        _ => Tool::NmapSv,
                    };
                    let left = [1, 1, 1, 1, 2, 2, 3, 4][rng.below(8) as usize];
                    let port = if matches!(tool, Tool::Svmap) { 5060 } else { 1024 + rng.below(60_000) as u16 };
                    let target = rng.below(65_536);
                    small.push(Source { sent: left, ..source(&mut rng, port, tool, target) });
                }
                let k = rng.below(small.len() as u64) as usize;
                small[k].sent -= 1;
                small[k].target += 1;
                let s = small[k];
                if s.sent == 0 {
                    small.swap_remove(k);
                }
                (s, false)
            }
            70..=77 => {
                // Per target an empty datagram, then the probe; targets shuffled within a /24,
                // now and then another /24.
                let s = &mut nmap[rng.below(8) as usize];
                s.sent += 1;
                let empty = s.sent % 2 == 1;
                if empty {
                    let block = if rng.below(64) == 0 { rng.below(256) << 8 } else { s.target & !0xff };
                    s.target = block | rng.below(256);
                }
                (*s, empty)
            }
            78..=87 => {
                let s = &mut crack[rng.below(6) as usize];
                s.sent += 1;
                (*s, false)
            }
            _ => {
                let s = &mut fraud[rng.below(16) as usize];
                s.sent += 1;
                (*s, false)
            }
        };
        let dst = telescope_address(s.target);
        let payload = if empty { Vec::new() } else { message(&s, dst, &mut rng) };
        let frame = t::ethernet(0x0800, &t::ipv4(s.ip, dst, 17, &t::udp(s.port, 5060, &payload)));
        w.write(T0 + i as i64 * step_ns, &frame, None)?;
    }
    Ok(())
}

/// The next message of `s` to `dst`.
fn message(s: &Source, dst: [u8; 4], rng: &mut Rng) -> Vec<u8> {
    let src = format!("{}.{}.{}.{}", s.ip[0], s.ip[1], s.ip[2], s.ip[3]);
    let dst = format!("{}.{}.{}.{}", dst[0], dst[1], dst[2], dst[3]);
    let port = s.port;
    let text = match s.tool {
        Tool::Svmap => format!(
            "OPTIONS sip:100@{dst} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:{port};branch=z9hG4bK-{};rport\r\n\
Max-Forwards: 70\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\nFrom: \"sipvicious\"<sip:100@1.1.1.1>;tag={}01{}\r\n\
User-Agent: friendly-scanner\r\nCall-ID: {}\r\nContact: sip:100@{src}:{port}\r\nCSeq: 1 OPTIONS\r\n\
Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
            rng.below(4_294_967_296),
            rng.hex(16),
            rng.hex(20),
            rng.digits(24)
        ),
        Tool::Sipcli => format!(
            "OPTIONS sip:{dst} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:{port};branch=z9hG4bK{};rport\r\n\
From: <sip:sipcli@{src}:{port}>;tag={}\r\nTo: <sip:{dst}>\r\nCall-ID: {}@{src}\r\nCSeq: 1 OPTIONS\r\n\
Contact: <sip:sipcli@{src}:{port}>\r\nMax-Forwards: 70\r\nUser-Agent: sipcli/v1.8\r\nContent-Length: 0\r\n\r\n",
            rng.hex(10),
            rng.hex(8),
            rng.hex(12)
        ),
        Tool::Sundayddr => format!(
            "OPTIONS sip:{dst} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:{port};branch=z9hG4bK{}\r\n\
From: \"sundayddr\" <sip:sundayddr@{src}>;tag={}\r\nTo: <sip:{dst}>\r\nCall-ID: {}@{src}\r\n\
CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: sundayddr\r\nContact: <sip:sundayddr@{src}:{port}>\r\n\
Content-Length: 0\r\n\r\n",
            rng.digits(9),
            rng.digits(9),
            rng.digits(10)
        ),
        Tool::RandomAgent => {
            let user = rng.alnum(8);
            let method = if rng.below(2) == 0 { "OPTIONS" } else { "REGISTER" };
            format!(
                "{method} sip:{dst} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:{port};branch=z9hG4bK{}\r\n\
From: <sip:{user}@{src}:{port}>;tag={}\r\nTo: <sip:{user}@{src}:{port}>\r\nCall-ID: {}@{src}\r\n\
CSeq: 1 {method}\r\nContact: <sip:{user}@{src}:{port}>\r\nUser-Agent: {}\r\nMax-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n",
                rng.hex(12),
                rng.hex(8),
                rng.digits(10),
                rng.alnum(8)
            )
        }
        Tool::NmapSv => {
            "OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/UDP nm;branch=foo;rport\r\nFrom: <sip:nm@nm>;tag=root\r\n\
To: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\
Contact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n"
                .to_string()
        }
        Tool::Svcrack => {
            let ext = 100 + s.target % 900;
            let (cseq, auth) = if s.sent % 4 == 1 {
                (1, String::new())
            } else {
                let auth = format!(
                    "Authorization: Digest username=\"{ext}\",realm=\"asterisk\",nonce=\"{}\",uri=\"sip:{dst}\",\
algorithm=MD5,response=\"{}\"\r\n",
                    rng.hex(8),
                    rng.hex(32)
                );
                (2, auth)
            };
            format!(
                "REGISTER sip:{dst} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:{port};branch=z9hG4bK-{};rport\r\n\
Max-Forwards: 70\r\nTo: \"{ext}\" <sip:{ext}@{dst}>\r\nFrom: \"{ext}\" <sip:{ext}@{dst}>;tag={}\r\n\
User-Agent: friendly-scanner\r\nCall-ID: {}\r\nContact: sip:{ext}@{src}\r\nCSeq: {cseq} REGISTER\r\n\
Accept: application/sdp\r\nContent-Length: 0\r\n{auth}\r\n",
                rng.below(4_294_967_296),
                rng.hex(20),
                rng.digits(9)
            )
        }
        Tool::TollFraud(agent) => {
            // A number of the pool, the same for eight attempts in a row.
            let pick = Rng((u64::from(u32::from_be_bytes(s.ip)) << 32) | (s.sent / 8)).next();
            let number = pool_number(pick % NUMBER_POOL);
            let user = format!("{}{number}", DIAL_PREFIXES[(s.sent % 8) as usize]);
            let agent =
                ["User-Agent: friendly-scanner\r\n", "User-Agent: sipcli/v1.8\r\n", "User-Agent: pplsip\r\n", ""]
                    [usize::from(agent % 4)];
            let body = format!(
                "v=0\r\no=- {0} {0} IN IP4 {src}\r\ns=-\r\nc=IN IP4 {src}\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0 8\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n",
                rng.digits(7)
            );
            format!(
                "INVITE sip:{user}@{dst} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:{port};branch=z9hG4bK-{};rport\r\n\
Max-Forwards: 70\r\nFrom: \"1000\" <sip:1000@{dst}>;tag={}\r\nTo: <sip:{user}@{dst}>\r\nCall-ID: {}\r\n\
CSeq: 1 INVITE\r\n{agent}Contact: <sip:1000@{src}:{port}>\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
                rng.hex(8),
                rng.hex(8),
                rng.hex(16),
                body.len()
            )
        }
    };
    text.into_bytes()
}

/// Number `k` of the pool: calling code and subscriber digits.
fn pool_number(k: u64) -> String {
    let (code, len) = COUNTRIES[(k % COUNTRIES.len() as u64) as usize];
    let mut rng = Rng(k.wrapping_mul(0x2545_f491_4f6c_dd1d));
    format!("{code}{}", rng.digits(len))
}
