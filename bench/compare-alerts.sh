#!/usr/bin/env bash
# Do two sipscope binaries raise the same alerts? A speed change to the rules must not change
# what they find.
#   bench/compare-alerts.sh BEFORE_BIN AFTER_BIN CAPTURE [EVENTS_MODE]
# Ingests CAPTURE with each binary (`ingest --events MODE`, default all; rules and analysis on,
# the defaults) into a fresh store under $TMPDIR and compares the `alerts` table (every column
# but id and run_id) and `alert_evidence` (every column, the alert named by sensor, rule, group
# and first match instead of its id; event ids compared as stored), rows sorted. Prints the
# row counts and "same" or the first differences (diff); exits 1 when they differ. Needs
# python3. No network.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
BEFORE=$1 AFTER=$2 CAPTURE=$3 MODE=${4:-all}
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }; done
[ -r "$CAPTURE" ] || { echo "cannot read $CAPTURE" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/compare-alerts.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
for side in before after; do
    bin=$BEFORE
    [ "$side" = after ] && bin=$AFTER
    "$bin" ingest --quiet --json --events "$MODE" --sensor compare --db "$TMP/$side.db" "$CAPTURE" >"$TMP/$side.json"
    python3 - "$TMP/$side.db" >"$TMP/$side.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
cols = [r[1] for r in db.execute("PRAGMA table_info(alerts)") if r[1] not in ("id", "run_id")]
rows = sorted(repr(r) for r in db.execute(f"SELECT {', '.join(cols)} FROM alerts"))
print(f"alerts {len(rows)}")
print("\n".join(rows))
ev = sorted(repr(r) for r in db.execute(
    "SELECT a.sensor, a.rule_id, a.group_key, a.first_ns, e.position, e.ts_ns, e.src_ip, e.src_port, "
    "e.dst_ip, e.dst_port, e.event_id FROM alert_evidence e JOIN alerts a ON a.id = e.alert_id"))
print(f"evidence {len(ev)}")
print("\n".join(ev))
PY
    head -1 "$TMP/$side.txt" | sed "s/^/$side: /"
done
if cmp -s "$TMP/before.txt" "$TMP/after.txt"; then
    echo "same alerts and evidence ($(grep -m1 '^evidence' "$TMP/after.txt"))"
else
    diff "$TMP/before.txt" "$TMP/after.txt" | head -40
    exit 1
fi
