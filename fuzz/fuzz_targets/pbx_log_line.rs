//! PBX log lines (`sipscope::sources::pbx_logs`): byte 0 picks the format and a chunk size;
//! the rest is a log. It is cut into lines by `LineSplitter` fed in chunks of that size, and
//! the lines must be the same as when it is fed at once; every line is parsed, the attacker's
//! fields of an event (user, Call-ID, extension) lie in the line (when it has no colour codes, which are parsed from a copy), and
//! every attempt becomes a record that keeps the line exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipscope::sources::pbx_logs::read::{LineSplitter, Piece};
use sipscope::sources::pbx_logs::record::LineSource;
use sipscope::sources::pbx_logs::stamp::TimeContext;
use sipscope::sources::pbx_logs::{to_record, LineLimits, LineParser, LogFormat, Parsed};
use sipscope_sip_fuzz::within;

fn lines(log: &[u8], chunk: usize, limits: LineLimits) -> (Vec<Option<Vec<u8>>>, u64) {
    let mut splitter = LineSplitter::new(limits);
    let mut out = Vec::new();
    let mut advanced = 0;
    for c in log.chunks(chunk.max(1)) {
        advanced += splitter.feed(c, &mut |p| {
            out.push(match p {
                Piece::Line(l) => Some(l.to_vec()),
                Piece::Oversized => None,
            })
        });
    }
    (out, advanced)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, log)) = data.split_first() else { return };
    let format = if control & 1 == 0 { LogFormat::Asterisk } else { LogFormat::FreeSwitch };
    let limits = LineLimits { max_line_bytes: 64 + usize::from(control >> 1) * 8 };
    let (pieces, advanced) = lines(log, usize::from(control >> 2) + 1, limits);
    let (whole, advanced_whole) = lines(log, log.len().max(1), limits);
    assert_eq!(pieces, whole, "chunking changes the lines");
    assert_eq!(advanced, advanced_whole);
    assert!(advanced <= log.len() as u64);
    let time = TimeContext { utc_offset_s: 3600, reference_ns: 1_704_890_096_000_000_000 };
    let mut parser = LineParser::new(format, time);
    for line in pieces.iter().flatten() {
        let coloured = line.contains(&0x1b);
        if let Parsed::Event(event) = parser.parse(line) {
            if !coloured {
                for field in [event.username, event.call_id, event.extension].into_iter().flatten() {
                    assert!(within(line, field), "a field outside the line");
                }
            }
            let source = LineSource { sensor: "s", file: "f", fallback_ns: 0 };
            if let Some(record) = to_record(&event, line, &source, 1) {
                assert_eq!(record.log.map(|l| l.line), Some(line.clone()));
            }
        }
    }
});
