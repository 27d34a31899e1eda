//! Following log files as they grow, across rotation and restarts, so that no line is read
//! twice or skipped:
//!
//! - **rename rotation** (logrotate's default; Asterisk's own `rotatestrategy`): the name
//!   now points to a new file. The old one, still open, is read to its end — and again on
//!   every poll until the PBX has written to the new file, since it keeps writing to the old
//!   one until it reopens its logs — then the new file from its start.
//! - **copy-truncate**: the same file shrinks, or its first bytes change (it was truncated
//!   and written again between two polls). The lines written between the last read and the
//!   copy are in the copy: a sibling named `<name>.N` or `<name>-DATE` (not compressed) whose
//!   first bytes are the ones the position recorded is read from the position to its end;
//!   then the file from its start.
//! - **restarts**: positions are kept per file (`position.rs`), saved after the store has
//!   committed what was read. A file rotated while sipscope was stopped is found among its
//!   siblings by inode (renamed) or by its first bytes (copied), and read from the position.
//!
//! A rotated copy that cannot be found (already compressed or removed) is reported as a
//! problem: its unread lines are lost, and the summary says so.

use super::position::{head_digest, FilePosition, Positions, HEAD_BYTES};
use super::read::{read_span, LineSplitter, LogIngest};
use super::LineLimits;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An open file and how far it was read.
#[derive(Debug)]
struct Open {
    file: File,
    shown: String,
    dev: u64,
    ino: u64,
    offset: u64,
    head_len: u64,
    head: String,
}

impl Open {
    fn new(path: &Path, shown: String) -> io::Result<Open> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let mut open =
            Open { file, shown, dev: meta.dev(), ino: meta.ino(), offset: 0, head_len: 0, head: String::new() };
        open.refresh_head(meta.len())?;
        Ok(open)
    }

    /// Extends the head digest while the file is shorter than [`HEAD_BYTES`].
    fn refresh_head(&mut self, size: u64) -> io::Result<()> {
        let len = size.min(HEAD_BYTES);
        if len > self.head_len {
            self.head = head_digest(&self.file, len)?;
            self.head_len = len;
        }
        Ok(())
    }

    /// Still the content the position belongs to: as long as it was, and the same first bytes.
    fn same_content(&self, size: u64) -> io::Result<bool> {
        Ok(size >= self.offset && head_digest(&self.file, self.head_len)? == self.head)
    }

    fn position(&self) -> FilePosition {
        FilePosition {
            dev: self.dev,
            ino: self.ino,
            offset: self.offset,
            head_len: self.head_len,
            head: self.head.clone(),
            previous: None,
        }
    }
}

/// One file followed by name.
#[derive(Debug)]
struct Tail {
    path: PathBuf,
    shown: String,
    current: Option<Open>,
    /// The file the name pointed to before a rename rotation, read until the PBX writes to
    /// the new one.
    previous: Option<Open>,
    /// The position saved by an earlier run, used at the first poll.
    saved: Option<FilePosition>,
    /// The file was missing at a poll and that was reported (once, until it appears).
    missing_reported: bool,
}

/// Files followed by name, with their positions.
pub struct Follower {
    tails: Vec<Tail>,
    positions_path: PathBuf,
    splitter: LineSplitter,
    utc_offset_s: i64,
}

impl Follower {
    /// Follows `paths`, continuing from the positions saved in `positions_path`.
    pub fn new(
        paths: &[PathBuf],
        positions_path: PathBuf,
        limits: LineLimits,
        utc_offset_s: i64,
    ) -> Result<Follower, super::position::PositionsError> {
        let saved = Positions::load(&positions_path)?;
        let tails = paths
            .iter()
            .map(|path| {
                let shown = path.display().to_string();
                Tail {
                    saved: saved.files.get(&shown).cloned(),
                    path: path.clone(),
                    shown,
                    current: None,
                    previous: None,
                    missing_reported: false,
                }
            })
            .collect();
        Ok(Follower { tails, positions_path, splitter: LineSplitter::new(limits), utc_offset_s })
    }

    /// Reads what every file gained since the last poll. A file that cannot be read is a
    /// problem in the summary (it is tried again at the next poll).
    pub fn poll(&mut self, ingest: &mut LogIngest) {
        for tail in &mut self.tails {
            match poll_tail(tail, &mut self.splitter, ingest, self.utc_offset_s) {
                Ok(()) => tail.missing_reported = false,
                // A file not there yet (followed by name: it may appear) is reported once.
                Err(e) if e.kind() == io::ErrorKind::NotFound && tail.current.is_none() => {
                    if !std::mem::replace(&mut tail.missing_reported, true) {
                        ingest.summary.problem(format!("{}: {e}", tail.shown));
                    }
                }
                Err(e) => ingest.summary.problem(format!("{}: {e}", tail.shown)),
            }
            if ingest.failed() {
                return;
            }
        }
    }

    /// Saves every position (call after the store committed what was read).
    pub fn save(&self) -> Result<(), super::position::PositionsError> {
        let mut positions = Positions::load(&self.positions_path).unwrap_or_default();
        for tail in &self.tails {
            let position = match (&tail.current, &tail.saved) {
                (Some(open), _) => {
                    FilePosition { previous: tail.previous.as_ref().map(|p| Box::new(p.position())), ..open.position() }
                }
                (None, Some(saved)) => saved.clone(),
                (None, None) => continue,
            };
            positions.files.insert(tail.shown.clone(), position);
        }
        positions.save(&self.positions_path)
    }

    /// Files that end in a line not ended yet.
    pub fn partial_lines(&self) -> u64 {
        let partial = |o: &Open| o.file.metadata().is_ok_and(|m| m.len() > o.offset);
        self.tails.iter().filter(|t| t.current.as_ref().is_some_and(partial)).count() as u64
    }
}

/// Reads `open` from its position to its end (`complete`: a rotated file, whose last line
/// ends there).
fn read_open(
    open: &mut Open,
    splitter: &mut LineSplitter,
    ingest: &mut LogIngest,
    complete: bool,
    utc: i64,
) -> io::Result<()> {
    let meta = open.file.metadata()?;
    if meta.len() == open.offset {
        return Ok(());
    }
    let mtime = meta.mtime().saturating_mul(crate::time::SECOND_NS).saturating_add(meta.mtime_nsec());
    ingest.set_reference(mtime, utc);
    let now = crate::time::now_ns();
    let shown = open.shown.clone();
    open.offset =
        read_span(&mut open.file, open.offset, complete, splitter, &mut |piece| ingest.piece(piece, &shown, now))?;
    open.refresh_head(meta.len())
}

fn poll_tail(tail: &mut Tail, splitter: &mut LineSplitter, ingest: &mut LogIngest, utc: i64) -> io::Result<()> {
    if let Some(previous) = &mut tail.previous {
        read_open(previous, splitter, ingest, false, utc)?;
        // The PBX has reopened its log once the new file has bytes: the old one is done.
        let switched = tail.current.as_ref().is_some_and(|c| c.file.metadata().is_ok_and(|m| m.len() > 0));
        if switched {
            read_open(previous, splitter, ingest, true, utc)?;
            tail.previous = None;
        }
    }
    let meta = match std::fs::metadata(&tail.path) {
        Ok(meta) => meta,
        // Renamed and not created again yet: the open file is read on.
        Err(e) if e.kind() == io::ErrorKind::NotFound && tail.current.is_some() => {
            return match &mut tail.current {
                Some(open) => read_open(open, splitter, ingest, false, utc),
                None => Ok(()),
            };
        }
        Err(e) => return Err(e),
    };
    match tail.current.take() {
        None => {
            let mut open = Open::new(&tail.path, tail.shown.clone())?;
            ingest.summary.files += 1;
            if let Some(saved) = tail.saved.take() {
                open.offset = resume(&open, &saved, meta.len(), &tail.path, splitter, ingest, utc)?;
            }
            tail.current = Some(open);
        }
        Some(open) if (open.dev, open.ino) != (meta.dev(), meta.ino()) => {
            // Renamed away: the old file is read to its end now and until the PBX switches.
            ingest.summary.rotations += 1;
            let mut old = open;
            read_open(&mut old, splitter, ingest, false, utc)?;
            tail.previous = Some(old);
            tail.current = Some(Open::new(&tail.path, tail.shown.clone())?);
            ingest.summary.files += 1;
        }
        Some(mut open) => {
            if !open.same_content(meta.len())? {
                // Truncated in place (copy-truncate): the rest is in the copy.
                ingest.summary.truncations += 1;
                let position = open.position();
                read_rotated_copy(&tail.path, &tail.shown, &position, splitter, ingest, utc);
                open = Open::new(&tail.path, tail.shown.clone())?;
            }
            tail.current = Some(open);
        }
    }
    if let Some(open) = &mut tail.current {
        read_open(open, splitter, ingest, false, utc)?;
    }
    Ok(())
}

/// Where to continue `open` after a restart, given the position an earlier run saved;
/// whatever was rotated meanwhile is read from its sibling first.
fn resume(
    open: &Open,
    saved: &FilePosition,
    size: u64,
    path: &Path,
    splitter: &mut LineSplitter,
    ingest: &mut LogIngest,
    utc: i64,
) -> io::Result<u64> {
    let shown = path.display().to_string();
    if let Some(previous) = &saved.previous {
        read_rotated_copy(path, &shown, previous, splitter, ingest, utc);
    }
    let same_file = (open.dev, open.ino) == (saved.dev, saved.ino);
    if same_file && size >= saved.offset && head_digest(&open.file, saved.head_len)? == saved.head {
        return Ok(saved.offset);
    }
    ingest.summary.rotations += u64::from(!same_file);
    ingest.summary.truncations += u64::from(same_file);
    read_rotated_copy(path, &shown, saved, splitter, ingest, utc);
    Ok(0)
}

/// Compressed rotations cannot be read on from a position.
const COMPRESSED: [&str; 6] = [".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z"];

/// Finds the file `position` belongs to among `path`'s rotated siblings (by inode, else by
/// first bytes) and reads it from the position to its end.
fn read_rotated_copy(
    path: &Path,
    shown: &str,
    position: &FilePosition,
    splitter: &mut LineSplitter,
    ingest: &mut LogIngest,
    utc: i64,
) {
    let found = rotated_siblings(path).into_iter().find_map(|sibling| {
        let file = File::open(&sibling).ok()?;
        let meta = file.metadata().ok()?;
        let by_inode = (meta.dev(), meta.ino()) == (position.dev, position.ino);
        let by_content = meta.len() >= position.offset && head_digest(&file, position.head_len).ok()? == position.head;
        (by_inode || by_content).then_some((sibling, file, meta.len()))
    });
    let Some((sibling, file, size)) = found else {
        ingest.summary.problem(format!(
            "{shown}: rotated away before its end was read (from byte {}); no uncompressed rotated copy found, those lines are lost",
            position.offset
        ));
        return;
    };
    if size <= position.offset {
        return;
    }
    ingest.summary.files += 1;
    let mut open = Open {
        file,
        shown: sibling.display().to_string(),
        dev: position.dev,
        ino: position.ino,
        offset: position.offset,
        head_len: position.head_len,
        head: position.head.clone(),
    };
    if let Err(e) = read_open(&mut open, splitter, ingest, true, utc) {
        ingest.summary.problem(format!("{}: {e}", open.shown));
    }
}

/// `<name>.N`, `<name>-DATE` and the like beside `path`, not compressed, newest first.
fn rotated_siblings(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(i64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file_name = e.file_name().into_string().ok()?;
            let rest = file_name.strip_prefix(name)?;
            let rotated = (rest.starts_with('.') || rest.starts_with('-')) && rest.len() > 1;
            let compressed = COMPRESSED.iter().any(|c| file_name.ends_with(c));
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            (rotated && !compressed).then(|| (meta.mtime(), e.path()))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|(_, p)| p).collect()
}
