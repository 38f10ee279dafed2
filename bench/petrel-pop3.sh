#!/usr/bin/env bash
# Petrel as the POP3 benchmark subject: a server under /tmp/petrel-bench/petrel-pop3
# with its own loopback DNS stub, smtp on 127.0.0.1:2528, pop3 on 127.0.0.1:2611 and
# pop3s (implicit TLS, self-signed) on 127.0.0.1:2612,
# users user1..user10@bench.test (password "bench"), INBOXes filled straight into
# the store with `petrel import` (the same messages bench/dovecot-peer.sh writes).
#
#   bench/petrel-pop3.sh start        # build, write the config, add the users, start DNS stub and server
#                                     # (PETREL_BENCH_CPU_PROF=DIR: the server runs with node --cpu-prof into DIR)
#   bench/petrel-pop3.sh fill N SIZE  # import N messages of SIZE octets into each user's INBOX
#   bench/petrel-pop3.sh count        # messages in all the INBOXes
#   bench/petrel-pop3.sh rss          # the server's resident memory
#   bench/petrel-pop3.sh stop         # stop both and remove the data
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel-pop3
SMTP=${PETREL_BENCH_PETREL_SMTP:-127.0.0.1:2528}
POP3=${PETREL_BENCH_PETREL_POP3:-127.0.0.1:2611}
POP3S=${PETREL_BENCH_PETREL_POP3S:-127.0.0.1:2612}
DNS_PORT=${PETREL_BENCH_POP3_DNS_PORT:-5398}
USERS=${PETREL_BENCH_USERS:-10}
petrel() { node bin/petrel "$@" --config "$BASE/petrel.toml"; }

case "${1:-}" in
  start)
    npx tsc -p . >/dev/null || true   # others' files may have type errors; the JS is emitted anyway
    mkdir -p "$BASE"
    cat >"$BASE/petrel.toml" <<TOML
hostname = "petrel.bench.test"
data_dir = "$BASE/data"
[listen]
smtp = "$SMTP"
pop3 = "$POP3"
pop3s = "$POP3S"
[pop3]
max_connections_per_ip = 200
[dns]
servers = ["127.0.0.1:$DNS_PORT"]
[log]
level = "warn"
TOML
    nohup node dist/bench/dns-stub.js "$DNS_PORT" >"$BASE/dns.log" 2>&1 & echo $! >"$BASE/dns.pid"
    petrel domain add bench.test >/dev/null
    for i in $(seq "$USERS"); do echo bench | petrel user add "user$i@bench.test" --password-stdin >/dev/null; done
    prof=(); [ -n "${PETREL_BENCH_CPU_PROF:-}" ] && prof=(--cpu-prof --cpu-prof-dir="$PETREL_BENCH_CPU_PROF")
    nohup node "${prof[@]}" bin/petrel serve --config "$BASE/petrel.toml" >"$BASE/petrel.log" 2>&1 & echo $! >"$BASE/petrel.pid"
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/${POP3%:*}/${POP3#*:}") 2>/dev/null && break; sleep 0.1; done
    echo "petrel pop3 on $POP3, pop3s on $POP3S, smtp on $SMTP (data $BASE/data)";;
  fill)
    n=${2:?usage: fill N SIZE}; size=${3:?usage: fill N SIZE}
    for i in $(seq "$USERS"); do
      node dist/bench/pop3-load.js --fill-mbox - --count "$n" --size "$size" --to "user$i@bench.test" | petrel import "user$i@bench.test"
    done;;
  count)
    node -e "const D=require('better-sqlite3');const db=new D('$BASE/data/petrel.db',{readonly:true});
      console.log(db.prepare(\"SELECT count(*) n FROM messages m JOIN mailboxes b ON m.mailbox_id=b.id WHERE b.name='INBOX'\").get().n)";;
  rss) grep VmRSS "/proc/$(cat "$BASE/petrel.pid")/status";;
  stop)
    for p in petrel dns; do
      [ -f "$BASE/$p.pid" ] || continue
      pid=$(cat "$BASE/$p.pid"); kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done   # lets --cpu-prof write its file
    done
    rm -rf "$BASE";;
  *) sed -n '2,12p' "$0"; exit 64;;
esac
