#!/usr/bin/env bash
# The HEP source's speed with every event stored (issue 15: at least 200 k packets/s).
#
#   bench/hep-bench.sh [N] [RATE]      # N packets (default 500,000); RATE pps (default: full speed)
#   LIMIT=SECS (default 120): when the collector stops if packets were lost; HOST (127.0.0.1),
#   PORT (19060); TRANSPORT=tcp: one TCP stream instead of datagrams (HEPv3's framing; the
#   kernel's cost per datagram on loopback, paid twice on one machine, is left out); NO_ANALYSIS=1: store events without running the analysis engine;
#   NO_RULES=1: without the built-in rules; QUEUE_MIB=M: the collector's queue (--queue-mib);
#   PERF=1: the collector under `perf record`, and
#   the share of its CPU samples per thread printed at the end; BIN, SEND: binaries to use
#   instead of building (a before/after comparison); CALLGRIND=1: the collector under
#   `valgrind --tool=callgrind --separate-threads=yes` (N defaults to 4,000 and RATE to 200/s,
#   as the figures in docs/benchmarks.md were taken), and the instructions per stored event
#   printed by thread: repeatable on a loaded machine, unlike any wall-clock figure;
#   CALLGRIND_KEEP=DIR keeps the per-thread callgrind files there for callgrind_annotate
#
# Sends N HEPv3 packets (crates/sipscope/examples/hep_send.rs: scanner OPTIONS, digest
# REGISTERs, 401s from many sources, authenticated with a key) over UDP on loopback to
# `sipscope hep --keys`, which stores every one (--events all, analysis and rules on: the
# defaults). The sender encodes every packet before its clock starts and sends 64 per sendmmsg.
# Prints what was sent, received and stored; when nothing was lost, the rate every packet was
# taken at (the sender's: a burst the pipeline cannot store as fast waits in the collector's
# queue, `--queue-mib`) and the rate from the first packet sent to the collector's exit (its
# last event committed: what the pipeline sustains). Loopback only; every process is ours.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CALLGRIND:-}" ]; then
    N="${1:-4000}"
    RATE="${2:-200}"
else
    N="${1:-500000}"
    RATE="${2:-}"
fi
PORT="${PORT:-19060}"
HOST="${HOST:-127.0.0.1}"
TMP="$(mktemp -d)"
trap 'kill "$HEP_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT

if [ -z "${BIN:-}" ]; then
    nice -n 10 cargo build -q --release -p sipscope --bin sipscope --example hep_send
    BIN=target/release/sipscope
fi
SEND="${SEND:-target/release/examples/hep_send}"
cat >"$TMP/keys.toml" <<KEYS
[[node]]
sensor = "bench-node"
id = 2001
key = "bench-key-0123456789"
KEYS

extra=()
[ -n "${NO_ANALYSIS:-}" ] && extra+=(--no-analysis)
[ -n "${NO_RULES:-}" ] && extra+=(--no-rules)
[ -n "${QUEUE_MIB:-}" ] && extra+=(--queue-mib "$QUEUE_MIB")
perf=()
[ -n "${PERF:-}" ] && perf=(perf record -q -F 499 -g -o "$TMP/perf.data")
[ -n "${CALLGRIND:-}" ] && perf=(valgrind -q --tool=callgrind --separate-threads=yes --callgrind-out-file="$TMP/cg.out")
/usr/bin/time -f '{"cpu_user": %U, "cpu_sys": %S, "max_rss_kb": %M}' -o "$TMP/time.json" \
    "${perf[@]}" "$BIN" hep --listen "${TRANSPORT:-udp}:$HOST:$PORT" --keys "$TMP/keys.toml" --db "$TMP/hep.db" --json \
    --count "$N" --duration "${LIMIT:-120}" "${extra[@]}" >"$TMP/summary.json" 2>"$TMP/stderr" &
HEP_PID=$!
until grep -q "HEP collector on" "$TMP/stderr"; do
    kill -0 "$HEP_PID" 2>/dev/null || { cat "$TMP/stderr" >&2; exit 1; }
    sleep 0.1
done
start=$(date +%s.%N)
tcp=()
[ "${TRANSPORT:-udp}" = tcp ] && tcp=(--tcp)
"$SEND" "$HOST:$PORT" "$N" ${RATE:+--rate "$RATE"} "${tcp[@]}" >"$TMP/sent.json"
# The collector exits after N packets (its last event committed). If the kernel dropped
# some (the collector fell behind), it never gets N and stops at --duration LIMIT instead:
# then the rate below is meaningless and "received" says how many were lost.
wait "$HEP_PID" || true
end=$(date +%s.%N)
python3 - "$TMP/sent.json" "$TMP/summary.json" "$start" "$end" "$TMP/time.json" <<'PY'
import json, sys
sent = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); t = json.load(open(sys.argv[5]))
secs = float(sys.argv[4]) - float(sys.argv[3])
h, m = s["hep"], s["messages"]
print(f"sent      {sent['sent']:>10,} packets in {sent['seconds']:.2f} s ({sent['per_second']:,.0f}/s)")
print(f"received  {h['packets']:>10,}   accepted {h['accepted']:,}   refused {h['wrong_key'] + h['unknown_node'] + h['unauthenticated']:,}")
print(f"stored    {m['events_stored']:>10,} events")
cpu = t["cpu_user"] + t["cpu_sys"]
print(f"collector {cpu:>10.2f} CPU s ({m['events_stored'] / max(cpu, 0.01):,.0f} events stored per CPU second), peak {t['max_rss_kb'] / 1024:.0f} MB")
if h["packets"] < sent["sent"]:
    print(f"LOST      {sent['sent'] - h['packets']:>10,} packets (dropped by the kernel: the collector fell behind); no rate")
else:
    print(f"taken     {sent['per_second']:>10,.0f} packets/s, none lost (the sender's rate: the listener read every packet as sent)")
    print(f"rate      {m['events_stored'] / secs:>10,.0f} events stored/s  (first send to last commit: {secs:.2f} s)")
PY
ls -l "$TMP"/hep.db* | awk '{b += $5} END {printf "store     %10.0f bytes on disk (database and WAL)\n", b}'
if [ -n "${PERF:-}" ]; then
    echo "collector CPU samples by thread:"
    perf report -q -i "$TMP/perf.data" --no-children --sort comm -g none 2>/dev/null | sed 's/^/  /'
fi
if [ -n "${CALLGRIND:-}" ]; then
    echo "collector instructions per stored event, by thread (callgrind; start-up included in main):"
    python3 - "$TMP" <<'PY'
import glob, json, re, subprocess, sys
tmp = sys.argv[1]
stored = json.load(open(f"{tmp}/summary.json"))["messages"]["events_stored"] or 1
# Functions whose inclusive cost is shown, and the thread each one names.
parts = {
    "sqlite-writer": ["sqlite3_step", "sinks::sqlite::events::", "COMMIT", "sqlite3_bind"],
    "main (pipeline)": ["HepIngest::take", "validate::validate", "Message::parse_with", "SipFields::extract",
                        "RulesEngine::observe", "Pipeline::accept_inner"],
    "analysis": ["Analyzer::observe"],
    "hep-udp": ["serve_udp"],
}
marks = {"sqlite-writer": "background::Writer::run", "main (pipeline)": "HepIngest::take",
         "analysis": "Analyzer::observe", "hep-udp": "serve_udp"}
for path in sorted(glob.glob(f"{tmp}/cg.out-*")):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                         capture_output=True, text=True).stdout
    total = 0
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(2):
            total = n
        rows.append((n, m.group(2)))
    name = next((t for t, mark in marks.items() if any(mark in r for _, r in rows)), "other")
    print(f"  {name:<16} {total / stored:>10,.0f}   ({total:,} in all)")
    for want in parts.get(name, []):
        best = max((n for n, r in rows if want in r), default=0)
        if best:
            print(f"      {want:<28} {best / stored:>10,.0f}")
PY
    if [ -n "${CALLGRIND_KEEP:-}" ]; then mkdir -p "$CALLGRIND_KEEP" && cp "$TMP"/cg.out-* "$CALLGRIND_KEEP"/; fi
fi
