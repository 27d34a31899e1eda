use super::*;
use crate::testutil::{ws_frame, SIP_OPTIONS, WS_UPGRADE_REQUEST};
use proptest::prelude::*;

const MASK: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

fn opening(head: &[u8]) -> Opening<'_> {
    read_opening(head, b"/", 8192)
}

#[test]
fn a_client_opening_is_accepted_with_its_key_and_the_sip_subprotocol() {
    let mut buf = WS_UPGRADE_REQUEST.to_vec();
    buf.extend_from_slice(&ws_frame(true, OP_TEXT, MASK, SIP_OPTIONS));
    assert_eq!(
        opening(&buf),
        Opening::Upgrade { len: WS_UPGRADE_REQUEST.len(), key: b"dGhlIHNhbXBsZSBub25jZQ==", sip: true }
    );
    for cut in 0..WS_UPGRADE_REQUEST.len() {
        assert_eq!(opening(&WS_UPGRADE_REQUEST[..cut]), Opening::NeedMore, "cut at {cut}");
    }
}

#[test]
fn bad_openings_are_refused_with_the_status_a_server_gives() {
    let req = std::str::from_utf8(WS_UPGRADE_REQUEST).unwrap();
    let status = |s: String| match read_opening(s.as_bytes(), b"/", 8192) {
        Opening::Refused { status, len, .. } => {
            assert_eq!(len, s.len());
            status
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(status(req.replace("GET / ", "POST / ")), 405);
    assert_eq!(status(req.replace("GET / ", "GET /admin ")), 404);
    assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\n\r\n".into()), 426);
    assert_eq!(status(req.replace("Version: 13", "Version: 8")), 426);
    assert_eq!(status(req.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")), 400);
    assert_eq!(status(req.replace("dGhlIHNhbXBsZSBub25jZQ==", "short")), 400);
    assert_eq!(status(req.replace("Host: sip.example.com\r\n", "")), 400);
    // A query after the path is not part of it.
    assert!(matches!(opening(req.replace("GET / ", "GET /?t=1 ").as_bytes()), Opening::Upgrade { .. }));
}

#[test]
fn what_is_not_http_or_too_long_is_not_answered() {
    assert_eq!(opening(SIP_OPTIONS), Opening::NotHttp);
    assert_eq!(opening(b"\x16\x03\x01\x02\x00\x01"), Opening::NotHttp);
    assert_eq!(read_opening(&[b'G'; 200], b"/", 100), Opening::NotHttp);
}

#[test]
fn server_frames_are_unmasked_in_the_shortest_length() {
    for n in [0usize, 125, 126, 65_535, 65_536] {
        let payload = vec![7u8; n];
        let mut out = Vec::new();
        write_frame(OP_TEXT, &payload, &mut out);
        assert_eq!(out, ws_frame(true, OP_TEXT, None, &payload), "{n}");
    }
    assert_eq!(close_frame(1002), vec![0x88, 2, 0x03, 0xea]);
    assert_eq!(close_code(&[0x03, 0xe8, b'x']), Some(1000));
    assert_eq!(close_code(&[3]), None);
}

fn read_one(r: &mut ClientReader, buf: &[u8]) -> String {
    match r.read(buf) {
        ClientRead::NeedMore => "more".into(),
        ClientRead::Frame { len, event } => format!("{len} {event:?}"),
        ClientRead::Fail { why, close_code } => format!("fail {close_code} {why}"),
    }
}

#[test]
fn client_frames_become_messages_and_control_events() {
    let mut r = ClientReader::new(1000);
    let f = ws_frame(true, OP_TEXT, MASK, b"hello");
    assert_eq!(read_one(&mut r, &f[..f.len() - 1]), "more");
    assert_eq!(
        read_one(&mut r, &f),
        format!("{} Message {{ text: true, payload: [104, 101, 108, 108, 111], frames: 1 }}", f.len())
    );
    let parts = [ws_frame(false, 2, MASK, b"ab"), ws_frame(true, OP_PING, MASK, b"p"), ws_frame(true, 0, MASK, b"c")];
    assert_eq!(read_one(&mut r, &parts[0]), "8 Fragment");
    assert_eq!(read_one(&mut r, &parts[1]), "7 Ping([112])");
    assert_eq!(r.unfinished(), Some(&b"ab"[..]));
    assert_eq!(read_one(&mut r, &parts[2]), "7 Message { text: false, payload: [97, 98, 99], frames: 2 }");
    assert_eq!(r.unfinished(), None);
    assert_eq!(read_one(&mut r, &ws_frame(true, OP_CLOSE, MASK, &[3, 232])), "8 Close([3, 232])");
}

#[test]
fn frames_rfc_6455_forbids_fail_the_connection() {
    let fail = |frames: &[Vec<u8>]| {
        let mut r = ClientReader::new(10);
        frames.iter().map(|f| read_one(&mut r, f)).last().unwrap()
    };
    assert_eq!(fail(&[ws_frame(true, OP_TEXT, None, b"x")]), "fail 1002 a client frame not masked");
    assert_eq!(fail(&[ws_frame(true, 0, MASK, b"x")]), "fail 1002 a continuation frame with no message open");
    let started = ws_frame(false, OP_TEXT, MASK, b"x");
    assert_eq!(
        fail(&[started.clone(), ws_frame(true, OP_TEXT, MASK, b"y")]),
        "fail 1002 a new message inside a fragmented one"
    );
    assert_eq!(fail(&[ws_frame(true, OP_TEXT, MASK, &[0; 11])]), "fail 1009 a message over the size limit");
    assert_eq!(fail(&[started, ws_frame(true, 0, MASK, &[0; 10])]), "fail 1009 a message over the size limit");
    let mut rsv = ws_frame(true, OP_TEXT, MASK, b"x");
    rsv[0] |= 0x40;
    assert_eq!(fail(&[rsv]), "fail 1002 reserved bits set without an extension");
    assert_eq!(fail(&[ws_frame(false, OP_PING, MASK, b"")]), "fail 1002 control frame fragmented or over 125 bytes");
    assert_eq!(fail(&[vec![0x83, 0x80, 0, 0, 0, 0]]), "fail 1002 reserved opcode");
}

proptest! {
    /// Any bytes: no panic, and a frame never claims more bytes than there are.
    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = read_opening(&buf, b"/", 128);
        let mut r = ClientReader::new(64);
        let mut at = 0;
        while let ClientRead::Frame { len, .. } = r.read(&buf[at..]) {
            prop_assert!(len > 0 && at + len <= buf.len());
            at += len;
        }
    }
}
