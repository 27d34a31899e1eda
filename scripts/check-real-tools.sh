#!/usr/bin/env bash
# Runs the real attack tools (SIPVicious, nmap, sipsak, SIPp) against the loopback responder,
# as scripts/capture-tool-fixtures.sh does, into a scratch folder, while tcpdump records the
# loopback traffic. Then checks that:
#   1. `sipscope parse` reads every message the tools sent (empty datagrams, which nmap sends,
#      are not messages and are counted apart);
#   2. `sipscope ingest` of the recording finds exactly as many SIP messages as tshark does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sipscope-tools.XXXXXX")
TCPDUMP_PID=
cleanup() {
  [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

cargo build -q --release -p sipscope
SIPSCOPE=$ROOT/target/release/sipscope

# Everything the runs send goes to 5060 (SIPp answers from 5071).
tcpdump -i lo -U -w "$OUT/tools.pcap" 'port 5060 or port 5071' 2>"$OUT/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 50); do grep -q listening "$OUT/tcpdump.log" 2>/dev/null && break; sleep 0.1; done

OUT_DIR=$OUT/runs "$ROOT/scripts/capture-tool-fixtures.sh" >"$OUT/capture.log" 2>&1 || {
  cat "$OUT/capture.log" >&2
  echo "check-real-tools: capture failed" >&2
  exit 1
}
sleep 1
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" 2>/dev/null || true
TCPDUMP_PID=

# 1. parse every captured request
empty=$(find "$OUT/runs" -name '*.sip' -empty | wc -l)
find "$OUT/runs" -name '*.sip' -empty -delete
files=$(find "$OUT/runs" -name '*.sip' | wc -l)
lines=$("$SIPSCOPE" parse "$OUT/runs" 2>"$OUT/parse.err" | wc -l) || true
if [ -s "$OUT/parse.err" ] || [ "$lines" -ne "$files" ]; then
  cat "$OUT/parse.err" >&2
  echo "check-real-tools: $files messages captured, $lines parsed" >&2
  exit 1
fi
echo "check-real-tools: parse: $files messages from real tools parsed ($empty empty datagrams skipped)"

# 2. ingest the recording and compare with tshark (one sip.CSeq per SIP PDU, comma-joined
#    when a TCP segment carries several).
ours=$("$SIPSCOPE" ingest --quiet --json --db "$OUT/tools.db" "$OUT/tools.pcap" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sip_messages"])')
theirs=$(tshark -r "$OUT/tools.pcap" -Y sip -T fields -e sip.CSeq 2>/dev/null | awk -F, 'NF { n += NF } END { print n + 0 }')
if [ "$ours" -ne "$theirs" ] || [ "$ours" -eq 0 ]; then
  echo "check-real-tools: ingest found $ours SIP messages, tshark $theirs" >&2
  exit 1
fi
echo "check-real-tools: ingest: $ours SIP messages in the loopback recording, as tshark counts"
