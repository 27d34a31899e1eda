//! A copy of every event as JSON Lines (one `SipEvent` object a line, raw bytes as text when
//! they are UTF-8 and as an array of numbers otherwise), for tools that tail a file.
//!
//! It keeps events only: records and analysis results live in the store, and this sink says
//! so in [`Sink::record`] and [`Sink::hand_over`] rather than by a default.

use crate::analysis::result::Handover;
use crate::event::fields::SipFields;
use crate::event::record::Record;
use crate::event::SipEvent;
use crate::sinks::{Sink, SinkError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends events to a file.
pub struct JsonLines {
    path: PathBuf,
    out: std::io::BufWriter<Box<dyn Write + Send>>,
}

impl JsonLines {
    /// Opens `path` for appending, creating it owner-only; a link planted at the name is
    /// refused, never written through (see [`crate::fsutil`]).
    pub fn open(path: &Path) -> Result<JsonLines, SinkError> {
        let file = crate::fsutil::open_append(path)
            .map_err(|source| SinkError::Io { what: format!("opening {}", path.display()), cause: source })?;
        Ok(JsonLines::to_writer(path, Box::new(file)))
    }

    /// Writes to any writer (`path` names it in errors).
    pub fn to_writer(path: &Path, out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines { path: path.to_path_buf(), out: std::io::BufWriter::new(out) }
    }

    fn io(&self, source: std::io::Error) -> SinkError {
        SinkError::Io { what: format!("writing {}", self.path.display()), cause: source }
    }
}

impl Sink for JsonLines {
    fn write(&mut self, event: SipEvent, _fields: SipFields) -> Result<(), SinkError> {
        let line = serde_json::to_string(&event).map_err(|e| self.io(e.into()))?;
        // Attacker text must not drive a terminal that tails the file.
        let line = crate::output::json::inert(line);
        let written = self.out.write_all(line.as_bytes()).and_then(|()| self.out.write_all(b"\n"));
        match written {
            Ok(()) => {
                crate::metrics::events_out(crate::metrics::Sink::Jsonl, 1);
                Ok(())
            }
            Err(e) => {
                crate::metrics::sink_error(crate::metrics::Sink::Jsonl);
                Err(self.io(e))
            }
        }
    }

    fn record(&mut self, _record: Record) -> Result<(), SinkError> {
        // Records are kept by the store only.
        Ok(())
    }

    fn hand_over(&mut self, _run: i64, _rows: Handover) -> Result<(), SinkError> {
        // Analysis results are kept by the store only.
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Transport};

    #[test]
    fn each_event_is_one_line_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut sink = JsonLines::open(&path).unwrap();
        let c1 = "OPTIONS sip:a SIP/2.0\r\nUser-Agent: \u{9b}2J\r\n\r\n".as_bytes().to_vec();
        for raw in [c1.clone(), b"\xff\x1b[2J\n".to_vec()] {
            let ev = SipEvent {
                ts_ns: 1,
                sensor: "s".into(),
                node: None,
                transport: Transport::Udp,
                src: ("192.0.2.1".parse().unwrap(), 5060),
                dst: ("192.0.2.2".parse().unwrap(), 5060),
                tunnel: None,
                direction: Direction::In,
                origin: None,
                raw,
            };
            sink.write(ev, SipFields::default()).unwrap();
        }
        sink.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<SipEvent> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].raw, b"\xff\x1b[2J\n");
        assert_eq!(lines[0].raw, c1);
        assert!(!text.contains('\x1b') && !text.contains('\u{9b}'), "no raw escape reaches the file");
    }

    #[test]
    fn a_link_planted_at_the_path_is_refused_and_a_new_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("root-only");
        std::fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("events.jsonl");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = JsonLines::open(&path).err().expect("a symbolic link is refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let fresh = dir.path().join("fresh.jsonl");
        drop(JsonLines::open(&fresh).unwrap());
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
