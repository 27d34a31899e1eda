//! Alerts and decisions to a syslog receiver (RFC 5424 messages, [`message`]): over UDP
//! (RFC 5426, one message a datagram) or TCP with octet-counting framing (RFC 6587,
//! `LEN SP MSG`), reconnecting after a failure. Messages are formatted on the caller's thread
//! and sent by a [`Delivery`] worker: an unreachable receiver never blocks the pipeline.

pub mod message;

use crate::act::{Alert, Decision};
use crate::sinks::delivery::{Delivery, DeliveryCounters, DeliveryLimits, SendError, Transport};
use crate::sinks::endpoint::Endpoint;
use crate::sinks::{AlertSink, SinkError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// The URL schemes and their default ports (RFC 5426, RFC 6587's 601).
pub const SCHEMES: &[(&str, u16)] = &[("udp", 514), ("tcp", 601)];

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// `udp://host:port` or `tcp://host:port`.
    pub endpoint: Endpoint,
    /// The facility number (16 = local0).
    pub facility: u8,
    /// The sensor name (the messages' host).
    pub host: String,
    /// Connect and write timeout (TCP).
    pub timeout: Duration,
    /// Queue and retries.
    pub limits: DeliveryLimits,
}

/// The syslog output.
pub struct Syslog {
    delivery: Delivery<String>,
    facility: u8,
    host: String,
    pid: u32,
}

impl Syslog {
    /// Starts the sender (nothing is connected until the first message).
    pub fn open(config: SyslogConfig) -> Result<Syslog, SinkError> {
        let transport = Box::new(SyslogTransport {
            tcp: config.endpoint.scheme == "tcp",
            endpoint: config.endpoint,
            timeout: config.timeout,
            udp: None,
            stream: None,
        });
        let delivery = Delivery::spawn("syslog", transport, config.limits)
            .map_err(|e| SinkError::Io { what: "starting the syslog sender".into(), cause: e })?;
        Ok(Syslog { delivery, facility: config.facility, host: config.host, pid: std::process::id() })
    }

    /// What it sent, dropped and gave up.
    pub fn counters(&self) -> DeliveryCounters {
        self.delivery.counters()
    }
}

impl AlertSink for Syslog {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.delivery.push(message::alert(alert, self.facility, self.pid));
        Ok(())
    }

    fn decision(&mut self, decision: &Decision) -> Result<(), SinkError> {
        self.delivery.push(message::decision(decision, self.facility, &self.host, self.pid));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        // Everything is already with the sender.
        Ok(())
    }
}

struct SyslogTransport {
    endpoint: Endpoint,
    tcp: bool,
    timeout: Duration,
    udp: Option<UdpSocket>,
    stream: Option<TcpStream>,
}

fn retry(what: &str, e: impl std::fmt::Display) -> SendError {
    SendError::Retry(format!("syslog {what}: {e}"))
}

impl SyslogTransport {
    fn addresses(&self) -> Result<Vec<SocketAddr>, SendError> {
        let found = self.endpoint.resolve().map_err(|e| retry(&self.endpoint.authority(), e))?;
        if found.is_empty() {
            return Err(retry(&self.endpoint.authority(), "no address"));
        }
        Ok(found)
    }

    fn send_udp(&mut self, text: &str) -> Result<(), SendError> {
        if self.udp.is_none() {
            let mut last = retry(&self.endpoint.authority(), "no address");
            for addr in self.addresses()? {
                let local: SocketAddr =
                    if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
                // Connected, so that the receiver's ICMP errors come back as send errors.
                match UdpSocket::bind(local).and_then(|s| s.connect(addr).map(|()| s)) {
                    Ok(s) => {
                        self.udp = Some(s);
                        break;
                    }
                    Err(e) => last = retry(&addr.to_string(), e),
                }
            }
            if self.udp.is_none() {
                return Err(last);
            }
        }
        let socket = self.udp.as_ref().ok_or_else(|| retry("udp", "no socket"))?;
        socket.send(text.as_bytes()).map(drop).map_err(|e| {
            self.udp = None;
            retry(&self.endpoint.authority(), e)
        })
    }

    /// Whether the open connection was closed by the receiver (a write would vanish).
    fn closed(stream: &TcpStream) -> bool {
        let mut byte = [0u8; 1];
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let closed = match (&*stream).read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false, // A receiver has nothing to say; ignore it.
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        closed || stream.set_nonblocking(false).is_err()
    }

    fn send_tcp(&mut self, text: &str) -> Result<(), SendError> {
        if self.stream.as_ref().is_some_and(Self::closed) {
            self.stream = None;
        }
        if self.stream.is_none() {
            let mut last = retry(&self.endpoint.authority(), "no address");
            for addr in self.addresses()? {
                match TcpStream::connect_timeout(&addr, self.timeout) {
                    Ok(s) => {
                        let _ = s.set_write_timeout(Some(self.timeout));
                        let _ = s.set_nodelay(true);
                        self.stream = Some(s);
                        break;
                    }
                    Err(e) => last = retry(&addr.to_string(), e),
                }
            }
            if self.stream.is_none() {
                return Err(last);
            }
        }
        let frame = format!("{} {text}", text.len());
        let stream = self.stream.as_mut().ok_or_else(|| retry("tcp", "no connection"))?;
        stream.write_all(frame.as_bytes()).map_err(|e| {
            self.stream = None;
            retry(&self.endpoint.authority(), e)
        })
    }
}

impl Transport<String> for SyslogTransport {
    fn send(&mut self, text: &String) -> Result<(), SendError> {
        if self.tcp {
            self.send_tcp(text)
        } else {
            self.send_udp(text)
        }
    }
}

#[cfg(test)]
mod tests;
