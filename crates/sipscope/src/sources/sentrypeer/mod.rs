//! `sipscope import sentrypeer`: SentryPeer's records into the store, so its users keep their
//! history when they move (SentryPeer is a SIP honeypot sharing bad actors peer to peer).
//!
//! Two formats, told apart by their first bytes: the JSON log (`json.rs`) and the SQLite
//! database's `honey` table (`sqlite.rs`). Each file is hashed and registered like a capture
//! file (the same content twice is imported once; an interrupted import is replaced), each row
//! becomes an [`Arrival`] with what SentryPeer knew (`row.rs`: time, source, destination when
//! recorded, transport, port 0 where it recorded none) and the message text SentryPeer kept,
//! and goes through the one pipeline. Events carry their origin (the file's id and the line
//! number or `honey_id`) and, unless `--sensor` is given, the sensor `sentrypeer:<node id>`.
//! A row without message text is counted by method and not stored: the store holds messages,
//! and no SIP bytes are made up.

pub mod json;
pub mod row;
pub mod sqlite;
pub mod summary;

use crate::event::Direction;
use crate::pipeline::{Arrival, NodeOf, Note, Pipeline};
use crate::sinks::{CaptureFile, FileCounts, FileStart, SinkError};
use crate::time::now_ns;
use row::{ImportLimits, Row, RowError};
use std::io::Read;
use std::path::{Path, PathBuf};
pub use summary::ImportSummary;

/// The anomaly name of a message whose transport SentryPeer did not record (listed in
/// docs/anomalies.md): it is stored as UDP, framed as a datagram.
pub const TRANSPORT_UNKNOWN: &str = "transport_unknown";

/// The longest SentryPeer node id used in a sensor name, bytes.
const MAX_NODE_ID_BYTES: usize = 64;

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Import files again even when the same content was imported before.
    pub force: bool,
    /// The SentryPeer host's offset from UTC, seconds (its `event_timestamp` is local time).
    pub utc_offset_s: i64,
    /// Store each event under `sentrypeer:<created_by_node_id>` (else the pipeline's sensor).
    pub sensor_per_node: bool,
    /// Sensor name for the file registry.
    pub sensor: String,
    /// Row limits.
    pub limits: ImportLimits,
}

/// Why an import stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The store failed: nothing more can be recorded.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Imports `files` into `pipeline`, then finishes it.
pub fn run(files: &[PathBuf], mut pipeline: Pipeline, opts: &ImportOptions) -> Result<ImportSummary, ImportError> {
    let started = std::time::Instant::now();
    let mut summary = ImportSummary::default();
    for path in files {
        let shown = path.display().to_string();
        let (sha256, size) = match crate::fsutil::sha256_file(path) {
            Ok(h) => h,
            Err(e) => {
                summary.files_failed += 1;
                summary.problem(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        let file = CaptureFile { sha256, path: shown.clone(), size, sensor: opts.sensor.clone() };
        match pipeline.begin_file(file, now_ns(), opts.force)? {
            FileStart::AlreadyIngested { .. } => {
                summary.files_already_imported += 1;
                continue;
            }
            FileStart::Ingest { replaced, .. } => summary.events_replaced += replaced,
        }
        let mut importer = Importer { pipeline: &mut pipeline, summary: &mut summary, opts, shown: &shown };
        let (rows_before, messages_before, refused_before) =
            (importer.summary.rows, importer.summary.messages, importer.summary.rows_refused);
        match importer.read(path) {
            Ok(()) => {
                summary.files += 1;
                let counts = FileCounts {
                    packets: summary.rows - rows_before,
                    messages: summary.messages - messages_before,
                    skipped: summary.rows_refused - refused_before,
                    content: None,
                };
                pipeline.finish_file(counts, now_ns())?;
            }
            Err(e) => {
                pipeline.abandon_file(now_ns())?;
                summary.files_failed += 1;
                summary.problem(format!("{shown}: {e}"));
            }
        }
        if pipeline.failed() {
            break;
        }
    }
    let counters = pipeline.finish(now_ns())?.counters;
    summary.sip_messages = counters.sip_messages;
    summary.unparsed_messages = counters.unparsed_kept;
    summary.events_stored = counters.events_stored;
    summary.methods = counters.methods;
    for (class, n) in counters.status_classes {
        summary.methods.insert(class, n);
    }
    summary.elapsed_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Why a file could not be read to its end.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Db(#[from] sqlite::DbError),
}

/// One file's import.
struct Importer<'a> {
    pipeline: &'a mut Pipeline,
    summary: &'a mut ImportSummary,
    opts: &'a ImportOptions,
    shown: &'a str,
}

impl Importer<'_> {
    /// Reads the file by its format: SQLite by its header, JSON lines otherwise.
    fn read(&mut self, path: &Path) -> Result<(), FileError> {
        let mut file = std::fs::File::open(path)?;
        let mut magic = [0u8; 16];
        let n = read_up_to(&mut file, &mut magic)?;
        if magic.get(..n) == Some(b"SQLite format 3\0".as_slice()) {
            drop(file);
            let limits = self.opts.limits;
            return Ok(sqlite::read(path, &limits, &mut |id, row| self.take("honey_id", id, row))?);
        }
        let file = std::fs::File::open(path)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let (mut buf, mut number) = (Vec::new(), 0u64);
        while let Some(cut) = json::next_line(&mut reader, &mut buf, self.opts.limits.max_line_bytes)? {
            number += 1;
            if buf.iter().all(u8::is_ascii_whitespace) && !cut {
                continue;
            }
            if cut {
                self.refuse("line", number, &json::LineError::TooLong(self.opts.limits.max_line_bytes));
                continue;
            }
            match json::parse_line(&buf, &self.opts.limits) {
                Ok(row) => self.take("line", number, Ok(row)),
                Err(e) => self.refuse("line", number, &e),
            }
            if self.pipeline.failed() {
                break;
            }
        }
        Ok(())
    }

    fn refuse(&mut self, what: &str, number: u64, e: &dyn std::fmt::Display) {
        self.summary.rows += 1;
        self.summary.rows_refused += 1;
        self.summary.problem(format!("{}: {what} {number}: {e}", self.shown));
    }

    /// One row: to the pipeline when it holds a message, counted when it does not.
    fn take(&mut self, what: &str, number: u64, row: Result<Row, RowError>) {
        let resolved = row.and_then(|row| row.resolve(self.opts.utc_offset_s).map(|r| (row, r)));
        let (row, resolved) = match resolved {
            Ok(pair) => pair,
            Err(e) => return self.refuse(what, number, &e),
        };
        self.summary.rows += 1;
        let Some(message) = row.message.as_deref() else {
            let method = row.method.clone().unwrap_or_else(|| "(none)".to_owned());
            *self.summary.rows_without_message.entry(method).or_default() += 1;
            return;
        };
        self.summary.messages += 1;
        let notes: &[&'static str] = if resolved.transport.is_none() {
            self.summary.transport_unknown += 1;
            &[TRANSPORT_UNKNOWN]
        } else {
            &[]
        };
        let sensor = self.opts.sensor_per_node.then(|| node_sensor(row.node_id.as_deref())).flatten();
        let arrival = Arrival {
            ts_ns: resolved.ts_ns,
            transport: resolved.transport.unwrap_or(crate::event::Transport::Udp),
            src: (resolved.src, 0),
            dst: (resolved.dst, 0),
            tunnel: None,
            direction: Direction::In,
            packet: Some(number),
            node: NodeOf::Lookup,
            sensor: sensor.as_deref(),
            bytes: message,
        };
        self.pipeline.accept_with_note(arrival, Note { anomalies: notes, ..Note::default() });
    }
}

/// `sentrypeer:<node id>` for a node id of letters, digits, `-`, `_` and `.` (a UUID), else
/// `sentrypeer`.
fn node_sensor(node_id: Option<&str>) -> Option<String> {
    let usable = |id: &&str| {
        !id.is_empty()
            && id.len() <= MAX_NODE_ID_BYTES
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    Some(match node_id.filter(usable) {
        Some(id) => format!("sentrypeer:{id}"),
        None => "sentrypeer".to_owned(),
    })
}

/// Fills as much of `buf` as the file holds.
fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_ids_become_sensors_only_when_plain() {
        assert_eq!(
            super::node_sensor(Some("350f30e4-ce1d-4d53-9004-dd40a1c4abc8")).unwrap(),
            "sentrypeer:350f30e4-ce1d-4d53-9004-dd40a1c4abc8"
        );
        assert_eq!(super::node_sensor(Some("a b\x1b[2J")).unwrap(), "sentrypeer");
        assert_eq!(super::node_sensor(None).unwrap(), "sentrypeer");
    }

    #[test]
    fn the_transport_note_is_documented() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/anomalies.md")).unwrap();
        assert!(doc.contains(&format!("| `{}` |", super::TRANSPORT_UNKNOWN)));
        assert!(sipscope_sip::AnomalyKind::from_name(super::TRANSPORT_UNKNOWN).is_none());
    }
}
