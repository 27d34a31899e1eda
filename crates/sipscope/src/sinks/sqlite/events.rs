//! Events into the `events` table: the store's hottest path (every stored message passes
//! here, and the writer thread is what limits `hep` and `ingest --events all`). A run of
//! consecutive events goes through one prepared single-row INSERT, taken from the statement
//! cache once per run rather than once per row (the cache's lookup, reset and clearing of 42
//! bindings cost ~6,000 instructions a row); addresses are formatted on the stack.
//!
//! Multi-row `INSERT … VALUES (…), (…)` statements were measured and are slower here (51,300
//! instead of 44,900 instructions per stored event with 32 rows a statement, docs/benchmarks.md
//! "Store writer"): such a statement keeps a statement journal of every page it changes, and
//! its 1,300 bound strings no longer fit SQLite's per-connection lookaside memory.

use super::{SinkError, Store};
use crate::event::fields::{AuthFields, SipFields};
use crate::event::SipEvent;
use rusqlite::CachedStatement;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The columns of an event row, in the order [`bind_row`] binds them.
const COLUMNS: &str = "ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, tunnel_src,
    tunnel_dst, direction, file_id, packet_no, kind, method, status, reason, request_uri, ruri_user,
    ruri_host, from_user, from_host, from_tag, to_user, to_host, to_tag, call_id, cseq_seq, cseq_method,
    user_agent, contact, expires, auth_username, auth_realm, auth_nonce, auth_uri, auth_response,
    auth_algorithm, auth_qop, anomalies, raw, run_id";

/// Parameters per row (the columns above).
const PER_ROW: usize = 42;

/// The INSERT statement of one event, built once per store.
pub(super) struct InsertSql(String);

impl InsertSql {
    pub(super) fn new() -> InsertSql {
        InsertSql(format!("INSERT INTO events ({COLUMNS}) VALUES ({})", vec!["?"; PER_ROW].join(", ")))
    }
}

impl Store {
    /// Inserts one event into the open batch, at the next position of this store's own count.
    pub fn insert_event(&mut self, ev: &SipEvent, f: &SipFields) -> Result<(), SinkError> {
        let position = self.event_positions.next();
        self.insert_events(&[(position, ev, f)])
    }

    /// Inserts events into the open batch in order, through one prepared statement;
    /// committed with the batch. On an error the events before the one refused are written
    /// (until the batch is abandoned), none after it. Each row comes with its position (the
    /// order in which the pipeline handed it over: `act::Evidence::stored`), and its id is
    /// noted by it.
    pub fn insert_events(&mut self, rows: &[(u64, &SipEvent, &SipFields)]) -> Result<(), SinkError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.begin()?;
        self.events_present = true;
        let mut stmt = self.conn.prepare_cached(&self.insert_sql.0)?;
        for (position, ev, f) in rows {
            bind_row(&mut stmt, ev, f, self.current_run)?;
            stmt.raw_execute()?;
            self.event_ids.note(*position, self.conn.last_insert_rowid());
            self.pending_events += 1;
            self.pending += 1;
        }
        drop(stmt);
        if self.pending >= self.batch {
            self.flush_now()?;
        }
        Ok(())
    }
}

/// Binds one event's 42 values (every parameter: nothing stays from the row before).
fn bind_row(stmt: &mut CachedStatement<'_>, ev: &SipEvent, f: &SipFields, run: Option<i64>) -> rusqlite::Result<()> {
    let no_auth = AuthFields::default();
    let auth = f.auth.as_ref().unwrap_or(&no_auth);
    let (mut src, mut dst) = (IpText::default(), IpText::default());
    let (mut tunnel_src, mut tunnel_dst) = (IpText::default(), IpText::default());
    let tunnel = ev.tunnel.map(|(a, b)| (tunnel_src.of(a), tunnel_dst.of(b)));
    let mut at = 0;
    let mut bind = |value: &dyn rusqlite::ToSql| {
        at += 1;
        stmt.raw_bind_parameter(at, value)
    };
    bind(&ev.ts_ns)?;
    bind(&ev.sensor)?;
    bind(&ev.node)?;
    bind(&ev.transport.as_str())?;
    bind(&src.of(ev.src.0))?;
    bind(&ev.src.1)?;
    bind(&dst.of(ev.dst.0))?;
    bind(&ev.dst.1)?;
    bind(&tunnel.map(|t| t.0))?;
    bind(&tunnel.map(|t| t.1))?;
    bind(&ev.direction.as_str())?;
    bind(&ev.origin.map(|o| o.file_id))?;
    bind(&ev.origin.map(|o| o.packet as i64))?;
    bind(&f.kind.as_str())?;
    bind(&f.method)?;
    bind(&f.status)?;
    bind(&f.reason)?;
    bind(&f.request_uri)?;
    bind(&f.ruri_user)?;
    bind(&f.ruri_host)?;
    bind(&f.from.0)?;
    bind(&f.from.1)?;
    bind(&f.from.2)?;
    bind(&f.to.0)?;
    bind(&f.to.1)?;
    bind(&f.to.2)?;
    bind(&f.call_id)?;
    bind(&f.cseq.0)?;
    bind(&f.cseq.1)?;
    bind(&f.user_agent)?;
    bind(&f.contact)?;
    bind(&f.expires)?;
    bind(&auth.username)?;
    bind(&auth.realm)?;
    bind(&auth.nonce)?;
    bind(&auth.uri)?;
    bind(&auth.response)?;
    bind(&auth.algorithm)?;
    bind(&auth.qop)?;
    bind(&f.anomalies)?;
    bind(&ev.raw)?;
    bind(&run)
}

/// An address as text on the stack, exactly as `IpAddr`'s `Display` writes it (the longest,
/// an IPv4-mapped IPv6 address with every group, is 45 bytes).
struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl Default for IpText {
    fn default() -> IpText {
        IpText { buf: [0; 48], len: 0 }
    }
}

impl IpText {
    /// `ip` as text.
    fn of(&mut self, ip: IpAddr) -> &str {
        self.len = 0;
        match ip {
            // The common case without the formatting machinery: four decimal octets.
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.push(b'.');
                    }
                    if octet >= 100 {
                        self.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        self.push(b'0' + octet / 10 % 10);
                    }
                    self.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(_) => {
                // Cannot fail: 48 bytes hold any address (a longer one would be cut, not lost).
                let _ = write!(self, "{ip}");
            }
        }
        // Only ASCII digits, dots, colons and hex letters were written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_display_writes_them() {
        let cases = [
            "0.0.0.0",
            "192.0.2.7",
            "10.20.3.255",
            "255.255.255.255",
            "100.9.10.99",
            "::",
            "::1",
            "2001:db8::5",
            "::ffff:192.0.2.1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "0:0:0:0:0:ffff:255.255.255.255",
        ];
        for case in cases {
            let ip: IpAddr = case.parse().unwrap();
            assert_eq!(IpText::default().of(ip), ip.to_string(), "{case}");
        }
        for n in 0..=255u8 {
            let ip = IpAddr::from([n, 255 - n, n / 3, n.wrapping_mul(7)]);
            assert_eq!(IpText::default().of(ip), ip.to_string());
        }
    }

    #[test]
    fn the_statement_has_one_parameter_per_column() {
        assert_eq!(COLUMNS.split(',').count(), PER_ROW);
        assert_eq!(InsertSql::new().0.matches('?').count(), PER_ROW);
    }
}
