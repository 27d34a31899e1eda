use super::*;
use std::os::unix::fs::symlink;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A directory with a file outside it that must never be written ("root's file").
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    (dir, state, victim)
}

#[test]
fn a_symlink_at_the_name_is_refused_and_nothing_is_written_through_it() {
    let (_dir, state, victim) = setup();
    let path = state.join("events.jsonl");
    symlink(&victim, &path).unwrap();
    let err = open_append(&path).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // A dangling link (the target does not exist yet) is not created through either.
    let missing = state.join("missing-target");
    let path = state.join("human.log");
    symlink(&missing, &path).unwrap();
    assert!(open_append(&path).is_err());
    assert!(!missing.exists());
}

#[test]
fn a_hard_link_at_the_name_is_refused() {
    let (_dir, state, victim) = setup();
    let path = state.join("events.jsonl");
    std::fs::hard_link(&victim, &path).unwrap();
    let err = open_append(&path).unwrap_err();
    assert!(err.to_string().contains("hard links"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn new_files_are_owner_only_and_wide_existing_ones_are_narrowed() {
    let (_dir, state, _) = setup();
    let path = state.join("new.log");
    open_append(&path).unwrap().write_all(b"x\n").unwrap();
    assert_eq!(mode_of(&path), 0o600);
    let old = state.join("old.log");
    std::fs::write(&old, "y\n").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o666)).unwrap();
    open_append(&old).unwrap();
    assert_eq!(mode_of(&old), 0o640);
}

#[test]
fn a_directory_everyone_can_write_is_refused_unless_sticky() {
    let (_dir, state, _) = setup();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = open_append(&state.join("a.log")).unwrap_err();
    assert!(err.to_string().contains("writable by everyone"), "{err}");
    assert!(prepare_store(&state.join("s.db")).is_err());
    assert!(!state.join("a.log").exists() && !state.join("s.db").exists());
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(open_append(&state.join("a.log")).is_ok());
}

#[test]
fn a_replaced_file_replaces_a_link_instead_of_writing_through_it() {
    let (_dir, state, victim) = setup();
    let key = state.join("key.pem");
    symlink(&victim, &key).unwrap();
    replace_file(&key, b"secret", 0o600).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!std::fs::symlink_metadata(&key).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(&key).unwrap(), b"secret");
    assert_eq!(mode_of(&key), 0o600);
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn a_store_is_created_owner_only_and_planted_companions_are_refused() {
    let (_dir, state, victim) = setup();
    let db = state.join("s.db");
    prepare_store(&db).unwrap();
    assert_eq!(mode_of(&db), 0o600);
    symlink(&victim, with_suffix(&db, "-wal")).unwrap();
    let err = prepare_store(&db).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    std::fs::remove_file(with_suffix(&db, "-wal")).unwrap();
    std::fs::remove_file(&db).unwrap();
    symlink(&victim, &db).unwrap();
    assert!(prepare_store(&db).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn chown_refuses_a_link() {
    let (_dir, state, victim) = setup();
    let shm = state.join("s.db-shm");
    symlink(&victim, &shm).unwrap();
    let uid = std::fs::metadata(&victim).unwrap().uid();
    assert!(chown_existing(&shm, uid + 1, uid + 1).is_err());
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), uid);
    assert!(chown_existing(&state.join("absent"), 1, 1).is_ok());
}

#[test]
fn a_scratch_directory_is_private_and_removed_with_links_inside_not_followed() {
    let (_dir, _state, victim) = setup();
    let scratch = ScratchDir::create("sipscope-test-scratch").unwrap();
    let path = scratch.path().to_owned();
    assert_eq!(mode_of(&path), 0o700);
    std::fs::write(path.join("store.db"), b"x").unwrap();
    symlink(&victim, path.join("link")).unwrap();
    let other = ScratchDir::create("sipscope-test-scratch").unwrap();
    assert_ne!(other.path(), path, "each has its own name");
    drop(scratch);
    assert!(!path.exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn an_existing_store_too_open_is_narrowed_without_being_opened() {
    let (_dir, state, _victim) = setup();
    let db = state.join("s.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::write(with_suffix(&db, "-wal"), b"").unwrap();
    std::fs::set_permissions(with_suffix(&db, "-wal"), std::fs::Permissions::from_mode(0o644)).unwrap();
    prepare_store(&db).unwrap();
    assert_eq!(mode_of(&db), 0o640);
    assert_eq!(mode_of(&with_suffix(&db, "-wal")), 0o640);
    // A FIFO at a companion's name is refused, without blocking.
    nix::unistd::mkfifo(&with_suffix(&db, "-shm"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let err = prepare_store(&db).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// The POSIX locks this process holds (lines of /proc/locks naming its id).
fn locks_held() -> Vec<String> {
    let me = format!(" {} ", std::process::id());
    std::fs::read_to_string("/proc/locks").unwrap().lines().filter(|l| l.contains(&me)).map(str::to_owned).collect()
}

#[test]
fn checking_and_chowning_an_open_store_keeps_its_locks() {
    let (_dir, state, _victim) = setup();
    let db = state.join("s.db");
    prepare_store(&db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    let before = locks_held();
    assert!(!before.is_empty(), "SQLite holds its locks in WAL mode");
    prepare_store(&db).unwrap();
    assert_eq!(locks_held(), before, "checking the files dropped no lock");
    let uid = std::fs::metadata(&db).unwrap().uid();
    let gid = std::fs::metadata(&db).unwrap().gid();
    // Root gives the files away (as the honeypot does before it drops privileges); anyone
    // else gives them to themselves.
    let to = if uid == 0 { 4242 } else { uid };
    for suffix in ["", "-wal", "-shm"] {
        chown_existing(&with_suffix(&db, suffix), to, gid).unwrap();
        assert_eq!(std::fs::metadata(with_suffix(&db, suffix)).unwrap().uid(), to);
    }
    assert_eq!(locks_held(), before, "chowning the files dropped no lock");
    drop(conn);
}
