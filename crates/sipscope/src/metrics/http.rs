//! A tiny HTTP/1.1 listener that answers `GET /metrics` with [`super::render`] and nothing
//! else, for the commands that run until stopped (`honeypot`, `hep`, `capture`, `logs
//! --follow`) until the API server (`serve`) exposes the same text. It is deliberately
//! small: one accept thread, at most [`HttpLimits::max_connections`] connection threads,
//! a request head of at most [`HttpLimits::max_request_bytes`], a deadline per connection,
//! `Connection: close` on every answer; any other path is 404, any other method 405. Nothing
//! from the request is echoed.

use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The limits of the listener.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Connections served at once; more are closed at once. Default 4.
    pub max_connections: usize,
    /// Bytes of a request head (request line and headers) at most. Default 8 KiB.
    pub max_request_bytes: usize,
    /// Time a connection has to send its request and take the answer. Default 5 s.
    pub deadline: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits { max_connections: 4, max_request_bytes: 8 << 10, deadline: Duration::from_secs(5) }
    }
}

/// The listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Binding or configuring the socket.
    #[error("metrics listener on {addr}: {cause}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        cause: std::io::Error,
    },
    /// Starting its thread.
    #[error("starting the metrics listener thread: {0}")]
    Thread(std::io::Error),
}

/// A running listener; dropping it stops it (within a poll interval).
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The address it listens on (the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How often the accept loop looks at its stop flag.
const POLL: Duration = Duration::from_millis(200);

/// Binds `addr` and serves `GET /metrics` on a thread of its own.
pub fn serve(addr: SocketAddr, limits: HttpLimits) -> Result<MetricsServer, MetricsError> {
    let bind = |cause| MetricsError::Bind { addr, cause };
    let listener = TcpListener::bind(addr).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || accept_loop(listener, limits, &flag))
        .map_err(MetricsError::Thread)?;
    Ok(MetricsServer { addr: local, stop, thread: Some(thread) })
}

fn accept_loop(listener: TcpListener, limits: HttpLimits, stop: &AtomicBool) {
    let open = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if open.load(Ordering::Relaxed) >= limits.max_connections.max(1) {
                    // Closed without a word: a scraper retries, a flood gets nothing.
                    continue;
                }
                open.fetch_add(1, Ordering::Relaxed);
                let held = Arc::clone(&open);
                let spawned = std::thread::Builder::new().name("metrics-conn".into()).spawn(move || {
                    let mut stream = stream;
                    answer(&mut stream, limits);
                    // Counted free before the client sees the close, so it may come again.
                    held.fetch_sub(1, Ordering::Relaxed);
                    drop(stream);
                });
                if spawned.is_err() {
                    open.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, PollTimeout::try_from(POLL).unwrap_or(PollTimeout::MAX));
            }
            // A connection reset before it was accepted, too many open files …: keep serving.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// `GET /metrics` (with or without a query).
    Metrics { head_only: bool },
    /// Another path.
    NotFound,
    /// Another method.
    BadMethod,
    /// Not HTTP/1.x.
    Bad,
}

/// Reads the head of `head` (up to its blank line).
fn classify(head: &[u8]) -> Request {
    let line_end = head.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(head.len());
    let line = head.get(..line_end).unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with(b"HTTP/1.") {
        return Request::Bad;
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    match method {
        b"GET" | b"HEAD" if path == b"/metrics" => Request::Metrics { head_only: method == b"HEAD" },
        b"GET" | b"HEAD" => Request::NotFound,
        _ => Request::BadMethod,
    }
}

fn answer(stream: &mut TcpStream, limits: HttpLimits) {
    let deadline = Instant::now() + limits.deadline;
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let request = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        if let Some(end) = find_blank_line(&head) {
            break classify(head.get(..end).unwrap_or_default());
        }
        if head.len() > limits.max_request_bytes {
            respond(stream, deadline, "431 Request Header Fields Too Large", "", b"request head too large\n", false);
            drain(stream, deadline);
            return;
        }
    };
    match request {
        Request::Metrics { head_only } => {
            let body = super::render();
            respond(stream, deadline, "200 OK", super::exposition::CONTENT_TYPE, body.as_bytes(), head_only);
        }
        Request::NotFound => respond(stream, deadline, "404 Not Found", "", b"only /metrics is here\n", false),
        Request::BadMethod => respond(stream, deadline, "405 Method Not Allowed", "", b"GET only\n", false),
        Request::Bad => respond(stream, deadline, "400 Bad Request", "", b"not an HTTP/1 request\n", false),
    }
}

/// After an early answer: closes our side and reads (a bounded amount, until the deadline)
/// what the client still sends, so that closing does not reset the connection before the
/// client read the answer.
fn drain(stream: &mut TcpStream, deadline: Instant) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut buf = [0u8; 4096];
    let mut left = 64usize << 10;
    while left > 0 {
        let time = deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(1));
        if time.is_zero() || stream.set_read_timeout(Some(time)).is_err() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The end of the head: the index after its blank line (CRLF CRLF, or bare LF LF).
fn find_blank_line(head: &[u8]) -> Option<usize> {
    let crlf = head.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = head.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn respond(stream: &mut TcpStream, deadline: Instant, status: &str, content_type: &str, body: &[u8], head_only: bool) {
    let content_type = if content_type.is_empty() { "text/plain; charset=utf-8" } else { content_type };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() || stream.set_write_timeout(Some(left)).is_err() {
        return;
    }
    // A client that went away or stalls past the deadline gets nothing more.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| if head_only { Ok(()) } else { stream.write_all(body) });
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified() {
        assert_eq!(classify(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Request::Metrics { head_only: false });
        assert_eq!(classify(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Request::Metrics { head_only: false });
        assert_eq!(classify(b"HEAD /metrics HTTP/1.1\r\n\r\n"), Request::Metrics { head_only: true });
        assert_eq!(classify(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(classify(b"GET /metricsx HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(classify(b"POST /metrics HTTP/1.1\r\n\r\n"), Request::BadMethod);
        assert_eq!(classify(b"GET /metrics\r\n\r\n"), Request::Bad);
        assert_eq!(classify(b"GET /metrics SIP/2.0\r\n\r\n"), Request::Bad);
        assert_eq!(classify(b""), Request::Bad);
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A real socket on loopback (port chosen by the kernel): the answers, and the limits.
    #[test]
    fn serves_metrics_and_nothing_else() {
        let limits = HttpLimits { max_request_bytes: 2048, ..HttpLimits::default() };
        let server = serve("127.0.245.1:0".parse().unwrap(), limits).unwrap();
        let addr = server.local_addr();
        let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        let body = ok.split_once("\r\n\r\n").unwrap().1;
        crate::metrics::exposition::parse(body).unwrap();
        assert!(exchange(addr, b"GET /admin HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(exchange(addr, b"DELETE /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        assert!(exchange(addr, b"INVITE sip:a@b SIP/2.0\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 4096));
        assert!(exchange(addr, &huge).starts_with("HTTP/1.1 431 "));
        let head = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "no body: {head}");
        drop(server);
        assert!(TcpStream::connect(addr).is_err(), "stopped when dropped");
    }

    #[test]
    fn a_silent_client_is_cut_at_the_deadline_and_others_are_still_served() {
        let limits = HttpLimits { deadline: Duration::from_millis(300), max_connections: 1, ..HttpLimits::default() };
        let server = serve("127.0.245.1:0".parse().unwrap(), limits).unwrap();
        let addr = server.local_addr();
        let mut silent = TcpStream::connect(addr).unwrap();
        silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = Vec::new();
        // The listener closes it after the deadline, having sent nothing.
        assert_eq!(silent.read_to_end(&mut out).unwrap_or(0), 0);
        let ok = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
    }
}
