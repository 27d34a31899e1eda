//! Events written by binary COPY: a batch gets its ids from the sequence in one query, its
//! days' partitions, then one COPY inside a savepoint of the open transaction. When the batch
//! holds an event stored before (the same sensor, sequence and time: a re-delivery), COPY
//! fails as a whole; the batch is then copied into a temporary table and inserted from there
//! skipping what is already stored, so that storing twice stores once.

use super::{pg_error, pg_opt, pg_text, PgStore};
use crate::event::fields::{AuthFields, SipFields};
use crate::event::SipEvent;
use crate::sinks::SinkError;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

/// The columns in COPY order.
const COLUMNS: &str = "id, sequence, ts_ns, sensor, node, transport, src_ip, src_port, dst_ip, dst_port, tunnel_src,
    tunnel_dst, direction, file_id, packet_no, kind, method, status, reason, request_uri, ruri_user, ruri_host,
    from_user, from_host, from_tag, to_user, to_host, to_tag, call_id, cseq_seq, cseq_method, user_agent, contact,
    expires, auth_username, auth_realm, auth_nonce, auth_uri, auth_response, auth_algorithm, auth_qop, anomalies,
    raw, run_id";

/// Their types, in the same order.
const TYPES: &[Type] = &[
    Type::INT8,  // id
    Type::INT8,  // sequence
    Type::INT8,  // ts_ns
    Type::TEXT,  // sensor
    Type::TEXT,  // node
    Type::TEXT,  // transport
    Type::INET,  // src_ip
    Type::INT4,  // src_port
    Type::INET,  // dst_ip
    Type::INT4,  // dst_port
    Type::INET,  // tunnel_src
    Type::INET,  // tunnel_dst
    Type::TEXT,  // direction
    Type::INT8,  // file_id
    Type::INT8,  // packet_no
    Type::TEXT,  // kind
    Type::TEXT,  // method
    Type::INT8,  // status
    Type::TEXT,  // reason
    Type::TEXT,  // request_uri
    Type::TEXT,  // ruri_user
    Type::TEXT,  // ruri_host
    Type::TEXT,  // from_user
    Type::TEXT,  // from_host
    Type::TEXT,  // from_tag
    Type::TEXT,  // to_user
    Type::TEXT,  // to_host
    Type::TEXT,  // to_tag
    Type::TEXT,  // call_id
    Type::INT8,  // cseq_seq
    Type::TEXT,  // cseq_method
    Type::TEXT,  // user_agent
    Type::TEXT,  // contact
    Type::INT8,  // expires
    Type::TEXT,  // auth_username
    Type::TEXT,  // auth_realm
    Type::TEXT,  // auth_nonce
    Type::TEXT,  // auth_uri
    Type::TEXT,  // auth_response
    Type::TEXT,  // auth_algorithm
    Type::TEXT,  // auth_qop
    Type::TEXT,  // anomalies
    Type::BYTEA, // raw
    Type::INT8,  // run_id
];

/// The SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

/// Writes `batch` into the open transaction of `store`. Returns the events' ids, in order,
/// when every one was stored (none when a re-delivery was skipped).
pub(super) fn copy(
    store: &mut PgStore,
    batch: &[(SipEvent, SipFields, Option<i64>)],
) -> Result<Option<Vec<i64>>, SinkError> {
    store.partitions.ensure(&mut store.client, batch.iter().map(|(e, _, _)| e.ts_ns))?;
    let n = i64::try_from(batch.len()).unwrap_or(i64::MAX);
    let mut ids: Vec<i64> = store
        .client
        .query("SELECT nextval('events_id_seq') FROM generate_series(1, $1::bigint)", &[&n])
        .map_err(pg_error)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort_unstable();
    let run = store.current_run;
    let may_repeat = batch.iter().any(|(_, _, s)| s.is_some());
    if !may_repeat {
        copy_into(&mut store.client, "events", batch, &ids, run)?;
        super::counts::add(&mut store.client, n)?;
        return Ok(Some(ids));
    }
    store.client.batch_execute("SAVEPOINT sipscope_copy").map_err(pg_error)?;
    match copy_into(&mut store.client, "events", batch, &ids, run) {
        Ok(()) => {
            store.client.batch_execute("RELEASE SAVEPOINT sipscope_copy").map_err(pg_error)?;
            super::counts::add(&mut store.client, n)?;
            Ok(Some(ids))
        }
        Err(SinkError::Backend { message, .. }) if message.contains(UNIQUE_VIOLATION) => {
            store.client.batch_execute("ROLLBACK TO SAVEPOINT sipscope_copy").map_err(pg_error)?;
            store
                .client
                .batch_execute(
                    "CREATE TEMP TABLE IF NOT EXISTS events_stage (LIKE events) ON COMMIT DELETE ROWS;
                     TRUNCATE events_stage",
                )
                .map_err(pg_error)?;
            copy_into(&mut store.client, "events_stage", batch, &ids, run)?;
            let stored = store
                .client
                .execute(
                    &format!(
                        "INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM events_stage ON CONFLICT DO NOTHING"
                    ),
                    &[],
                )
                .map_err(pg_error)?;
            store.client.batch_execute("TRUNCATE events_stage; RELEASE SAVEPOINT sipscope_copy").map_err(pg_error)?;
            super::counts::add(&mut store.client, i64::try_from(stored).unwrap_or(i64::MAX))?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn copy_into(
    client: &mut postgres::Client,
    table: &str,
    batch: &[(SipEvent, SipFields, Option<i64>)],
    ids: &[i64],
    run: Option<i64>,
) -> Result<(), SinkError> {
    let sink = client.copy_in(&format!("COPY {table} ({COLUMNS}) FROM STDIN BINARY")).map_err(pg_error)?;
    let mut writer = BinaryCopyInWriter::new(sink, TYPES);
    let no_auth = AuthFields::default();
    for ((ev, f, sequence), id) in batch.iter().zip(ids) {
        let auth = f.auth.as_ref().unwrap_or(&no_auth);
        let sequence = sequence.unwrap_or(*id);
        let (src_port, dst_port) = (i32::from(ev.src.1), i32::from(ev.dst.1));
        let tunnel_src = ev.tunnel.map(|t| t.0);
        let tunnel_dst = ev.tunnel.map(|t| t.1);
        let file_id = ev.origin.map(|o| o.file_id);
        let packet_no = ev.origin.map(|o| i64::try_from(o.packet).unwrap_or(i64::MAX));
        let status = f.status.map(i64::from);
        let row: [&(dyn ToSql + Sync); 44] = [
            id,
            &sequence,
            &ev.ts_ns,
            &pg_text(&ev.sensor),
            &pg_opt(&ev.node),
            &ev.transport.as_str(),
            &ev.src.0,
            &src_port,
            &ev.dst.0,
            &dst_port,
            &tunnel_src,
            &tunnel_dst,
            &ev.direction.as_str(),
            &file_id,
            &packet_no,
            &f.kind.as_str(),
            &pg_opt(&f.method),
            &status,
            &pg_opt(&f.reason),
            &pg_opt(&f.request_uri),
            &pg_opt(&f.ruri_user),
            &pg_opt(&f.ruri_host),
            &pg_opt(&f.from.0),
            &pg_opt(&f.from.1),
            &pg_opt(&f.from.2),
            &pg_opt(&f.to.0),
            &pg_opt(&f.to.1),
            &pg_opt(&f.to.2),
            &pg_opt(&f.call_id),
            &f.cseq.0,
            &pg_opt(&f.cseq.1),
            &pg_opt(&f.user_agent),
            &pg_opt(&f.contact),
            &f.expires,
            &pg_opt(&auth.username),
            &pg_opt(&auth.realm),
            &pg_opt(&auth.nonce),
            &pg_opt(&auth.uri),
            &pg_opt(&auth.response),
            &pg_opt(&auth.algorithm),
            &pg_opt(&auth.qop),
            &pg_text(&f.anomalies),
            &ev.raw,
            &run,
        ];
        writer.write(&row).map_err(pg_error)?;
    }
    writer.finish().map_err(pg_error)?;
    Ok(())
}
