//! Events written by binary COPY (`copy.rs`): a batch gets its ids from the sequence in one
//! query (each `nextval` hands out a block of the sequence's increment, `EVENT_ID_BLOCK` since
//! schema migration 7), its days' partitions, then one COPY into the open transaction. Nothing
//! here recognises an event stored before: a collector is exactly-once by its committed
//! positions (`sources/collect/`), so `events` carries no unique key for it to pay for at every
//! row (schema migration 6).

use super::copy::CopyIn;
use super::{pg_error, PgStore};
use crate::event::fields::{AuthFields, SipFields};
use crate::event::SipEvent;
use crate::sinks::SinkError;

/// The columns in COPY order.
const COLUMNS: &str = "id, sequence, ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, tunnel_src,
    tunnel_dst, direction, file_id, packet_no, kind, method, status, reason, request_uri, ruri_user, ruri_host,
    from_user, from_host, from_tag, to_user, to_host, to_tag, call_id, cseq_seq, cseq_method, user_agent, contact,
    expires, auth_username, auth_realm, auth_nonce, auth_uri, auth_response, auth_algorithm, auth_qop, anomalies,
    raw, run_id";

/// How many they are.
const COLUMN_COUNT: i16 = 44;

/// Writes `batch` into the open transaction of `store`. Returns the events' ids, in order.
pub(super) fn copy(store: &mut PgStore, batch: &[(SipEvent, SipFields)]) -> Result<Vec<i64>, SinkError> {
    store.partitions.ensure(&mut store.client, batch.iter().map(|(e, _)| e.ts_ns))?;
    let n = i64::try_from(batch.len()).unwrap_or(i64::MAX);
    let block = store.id_block;
    let blocks = n.saturating_add(block - 1) / block;
    let mut starts: Vec<i64> = store
        .client
        .query("SELECT nextval('events_id_seq') FROM generate_series(1, $1::bigint)", &[&blocks])
        .map_err(pg_error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    starts.sort_unstable();
    let ids = ids_of_blocks(&starts, block, batch.len());
    if ids.len() < batch.len() {
        return Err(SinkError::Backend {
            backend: super::BACKEND,
            message: format!("events_id_seq gave {} ids for {} events", ids.len(), batch.len()),
        });
    }
    copy_into(&mut store.client, batch, &ids, store.current_run)?;
    super::counts::add(&mut store.client, n)?;
    Ok(ids)
}

/// The first `n` ids of the blocks of `block` ids that start at `starts` (ascending), in order.
fn ids_of_blocks(starts: &[i64], block: i64, n: usize) -> Vec<i64> {
    starts.iter().flat_map(|&start| (0..block).map(move |k| start.saturating_add(k))).take(n).collect()
}

fn copy_into(
    client: &mut postgres::Client,
    batch: &[(SipEvent, SipFields)],
    ids: &[i64],
    run: Option<i64>,
) -> Result<(), SinkError> {
    let mut copy = CopyIn::start(client, &format!("COPY events ({COLUMNS}) FROM STDIN BINARY"))?;
    let no_auth = AuthFields::default();
    for ((ev, f), id) in batch.iter().zip(ids) {
        let auth = f.auth.as_ref().unwrap_or(&no_auth);
        copy.rows()
            .row(COLUMN_COUNT)
            .i64(*id)
            .i64(*id)
            .i64(ev.ts_ns)
            .text(&ev.sensor)
            .opt_text(o(&ev.node))
            .text(ev.transport.as_str())
            .inet(ev.src.0)
            .i32(i32::from(ev.src.1))
            .inet(ev.dst.0)
            .i32(i32::from(ev.dst.1))
            .opt_inet(ev.tunnel.map(|t| t.0))
            .opt_inet(ev.tunnel.map(|t| t.1))
            .text(ev.direction.as_str())
            .opt_i64(ev.origin.map(|o| o.file_id))
            .opt_i64(ev.origin.map(|o| i64::try_from(o.packet).unwrap_or(i64::MAX)))
            .text(f.kind.as_str())
            .opt_text(o(&f.method))
            .opt_i64(f.status.map(i64::from))
            .opt_text(o(&f.reason))
            .opt_text(o(&f.request_uri))
            .opt_text(o(&f.ruri_user))
            .opt_text(o(&f.ruri_host))
            .opt_text(o(&f.from.0))
            .opt_text(o(&f.from.1))
            .opt_text(o(&f.from.2))
            .opt_text(o(&f.to.0))
            .opt_text(o(&f.to.1))
            .opt_text(o(&f.to.2))
            .opt_text(o(&f.call_id))
            .opt_i64(f.cseq.0)
            .opt_text(o(&f.cseq.1))
            .opt_text(o(&f.user_agent))
            .opt_text(o(&f.contact))
            .opt_i64(f.expires)
            .opt_text(o(&auth.username))
            .opt_text(o(&auth.realm))
            .opt_text(o(&auth.nonce))
            .opt_text(o(&auth.uri))
            .opt_text(o(&auth.response))
            .opt_text(o(&auth.algorithm))
            .opt_text(o(&auth.qop))
            .text(&f.anomalies)
            .bytes(&ev.raw)
            .opt_i64(run);
        copy.end_row()?;
    }
    copy.finish()?;
    Ok(())
}

/// An optional text field.
fn o<T: std::ops::Deref<Target = str>>(s: &Option<T>) -> Option<&str> {
    s.as_deref()
}
