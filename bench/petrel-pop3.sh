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
. bench/lib-petrel.sh
BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel-pop3
SMTP=${PETREL_BENCH_PETREL_SMTP:-127.0.0.1:2528}
POP3=${PETREL_BENCH_PETREL_POP3:-127.0.0.1:2611}
POP3S=${PETREL_BENCH_PETREL_POP3S:-127.0.0.1:2612}
DNS_PORT=${PETREL_BENCH_POP3_DNS_PORT:-5398}
USERS=${PETREL_BENCH_USERS:-10}

case "${1:-}" in
  start)
    petrel_build
    petrel_config petrel.bench.test warn <<TOML
[listen]
smtp = "$SMTP"
pop3 = "$POP3"
pop3s = "$POP3S"
[pop3]
max_connections_per_ip = 200
TOML
    petrel_start_dns dist/bench/dns-stub.js "$DNS_PORT"
    petrel domain add bench.test >/dev/null
    for i in $(seq "$USERS"); do echo bench | petrel user add "user$i@bench.test" --password-stdin >/dev/null; done
    petrel_serve "$POP3"
    echo "petrel pop3 on $POP3, pop3s on $POP3S, smtp on $SMTP (data $BASE/data)";;
  fill)
    n=${2:?usage: fill N SIZE}; size=${3:?usage: fill N SIZE}
    for i in $(seq "$USERS"); do
      node dist/bench/pop3-load.js --fill-mbox - --count "$n" --size "$size" --to "user$i@bench.test" | petrel import "user$i@bench.test"
    done;;
  count) petrel_inbox_count;;
  rss) petrel_rss;;
  stop) petrel_stop;;
  *) petrel_usage;;
esac
