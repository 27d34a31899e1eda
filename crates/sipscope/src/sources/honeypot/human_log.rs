//! The one-line-per-message human log: "time source → local transport METHOD from=… to=…
//! ua=… => 401 Unauthorized". Every attacker-chosen string is escaped (no terminal control
//! sequence gets through) and lines are rate-limited, with a count of what was left out.

use std::io::Write;

/// Lines per second, and the burst allowed.
const RATE: f64 = 200.0;
const BURST: f64 = 1000.0;

/// Where human lines go.
pub struct HumanLog {
    out: Option<Box<dyn Write + Send>>,
    tokens: f64,
    refilled_ns: i64,
    suppressed: u64,
}

impl HumanLog {
    /// `stderr`, `off`, or a file path (appended to; created owner-only, a link planted at
    /// the name refused: see [`crate::fsutil`]).
    pub fn open(target: &str) -> std::io::Result<HumanLog> {
        let out: Option<Box<dyn Write + Send>> = match target {
            "off" => None,
            "stderr" => Some(Box::new(std::io::stderr())),
            path => Some(Box::new(std::io::LineWriter::new(crate::fsutil::open_append(std::path::Path::new(path))?))),
        };
        Ok(HumanLog { out, tokens: BURST, refilled_ns: i64::MIN, suppressed: 0 })
    }

    /// A log writing into `out` (tests).
    pub fn to_writer(out: Box<dyn Write + Send>) -> HumanLog {
        HumanLog { out: Some(out), tokens: BURST, refilled_ns: i64::MIN, suppressed: 0 }
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Writes `line` (already escaped) unless over the rate at `now_ns`.
    pub fn line(&mut self, now_ns: i64, line: &str) {
        let Some(out) = self.out.as_mut() else { return };
        if self.refilled_ns == i64::MIN {
            self.refilled_ns = now_ns;
        }
        let elapsed = now_ns.saturating_sub(self.refilled_ns).max(0) as f64 / 1e9;
        self.tokens = (self.tokens + elapsed * RATE).min(BURST);
        self.refilled_ns = self.refilled_ns.max(now_ns);
        if self.tokens < 1.0 {
            self.suppressed += 1;
            return;
        }
        self.tokens -= 1.0;
        let result = if self.suppressed > 0 {
            let n = std::mem::take(&mut self.suppressed);
            writeln!(out, "{line} ({n} earlier lines not shown: over {RATE} lines/s)")
        } else {
            writeln!(out, "{line}")
        };
        // A log that cannot be written must not stop the honeypot.
        let _ = result;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_over_the_rate_are_counted_not_written() {
        let buf = Shared::default();
        let mut log = HumanLog::to_writer(Box::new(buf.clone()));
        for _ in 0..(BURST as usize + 50) {
            log.line(0, "x");
        }
        log.line(1_000_000_000, "y");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), BURST as usize + 1);
        assert!(text.ends_with("y (50 earlier lines not shown: over 200 lines/s)\n"), "{}", &text[text.len() - 80..]);
    }

    #[test]
    fn a_link_planted_at_the_path_is_refused_and_a_new_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("root-only");
        std::fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("human.log");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(HumanLog::open(path.to_str().unwrap()).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let fresh = dir.path().join("fresh.log");
        drop(HumanLog::open(fresh.to_str().unwrap()).unwrap());
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
