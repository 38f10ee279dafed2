#!/usr/bin/env bash
# Petrel as the outbound relay under test: a server under /tmp/petrel-bench/petrel-relay
# accepting mail from 127.0.0.0/8 on 127.0.0.1:2529 for anyone@sink.test (not a local
# domain, so it is queued and relayed) and delivering it by MX lookup through its own
# loopback DNS stub (bench/relay-load.ts dns: MX sink.test -> 127.0.0.9) to port 2600,
# where bench/relay-side-by-side.sh runs Postfix's smtp-sink. Delivery limits are
# Petrel's defaults (20 connections per destination, 100 messages per connection).
#
#   bench/petrel-relay.sh start     # build, write the config, start DNS stub and server
#                                   # (PETREL_BENCH_CPU_PROF=DIR: the server runs with node --cpu-prof into DIR)
#   bench/petrel-relay.sh sent      # "sent" log lines (recipients delivered to the next hop)
#   bench/petrel-relay.sh problems  # "delivery deferred" / "delivery failed" / error log lines
#   bench/petrel-relay.sh queued    # messages still in the queue
#   bench/petrel-relay.sh rss       # the server's resident memory
#   bench/petrel-relay.sh cpu       # CPU seconds the server has used (user + system, all its threads)
#   bench/petrel-relay.sh stop      # stop both and remove the data
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib-petrel.sh
BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel-relay
LISTEN=${PETREL_BENCH_RELAY_LISTEN:-127.0.0.1:2529}
DNS_PORT=${PETREL_BENCH_RELAY_DNS_PORT:-5397}
SINK_PORT=${PETREL_BENCH_SINK_PORT:-2600}

case "${1:-}" in
  start)
    petrel_build
    petrel_config bench.petrel.test info <<TOML
[listen]
smtp = "$LISTEN"
[smtp]
max_connections_per_ip = 200
[relay]
networks = ["127.0.0.0/8"]
[delivery]
remote_port = $SINK_PORT
TOML
    petrel_start_dns dist/bench/relay-load.js dns "$DNS_PORT"
    petrel domain add bench.test >/dev/null
    petrel_serve "$LISTEN"
    echo "petrel relay on $LISTEN -> MX sink.test (dns 127.0.0.1:$DNS_PORT) port $SINK_PORT (data $BASE/data, log $BASE/petrel.log)";;
  sent) grep -c '"msg":"sent"' "$BASE/petrel.log" || true;;
  problems) grep -E '"msg":"(delivery deferred|delivery failed)"|"level":"(error|fatal)"' "$BASE/petrel.log" || true;;
  queued) petrel queue list --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s||"[]");console.log(Array.isArray(v)?v.length:(v.messages??v.queue??[]).length)})';;
  rss) petrel_rss;;
  cpu) petrel_cpu;;
  stop) petrel_stop;;
  *) petrel_usage;;
esac
