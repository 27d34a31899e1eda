#!/usr/bin/env bash
# The honeypot's answered rate next to Kamailio's, flooded the same way, in one run.
#   bench/honeypot-compare.sh [REQUESTS]          (default 200,000 requests per server)
# (a) Kamailio as a stateless responder (bench/kamailio-responder.cfg) on 127.0.0.1:5090;
# (b) `sipscope honeypot` on 127.0.0.2:5060/udp with a fresh SQLite store.
# Each gets REQUESTS requests from bench/sipflood (OPTIONS and REGISTER alternately), then the
# script prints answered/s, server CPU time, the honeypot's peak RSS and the ratio, and checks
# that the honeypot's store holds one 'in' event per request sent and one 'out' per answer.
# Env: SIPSCOPE (a sipscope binary to measure instead of building this tree's),
#      WINDOW (256: below the ~300 requests a default 208 KiB socket buffer holds, so the
#      kernel drops nothing), MIX (both), SOURCES (1), DURATION (60: cap per flood, seconds).
# Needs: cargo, kamailio (apt-get install -y kamailio), python3. Loopback only; every process
# runs under `timeout` and the trap ends them all on exit.
# Exit status: 0 when every check passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REQUESTS=${1:-200000}
WINDOW=${WINDOW:-256}
MIX=${MIX:-both}
SOURCES=${SOURCES:-1}
DURATION=${DURATION:-60}
HARD=$((DURATION + 120)) # a server lives at most this long
KAM_ADDR=127.0.0.1 KAM_PORT=5090
HP_ADDR=127.0.0.2 HP_PORT=5060

command -v kamailio >/dev/null || { echo "needs kamailio: apt-get install -y kamailio" >&2; exit 1; }
TMP=$(mktemp -d /tmp/honeypot-compare.XXXXXX)
BG=() # pids of the `timeout` wrappers; TERM to one reaches its server
cleanup() {
    for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

timeout 1200 cargo build -q --release --manifest-path bench/sipflood/Cargo.toml
FLOOD=$ROOT/bench/sipflood/target/release/sipflood
HP_BUILD=ok
if [ -z "${SIPSCOPE:-}" ]; then
    timeout 1800 cargo build -q --release -p sipscope || HP_BUILD="cargo build -p sipscope failed"
    SIPSCOPE=$ROOT/target/release/sipscope
fi

# CPU seconds (user + system) of a process and its children, from /proc/PID/stat.
tree_cpu() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
    done
    python3 -c "print(round($t / $(getconf CLK_TCK), 2))"
}
# Datagrams the kernel dropped for want of receive-buffer room, machine-wide.
rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
# True once something is bound to ADDR:PORT/udp (so the honeypot gets no probe requests
# that would then show in its store).
udp_bound() {
    local hex
    hex=$(python3 -c "import sys; a = sys.argv[1].split('.'); print(''.join('%02X' % int(x) for x in reversed(a)) + ':%04X' % int(sys.argv[2]))" "$1" "$2")
    grep -q " $hex " /proc/net/udp
}
flood() { # TARGET OUT.json
    timeout $((DURATION + 60)) "$FLOOD" --target "$1" --count "$REQUESTS" --duration "$DURATION" \
        --mix "$MIX" --window "$WINDOW" --sources "$SOURCES" >"$2" 2>"$2.err" || true
    cat "$2.err" >&2
}

# (a) Kamailio. Its answers to the readiness probe are not counted anywhere.
echo "== kamailio on $KAM_ADDR:$KAM_PORT" >&2
timeout "$HARD" kamailio -DD -E -f bench/kamailio-responder.cfg -P "$TMP/kam.pid" -Y "$TMP" \
    -A "BENCH_LISTEN=udp:$KAM_ADDR:$KAM_PORT" >"$TMP/kam.log" 2>&1 &
BG+=($!)
for _ in $(seq 50); do
    "$FLOOD" --target "$KAM_ADDR:$KAM_PORT" --count 1 --timeout 0.2 >/dev/null 2>&1 && break
    sleep 0.2
done
KAM_PID=$(cat "$TMP/kam.pid" 2>/dev/null || true)
[ -n "$KAM_PID" ] || { cat "$TMP/kam.log" >&2; echo "kamailio did not start" >&2; exit 1; }
c0=$(tree_cpu "$KAM_PID") d0=$(rcvbuf_errors)
flood "$KAM_ADDR:$KAM_PORT" "$TMP/kam.json"
c1=$(tree_cpu "$KAM_PID") d1=$(rcvbuf_errors)
KAM_CPU=$(python3 -c "print(round($c1 - $c0, 2))") KAM_DROPS=$((d1 - d0))
kill -TERM "${BG[0]}"
wait "${BG[0]}" 2>/dev/null || true

# (b) the honeypot.
HP_STATUS=$HP_BUILD HP_CPU=0 HP_HWM_KB=0 HP_DROPS=0
if [ "$HP_STATUS" = ok ] && ! "$SIPSCOPE" honeypot --help >/dev/null 2>&1; then
    HP_STATUS="this sipscope has no 'honeypot' subcommand"
fi
if [ "$HP_STATUS" = ok ]; then
    echo "== sipscope honeypot on $HP_ADDR:$HP_PORT" >&2
    cat >"$TMP/hp.toml" <<EOF
sensor = "bench"
store = "$TMP/hp.db"
profile = "asterisk-chan-sip"
human_log = "off"
[[listen]]
transport = "udp"
address = "$HP_ADDR"
port = $HP_PORT
[[extension]]
user = "1000"
password = "1000"
# Limits far above the flood: this measures throughput, not the rate limiter.
[limits]
per_source_rate = 1000000
per_source_burst = 1000000
global_rate = 10000000
amplification_factor = 100.0
EOF
    timeout "$HARD" "$SIPSCOPE" honeypot --config "$TMP/hp.toml" >"$TMP/hp.log" 2>&1 &
    HP_WRAP=$!
    BG+=("$HP_WRAP")
    for _ in $(seq 100); do udp_bound "$HP_ADDR" "$HP_PORT" && break; sleep 0.1; done
    HP_PID=$(pgrep -P "$HP_WRAP" || true)
    if [ -z "$HP_PID" ] || ! udp_bound "$HP_ADDR" "$HP_PORT"; then
        HP_STATUS="the honeypot did not start: $(tail -3 "$TMP/hp.log" | tr '\n' ' ')"
    else
        d0=$(rcvbuf_errors)
        flood "$HP_ADDR:$HP_PORT" "$TMP/hp.json"
        d1=$(rcvbuf_errors)
        HP_DROPS=$((d1 - d0))
        HP_CPU=$(tree_cpu "$HP_PID")
        HP_HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$HP_PID/status")
        # SIGTERM: the honeypot flushes every pending event before it exits.
        kill -TERM "$HP_PID"
        for _ in $(seq 600); do kill -0 "$HP_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$HP_PID" 2>/dev/null; then
            HP_STATUS="the honeypot did not exit within 60 s of SIGTERM"
        elif ! wait "$HP_WRAP"; then
            HP_STATUS="the honeypot exited with an error: $(tail -3 "$TMP/hp.log" | tr '\n' ' ')"
        fi
    fi
fi

timeout 120 python3 - "$TMP" "$HP_STATUS" "$KAM_CPU" "$KAM_DROPS" "$HP_CPU" "$HP_HWM_KB" "$HP_DROPS" <<'PY'
import json, os, sqlite3, sys

tmp, hp_status, kam_cpu, kam_drops, hp_cpu, hp_hwm_kb, hp_drops = sys.argv[1:]
ok = True

def load(name):
    try:
        with open(os.path.join(tmp, name)) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None

def row(label, r, cpu, rss, drops):
    if r is None:
        print(f"{label:<20} (no result)")
        return
    us = float(cpu) * 1e6 / r["answered"] if r["answered"] else 0
    print(f"{label:<20} {r['sent']:>9} {r['answered']:>9} {r['lost']:>6} {r['seconds']:>8.2f} "
          f"{r['answered_per_s']:>11.0f} {r['latency_ms']['p99']:>7.2f} {float(cpu):>8.2f} {us:>7.1f} "
          f"{rss:>9} {drops:>6}")

kam, hp = load("kam.json"), load("hp.json")
print(f"{'server':<20} {'sent':>9} {'answered':>9} {'lost':>6} {'seconds':>8} {'answered/s':>11} "
      f"{'p99 ms':>7} {'cpu s':>8} {'µs/req':>7} {'peak RSS':>9} {'drops':>6}")
row("kamailio (2 workers)", kam, kam_cpu, "-", kam_drops)
if hp_status == "ok":
    row("sipscope honeypot", hp, hp_cpu, f"{int(hp_hwm_kb) // 1024} MiB", hp_drops)
else:
    print(f"{'sipscope honeypot':<20} not run: {hp_status}")
    ok = False
print("(cpu s: the server's user+system time during the flood; drops: UDP receive-buffer "
      "drops on the machine)")
if kam is None or kam["answered"] == 0:
    print("FAIL: kamailio answered nothing")
    ok = False
if hp_status == "ok" and hp is not None:
    if kam and kam["answered_per_s"]:
        print(f"ratio honeypot/kamailio (answered/s): {hp['answered_per_s'] / kam['answered_per_s']:.2f}")
    db = sqlite3.connect(os.path.join(tmp, "hp.db"))
    by_dir = dict(db.execute("SELECT direction, count(*) FROM events GROUP BY direction"))
    n_in, n_out = by_dir.get("in", 0), by_dir.get("out", 0)
    print(f"store: {by_dir}")
    checks = [
        (n_in == hp["sent"], f"'in' events {n_in} == requests sent {hp['sent']} (none unlogged)"),
        (n_out == hp["answered"], f"'out' events {n_out} == requests answered {hp['answered']}"),
        (n_in + n_out == 2 * hp["answered"], f"events {n_in + n_out} == 2 x answered"),
        (hp["lost"] == 0, f"lost {hp['lost']} == 0"),
    ]
    for good, what in checks:
        print(("ok:   " if good else "FAIL: ") + what)
        ok &= good
    if not ok and int(hp_drops):
        print(f"note: the kernel dropped {hp_drops} datagrams for want of buffer room; "
              "a smaller WINDOW avoids that")
elif hp_status == "ok":
    print("FAIL: no sipflood result for the honeypot")
    ok = False
sys.exit(0 if ok else 1)
PY
