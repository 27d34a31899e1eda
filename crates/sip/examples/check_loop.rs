//! The HEP benchmark's message mix (the messages of `sipscope`'s `examples/hep_send.rs`:
//! scanner OPTIONS, digest REGISTERs, 401s) parsed and checked with `check_views` in a loop, as
//! the pipeline does for every stored event: a fixed workload for callgrind, where the
//! collector's own figures mix in everything else.
//! `valgrind --tool=callgrind --toggle-collect='check_loop::run' target/release/examples/check_loop [N]`
//! gives the instructions of N messages (default 1,000).
#[path = "shared/hep_mix.rs"]
mod hep_mix;
use hep_mix::message;

/// Parses and checks every message; what it returns keeps the work from being optimised away.
#[inline(never)]
fn run(msgs: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for m in msgs {
        let msg = sipscope_sip::parse(std::hint::black_box(m)).expect("parses");
        let v = msg.check_views();
        n += msg.anomalies().len() + usize::from(v.from.is_some()) + v.credentials.map_or(0, |c| c.params.len());
    }
    n
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let msgs: Vec<Vec<u8>> = (0..n).map(message).collect();
    println!("{}", run(&msgs));
}
