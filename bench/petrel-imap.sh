#!/usr/bin/env bash
# Petrel as the IMAP benchmark subject: a server under /tmp/petrel-bench/petrel-imap
# with its own loopback DNS stub and only an IMAP listener (plain, 127.0.0.1:2613),
# users testuser1..testuserN@bench.test (password "pw", N = PETREL_BENCH_IMAP_USERS,
# default 20), empty INBOXes. Configuration: connection limits raised far above
# the load (so they never refuse anyone), the login throttle opened up for a
# load tool that logs in hundreds of times a second from one address
# (auth.failure_delay "10ms", auth.max_failures 1,000,000), everything else at
# Petrel's defaults, auth.cache_ttl (5m) included. Log level "info"
# (PETREL_BENCH_LOG): a line per connect, login, APPEND and disconnect, about
# what Dovecot logs by default.
#
#   bench/petrel-imap.sh start    # build, write the config, add the users, start DNS stub and server
#                                 # (PETREL_BENCH_CPU_PROF=DIR: the server runs with node --cpu-prof into DIR)
#   bench/petrel-imap.sh pid      # the server's pid
#   bench/petrel-imap.sh rss      # the server's resident memory
#   bench/petrel-imap.sh cpu      # CPU seconds the server has used
#   bench/petrel-imap.sh stop     # stop both and remove the data
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib-petrel.sh
BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel-imap
IMAP=${PETREL_BENCH_PETREL_IMAP:-127.0.0.1:2613}
DNS_PORT=${PETREL_BENCH_IMAP_DNS_PORT:-5396}
USERS=${PETREL_BENCH_IMAP_USERS:-20}
LOG=${PETREL_BENCH_LOG:-info}

case "${1:-}" in
  start)
    petrel_build
    petrel_config petrel.bench.test "$LOG" <<TOML
[listen]
imap = "$IMAP"
[imap]
max_connections = 20000
max_connections_per_ip = 20000
max_connections_per_user = 1000
[auth]
failure_delay = "10ms"
max_failures = 1000000
TOML
    petrel_start_dns dist/bench/dns-stub.js "$DNS_PORT"
    petrel domain add bench.test >/dev/null
    for i in $(seq "$USERS"); do echo pw | petrel user add "testuser$i@bench.test" --password-stdin >/dev/null; done
    petrel_serve "$IMAP"
    echo "petrel imap on $IMAP, pid $(cat "$BASE/petrel.pid") (data $BASE/data)";;
  pid) cat "$BASE/petrel.pid";;
  rss) petrel_rss;;
  cpu) petrel_cpu;;
  stop) petrel_stop;;
  *) petrel_usage;;
esac
