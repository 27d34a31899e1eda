#!/usr/bin/env bash
# Sensor store → NATS JetStream → `sipscope collect` → collector store, end to end (issue 16).
#
#   bench/nats-pipeline.sh [N]        # N packets of the bench mix (default 1,000,000)
#   PORT (default 14229): the nats-server this script starts (its own, in a temporary folder)
#   PROFILE=debug: use the debug build (no release build; figures only for comparison)
#
# Makes a capture (examples/make_bench_pcap.rs), ingests it into a sensor store without
# publishing (not timed), then starts the collector and `sipscope sensor publish` together and
# times until the collector has stored every event (its positions reach the sensor's newest
# row). Every second it prints the lag: rows the sensor has not had acknowledged, and rows
# acknowledged by the broker that the collector has not stored. Loopback only; every process
# is ours and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
PORT="${PORT:-14229}"
TMP="$(mktemp -d)"
NATS_PID=""; COLLECT_PID=""
trap 'kill $COLLECT_PID $NATS_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT

if [ "${PROFILE:-release}" = debug ]; then
    nice -n 10 cargo build -q -p sipscope --bin sipscope --example make_bench_pcap
else
    nice -n 10 cargo build -q --release -p sipscope --bin sipscope --example make_bench_pcap
fi
DIR="target/${PROFILE:-release}"
BIN="$DIR/sipscope"
URL="nats://127.0.0.1:$PORT"
"$DIR/examples/make_bench_pcap" "$TMP/bench.pcap" "$N" >/dev/null
"$BIN" ingest --db "$TMP/sensor.db" --sensor bench --no-analysis --no-rules "$TMP/bench.pcap" 2>/dev/null >/dev/null || true
EVENTS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select max(id) from events').fetchone()[0])" "$TMP/sensor.db")
echo "sensor store: $EVENTS events ($(du -h "$TMP/sensor.db" | cut -f1))"

/usr/sbin/nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$TMP/js" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.1; done

start=$(date +%s.%N)
"$BIN" collect --nats "$URL" --db "$TMP/central.db" --sensor central --max-messages "$EVENTS" --json \
    >"$TMP/collect.json" 2>"$TMP/collect.log" &
COLLECT_PID=$!
"$BIN" sensor publish --db "$TMP/sensor.db" --sensor bench --nats "$URL" --timeout 3600 2>"$TMP/publish.log" &
PUBLISH_PID=$!
lag() {
    python3 - "$TMP/sensor.db" "$TMP/central.db" "$start" <<'PY'
import sqlite3, sys, time
def one(db, sql):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        return c.execute(sql).fetchone()[0] or 0
    except Exception:
        return 0
newest = one(sys.argv[1], "select max(id) from events")
acked = one(sys.argv[1], "select seq from outbox_acks where kind = 'event'")
stored = one(sys.argv[2], "select seq from collector_positions where kind = 'event'")
t = time.time() - float(sys.argv[3])
print(f"{t:6.1f} s  acked {acked:>10,}  stored {stored:>10,}  sensor lag {newest - acked:>10,}  collector lag {acked - stored:>10,}")
PY
}
while kill -0 "$COLLECT_PID" 2>/dev/null; do
    lag
    sleep 1
done
wait "$COLLECT_PID"
end=$(date +%s.%N)
wait "$PUBLISH_PID" || true
lag
python3 - "$TMP/collect.json" "$start" "$end" "$TMP/central.db" "$EVENTS" <<'PY'
import json, sqlite3, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[3]) - float(sys.argv[2])
stored = sqlite3.connect(sys.argv[4]).execute("select count(*) from events").fetchone()[0]
n = int(sys.argv[5])
print(f"end to end {stored:,} of {n:,} events stored in {secs:.2f} s: {stored / secs:,.0f} events/s "
      f"(received {s['received']:,}, duplicates {s['duplicates']}, malformed {s['malformed']})")
PY
