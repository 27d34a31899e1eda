//! Log parser throughput (`bench/logs-parse.sh`): a log of N lines — every fixture line of
//! both formats among ordinary lines the parsers ignore, in the proportion of a busy PBX log
//! (one line in four an authentication event) — cut into lines and parsed, in memory, on one
//! thread. Prints lines/s and MB/s; `--format` picks the parser.
//!
//! Usage: pbx_logs_bench [--lines N] [--rounds R] [--format asterisk|freeswitch]

use sipscope::sources::pbx_logs::read::{LineSplitter, Piece};
use sipscope::sources::pbx_logs::stamp::TimeContext;
use sipscope::sources::pbx_logs::{LineLimits, LineParser, LogFormat, Parsed};
use std::time::Instant;

const ASTERISK: [&str; 4] = [
    include_str!("../tests/fixtures/pbx_logs/asterisk-security.log"),
    include_str!("../tests/fixtures/pbx_logs/asterisk-messages.log"),
    include_str!("../tests/fixtures/pbx_logs/asterisk-pjsip.log"),
    include_str!("../tests/fixtures/pbx_logs/asterisk-services.log"),
];
const FREESWITCH: &str = include_str!("../tests/fixtures/pbx_logs/freeswitch.log");

/// Ordinary lines (what most of a PBX log is).
const ORDINARY_ASTERISK: [&str; 3] = [
    "[2024-01-10 12:36:07] VERBOSE[4242][C-0000002b] pbx.c: Executing [100@from-internal:1] Dial(\"PJSIP/101-0000002a\", \"PJSIP/100,30\") in new stack",
    "[2024-01-10 12:36:07] VERBOSE[4242] res_pjsip_registrar.c: Added contact 'sip:101@192.0.2.50:5060;ob' to AOR '101' with expiration of 300 seconds",
    "[2024-01-10 12:36:08] WARNING[4243] res_rtp_asterisk.c: 192.0.2.50:10000 -- Strict RTP learning after remote address set to: 192.0.2.50:10000",
];
const ORDINARY_FREESWITCH: [&str; 3] = [
    "2024-01-10 12:37:05.000000 [NOTICE] switch_channel.c:1104 New Channel sofia/internal/100@192.0.2.10 [0b3f1e3c-77a2-4a53-8a1c-6c7d1b1b9f0e]",
    "2024-01-10 12:37:05.000000 [INFO] mod_dialplan_xml.c:637 Processing 100 <100>->101 in context default",
    "2024-01-10 12:37:06.000000 [DEBUG] switch_core_state_machine.c:581 (sofia/internal/100@192.0.2.10) Running State Change CS_INIT",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut lines, mut rounds, mut format) = (2_000_000usize, 5usize, LogFormat::Asterisk);
    while let Some(a) = args.next() {
        let value = args.next().unwrap_or_default();
        match a.as_str() {
            "--lines" => lines = value.parse().expect("--lines N"),
            "--rounds" => rounds = value.parse().expect("--rounds R"),
            "--format" => format = value.parse().expect("--format asterisk|freeswitch"),
            _ => panic!("unknown argument {a}"),
        }
    }
    let (events, ordinary): (Vec<&str>, &[&str]) = match format {
        LogFormat::Asterisk => (ASTERISK.iter().flat_map(|f| f.lines()).collect(), &ORDINARY_ASTERISK),
        LogFormat::FreeSwitch => (FREESWITCH.lines().collect(), &ORDINARY_FREESWITCH),
    };
    let mut log = Vec::new();
    for i in 0..lines {
        let line = if i % 4 == 0 { events[(i / 4) % events.len()] } else { ordinary[i % ordinary.len()] };
        log.extend_from_slice(line.as_bytes());
        log.push(b'\n');
    }
    let time = TimeContext { utc_offset_s: 0, reference_ns: sipscope::time::now_ns() };
    let mut best = f64::MAX;
    for round in 0..rounds {
        let mut parser = LineParser::new(format, time);
        let mut splitter = LineSplitter::new(LineLimits::default());
        let (mut seen, mut found) = (0usize, 0usize);
        let started = Instant::now();
        for chunk in log.chunks(64 * 1024) {
            splitter.feed(chunk, &mut |piece| {
                if let Piece::Line(line) = piece {
                    seen += 1;
                    found += usize::from(matches!(parser.parse(line), Parsed::Event(_)));
                }
            });
        }
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        assert_eq!(seen, lines);
        println!(
            "round {round}: {lines} lines ({:.1} MB, {found} events) in {secs:.3} s: {:.2} M lines/s, {:.0} MB/s",
            log.len() as f64 / 1e6,
            lines as f64 / secs / 1e6,
            log.len() as f64 / secs / 1e6
        );
    }
    println!("best: {:.2} M lines/s ({:?})", lines as f64 / best / 1e6, format);
}
