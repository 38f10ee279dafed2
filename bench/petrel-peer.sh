#!/usr/bin/env bash
# Petrel as the benchmark subject: a server under /tmp/petrel-bench/petrel with
# its own loopback DNS stub, accepting mail for user@bench.test on
# 127.0.0.1:2527 and delivering into its mailbox store (fsync on every message).
#
#   bench/petrel-peer.sh start     # build, write the config, start DNS stub and server
#   bench/petrel-peer.sh count     # messages delivered to user@bench.test's INBOX
#   bench/petrel-peer.sh drain N T # wait up to T seconds for N delivered messages
#   bench/petrel-peer.sh rss       # the server's resident memory
#   bench/petrel-peer.sh stop      # stop both and remove the data
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib-petrel.sh
BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel
LISTEN=${PETREL_BENCH_PETREL_LISTEN:-127.0.0.1:2527}
DNS_PORT=${PETREL_BENCH_DNS_PORT:-5399}

case "${1:-}" in
  start)
    petrel_build
    petrel_config petrel.bench.test warn <<TOML
[listen]
smtp = "$LISTEN"
[smtp]
max_connections_per_ip = 200
TOML
    petrel_start_dns dist/bench/dns-stub.js "$DNS_PORT"
    petrel domain add bench.test >/dev/null
    echo bench | petrel user add user@bench.test --password-stdin >/dev/null 2>&1 || true
    petrel_serve "$LISTEN"
    echo "petrel on $LISTEN (data $BASE/data)";;
  count) petrel_inbox_count;;
  drain)
    want=${2:?expected count}; limit=${3:-600}; start=$(date +%s)
    until [ "$(petrel_inbox_count)" -ge "$want" ]; do
      [ $(( $(date +%s) - start )) -ge "$limit" ] && { echo "drain: only $(petrel_inbox_count) of $want after ${limit}s" >&2; exit 1; }
      sleep 0.5
    done
    echo "delivered $(petrel_inbox_count)";;
  rss) petrel_rss;;
  stop) petrel_stop;;
  *) petrel_usage;;
esac
