//! A HEP load generator for `bench/hep-bench.sh`: sends N HEPv3 packets over UDP (or one TCP
//! stream), as fast as it can or at a given rate, each carrying one SIP message of an attack
//! mix (scanner OPTIONS, digest REGISTERs, responses) from many sources, with a capture id and
//! auth key:
//! `cargo run --release -p sipscope --example hep_send -- ADDR:PORT N [--rate PPS] [--id ID] [--key KEY] [--tcp]`
//!
//! Every packet is encoded before the clock starts and sent `sendmmsg` 64 at a time on a
//! connected socket (with `--tcp`: 64 packets per `write` on one stream, HEPv3's own framing).
//! Prints what it sent and how long it took. Deterministic bytes; loopback use only.

use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use sipscope_hep::{encode, Packet, Payload, FAMILY_V4, PAYLOAD_SIP};
use std::io::{IoSlice, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Event time of the first packet; packets are 10 µs apart.
const T0: u32 = 1_796_000_000;

/// Datagrams handed to the kernel per `sendmmsg`.
const BATCH: usize = 64;

#[path = "../../sip/examples/shared/hep_mix.rs"]
mod hep_mix;
use hep_mix::message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut positional = Vec::new();
    let (mut rate, mut id, mut key) = (None::<u64>, 2001u32, String::from("bench-key-0123456789"));
    let mut tcp = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rate" => rate = args.next().and_then(|r| r.parse().ok()),
            "--id" => id = args.next().and_then(|r| r.parse().ok()).unwrap_or(id),
            "--key" => key = args.next().unwrap_or(key),
            "--tcp" => tcp = true,
            _ => positional.push(arg),
        }
    }
    let to: SocketAddr = positional.first().ok_or("ADDR:PORT")?.parse()?;
    let n: u64 = positional.get(1).ok_or("N")?.parse()?;
    // Every packet is encoded before the clock starts, into one buffer: the sender's CPU goes
    // to the system calls only, and the collector keeps the rest of the machine.
    let (mut bytes, mut ends) = (Vec::new(), Vec::with_capacity(n as usize));
    for i in 0..n {
        bytes.extend_from_slice(&packet(i, id, key.as_bytes())?);
        ends.push(bytes.len());
    }
    if tcp {
        return send_stream(to, &bytes, &ends, rate);
    }
    let socket = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    socket.connect(to)?;
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let addresses = [None::<SockaddrStorage>; BATCH];
    let started = Instant::now();
    let (mut sent, mut start) = (0usize, 0usize);
    while sent < ends.len() {
        let Some(room) = room(started, rate, sent) else { continue };
        let batch = ends.get(sent..(sent + room).min(ends.len())).unwrap_or_default();
        let mut from = start;
        let iovs: Vec<[IoSlice<'_>; 1]> = batch
            .iter()
            .map(|&end| {
                let slice = [IoSlice::new(bytes.get(from..end).unwrap_or_default())];
                from = end;
                slice
            })
            .collect();
        match sendmmsg(socket.as_raw_fd(), &mut headers, &iovs, addresses, [], MsgFlags::empty()) {
            Ok(results) => {
                let done = results.count();
                sent += done;
                start = ends.get(sent.wrapping_sub(1)).copied().unwrap_or(0);
            }
            // Loopback never loses a send; a full socket buffer is retried.
            Err(_) => std::thread::yield_now(),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"sent\": {sent}, \"seconds\": {secs:.3}, \"per_second\": {:.0}}}", sent as f64 / secs);
    Ok(())
}

/// How many packets may leave now, `sent` having left: paced, packet i leaves at i / `rate`
/// seconds, a batch at a time (`None` after a short sleep when none is due yet).
fn room(started: Instant, rate: Option<u64>, sent: usize) -> Option<usize> {
    let Some(pps) = rate else { return Some(BATCH) };
    let due = (started.elapsed().as_secs_f64() * pps as f64) as usize;
    if due <= sent {
        std::thread::sleep(Duration::from_micros(200));
        return None;
    }
    Some((due - sent).min(BATCH))
}

/// Sends the packets on one TCP stream, `BATCH` per `write` (paced as the datagrams are).
fn send_stream(
    to: SocketAddr,
    bytes: &[u8],
    ends: &[usize],
    rate: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(to)?;
    stream.set_nodelay(true)?;
    let started = Instant::now();
    let (mut sent, mut start) = (0usize, 0usize);
    while sent < ends.len() {
        let Some(room) = room(started, rate, sent) else { continue };
        let last = (sent + room).min(ends.len());
        let end = ends.get(last - 1).copied().unwrap_or(start);
        stream.write_all(bytes.get(start..end).unwrap_or_default())?;
        (sent, start) = (last, end);
    }
    stream.flush()?;
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"sent\": {sent}, \"seconds\": {secs:.3}, \"per_second\": {:.0}}}", sent as f64 / secs);
    // The collector counts what it read: keep the stream open until it has read everything.
    let mut rest = [0u8; 1];
    let _ = std::io::Read::read(&mut stream, &mut rest);
    Ok(())
}

/// Packet `i`: its SIP message in HEPv3 with capture id `id` and auth key `key`.
fn packet(i: u64, id: u32, key: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let sip = message(i);
    let mut p = Packet::v3();
    p.ip_family = Some(FAMILY_V4);
    p.ip_proto = Some(17);
    let responding = i % 5 == 4;
    let attacker = std::net::Ipv4Addr::new(198, 51, (i / 65_536 % 256) as u8, (i / 256 % 256) as u8);
    let target = std::net::Ipv4Addr::new(192, 0, (i / 256 % 64) as u8, (i % 256) as u8);
    let (src, dst) = if responding { (target, attacker) } else { (attacker, target) };
    (p.src_addr, p.dst_addr) = (Some(src.into()), Some(dst.into()));
    (p.src_port, p.dst_port) = (Some(5060), Some(5060));
    p.ts_sec = Some(T0 + (i / 100_000) as u32);
    p.ts_usec = Some((i % 100_000 * 10) as u32);
    p.payload_type = Some(PAYLOAD_SIP);
    p.capture_id = Some(id);
    p.auth_key = Some(key);
    p.payload = Payload::Plain(&sip);
    Ok(encode(&p)?)
}
