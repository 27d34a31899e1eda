//! Parses the benchmark messages in a loop: a fixed workload for `valgrind --tool=callgrind`
//! (instruction counts are repeatable where wall time is not).
//! `cargo run --release -p sipscope-sip --example parse_loop -- [ITERATIONS] [anomalies]`
//! (`anomalies` also runs the header-value checks, as every sipscope pipeline does).
use std::path::Path;

fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/messages");
    let mut messages: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("benches/messages exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .map(|p| std::fs::read(p).expect("readable"))
        .collect();
    messages.sort();
    let start = std::time::Instant::now();
    let with_anomalies = std::env::args().nth(2).is_some_and(|a| a == "anomalies");
    let mut headers = 0usize;
    for _ in 0..iterations {
        for m in &messages {
            let msg = sipscope_sip::parse(std::hint::black_box(m)).expect("bench messages parse");
            headers += msg.headers().len();
            if with_anomalies {
                headers += msg.anomalies().len();
            }
        }
    }
    let n = iterations * messages.len();
    let secs = start.elapsed().as_secs_f64();
    println!("{n} messages, {headers} headers, {:.0} messages/s", n as f64 / secs);
}
