//! Alerts and decisions appended to a file as EVE-like JSON Lines (`output::eve`), the file
//! a SIEM's Suricata reader or `jq` tails. Opened owner-only and never through a planted link
//! ([`crate::fsutil`]); lines are buffered and written out on `flush` (the pipeline's tick).

use crate::act::{Alert, Decision};
use crate::sinks::{AlertSink, SinkError};
use std::io::Write;
use std::path::{Path, PathBuf};

pub mod shape;
use shape as eve;

/// The alerts file.
pub struct EveFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl EveFile {
    /// Opens `path` for appending, creating it owner-only.
    pub fn open(path: &Path) -> Result<EveFile, SinkError> {
        let file = crate::fsutil::open_append(path)
            .map_err(|cause| SinkError::Io { what: format!("opening {}", path.display()), cause })?;
        Ok(EveFile { path: path.to_owned(), out: std::io::BufWriter::new(file) })
    }

    fn line(&mut self, json: String) -> Result<(), SinkError> {
        let io = |cause| SinkError::Io { what: format!("writing {}", self.path.display()), cause };
        self.out.write_all(json.as_bytes()).and_then(|()| self.out.write_all(b"\n")).map_err(io)
    }
}

impl AlertSink for EveFile {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.line(eve::alert_json(alert))
    }

    fn decision(&mut self, decision: &Decision) -> Result<(), SinkError> {
        self.line(eve::decision_json(decision))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let path = &self.path;
        self.out.flush().map_err(|cause| SinkError::Io { what: format!("writing {}", path.display()), cause })
    }
}

impl Drop for EveFile {
    fn drop(&mut self) {
        // Best effort: the error has nowhere to go.
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::Action;

    #[test]
    fn alerts_are_appended_as_lines_that_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        for _ in 0..2 {
            let mut sink = EveFile::open(&path).unwrap();
            sink.alert(&crate::test_support::alert("192.0.2.7", true, 1, vec![Action::Alert])).unwrap();
            sink.flush().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "appended, not replaced");
        assert_eq!(lines[1]["event_type"], "alert");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
