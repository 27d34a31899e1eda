//! sipflood — floods a SIP UDP server on loopback with OPTIONS and/or REGISTER requests and
//! measures how many it answers per second.
//!
//! It keeps a bounded window of outstanding requests, so the figure is the server's answered
//! rate and not how fast we can overflow its socket buffer. One thread, `sendmmsg`/`recvmmsg`
//! in batches, no allocation per packet (see flood.rs). Only loopback targets are accepted:
//! this is a benchmark for servers we run ourselves on this machine.
//!
//! Output: one JSON line on stdout (for scripts), one human line on stderr.
//! Exit status: 0 when at least one request was answered, 1 on usage errors, 2 otherwise.

mod flood;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::exit;

const USAGE: &str = "usage: sipflood [--target 127.0.0.1:5060] [--count N] [--duration S]
                [--mix options|register|both] [--window W] [--sources K]
                [--source-base 127.0.1.1] [--batch B] [--timeout S] [--user 1000]
  --count N        requests to send (default 100000)
  --duration S     stop sending after S seconds (default 60); whichever of count/duration first
  --mix            which requests (default both: OPTIONS and REGISTER alternately)
  --window W       most requests outstanding at once (default 256). Keep it below what
                   the server's receive buffer holds (~300 requests in a default 208 KiB
                   buffer): a larger window only overflows it, and each dropped request
                   holds its window slot until --timeout
  --sources K      source sockets, bound to consecutive addresses from --source-base
                   (IPv4) or all to ::1 (IPv6) (default 1)
  --batch B        datagrams per sendmmsg/recvmmsg call (default 64)
  --timeout S      a request unanswered for S seconds is lost (default 2); lost requests
                   are counted, never retransmitted
  --user U         the To/From user of REGISTER requests (default 1000)
Only 127.0.0.0/8 and ::1 targets are accepted.";

fn die(msg: &str) -> ! {
    eprintln!("sipflood: {msg}\n{USAGE}");
    exit(1)
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| die(&format!("bad value for {flag}: {v}")))
}

fn parse_args() -> flood::Config {
    let mut cfg = flood::Config {
        target: "127.0.0.1:5060".parse().unwrap(),
        count: 100_000,
        duration_s: 60.0,
        mix: flood::Mix::Both,
        window: 256,
        sources: 1,
        source_base: Ipv4Addr::new(127, 0, 1, 1),
        batch: 64,
        timeout_s: 2.0,
        user: "1000".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        // Both `--flag value` and `--flag=value`.
        let (flag, val) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), v.to_string()),
            None => {
                let v = args.next().unwrap_or_else(|| die(&format!("{arg} needs a value")));
                (arg, v)
            }
        };
        match flag.as_str() {
            "--target" => cfg.target = num(&flag, &val),
            "--count" => cfg.count = num(&flag, &val),
            "--duration" => cfg.duration_s = num(&flag, &val),
            "--window" => cfg.window = num(&flag, &val),
            "--sources" => cfg.sources = num(&flag, &val),
            "--source-base" => cfg.source_base = num(&flag, &val),
            "--batch" => cfg.batch = num(&flag, &val),
            "--timeout" => cfg.timeout_s = num(&flag, &val),
            "--user" => cfg.user = val,
            "--mix" => {
                cfg.mix = match val.as_str() {
                    "options" => flood::Mix::Options,
                    "register" => flood::Mix::Register,
                    "both" => flood::Mix::Both,
                    _ => die(&format!("bad --mix: {val}")),
                }
            }
            _ => die(&format!("unknown flag {flag}")),
        }
    }
    // The network rule of this workplace: load only ever goes to our own loopback servers.
    if !is_loopback(cfg.target) {
        die(&format!("refusing non-loopback target {} (only 127.0.0.0/8 and ::1)", cfg.target));
    }
    if !cfg.source_base.is_loopback() {
        die("--source-base must be in 127.0.0.0/8");
    }
    if cfg.target.is_ipv4() {
        let last = u32::from(cfg.source_base) as u64 + cfg.sources as u64 - 1;
        if last > u32::from(Ipv4Addr::new(127, 255, 255, 254)) as u64 {
            die("--sources runs past 127.255.255.254");
        }
    }
    if cfg.window == 0 || cfg.sources == 0 || cfg.batch == 0 || cfg.batch > 1024 {
        die("--window and --sources must be > 0, --batch in 1..=1024");
    }
    // NaN parses as a float; reject it along with non-positive values.
    if [cfg.duration_s, cfg.timeout_s].iter().any(|v| v.is_nan() || *v <= 0.0) {
        die("--duration and --timeout must be > 0");
    }
    if cfg.user.is_empty() || !cfg.user.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b)) {
        die("--user must be a plain SIP user part");
    }
    cfg
}

fn is_loopback(a: SocketAddr) -> bool {
    match a.ip() {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let cfg = parse_args();
    let r = match flood::run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sipflood: {e}");
            exit(2)
        }
    };
    let cpu = cpu_seconds();
    let rate = if r.seconds > 0.0 { r.answered as f64 / r.seconds } else { 0.0 };
    let mix = match cfg.mix {
        flood::Mix::Options => "options",
        flood::Mix::Register => "register",
        flood::Mix::Both => "both",
    };
    let codes: Vec<String> = r.codes.iter().map(|(c, n)| format!("\"{c}\":{n}")).collect();
    println!(
        "{{\"sent\":{},\"answered\":{},\"lost\":{},\"seconds\":{:.6},\"answered_per_s\":{:.1},\
         \"cpu_seconds\":{:.3},\"late\":{},\"unmatched\":{},\"refused\":{},\"codes\":{{{}}},\
         \"latency_ms\":{{\"p50\":{:.3},\"p99\":{:.3},\"max\":{:.3}}},\
         \"mix\":\"{}\",\"window\":{},\"sources\":{},\"batch\":{},\"target\":\"{}\"}}",
        r.sent,
        r.answered,
        r.lost,
        r.seconds,
        rate,
        cpu,
        r.late,
        r.unmatched,
        r.refused,
        codes.join(","),
        r.p50_ms,
        r.p99_ms,
        r.max_ms,
        mix,
        cfg.window,
        cfg.sources,
        cfg.batch,
        cfg.target
    );
    eprintln!(
        "sipflood: {} sent, {} answered, {} lost in {:.3} s = {:.0} answered/s \
         (latency p50 {:.2} ms, p99 {:.2} ms; own cpu {:.2} s; mix {}, window {}, sources {})",
        r.sent, r.answered, r.lost, r.seconds, rate, r.p50_ms, r.p99_ms, cpu, mix, cfg.window, cfg.sources
    );
    exit(if r.answered > 0 { 0 } else { 2 })
}
