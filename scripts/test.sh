#!/usr/bin/env bash
# The one test command (README "Test it"; .ci/run calls exactly this).
# Installs what the tests need when it is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*" >&2; }

# --- what the tests need --------------------------------------------------------------------
missing=()
for pair in node:nodejs sipsak:sipsak sipp:sip-tester nmap:nmap tshark:tshark tcpdump:tcpdump baresip:baresip-core chromium:chromium nft:nftables conntrack:conntrack kamailio:kamailio sngrep:sngrep sqlite3:sqlite3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# libpcap headers and library for `sipscope capture` (the default `live` feature); `ip netns`
# for its test.
test -e /usr/include/pcap/pcap.h || missing+=(libpcap-dev)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# The NATS tests (tests/it/nats) start nats-server instances of their own on ports 14222–14229.
test -x /usr/sbin/nats-server || missing+=(nats-server)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v sipvicious_svmap >/dev/null 2>&1; then
  log "installing sipvicious"
  python3 -m pip install -q sipvicious
  # pyenv makes console scripts visible only after a rehash.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  command -v sipvicious_svmap >/dev/null 2>&1 || { echo "sipvicious_svmap not on PATH after install" >&2; exit 1; }
fi
# A real WebSocket client for the honeypot's ws/wss listeners (SIP over WebSocket).
if ! python3 -c 'import websockets.sync.client' >/dev/null 2>&1; then
  log "installing websockets"
  python3 -m pip install -q websockets
fi
# PostgreSQL on 127.0.0.1:5432 for the PostgreSQL store's tests (tests/it/postgres/): started
# when it is not answering (the command of the machine's service notes).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

# playwright-core for the browser checks of the dashboard and the HTML report (it drives the
# Debian chromium above; no browser is downloaded). The lock file pins it.
if [[ ! -d crates/sipscope/tests/browser/node_modules/playwright-core ]]; then
  log "installing the browser checks' npm packages"
  (cd crates/sipscope/tests/browser && npm ci --no-audit --no-fund --silent)
fi

# pyarrow reads back what `sipscope export --format parquet` writes (the reader pandas and
# DuckDB users have).
if ! python3 -c 'import pyarrow.parquet' >/dev/null 2>&1; then
  log "installing pyarrow"
  python3 -m pip install -q pyarrow
fi

# schemathesis checks the REST API against its OpenAPI document (tests/it/api/schemathesis.rs).
if ! command -v schemathesis >/dev/null 2>&1; then
  log "installing schemathesis"
  python3 -m pip install -q schemathesis
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  command -v schemathesis >/dev/null 2>&1 || { echo "schemathesis not on PATH after install" >&2; exit 1; }
fi

# --- the tests ------------------------------------------------------------------------------
log "cargo test (unit, corpus, properties, integration, docs)"
cargo test --workspace --all-targets
# Doc tests are not part of --all-targets.
cargo test --workspace --doc

log "fuzz targets build"
cargo build -q --manifest-path fuzz/Cargo.toml --bins

log "real tools on loopback: every message they send must parse"
scripts/check-real-tools.sh
