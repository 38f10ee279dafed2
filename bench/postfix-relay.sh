#!/usr/bin/env bash
# Postfix as the outbound relay peer: the private instance bench/postfix-peer.sh
# writes, in its own directory (/tmp/petrel-bench/relay/postfix) and on its own
# port (127.0.0.1:2530), then told to relay everything that is not bench.test
# to smtp-sink: relayhost = [127.0.0.9]:2600 (bracketed: no MX or A lookup, the
# peer has DNS off anyway). mynetworks stays 127.0.0.0/8; concurrency and
# connection caching are Postfix's defaults (default_destination_concurrency_limit
# 20, as Petrel's per-destination limit; smtp_connection_cache_on_demand = yes).
#
#   bench/postfix-relay.sh start     # start the instance and switch it to relaying
#   bench/postfix-relay.sh sent      # "status=sent" log lines
#   bench/postfix-relay.sh problems  # deferred / bounced log lines, warnings of smtpd/smtp/cleanup, fatal, panic
#   bench/postfix-relay.sh queued    # messages still in the queue
#   bench/postfix-relay.sh cpu       # CPU seconds the instance has used: master, its live children,
#                                    # and (through the master's cutime/cstime) the children it reaped
#   bench/postfix-relay.sh stop      # stop the instance
#   bench/postfix-relay.sh clean     # stop and delete its directory
set -euo pipefail
cd "$(dirname "$0")/.."
export PETREL_BENCH_DIR=${PETREL_BENCH_RELAY_DIR:-/tmp/petrel-bench/relay}
export PETREL_BENCH_POSTFIX_LISTEN=${PETREL_BENCH_POSTFIX_RELAY_LISTEN:-127.0.0.1:2530}
SINK=${PETREL_BENCH_SINK:-127.0.0.9:2600}
CONF=$PETREL_BENCH_DIR/postfix/etc
LOG=$PETREL_BENCH_DIR/postfix/maillog

case "${1:-}" in
  start)
    bench/postfix-peer.sh start
    postconf -c "$CONF" -e "relayhost = [${SINK%:*}]:${SINK##*:}" "smtp_tls_security_level = none"
    postfix -c "$CONF" reload
    sleep 2   # the reload restarts qmgr and friends
    echo "postfix relay on $PETREL_BENCH_POSTFIX_LISTEN -> relayhost [${SINK%:*}]:${SINK##*:} (log $LOG)";;
  sent) grep -c 'status=sent' "$LOG" || true;;
  problems) grep -E 'status=(deferred|bounced)|fatal:|panic:|(smtpd|smtp|cleanup)\[[0-9]+\]: warning:' "$LOG" || true;;   # qmgr's "using up all active queue entries" advice is not a problem
  queued) postqueue -c "$CONF" -j 2>/dev/null | wc -l;;
  cpu)
    master=$(tr -d ' ' <"$PETREL_BENCH_DIR/postfix/spool/pid/master.pid")
    { cat "/proc/$master/stat"; for c in $(ps -o pid= --ppid "$master"); do cat "/proc/$c/stat" 2>/dev/null || true; done; } |
      awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15 } END { printf "%.2f\n", t / hz }';;
  stop) bench/postfix-peer.sh stop;;
  clean) bench/postfix-peer.sh clean;;
  *) sed -n '2,17p' "$0"; exit 64;;
esac
