#!/usr/bin/env bash
# Two sipscope binaries ingesting the same captures side by side, alternating, several rounds:
# the before/after table of a change to the pipeline, the store or the analysis.
#   bench/ingest-before-after.sh BEFORE_BIN AFTER_BIN CAPTURE [ROUNDS]
# Runs `ingest --quiet --events none` and `--events all` (analysis on: the defaults a user gets)
# into a fresh store under $TMPDIR for each binary, ROUNDS times (default 3) in ABAB order so that
# a busy machine hurts both alike, and prints per mode and binary the best and median wall time,
# packets/s and messages/s of the best run, CPU seconds (user+system) and peak RSS, then the
# ratio AFTER/BEFORE of the best runs. Needs python3 and /usr/bin/time. Touches no network.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
BEFORE=$1 AFTER=$2 CAPTURE=$3 ROUNDS=${4:-3}
for b in "$BEFORE" "$AFTER"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }; done
[ -r "$CAPTURE" ] || { echo "cannot read $CAPTURE" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/before-after.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
if [ -r /proc/loadavg ]; then
    read -r load1 _ </proc/loadavg
    echo "1-minute load before the runs: $load1 (above ~0.5 the figures are noisy)" >&2
fi
RESULTS=$TMP/results.tsv
for round in $(seq "$ROUNDS"); do
    for mode in none all; do
        for side in before after; do
            bin=$BEFORE; [ "$side" = after ] && bin=$AFTER
            rm -f "$TMP"/s.db*
            /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" timeout 3600 \
                "$bin" ingest --quiet --json --events "$mode" --db "$TMP/s.db" "$CAPTURE" >"$TMP/summary.json" || true
            read -r wall user sys rss <"$TMP/time"
            python3 - "$TMP/summary.json" "$side" "$mode" "$round" "$wall" "$user" "$sys" "$rss" >>"$RESULTS" <<'PY'
import json, sys
path, side, mode, rnd, wall, user, sys_, rss = sys.argv[1:]
s = json.load(open(path))
print("\t".join(map(str, [side, mode, rnd, wall, float(user) + float(sys_), rss, s["packets"], s["sip_messages"], s["events_stored"]])))
PY
            echo "round $round $mode $side: ${wall} s" >&2
        done
    done
done
python3 - "$RESULTS" "$BEFORE" "$AFTER" "$CAPTURE" <<'PY'
import statistics, sys
path, before, after, capture = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
print(f"capture {capture}\nbefore  {before}\nafter   {after}\n")
print(f"{'mode':<6} {'binary':<7} {'best s':>8} {'median s':>9} {'packets/s':>11} {'msgs/s':>10} {'cpu s':>7} {'peak MB':>8} {'events':>9}")
best = {}
for mode in ("none", "all"):
    for side in ("before", "after"):
        rs = [r for r in rows if r[0] == side and r[1] == mode]
        if not rs:
            continue
        walls = [float(r[3]) for r in rs]
        b = min(rs, key=lambda r: float(r[3]))
        w = float(b[3])
        best[(mode, side)] = w
        print(f"{mode:<6} {side:<7} {w:>8.2f} {statistics.median(walls):>9.2f} {int(b[6]) / w:>11,.0f} "
              f"{int(b[7]) / w:>10,.0f} {float(b[4]):>7.2f} {int(b[5]) / 1024:>8.0f} {int(b[8]):>9,}")
print()
for mode in ("none", "all"):
    if (mode, "before") in best and (mode, "after") in best:
        print(f"--events {mode}: after is {best[(mode, 'before')] / best[(mode, 'after')]:.2f}x the speed of before (best runs)")
PY
