//! The ingest core with a real store: authenticated, refused and hostile packets, and HEP
//! events in the same tables as wire events.

use super::*;
use crate::nodes::Nodes;
use crate::pipeline::{PipelineSettings, Unparsed};
use crate::sinks::sqlite::{BackgroundStore, Store};
use crate::sinks::RunKind;
use sipscope_hep::{encode, Payload};
use std::io::Write;

const KEYS: &str = "[[node]]\nsensor = \"edge-1\"\nid = 2001\nkey = \"0123456789abcdef\"\n";
const T: u32 = 1_796_000_000;

fn packet<'a>(payload: &'a [u8], key: Option<&'a [u8]>) -> Packet<'a> {
    let mut p = Packet::v3();
    p.ip_family = Some(sipscope_hep::FAMILY_V4);
    p.ip_proto = Some(17);
    p.src_addr = Some("203.0.113.5".parse().unwrap());
    p.dst_addr = Some("198.51.100.1".parse().unwrap());
    (p.src_port, p.dst_port) = (Some(5061), Some(5060));
    (p.ts_sec, p.ts_usec) = (Some(T), Some(250_000));
    p.payload_type = Some(PAYLOAD_SIP);
    p.capture_id = Some(2001);
    p.auth_key = key;
    p.payload = Payload::Plain(payload);
    p
}

struct Run {
    dir: tempfile::TempDir,
    pipeline: Option<Pipeline>,
    ingest: HepIngest,
}

impl Run {
    fn new(auth: Auth) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let store = BackgroundStore::spawn(Store::open(&dir.path().join("s.db")).unwrap()).unwrap();
        let mut settings = PipelineSettings::new("collector".into(), Nodes::default(), RunKind::Capture);
        settings.unparsed = Unparsed::Keep;
        let mut pipeline = Pipeline::new(settings, Box::new(store), Vec::new());
        pipeline.begin_analysis(0).unwrap();
        Run { dir, pipeline: Some(pipeline), ingest: HepIngest::new(auth, Limits::default()) }
    }

    fn take(&mut self, bytes: &[u8]) {
        let peer = "127.0.0.1:9060".parse().unwrap();
        self.ingest.take(bytes, peer, 42, self.pipeline.as_mut().unwrap());
    }

    fn finish(&mut self) -> rusqlite::Connection {
        self.pipeline.take().unwrap().finish(1).unwrap();
        Store::open_read_only(&self.dir.path().join("s.db")).unwrap()
    }
}

fn sip() -> Vec<u8> {
    crate::test_support::tool_message("svcrack/0002.sip")
}

#[test]
fn an_authenticated_packet_becomes_an_event_with_its_addresses_time_and_sensor() {
    let mut run = Run::new(Auth::Keys(Keys::parse(KEYS).unwrap()));
    let sip = sip();
    run.take(&encode(&packet(&sip, Some(b"0123456789abcdef"))).unwrap());
    assert_eq!(run.ingest.counters().accepted, 1);
    let db = run.finish();
    let row: (i64, String, String, i64, String, String, Vec<u8>) = db
        .query_row("SELECT ts_ns, sensor, src_ip, src_port, transport, method, raw FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .unwrap();
    assert_eq!(row.0, i64::from(T) * 1_000_000_000 + 250_000_000);
    assert_eq!((row.1.as_str(), row.2.as_str(), row.3), ("edge-1", "203.0.113.5", 5061));
    assert_eq!((row.4.as_str(), row.5.as_str()), ("udp", "REGISTER"));
    assert_eq!(row.6, sip, "payload bytes kept exactly");
    // The same tables as wire events: the analysis saw it, and the auth attempt fields are there.
    let n: i64 = db.query_row("SELECT sum(messages) FROM traffic", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn refused_packets_are_counted_by_reason_and_stored_nowhere() {
    let mut run = Run::new(Auth::Keys(Keys::parse(KEYS).unwrap()));
    let sip = sip();
    run.take(&encode(&packet(&sip, None)).unwrap());
    run.take(&encode(&packet(&sip, Some(b"0123456789abcdeX"))).unwrap());
    let mut stranger = packet(&sip, Some(b"0123456789abcdef"));
    stranger.capture_id = Some(7);
    run.take(&encode(&stranger).unwrap());
    // HEPv2 has no key: refused when keys are required.
    let mut v2 = vec![2u8, 16, 2, 17, 0x13, 0xc5, 0x13, 0xc4, 203, 0, 113, 5, 198, 51, 100, 1];
    v2.extend_from_slice(&[0; 12]);
    v2.extend_from_slice(&sip);
    run.take(&v2);
    run.take(b"HEP3\x00\x05");
    run.take(b"\x16\x03\x01 a TLS hello on the UDP port");
    let c = *run.ingest.counters();
    assert_eq!((c.packets, c.accepted), (6, 0));
    assert_eq!((c.unauthenticated, c.wrong_key, c.unknown_node, c.malformed), (2, 1, 1, 2));
    let db = run.finish();
    assert_eq!(db.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0)).unwrap(), 0);
}

#[test]
fn hostile_payloads_are_counted_not_stored() {
    let mut run = Run::new(Auth::Open);
    let key = Some(&b"0123456789abcdef"[..]);
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b'A'; 16 << 20]).unwrap();
    let bomb = bomb.finish().unwrap();
    let mut p = packet(b"", key);
    p.payload = Payload::Compressed(&bomb);
    run.take(&encode(&p).unwrap());
    let mut rtcp = packet(b"\x80\xc8", key);
    rtcp.payload_type = Some(5);
    run.take(&encode(&rtcp).unwrap());
    let mut no_dst = packet(b"OPTIONS sip:a SIP/2.0\r\n\r\n", key);
    no_dst.dst_addr = None;
    run.take(&encode(&no_dst).unwrap());
    let c = *run.ingest.counters();
    assert_eq!((c.bad_compressed_payload, c.not_sip, c.missing_addresses, c.accepted), (1, 1, 1, 0));
    run.finish();
}

#[test]
fn without_keys_the_sensor_is_a_printable_node_name_or_the_id() {
    let mut run = Run::new(Auth::Open);
    let sip = sip();
    let mut named = packet(&sip, None);
    named.node_name = Some(b"edge-west");
    run.take(&encode(&named).unwrap());
    let mut hostile = packet(&sip, None);
    hostile.node_name = Some(b"\x1b]0;pwned\x07");
    run.take(&encode(&hostile).unwrap());
    let mut anonymous = packet(&sip, None);
    anonymous.capture_id = None;
    anonymous.ts_sec = None;
    run.take(&encode(&anonymous).unwrap());
    assert_eq!(run.ingest.counters().time_from_receipt, 1);
    let db = run.finish();
    let mut stmt = db.prepare("SELECT sensor, ts_ns FROM events ORDER BY rowid").unwrap();
    let rows: Vec<(String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let sensors: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(sensors, ["edge-west", "hep-2001", "collector"]);
    assert_eq!(rows[2].1, 42, "no time chunk: the time of receipt");
}

#[test]
fn compressed_payloads_are_stored_inflated() {
    let mut run = Run::new(Auth::Open);
    let sip = sip();
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&sip).unwrap();
    let z = z.finish().unwrap();
    let mut p = packet(b"", None);
    p.payload = Payload::Compressed(&z);
    run.take(&encode(&p).unwrap());
    let db = run.finish();
    let raw: Vec<u8> = db.query_row("SELECT raw FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(raw, sip);
}
