//! Prints what the parser sees in a file: `cargo run -p sipscope-sip --example dump FILE`.
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable file");
        match sipscope_sip::parse(&bytes) {
            Ok(msg) => {
                println!("{path}: {:?}", msg.start_line());
                for h in msg.headers() {
                    println!(
                        "  {:?} {:?} = {:?}",
                        h.kind,
                        String::from_utf8_lossy(h.name),
                        String::from_utf8_lossy(h.value)
                    );
                }
                println!("  anomalies: {:?}", msg.anomalies());
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}
