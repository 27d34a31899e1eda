#!/usr/bin/env bash
# Peak memory of `sipscope honeypot` under attacker-chosen strings, for two binaries side by side:
# one source on 127.0.0.1 sends N INVITEs over UDP, each with a new 15 kB User-Agent, Call-ID,
# From user and Request-URI user (60 kB of new text a message): the issue's attack on the
# analysis tables and the PBX's INVITE transactions, live.
#   bench/honeypot-hostile-memory.sh BEFORE_BIN AFTER_BIN [N]
# N = 10000 by default (≈ 600 MB of SIP). Each binary runs a honeypot on 127.0.0.1:PORT (UDP
# only, human log off, store under $TMPDIR); the sender paces itself at RATE messages a second
# (default 90, the issue's rate, under the per-source limit's effect on analysis: every request
# is analysed whether answered or not). Prints the peak RSS (VmHWM) once the store stops
# growing, and the requests stored (a 60 kB datagram the kernel drops is not). Needs python3.
# Sends only to 127.0.0.1. Figures and date: docs/benchmarks.md.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
BEFORE=$1 AFTER=$2 N=${3:-10000} RATE=${RATE:-90}
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }; done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/honeypot-memory.XXXXXX")
trap 'pkill -TERM -f "$TMP/hp.toml" 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=5199
printf '%-7s %12s %10s %10s\n' binary "peak RSS MB" events "wall s"
for side in before after; do
    bin=$BEFORE; [ "$side" = after ] && bin=$AFTER
    rm -f "$TMP"/hp.db*
    cat >"$TMP/hp.toml" <<EOF
sensor = "bench"
store = "$TMP/hp.db"
human_log = "off"
[[listen]]
transport = "udp"
address = "127.0.0.1"
port = $PORT
[[extension]]
user = "100"
password = "secret-100"
EOF
    "$bin" honeypot --config "$TMP/hp.toml" >/dev/null 2>"$TMP/log" &
    pid=$!
    for _ in $(seq 100); do grep -q " profile " "$TMP/log" 2>/dev/null && break; sleep 0.1; done
    start=$(date +%s.%N)
    python3 - "$TMP/hp.db" "$N" "$PORT" "$RATE" <<'PY'
import socket, sqlite3, sys, time
db, n, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
LONG = 15000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
t0 = time.time()
def stored():
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        (k,) = c.execute("SELECT count(*) FROM events WHERE direction = 'in'").fetchone()
        c.close()
        return k
    except sqlite3.Error:
        return 0
for i in range(n):
    tag = "%08d" % i
    user = "u" * (LONG - 8) + tag
    msg = ("INVITE sip:%s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5098;branch=z9hG4bK%s\r\n"
           "From: <sip:%s@127.0.0.1>;tag=%s\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
           "User-Agent: %s\r\nContent-Length: 0\r\n\r\n") % (
        user, tag, "f" * (LONG - 8) + tag, tag, "c" * (LONG - 8) + tag, "a" * (LONG - 8) + tag)
    s.sendto(msg.encode(), ("127.0.0.1", port))
    ahead = t0 + (i + 1) / rate - time.time()
    if ahead > 0:
        time.sleep(ahead)
last, still = -1, 0
while still < 3:
    time.sleep(1)
    now = stored()
    still = still + 1 if now == last else 0
    last = now
PY
    wall=$(python3 -c "import time; print('%.1f' % (time.time() - $start))")
    rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM events WHERE direction='in'\").fetchone()[0])" "$TMP/hp.db")
    printf '%-7s %12s %10s %10s\n' "$side" "$rss" "$events" "$wall"
done
