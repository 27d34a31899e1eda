//! Events into the `events` table: the store's hottest path (every stored message passes
//! here, and the writer thread is what limits `hep` and `ingest --events all`). A run of
//! consecutive events goes through one prepared single-row INSERT, taken from the statement
//! cache once per run rather than once per row (the cache's lookup, reset and clearing of 42
//! bindings cost ~6,000 instructions a row), and a parameter is bound only when its value
//! differs from the row before's (SQLite keeps a binding until it is replaced: the sensor,
//! transport, NULLs and the like repeat); addresses are formatted on the stack.
//!
//! Multi-row `INSERT … VALUES (…), (…)` statements were measured and are slower here (51,300
//! instead of 44,900 instructions per stored event with 32 rows a statement, docs/benchmarks.md
//! "Store writer"): such a statement keeps a statement journal of every page it changes, and
//! its 1,300 bound strings no longer fit SQLite's per-connection lookaside memory.

use super::{SinkError, Store};
use crate::event::fields::{AuthFields, FieldText, SipFields};
use crate::event::SipEvent;
use rusqlite::CachedStatement;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The columns of an event row, in the order of [`row_values`].
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
        // A statement from the cache has every parameter NULL (the cache clears them), and a
        // parameter keeps its value from one row to the next: only what changed is bound.
        let mut bound = [Value::Null; PER_ROW];
        for (position, ev, f) in rows {
            let row = row_values(ev, f, self.current_run);
            bind_changed(&mut stmt, &row, &mut bound)?;
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

/// One parameter's value, as bound. Addresses are compared as addresses and bound as the text
/// `IpAddr`'s `Display` writes.
#[derive(Clone, Copy, PartialEq)]
enum Value<'a> {
    Null,
    Int(i64),
    /// Text that often repeats from one row to the next (the sensor, the method, hosts, the
    /// user agent): compared before it is bound.
    Text(&'a str),
    /// Text that rarely repeats (Call-IDs, tags, nonces, responses, URIs): bound without
    /// comparing, which costs more than it saves there.
    Fresh(&'a str),
    Ip(IpAddr),
    /// Never equal to anything: the message itself, which is never the row before's (and is
    /// the longest value to compare).
    Raw(&'a [u8]),
}

impl<'a> Value<'a> {
    fn text<T: std::ops::Deref<Target = str>>(s: &'a Option<T>) -> Value<'a> {
        s.as_deref().map_or(Value::Null, Value::Text)
    }

    fn fresh<T: std::ops::Deref<Target = str>>(s: &'a Option<T>) -> Value<'a> {
        s.as_deref().map_or(Value::Null, Value::Fresh)
    }

    fn int(n: Option<i64>) -> Value<'a> {
        n.map_or(Value::Null, Value::Int)
    }

    /// Whether binding `self` where `bound` is bound changes nothing.
    fn same_as(&self, bound: &Value<'_>) -> bool {
        match (self, bound) {
            (Value::Raw(_) | Value::Fresh(_), _) => false,
            (Value::Null, Value::Null) => true,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Text(a), Value::Text(b)) => same_text(a, b),
            (Value::Ip(a), Value::Ip(b)) => a == b,
            _ => false,
        }
    }
}

/// `a == b`, without a call to `memcmp` for the short texts compared here (the call cost
/// more than the comparison: a twentieth of the writer's time), and at once for the same
/// memory (the static names of transports, directions and kinds).
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.as_ptr() == b.as_ptr() {
        return true;
    }
    let (mut wa, mut wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |w: &[u8]| <[u8; 8]>::try_from(w).map(u64::from_ne_bytes).unwrap_or_default();
    for (x, y) in (&mut wa).zip(&mut wb) {
        if word(x) != word(y) {
            return false;
        }
    }
    wa.remainder().iter().zip(wb.remainder()).all(|(x, y)| x == y)
}

/// An event's 42 values, in the order of [`COLUMNS`].
fn row_values<'a>(ev: &'a SipEvent, f: &'a SipFields, run: Option<i64>) -> [Value<'a>; PER_ROW] {
    let auth = f.auth.as_ref();
    let auth_text = |pick: fn(&AuthFields) -> &Option<FieldText>| auth.map_or(Value::Null, |a| Value::text(pick(a)));
    let auth_fresh = |pick: fn(&AuthFields) -> &Option<FieldText>| auth.map_or(Value::Null, |a| Value::fresh(pick(a)));
    [
        Value::Int(ev.ts_ns),
        Value::Text(&ev.sensor),
        Value::text(&ev.node),
        Value::Text(ev.transport.as_str()),
        Value::Ip(ev.src.0),
        Value::Int(i64::from(ev.src.1)),
        Value::Ip(ev.dst.0),
        Value::Int(i64::from(ev.dst.1)),
        ev.tunnel.map_or(Value::Null, |t| Value::Ip(t.0)),
        ev.tunnel.map_or(Value::Null, |t| Value::Ip(t.1)),
        Value::Text(ev.direction.as_str()),
        Value::int(ev.origin.map(|o| o.file_id)),
        // SQLite's integers are signed: a packet number past i64::MAX is stored as its bits,
        // as the binding of a u64 did before.
        Value::int(ev.origin.map(|o| o.packet as i64)),
        Value::Text(f.kind.as_str()),
        Value::text(&f.method),
        Value::int(f.status.map(i64::from)),
        Value::text(&f.reason),
        Value::fresh(&f.request_uri),
        Value::fresh(&f.ruri_user),
        Value::text(&f.ruri_host),
        Value::fresh(&f.from.0),
        Value::text(&f.from.1),
        Value::fresh(&f.from.2),
        Value::fresh(&f.to.0),
        Value::text(&f.to.1),
        Value::fresh(&f.to.2),
        Value::fresh(&f.call_id),
        Value::int(f.cseq.0),
        Value::text(&f.cseq.1),
        Value::text(&f.user_agent),
        Value::fresh(&f.contact),
        Value::int(f.expires),
        auth_fresh(|a| &a.username),
        auth_text(|a| &a.realm),
        auth_fresh(|a| &a.nonce),
        auth_fresh(|a| &a.uri),
        auth_fresh(|a| &a.response),
        auth_text(|a| &a.algorithm),
        auth_text(|a| &a.qop),
        Value::Text(&f.anomalies),
        Value::Raw(&ev.raw),
        Value::int(run),
    ]
}

/// Binds the values of `row` that differ from what `bound` says is bound, and notes them.
fn bind_changed<'a>(
    stmt: &mut CachedStatement<'_>,
    row: &[Value<'a>; PER_ROW],
    bound: &mut [Value<'a>; PER_ROW],
) -> rusqlite::Result<()> {
    for (at, (value, was)) in row.iter().zip(bound.iter_mut()).enumerate() {
        if value.same_as(was) {
            continue;
        }
        let index = at + 1;
        match value {
            Value::Null => stmt.raw_bind_parameter(index, rusqlite::types::Null)?,
            Value::Int(n) => stmt.raw_bind_parameter(index, n)?,
            Value::Text(s) | Value::Fresh(s) => stmt.raw_bind_parameter(index, s)?,
            Value::Ip(ip) => stmt.raw_bind_parameter(index, IpText::default().of(*ip))?,
            Value::Raw(bytes) => stmt.raw_bind_parameter(index, bytes)?,
        }
        *was = *value;
    }
    Ok(())
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

    /// Events whose values go from set to NULL and back, to other values and to the same,
    /// addresses of both families and tunnels, each parsed from its own message.
    fn varied_rows() -> Vec<(SipEvent, SipFields)> {
        use crate::event::{Direction, Origin, Transport};
        let messages: [&[u8]; 5] = [
            b"REGISTER sip:192.0.2.1 SIP/2.0\r\nFrom: <sip:100@192.0.2.1>;tag=a\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nAuthorization: Digest username=\"100\", realm=\"r\", nonce=\"n\", uri=\"sip:192.0.2.1\", response=\"0123456789abcdef0123456789abcdef\"\r\nUser-Agent: friendly-scanner\r\nExpires: 60\r\n\r\n",
            b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nFrom: <sip:x@h>\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c2\r\nCSeq: 2 OPTIONS\r\n\r\n",
            b"SIP/2.0 401 Unauthorized\r\nFrom: <sip:100@192.0.2.1>;tag=a\r\nTo: <sip:100@192.0.2.1>;tag=b\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n\r\n",
            b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nFrom: <sip:x@h>\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: c2\r\nCSeq: 2 OPTIONS\r\n\r\n",
            b"INVITE sip:+4930123@192.0.2.1 SIP/2.0\r\nFrom: \"\xff\" <sip:y@h>;tag=q\r\nCall-ID: c3\r\nCSeq: 7 INVITE\r\nContact: <sip:y@198.51.100.9>\r\nUser-Agent: friendly-scanner\r\n\r\n",
        ];
        let addresses: [(IpAddr, IpAddr); 3] = [
            ("198.51.100.7".parse().unwrap(), "192.0.2.1".parse().unwrap()),
            ("2001:db8::7".parse().unwrap(), "2001:db8::1".parse().unwrap()),
            ("198.51.100.7".parse().unwrap(), "192.0.2.1".parse().unwrap()),
        ];
        (0..12)
            .map(|i| {
                let raw = messages[i % messages.len()].to_vec();
                let fields = SipFields::extract(&sipscope_sip::parse(&raw).unwrap());
                let (src, dst) = addresses[i % addresses.len()];
                let event = SipEvent {
                    ts_ns: 1_000 + i as i64,
                    sensor: if i % 4 == 3 { "other" } else { "s1" }.into(),
                    node: (i % 3 == 0).then(|| "n1".to_owned()),
                    transport: if i % 2 == 0 { Transport::Udp } else { Transport::Tcp },
                    src: (src, 5060 + (i % 2) as u16),
                    dst: (dst, 5060),
                    tunnel: (i % 5 == 1).then_some((dst, src)),
                    direction: if i % 6 == 5 { Direction::Out } else { Direction::In },
                    origin: (i % 4 < 2).then_some(Origin { file_id: 1, packet: i as u64 + 1 }),
                    raw,
                };
                (event, fields)
            })
            .collect()
    }

    /// Every column of every event row, in id order.
    fn all_rows(store: &Store) -> Vec<Vec<rusqlite::types::Value>> {
        let mut stmt = store.conn.prepare(&format!("SELECT {COLUMNS} FROM events ORDER BY id")).unwrap();
        let rows = stmt
            .query_map([], |r| (0..PER_ROW).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows
    }

    #[test]
    fn a_run_binds_only_what_changed_and_stores_every_value() {
        let rows = varied_rows();
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let store = Store::open(&dir.path().join(name)).unwrap();
            store.conn.execute("INSERT INTO ingested_files (id, sha256, path, size, sensor, started_ns, status) VALUES (1, 'x', 'f', 0, 's1', 0, 'complete')", []).unwrap();
            store
        };
        // One run through one statement, against one statement per row (every value bound
        // after the cache cleared the parameters).
        let mut run = open("run.db");
        let refs: Vec<(u64, &SipEvent, &SipFields)> =
            rows.iter().enumerate().map(|(i, (e, f))| (i as u64, e, f)).collect();
        run.insert_events(&refs).unwrap();
        run.flush_now().unwrap();
        let mut single = open("single.db");
        for row in &refs {
            single.insert_events(std::slice::from_ref(row)).unwrap();
        }
        single.flush_now().unwrap();
        let (got, want) = (all_rows(&run), all_rows(&single));
        assert_eq!(got.len(), rows.len());
        assert_eq!(got, want);
        // And the values are the events' own, not the row before's.
        use rusqlite::types::Value as V;
        for ((event, fields), row) in rows.iter().zip(&got) {
            assert_eq!(row[2], event.node.clone().map_or(V::Null, V::Text));
            assert_eq!(row[4], V::Text(event.src.0.to_string()));
            assert_eq!(row[8], event.tunnel.map_or(V::Null, |t| V::Text(t.0.to_string())));
            assert_eq!(row[11], event.origin.map_or(V::Null, |o| V::Integer(o.file_id)));
            assert_eq!(row[14], fields.method.as_deref().map_or(V::Null, |t| V::Text(t.into())));
            let user = fields.auth.as_ref().and_then(|a| a.username.clone());
            assert_eq!(row[32], user.map_or(V::Null, |t| V::Text(t.into())));
            assert_eq!(row[29], fields.user_agent.as_deref().map_or(V::Null, |t| V::Text(t.into())));
            assert_eq!(row[40], V::Blob(event.raw.clone()));
        }
    }

    #[test]
    fn texts_compare_as_strings_do() {
        let texts =
            ["", "a", "b", "ab", "abcdefgh", "abcdefgi", "abcdefghi", "abcdefghj", "bbcdefghi", "é", "e\u{301}"];
        for a in texts {
            for b in texts {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
                let copy = b.to_owned();
                assert_eq!(same_text(a, &copy), a == b, "{a:?} {b:?} copied");
            }
        }
        let long = "x".repeat(100);
        assert!(same_text(&long, &"x".repeat(100)));
        assert!(!same_text(&long, &format!("{}y", "x".repeat(99))));
        assert!(!same_text(&long, &format!("y{}", "x".repeat(99))));
    }

    #[test]
    fn the_statement_has_one_parameter_per_column() {
        assert_eq!(COLUMNS.split(',').count(), PER_ROW);
        assert_eq!(InsertSql::new().0.matches('?').count(), PER_ROW);
    }
}
