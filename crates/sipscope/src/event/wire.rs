//! Whether bytes are SIP at all, decided by the start line alone (on any port): shared by the
//! wire decoder (which drops what is not SIP) and the pipeline (which counts messages by their
//! start line when nothing needs the full parse).

use sipscope_sip::start_line::{parse_start_line, StartLine};

/// The start line of `payload`, when its first line (after CRLF keep-alives, within 1 KiB)
/// is a SIP request or status line.
pub fn start_line(payload: &[u8]) -> Option<StartLine<'_>> {
    let start = payload.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(payload.len());
    let rest = payload.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(1024)];
    let end = memchr::memchr2(b'\r', b'\n', window).unwrap_or(window.len());
    parse_start_line(&window[..end], &mut |_| {})
}

/// True when the first line of `payload` is a SIP request or status line.
pub fn looks_like_sip(payload: &[u8]) -> bool {
    start_line(payload).is_some()
}
