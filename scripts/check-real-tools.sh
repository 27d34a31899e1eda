#!/usr/bin/env bash
# Runs the real attack tools (SIPVicious, nmap, sipsak, SIPp) against the loopback responder,
# as scripts/capture-tool-fixtures.sh does, but into a scratch folder; then checks that
# `sipscope parse` reads every message they sent. Empty datagrams (nmap sends two) are not
# messages and are counted apart.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sipscope-tools.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

OUT_DIR=$OUT "$ROOT/scripts/capture-tool-fixtures.sh" >"$OUT/capture.log" 2>&1 || {
  cat "$OUT/capture.log" >&2
  echo "check-real-tools: capture failed" >&2
  exit 1
}
empty=$(find "$OUT" -name '*.sip' -empty | wc -l)
find "$OUT" -name '*.sip' -empty -delete
files=$(find "$OUT" -name '*.sip' | wc -l)
cargo build -q --release -p sipscope
lines=$("$ROOT/target/release/sipscope" parse "$OUT" 2>"$OUT/parse.err" | wc -l) || true
if [ -s "$OUT/parse.err" ] || [ "$lines" -ne "$files" ]; then
  cat "$OUT/parse.err" >&2
  echo "check-real-tools: $files messages captured, $lines parsed" >&2
  exit 1
fi
echo "check-real-tools: $files messages from real tools parsed ($empty empty datagrams skipped)"
