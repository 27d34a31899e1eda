//! Running `nft` and `conntrack`: found by absolute path, started with fixed arguments through
//! `std::process::Command` (never a shell), the ruleset on standard input. Only typed values
//! (addresses, prefix lengths, ports) ever become arguments; their failures become clear
//! [`EnforceError`]s.

use crate::act::{EnforceError, Scope};
use crate::output::escape;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where tools are looked for after `PATH` (a service's `PATH` often lacks the sbin folders).
pub const SBIN: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// The first executable file called `name` in `PATH`, then in [`SBIN`].
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(SBIN.iter().map(PathBuf::from)).collect();
    find_in(name, &dirs)
}

/// The first executable file called `name` in `dirs` (relative folders are skipped: a tool run
/// as root is never taken from wherever the process happens to be).
pub fn find_in(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.iter()
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// What a tool said, made safe and short for a log line or an error.
fn said(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).take(4).collect();
    escape::terminal(&text.join(" | "), 400)
}

/// Why `nft` did not apply a ruleset.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// It lacks the privilege (root or CAP_NET_ADMIN).
    #[error(
        "nft is not permitted to change the firewall: it needs root or CAP_NET_ADMIN \
         (docs/enforcement.md, privileges): {0}"
    )]
    NotPermitted(String),
    /// It ran and refused the ruleset.
    #[error("nft refused the ruleset ({status}): {said}")]
    Refused {
        /// Its exit status.
        status: String,
        /// What it printed.
        said: String,
    },
    /// It could not be run.
    #[error("running {0}: {1}")]
    Run(String, std::io::Error),
}

impl From<NftError> for EnforceError {
    fn from(e: NftError) -> EnforceError {
        EnforceError(e.to_string())
    }
}

/// Applies `json` (one transaction) with `nft -j -f -`.
pub fn nft_apply(nft: &Path, json: &str) -> Result<(), NftError> {
    let run = |e: std::io::Error| NftError::Run(nft.display().to_string(), e);
    let mut child = Command::new(nft)
        .args(["-j", "-f", "-"])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(run)?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(json.as_bytes()));
    let out = child.wait_with_output().map_err(run)?;
    if out.status.success() {
        // nft read all of it, or it would have failed.
        return Ok(());
    }
    let text = said(&out.stderr);
    if text.contains("Operation not permitted") || text.contains("you must be root") {
        return Err(NftError::NotPermitted(text));
    }
    match written {
        Some(Err(e)) if text.is_empty() => Err(run(e)),
        _ => Err(NftError::Refused { status: out.status.to_string(), said: text }),
    }
}

/// What removing a scope's connection-tracking entries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Entries deleted.
    pub flows: u64,
    /// `conntrack` invocations that failed (not counting "0 flow entries").
    pub failures: u64,
}

/// The argument lists that delete every conntrack entry whose original source is `scope`
/// (an address-and-port scope needs one per protocol).
pub fn conntrack_args(scope: &Scope) -> Vec<Vec<String>> {
    let family = |a: &std::net::IpAddr| if a.is_ipv6() { "ipv6" } else { "ipv4" };
    let base = |a: &std::net::IpAddr, source: String| {
        vec!["-D".to_owned(), "-f".to_owned(), family(a).to_owned(), "-s".to_owned(), source]
    };
    match scope {
        Scope::Address(a) => vec![base(a, a.to_string())],
        Scope::Prefix(p) => vec![base(&p.addr, p.to_string())],
        Scope::AddressPort(a, port) => ["udp", "tcp", "sctp"]
            .iter()
            .map(|proto| {
                let mut args = base(a, a.to_string());
                args.extend(["-p".to_owned(), (*proto).to_owned(), "--sport".to_owned(), port.to_string()]);
                args
            })
            .collect(),
    }
}

/// Deletes `scope`'s entries with `conntrack -D`. "0 flow entries have been deleted" (exit
/// status 1) is success; the first failure's text goes to `first_error`.
pub fn conntrack_purge(conntrack: &Path, scope: &Scope, first_error: &mut Option<String>) -> Purged {
    let mut purged = Purged::default();
    for args in conntrack_args(scope) {
        let out = Command::new(conntrack).args(&args).env("LC_ALL", "C").stdin(Stdio::null()).output();
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                purged.failures += 1;
                first_error.get_or_insert_with(|| format!("running {}: {e}", conntrack.display()));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&out.stderr);
        match deleted(&text) {
            Some(n) => purged.flows += n,
            None => {
                purged.failures += 1;
                first_error.get_or_insert_with(|| format!("conntrack {}: {}", args.join(" "), said(&out.stderr)));
            }
        }
    }
    purged
}

/// The count in conntrack's "N flow entries have been deleted." line.
fn deleted(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (_, rest) = l.split_once("): ")?;
        rest.strip_suffix(" flow entries have been deleted.")?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_arguments_are_typed_values_only() {
        let scope = Scope::Prefix("2001:db8::/64".parse().unwrap());
        assert_eq!(conntrack_args(&scope), [["-D", "-f", "ipv6", "-s", "2001:db8::/64"]]);
        let scope = Scope::Address("192.0.2.1".parse().unwrap());
        assert_eq!(conntrack_args(&scope), [["-D", "-f", "ipv4", "-s", "192.0.2.1"]]);
        let scope = Scope::AddressPort("192.0.2.1".parse().unwrap(), 5060);
        let args = conntrack_args(&scope);
        assert_eq!(args.len(), 3);
        assert_eq!(args[0], ["-D", "-f", "ipv4", "-s", "192.0.2.1", "-p", "udp", "--sport", "5060"]);
    }

    #[test]
    fn deleted_counts_are_read_including_zero() {
        assert_eq!(deleted("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n"), Some(0));
        assert_eq!(deleted("conntrack v1.4.7 (conntrack-tools): 12 flow entries have been deleted.\n"), Some(12));
        assert_eq!(deleted("conntrack v1.4.7 (conntrack-tools): Operation not permitted\n"), None);
        assert_eq!(deleted(""), None);
    }

    #[test]
    fn tools_are_found_only_as_executable_files_in_absolute_folders() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("nft");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let dirs = [PathBuf::from("relative"), dir.path().to_owned()];
        assert_eq!(find_in("nft", &dirs), None, "not executable");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_in("nft", &dirs), Some(tool));
        assert_eq!(find_in("nft", &[PathBuf::from(".")]), None);
        assert_eq!(find_in("no-such-tool", &dirs), None);
    }

    #[test]
    fn a_missing_nft_says_which_file() {
        // Refusals of the real nft (no privilege) are checked in tests/it/enforce/.
        let dir = tempfile::tempdir().unwrap();
        let e = nft_apply(&dir.path().join("missing"), "{}").unwrap_err().to_string();
        assert!(e.contains("missing") && e.contains("No such file"), "{e}");
    }
}
