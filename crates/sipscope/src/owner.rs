//! Which process writes an analysis run, and whether it still runs. A run left unfinished by a
//! process that is gone (killed, out of memory, power lost) is *interrupted*: its results stop
//! at its last hand-over while its events go on to the end, so the next writer recovers it and
//! reports say so until then. A run whose process still runs is *in progress*, not broken.
//!
//! The identity is `host:pid:start`, where `start` is the process's start time in clock ticks
//! since boot (`/proc/PID/stat`, field 22), so a recycled pid is not mistaken for the writer.
//! Liveness is only known on the same host: a run written elsewhere is never judged.

/// This process's identity, or `None` where `/proc` cannot tell (then no run of ours is ever
/// judged interrupted by another process, which errs on the side of "in progress").
pub fn this_process() -> Option<String> {
    let pid = std::process::id();
    let start = start_ticks(pid)?;
    Some(format!("{}:{pid}:{start}", host()))
}

/// Whether the process `owner` names still runs: `Some(false)` when it is gone, `None` when
/// that cannot be told (another host, an unreadable identity).
pub fn is_running(owner: &str) -> Option<bool> {
    let mut parts = owner.rsplitn(3, ':');
    let start: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let host_part = parts.next()?;
    if host_part != host() {
        return None;
    }
    Some(start_ticks(pid) == Some(start))
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Field 22 of `/proc/PID/stat`; the command name (field 2) may hold spaces and parentheses,
/// so fields are counted after its closing parenthesis.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first, so field 22 is the 20th.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_gone_one_does_not() {
        let me = this_process().expect("a Linux /proc");
        assert_eq!(is_running(&me), Some(true));
        // The same pid with another start time is a recycled pid: not the writer.
        let (rest, start) = me.rsplit_once(':').unwrap();
        let other = format!("{rest}:{}", start.parse::<u64>().unwrap() + 1);
        assert_eq!(is_running(&other), Some(false));
        // A child that exited is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = format!("{}:{pid}:{}", host(), start_ticks(std::process::id()).unwrap());
        assert_eq!(is_running(&gone), Some(false));
    }

    #[test]
    fn another_host_or_garbage_is_not_judged() {
        assert_eq!(is_running("elsewhere.example:1:1"), None);
        assert_eq!(is_running("garbage"), None);
        assert_eq!(is_running(""), None);
    }
}
