//! One parsed SIP message as a JSON object: the `sipscope parse` output contract
//! (documented in `docs/parse-output.md`; field names never change meaning).

use super::json::JsonWriter;
use sipscope_sip::typed::NameAddr;
use sipscope_sip::{HeaderName, Message, Scheme, StartLine, Uri};

/// Writes `msg` as one JSON object. `source` names where it came from (a file path, `-`).
pub fn write_message(w: &mut JsonWriter, msg: &Message<'_>, source: &str, offset: usize) {
    w.begin_object();
    w.key("source");
    w.bytes(source.as_bytes());
    w.key("offset");
    w.number(offset as u64);
    match *msg.start_line() {
        StartLine::Request { method, uri, .. } => {
            w.key("kind");
            w.bytes(b"request");
            w.key("method");
            w.bytes(method);
            w.key("request_uri");
            write_uri(w, uri, msg.request_uri());
            w.key("status");
            w.null();
            w.key("reason");
            w.null();
        }
        StartLine::Response { code_raw, reason, code, .. } => {
            w.key("kind");
            w.bytes(b"response");
            w.key("method");
            w.null();
            w.key("request_uri");
            w.null();
            w.key("status");
            match code {
                Some(c) => w.number(u64::from(c)),
                None => w.bytes(code_raw),
            }
            w.key("reason");
            w.bytes(reason);
        }
    }
    w.key("headers");
    w.begin_array();
    for h in msg.headers() {
        w.begin_array();
        w.bytes(h.name);
        w.bytes(h.value);
        w.end_array();
    }
    w.end_array();
    w.key("call_id");
    w.opt_bytes(msg.call_id());
    w.key("from");
    write_name_addr(w, msg.value(HeaderName::From).map(NameAddr::parse));
    w.key("to");
    write_name_addr(w, msg.value(HeaderName::To).map(NameAddr::parse));
    w.key("cseq");
    match msg.cseq() {
        Some(c) => {
            w.begin_object();
            w.key("seq");
            w.opt_number(c.seq);
            w.key("method");
            w.bytes(c.method);
            w.end_object();
        }
        None => w.null(),
    }
    write_vias(w, msg);
    w.key("contact");
    if msg.contact_is_star() {
        w.bytes(b"*");
    } else {
        w.begin_array();
        for c in msg.contacts() {
            write_name_addr(w, Some(c));
        }
        w.end_array();
    }
    w.key("user_agent");
    w.opt_bytes(msg.user_agent());
    w.key("server");
    w.opt_bytes(msg.server());
    w.key("max_forwards");
    w.opt_number(msg.max_forwards());
    w.key("content_length");
    w.opt_number(msg.content_length());
    w.key("body_len");
    w.number(msg.body().len() as u64);
    w.key("trailing_len");
    w.number(msg.trailing().len() as u64);
    w.key("auth");
    write_auth(w, msg);
    w.key("anomalies");
    w.begin_array();
    for a in msg.anomalies() {
        w.bytes(a.kind.name().as_bytes());
    }
    w.end_array();
    w.end_object();
}

fn write_uri(w: &mut JsonWriter, raw: &[u8], uri: Option<Uri<'_>>) {
    w.begin_object();
    w.key("raw");
    w.bytes(raw);
    let Some(uri) = uri else {
        w.key("scheme");
        w.null();
        w.end_object();
        return;
    };
    w.key("scheme");
    w.bytes(uri.scheme_raw);
    w.key("user");
    w.opt_bytes(uri.user);
    w.key("host");
    w.opt_bytes(if uri.scheme == Scheme::Sip || uri.scheme == Scheme::Sips { Some(uri.host) } else { None });
    w.key("port");
    w.opt_number(uri.port.map(u64::from));
    w.end_object();
}

fn write_name_addr(w: &mut JsonWriter, na: Option<NameAddr<'_>>) {
    let Some(na) = na else {
        w.null();
        return;
    };
    w.begin_object();
    w.key("display");
    w.opt_bytes(na.display);
    w.key("uri");
    w.bytes(na.uri_raw);
    w.key("user");
    w.opt_bytes(na.user());
    w.key("host");
    w.opt_bytes(na.host());
    w.key("tag");
    w.opt_bytes(na.tag());
    w.end_object();
}

fn write_vias(w: &mut JsonWriter, msg: &Message<'_>) {
    w.key("via");
    w.begin_array();
    for via in msg.vias() {
        w.begin_object();
        w.key("transport");
        w.bytes(via.transport);
        w.key("host");
        w.bytes(via.host);
        w.key("port");
        w.opt_number(via.port.map(u64::from));
        w.key("branch");
        w.opt_bytes(via.branch());
        w.key("received");
        w.opt_bytes(via.received());
        w.key("rport");
        match via.rport() {
            None => w.null(),
            Some(None) => w.boolean(true),
            Some(Some(p)) => w.number(u64::from(p)),
        }
        w.end_object();
    }
    w.end_array();
}

fn write_auth(w: &mut JsonWriter, msg: &Message<'_>) {
    let Some(creds) = msg.credentials() else {
        w.null();
        return;
    };
    let raw = |name: &[u8]| creds.param(name).map(|p| p.value);
    w.begin_object();
    w.key("scheme");
    w.bytes(creds.scheme);
    for (key, value) in [
        ("username", creds.username),
        ("realm", creds.realm),
        ("nonce", creds.nonce),
        ("uri", creds.uri),
        ("response", creds.response),
        ("algorithm", raw(b"algorithm")),
        ("qop", raw(b"qop")),
        ("nc", creds.nc),
        ("cnonce", creds.cnonce),
    ] {
        w.key(key);
        w.opt_bytes(value);
    }
    w.end_object();
}
