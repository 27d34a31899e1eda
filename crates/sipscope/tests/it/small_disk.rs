//! A small tmpfs that a test fills to the last byte: how the store tests meet a full disk
//! (the honeypot's SQLite store, a PostgreSQL server of the test's own).

use std::path::Path;

/// A small tmpfs, unmounted when dropped; `None` (the test says it is skipped) where mounting
/// is not permitted.
pub struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    pub fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Fills the disk to the last byte with the file `filler`.
    pub fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.path().join("filler")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.write_all(&[0]);
    }

    /// Removes the filler: the space is back.
    pub fn free(&self) {
        std::fs::remove_file(self.0.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a server of the test's own may still hold a file open for a moment.
        let _ = std::process::Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}
