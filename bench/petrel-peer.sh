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
BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel
LISTEN=${PETREL_BENCH_PETREL_LISTEN:-127.0.0.1:2527}
DNS_PORT=${PETREL_BENCH_DNS_PORT:-5399}

count() {
  node -e "const D=require('better-sqlite3');const db=new D('$BASE/data/petrel.db',{readonly:true});
    console.log(db.prepare(\"SELECT count(*) n FROM messages m JOIN mailboxes b ON m.mailbox_id=b.id WHERE b.name='INBOX'\").get().n)"
}

case "${1:-}" in
  start)
    npx tsc -p .
    mkdir -p "$BASE"
    cat >"$BASE/petrel.toml" <<TOML
hostname = "petrel.bench.test"
data_dir = "$BASE/data"
[listen]
smtp = "$LISTEN"
[smtp]
max_connections_per_ip = 200
[dns]
servers = ["127.0.0.1:$DNS_PORT"]
[log]
level = "warn"
TOML
    nohup node dist/bench/dns-stub.js "$DNS_PORT" >"$BASE/dns.log" 2>&1 & echo $! >"$BASE/dns.pid"
    node bin/petrel domain add bench.test --config "$BASE/petrel.toml" >/dev/null
    echo bench | node bin/petrel user add user@bench.test --password-stdin --config "$BASE/petrel.toml" >/dev/null 2>&1 || true
    nohup node bin/petrel serve --config "$BASE/petrel.toml" >"$BASE/petrel.log" 2>&1 & echo $! >"$BASE/petrel.pid"
    for _ in $(seq 100); do (exec 3<>/dev/tcp/${LISTEN%:*}/${LISTEN#*:}) 2>/dev/null && break; sleep 0.1; done
    echo "petrel on $LISTEN (data $BASE/data)";;
  count) count;;
  drain)
    want=${2:?expected count}; limit=${3:-600}; start=$(date +%s)
    until [ "$(count)" -ge "$want" ]; do
      [ $(( $(date +%s) - start )) -ge "$limit" ] && { echo "drain: only $(count) of $want after ${limit}s" >&2; exit 1; }
      sleep 0.5
    done
    echo "delivered $(count)";;
  rss) grep VmRSS "/proc/$(cat "$BASE/petrel.pid")/status";;
  stop)
    for p in petrel dns; do [ -f "$BASE/$p.pid" ] && kill "$(cat "$BASE/$p.pid")" 2>/dev/null || true; done
    sleep 1; rm -rf "$BASE";;
  *) sed -n '2,10p' "$0"; exit 64;;
esac
