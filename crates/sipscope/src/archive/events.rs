//! `events.parquet`: one row per stored event, its place and time, the fields parsed again
//! from its raw bytes (as the store keeps them, derived, never trusted), and the raw bytes.
//! The schema is documented in docs/export.md; its name and version are in the file's
//! key-value metadata (`sipscope.schema`), so a reader can tell an older file.

use super::columns::{ColumnSpec, Kind, ParquetFile, Value};
use super::ArchiveError;
use crate::event::fields::SipFields;
use crate::event::SipEvent;
use crate::store::{Filter, StoreReader};

/// The schema's name and version, in the file's metadata.
pub const EVENTS_SCHEMA: &str = "sipscope.events.v1";

fn columns() -> Vec<ColumnSpec> {
    use ColumnSpec as C;
    use Kind::*;
    let mut c = vec![
        C::required("ts", TimestampNs),
        C::required("sensor", Text),
        C::optional("node", Text),
        C::required("transport", Text),
        C::required("src_ip", Text),
        C::required("src_port", Int32),
        C::required("dst_ip", Text),
        C::required("dst_port", Int32),
        C::optional("tunnel_src", Text),
        C::optional("tunnel_dst", Text),
        C::required("direction", Text),
        C::optional("file_id", Int64),
        C::optional("packet_no", Int64),
        C::required("kind", Text),
        C::optional("method", Text),
        C::optional("status", Int32),
    ];
    for text in [
        "reason",
        "request_uri",
        "ruri_user",
        "ruri_host",
        "from_user",
        "from_host",
        "from_tag",
        "to_user",
        "to_host",
        "to_tag",
        "call_id",
    ] {
        c.push(C::optional(text, Text));
    }
    c.push(C::optional("cseq_seq", Int64));
    c.push(C::optional("cseq_method", Text));
    c.push(C::optional("user_agent", Text));
    c.push(C::optional("contact", Text));
    c.push(C::optional("expires", Int64));
    c.push(C::optional("auth_username", Text));
    c.push(C::optional("auth_realm", Text));
    c.push(C::optional("auth_algorithm", Text));
    c.push(C::required("anomalies", Text));
    c.push(C::required("raw", Bytes));
    c
}

fn text<T: std::ops::Deref<Target = str>>(s: &Option<T>) -> Value<'_> {
    s.as_deref().map_or(Value::Null, |s| Value::Bytes(s.as_bytes()))
}

fn int(n: Option<i64>) -> Value<'static> {
    n.map_or(Value::Null, Value::Int)
}

fn row(out: &mut ParquetFile, e: &SipEvent) -> Result<(), ArchiveError> {
    let f = SipFields::of_bytes(&e.raw, e.transport.framing());
    let src = e.src.0.to_string();
    let dst = e.dst.0.to_string();
    let tunnel = e.tunnel.map(|(a, b)| (a.to_string(), b.to_string()));
    out.push(Value::Int(e.ts_ns))?;
    out.push(Value::Bytes(e.sensor.as_bytes()))?;
    out.push(text(&e.node))?;
    out.push(Value::Bytes(e.transport.as_str().as_bytes()))?;
    out.push(Value::Bytes(src.as_bytes()))?;
    out.push(Value::Int(i64::from(e.src.1)))?;
    out.push(Value::Bytes(dst.as_bytes()))?;
    out.push(Value::Int(i64::from(e.dst.1)))?;
    out.push(tunnel.as_ref().map_or(Value::Null, |t| Value::Bytes(t.0.as_bytes())))?;
    out.push(tunnel.as_ref().map_or(Value::Null, |t| Value::Bytes(t.1.as_bytes())))?;
    out.push(Value::Bytes(e.direction.as_str().as_bytes()))?;
    out.push(int(e.origin.map(|o| o.file_id)))?;
    out.push(int(e.origin.and_then(|o| i64::try_from(o.packet).ok())))?;
    out.push(Value::Bytes(f.kind.as_str().as_bytes()))?;
    out.push(text(&f.method))?;
    out.push(int(f.status.map(i64::from)))?;
    for t in [
        &f.reason,
        &f.request_uri,
        &f.ruri_user,
        &f.ruri_host,
        &f.from.0,
        &f.from.1,
        &f.from.2,
        &f.to.0,
        &f.to.1,
        &f.to.2,
        &f.call_id,
    ] {
        out.push(text(t))?;
    }
    out.push(int(f.cseq.0))?;
    out.push(text(&f.cseq.1))?;
    out.push(text(&f.user_agent))?;
    out.push(text(&f.contact))?;
    out.push(int(f.expires))?;
    let auth = f.auth.as_ref();
    out.push(auth.map_or(Value::Null, |a| text(&a.username)))?;
    out.push(auth.map_or(Value::Null, |a| text(&a.realm)))?;
    out.push(auth.map_or(Value::Null, |a| text(&a.algorithm)))?;
    out.push(Value::Bytes(f.anomalies.as_bytes()))?;
    out.push(Value::Bytes(&e.raw))?;
    out.end_row()
}

/// Writes the events of `filter` (time range, nodes) to `path`, in time order; returns how
/// many.
pub fn write(store: &dyn StoreReader, filter: &Filter, path: &std::path::Path) -> Result<u64, ArchiveError> {
    let metadata = vec![("sipscope.schema".to_owned(), EVENTS_SCHEMA.to_owned())];
    let mut out = ParquetFile::create(path, columns(), metadata)?;
    let mut failed: Option<ArchiveError> = None;
    store.each_event_in(filter, &mut |e| {
        if failed.is_none() {
            if let Err(err) = row(&mut out, &e) {
                failed = Some(err);
            }
        }
    })?;
    if let Some(err) = failed {
        return Err(err);
    }
    out.finish()
}
