#!/usr/bin/env bash
# One run, both POP3 servers, the same mail and load (bench/README.md, "POP3:
# Petrel and Dovecot"): 10 users x N messages of SIZE octets, retrieved by 10
# parallel sessions — cold, warm, and with DELE; Petrel also over pop3s.
#   bench/pop3-side-by-side.sh [N] [SIZE]      (default 1000 4096)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; SIZE=${2:-4096}
U=$(seq -f 'user%g@bench.test' 1 10 | paste -sd,)
echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r), node $(node --version), dovecot $(dovecot --version 2>/dev/null || echo '?')"
npx tsc -p .
load() { node dist/bench/pop3-load.js --users "$U" --password bench --expect "$N" "$@"; }

echo "== Dovecot 127.0.0.1:2610"
bench/dovecot-peer.sh clean >/dev/null 2>&1 || true
bench/dovecot-peer.sh start >/dev/null; bench/dovecot-peer.sh fill "$N" "$SIZE" >/dev/null
echo "-- cold"; load --port 2610
echo "-- warm"; load --port 2610
echo "-- dele"; load --port 2610 --dele
bench/dovecot-peer.sh clean >/dev/null

echo "== Petrel 127.0.0.1:2611 (pop3s 2612)"
bench/petrel-pop3.sh stop >/dev/null 2>&1 || true
bench/petrel-pop3.sh start >/dev/null; bench/petrel-pop3.sh fill "$N" "$SIZE" >/dev/null
echo "-- cold"; load --port 2611
echo "-- warm"; load --port 2611
echo "-- pop3s"; load --port 2612 --tls
echo "-- dele"; load --port 2611 --dele
bench/petrel-pop3.sh rss
bench/petrel-pop3.sh stop >/dev/null
