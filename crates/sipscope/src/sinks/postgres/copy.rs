//! Rows sent by binary `COPY … FROM STDIN BINARY`, encoded here field by field into one buffer
//! and handed to the connection a piece of [`CHUNK`] bytes at a time. The client library's row writer
//! sends a message through its connection's channel every 4 kB (about five events), which
//! cost the writer thread more than encoding the rows; rows of many tables are written this
//! way, each field by its column's binary form (PostgreSQL's `*recv` functions): `bigint` 8
//! bytes and `integer` 4 bytes big-endian, `double precision` its IEEE bits, `boolean` a
//! byte, `text` its UTF-8 bytes (a NUL as `\x00`, see [`pg_text`]), `bytea` its bytes,
//! `inet` family, netmask, 0, length and address. The format: a signature and two zero
//! words, then per row the number of fields and each field as a length (-1: NULL) and its
//! bytes, then -1.

use super::{pg_error, pg_text};
use crate::sinks::SinkError;
use postgres::GenericClient;
use std::io::Write;
use std::net::IpAddr;

/// Bytes encoded before they are sent as one message (about 200 events; small enough to be
/// copied on from the processor's cache).
const CHUNK: usize = 128 << 10;

/// The header of the binary format: signature, flags, header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// PostgreSQL's address families in `inet`'s binary form.
const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

/// A binary COPY under way.
pub(super) struct CopyIn<'a> {
    writer: postgres::CopyInWriter<'a>,
    rows: Rows,
}

impl<'a> CopyIn<'a> {
    /// Starts `sql` (a `COPY … FROM STDIN BINARY`) on `client`.
    pub fn start<C: GenericClient>(client: &'a mut C, sql: &str) -> Result<CopyIn<'a>, SinkError> {
        let writer = client.copy_in(sql).map_err(pg_error)?;
        Ok(CopyIn { writer, rows: Rows::new() })
    }

    /// Where the next row's fields go ([`Rows::row`] first).
    pub fn rows(&mut self) -> &mut Rows {
        &mut self.rows
    }

    /// Ends a row: sends what is encoded once it fills a piece.
    pub fn end_row(&mut self) -> Result<(), SinkError> {
        self.rows.check()?;
        if self.rows.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), SinkError> {
        self.writer.write_all(&self.rows.buf).map_err(io_error)?;
        self.rows.buf.clear();
        Ok(())
    }

    /// Sends the rest and ends the COPY; returns the rows the server took.
    pub fn finish(mut self) -> Result<u64, SinkError> {
        self.rows.check()?;
        self.rows.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.send()?;
        self.writer.finish().map_err(pg_error)
    }
}

/// The client library wraps the server's error in an I/O error: unwrapped, it keeps its SQLSTATE.
fn io_error(e: std::io::Error) -> SinkError {
    match e.into_inner().map(|inner| inner.downcast::<postgres::Error>()) {
        Some(Ok(pg)) => pg_error(*pg),
        Some(Err(other)) => SinkError::Backend { backend: super::BACKEND, message: format!("COPY: {other}") },
        None => SinkError::Backend { backend: super::BACKEND, message: "COPY: the connection failed".into() },
    }
}

/// Encoded rows (the header first).
pub(super) struct Rows {
    buf: Vec<u8>,
    /// A field longer than the format's 2 GiB: the COPY is refused, not sent wrong.
    too_long: bool,
}

impl Rows {
    fn new() -> Rows {
        let mut buf = Vec::with_capacity(CHUNK + (16 << 10));
        buf.extend_from_slice(HEADER);
        Rows { buf, too_long: false }
    }

    fn check(&self) -> Result<(), SinkError> {
        match self.too_long {
            true => Err(SinkError::Backend { backend: super::BACKEND, message: "a field longer than 2 GiB".into() }),
            false => Ok(()),
        }
    }

    /// Starts a row of `fields` fields.
    pub fn row(&mut self, fields: i16) -> &mut Rows {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Rows {
        match i32::try_from(bytes.len()) {
            Ok(n) => {
                self.buf.extend_from_slice(&n.to_be_bytes());
                self.buf.extend_from_slice(bytes);
            }
            Err(_) => {
                self.too_long = true;
                self.null();
            }
        }
        self
    }

    /// NULL.
    pub fn null(&mut self) -> &mut Rows {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    /// A `bigint`.
    pub fn i64(&mut self, v: i64) -> &mut Rows {
        self.field(&v.to_be_bytes())
    }

    /// A `bigint` or NULL.
    pub fn opt_i64(&mut self, v: Option<i64>) -> &mut Rows {
        match v {
            Some(v) => self.i64(v),
            None => self.null(),
        }
    }

    /// A count as a `bigint` (saturating).
    pub fn count(&mut self, v: u64) -> &mut Rows {
        self.i64(i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// An `integer`.
    pub fn i32(&mut self, v: i32) -> &mut Rows {
        self.field(&v.to_be_bytes())
    }

    /// A `double precision`.
    pub fn f64(&mut self, v: f64) -> &mut Rows {
        self.field(&v.to_bits().to_be_bytes())
    }

    /// A `boolean`.
    pub fn bool(&mut self, v: bool) -> &mut Rows {
        self.field(&[u8::from(v)])
    }

    /// A `text` (a NUL stored as `\x00`).
    pub fn text(&mut self, s: &str) -> &mut Rows {
        self.field(pg_text(s).as_bytes())
    }

    /// A `text` or NULL.
    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Rows {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A `bytea`.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Rows {
        self.field(b)
    }

    /// An `inet` of one address (netmask 32 or 128).
    pub fn inet(&mut self, ip: IpAddr) -> &mut Rows {
        let mut v = [0u8; 20];
        let n = match ip {
            IpAddr::V4(a) => {
                v[..4].copy_from_slice(&[PGSQL_AF_INET, 32, 0, 4]);
                v[4..8].copy_from_slice(&a.octets());
                8
            }
            IpAddr::V6(a) => {
                v[..4].copy_from_slice(&[PGSQL_AF_INET6, 128, 0, 16]);
                v[4..20].copy_from_slice(&a.octets());
                20
            }
        };
        self.field(v.get(..n).unwrap_or_default())
    }

    /// An `inet` or NULL.
    pub fn opt_inet(&mut self, ip: Option<IpAddr>) -> &mut Rows {
        match ip {
            Some(ip) => self.inet(ip),
            None => self.null(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `f` encodes after the header.
    fn ours(f: fn(&mut Rows) -> &mut Rows) -> Vec<u8> {
        let mut r = Rows::new();
        f(&mut r);
        r.buf.split_off(HEADER.len())
    }

    /// A field: its length, then its bytes.
    fn field(bytes: &[u8]) -> Vec<u8> {
        [&i32::try_from(bytes.len()).unwrap().to_be_bytes()[..], bytes].concat()
    }

    #[test]
    fn fields_are_encoded_in_the_servers_binary_forms() {
        let null = (-1i32).to_be_bytes().to_vec();
        assert_eq!(ours(|r| r.i64(-5)), field(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]));
        assert_eq!(ours(|r| r.count(u64::MAX)), field(&i64::MAX.to_be_bytes()));
        assert_eq!(ours(|r| r.i32(5060)), field(&[0, 0, 0x13, 0xc4]));
        assert_eq!(ours(|r| r.f64(0.25)), field(&[0x3f, 0xd0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(ours(|r| r.bool(true)), field(&[1]));
        assert_eq!(ours(|r| r.text("sipvicious ü")), field("sipvicious ü".as_bytes()));
        assert_eq!(ours(|r| r.opt_text(None)), null);
        assert_eq!(ours(|r| r.opt_i64(None)), null);
        assert_eq!(ours(|r| r.bytes(b"INVITE \0")), field(b"INVITE \0"));
        assert_eq!(ours(|r| r.inet("192.0.2.7".parse().unwrap())), field(&[2, 32, 0, 4, 192, 0, 2, 7]));
        let v6 = [3, 128, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(ours(|r| r.inet("2001:db8::1".parse().unwrap())), field(&v6));
        assert_eq!(ours(|r| r.opt_inet(None)), null);
        // A NUL in text becomes `\x00`, as everywhere in this store.
        assert_eq!(ours(|r| r.text("a\0b")), field(b"a\\x00b"));
    }

    #[test]
    fn a_row_is_its_field_count_then_its_fields() {
        let row = ours(|r| r.row(2).i64(1).null());
        assert_eq!(row, [&2i16.to_be_bytes()[..], &field(&1i64.to_be_bytes()), &(-1i32).to_be_bytes()].concat());
        assert_eq!(HEADER.len(), 19);
        assert!(Rows::new().check().is_ok());
    }
}
