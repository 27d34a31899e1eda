//! The TLS handshake of one connection, driven by hand so that its first bytes are kept: a
//! handshake that fails (plaintext SIP, random bytes, an SSLv2 or truncated ClientHello, a
//! client too slow) is still evidence, and the caller records those bytes with what the
//! ClientHello offered.

use super::client_hello;
use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;

/// How a handshake ended.
pub(super) enum Handshake {
    /// Done: the stream carries SIP now.
    Done(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    /// Failed after the client sent `first` (at most the cap): why, and what its hello said.
    Failed {
        /// The first bytes, as received.
        first: Vec<u8>,
        /// Why it failed, and what the first bytes are.
        detail: String,
        /// The deadline passed (rather than an error or a close).
        deadline: bool,
        /// The connection, closed when dropped: after the failure is recorded, so a client
        /// that sees the close finds the record in the store.
        tcp: TcpStream,
    },
    /// Nothing was sent (a connect-only scan), or no session could be made.
    Silent,
}

/// Copies the first `cap` bytes read into `first`.
struct Tee<'a> {
    tcp: &'a mut TcpStream,
    first: &'a mut Vec<u8>,
    cap: usize,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.tcp.read(buf)?;
        let keep = n.min(self.cap.saturating_sub(self.first.len()));
        self.first.extend_from_slice(&buf[..keep]);
        Ok(n)
    }
}

/// Runs the server side of a handshake on `tcp` (whose read timeout is the poll interval);
/// `give_up` is asked between reads and names why to stop (deadline, eviction, stop).
pub(super) fn handshake(
    config: Arc<rustls::ServerConfig>,
    mut tcp: TcpStream,
    cap: usize,
    mut give_up: impl FnMut() -> Option<(&'static str, bool)>,
) -> Handshake {
    let Ok(mut conn) = rustls::ServerConnection::new(config) else { return Handshake::Silent };
    let mut first = Vec::new();
    let fail = |first: Vec<u8>, why: String, deadline: bool, tcp: TcpStream| {
        if first.is_empty() {
            return Handshake::Silent;
        }
        let detail = format!("TLS handshake failed: {why}; {}", client_hello::describe(&first));
        Handshake::Failed { first, detail, deadline, tcp }
    };
    loop {
        while conn.wants_write() {
            if let Err(e) = conn.write_tls(&mut tcp) {
                return fail(first, format!("writing: {e}"), false, tcp);
            }
        }
        if !conn.is_handshaking() {
            return Handshake::Done(Box::new(rustls::StreamOwned::new(conn, tcp)));
        }
        if let Some((why, deadline)) = give_up() {
            return fail(first, why.to_owned(), deadline, tcp);
        }
        match conn.read_tls(&mut Tee { tcp: &mut tcp, first: &mut first, cap }) {
            Ok(0) => return fail(first, "closed by the client".into(), false, tcp),
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    // The alert rustls queued, as a real server would send it.
                    let _ = conn.write_tls(&mut tcp);
                    return fail(first, e.to_string(), false, tcp);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return fail(first, format!("reading: {e}"), false, tcp),
        }
    }
}
