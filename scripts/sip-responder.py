#!/usr/bin/env python3
"""Loopback-only SIP responder that answers like an Asterisk (chan_sip) PBX.

Every received UDP datagram is written byte-for-byte to OUT/NNNN.sip (empty ones
included); TCP streams are split per RFC 3261 18.3 (blank line + Content-Length, CRLF
keep-alives dropped).  A one-line summary per message goes to stderr.
Answers are just good enough for scanners and test tools to keep going:

  OPTIONS   200 OK (Allow/Supported/Accept/Server), 404 for an unknown user in the R-URI
  REGISTER  unknown To user -> 404; no credentials -> 401 WWW-Authenticate;
            bad digest -> 403; good digest -> 200 OK (Contact echoed)
  INVITE    unknown R-URI user -> 404; no credentials -> 407 Proxy-Authenticate;
            bad digest -> 403; good digest -> 100 Trying + 486 Busy Here
  ACK       absorbed;  BYE/CANCEL -> 481;  anything else -> 501;  responses absorbed
  missing From/To/Call-ID/CSeq -> 400

Accounts: 100/100, 101/s3cret-101, 200/s3cret-200 (realm "asterisk").
Stdlib only.  Binds only 127.0.0.0/8 or ::1 and only ever answers loopback peers.
"""
import argparse
import hashlib
import ipaddress
import re
import secrets
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

USERS = {"100": "100", "101": "s3cret-101", "200": "s3cret-200"}
REALM = "asterisk"
SERVER = "Asterisk PBX 16.28.0"
ALLOW = "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE"
REASONS = {100: "Trying", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 407: "Proxy Authentication Required",
           481: "Call/Transaction Does Not Exist", 486: "Busy Here", 501: "Not Implemented"}
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}
NONCES = []  # nonces we issued (bounded), accepted in Authorization


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def loopback(host):
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class Msg:
    """Minimal request parser: first line + unfolded headers (compact names expanded)."""

    def __init__(self, data):
        text = data.decode("utf-8", "replace")
        lines = re.split(r"\r?\n", re.split(r"\r?\n\r?\n", text, maxsplit=1)[0])
        self.start = lines[0].split(" ", 2) + ["", "", ""]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:  # folded continuation line
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
            elif ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                self.headers.append((COMPACT.get(name, name), value.strip()))

    def get(self, name):
        return next((v for n, v in self.headers if n == name), None)

    def all(self, name):
        return [v for n, v in self.headers if n == name]


def uri_user(value):
    m = re.search(r"sips?:([^@;>\s]+)@", value or "", re.I)
    return m.group(1) if m else None


def sent_by(via):
    m = re.match(r"SIP\s*/\s*2\.0\s*/\s*\w+\s+(\[[^\]]+\]|[^;:,\s]+)(?::(\d+))?", via or "", re.I)
    return (m.group(1).strip("[]"), int(m.group(2) or 5060)) if m else (None, 5060)


def fix_via(via, src):
    """RFC 3261 18.2.1 received= and RFC 3581 rport= on the topmost Via value."""
    top, sep, rest = via.partition(",")
    if sent_by(top)[0] != src[0]:
        top += ";received=" + src[0]
    top = re.sub(r";\s*rport(?=\s*(;|$))", ";rport=%d" % src[1], top, count=1)
    return top + sep + rest


def challenge(header, stale=False):
    nonce = secrets.token_hex(4)
    NONCES.append(nonce)
    del NONCES[:-1000]
    value = 'Digest algorithm=MD5, realm="%s", nonce="%s"' % (REALM, nonce)
    return [(header, value + (", stale=true" if stale else ""))]


def digest(auth, method):
    """Returns 'ok', 'bad' or 'stale'.  qop is honoured only if cnonce and nc are present,
    otherwise RFC 2069 response = MD5(HA1:nonce:HA2), which is what chan_sip checks."""
    p = {k.lower(): a if q else b for k, q, a, b in
         re.findall(r'(\w+)\s*=\s*(?:(")([^"]*)"|([^\s,]*))', auth)}
    if p.get("nonce") not in NONCES:
        return "stale"
    password = USERS.get(p.get("username"))
    if password is None:
        return "bad"
    ha1 = md5("%s:%s:%s" % (p["username"], REALM, password))
    ha2 = md5("%s:%s" % (method, p.get("uri", "")))
    if p.get("qop") and p.get("cnonce") and p.get("nc"):
        want = md5(":".join((ha1, p["nonce"], p["nc"], p["cnonce"], p["qop"], ha2)))
    else:
        want = md5("%s:%s:%s" % (ha1, p["nonce"], ha2))
    return "ok" if p.get("response", "").lower() == want else "bad"


def build(req, code, src, extra=()):
    lines = ["SIP/2.0 %d %s" % (code, REASONS[code])]
    vias = req.all("via")
    lines += ["Via: " + (fix_via(v, src) if i == 0 else v) for i, v in enumerate(vias)]
    to, call_id = req.get("to") or "", req.get("call-id") or ""
    if code > 100 and not re.search(r";\s*tag=", to, re.I):
        to += ";tag=as" + md5(call_id)[:8]
    lines += ["From: " + (req.get("from") or ""), "To: " + to, "Call-ID: " + call_id,
              "CSeq: " + (req.get("cseq") or ""), "Server: " + SERVER]
    lines += ["%s: %s" % h for h in extra]
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def handle(data, src, local):
    """Returns a list of responses (bytes) for one received message."""
    req = Msg(data)
    method, uri, version = req.start[:3]
    if not data.strip() or not version.startswith("SIP/2.0") or not req.get("via"):
        return []  # empty datagram, response, or garbage: absorb
    r = lambda code, *extra: build(req, code, src, extra)
    if not all(req.get(h) for h in ("from", "to", "call-id", "cseq")):
        return [] if method == "ACK" else [r(400)]
    if method == "OPTIONS":
        if uri_user(uri) and uri_user(uri) not in USERS:
            return [r(404)]
        return [r(200, ("Contact", "<sip:%s:%d>" % local), ("Allow", ALLOW),
                  ("Supported", "replaces, timer"), ("Accept", "application/sdp"),
                  ("Accept-Language", "en"))]
    if method in ("REGISTER", "INVITE"):
        code, header = (401, "WWW-Authenticate") if method == "REGISTER" else (407, "Proxy-Authenticate")
        creds = req.get("authorization") or req.get("proxy-authorization")
        target = uri_user(req.get("to") if method == "REGISTER" else uri)
        if not creds:
            if (target or method == "REGISTER") and target not in USERS:
                return [r(404)]  # chan_sip without alwaysauthreject: unknown peer/extension
            return [r(code, *challenge(header))]
        verdict = digest(creds, method)
        if verdict != "ok":
            return [r(code, *challenge(header, stale=True))] if verdict == "stale" else [r(403)]
        if method == "INVITE":
            return [r(100), r(486)]
        expires = req.get("expires") or "3600"
        contacts = [("Contact", c) for c in req.all("contact") if expires != "0"]
        return [r(200, ("Expires", expires), *contacts,
                  ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))]
    if method == "ACK":
        return []
    if method in ("BYE", "CANCEL"):
        return [r(481)]
    return [r(501, ("Allow", ALLOW))]


def udp_reply_addr(data, src):
    """RFC 3261 18.2.2 / RFC 3581: reply to the source port if ;rport, else to the Via port.
    The host is always the packet's source address, so replies never leave loopback."""
    via = Msg(data).get("via") or ""
    if re.search(r";\s*rport", via.partition(",")[0], re.I):
        return src
    return (src[0], sent_by(via)[1]) + tuple(src[2:])


def next_frame(buf):
    """Pops one complete message off a TCP stream buffer (RFC 3261 18.3), else None."""
    while buf[:1] in (b"\r", b"\n"):
        del buf[:1]  # CRLF keep-alives between messages are not saved
    m = re.search(rb"\r?\n\r?\n", buf)
    if not m:
        return None
    cl = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", bytes(buf[:m.start()]))
    end = m.end() + (int(cl.group(1)) if cl else 0)
    if len(buf) < end:
        return None
    data = bytes(buf[:end])
    del buf[:end]
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", action="append", required=True, help="loopback address (repeatable)")
    ap.add_argument("--port", type=int, default=5060)
    ap.add_argument("--out", required=True, help="folder for NNNN.sip files")
    ap.add_argument("--no-tcp", action="store_true", help="UDP only")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--max-messages", type=int, default=5000)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sel, count = selectors.DefaultSelector(), 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    for host in args.bind:
        if not loopback(host):
            sys.exit("refusing to bind non-loopback address %s" % host)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind((host, args.port))
        sel.register(u, selectors.EVENT_READ, ("udp", None, None))
        if not args.no_tcp:
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((host, args.port))
            t.listen(16)
            sel.register(t, selectors.EVENT_READ, ("listen", None, None))

    def record(proto, data, src, local):
        nonlocal count
        count += 1
        (out / ("%04d.sip" % count)).write_bytes(data)
        first = data.split(b"\n", 1)[0][:80]
        print("%04d %s %s:%d -> %s:%d %dB %r" % (count, proto, src[0], src[1], local[0], local[1],
                                                len(data), first), file=sys.stderr, flush=True)

    print("ready", file=sys.stderr, flush=True)
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline and count < args.max_messages:
        for key, _ in sel.select(timeout=0.5):
            sock, (kind, buf, peer) = key.fileobj, key.data
            local = sock.getsockname()[:2]
            if kind == "udp":
                data, src = sock.recvfrom(65535)
                record("udp", data, src, local)
                if loopback(src[0]):
                    dst = udp_reply_addr(data, src)
                    dst = src if dst[:2] == local else dst  # never answer ourselves
                    for resp in handle(data, src, local):
                        try:
                            sock.sendto(resp, dst)
                        except OSError as e:
                            print("send to %s failed: %s" % (dst, e), file=sys.stderr)
            elif kind == "listen":
                conn, peer = sock.accept()
                sel.register(conn, selectors.EVENT_READ, ("tcp", bytearray(), peer[:2]))
            else:
                try:
                    chunk = sock.recv(65535)
                except OSError:
                    chunk = b""
                buf += chunk
                while (data := next_frame(buf)) is not None:
                    record("tcp", data, peer, local)
                    try:
                        for resp in handle(data, peer, local):
                            sock.sendall(resp)
                    except OSError:
                        chunk = b""  # peer went away: close below
                if not chunk or len(buf) > 65535:
                    if buf:
                        record("tcp", bytes(buf), peer, local)
                    sel.unregister(sock)
                    sock.close()


if __name__ == "__main__":
    main()
