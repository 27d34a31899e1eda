//! Lines out of log files, and what becomes of them: [`LineSplitter`] cuts bytes into lines
//! with bounded memory (a line longer than [`LineLimits::max_line_bytes`] is skipped to its
//! end without being kept, and counted), and [`LogIngest`] parses each line and hands the
//! attempts to the pipeline as records, counting everything else in a [`LogSummary`].

use super::record::LineSource;
use super::stamp::TimeContext;
use super::{to_record, Happened, LineLimits, LineParser, LogFormat, Parsed};
use crate::event::record::Record;
use crate::pipeline::Pipeline;
use crate::sinks::SinkError;
use serde::Serialize;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Refused lines logged before they are only counted (an attacker can make many).
const LOGGED_REFUSALS: u64 = 10;

/// Problems listed (and logged) in a summary; later ones are counted.
pub const MAX_PROBLEMS: usize = 100;

/// One piece of a byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A line, without its `\n` (and `\r`).
    Line(&'a [u8]),
    /// A line longer than the limit, skipped.
    Oversized,
}

/// Cuts a byte stream into lines, holding at most one line's worth of bytes.
#[derive(Debug)]
pub struct LineSplitter {
    /// The start of a line not ended yet.
    pending: Vec<u8>,
    /// The current line is over the limit: its bytes are skipped, not kept.
    skipping: bool,
    /// Bytes of the current line skipped so far.
    skipped: usize,
    max: usize,
}

impl LineSplitter {
    /// A splitter for lines of at most `limits.max_line_bytes`.
    pub fn new(limits: LineLimits) -> LineSplitter {
        LineSplitter { pending: Vec::new(), skipping: false, skipped: 0, max: limits.max_line_bytes.max(1) }
    }

    /// Feeds the next bytes; calls `f` for every line ended in them. Returns how many bytes,
    /// counted from the end of the last complete line before this call, now end in a
    /// complete line (what the read position may advance by).
    pub fn feed(&mut self, mut chunk: &[u8], f: &mut dyn FnMut(Piece<'_>)) -> u64 {
        let mut advanced = 0u64;
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let (segment, rest) = (chunk.get(..nl).unwrap_or_default(), chunk.get(nl + 1..).unwrap_or_default());
            advanced += (self.pending_bytes() + nl + 1) as u64;
            if self.skipping {
                self.skipping = false;
                f(Piece::Oversized);
            } else if self.pending.is_empty() {
                emit(segment, self.max, f);
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(segment);
                emit(&line, self.max, f);
                line.clear();
                self.pending = line;
            }
            self.skipped = 0;
            chunk = rest;
        }
        // One byte over the limit may still be the CR of a CRLF line end, which `emit` drops
        // before it measures: keep it, so that where the reads happen to split a line never
        // changes whether it is read.
        if self.skipping || self.pending.len() + chunk.len() > self.max + 1 {
            self.skipping = true;
            self.skipped += chunk.len() + std::mem::take(&mut self.pending).len();
        } else {
            self.pending.extend_from_slice(chunk);
        }
        advanced
    }

    /// Ends the stream (a rotated file, complete): an unterminated last line is a line.
    /// Returns the bytes it covered.
    pub fn finish(&mut self, f: &mut dyn FnMut(Piece<'_>)) -> u64 {
        let covered = self.pending_bytes() as u64;
        if self.skipping {
            f(Piece::Oversized);
        } else if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            emit(&line, self.max, f);
        }
        self.reset();
        covered
    }

    /// Forgets a partial line (reading starts again at a line start).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.skipping = false;
        self.skipped = 0;
    }

    fn pending_bytes(&self) -> usize {
        self.pending.len() + self.skipped
    }
}

fn emit(line: &[u8], max: usize, f: &mut dyn FnMut(Piece<'_>)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max {
        f(Piece::Oversized);
    } else {
        f(Piece::Line(line));
    }
}

/// Size of the reads.
const CHUNK: usize = 64 * 1024;

/// Reads `file` from `start` to its end through `splitter` (reset first), calling `f` for
/// every complete line; with `complete`, an unterminated last line too (a rotated file).
/// Returns the offset after the last line read.
pub fn read_span(
    file: &mut File,
    start: u64,
    complete: bool,
    splitter: &mut LineSplitter,
    f: &mut dyn FnMut(Piece<'_>),
) -> io::Result<u64> {
    splitter.reset();
    file.seek(SeekFrom::Start(start))?;
    let mut offset = start;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        offset += splitter.feed(buf.get(..n).unwrap_or_default(), f);
    }
    if complete {
        offset += splitter.finish(f);
    }
    splitter.reset();
    Ok(offset)
}

/// What reading logs found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LogSummary {
    /// Files read (a rotated copy read for its rest counts too).
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Attempts stored.
    pub attempts: u64,
    /// Challenges the PBX sent (not attempts).
    pub challenges: u64,
    /// Other security events (load, session and memory limits …).
    pub other_events: u64,
    /// Lines of no interest.
    pub ignored: u64,
    /// Lines refused because attacker text made the source ambiguous.
    pub ambiguous_source: u64,
    /// Lines like ours but cut short or mangled.
    pub malformed: u64,
    /// Lines over the length limit, skipped.
    pub oversized: u64,
    /// Events whose line held injected address fields (the PBX's own address was used).
    pub injected: u64,
    /// Rename rotations followed.
    pub rotations: u64,
    /// Files truncated in place (copy-truncate) followed.
    pub truncations: u64,
    /// Files that end in a line not ended yet, left for the next run.
    pub partial_lines_left: u64,
    /// What went wrong, one line each (the first [`MAX_PROBLEMS`]).
    pub problems: Vec<String>,
    /// Problems beyond those listed (a file missing at every poll of a long follow).
    pub problems_not_listed: u64,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

impl LogSummary {
    /// The summary as text.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} files, {} lines ({} bytes): {} attempts stored, {} challenges, {} other events, {} ignored\n",
            self.files, self.lines, self.bytes, self.attempts, self.challenges, self.other_events, self.ignored
        );
        out.push_str(&format!(
            "refused: {} ambiguous source, {} malformed, {} oversized; {} with injected fields\n",
            self.ambiguous_source, self.malformed, self.oversized, self.injected
        ));
        if self.rotations + self.truncations + self.partial_lines_left > 0 {
            out.push_str(&format!(
                "{} rotations, {} truncations followed; {} files end in a partial line (read next time)\n",
                self.rotations, self.truncations, self.partial_lines_left
            ));
        }
        for p in &self.problems {
            out.push_str(&format!("problem: {}\n", crate::output::escape::terminal(p, 1000)));
        }
        if self.problems_not_listed > 0 {
            out.push_str(&format!("problem: {} more not listed\n", self.problems_not_listed));
        }
        out
    }

    /// Records a problem.
    pub fn problem(&mut self, text: String) {
        if self.problems.len() >= MAX_PROBLEMS {
            self.problems_not_listed += 1;
            return;
        }
        tracing::warn!("{}", crate::output::escape::terminal(&text, 1000));
        self.problems.push(text);
    }
}

/// Lines in, records out: the parser, the pipeline and the counts.
pub struct LogIngest {
    parser: LineParser,
    pipeline: Pipeline,
    sensor: String,
    next_id: i64,
    /// The analysis run was begun (with the first attempt).
    run_begun: bool,
    /// Beginning it failed.
    error: Option<SinkError>,
    /// The counts so far.
    pub summary: LogSummary,
}

impl LogIngest {
    /// Reads `format` lines into `pipeline`; stamps without a zone are `utc_offset_s` from UTC.
    pub fn new(
        mut pipeline: Pipeline,
        format: LogFormat,
        utc_offset_s: i64,
        sensor: String,
    ) -> Result<LogIngest, SinkError> {
        let next_id = pipeline.next_auth_attempt_id()?;
        let time = TimeContext { utc_offset_s, reference_ns: crate::time::now_ns() };
        Ok(LogIngest {
            parser: LineParser::new(format, time),
            pipeline,
            sensor,
            next_id,
            run_begun: false,
            error: None,
            summary: LogSummary::default(),
        })
    }

    /// Sets the reference time for stamps without a year (the file's modification time).
    pub fn set_reference(&mut self, reference_ns: i64, utc_offset_s: i64) {
        self.parser.set_time(TimeContext { utc_offset_s, reference_ns });
    }

    /// Takes one piece of `file`; lines without a stamp get `fallback_ns`.
    pub fn piece(&mut self, piece: Piece<'_>, file: &str, fallback_ns: i64) {
        let line = match piece {
            Piece::Line(line) => line,
            Piece::Oversized => {
                self.summary.oversized += 1;
                return;
            }
        };
        self.summary.lines += 1;
        self.summary.bytes += line.len() as u64 + 1;
        let s = &mut self.summary;
        match self.parser.parse(line) {
            Parsed::Ignored => s.ignored += 1,
            Parsed::Refused(why) => {
                let n = match why {
                    super::Refusal::AmbiguousSource => &mut s.ambiguous_source,
                    super::Refusal::Malformed => &mut s.malformed,
                };
                *n += 1;
                if s.ambiguous_source + s.malformed <= LOGGED_REFUSALS {
                    tracing::warn!(
                        "{file}: line refused ({}): {}",
                        why.as_str(),
                        crate::output::escape::terminal(&crate::event::fields::lossless_text(line), 300)
                    );
                }
            }
            Parsed::Event(event) => {
                s.injected += u64::from(event.injected);
                match event.happened {
                    Happened::Challenge => s.challenges += 1,
                    Happened::Other(_) => s.other_events += 1,
                    Happened::Attempt(_) => {
                        let source = LineSource { sensor: &self.sensor, file, fallback_ns };
                        if let Some(record) = to_record(&event, line, &source, self.next_id) {
                            if !self.run_begun {
                                // The attempts feed the analysis (when it is on) into a run of
                                // their own, begun with the first: a run that reads nothing
                                // new leaves no empty run behind.
                                self.run_begun = true;
                                if let Err(e) = self.pipeline.begin_analysis(crate::time::now_ns()) {
                                    self.error = Some(e);
                                    return;
                                }
                            }
                            self.next_id += 1;
                            s.attempts += 1;
                            self.pipeline.record(Record::AuthAttempt(record));
                        }
                    }
                }
            }
        }
    }

    /// True once the store failed.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.pipeline.failed()
    }

    /// Makes every record taken so far durable (before positions are saved).
    pub fn commit(&mut self) -> Result<(), SinkError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.pipeline.tick(crate::time::now_ns())?;
        self.pipeline.store().flush()
    }

    /// Finishes the pipeline and returns the counts.
    pub fn finish(self) -> Result<LogSummary, SinkError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.pipeline.finish(crate::time::now_ns())?;
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> (Vec<String>, u64, u64) {
        let mut s = LineSplitter::new(LineLimits { max_line_bytes: max });
        let mut out = Vec::new();
        let mut advanced = 0;
        for c in chunks {
            advanced += s.feed(c, &mut |p| {
                out.push(match p {
                    Piece::Line(l) => String::from_utf8_lossy(l).into_owned(),
                    Piece::Oversized => "<oversized>".into(),
                })
            });
        }
        let rest = s.pending_bytes() as u64;
        (out, advanced, rest)
    }

    #[test]
    fn lines_across_chunks_and_limits() {
        let (lines, advanced, rest) = split(&[b"ab", b"c\r\nde", b"f\n\ng", b"h"], 100);
        assert_eq!(lines, ["abc", "def", ""]);
        assert_eq!((advanced, rest), (10, 2));
        // A long line is skipped to its end, whatever the chunks, without being kept.
        let (lines, advanced, rest) = split(&[b"ok\n0123456", b"789", b"abc\nok2\n"], 8);
        assert_eq!(lines, ["ok", "<oversized>", "ok2"]);
        assert_eq!((advanced, rest), (21, 0));
        let (lines, _, _) = split(&[b"012345678\n"], 8);
        assert_eq!(lines, ["<oversized>"]);
        let mut s = LineSplitter::new(LineLimits { max_line_bytes: 4 });
        s.feed(b"0123456789", &mut |_| {});
        assert!(s.pending.capacity() < 16, "an oversized line is not buffered");
    }

    /// A line of exactly the limit ended by CRLF is read whether its CR arrives with it or in
    /// the next read (found by the `pbx_log_line` fuzz target); one byte more is not.
    #[test]
    fn a_crlf_line_at_the_limit_is_read_however_the_reads_split_it() {
        for chunks in [&[&b"01234567\r\n"[..]][..], &[b"01234567", b"\r", b"\n"], &[b"01234567\r", b"\n"]] {
            assert_eq!(split(chunks, 8).0, ["01234567"], "{chunks:?}");
        }
        for chunks in [&[&b"012345678\r\n"[..]][..], &[b"012345678", b"\r\n"], &[b"01234567", b"8\r", b"\n"]] {
            assert_eq!(split(chunks, 8).0, ["<oversized>"], "{chunks:?}");
        }
        // Without the CR the byte over is the line's own.
        assert_eq!(split(&[b"01234567", b"8", b"\n"], 8).0, ["<oversized>"]);
    }
}
