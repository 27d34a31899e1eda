#!/usr/bin/env bash
# Three sensor stores → NATS JetStream → `sipscope collect` → PostgreSQL (or SQLite), end to
# end (issue 16, "Speed").
#
#   bench/nats-pipeline.sh [N]        # N packets of the bench mix (default 1,111,111: ≈ 1 M events)
#   STORE=sqlite                      # the collector writes a SQLite file instead of PostgreSQL
#   PCAP=/path/to.pcap                # use this capture instead of making one (N is then ignored)
#   PGURL (default postgres://postgres@127.0.0.1:5432): the server of the fresh database
#       sipscope_nats_bench_<pid>, dropped at the end
#   PORT (default 14229): the nats-server this script starts (its own, in a temporary folder)
#   PROFILE=debug: use the debug build (figures only for comparison)
#   SIPSCOPE=/path/to/sipscope: run this binary, no build (with PCAP: compare two builds)
#   COLLECT_ARGS="--batch N": more options for the collector (word-split)
#   AFTER=1: the publishers first, the collector only once the stream holds everything (a
#       collector catching up on a backlog; timed from its start)
#
# Not timed: the capture (examples/make_bench_pcap.rs) is cut into thirds, each ingested into a
# sensor store of its own (sensors s1, s2, s3; no analysis, no publishing). Timed: the
# collector and three `sipscope sensor publish` processes start together; the run ends when the
# collector has received every event (or nothing came for 20 s: events were lost, and the end
# says how many are stored). Every second it prints what the broker acknowledged (sum of the
# sensors' outbox positions), what the collector stored (its committed positions), the two
# lags and the stored rate of that second; at the end the end-to-end rate, the sustained
# rate (from 10 % to 90 % of the events stored) and the CPU seconds of every process (the
# collector, each publisher, nats-server, the collector's PostgreSQL backends), so that a loaded
# machine still gives a cost per event; and whether the server dropped the collector as a slow
# consumer or the collector saw a delivery lost. Loopback only; every process is ours and is
# stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1111111}"
PORT="${PORT:-14229}"
STORE="${STORE:-postgres}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
DBNAME="sipscope_nats_bench_$$"
TMP="$(mktemp -d)"
NATS_PID=""; COLLECT_PID=""; PUBLISH_PIDS=""
cleanup() {
    # shellcheck disable=SC2086
    kill $COLLECT_PID $PUBLISH_PIDS $NATS_PID 2>/dev/null || true
    wait 2>/dev/null || true
    if [ "$STORE" = postgres ]; then
        psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ -n "${SIPSCOPE:-}" ] && [ -n "${PCAP:-}" ]; then
    :
elif [ "${PROFILE:-release}" = debug ]; then
    nice -n 10 cargo build -q -p sipscope --bin sipscope --example make_bench_pcap
else
    nice -n 10 cargo build -q --release -p sipscope --bin sipscope --example make_bench_pcap
fi
DIR="target/${PROFILE:-release}"
BIN="${SIPSCOPE:-$DIR/sipscope}"
URL="nats://127.0.0.1:$PORT"
if [ -z "${PCAP:-}" ]; then
    PCAP="$TMP/bench.pcap"
    "$DIR/examples/make_bench_pcap" "$PCAP" "$N" >/dev/null
fi
# Thirds of the capture, by packet (classic pcap: a 24-byte header, then records whose
# 16-byte header gives the captured length at offset 8).
python3 - "$PCAP" "$TMP" <<'PY'
import struct, sys
src, out = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    head = f.read(24)
    end = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    records = []
    while True:
        rh = f.read(16)
        if len(rh) < 16:
            break
        n = struct.unpack(end + "I", rh[8:12])[0]
        records.append(rh + f.read(n))
third = (len(records) + 2) // 3
for i in range(3):
    with open(f"{out}/s{i + 1}.pcap", "wb") as o:
        o.write(head)
        o.writelines(records[i * third:(i + 1) * third])
PY
for s in s1 s2 s3; do
    "$BIN" ingest --db "$TMP/$s.db" --sensor "$s" --no-analysis --no-rules "$TMP/$s.pcap" >/dev/null 2>&1 &
done
wait
rm -f "$TMP"/s?.pcap
newest() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select coalesce(max(id),0) from events').fetchone()[0])" "$1"; }
EVENTS=0
for s in s1 s2 s3; do
    n=$(newest "$TMP/$s.db")
    echo "sensor $s: $n events ($(du -h "$TMP/$s.db" | cut -f1))"
    EVENTS=$((EVENTS + n))
done

if [ "$STORE" = postgres ]; then
    psql -q "$PGURL/postgres" -c "CREATE DATABASE $DBNAME" >/dev/null
    CENTRAL="$PGURL/$DBNAME"
else
    CENTRAL="$TMP/central.db"
fi
/usr/sbin/nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$TMP/js" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.1; done
read -r load1 _ </proc/loadavg
echo "collector store: $STORE; $EVENTS events from 3 sensors; 1-minute load before the run: $load1"

T=/usr/bin/time
collect() {
    start=$(date +%s.%N)
    $T -f "%e %U %S" -o "$TMP/collect.time" "$BIN" collect --nats "$URL" --db "$CENTRAL" --sensor central \
        --max-messages "$EVENTS" --idle-exit 20 --json ${COLLECT_ARGS:-} >"$TMP/collect.json" 2>"$TMP/collect.log" &
    COLLECT_PID=$!
}
[ -n "${AFTER:-}" ] || collect
for s in s1 s2 s3; do
    $T -f "%e %U %S" -o "$TMP/$s.time" "$BIN" sensor publish --db "$TMP/$s.db" --sensor "$s" --nats "$URL" \
        --timeout 3600 2>"$TMP/publish-$s.log" &
    PUBLISH_PIDS="$PUBLISH_PIDS $!"
done
if [ -n "${AFTER:-}" ]; then
    # shellcheck disable=SC2086
    wait $PUBLISH_PIDS || true
    PUBLISH_PIDS=""
    echo "every event published; the collector starts"
    collect
fi

# One sample: elapsed, acked (sum over the sensors), stored (the collector's positions), and
# the CPU ticks so far of nats-server and of the collector's PostgreSQL backends (by pid, so
# that the last sample of each still counts after it exits).
sample() {
    python3 - "$TMP" "$STORE" "$CENTRAL" "$DBNAME" "$start" "$NATS_PID" "$EVENTS" <<'PY'
import json, os, sqlite3, subprocess, sys, time
tmp, store, central, dbname, start, nats_pid, events = sys.argv[1:]
def one(db, sql):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        return c.execute(sql).fetchone()[0] or 0
    except Exception:
        return 0
def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except Exception:
        return None
acked = sum(one(f"{tmp}/{s}.db", "select seq from outbox_acks where kind = 'event'") for s in ("s1", "s2", "s3"))
state_file = f"{tmp}/cpu.json"
state = json.load(open(state_file)) if os.path.exists(state_file) else {}
if store == "postgres":
    q = subprocess.run(["psql", "-tAq", central, "-c",
                        "select coalesce(sum(seq), 0) from collector_positions where kind = 'event' and sensor <> '$stream';"
                        "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"],
                       capture_output=True, text=True).stdout.split()
    stored = int(q[0]) if q else 0
    for pid in q[1:]:
        t = ticks(pid)
        if t is not None:
            state[f"pg{pid}"] = t
else:
    stored = one(central, "select sum(seq) from collector_positions where kind = 'event' and sensor <> '$stream'")
t = ticks(nats_pid)
if t is not None:
    state["nats"] = t
json.dump(state, open(state_file, "w"))
t = time.time() - float(start)
last = state.get("last", [0.0, 0])
rate = (stored - last[1]) / max(t - last[0], 1e-9)
state["last"] = [t, stored]
json.dump(state, open(state_file, "w"))
with open(f"{tmp}/samples", "a") as f:
    f.write(f"{t} {stored}\n")
print(f"{t:6.1f} s  acked {acked:>10,}  stored {stored:>10,}  sensor lag {int(events) - acked:>10,}  "
      f"collector lag {acked - stored:>10,}  stored {rate:>9,.0f}/s")
PY
}
while kill -0 "$COLLECT_PID" 2>/dev/null; do
    sample
    sleep 1
done
wait "$COLLECT_PID"
end=$(date +%s.%N)
# shellcheck disable=SC2086
[ -z "$PUBLISH_PIDS" ] || wait $PUBLISH_PIDS || true
PUBLISH_PIDS=""
sample
python3 - "$TMP" "$STORE" "$CENTRAL" "$start" "$end" "$EVENTS" <<'PY'
import json, os, sqlite3, subprocess, sys
tmp, store, central, start, end, n = sys.argv[1:]
n = int(n)
s = json.load(open(f"{tmp}/collect.json"))
secs = float(end) - float(start)
if store == "postgres":
    stored = int(subprocess.run(["psql", "-tAq", central, "-c", "select count(*) from events"],
                                capture_output=True, text=True).stdout.strip() or 0)
else:
    stored = sqlite3.connect(central).execute("select count(*) from events").fetchone()[0]
print(f"end to end: {stored:,} of {n:,} events stored in {secs:.2f} s: {stored / secs:,.0f} events/s "
      f"(received {s['received']:,} in {s.get('messages', s['received']):,} messages, "
      f"duplicates {s['duplicates']}, malformed {s['malformed']})")
samples = [tuple(map(float, l.split())) for l in open(f"{tmp}/samples")]
lo = next((p for p in samples if p[1] >= 0.1 * n), None)
hi = next((p for p in samples if p[1] >= 0.9 * n), None)
if lo and hi and hi[0] > lo[0]:
    print(f"sustained (10 % → 90 % stored): {(hi[1] - lo[1]) / (hi[0] - lo[0]):,.0f} events/s")
hz = os.sysconf("SC_CLK_TCK")
state = json.load(open(f"{tmp}/cpu.json"))
rows = []
for name in ("collect", "s1", "s2", "s3"):
    e, u, sy = map(float, open(f"{tmp}/{name}.time").read().split()[-3:])
    rows.append(("collector" if name == "collect" else f"publisher {name}", u + sy))
rows.append(("nats-server", state.get("nats", 0) / hz))
if store == "postgres":
    rows.append(("PostgreSQL backends", sum(v for k, v in state.items() if k.startswith("pg")) / hz))
total = sum(c for _, c in rows)
print(f"{'CPU seconds (user + system)':<30}{'s':>8}{'µs/event':>10}")
for name, c in rows + [("all", total)]:
    print(f"{name:<30}{c:>8.2f}{c / max(stored, 1) * 1e6:>10.2f}")
print(f"events/s the CPU time allows on 2 cores: {2 * stored / max(total, 1e-9):,.0f}")
PY
grep -h "Slow Consumer" "$TMP/nats.log" | head -3 || true
grep -h "never arrived" "$TMP/collect.log" | head -3 || true
