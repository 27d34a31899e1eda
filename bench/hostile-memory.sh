#!/usr/bin/env bash
# Peak memory of `sipscope ingest` under attacker-chosen strings: one source sends N INVITEs at
# 90 a second, each with a new 15 kB User-Agent, Call-ID, From user and Request-URI user (60 kB
# of new text a message, within a UDP datagram), and gets a 401 for each: the issue's attack on
# the analysis tables, as a capture.
#   bench/hostile-memory.sh BEFORE_BIN AFTER_BIN [N]
# Writes the capture (gzip; N = 30000 by default: ~1.8 GB of SIP, a few MB on disk) under
# $TMPDIR, then runs each binary's `ingest --quiet --json --events none` (the analysis holds
# everything; no event is stored) and `--events all` into a fresh store, and prints peak RSS
# (/usr/bin/time), wall time and the messages counted. Needs python3 and /usr/bin/time.
# Touches no network. Figures and date: docs/benchmarks.md, "Memory under hostile strings".
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
BEFORE=$1 AFTER=$2 N=${3:-30000}
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }; done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hostile-memory.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
CAPTURE=$TMP/hostile.pcap.gz
python3 - "$CAPTURE" "$N" <<'PY'
import gzip, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
ATTACKER, HONEYPOT = bytes([192, 0, 2, 66]), bytes([198, 51, 100, 1])
LONG = 15000

def long(what, i):
    return what * (LONG - 8) + "%08d" % i

def checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp

with gzip.open(path, "wb", compresslevel=1) as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    t0 = 1796000000
    for i in range(n):
        ua, call_id, frm, to = long("u", i), long("c", i), long("f", i), long("1", i)
        invite = (
            f"INVITE sip:{to}@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.66:5061;branch=z9hG4bK{i}\r\n"
            f"From: <sip:{frm}@192.0.2.66>;tag={i}\r\nTo: <sip:100@198.51.100.1>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 INVITE\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        answer = (
            f"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.66:5061;branch=z9hG4bK{i}\r\n"
            f"From: <sip:f@192.0.2.66>;tag={i}\r\nTo: <sip:100@198.51.100.1>;tag=x\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        us = i * 1_000_000 // 90
        for payload, src, dst, sport, dport in ((invite, ATTACKER, HONEYPOT, 5061, 5060), (answer, HONEYPOT, ATTACKER, 5060, 5061)):
            f = frame(src, dst, sport, dport, payload)
            out.write(struct.pack("<IIII", t0 + us // 1_000_000, us % 1_000_000, len(f), len(f)) + f)
PY
printf 'capture: %s (%s bytes), %s INVITEs + %s answers\n' "$CAPTURE" "$(stat -c %s "$CAPTURE")" "$N" "$N"
printf '%-7s %-6s %12s %9s %10s\n' binary events peak_rss_MB wall_s messages
for mode in none all; do
    for side in before after; do
        bin=$BEFORE; [ "$side" = after ] && bin=$AFTER
        rm -f "$TMP"/s.db*
        /usr/bin/time -f "%e %M" -o "$TMP/time" timeout 3600 \
            "$bin" ingest --quiet --json --events "$mode" --db "$TMP/s.db" "$CAPTURE" >"$TMP/summary.json" || true
        read -r wall rss <"$TMP/time"
        messages=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("sip_messages", "?"))' "$TMP/summary.json" 2>/dev/null || echo '?')
        printf '%-7s %-6s %12.1f %9s %10s\n' "$side" "$mode" "$(echo "$rss / 1024" | bc -l)" "$wall" "$messages"
    done
done
