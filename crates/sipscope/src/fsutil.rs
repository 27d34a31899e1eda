//! Files sipscope creates for writing, opened so that whoever can write their directory cannot
//! turn them into a weapon. The honeypot opens its store, JSON Lines file, human log and TLS
//! key as root before it drops privileges; a symbolic or hard link planted at one of those
//! names would otherwise make root append to, truncate or chown any file on the system. So
//! every file written goes through here:
//!
//! - the last path component is never followed when it is a symbolic link (`O_NOFOLLOW`), and
//!   a file with other hard links, or that is not a regular file, is refused;
//! - a directory writable by everyone without the sticky bit is refused (anyone could replace
//!   the files in it);
//! - new files are created owner-only (0600: they hold every password tried), and an existing
//!   file readable or writable by everyone is narrowed to at most 0640;
//! - a file replaced whole (the TLS key) is written under a fresh name and renamed over the old
//!   one, which replaces a link itself instead of writing through it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every file sipscope creates: owner read and write only.
pub const PRIVATE_MODE: u32 = 0o600;
/// The widest mode an existing file keeps (a group of readers may be the administrator's
/// choice; write access for the group or anything for others is not).
pub const WIDEST_MODE: u32 = 0o640;

/// Why a symbolic link at a file's name is refused.
const SYMLINK_REFUSED: &str = "refused: a symbolic link (files are never written through a link)";

/// A refusal; the caller names the file (the message says only why).
fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}

/// The directory a file named `path` lives in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Refuses a directory that everyone may write without the sticky bit (anyone could delete
/// the files in it and put links in their place). A sticky directory such as `/tmp` is
/// accepted: others cannot replace our files there, and links they plant are not followed.
pub fn check_directory(dir: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(refused(format!(
            "refused: directory {} is writable by everyone (mode {:o}); use one only its owner can write",
            dir.display(),
            mode & 0o7777
        )));
    }
    Ok(())
}

/// Checks a file just opened without following links: a regular file with no other name.
/// Narrows a mode wider than [`WIDEST_MODE`].
fn check_opened(file: &File) -> io::Result<()> {
    let mode = check_regular(file)?;
    if mode & !WIDEST_MODE != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode & WIDEST_MODE))?;
    }
    Ok(())
}

/// Checks that `file` is a regular file with no other name; returns its mode.
fn check_regular(file: &File) -> io::Result<u32> {
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refused("refused: not a regular file".into()));
    }
    if meta.nlink() > 1 {
        return Err(refused("refused: the file has other hard links (it could be another file's name)".into()));
    }
    Ok(meta.permissions().mode() & 0o7777)
}

/// Opens `path` the safe way with `options` (which must not create through a link).
fn open_checked(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    check_directory(directory_of(path))?;
    // O_NONBLOCK: a FIFO planted at the name must not block the open (it is refused below).
    let file = options.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK).open(path).map_err(|e| {
        if e.raw_os_error() == Some(nix::libc::ELOOP) {
            refused(SYMLINK_REFUSED.into())
        } else {
            e
        }
    })?;
    check_opened(&file)?;
    Ok(file)
}

/// Opens `path` for appending, creating it owner-only (0600) when missing. Refuses symbolic
/// links, hard-linked files, anything but a regular file, and directories everyone can write.
pub fn open_append(path: &Path) -> io::Result<File> {
    open_checked(path, OpenOptions::new().create(true).append(true).mode(PRIVATE_MODE))
}

/// Checks an existing file at `path` as [`open_append`] would, without writing to it (for
/// files another library opens by name: SQLite's database, WAL and shared-memory files).
/// A missing file is fine.
///
/// The file is never opened for reading or writing: closing such a descriptor drops every
/// POSIX lock this process holds on the file, and SQLite's locks on a store this process
/// already has open (the honeypot's decisions watcher opens its store again at every
/// reconnection) would go with it; another process could then take the store for unused,
/// checkpoint it and delete its WAL under the writer, whose later commits were lost. An
/// `O_PATH` descriptor (Linux) names the file without opening it, and closing it leaves the
/// locks alone; a mode to narrow is changed through `/proc/self/fd`, by that descriptor.
pub fn check_existing(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_symlink() => Err(refused(SYMLINK_REFUSED.into())),
        Ok(_) => {
            let named = open_unopened(path)?;
            let mode = check_regular(&named)?;
            if mode & !WIDEST_MODE != 0 {
                std::fs::set_permissions(by_descriptor(&named), std::fs::Permissions::from_mode(mode & WIDEST_MODE))?;
            }
            Ok(())
        }
    }
}

/// The name under which the file of descriptor `named` is changed (`chmod`, `chown`), since
/// an `O_PATH` descriptor cannot be (the kernel's link to that very file, not a path lookup).
fn by_descriptor(named: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", named.as_raw_fd()))
}

/// A descriptor that names `path` without opening the file (`O_PATH`). With `O_NOFOLLOW` a
/// link planted since it was checked is named itself, and refused as not a regular file.
fn open_unopened(path: &Path) -> io::Result<File> {
    check_directory(directory_of(path))?;
    OpenOptions::new().read(true).custom_flags(nix::libc::O_PATH | nix::libc::O_NOFOLLOW).open(path)
}

/// Prepares an SQLite store at `path` for SQLite to open by name: its directory and every
/// file SQLite will open (database, `-wal`, `-shm`, `-journal`) pass [`check_existing`], and a
/// missing database is created empty and owner-only, so SQLite's companion files, which take
/// the database's mode, are owner-only too.
pub fn prepare_store(path: &Path) -> io::Result<()> {
    let named = |file: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", file.display()));
    check_directory(directory_of(path))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = with_suffix(path, suffix);
        check_existing(&file).map_err(|e| named(&file, e))?;
    }
    match open_checked(path, OpenOptions::new().write(true).create_new(true).mode(PRIVATE_MODE)) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop).map_err(|e| named(path, e)),
    }
}

/// `path` with `suffix` appended to its file name (`store.db` → `store.db-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `bytes` as the whole content of `path` with `mode`: into a fresh file (created
/// exclusively, never through a link) that is then renamed over `path`. Whatever was at
/// `path` — a file, or a link to one — is replaced, never written to.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = directory_of(path);
    check_directory(dir)?;
    let name = path.file_name().ok_or_else(|| refused("refused: not a file name".into()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    // A leftover of an earlier, interrupted start of the same process id: remove it (a link
    // is removed, not followed).
    let _ = std::fs::remove_file(&temp);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&temp)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Gives the file at `path` to `uid`/`gid` without following a link (a link or a hard-linked
/// file is refused). A missing file is skipped.
pub fn chown_existing(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        // As in `check_existing`: the store is open in this process by now, so its files are
        // named by `O_PATH` descriptors, never opened (which would drop SQLite's locks).
        Ok(meta) if meta.file_type().is_symlink() => Err(refused(SYMLINK_REFUSED.into())),
        Ok(_) => {
            let named = open_unopened(path)?;
            check_regular(&named)?;
            std::os::unix::fs::chown(by_descriptor(&named), Some(uid), Some(gid))
        }
    }
}

/// A private directory (0700) for files a command needs only while it runs (the scratch store
/// of `report --nodes`), under the system's temporary directory (`$TMPDIR`, else `/tmp`) with a
/// random name; removed, with everything in it, when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `<temp>/<prefix>-<random>`. The name is created exclusively (a directory or link
    /// planted there first is an error, never used), after the temporary directory passed
    /// [`check_directory`].
    pub fn create(prefix: &str) -> io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        check_directory(&base)?;
        let path = base.join(format!("{prefix}-{:016x}", rand::random::<u64>()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(ScratchDir { path })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Links inside are removed, not followed.
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!("removing {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests;

/// The SHA-256 of a file's content (hex) and its length, read in 1 MiB blocks: how sources
/// register the files they read, so the same content is recognised again.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(buf.get(..n).unwrap_or_default());
                len += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hex::encode(hasher.finalize()), len))
}
