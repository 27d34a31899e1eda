//! A small loopback load for `bench/api-latency.sh`: `CLIENTS` connections (HTTP/1.1
//! keep-alive) each send `REQUESTS` GETs of `PATH` with a bearer token, one after another,
//! and the latency of every answer is recorded; prints count, errors, p50, p90, p99 and max
//! in milliseconds:
//! `cargo run --release -p sipscope --example api_load -- ADDR TOKEN PATH REQUESTS [CLIENTS]`
//! A `{n}` in `PATH` is replaced by a number no other request of the run uses (client ×
//! `REQUESTS` + request), so that every request asks for something the server has not seen
//! (`/api/v1/report?to={n}`: a new filter each time, built cold).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends one request on `s` and reads its answer; returns the status.
fn one(s: &mut BufReader<TcpStream>, host: &str, token: &str, path: &str) -> std::io::Result<u16> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n");
    s.get_mut().write_all(req.as_bytes())?;
    let mut status = 0;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("closed"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if status == 0 {
            status = l.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        } else if let Some((name, value)) = l.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    s.read_exact(&mut body)?;
    Ok(status)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, token, path, requests, rest @ ..] = &args[..] else {
        eprintln!("usage: api_load ADDR TOKEN PATH REQUESTS [CLIENTS]");
        std::process::exit(2);
    };
    let requests: usize = requests.parse().unwrap_or(100);
    let clients: usize = rest.first().and_then(|c| c.parse().ok()).unwrap_or(1);
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (addr, token, path) = (addr.clone(), token.clone(), path.clone());
            std::thread::spawn(move || {
                let mut times = Vec::with_capacity(requests);
                let mut errors = 0;
                let connect = || -> std::io::Result<BufReader<TcpStream>> {
                    let s = TcpStream::connect(&addr)?;
                    s.set_read_timeout(Some(Duration::from_secs(60)))?;
                    s.set_nodelay(true)?;
                    Ok(BufReader::new(s))
                };
                let mut s = connect().ok();
                for i in 0..requests {
                    let path = path.replace("{n}", &(client * requests + i).to_string());
                    let start = Instant::now();
                    let result = match s.as_mut() {
                        Some(conn) => one(conn, &addr, &token, &path),
                        None => Err(std::io::Error::other("not connected")),
                    };
                    match result {
                        Ok(200) => times.push(start.elapsed()),
                        _ => {
                            errors += 1;
                            s = connect().ok();
                        }
                    }
                }
                (times, errors)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = 0;
    for t in threads {
        if let Ok((t, e)) = t.join() {
            times.extend(t);
            errors += e;
        }
    }
    times.sort();
    let ms = |q: f64| -> f64 {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{path}: {} answers, {errors} errors, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        times.len(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(1.0)
    );
}
