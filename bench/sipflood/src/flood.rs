//! The flood engine: sockets, request templates and the one-thread send/receive loop.
//!
//! Every request carries its sequence number as 16 hex digits in the Via branch, the From tag
//! and the Call-ID (`sfcid-<seq>-<pid>@sipflood`). A response is matched to its request by the
//! Call-ID it echoes (RFC 3261 §8.2.6.2), so no per-request state but a ring slot is needed.
//!
//! Bookkeeping is a ring of slots indexed by `seq & mask`. Requests are sent in `seq` order,
//! so the oldest unresolved one is always at `tail`: walking `tail` forward retires answered
//! slots and declares lost those older than the timeout, in amortised O(1) per request. Lost
//! requests leave the window after the timeout, so a few drops slow the flood for a moment
//! instead of wedging it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq)]
pub enum Mix {
    Options,
    Register,
    Both,
}

pub struct Config {
    pub target: SocketAddr,
    pub count: u64,
    pub duration_s: f64,
    pub mix: Mix,
    pub window: usize,
    pub sources: usize,
    pub source_base: Ipv4Addr,
    pub batch: usize,
    pub timeout_s: f64,
    pub user: String,
}

pub struct Report {
    pub sent: u64,
    pub answered: u64,
    pub lost: u64,
    /// Final answers that came after their request was declared lost (or twice).
    pub late: u64,
    /// Datagrams that were not a final answer to one of our requests.
    pub unmatched: u64,
    /// ICMP port-unreachable reports (nothing listening at the target).
    pub refused: u64,
    /// From the first send to the last answer (or the end of sending, if later).
    pub seconds: f64,
    pub codes: Vec<(u16, u64)>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

const SEND_BUF: usize = 1500;
const RECV_BUF: usize = 4096;
const HOLE: &[u8; 16] = b"################";
const EMPTY: u64 = u64::MAX;
/// Latency histogram: 10 µs buckets up to 1 s (the last bucket takes everything longer).
const LAT_BUCKET_NS: u64 = 10_000;
const LAT_BUCKETS: usize = 100_000;

/// One request text with the byte offsets where the 16-hex-digit sequence number goes.
struct Template {
    bytes: Vec<u8>,
    holes: Vec<usize>,
}

#[derive(Clone, Copy)]
struct Slot {
    seq: u64,
    sent_ns: u64,
}

fn host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

fn template(method: &str, cfg: &Config, local: SocketAddr) -> Template {
    let t = cfg.target;
    let (th, lh, lp, user) = (host(t.ip()), host(local.ip()), local.port(), &cfg.user);
    let h = std::str::from_utf8(HOLE).unwrap();
    let pid = std::process::id();
    // REGISTER goes to the user's address of record with no credentials: a registrar answers
    // 401/403/404, any final answer counts.
    let (ruri, from, to, extra) = if method == "REGISTER" {
        (
            format!("sip:{th}:{}", t.port()),
            format!("<sip:{user}@{th}>"),
            format!("<sip:{user}@{th}>"),
            format!("Contact: <sip:{user}@{lh}:{lp}>\r\nExpires: 60\r\n"),
        )
    } else {
        (
            format!("sip:{th}:{}", t.port()),
            format!("<sip:sipflood@{lh}>"),
            format!("<sip:{th}:{}>", t.port()),
            "Accept: application/sdp\r\n".to_string(),
        )
    };
    let text = format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {lh}:{lp};rport;branch=z9hG4bK{h}\r\n\
         Max-Forwards: 70\r\n\
         From: {from};tag=t{h}\r\n\
         To: {to}\r\n\
         Call-ID: sfcid-{h}-{pid}@sipflood\r\n\
         CSeq: 1 {method}\r\n\
         {extra}\
         User-Agent: sipflood\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let bytes = text.into_bytes();
    let holes = bytes.windows(16).enumerate().filter(|(_, w)| *w == HOLE).map(|(i, _)| i).collect();
    assert!(bytes.len() <= SEND_BUF, "request template too long");
    Template { bytes, holes }
}

fn put_hex(dst: &mut [u8], v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, d) in dst[..16].iter_mut().enumerate() {
        *d = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &c in s.get(..16)? {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | d as u64;
    }
    Some(v)
}

/// The request's sequence number and the status code, if `buf` is a final SIP response to
/// one of our requests.
fn parse_answer(buf: &[u8]) -> Option<(u64, u16)> {
    if buf.len() < 12 || &buf[..8] != b"SIP/2.0 " {
        return None;
    }
    let code = std::str::from_utf8(&buf[8..11]).ok()?.parse::<u16>().ok()?;
    if !(100..700).contains(&code) {
        return None;
    }
    let at = buf.windows(6).position(|w| w == b"sfcid-")? + 6;
    Some((parse_hex(&buf[at..])?, code))
}

fn big_buffers(fd: i32) {
    // As root SO_*BUFFORCE passes net.core.*mem_max; otherwise the plain option, capped.
    // Big client buffers keep a whole window of answers, so losses are the server's own.
    let size: libc::c_int = 8 << 20;
    for (force, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
        for opt in [force, plain] {
            // SAFETY: a valid fd and a c_int option value of the right size.
            let r = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    opt,
                    &size as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r == 0 {
                break;
            }
        }
    }
}

fn open_sources(cfg: &Config) -> io::Result<Vec<UdpSocket>> {
    (0..cfg.sources)
        .map(|i| {
            let ip: IpAddr = match cfg.target {
                SocketAddr::V4(_) => Ipv4Addr::from(u32::from(cfg.source_base) + i as u32).into(),
                SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            };
            let s = UdpSocket::bind(SocketAddr::new(ip, 0))
                .map_err(|e| io::Error::new(e.kind(), format!("bind {ip}: {e}")))?;
            // Connected: the kernel drops datagrams from anyone but the target and reports
            // ICMP unreachable, and sendmmsg needs no per-message address.
            s.connect(cfg.target)?;
            s.set_nonblocking(true)?;
            big_buffers(s.as_raw_fd());
            Ok(s)
        })
        .collect()
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn run(cfg: &Config) -> io::Result<Report> {
    let socks = open_sources(cfg)?;
    let fds: Vec<i32> = socks.iter().map(|s| s.as_raw_fd()).collect();
    // templates[source][0 = OPTIONS, 1 = REGISTER]
    let templates: Vec<[Template; 2]> = socks
        .iter()
        .map(|s| {
            let local = s.local_addr()?;
            Ok([template("OPTIONS", cfg, local), template("REGISTER", cfg, local)])
        })
        .collect::<io::Result<_>>()?;

    // Everything the loop touches is allocated here, once.
    let b = cfg.batch;
    let mut sbufs = vec![[0u8; SEND_BUF]; b];
    let mut rbufs = vec![[0u8; RECV_BUF]; b];
    // SAFETY (for the zeroed structs): iovec and mmsghdr are plain C structs, all-zero valid.
    let mut siov: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; b];
    let mut riov: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; b];
    let mut smsg: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; b];
    let mut rmsg: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; b];
    for i in 0..b {
        siov[i].iov_base = sbufs[i].as_mut_ptr() as *mut libc::c_void;
        riov[i].iov_base = rbufs[i].as_mut_ptr() as *mut libc::c_void;
        riov[i].iov_len = RECV_BUF;
        smsg[i].msg_hdr.msg_iov = &mut siov[i];
        smsg[i].msg_hdr.msg_iovlen = 1;
        rmsg[i].msg_hdr.msg_iov = &mut riov[i];
        rmsg[i].msg_hdr.msg_iovlen = 1;
    }
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    // The ring must outlast the timeout at any plausible rate, or lost requests at the tail
    // would stall sending: 2^20 slots is 10 s at 100,000 requests/s.
    let ring_len = (cfg.window * 4).next_power_of_two().max(1 << 20);
    let mask = (ring_len - 1) as u64;
    let mut ring = vec![Slot { seq: EMPTY, sent_ns: 0 }; ring_len];
    let mut hist = vec![0u32; LAT_BUCKETS];
    let mut codes = vec![0u64; 700];
    let mut max_lat_ns = 0u64;

    let count = cfg.count;
    // Slow start: the window opens from one batch by one request per answer (doubling each
    // round trip), so the first burst does not overflow the server's receive buffer.
    let window = cfg.window as u64;
    let mut cwnd = window.min(b as u64);
    let timeout_ns = (cfg.timeout_s * 1e9) as u64;
    let duration_ns = (cfg.duration_s * 1e9) as u64;
    let (mut next, mut tail) = (0u64, 0u64); // next seq to send; oldest maybe-unresolved seq
    let (mut answered, mut lost, mut late, mut unmatched, mut refused) = (0u64, 0, 0, 0, 0);
    let mut cur = 0usize; // source socket of the next batch
    let mut sending = count > 0;
    let mut last_ns = 0u64;
    let start = Instant::now();

    loop {
        let now = start.elapsed().as_nanos() as u64;
        while tail < next {
            let s = &mut ring[(tail & mask) as usize];
            if s.seq == tail {
                if now.saturating_sub(s.sent_ns) < timeout_ns {
                    break;
                }
                s.seq = EMPTY;
                lost += 1;
            }
            tail += 1;
        }
        if sending && (next >= count || now >= duration_ns) {
            sending = false;
            last_ns = last_ns.max(now);
        }
        let outstanding = next - answered - lost;
        if !sending && outstanding == 0 {
            break;
        }

        let mut progress = false;
        let mut want_out = false;
        if sending {
            let room =
                cwnd.saturating_sub(outstanding).min(ring_len as u64 - (next - tail)).min(count - next).min(b as u64)
                    as usize;
            if room > 0 {
                for i in 0..room {
                    let seq = next + i as u64;
                    let register = match cfg.mix {
                        Mix::Options => false,
                        Mix::Register => true,
                        Mix::Both => seq & 1 == 1,
                    };
                    let t = &templates[cur][register as usize];
                    let buf = &mut sbufs[i];
                    buf[..t.bytes.len()].copy_from_slice(&t.bytes);
                    for &h in &t.holes {
                        put_hex(&mut buf[h..], seq);
                    }
                    siov[i].iov_len = t.bytes.len();
                }
                // SAFETY: smsg[..room] points at live iovecs and buffers set up above.
                let n = unsafe { libc::sendmmsg(fds[cur], smsg.as_mut_ptr(), room as u32, libc::MSG_DONTWAIT) };
                if n > 0 {
                    for i in 0..n as u64 {
                        ring[((next + i) & mask) as usize] = Slot { seq: next + i, sent_ns: now };
                    }
                    next += n as u64;
                    progress = true;
                } else {
                    match errno() {
                        libc::EAGAIN | libc::ENOBUFS | libc::EINTR => want_out = true,
                        libc::ECONNREFUSED => refused += 1,
                        e => return Err(io::Error::from_raw_os_error(e)),
                    }
                }
                cur = (cur + 1) % fds.len();
            }
        }

        for &fd in &fds {
            loop {
                // SAFETY: rmsg[..b] points at live iovecs and RECV_BUF-sized buffers.
                let n = unsafe {
                    libc::recvmmsg(fd, rmsg.as_mut_ptr(), b as u32, libc::MSG_DONTWAIT, std::ptr::null_mut())
                };
                if n <= 0 {
                    if n < 0 && errno() == libc::ECONNREFUSED {
                        refused += 1;
                        continue; // the error is reported once; more datagrams may wait
                    }
                    break;
                }
                let now = start.elapsed().as_nanos() as u64;
                for i in 0..n as usize {
                    let len = (rmsg[i].msg_len as usize).min(RECV_BUF);
                    match parse_answer(&rbufs[i][..len]) {
                        Some((_, code)) if code < 200 => {} // provisional: wait for the final
                        Some((seq, code)) => {
                            let s = &mut ring[(seq & mask) as usize];
                            if s.seq == seq {
                                s.seq = EMPTY;
                                answered += 1;
                                cwnd = (cwnd + 1).min(window);
                                codes[code as usize] += 1;
                                let lat = now.saturating_sub(s.sent_ns);
                                max_lat_ns = max_lat_ns.max(lat);
                                hist[((lat / LAT_BUCKET_NS) as usize).min(LAT_BUCKETS - 1)] += 1;
                                last_ns = last_ns.max(now);
                            } else {
                                late += 1;
                            }
                        }
                        None => unmatched += 1,
                    }
                }
                progress = true;
                if (n as usize) < b {
                    break;
                }
            }
        }

        if !progress {
            let ev = libc::POLLIN | if want_out { libc::POLLOUT } else { 0 };
            for p in pfds.iter_mut() {
                p.events = ev;
            }
            // A short timeout: the loop must also wake to retire timed-out requests.
            // SAFETY: pfds is a live array of pollfd.
            unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 5) };
        }
    }

    let pct = |p: f64| -> f64 {
        let want = ((answered as f64) * p).ceil().max(1.0) as u64;
        let mut acc = 0u64;
        for (i, &c) in hist.iter().enumerate() {
            acc += c as u64;
            if acc >= want {
                return (i as f64 + 1.0) * LAT_BUCKET_NS as f64 / 1e6; // bucket's upper bound
            }
        }
        0.0
    };
    Ok(Report {
        sent: next,
        answered,
        lost,
        late,
        unmatched,
        refused,
        seconds: last_ns as f64 / 1e9,
        codes: codes.iter().enumerate().filter(|(_, &n)| n > 0).map(|(c, &n)| (c as u16, n)).collect(),
        p50_ms: if answered > 0 { pct(0.50) } else { 0.0 },
        p99_ms: if answered > 0 { pct(0.99) } else { 0.0 },
        max_ms: max_lat_ns as f64 / 1e6,
    })
}
